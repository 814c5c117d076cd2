/**
 * The server's state as the command handlers see it (Server/Env/STM.hs): one connection
 * (`Client` and its per-queue `Sub`s), who is subscribed to what (`Subscribers`), and `Env` —
 * store, options, counters, the proxy and names roles, and the ways to answer and to push.
 *
 * `SmpServer` (server.ts) implements `Env`; the handlers (commands.ts, services.ts, jobs.ts,
 * proxy/) depend on this file, never on each other's callers, so the server's modules form a
 * tree with this file at its root (test/architecture/imports.test.ts checks it).
 */
import { errMsg, type BrokerMsg } from "../protocol/broker-messages.ts";
import type { BlockingInfo, ErrorType } from "../protocol/errors.ts";
import type { ReceivedTransmission } from "../protocol/transmission.ts";
import type { ServerAuth, SmpHandle } from "../transport/handle.ts";
import { emptyIdsHash } from "../protocol/ids-hash.ts";
import type { Store } from "../store/store.ts";
import type { ServiceParty } from "../store/types.ts";
import type { NamesService } from "./names/service.ts";
import type { NamesStats } from "./names/stats.ts";
import type { ServerOptions } from "./options.ts";
import { Outbox } from "./outbox.ts";
import type { ProxyAgent } from "./proxy/agent.ts";
import type { ServerStats } from "./stats.ts";

/** Per-queue delivery state of a connection (Server/Env/STM.hs:Sub). */
export interface Sub {
  /** "server" = SUB (delivery pushed), "prohibit" = GET was used: SUB is refused on this connection. */
  readonly kind: "server" | "prohibit";
  /** The message sent and not yet acknowledged: at most one per subscription. */
  delivered: { msgId: Uint8Array; ts: number } | null;
}

/** Records `msgId` as sent on this subscription and awaiting its ACK. */
export function setDelivered(sub: Sub, msgId: Uint8Array): void {
  sub.delivered = { msgId, ts: Math.floor(Date.now() / 1000) };
}

/** Count and IdsHash of a set of queues (Protocol.hs: `(Int64, IdsHash)`). */
export interface ServiceSubs {
  count: number;
  readonly idsHash: Uint8Array;
}

export function newServiceSubs(): ServiceSubs {
  return { count: 0, idsHash: emptyIdsHash() };
}

let nextClientId = 1;

/** One connected client (Server/Env/STM.hs:Client): its negotiated handle, its subscriptions and its outbox. */
export class Client {
  readonly id = nextClientId++;
  // The four fields below are written by `Subscribers` only (see its contract); the handlers read
  // them, and change the delivery state (`Sub.delivered`) of a Sub they are given.
  /**
   * Recipient subscriptions by recipient id key: SUB's, and a service connection's delivery Subs.
   * The one entry the handlers add themselves is GET's "prohibit" mark, which is no subscription.
   */
  readonly subs = new Map<string, Sub>();
  /** Notifier subscriptions (NSUB), by notifier id key. */
  readonly ntfSubs = new Set<string>();
  /** Service connections: SUBS/NSUBS received (services.ts). */
  serviceSubscribed = false;
  /** Service connections: count and IdsHash of the queues this connection serves for its service. */
  serviceSubs: ServiceSubs = newServiceSubs();
  readonly outbox: Outbox;
  /** Where each transmission of the block being processed lies (a block holds at most 255). */
  readonly transmissionStarts = new Uint16Array(255);
  readonly transmissionEnds = new Uint16Array(255);
  connected = true;
  readonly createdAt = Date.now();
  rcvActiveAt = Date.now();
  sndActiveAt = Date.now();

  constructor(readonly handle: SmpHandle<ServerAuth>) {
    this.outbox = new Outbox(handle);
  }

  get version(): number {
    return this.handle.params.version;
  }

  get serviceId(): Uint8Array | null {
    return this.handle.auth.peerService?.serviceId ?? null;
  }

  hasSubscriptions(): boolean {
    return this.subs.size > 0 || this.ntfSubs.size > 0 || this.serviceSubscribed || this.serviceSubs.count !== 0;
  }
}

