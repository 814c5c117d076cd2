/**
 * `QueueStore` on PostgreSQL: the `queues` table, found through its unique indexes (nothing is
 * loaded at start). Removing a queue or a notifier reaches into the other concerns (messages,
 * notifications, service counts) through their in-transaction helpers, inside this store's
 * write: one transaction. A block of SUBs is looked up with one query (`getQueues`). Every
 * change locks the queue's row, then the service rows it changes, before writing (`locks.ts`).
 */
import type { SQL } from "bun";
import { bytesEqual, idKey } from "../../encoding/bytes.ts";
import { encodeKeys, linkConflicts, notifierOf, QUEUE_COLUMNS, queueFromRow, STATUS_ACTIVE, STATUS_BLOCKED, STATUS_OFF, statusCode, type QueueRow } from "../codec.ts";
import { C_NOTIFIERS, C_QUEUES } from "../counters.ts";
import type { QueueStore } from "../queue-store.ts";
import type { Auth, DeletedQueue, NewQueue, NtfCreds, Ok, QueueLink, QueueRec, QueueRef, ServiceParty } from "../types.ts";
import type { PgConnection } from "./connection.ts";
import type { PgMessageStore } from "./message-store.ts";
import type { PgNtfStore } from "./ntf-store.ts";
import { lockQueue, lockQueueRow, lockQueueRows, lockServices } from "./locks.ts";
import { queueFromPgRow, type PgRow } from "./rows.ts";
import type { PgServiceStore } from "./service-store.ts";

type NotifierResult = { readonly prev: NtfCreds | null } | "DUPLICATE" | Auth;
type DeletedNotifier = { readonly prev: NtfCreds | null; readonly ntfCount: number } | Auth;

const SELECT_QUEUES = `SELECT ${QUEUE_COLUMNS} FROM queues`;
const BY_RID = `${SELECT_QUEUES} WHERE recipient_id = $1`;
const BY_SID = `${SELECT_QUEUES} WHERE sender_id = $1`;
const BY_LINK = `${SELECT_QUEUES} WHERE link_id = $1`;
const BY_NID = `${SELECT_QUEUES} WHERE notifier_id = $1`;
const TIME_BY_QID = "SELECT recipient_id, updated_at FROM queues WHERE qid = $1";
const BY_RIDS = `${SELECT_QUEUES} WHERE recipient_id = ANY($1::bytea[])`;
const BY_NIDS = `${SELECT_QUEUES} WHERE notifier_id = ANY($1::bytea[])`;

export class PgQueueStore implements QueueStore {
  constructor(
    private readonly conn: PgConnection,
    private readonly messages: PgMessageStore,
    private readonly ntfs: PgNtfStore,
    private readonly services: PgServiceStore,
  ) {}

  // ---------------------------------------------------------------- create and look up

  /** QueueStore/STM.hs:`addQueue_`: a clash on any unique id inserts nothing → DUPLICATE. */
  async createQueue(nq: NewQueue): Promise<QueueRec | "DUPLICATE"> {
    const keys = encodeKeys(nq.recipientKeys);
    const link = nq.link;
    const n = nq.notifier;
    const blockingInfo = nq.status === "blocked" ? nq.blockingInfo : null;
    return this.conn.write("createQueue", async (tx): Promise<QueueRec | "DUPLICATE"> => {
      await lockServices(this.conn, tx, [nq.rcvServiceId, n?.serviceId ?? null]);
      const rs = await tx`INSERT INTO queues(recipient_id, recipient_keys, rcv_dh_secret, sender_id, sender_key, queue_mode,
          link_id, link_fixed, link_user, notifier_id, notifier_key, rcv_ntf_dh_secret, ntf_service_id,
          status, blocking_info, updated_at, rcv_service_id)
        VALUES (${nq.recipientId}, ${keys}, ${nq.rcvDhSecret}, ${nq.senderId}, ${nq.senderKey}, ${nq.queueMode},
          ${link?.linkId ?? null}, ${link?.fixed ?? null}, ${link?.user ?? null},
          ${n?.notifierId ?? null}, ${n?.notifierKey ?? null}, ${n?.rcvNtfDhSecret ?? null}, ${n?.serviceId ?? null},
          ${statusCode(nq.status)}, ${blockingInfo}, ${nq.updatedAt}, ${nq.rcvServiceId})
        ON CONFLICT DO NOTHING RETURNING qid`;
      if (rs.length === 0) return "DUPLICATE";
      this.conn.count(C_QUEUES, 1);
      if (n !== null) {
        this.conn.count(C_NOTIFIERS, 1);
        if (n.serviceId !== null) await this.services.changeServiceQueues(tx, "ntf", n.serviceId, n.notifierId, 1);
      }
      if (nq.rcvServiceId !== null) await this.services.changeServiceQueues(tx, "rcv", nq.rcvServiceId, nq.recipientId, 1);
      return { ...nq, blockingInfo, key: Number(rs[0].qid) };
    });
  }

