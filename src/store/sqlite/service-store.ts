/**
 * `ServiceStore` on SQLite: the `services` table with each service's queue count and IdsHash
 * per side (kept incrementally, never recomputed from the queues), and the queues' service
 * columns.
 */
import { bytesEqual, sameId } from "../../encoding/bytes.ts";
import { emptyIdsHash, IDS_HASH_LENGTH } from "../../protocol/ids-hash.ts";
import { serviceIdsHashWith, type ServiceStore } from "../service-store.ts";
import type { Auth, Ok, QueueRec, QueueRef, ServiceParty, ServiceQueuesInfo, ServiceRec } from "../types.ts";
import { encodeCertChain, QUEUE_COLUMNS, queueFromRow, serviceFromRow, type QueueRow, type ServiceRow } from "../codec.ts";
import { C_NTF_SERVICE_QUEUES, C_NTF_SERVICES, C_RCV_SERVICE_QUEUES, C_RCV_SERVICES } from "../counters.ts";
import type { Prepared, SqliteConnection } from "./connection.ts";

const EMPTY = new Uint8Array(0);

interface AggRow {
  count: number;
  hash: Uint8Array;
}

interface QueueServicesRow {
  recipient_id: Uint8Array;
  notifier_id: Uint8Array | null;
  rcv_service_id: Uint8Array | null;
  ntf_service_id: Uint8Array | null;
}

export class SqliteServiceStore implements ServiceStore {
  private readonly sServiceByHash: Prepared<{ service_id: Uint8Array; role: string }>;
  private readonly sServiceById: Prepared<ServiceRow>;
  private readonly sAllServices: Prepared<ServiceRow>;
  private readonly sInsertService: Prepared;
  private readonly sRcvAgg: Prepared<AggRow>;
  private readonly sNtfAgg: Prepared<AggRow>;
  private readonly sSetRcvAgg: Prepared;
  private readonly sSetNtfAgg: Prepared;
  private readonly sQueueServices: Prepared<QueueServicesRow>;
  private readonly sSetRcvService: Prepared;
  private readonly sSetNtfService: Prepared;
  private readonly sRcvServiceQueues: Prepared<QueueRow>;
  private readonly sNtfServiceQueues: Prepared<QueueRow>;

  constructor(private readonly conn: SqliteConnection) {
    this.sServiceByHash = conn.prepareOnUse("SELECT service_id, role FROM services WHERE cert_hash = ?");
    this.sServiceById = conn.prepareOnUse("SELECT service_id, role, cert_chain, cert_hash, created_at FROM services WHERE service_id = ?");
    this.sAllServices = conn.prepareOnUse("SELECT service_id, role, cert_chain, cert_hash, created_at FROM services ORDER BY created_at, service_id");
    this.sInsertService = conn.prepareOnUse("INSERT INTO services(service_id, role, cert_chain, cert_hash, created_at) VALUES (?,?,?,?,?)");
    this.sRcvAgg = conn.prepareOnUse("SELECT rcv_count AS count, rcv_hash AS hash FROM services WHERE service_id = ?");
    this.sNtfAgg = conn.prepareOnUse("SELECT ntf_count AS count, ntf_hash AS hash FROM services WHERE service_id = ?");
    this.sSetRcvAgg = conn.prepareOnUse("UPDATE services SET rcv_count = ?, rcv_hash = ? WHERE service_id = ?");
    this.sSetNtfAgg = conn.prepareOnUse("UPDATE services SET ntf_count = ?, ntf_hash = ? WHERE service_id = ?");
    this.sQueueServices = conn.prepareOnUse("SELECT recipient_id, notifier_id, rcv_service_id, ntf_service_id FROM queues WHERE qid = ?");
    this.sSetRcvService = conn.prepareOnUse("UPDATE queues SET rcv_service_id = ? WHERE qid = ?");
    this.sSetNtfService = conn.prepareOnUse("UPDATE queues SET ntf_service_id = ? WHERE qid = ?");
    const sel = `SELECT ${QUEUE_COLUMNS} FROM queues`;
    this.sRcvServiceQueues = conn.prepareOnUse(`${sel} WHERE rcv_service_id = ? AND recipient_id > ? ORDER BY recipient_id LIMIT ?`);
    this.sNtfServiceQueues = conn.prepareOnUse(`${sel} WHERE ntf_service_id = ? AND notifier_id > ? ORDER BY notifier_id LIMIT ?`);
  }

