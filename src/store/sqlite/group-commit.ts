/**
 * Group commit: every write joins one open transaction, committed once per event-loop turn
 * (on `setImmediate`, i.e. after all I/O callbacks of the turn have run) or after `maxOps`
 * writes. `flush()` hands the server a Promise for that commit, so responses go out only
 * after the writes they report are on disk, while a busy server pays one commit (one fsync
 * with synchronous=FULL, one WAL append otherwise) for many commands.
 *
 * Each write runs inside a SAVEPOINT so a failing write is undone alone, never half-applied —
 * except a write that changes the database with its last statement only (`savepoint` false):
 * SQLite undoes a failing statement by itself, so the savepoint's two statements are saved.
 * If SQLite had to abandon the whole transaction (disk full, I/O error — it decides), or the
 * commit itself fails, every write since the previous commit is gone: pending flushes reject,
 * and flushes in the same turn also reject (`lost`), so no response built on them is sent.
 */
import type { Database, Statement } from "bun:sqlite";
import { StoreError } from "../types.ts";
import { toStoreError } from "./errors.ts";

export interface CommitHooks {
  /** Called inside the transaction just before COMMIT (persist counters). */
  beforeCommit(): void;
  /** The transaction committed. */
  committed(): void;
  /** The transaction is gone (rolled back): drop in-memory state derived from it. */
  rolledBack(): void;
}

const RESOLVED: Promise<void> = Promise.resolve();

export class GroupCommit {
  private inTx = false;
  private ops = 0;
  private pending: Promise<void> | null = null;
  private resolvePending: (() => void) | null = null;
  private rejectPending: ((e: StoreError) => void) | null = null;
  private lost: StoreError | null = null;
  private readonly sBegin: Statement;
  private readonly sCommit: Statement;
  private readonly sRollback: Statement;
  private readonly sSavepoint: Statement;
  private readonly sRelease: Statement;
  private readonly sRollbackTo: Statement;
  private readonly onTick = (): void => this.tick();
  private readonly clearLost = (): void => {
    this.lost = null;
  };
  /** Commits made (for tests and metrics). */
  commits = 0;

  constructor(
    private readonly db: Database,
    private readonly hooks: CommitHooks,
    private readonly maxOps: number,
  ) {
    this.sBegin = db.prepare("BEGIN IMMEDIATE");
    this.sCommit = db.prepare("COMMIT");
    this.sRollback = db.prepare("ROLLBACK");
    this.sSavepoint = db.prepare("SAVEPOINT op");
    this.sRelease = db.prepare("RELEASE op");
    this.sRollbackTo = db.prepare("ROLLBACK TO op");
  }

  /**
   * Opens the write bracket of one operation (and the turn's transaction if needed). Without
   * `savepoint` the operation must change the database with its last statement only.
   */
  begin(op: string, savepoint = true): void {
    try {
      if (!this.inTx) {
        this.sBegin.run();
        this.inTx = true;
        this.ops = 0;
        setImmediate(this.onTick);
      }
      if (savepoint) this.sSavepoint.run();
    } catch (e) {
      throw this.fail(e, op);
    }
  }

  /** Closes the bracket of a successful operation (`savepoint` as given to `begin`). */
  end(savepoint = true): void {
    if (savepoint) this.sRelease.run();
    if (++this.ops >= this.maxOps) this.commit();
  }

  /**
   * Undoes the failed operation (or notes that SQLite dropped the whole transaction) and
   * returns the error to throw.
   */
  fail(e: unknown, op: string, savepoint = true): StoreError {
    const err = toStoreError(e, op);
    if (!this.inTx) return err;
    // No savepoint: the failed statement was the operation's only change, and SQLite undid it
    // (unless it dropped the whole transaction, which inTransaction tells).
    if (!savepoint && this.db.inTransaction) return err;
    if (this.db.inTransaction) {
      try {
        this.sRollbackTo.run();
        this.sRelease.run();
        return err;
      } catch {
        try {
          this.sRollback.run();
        } catch {
          // already rolled back
        }
      }
    }
    this.abandon(err);
    return err;
  }

  flush(): Promise<void> {
    if (this.lost !== null) return Promise.reject(this.lost);
    if (!this.inTx) return RESOLVED;
    if (this.pending === null) {
      this.pending = new Promise<void>((resolve, reject) => {
        this.resolvePending = resolve;
        this.rejectPending = reject;
      });
    }
    return this.pending;
  }

  /** Commits now (close, tests, batch limits). Failures go to the pending flushes. */
  commit(): void {
    if (!this.inTx) return;
    try {
      this.hooks.beforeCommit();
      this.sCommit.run();
    } catch (e) {
      if (this.db.inTransaction) {
        try {
          this.sRollback.run();
        } catch {
          // nothing more can be done; the transaction is gone either way
        }
      }
      this.abandon(toStoreError(e, "commit"));
      return;
    }
    this.inTx = false;
    this.commits++;
    this.hooks.committed();
    const resolve = this.resolvePending;
    this.clearPending();
    if (resolve !== null) resolve();
  }

  /** Rolls back the open transaction on purpose; pending flushes reject with `reason`. */
  discard(reason: StoreError = new StoreError("internal", "writes discarded")): void {
    if (!this.inTx) return;
    try {
      this.sRollback.run();
    } catch {
      // already rolled back
    }
    this.inTx = false;
    this.hooks.rolledBack();
    const reject = this.rejectPending;
    this.clearPending();
    if (reject !== null) reject(reason);
  }

  dispose(): void {
    for (const st of [this.sBegin, this.sCommit, this.sRollback, this.sSavepoint, this.sRelease, this.sRollbackTo]) st.finalize();
  }

  get inTransaction(): boolean {
    return this.inTx;
  }

  private tick(): void {
    this.commit();
  }

  private abandon(err: StoreError): void {
    this.inTx = false;
    this.hooks.rolledBack();
    const reject = this.rejectPending;
    this.clearPending();
    if (reject !== null) reject(err);
    if (this.lost === null) setImmediate(this.clearLost);
    this.lost = err;
  }

  private clearPending(): void {
    this.pending = null;
    this.resolvePending = null;
    this.rejectPending = null;
  }
}
