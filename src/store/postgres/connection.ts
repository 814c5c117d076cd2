/**
 * The PostgreSQL connections the concerns of the store share: a pool for reads, and ONE
 * reserved connection on which every write runs, one operation at a time, in a transaction
 * that a group of operations share (group commit).
 *
 * Why one writer: each operation must be atomic and see the effects of the ones before it
 * (quota, ids, service hashes), as SQLite's single connection and the reference's STM give.
 * Serialising the writes on one connection gives that without row locks or retries, and a
 * write costs a few round trips (~25 µs each on a local socket).
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
  /** Whether an existing schema may be upgraded (default: yes, as tools and tests need). */
  migrations?: MigrationPolicy;
}

type Db = SQL;

interface Job {
  readonly op: string;
  readonly body: (tx: Db) => Promise<unknown>;
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: StoreError) => void;
}

interface Done {
  readonly job: Job;
  readonly value: unknown;
}

const RESOLVED: Promise<void> = Promise.resolve();

export class PgConnection {
  /** Counter values as committed, pending (uncommitted) deltas, and deltas of the running operation. */
  private readonly committed = new Float64Array(COUNTERS.length);
  private readonly pending = new Float64Array(COUNTERS.length);
  private readonly delta = new Float64Array(COUNTERS.length);
  private readonly queue: Job[] = [];
  /** Operations done in the open transaction, answered at its COMMIT. */
  private done: Done[] = [];
  private flushWaiters: { resolve: () => void; reject: (e: StoreError) => void }[] = [];
  private writer: ReservedSQL | null = null;
  private draining: Promise<void> | null = null;
  private inTx = false;
  private closed = false;
  private readonly rollbackListeners: (() => void)[] = [];
  /** Group commits made so far (tests, metrics). */
  commits = 0;

  private constructor(
    readonly sql: SQL,
    readonly schema: string,
    private readonly maxOps: number,
  ) {}

  static async open(opts: PostgresStoreOptions): Promise<PgConnection> {
    const schema = opts.schema ?? "smp_server";
    const sql = new SQL(opts.uri, {
      max: Math.max(2, opts.poolSize ?? 10),
      // Quoted: an unquoted search_path entry would be folded to lower case, and the tables are
      // created in the schema exactly as named.
      connection: { search_path: quoteIdent(schema) },
      connectionTimeout: 10,
    });
    const c = new PgConnection(sql, schema, opts.maxOpsPerCommit ?? 1000);
    try {
      await pgMigrate(sql, schema, opts.createSchema ?? false, undefined, opts.migrations);
      const rows = await sql`SELECT name, value FROM counters`;
      for (const r of rows as { name: string; value: string }[]) {
        const i = (COUNTERS as readonly string[]).indexOf(r.name);
        if (i >= 0) c.committed[i] = Number(r.value);
      }
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
      this.queue.push({ op, body, resolve: resolve as (v: unknown) => void, reject });
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

  /** Counter `c` as committed. */
  counter(c: number): number {
    return this.committed[c]!;
  }

  flush(): Promise<void> {
    if (this.draining === null) return RESOLVED;
    return new Promise((resolve, reject) => this.flushWaiters.push({ resolve, reject }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.draining;
    this.writer?.release();
    this.writer = null;
    await this.sql.close({ timeout: 5 });
  }

  // ---------------------------------------------------------------- the writer

  private async drain(): Promise<void> {
    let ops = 0;
    for (;;) {
      const job = this.queue.shift();
      if (job !== undefined) {
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

  /** One operation inside the open transaction; false if it failed (the transaction is gone). */
  private async run(job: Job): Promise<boolean> {
    this.delta.fill(0);
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
      const err = toStoreError(e, job.op);
      job.reject(err);
      await this.abandon(err);
      return false;
    }
  }

  private async commit(): Promise<void> {
    const tx = this.writer!;
    try {
      // One round trip: the counter deltas (integers and our own names, so inlined safely) and COMMIT.
      let text = "";
      for (let i = 0; i < COUNTERS.length; i++)
        if (this.pending[i] !== 0) text += `UPDATE counters SET value = value + ${this.pending[i]! | 0} WHERE name = '${COUNTERS[i]!}';`;
      await tx.unsafe(text + "COMMIT");
    } catch (e) {
      await this.abandon(toStoreError(e, "commit"));
      return;
    }
    this.inTx = false;
    this.commits++;
    for (let i = 0; i < COUNTERS.length; i++) this.committed[i]! += this.pending[i]!;
    this.pending.fill(0);
    const done = this.done;
    this.done = [];
    for (const d of done) d.job.resolve(d.value);
  }

  /** The transaction is gone: every operation in it fails, and so do the flushes waiting for it. */
  private async abandon(err: StoreError): Promise<void> {
    const tx = this.writer;
    this.writer = null;
    this.inTx = false;
    if (tx !== null) {
      // A fresh connection next time: after a failure this one may be broken or mid-protocol.
      await tx.unsafe("ROLLBACK").catch(() => {});
      tx.release();
    }
    this.pending.fill(0);
    for (const f of this.rollbackListeners) f();
    const done = this.done;
    this.done = [];
    for (const d of done) d.job.reject(err);
    const waiters = this.flushWaiters;
    this.flushWaiters = [];
    for (const w of waiters) w.reject(err);
  }

  private async writerConnection(): Promise<Db> {
    this.writer ??= await this.sql.reserve();
    return this.writer;
  }
}

/** A bytea value as a plain Uint8Array view (the client returns Buffers, whose `slice` does not copy). */
export function bytes(b: Uint8Array): Uint8Array;
export function bytes(b: Uint8Array | null): Uint8Array | null;
export function bytes(b: Uint8Array | null): Uint8Array | null {
  return b === null ? null : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}