  getQueueByRecipientId(id: Uint8Array): Promise<QueueRec | null> {
    return this.lookup(BY_RID, id);
  }

  getQueueBySenderId(id: Uint8Array): Promise<QueueRec | null> {
    return this.lookup(BY_SID, id);
  }

  getQueueByLinkId(id: Uint8Array): Promise<QueueRec | null> {
    return this.lookup(BY_LINK, id);
  }

  getQueueByNotifierId(id: Uint8Array): Promise<QueueRec | null> {
    return this.lookup(BY_NID, id);
  }

  private async lookup(query: string, id: Uint8Array): Promise<QueueRec | null> {
    const rs = await this.conn.read("getQueue", (db) => db.unsafe(query, [id]));
    return rs.length === 0 ? null : queueFromPgRow(rs[0]);
  }

  /** `getQueues_` (a block of SUBs / NSUBs): one query for the whole block, results in the order of `ids`. */
  async getQueues(party: ServiceParty, ids: readonly Uint8Array[]): Promise<(QueueRec | null)[]> {
    if (ids.length === 0) return [];
    const rs = (await this.conn.read("getQueues", (db) => db.unsafe(party === "rcv" ? BY_RIDS : BY_NIDS, [ids]))) as PgRow<QueueRow>[];
    const found = new Map<string, QueueRec>();
    for (const r of rs) {
      const q = queueFromPgRow(r);
      found.set(idKey(party === "rcv" ? q.recipientId : q.notifier!.notifierId), q);
    }
    return ids.map((id) => found.get(idKey(id)) ?? null);
  }

  // ---------------------------------------------------------------- updates

  /** QueueStore/STM.hs:`secureQueue`. */
  async secureQueue(ref: QueueRef, senderKey: Uint8Array): Promise<Ok | Auth> {
    return this.conn.write("secureQueue", async (tx): Promise<Ok | Auth> => {
      const r = await lockQueueRow(this.conn, tx, ref);
      if (r === null) return "AUTH";
      if (r.sender_key !== null) return bytesEqual(r.sender_key, senderKey) ? "OK" : "AUTH";
      await tx`UPDATE queues SET sender_key = ${senderKey} WHERE qid = ${ref.key}`;
      return "OK";
    });
  }

  /** QueueStore/STM.hs:`updateKeys`. */
  async updateRecipientKeys(ref: QueueRef, keys: readonly Uint8Array[]): Promise<Ok | Auth> {
    const enc = encodeKeys(keys);
    return this.update("updateKeys", ref, (tx) => tx`UPDATE queues SET recipient_keys = ${enc} WHERE qid = ${ref.key}`);
  }

  /** QueueStore/STM.hs:`addQueueLinkData`. */
  async setQueueLink(ref: QueueRef, link: QueueLink): Promise<Ok | Auth> {
    return this.conn.write("setQueueLink", async (tx): Promise<Ok | Auth> => {
      const r = await lockQueueRow(this.conn, tx, ref);
      if (r === null) return "AUTH";
      if (linkConflicts(r, link)) return "AUTH";
      const owner = await tx`SELECT qid FROM queues WHERE link_id = ${link.linkId}`;
      if (owner.length > 0 && Number(owner[0].qid) !== ref.key) return "AUTH";
      await tx`UPDATE queues SET link_id = ${link.linkId}, link_fixed = ${link.fixed}, link_user = ${link.user} WHERE qid = ${ref.key}`;
      return "OK";
    });
  }