/** The answer to the transmission being processed: its corrId and entity. */
export function reply(c: Client, t: ReceivedTransmission, m: BrokerMsg): void {
  c.outbox.push(t.corrId, t.entityId, m);
}

// ERR values of the shared error constants are built once, not per failed command.
const errReplies = new WeakMap<ErrorType, BrokerMsg>();

/** ERR as the answer to the transmission being processed. */
export function fail(c: Client, t: ReceivedTransmission, e: ErrorType): void {
  let m = errReplies.get(e);
  if (m === undefined) {
    m = errMsg(e);
    if (Object.isFrozen(e)) errReplies.set(e, m);
  }
  c.outbox.push(t.corrId, t.entityId, m);
}

/**
 * Who receives what is sent to a queue (Server/Env/STM.hs:ServerSubscribers, both sides, with
 * Server.hs:serverThread): per side — "rcv" for recipient queues (SUB, SUBS), "ntf" for notifiers
 * (NSUB, NSUBS) — the connection subscribed to each queue, the connection subscribed for each
 * service, and the total of all service subscriptions. The connections that lose a subscription
 * are told here (END, DELD, ENDS), so an implementation that spans several nodes can tell a
 * connection held by another node. `queueId` is the recipient id (rcv) or the notifier id (ntf).
 *
 * Ownership: an implementation keeps all subscription bookkeeping, its own maps and the
 * connection's side of it on `Client` alike — `subs` (apart from GET's "prohibit" mark),
 * `ntfSubs`, `serviceSubs`, `serviceSubscribed` — on both sides, so a cluster-aware one replaces
 * this one object and nothing else. Callers never add or remove a subscription on a `Client`
 * themselves; they read those fields and set `Sub.delivered` on a Sub they got from `subs`.
 */
