/**
 * The JOBS members of `StoreCluster` (../cluster.ts) on PostgreSQL: cluster-wide leadership of
 * periodic jobs as session advisory locks, and each node's published statistics as rows of the
 * `blobs` table (named NODE_STATS_PREFIX + node; no table of their own).
 *
 * The locks live on a connection of their own, outside the store's pool: a session advisory
 * lock lasts as long as the session that took it, so a node that crashes or loses PostgreSQL
 * releases its jobs to the next node that asks. Whether this process still holds a lock is
 * known by its session: the lock connection's backend pid is checked at every ask (one round
 * trip; jobs ask every few minutes at most), and a new session (the client reconnected) means
 * every lock was lost and is asked for again. The same session holds each node's name
 * (claimNode), so that one node cannot run twice.
 */
import { SQL } from "bun";
import type { NodeStatsRow, StoreCluster } from "../cluster.ts";
import { log } from "../../util/log.ts";
import { putBlob } from "./blobs.ts";
import { bytes, type PgConnection } from "./connection.ts";
import { redactUri } from "./errors.ts";

/** `blobs` names of the nodes' statistics. */
export const NODE_STATS_PREFIX = "node-stats/";
/** Lock keys of the nodes' names (job names never start with it). */
const NODE_LOCK_PREFIX = "node:";
/** How long a start waits for a previous process's claim on its node name to go (claimNode). */
const CLAIM_WAIT_MS = 5000;
const CLAIM_RETRY_MS = 100;

export class PgJobs implements Pick<StoreCluster, "lead" | "claimNode" | "putNodeStats" | "nodeStats"> {
  private locks: SQL | null = null;
  /** The lock session's backend pid and the jobs it holds. */
  private session = 0;
  private readonly held = new Set<string>();
  /** The name this process claimed (claimNode). */
  private node: string | null = null;
  private closed = false;
  private warned = false;

  constructor(
    private readonly conn: PgConnection,
    private readonly uri: string,
  ) {}

  async lead(job: string): Promise<boolean> {
    if (this.closed) return false;
    try {
      const db = await this.lockSession();
      if (this.held.has(job)) return true;
      const got = await this.tryLock(db, job);
      if (got) this.held.add(job);
      this.warned = false;
      return got;
    } catch (e) {
      // Not leading while PostgreSQL cannot be asked: the job waits for its next turn.
      if (!this.warned) log.warn(`cluster jobs: cannot ask PostgreSQL (${redactUri((e as Error).message)}); jobs wait`);
      this.warned = true;
      this.held.clear();
      this.session = 0;
      return false;
    }
  }

  /**
   * Claims `node` (a node's name, "" for a single server) for as long as this process lives: false
   * when another process holds it — the same server started twice, or two machines with the
   * same name, whose rows (statistics, counters) would overwrite each other. Throws when
   * PostgreSQL cannot be asked.
   */
  async claimNode(node: string, waitMs = CLAIM_WAIT_MS): Promise<boolean> {
    // A process killed a moment ago (kill -9, then restarted by systemd or the supervisor) still
    // holds the name until PostgreSQL has noticed its closed connection and ended its session —
    // usually milliseconds, longer on a loaded machine: asked again for a while before refusing.
    const until = Date.now() + waitMs;
    for (;;) {
      const got = await this.tryLock(await this.lockSession(), NODE_LOCK_PREFIX + node);
      if (got) {
        this.node = node;
        return true;
      }
      if (Date.now() >= until) return false;
      await Bun.sleep(CLAIM_RETRY_MS);
    }
  }

  /** The lock session; after a new one (reconnected), every lock was lost: the node's name is claimed again. */
  private async lockSession(): Promise<SQL> {
    const db = (this.locks ??= new SQL(this.uri, { max: 1, idleTimeout: 0, maxLifetime: 0, connectionTimeout: 10 }));
    const [{ pid }] = await db`SELECT pg_backend_pid() AS pid`;
    if (pid !== this.session) {
      if (this.held.size > 0) log.warn(`PostgreSQL session of the cluster jobs was lost: asking again for ${[...this.held].join(", ")}`);
      this.held.clear();
      if (this.node !== null && !(await this.tryLock(db, NODE_LOCK_PREFIX + this.node)))
        log.error(`the PostgreSQL session was lost and another process has claimed this node's name (${JSON.stringify(this.node)}) since: two processes now serve as one node`);
      this.session = pid as number;
    }
    return db;
  }

  private async tryLock(db: SQL, key: string): Promise<boolean> {
    // Two int4 keys: the schema (servers sharing a database with other schemas do not
    // compete) and the job or node; a key space apart from the migration lock's single bigint.
    const [{ got }] = await db`SELECT pg_try_advisory_lock(hashtext(${this.conn.schema}), hashtext(${key})) AS got`;
    return got === true;
  }

  async putNodeStats(node: string, json: string): Promise<void> {
    const value = new TextEncoder().encode(`${Math.floor(Date.now() / 1000)}\n${json}`);
    await putBlob(this.conn, "putNodeStats", NODE_STATS_PREFIX + node, value);
  }

  async nodeStats(): Promise<NodeStatsRow[]> {
    const rows = await this.conn.read("nodeStats", (db) => db`SELECT name, value FROM blobs WHERE starts_with(name, ${NODE_STATS_PREFIX}) ORDER BY name`);
    const out: NodeStatsRow[] = [];
    const dec = new TextDecoder();
    for (const r of rows as { name: string; value: Uint8Array }[]) {
      const text = dec.decode(bytes(r.value));
      const nl = text.indexOf("\n");
      const updatedAt = Number(text.slice(0, nl));
      if (nl < 0 || !Number.isSafeInteger(updatedAt)) continue;
      out.push({ node: r.name.slice(NODE_STATS_PREFIX.length), updatedAt, json: text.slice(nl + 1) });
    }
    return out;
  }

  /** Ends the lock session: the jobs this node leads pass to another. */
  async close(): Promise<void> {
    this.closed = true;
    const db = this.locks;
    this.locks = null;
    this.held.clear();
    if (db === null) return;
    // Released now, not when the backend process has exited after the disconnect (later, and
    // racing the next node's ask): the next node takes the jobs at its first ask.
    await db`SELECT pg_advisory_unlock_all()`.catch(() => {});
    await db.close({ timeout: 5 }).catch(() => {});
  }
}