  /** QueueStore/STM.hs:`getCreateService`. */
  async getCreateService(rec: ServiceRec): Promise<Uint8Array | "SERVICE" | "DUPLICATE"> {
    const existing = this.conn.read("getCreateService", this.byHash, rec.certHash);
    if (existing !== null) return existing.role === rec.role ? existing.service_id : "SERVICE";
    return this.conn.writeUnique("getCreateService", this.insertTx, rec, encodeCertChain(rec.certChain));
  }

  private readonly byHash = (certHash: Uint8Array) => this.sServiceByHash.get(certHash);

  private readonly insertTx = (rec: ServiceRec, certChain: Uint8Array): Uint8Array => {
    this.sInsertService.run(rec.serviceId, rec.role, certChain, rec.certHash, rec.createdAt);
    if (rec.role === "M") this.conn.count(C_RCV_SERVICES, 1);
    else if (rec.role === "N") this.conn.count(C_NTF_SERVICES, 1);
    return rec.serviceId;
  };

  async getService(serviceId: Uint8Array): Promise<ServiceRec | null> {
    const r = this.conn.read("getService", this.byId, serviceId);
    return r === null ? null : serviceFromRow(r);
  }

  private readonly byId = (serviceId: Uint8Array) => this.sServiceById.get(serviceId);

  /** Export: every service, oldest first. */
  async allServices(): Promise<ServiceRec[]> {
    return this.conn.read("allServices", this.all, undefined);
  }

  private readonly all = (): ServiceRec[] => this.sAllServices.all().map(serviceFromRow);

  /** QueueStore/STM.hs:`setQueueService`. */
  async setQueueService(ref: QueueRef, party: ServiceParty, serviceId: Uint8Array | null): Promise<Ok | Auth> {
    return this.conn.write("setQueueService", this.setTx, ref, party, serviceId);
  }

  private readonly setTx = (ref: QueueRef, party: ServiceParty, serviceId: Uint8Array | null): Ok | Auth => {
    const r = this.sQueueServices.get(ref.key);
    if (r === null || !bytesEqual(r.recipient_id, ref.recipientId)) return "AUTH";
    const queueId = party === "rcv" ? r.recipient_id : r.notifier_id;
    if (queueId === null) return "AUTH";
    const prev = party === "rcv" ? r.rcv_service_id : r.ntf_service_id;
    if (!sameId(prev, serviceId)) {
      if (prev !== null) this.changeServiceQueues(party, prev, queueId, -1);
      if (serviceId !== null) this.changeServiceQueues(party, serviceId, queueId, 1);
      (party === "rcv" ? this.sSetRcvService : this.sSetNtfService).run(serviceId, ref.key);
    }
    return "OK";
  };

  /** QueueStore/STM.hs:`getServiceQueueCountHash`. */
  async getServiceQueuesInfo(serviceId: Uint8Array, party: ServiceParty): Promise<ServiceQueuesInfo | null> {
    const agg = this.conn.read("getServiceQueuesInfo", this.agg, serviceId, party);
    return agg === null ? null : { count: agg.count, idsHash: agg.hash.length === IDS_HASH_LENGTH ? agg.hash : emptyIdsHash() };
  }

  private readonly agg = (serviceId: Uint8Array, party: ServiceParty): AggRow | null =>
    (party === "rcv" ? this.sRcvAgg : this.sNtfAgg).get(serviceId);

  async serviceQueues(serviceId: Uint8Array, party: ServiceParty, after: Uint8Array | null, limit: number): Promise<QueueRec[]> {
    return this.conn.read("serviceQueues", this.queuesPage, serviceId, party, after ?? EMPTY, Math.max(1, limit | 0));
  }

  private readonly queuesPage = (serviceId: Uint8Array, party: ServiceParty, after: Uint8Array, limit: number): QueueRec[] =>
    (party === "rcv" ? this.sRcvServiceQueues : this.sNtfServiceQueues).all(serviceId, after, limit).map(queueFromRow);

  // ---------------------------------------------------------------- for the queue store

  /**
   * QueueStore/STM.hs:`addServiceQueue` / `removeServiceQueue`, inside the caller's write
   * bracket: count ± 1 and the id's MD5 XORed into the hash. Like the reference, a service id
   * with no service record changes nothing.
   */
  changeServiceQueues(party: ServiceParty, serviceId: Uint8Array, queueId: Uint8Array, change: 1 | -1): void {
    const agg = this.agg(serviceId, party);
    if (agg === null) return;
    const hash = serviceIdsHashWith(agg.hash, queueId, party);
    (party === "rcv" ? this.sSetRcvAgg : this.sSetNtfAgg).run(agg.count + change, hash, serviceId);
    this.conn.count(party === "rcv" ? C_RCV_SERVICE_QUEUES : C_NTF_SERVICE_QUEUES, change);
  }
}