  /** QueueStore/STM.hs:`deleteQueueLinkData`. */
  async deleteQueueLink(ref: QueueRef): Promise<Ok | Auth> {
    return this.update("deleteQueueLink", ref, (tx) => tx`UPDATE queues SET link_id = NULL, link_fixed = NULL, link_user = NULL WHERE qid = ${ref.key}`);
  }

  /** QueueStore/STM.hs:`addQueueNotifier`. */
  async setQueueNotifier(ref: QueueRef, creds: NtfCreds): Promise<NotifierResult> {
    return this.conn.write("setQueueNotifier", async (tx): Promise<NotifierResult> => {
      const r = await lockQueueRow(this.conn, tx, ref);
      if (r === null) return "AUTH";
      await lockServices(this.conn, tx, [r.ntf_service_id, creds.serviceId]);
      if ((await tx`SELECT qid FROM queues WHERE notifier_id = ${creds.notifierId}`).length > 0) return "DUPLICATE";
      const prev = notifierOf(r);
      if (prev !== null) await this.dropNotifier(tx, prev);
      await tx`UPDATE queues SET notifier_id = ${creds.notifierId}, notifier_key = ${creds.notifierKey},
          rcv_ntf_dh_secret = ${creds.rcvNtfDhSecret}, ntf_service_id = ${creds.serviceId} WHERE qid = ${ref.key}`;
      this.conn.count(C_NOTIFIERS, 1);
      if (creds.serviceId !== null) await this.services.changeServiceQueues(tx, "ntf", creds.serviceId, creds.notifierId, 1);
      return { prev };
    });
  }

  /** QueueStore/STM.hs:`deleteQueueNotifier` + NtfStore.hs:`deleteNtfs`. */
  async deleteQueueNotifier(ref: QueueRef): Promise<DeletedNotifier> {
    return this.conn.write("deleteQueueNotifier", async (tx): Promise<DeletedNotifier> => {
      const r = await lockQueueRow(this.conn, tx, ref);
      if (r === null) return "AUTH";
      await lockServices(this.conn, tx, [r.ntf_service_id]);
      const prev = notifierOf(r);
      let ntfCount = 0;
      if (prev !== null) {
        ntfCount = await this.dropNotifier(tx, prev);
        await tx`UPDATE queues SET notifier_id = NULL, notifier_key = NULL, rcv_ntf_dh_secret = NULL, ntf_service_id = NULL WHERE qid = ${ref.key}`;
      }
      return { prev, ntfCount };
    });
  }

  /** `removeNotifier` + its pending notifications; returns how many were dropped. */
  private async dropNotifier(tx: SQL, n: NtfCreds): Promise<number> {
    this.conn.count(C_NOTIFIERS, -1);
    if (n.serviceId !== null) await this.services.changeServiceQueues(tx, "ntf", n.serviceId, n.notifierId, -1);
    return this.ntfs.deleteNotifierNtfs(tx, n.notifierId);
  }

  /** QueueStore/STM.hs:`suspendQueue`. */
  async suspendQueue(ref: QueueRef): Promise<Ok | Auth> {
    return this.setStatus("suspendQueue", ref, STATUS_OFF, null);
  }

  /** QueueStore/STM.hs:`blockQueue`. */
  async blockQueue(ref: QueueRef, blockingInfo: Uint8Array): Promise<Ok | Auth> {
    return this.setStatus("blockQueue", ref, STATUS_BLOCKED, blockingInfo);
  }

  /** QueueStore/STM.hs:`unblockQueue`. */
  async unblockQueue(ref: QueueRef): Promise<Ok | Auth> {
    return this.setStatus("unblockQueue", ref, STATUS_ACTIVE, null);
  }

