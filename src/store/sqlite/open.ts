/**
 * `Store` on bun:sqlite: one database file in WAL mode, one connection shared by the four
 * concerns, prepared statements created once. SQLite's page cache (bounded by `cacheSizeKiB`)
 * is the only cache. Semantics mirror the reference STM stores (cited per method); durability
 * is `GroupCommit`.
 */
import type { Database } from "bun:sqlite";
import type { Store } from "../store.ts";
import type { StoreStats } from "../types.ts";
import { statsOf } from "../counters.ts";
import { SqliteConnection, type Prepared, type SqliteStoreOptions } from "./connection.ts";
import { SqliteMessageStore } from "./message-store.ts";
import { SqliteNtfStore } from "./ntf-store.ts";
import { SqliteQueueStore } from "./queue-store.ts";
import { SqliteServiceStore } from "./service-store.ts";

export function openSqliteStore(opts: SqliteStoreOptions): SqliteStore {
  return new SqliteStore(new SqliteConnection(opts), opts.msgQueueQuota ?? 128);
}

export class SqliteStore implements Store {
  readonly queues: SqliteQueueStore;
  readonly messages: SqliteMessageStore;
  readonly ntfs: SqliteNtfStore;
  readonly services: SqliteServiceStore;
  private readonly sGetBlob: Prepared<{ value: Uint8Array }>;
  private readonly sPutBlob: Prepared;
  private readonly sDeleteBlob: Prepared;

  constructor(
    private readonly conn: SqliteConnection,
    msgQueueQuota: number,
  ) {
    this.messages = new SqliteMessageStore(conn, msgQueueQuota);
    this.ntfs = new SqliteNtfStore(conn);
    this.services = new SqliteServiceStore(conn);
    this.queues = new SqliteQueueStore(conn, this.messages, this.ntfs, this.services);
    this.sGetBlob = conn.prepareOnUse("SELECT value FROM blobs WHERE name = ?");
    this.sPutBlob = conn.prepareOnUse("INSERT INTO blobs(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value");
    this.sDeleteBlob = conn.prepareOnUse("DELETE FROM blobs WHERE name = ?");
  }

  /** The connection (tests inspect the file through it). */
  get db(): Database {
    return this.conn.db;
  }

  flush(): Promise<void> {
    return this.conn.flush();
  }

  /**
   * Undoes every write since the last commit. `smp-server import` opens the store with an
   * unlimited `maxOpsPerCommit` and never yields to the event loop, so its writes are one
   * transaction: committed by `flush()`, or discarded on a failure or a dry run.
   */
  discard(): void {
    this.conn.discard();
  }

  /** Group commits made so far. */
  get commitCount(): number {
    return this.conn.commitCount;
  }

  async close(): Promise<void> {
    this.conn.close();
  }

  async stats(): Promise<StoreStats> {
    return statsOf(this.counter);
  }

  private readonly counter = (c: number): number => this.conn.counter(c);

  async getBlob(name: string): Promise<Uint8Array | null> {
    return this.conn.read("getBlob", this.blob, name);
  }

  private readonly blob = (name: string): Uint8Array | null => this.sGetBlob.get(name)?.value ?? null;

  async putBlob(name: string, value: Uint8Array | null): Promise<void> {
    this.conn.write("putBlob", this.putTx, name, value);
  }

  private readonly putTx = (name: string, value: Uint8Array | null): void => {
    if (value === null) this.sDeleteBlob.run(name);
    else this.sPutBlob.run(name, value);
  };
}
