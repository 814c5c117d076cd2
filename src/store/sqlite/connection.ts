/**
 * The one SQLite connection every concern of the store shares, and the one write bracket they
 * all use. Sharing the connection is what makes an operation that spans concerns (deleting a
 * queue with its messages and notifications, a notifier with its notifications) atomic: the
 * owning concern calls the others' in-transaction helpers inside its own bracket.
 *
 * A write runs as `write(op, body, a, b, c)`: `body` is a function created once per store (an
 * instance field), never a per-call closure, so the hot path (SEND, ACK) allocates nothing for
 * the bracket. Inside, a failing statement undoes that operation alone (`GroupCommit`
 * savepoint) and surfaces as `StoreError`; its counter changes are dropped with it.
 *
 * Incremental counters (`../counters.ts`) live here too: a concern adds to them inside its
 * bracket (`count`), they are persisted at each group commit and read by `stats()`.
 */
import { Database, type Statement } from "bun:sqlite";
import { StoreError } from "../types.ts";
import { isUniqueViolation, toStoreError } from "./errors.ts";
import { GroupCommit } from "./group-commit.ts";
import { migrate } from "./migrate.ts";
import { C_MESSAGES, COUNTERS } from "../counters.ts";
import type { MigrationPolicy } from "../migration-confirmation.ts";

export interface SqliteStoreOptions {
  /** Database file (created if missing), or ":memory:" (tests). */
  path: string;
  /**
   * "normal" (default): a commit survives a crash or kill of the process; the last commits
   * before a power loss / kernel crash may be lost (never corrupted). "full": fsync at every
   * commit, survives power loss too, at the cost of one fsync per group commit.
   */
  synchronous?: "normal" | "full";
  /** Messages per queue before ERR QUOTA (Server/Env/STM.hs:`defaultMsgQueueQuota` = 128). */
  msgQueueQuota?: number;
  /** SQLite page cache per connection, KiB (default 64 MiB): the bound on cached data. */
  cacheSizeKiB?: number;
  /** A group commit happens at the latest after this many writes (default 10000). */
  maxOpsPerCommit?: number;
  /** Wait this long for a lock held by another process (e.g. a CLI command), ms (default 5000). */
  busyTimeoutMs?: number;
  /** Whether an existing database may be upgraded (default: yes, as tools and tests need). */
  migrations?: MigrationPolicy;
}

/**
 * The message counter changes with every SEND and ACK: written at each group commit, its row
 * would add a page to every commit's WAL append (~6 µs of a message's ~60 µs in the store,
 * bench/store-ab.ts). So it is derived from the rows when the file is opened (one count over
 * the smallest index; start-up's quick_check reads every page anyway) and its row is written
 * only then, if stale, and at close (counted again): the row is exact whenever no process holds the file, and
 * a kill -9 loses nothing since the next open counts again.
 */
const DERIVED = C_MESSAGES;
const COUNT_DERIVED = "SELECT count(*) AS n FROM messages";

/** What the stores call on a statement: a `Statement` has it, and so has a `StatementOnUse`. */
export type Prepared<R = unknown> = Pick<Statement<R>, "run" | "get" | "all">;

class StatementOnUse<R> implements Prepared<R> {
  private st: Statement<R> | null = null;

  constructor(
    private readonly conn: SqliteConnection,
    private readonly sql: string,
  ) {}

  private statement(): Statement<R> {
    return (this.st ??= this.conn.prepare<R>(this.sql));
  }

  run(...params: any[]) {
    return this.statement().run(...params);
  }

  get(...params: any[]) {
    return this.statement().get(...params);
  }

  all(...params: any[]) {
    return this.statement().all(...params);
  }
}

export class SqliteConnection {
  readonly db: Database;
  private readonly tx: GroupCommit;
  /** Counter values as committed, pending (uncommitted) deltas, and deltas of the running operation. */
  private readonly committed = new Float64Array(COUNTERS.length);
  private readonly pending = new Float64Array(COUNTERS.length);
  private readonly delta = new Float64Array(COUNTERS.length);
  private closed = false;
  /** Finalized at close so the file is released at once (not when the GC gets to them). */
  private readonly statements: Statement[] = [];
  private readonly sAddCounter: Statement;
  /** In-memory state of the concerns derived from uncommitted writes, reset when they are undone. */
  private readonly rollbackListeners: (() => void)[] = [];