  private setStatus(op: string, ref: QueueRef, status: number, info: Uint8Array | null): Promise<Ok | Auth> {
    return this.update(op, ref, (tx) => tx`UPDATE queues SET status = ${status}, blocking_info = ${info} WHERE qid = ${ref.key}`);
  }

  /**
   * QueueStore/STM.hs:`updateQueueTime`: only a changed date is written, and the check is a
   * read, so the daily refresh does not queue a write for every SUB.
   */
  async updateQueueTime(ref: QueueRef, date: number): Promise<Ok | Auth> {
    const rs = await this.conn.read("updateQueueTime", (db) => db.unsafe(TIME_BY_QID, [ref.key]));
    const r = rs[0] as { recipient_id: Uint8Array; updated_at: number | string | null } | undefined;
    if (r === undefined || !bytesEqual(r.recipient_id, ref.recipientId)) return "AUTH";
    if (r.updated_at !== null && Number(r.updated_at) === date) return "OK";
    return this.update("updateQueueTime", ref, (tx) => tx`UPDATE queues SET updated_at = ${date} WHERE qid = ${ref.key}`);
  }

  /**
   * An UPDATE of the queue's row once locked: no live queue → AUTH. `lockQueue` has matched the
   * row's recipient id and holds it (ids are never changed, `qid`s never reused), so the UPDATE
   * names the row by `qid` alone and always changes it.
   */
  private update(op: string, ref: QueueRef, st: (tx: SQL) => Promise<unknown>): Promise<Ok | Auth> {
    return this.conn.write(op, async (tx): Promise<Ok | Auth> => {
      if (!(await lockQueue(this.conn, tx, ref))) return "AUTH";
      await st(tx);
      return "OK";
    });
  }

  // ---------------------------------------------------------------- delete

  /** MsgStore/STM.hs:`deleteQueueSize` (→ QueueStore/STM.hs:`deleteStoreQueue`). */
  async deleteQueue(ref: QueueRef): Promise<DeletedQueue | Auth> {
    return this.conn.write("deleteQueue", async (tx): Promise<DeletedQueue | Auth> => {
      const r = await lockQueueRow(this.conn, tx, ref);
      if (r === null) return "AUTH";
      await lockServices(this.conn, tx, [r.rcv_service_id, r.ntf_service_id]);
      return this.deleteRow(tx, r);
    });
  }

  async expireInactiveQueues(beforeDate: number, budget: number): Promise<{ readonly deleted: DeletedQueue[]; readonly done: boolean }> {
    const max = Math.max(1, budget | 0);
    const rs = await this.conn.read(
      "expireInactiveQueues",
      (db) => db`SELECT qid FROM queues WHERE updated_at < ${beforeDate} ORDER BY updated_at LIMIT ${max}`,
    );
    if (rs.length === 0) return { deleted: [], done: true };
    const qids = (rs as { qid: string }[]).map((r) => Number(r.qid));
    const deleted = await this.conn.write("expireInactiveQueues", async (tx) => {
      // Still inactive once locked: another node may have refreshed one since the read.
      const rows = await lockQueueRows(this.conn, tx, qids, "updated_at < $2", [beforeDate]);
      await lockServices(this.conn, tx, rows.flatMap((r) => [r.rcv_service_id, r.ntf_service_id]));
      const out: DeletedQueue[] = [];
      for (const r of rows) out.push(await this.deleteRow(tx, r));
      return out;
    });
    return { deleted, done: rs.length < max };
  }

  /** The queue and everything that belongs to it, across concerns (inside a write). */
  private async deleteRow(tx: SQL, r: QueueRow): Promise<DeletedQueue> {
    const queue = queueFromRow(r);
    const msgCount = await this.messages.deleteQueueMessages(tx, r.qid);
    const ntfCount = queue.notifier !== null ? await this.dropNotifier(tx, queue.notifier) : 0;
    if (r.rcv_service_id !== null) await this.services.changeServiceQueues(tx, "rcv", r.rcv_service_id, r.recipient_id, -1);
    await tx`DELETE FROM queues WHERE qid = ${r.qid}`;
    this.conn.count(C_QUEUES, -1);
    return { queue, msgCount, ntfCount };
  }
}
