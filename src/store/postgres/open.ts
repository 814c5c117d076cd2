/**
 * `Store` on PostgreSQL (the reference's `server_postgres` build): the tables of
 * `schema.ts` in the operator's schema, one writer connection with group commit and a read
 * pool (`connection.ts`). Semantics mirror the SQLite store (cited per method); only the
 * transactions differ — see `connection.ts` and docs/storage.md.
 */
import type { StoreCluster } from "../cluster.ts";
import { statsOf } from "../counters.ts";
import type { Store } from "../store.ts";
import type { StoreStats } from "../types.ts";
import { putBlob } from "./blobs.ts";
import { PgClusterBus } from "./bus.ts";
import { bytes, PgConnection, type PostgresStoreOptions } from "./connection.ts";
import { PgJobs } from "./jobs.ts";
import { PgMessageStore } from "./message-store.ts";
import { PgNtfStore } from "./ntf-store.ts";
import { PgQueueStore } from "./queue-store.ts";
import { PgServiceStore } from "./service-store.ts";

export async function openPostgresStore(opts: PostgresStoreOptions): Promise<PostgresStore> {
  const conn = await PgConnection.open(opts);
  return new PostgresStore(conn, opts.msgQueueQuota ?? 128, new PgClusterBus(conn, opts.uri), new PgJobs(conn, opts.uri));
}

export class PostgresStore implements Store {
  readonly queues: PgQueueStore;
  readonly messages: PgMessageStore;
  readonly ntfs: PgNtfStore;
  readonly services: PgServiceStore;
  /** Several nodes on this store (issue 18): the bus (bus.ts) and the jobs (jobs.ts). */
  readonly cluster: StoreCluster;

  constructor(
    readonly conn: PgConnection,
    msgQueueQuota: number,
    private readonly bus: PgClusterBus,
    private readonly jobs: PgJobs,
  ) {
    // BUS members (nodeId, join, claim …) are the bus's own; JOBS members go to jobs.ts.
    this.cluster = Object.assign(bus, {
      lead: (job: string) => jobs.lead(job),
      claimNode: (node: string, waitMs?: number) => jobs.claimNode(node, waitMs),
      putNodeStats: (node: string, json: string) => jobs.putNodeStats(node, json),
      nodeStats: () => jobs.nodeStats(),
    });
    this.messages = new PgMessageStore(conn, msgQueueQuota);
    this.ntfs = new PgNtfStore(conn);
    this.services = new PgServiceStore(conn);
    this.queues = new PgQueueStore(conn, this.messages, this.ntfs, this.services);
  }

  flush(): Promise<void> {
    return this.conn.flush();
  }

  async close(): Promise<void> {
    await this.jobs.close();
    await this.bus.close();
    await this.conn.close();
  }

  /** The counters every node committed (read, not kept: other nodes change them too). */
  async stats(): Promise<StoreStats> {
    const v = await this.conn.counters();
    return statsOf((c) => v[c]!);
  }

  async getBlob(name: string): Promise<Uint8Array | null> {
    const rs = await this.conn.read("getBlob", (db) => db`SELECT value FROM blobs WHERE name = ${name}`);
    return rs.length === 0 ? null : bytes(rs[0].value as Uint8Array);
  }

  putBlob(name: string, value: Uint8Array | null): Promise<void> {
    return putBlob(this.conn, "putBlob", name, value);
  }
}

