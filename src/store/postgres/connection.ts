/**
 * The PostgreSQL connections the concerns of the store share: a pool for reads, and ONE
 * reserved connection on which every write of this process runs, one operation at a time, in a
 * transaction that a group of operations share (group commit).
 *
 * Why one writer: each operation must be atomic and see the effects of the ones before it
 * (quota, ids, service hashes), as SQLite's single connection and the reference's STM give, and
 * a write costs a few round trips (~25 µs each on a local socket).
 *
 * Several processes (nodes, issue 18) share one schema, each with its own writer, so their
 * transactions interleave. An operation therefore locks the rows it reads to decide (the queue's
 * row, then service rows: `locks.ts`) before it writes anything. Inside a group those locks are
 * only TRIED (`SKIP LOCKED`): a row another node holds makes the operation throw `LockBusy`, its
 * group commits without it (it wrote nothing), and it runs again first in the next transaction,
 * this time waiting for the lock. So a transaction waits for a row lock only while it holds
 * none (or only rows taken in the global order queues → services → counters), which cannot
 * deadlock; a deadlock, serialization failure or lock timeout from anything else (a unique-index
 * wait) rolls the group back and runs its operations again, a bounded number of times.
 *
 * Group commit: the first write opens a transaction; the writes queued while one runs join
 * it; when the queue is empty or after `maxOpsPerCommit` operations, the counters are added and
 * the transaction commits (one round trip), while new writes queue for the next one. Waiting
 * a turn for more writes before committing was measured: it halves a single client's rate
 * (4,600 vs 8,500 creates/s) and a loaded server queues writes during every round trip anyway.
 * A write's Promise resolves only after that COMMIT — so, unlike SQLite, no caller ever holds
 * a result that is not yet durable, and a failure (PostgreSQL aborts the whole transaction on
 * any error) rejects every operation of that transaction, none of which was answered yet.
 * `flush()` resolves when the transaction open at the time of the call has committed.
 *
 * Reads go to the pool and see committed data only, which is all any caller can know about.
 * A lost connection fails the operations in flight with `StoreError("io")`; the next
 * operation opens a new one, so the store recovers when PostgreSQL is back.
 */
import { SQL, type ReservedSQL } from "bun";
import { COUNTERS } from "../counters.ts";
import { StoreError } from "../types.ts";
import { redactUri, toStoreError } from "./errors.ts";
import type { MigrationPolicy } from "../migration-confirmation.ts";
import { pgMigrate, quoteIdent } from "./migrate.ts";

export interface PostgresStoreOptions {
  /** libpq URI, e.g. postgresql://smp@localhost/smp (`db_connection`). */
  uri: string;
  /** Schema holding the tables (`db_schema`, default "smp_server" as the reference). */
  schema?: string;
  /** Create the schema if it does not exist (tests, `database import`); the server's start does not. */
  createSchema?: boolean;
  /** Connections, the writer's included (`db_pool_size`, default 10; at least 2). */
  poolSize?: number;
  /** Messages per queue before ERR QUOTA (default 128). */
  msgQueueQuota?: number;
  /** A group commit happens at the latest after this many writes (default 1000). */
  maxOpsPerCommit?: number;
  /** How long a write waits for a row another node holds before its group is retried (default 5000 ms). */
  lockTimeoutMs?: number;
  /** Whether an existing schema may be upgraded (default: yes, as tools and tests need). */
  migrations?: MigrationPolicy;
}

type Db = SQL;

interface Job {
  readonly op: string;
  readonly body: (tx: Db) => Promise<unknown>;
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: StoreError) => void;
  /** Rolled-back runs so far (deadlocks, lock timeouts): bounded by `MAX_ATTEMPTS`. */
  attempts: number;
  /** Runs first in a fresh transaction, waiting for its locks (it found a row locked, or failed). */
  waits: boolean;
}

/**
 * Thrown by an operation's body, before it wrote anything, when a row it must lock is held by
 * another transaction (another node's group): the operation runs again in the next transaction.
 */
export class LockBusy extends Error {
  constructor() {
    super("row locked by another transaction");
  }
}

/** Runs of one operation that may be rolled back by a deadlock or lock timeout before it fails. */
const MAX_ATTEMPTS = 5;

/**
 * SQLSTATEs after which the same operations, run again, may well succeed: deadlock_detected,
 * serialization_failure, lock_not_available (lock_timeout), and unique_violation — another node
 * committed the same new id (a link or notifier id) after this one checked it; run again, the
 * check sees it and answers AUTH or DUPLICATE.
 */
function retryable(e: unknown): boolean {
  const s = (e as { errno?: unknown } | null)?.errno;
  return s === "40P01" || s === "40001" || s === "55P03" || s === "23505";
}