  constructor(opts: SqliteStoreOptions) {
    let db: Database;
    try {
      db = new Database(opts.path, { create: true, readwrite: true });
    } catch (e) {
      throw toStoreError(e, "open");
    }
    this.db = db;
    try {
      db.run(`PRAGMA busy_timeout = ${(opts.busyTimeoutMs ?? 5000) | 0}`);
      // The version check comes before anything that writes (journal_mode=WAL writes the header).
      migrate(db, undefined, opts.migrations);
      db.run("PRAGMA journal_mode = WAL");
      db.run(`PRAGMA synchronous = ${opts.synchronous === "full" ? "FULL" : "NORMAL"}`);
      db.run(`PRAGMA cache_size = ${-((opts.cacheSizeKiB ?? 65536) | 0)}`);
      db.run("PRAGMA foreign_keys = OFF");
      db.run("PRAGMA temp_store = MEMORY");
      for (const r of db.query("SELECT name, value FROM counters").all() as { name: string; value: number }[]) {
        const i = (COUNTERS as readonly string[]).indexOf(r.name);
        if (i >= 0) this.committed[i] = r.value;
      }
      const stored = this.committed[DERIVED]!;
      this.committed[DERIVED] = (db.query(COUNT_DERIVED).get() as { n: number }).n;
      if (stored !== this.committed[DERIVED]) this.storeDerived();
    } catch (e) {
      db.close();
      throw toStoreError(e, "open");
    }
    this.sAddCounter = this.prepare("UPDATE counters SET value = value + ? WHERE name = ?");
    this.tx = new GroupCommit(
      db,
      {
        beforeCommit: () => {
          for (let i = 0; i < COUNTERS.length; i++) if (i !== DERIVED && this.pending[i] !== 0) this.sAddCounter.run(this.pending[i]!, COUNTERS[i]!);
        },
        committed: () => {
          for (let i = 0; i < COUNTERS.length; i++) this.committed[i]! += this.pending[i]!;
          this.pending.fill(0);
        },
        rolledBack: () => {
          this.pending.fill(0);
          for (const f of this.rollbackListeners) f();
        },
      },
      opts.maxOpsPerCommit ?? 10000,
    );
  }

  /** A statement prepared once for the life of the connection. */
  prepare<R = unknown>(sql: string): Statement<R> {
    const st = this.db.prepare<R, any[]>(sql);
    this.statements.push(st);
    return st;
  }

  /**
   * `prepare` at the statement's first use: for the commands a message's path does not take
   * (links, notifiers, services, blobs, expiry, export). An idle server then holds neither their
   * compiled SQL nor their Statement objects (~0.5 MB, bench/idle-rss.ts); the message path's own
   * statements stay prepared at open, called without the forwarding.
   */
  prepareOnUse<R = unknown>(sql: string): Prepared<R> {
    return new StatementOnUse<R>(this, sql);
  }

  /** `f` runs whenever uncommitted writes are undone (a failed group commit). */
  onRollback(f: () => void): void {
    this.rollbackListeners.push(f);
  }

  // ---------------------------------------------------------------- the bracket

  /** Runs `body` as one atomic write; storage failures undo it and throw `StoreError`. */
  write<R, A>(op: string, body: (a: A) => R, a: A): R;
  write<R, A, B>(op: string, body: (a: A, b: B) => R, a: A, b: B): R;
  write<R, A, B, C>(op: string, body: (a: A, b: B, c: C) => R, a: A, b: B, c: C): R;
  write(op: string, body: (a: unknown, b: unknown, c: unknown) => unknown, a: unknown, b?: unknown, c?: unknown): unknown {
    return this.bracket(op, false, true, body, a, b, c);
  }

  /**
   * `write` for a body that changes the database with its LAST statement only (reads and
   * in-memory work before it, nothing that can fail after it): no savepoint around it, since
   * SQLite undoes a failing statement by itself. SEND's and ACK's writes, two statements fewer each.
   */
  writeOne<R, A, B>(op: string, body: (a: A, b: B) => R, a: A, b?: B): R {
    return this.bracket(op, false, false, body as (a: unknown, b: unknown, c: unknown) => R, a, b, undefined) as R;
  }

