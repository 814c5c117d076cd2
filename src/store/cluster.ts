/**
 * What a store shared by several server processes ("nodes", issue 18) offers them. Only the
 * PostgreSQL store has it (`Store.cluster`); SQLite is single-node and leaves it undefined.
 *
 * Two parts, built separately:
 *  - the event bus between nodes (subscription takeover, message available, deletion, service
 *    takeover, blocking) and the node registry with subscription ownership — members marked BUS;
 *  - cluster-wide jobs and statistics — members marked JOBS.
 * PostgreSQL is the only shared component: events are LISTEN/NOTIFY, leadership is advisory
 * locks, the registry and per-node statistics are rows. No consensus of our own.
 */
import type { ServiceParty } from "./types.ts";

/** One node's statistics as it last published them (cold path: control port, metrics, daily CSV). */
export interface NodeStatsRow {
  /** The node's display name (`[NODES]`/hostname and its index), as shown by the control port. */
  readonly node: string;
  /** Unix seconds when the node wrote them. */
  readonly updatedAt: number;
  /** The node's own serialisation (JSON). */
  readonly json: string;
}

/**
 * BUS: what another node tells this one. Each is sent to the node(s) that hold the subscription
 * concerned (its ownership row), after the sender's store writes are committed, so a node that
 * acts on an event finds in the store what the event announces.
 */
export type ClusterEvent =
  /** A message (rcv) or notification (ntf) was stored for a queue with no subscriber on the sender's node. */
  | { readonly kind: "available"; readonly party: ServiceParty; readonly queueId: Uint8Array; readonly serviceId: Uint8Array | null }
  /** Another node claimed the queue: this node's subscriber ends (END) if its claim's epoch is `prevEpoch` or older. */
  | { readonly kind: "taken"; readonly party: ServiceParty; readonly queueId: Uint8Array; readonly prevEpoch: number }
  /** Another node claimed the service: this node's connection of the service gets ENDS if its claim is `prevEpoch` or older. */
  | { readonly kind: "serviceTaken"; readonly party: ServiceParty; readonly serviceId: Uint8Array; readonly prevEpoch: number }
  /** The queue's subscriptions end (deleted: DELD; else moved: END), here as on the sender (`Subscribers.end`). */
  | { readonly kind: "ended"; readonly party: ServiceParty; readonly queueId: Uint8Array; readonly serviceId: Uint8Array | null; readonly deleted: boolean }
  /** The queue was blocked (control port): its subscriber gets ERR BLOCKED with this encoded BlockingInfo. */
  | { readonly kind: "blocked"; readonly party: "rcv"; readonly queueId: Uint8Array; readonly info: Uint8Array };

/** BUS: what the node's subscribers do with the bus's news. */
export interface ClusterListener {
  event(e: ClusterEvent): void;
  /**
   * Events may have been lost (the LISTEN connection was re-established, the liveness lock was
   * lost, or a bus statement failed): confirm every subscription held here (`confirm`), and look
   * for pending messages of those with nothing in flight.
   */
  resync(): void;
}

/** BUS: a queue or a service as one subscription record. */
export interface ClusterSub {
  readonly party: ServiceParty;
  readonly id: Uint8Array;
  readonly epoch: number;
}

/**
 * BUS: a claim as `confirm` finds it: still this node's; another node's now ("taken": its
 * subscriber gets END); or, for a queue claim, its queue (notifier) deleted (DELD) or the queue
 * now served by a service (END), as the lost "ended" would have said.
 */
export type ClaimStatus = "mine" | "taken" | "deleted" | "moved";

/** BUS: a node of the registry, for display (control port, metrics). */
export interface ClusterNode {
  readonly nodeId: string;
  readonly name: string;
  /** Unix seconds. */
  readonly startedAt: number;
}

/** The BUS members (postgres/bus.ts). */
export interface ClusterBus {
  /** BUS: this process's id in the node registry, unique per process start. */
  readonly nodeId: string;

  /**
   * BUS: joins the cluster as `name`: takes this node's liveness lock, registers it, listens for
   * its events (delivered to `listener`), and releases what crashed nodes held. Once per store.
   */
  join(name: string, listener: ClusterListener): Promise<void>;
  /**
   * BUS: records this node as the subscriber of a queue (SUB/NSUB, `service` false) or of a
   * service (SUBS/NSUBS, or its first queue, `service` true); the node that held it before gets
   * "taken"/"serviceTaken". Resolves with the claim's epoch once committed; claims made in one
   * turn share one statement. Rejects when the store fails (the listener then gets `resync`).
   */
  claim(party: ServiceParty, id: Uint8Array, service: boolean): Promise<number>;
  /** BUS: this node's claim `epoch` ended here (disconnect, END): its row goes unless a newer claim replaced it. */
  release(party: ServiceParty, id: Uint8Array, epoch: number, service: boolean): void;
  /**
   * BUS: sends an "available", "ended" or "blocked" event to the node(s) holding the queue or its
   * service, other than this one; "ended" also removes other nodes' claims of the queue.
   */
  publish(e: ClusterEvent): void;
  /**
   * BUS: what became of these claims (resync after lost events, periodic sweep), in their order.
   * A claim whose row is gone (released by a node that took this one for dead) is recorded again
   * — unless the queue claimed is gone or moved to a service meanwhile (its "ended" was lost):
   * that one is never recorded again.
   */
  confirm(claims: readonly ClusterSub[], service: boolean): Promise<ClaimStatus[]>;
  /**
   * BUS: the recipient ids among these whose queue's first message was written at `sinceMs` or
   * later (Unix ms, the sender's clock; 0: any message) — resync, periodic sweep.
   */
  withMessages(recipientIds: readonly Uint8Array[], sinceMs: number): Promise<Uint8Array[]>;
  /**
   * BUS: a claim's last look at its queues once the claims are written — which are gone (a DEL
   * whose "ended" looked for holders before the claim was there) and which hold a message.
   */
  recheckQueues(recipientIds: readonly Uint8Array[]): Promise<{ readonly gone: Uint8Array[]; readonly withMessages: Uint8Array[] }>;
  /** BUS: the nodes registered now (live ones: a crashed node's row goes at the next cleanup). */
  nodes(): Promise<ClusterNode[]>;
}

export interface StoreCluster extends ClusterBus {

  /**
   * JOBS: whether this node runs the cluster-wide job `job` now (message/notification expiry,
   * inactive-queue expiry …: once in the cluster, not once per node). The first node to ask
   * holds it while it lives (a session advisory lock, so a crashed node's jobs pass to another);
   * asking again is cheap and re-acquires it after a lost connection.
   */
  lead(job: string): Promise<boolean>;
  /**
   * JOBS: claims this node's name (its display name, "" for a single server) while the process
   * lives; false when another process holds it (a duplicate node). Throws when the store cannot be asked.
   */
  claimNode(node: string, waitMs?: number): Promise<boolean>;
  /** JOBS: publishes this node's statistics (replaces its previous row). */
  putNodeStats(node: string, json: string): Promise<void>;
  /** JOBS: every node's last published statistics. */
  nodeStats(): Promise<NodeStatsRow[]>;
}