interface Done {
  readonly job: Job;
  readonly value: unknown;
}

const RESOLVED: Promise<void> = Promise.resolve();

export class PgConnection {
  /** Counter deltas not yet committed, and those of the running operation. */
  private readonly pending = new Float64Array(COUNTERS.length);
  private readonly delta = new Float64Array(COUNTERS.length);
  private readonly queue: Job[] = [];
  /** Operations done in the open transaction, answered at its COMMIT. */
  private done: Done[] = [];
  private flushWaiters: { resolve: () => void; reject: (e: StoreError) => void }[] = [];
  private writer: ReservedSQL | null = null;
  private draining: Promise<void> | null = null;
  private inTx = false;
  /** Whether the running operation waits for row locks (else it only tries them). */
  private waiting = false;
  private closed = false;
  private readonly rollbackListeners: (() => void)[] = [];
  /** Group commits made so far (tests, metrics). */
  commits = 0;
  /** Operations that found a row locked by another transaction and ran again (tests, benchmarks). */
  lockBusy = 0;
  /** Transactions rolled back by a deadlock, serialization failure or lock timeout, then retried. */
  retries = 0;
  private readonly setLockTimeout: string;

  private constructor(
    readonly sql: SQL,
    readonly schema: string,
    private readonly maxOps: number,
    lockTimeoutMs: number,
  ) {
    this.setLockTimeout = `SET lock_timeout = ${Math.max(1, lockTimeoutMs | 0)}`;
  }

  static async open(opts: PostgresStoreOptions): Promise<PgConnection> {
    const schema = opts.schema ?? "smp_server";
    const sql = new SQL(opts.uri, {
      max: Math.max(2, opts.poolSize ?? 10),
      // Quoted: an unquoted search_path entry would be folded to lower case, and the tables are
      // created in the schema exactly as named.
      connection: { search_path: quoteIdent(schema) },
      connectionTimeout: 10,
    });
    const c = new PgConnection(sql, schema, opts.maxOpsPerCommit ?? 1000, opts.lockTimeoutMs ?? 5000);
    try {
      await pgMigrate(sql, schema, opts.createSchema ?? false, undefined, opts.migrations);
    } catch (e) {
      await sql.close({ timeout: 0 }).catch(() => {});
      const err = toStoreError(e, "open");
      throw new StoreError(err.kind, `${err.message} [${redactUri(opts.uri)}, schema ${schema}]`, { cause: e });
    }
    return c;
  }

  /** `f` runs whenever uncommitted writes are undone (a failed transaction). */
  onRollback(f: () => void): void {
    this.rollbackListeners.push(f);
  }

  // ---------------------------------------------------------------- the brackets

