/**
 * `ServiceStore` on PostgreSQL: the `services` table with each service's queue count and
 * IdsHash per side (kept incrementally, never recomputed from the queues), and the queues'
 * service columns.
 */
import type { SQL } from "bun";
import { sameId } from "../../encoding/bytes.ts";
import { emptyIdsHash, IDS_HASH_LENGTH } from "../../protocol/ids-hash.ts";
import { encodeCertChain, QUEUE_COLUMNS, type QueueRow, type ServiceRow } from "../codec.ts";
import { C_NTF_SERVICE_QUEUES, C_NTF_SERVICES, C_RCV_SERVICE_QUEUES, C_RCV_SERVICES } from "../counters.ts";
import { serviceIdsHashWith, type ServiceStore } from "../service-store.ts";
import type { Auth, Ok, QueueRec, QueueRef, ServiceParty, ServiceQueuesInfo, ServiceRec } from "../types.ts";
import { bytes, type PgConnection } from "./connection.ts";
import { lockQueueRow, lockServices } from "./locks.ts";
import { queueFromPgRow, serviceFromPgRow, type PgRow } from "./rows.ts";

const EMPTY = new Uint8Array(0);

interface AggRow {
  count: string;
  hash: Uint8Array;
}

const SELECT_QUEUES = `SELECT ${QUEUE_COLUMNS} FROM queues`;

export class PgServiceStore implements ServiceStore {
  constructor(private readonly conn: PgConnection) {}

  /** QueueStore/STM.hs:`getCreateService`. */
  async getCreateService(rec: ServiceRec): Promise<Uint8Array | "SERVICE" | "DUPLICATE"> {
    const rs = await this.conn.read("getCreateService", (db) => db`SELECT service_id, role FROM services WHERE cert_hash = ${rec.certHash}`);
    const existing = rs[0] as { service_id: Uint8Array; role: string } | undefined;
    if (existing !== undefined) return existing.role === rec.role ? bytes(existing.service_id) : "SERVICE";
    const chain = encodeCertChain(rec.certChain);
    return this.conn.write("getCreateService", async (tx): Promise<Uint8Array | "SERVICE" | "DUPLICATE"> => {
      const ins = await tx`INSERT INTO services(service_id, role, cert_chain, cert_hash, created_at)
        VALUES (${rec.serviceId}, ${rec.role}, ${chain}, ${rec.certHash}, ${rec.createdAt})
        ON CONFLICT DO NOTHING RETURNING service_id`;
      if (ins.length === 0) {
        // Another node may have created the same certificate's service since the read above
        // (the insert waited for its commit, so this statement sees it).
        const again = await tx`SELECT service_id, role FROM services WHERE cert_hash = ${rec.certHash}`;
        const other = again[0] as { service_id: Uint8Array; role: string } | undefined;
        if (other === undefined) return "DUPLICATE";
        return other.role === rec.role ? bytes(other.service_id) : "SERVICE";
      }
      if (rec.role === "M") this.conn.count(C_RCV_SERVICES, 1);
      else if (rec.role === "N") this.conn.count(C_NTF_SERVICES, 1);
      return rec.serviceId;
    });
  }

  async getService(serviceId: Uint8Array): Promise<ServiceRec | null> {
    const rs = await this.conn.read(
      "getService",
      (db) => db`SELECT service_id, role, cert_chain, cert_hash, created_at FROM services WHERE service_id = ${serviceId}`,
    );
    const r = rs[0] as PgRow<ServiceRow> | undefined;
    return r === undefined ? null : serviceFromPgRow(r);
  }

