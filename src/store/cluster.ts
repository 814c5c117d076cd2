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

/** One node's statistics as it last published them (cold path: control port, metrics, daily CSV). */
export interface NodeStatsRow {
  /** The node's display name (`[NODES]`/hostname and its index), as shown by the control port. */
  readonly node: string;
  /** Unix seconds when the node wrote them. */
  readonly updatedAt: number;
  /** The node's own serialisation (JSON). */
  readonly json: string;
}

export interface StoreCluster {
  /** BUS: this process's id in the node registry, unique per process start. */
  readonly nodeId: string;

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
  claimNode(node: string): Promise<boolean>;
  /** JOBS: publishes this node's statistics (replaces its previous row). */
  putNodeStats(node: string, json: string): Promise<void>;
  /** JOBS: every node's last published statistics. */
  nodeStats(): Promise<NodeStatsRow[]>;
}