export interface Subscribers {
  /**
   * SUB / NSUB outside a service (serverThread CSClient): `c` becomes the queue's subscriber and
   * records it — a fresh Sub in `c.subs` (rcv; one it already has is kept) or `c.ntfSubs` (ntf); a
   * previous connection loses the queue (and its record) and gets END. False when `c` already was
   * its subscriber. `key`: idKey(queueId) when the caller already made it (saves a second one).
   */
  subscribe(party: ServiceParty, queueId: Uint8Array, c: Client, key?: string): boolean;
  /**
   * SUB / NSUB / NEW in a service session (CSClient with the service): the queue is served by `c`
   * for its service, counted in `c.serviceSubs`; an individual subscriber, and the connection of
   * `prevServiceId` when that was another service, get END.
   */
  subscribeServiceQueue(party: ServiceParty, queueId: Uint8Array, c: Client, prevServiceId: Uint8Array | null): void;
  /**
   * SUBS / NSUBS (CSService): `c` becomes its service's subscriber holding `subs` (the store's
   * count and IdsHash); a previous connection of the service gets ENDS with what it held.
   */
  subscribeService(party: ServiceParty, c: Client, subs: ServiceSubs): void;
  /**
   * The queue's subscriptions end (CSDeleted; or it moved): its subscriber and the connection of
   * its service `serviceId` lose it, and get `event` (END or DELD) unless they are `actor`
   * (null: an operator's action, e.g. the control port's `delete`). `actor` keeps nothing of the
   * queue on this side either: its Sub goes, GET's mark included.
   */
  end(party: ServiceParty, queueId: Uint8Array, serviceId: Uint8Array | null, event: BrokerMsg, actor: Client | null): void;
  /**
   * The connected client a message (rcv) or notification (ntf) of the queue goes to now: its
   * subscriber, or its service's connection — which gets a delivery Sub for a recipient queue on
   * first use. `key` is idKey(queueId) (ids.ts), which the caller has already made.
   */
  deliverTo(party: ServiceParty, key: string, serviceId: Uint8Array | null): Client | undefined;
  /**
   * The delivery Sub of a recipient queue `c` serves for its service (`key` = idKey of its
   * recipient id), created on first use as deliverTo does (Server.hs:subscribeServiceMessages).
   */
  serviceDeliverySub(c: Client, key: string): Sub;
  /** The connection subscribed for the service, if any. */
  serviceSubscriber(party: ServiceParty, serviceId: Uint8Array): Client | undefined;
  /** Subscriptions of all subscribed services together (Env/STM.hs:totalServiceSubs). */
  totalServiceSubs(party: ServiceParty): ServiceSubs;
  /**
   * Queue subscriptions on this side, the distinct connections holding them, and the services
   * subscribed (Prometheus.hs:RTSubscriberMetrics; the control port's server-info). Cold path.
   */
  counts(party: ServiceParty): { queues: number; clients: number; services: number };
  /** Whether any connection is subscribed on this side at all. */
  anySubscribed(party: ServiceParty): boolean;
  /** Server.hs:clientDisconnected: everything `c` held ends, nobody is told. */
  disconnected(c: Client): void;
  /**
   * A message (rcv, the queue was empty) or notification (ntf, kept in the store) of the queue
   * found no connection here (`deliverTo` gave none): with several nodes, the node holding its
   * subscription or its service is told, and delivers it; nothing on one server.
   */
  available(party: ServiceParty, queueId: Uint8Array, serviceId: Uint8Array | null): void;
  /**
   * SUB (or NEW with subscription) has read the queue for `c` — and delivered its head, if any:
   * deliveries to the Sub decided outside `c`'s own commands may start (with several nodes, a
   * last look at the queue once the new subscription is visible to the others). Nothing on one server.
   */
  headRead(key: string, c: Client): void;
  /** The queue was blocked (control port): its own subscriber, on any node, gets ERR BLOCKED (Server.hs:processCP CPBlock). */
  blocked(recipientId: Uint8Array, info: BlockingInfo): void;
  /**
   * Resolves once `c`'s subscription for its service (SUBS/NSUBS, or a SUB/NEW that made it the
   * holder) is recorded where other nodes see it: SUBS looks for pending messages only then, so
   * that one sent on another node meanwhile is either found or announced to this node; a SUB or
   * NEW answers only then, so that a SEND after its answer is announced to this node. Null on one
   * server (nothing to wait for).
   */
  recorded(party: ServiceParty, c: Client): Promise<void> | null;
  /**
   * `recorded` for a SUB or NEW that answers once its service claim is recorded: resolves to what
   * the command calls once it has answered. Another node's newer claim of the service, seen
   * before that, ends `c`'s service subscription (ENDS) only then — after the SOK or IDS, as on
   * one server, where the SUB is answered before another connection's SUBS takes the service.
   * Null on one server.
   */
  answerOnceRecorded(party: ServiceParty, c: Client): Promise<() => void> | null;
}

/** What the command handlers run with (Server/Env/STM.hs:Env). */
export interface Env {
  readonly options: ServerOptions;
  readonly store: Store;
  readonly stats: ServerStats;
  readonly subscribers: Subscribers;
  /** Connected clients (Env/STM.hs:ServerClients). */
  readonly clients: ReadonlySet<Client>;
  /** The names role (RSLV), when configured. */
  readonly names: NamesService | undefined;
  readonly namesStats: NamesStats;
  /** The proxy role's connections to destination routers, created by the first PRXY (proxy/proxy.ts). */
  proxy: ProxyAgent | undefined;
  /**
   * Queues a server-initiated transmission (MSG, END, DELD, NMSG …) for another connection;
   * `breaks`: block boundaries it needs (outbox.ts BREAK_BEFORE / ALONE).
   */
  push(target: Client, entityId: Uint8Array, msg: BrokerMsg, breaks?: number): void;
  /**
   * Queues a transmission outside the connection's own block processing (pushed events, and
   * answers of commands that finish later, such as RSLV); written after the next commit.
   * The ids must be owned copies, not views into a block.
   */
  sendLater(target: Client, corrId: Uint8Array, entityId: Uint8Array, msg: BrokerMsg, breaks?: number): void;
  /**
   * One parsed transmission through queue lookup, verification and its command, any failure
   * answered on `c` — also for commands forwarded in RFWD, run on a virtual client (proxy/relay.ts).
   */
  runTransmission(c: Client, block: Uint8Array, t: ReceivedTransmission): Promise<void>;
}