  /** QueueStore/STM.hs:`setQueueService`. */
  async setQueueService(ref: QueueRef, party: ServiceParty, serviceId: Uint8Array | null): Promise<Ok | Auth> {
    return this.conn.write("setQueueService", async (tx): Promise<Ok | Auth> => {
      const r = await lockQueueRow(this.conn, tx, ref);
      if (r === null) return "AUTH";
      const queueId = party === "rcv" ? r.recipient_id : r.notifier_id;
      if (queueId === null) return "AUTH";
      const prev = party === "rcv" ? r.rcv_service_id : r.ntf_service_id;
      if (!sameId(prev, serviceId)) {
        await lockServices(this.conn, tx, [prev, serviceId]);
        if (prev !== null) await this.changeServiceQueues(tx, party, prev, queueId, -1);
        if (serviceId !== null) await this.changeServiceQueues(tx, party, serviceId, queueId, 1);
        if (party === "rcv") await tx`UPDATE queues SET rcv_service_id = ${serviceId} WHERE qid = ${ref.key}`;
        else await tx`UPDATE queues SET ntf_service_id = ${serviceId} WHERE qid = ${ref.key}`;
      }
      return "OK";
    });
  }

  /** QueueStore/STM.hs:`getServiceQueueCountHash`. */
  async getServiceQueuesInfo(serviceId: Uint8Array, party: ServiceParty): Promise<ServiceQueuesInfo | null> {
    const agg = await this.conn.read("getServiceQueuesInfo", (db) => aggregate(db, serviceId, party));
    if (agg === null) return null;
    return { count: Number(agg.count), idsHash: agg.hash.length === IDS_HASH_LENGTH ? bytes(agg.hash) : emptyIdsHash() };
  }

  async serviceQueues(serviceId: Uint8Array, party: ServiceParty, after: Uint8Array | null, limit: number): Promise<QueueRec[]> {
    const from = after ?? EMPTY;
    const max = Math.max(1, limit | 0);
    const rs = await this.conn.read("serviceQueues", (db) =>
      party === "rcv"
        ? db.unsafe(`${SELECT_QUEUES} WHERE rcv_service_id = $1 AND recipient_id > $2 ORDER BY recipient_id LIMIT $3`, [serviceId, from, max])
        : db.unsafe(`${SELECT_QUEUES} WHERE ntf_service_id = $1 AND notifier_id > $2 ORDER BY notifier_id LIMIT $3`, [serviceId, from, max]),
    );
    return (rs as PgRow<QueueRow>[]).map(queueFromPgRow);
  }

  // ---------------------------------------------------------------- for the queue store

  /**
   * QueueStore/STM.hs:`addServiceQueue` / `removeServiceQueue`, inside the caller's write:
   * count ± 1 and the id's MD5 XORed into the hash. A service id with no record changes nothing.
   * The caller locked the row (`lockServices`); `FOR UPDATE` here only makes a lost update
   * impossible should one forget (a wait, not a wrong hash).
   */
  async changeServiceQueues(tx: SQL, party: ServiceParty, serviceId: Uint8Array, queueId: Uint8Array, change: 1 | -1): Promise<void> {
    const agg = await aggregate(tx, serviceId, party, true);
    if (agg === null) return;
    const hash = serviceIdsHashWith(agg.hash, queueId, party);
    const count = Number(agg.count) + change;
    if (party === "rcv") await tx`UPDATE services SET rcv_count = ${count}, rcv_hash = ${hash} WHERE service_id = ${serviceId}`;
    else await tx`UPDATE services SET ntf_count = ${count}, ntf_hash = ${hash} WHERE service_id = ${serviceId}`;
    this.conn.count(party === "rcv" ? C_RCV_SERVICE_QUEUES : C_NTF_SERVICE_QUEUES, change);
  }
}

const AGG_RCV = "SELECT rcv_count AS count, rcv_hash AS hash FROM services WHERE service_id = $1";
const AGG_NTF = "SELECT ntf_count AS count, ntf_hash AS hash FROM services WHERE service_id = $1";

async function aggregate(db: SQL, serviceId: Uint8Array, party: ServiceParty, forUpdate = false): Promise<AggRow | null> {
  const q = party === "rcv" ? AGG_RCV : AGG_NTF;
  const rs = await db.unsafe(forUpdate ? q + " FOR UPDATE" : q, [serviceId]);
  return (rs[0] as AggRow | undefined) ?? null;
}