  /** `write`, except that a UNIQUE violation (an id already taken) undoes it and answers DUPLICATE. */
  writeUnique<R, A, B>(op: string, body: (a: A, b: B) => R, a: A, b: B): R | "DUPLICATE" {
    return this.bracket(op, true, true, body as (a: unknown, b: unknown, c: unknown) => R, a, b, undefined);
  }

  private bracket<R>(
    op: string,
    uniqueIsDuplicate: boolean,
    savepoint: boolean,
    body: (a: unknown, b: unknown, c: unknown) => R,
    a: unknown,
    b: unknown,
    c: unknown,
  ): R | "DUPLICATE" {
    this.begin(op, savepoint);
    try {
      const r = body(a, b, c);
      this.end(savepoint);
      return r;
    } catch (e) {
      const err = this.tx.fail(e, op, savepoint);
      if (uniqueIsDuplicate && isUniqueViolation(e)) return "DUPLICATE";
      throw err;
    }
  }

  /** Runs a read; storage failures throw `StoreError`. */
  read<R, A>(op: string, body: (a: A) => R, a: A): R;
  read<R, A, B>(op: string, body: (a: A, b: B) => R, a: A, b: B): R;
  read<R, A, B, C>(op: string, body: (a: A, b: B, c: C) => R, a: A, b: B, c: C): R;
  read<R, A, B, C, D>(op: string, body: (a: A, b: B, c: C, d: D) => R, a: A, b: B, c: C, d: D): R;
  read(
    op: string,
    body: (a: unknown, b: unknown, c: unknown, d: unknown) => unknown,
    a: unknown,
    b?: unknown,
    c?: unknown,
    d?: unknown,
  ): unknown {
    if (this.closed) throw new StoreError("internal", `store: closed (${op})`);
    try {
      return body(a, b, c, d);
    } catch (e) {
      throw toStoreError(e, op);
    }
  }

  /** Adds `n` to counter `c` as part of the running write (dropped if it fails). */
  count(c: number, n: number): void {
    this.delta[c]! += n;
  }

  private begin(op: string, savepoint: boolean): void {
    if (this.closed) throw new StoreError("internal", `store: closed (${op})`);
    this.tx.begin(op, savepoint);
    this.delta.fill(0);
  }

  private end(savepoint: boolean): void {
    for (let i = 0; i < COUNTERS.length; i++) this.pending[i]! += this.delta[i]!;
    this.tx.end(savepoint);
  }

  // ---------------------------------------------------------------- durability, counters, close

  /**
   * The derived counter's row set to its value (outside any transaction). Best effort: every
   * open counts again, and a busy lock (another process writing) must not fail an open.
   */
  private storeDerived(): void {
    try {
      this.db.run("UPDATE counters SET value = ? WHERE name = ?", [this.committed[DERIVED]!, COUNTERS[DERIVED]]);
    } catch {
      // the next open counts again
    }
  }

  flush(): Promise<void> {
    return this.tx.flush();
  }

  /** Rolls back every write since the last commit (a dry run or a failed import: `SqliteStore.discard`). */
  discard(): void {
    this.tx.discard();
  }

  /** Group commits made so far. */
  get commitCount(): number {
    return this.tx.commits;
  }

  /** Counter `c` including writes not committed yet. */
  counter(c: number): number {
    return this.committed[c]! + this.pending[c]!;
  }

  close(): void {
    if (this.closed) return;
    this.tx.commit();
    // Counted again rather than taken from memory: rows written beside this connection's own
    // operations (`database export` copies tables with plain statements; a CLI verb may have
    // had the file open beside a server) are not in the in-memory value.
    try {
      this.committed[DERIVED] = (this.db.query(COUNT_DERIVED).get() as { n: number }).n;
      this.storeDerived();
    } catch {
      // the next open counts again
    }
    this.closed = true;
    try {
      this.db.run("PRAGMA optimize");
    } catch {
      // advisory only
    }
    for (const st of this.statements) st.finalize();
    this.tx.dispose();
    // throwOnError = true: sqlite3_close, which releases the files now (close_v2 may leave them open)
    try {
      this.db.close(true);
    } catch (e) {
      this.db.close(false);
      throw toStoreError(e, "close");
    }
  }
}