  /** Runs `body` as one atomic write on the writer; resolves after its transaction committed. */
  write<R>(op: string, body: (tx: Db) => Promise<R>): Promise<R> {
    if (this.closed) return Promise.reject(new StoreError("internal", `store: closed (${op})`));
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ op, body, resolve: resolve as (v: unknown) => void, reject, attempts: 0, waits: false });
      this.draining ??= this.drain();
    });
  }

  /** Runs a read on the pool (committed data); failures throw `StoreError`. */
  async read<R>(op: string, body: (db: Db) => Promise<R>): Promise<R> {
    if (this.closed) throw new StoreError("internal", `store: closed (${op})`);
    try {
      return await body(this.sql);
    } catch (e) {
      throw toStoreError(e, op);
    }
  }

  /** Adds `n` to counter `c` as part of the running write (dropped if it fails). */
  count(c: number, n: number): void {
    this.delta[c]! += n;
  }

  /**
   * The counters as committed by every process sharing the schema (one small read: other nodes
   * change them too, so a copy in memory would drift).
   */
  async counters(): Promise<Float64Array> {
    const rows = await this.read("stats", (db) => db`SELECT name, value FROM counters`);
    const out = new Float64Array(COUNTERS.length);
    for (const r of rows as { name: string; value: string }[]) {
      const i = (COUNTERS as readonly string[]).indexOf(r.name);
      if (i >= 0) out[i] = Number(r.value);
    }
    return out;
  }

  /** Whether the running operation waits for the rows it locks, or only tries them (see the top). */
  get waitsForLocks(): boolean {
    return this.waiting;
  }

  flush(): Promise<void> {
    if (this.draining === null) return RESOLVED;
    return new Promise((resolve, reject) => this.flushWaiters.push({ resolve, reject }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.draining;
    await this.writer?.unsafe("RESET lock_timeout").catch(() => {});
    this.writer?.release();
    this.writer = null;
    await this.sql.close({ timeout: 5 });
  }

  // ---------------------------------------------------------------- the writer

  private async drain(): Promise<void> {
    let ops = 0;
    for (;;) {
      const job = this.queue[0];
      if (job !== undefined && !(job.waits && this.inTx)) {
        this.queue.shift();
        if (await this.run(job)) ops++;
        if (ops < this.maxOps) continue;
      }
      if (this.inTx) await this.commit();
      ops = 0;
      if (this.queue.length > 0) continue;
      this.draining = null;
      const waiters = this.flushWaiters;
      this.flushWaiters = [];
      for (const w of waiters) w.resolve();
      return;
    }
  }

  /**
   * One operation inside the open transaction; false if it did not complete in it (it failed and
   * took the transaction with it, or it is queued again to run first in the next one).
   */
  private async run(job: Job): Promise<boolean> {
    this.delta.fill(0);
    this.waiting = job.waits;
    try {
      const tx = await this.writerConnection();
      if (!this.inTx) {
        await tx.unsafe("BEGIN");
        this.inTx = true;
      }
      const value = await job.body(tx);
      for (let i = 0; i < COUNTERS.length; i++) this.pending[i]! += this.delta[i]!;
      this.done.push({ job, value });
      return true;
    } catch (e) {
      if (e instanceof LockBusy && !job.waits) {
        // It wrote nothing: the transaction goes on; the operation waits for its rows next.
        this.lockBusy++;
        job.waits = true;
        this.queue.unshift(job);
        return false;
      }
      const err = toStoreError(e, job.op);
      if (retryable(e) && (await this.retry(job))) return false;
      job.reject(err);
      await this.abandon(err);
      return false;
    } finally {
      this.waiting = false;
    }
  }

  private async commit(): Promise<void> {
    const tx = this.writer!;
    try {
      // One round trip: the counter deltas (integers and our own names, so inlined safely) and COMMIT.
      // In COUNTERS order, so that two nodes' commits lock the counter rows in the same order.
      let text = "";
      for (let i = 0; i < COUNTERS.length; i++)
        if (this.pending[i] !== 0) text += `UPDATE counters SET value = value + ${this.pending[i]! | 0} WHERE name = '${COUNTERS[i]!}';`;
      await tx.unsafe(text + "COMMIT");
    } catch (e) {
      const err = toStoreError(e, "commit");
      if (retryable(e) && (await this.retry(null))) return;
      await this.abandon(err);
      return;
    }
    this.inTx = false;
    this.commits++;
    this.pending.fill(0);
    const done = this.done;
    this.done = [];
    for (const d of done) d.job.resolve(d.value);
  }

  /**
   * The transaction was rolled back by a conflict with another one: its operations (and `failed`,
   * which runs first in a transaction of its own and waits for its locks) are queued again, unless
   * one of them has been rolled back too often. False if nothing was queued (the caller abandons).
   */
  private async retry(failed: Job | null): Promise<boolean> {
    const jobs = this.done.map((d) => d.job);
    if (failed !== null) jobs.push(failed);
    if (jobs.some((j) => j.attempts + 1 >= MAX_ATTEMPTS)) return false;
    this.done = [];
    await this.rollback();
    this.retries++;
    for (const j of jobs) j.attempts++;
    if (failed !== null) failed.waits = true;
    this.queue.unshift(...jobs);
    return true;
  }

  /** The transaction is gone: every operation in it fails, and so do the flushes waiting for it. */
  private async abandon(err: StoreError): Promise<void> {
    await this.rollback();
    const done = this.done;
    this.done = [];
    for (const d of done) d.job.reject(err);
    const waiters = this.flushWaiters;
    this.flushWaiters = [];
    for (const w of waiters) w.reject(err);
  }

  /** Undoes the open transaction and drops the writer's connection. */
  private async rollback(): Promise<void> {
    const tx = this.writer;
    this.writer = null;
    this.inTx = false;
    if (tx !== null) {
      // A fresh connection next time: after a failure this one may be broken or mid-protocol.
      // RESET: the pool's other users (migrations waiting on an advisory lock) keep the default.
      await tx.unsafe("ROLLBACK;RESET lock_timeout").catch(() => {});
      tx.release();
    }
    this.pending.fill(0);
    for (const f of this.rollbackListeners) f();
  }

  private async writerConnection(): Promise<Db> {
    if (this.writer === null) {
      const w = await this.sql.reserve();
      try {
        // Once per writer connection, not per transaction (a statement per lone write).
        await w.unsafe(this.setLockTimeout);
      } catch (e) {
        w.release();
        throw e;
      }
      this.writer = w;
    }
    return this.writer;
  }
}

/** A bytea value as a plain Uint8Array view (the client returns Buffers, whose `slice` does not copy). */
export function bytes(b: Uint8Array): Uint8Array;
export function bytes(b: Uint8Array | null): Uint8Array | null;
export function bytes(b: Uint8Array | null): Uint8Array | null {
  return b === null ? null : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}
