/**
 * `QueueStore` on SQLite: the `queues` table, found through its unique indexes (nothing is
 * loaded at start, so memory does not grow with the number of queues). Removing a queue or a
 * notifier reaches into the other concerns (messages, notifications, service counts) through
 * their in-transaction helpers, inside this store's write bracket: one atomic step.
 */
import type { Statement } from "bun:sqlite";
import { bytesEqual } from "../../encoding/bytes.ts";
import type { QueueStore } from "../queue-store.ts";
import type { Auth, DeletedQueue, NewQueue, NtfCreds, Ok, QueueLink, QueueRec, QueueRef, ServiceParty } from "../types.ts";
import {
  encodeKeys,
  linkConflicts,
  notifierOf,
  QUEUE_COLUMNS,
  queueFromRow,
  STATUS_ACTIVE,
  STATUS_BLOCKED,
  STATUS_OFF,
  statusCode,
  type QueueRow,
} from "../codec.ts";
import { C_NOTIFIERS, C_QUEUES } from "../counters.ts";
import type { Prepared, SqliteConnection } from "./connection.ts";
import type { SqliteMessageStore } from "./message-store.ts";
import type { SqliteNtfStore } from "./ntf-store.ts";
import type { SqliteServiceStore } from "./service-store.ts";

/** Ids per statement of `getQueues` (SQLite allows 32,766 parameters; a block holds ≤ 255 transmissions). */
const IN_LIST = 64;

type NotifierResult = { readonly prev: NtfCreds | null } | "DUPLICATE" | Auth;
type DeletedNotifier = { readonly prev: NtfCreds | null; readonly ntfCount: number } | Auth;

const EMPTY = new Uint8Array(0);

export class SqliteQueueStore implements QueueStore {
  private readonly sQueueByRid: Statement<QueueRow>;
  private readonly sAllQueues: Prepared<QueueRow>;
  private readonly sQueueBySid: Statement<QueueRow>;
  private readonly sQueueByLink: Prepared<QueueRow>;
  private readonly sQueueByNid: Statement<QueueRow>;
  private readonly sQueueByQid: Statement<QueueRow>;
  /**
   * A block's lookups in one statement: up to IN_LIST ids, unused places bound to NULL.
   * Prepared at first use (a server nobody resubscribes to does not hold them).
   */
  private sQueuesByRids: Statement<QueueRow> | null = null;
  private sQueuesByNids: Statement<QueueRow> | null = null;
  private readonly inArgs: (Uint8Array | null)[] = new Array<Uint8Array | null>(IN_LIST).fill(null);
  private readonly sInsertQueue: Statement;
  private readonly sSetSenderKey: Statement;
  private readonly sSetKeys: Prepared;
  private readonly sSetLink: Prepared;
  private readonly sLinkOwner: Prepared<{ qid: number }>;
  private readonly sNotifierOwner: Prepared<{ qid: number }>;
  private readonly sSetNotifier: Prepared;
  private readonly sSetStatus: Prepared;
  private readonly sSetUpdatedAt: Statement;
  private readonly sDeleteQueue: Prepared;
  private readonly sInactive: Prepared<{ qid: number }>;

  constructor(
    private readonly conn: SqliteConnection,
    private readonly messages: SqliteMessageStore,
    private readonly ntfs: SqliteNtfStore,
    private readonly services: SqliteServiceStore,
  ) {
    const sel = `SELECT ${QUEUE_COLUMNS} FROM queues`;
    this.sQueueByRid = conn.prepare(`${sel} WHERE recipient_id = ?`);
    this.sAllQueues = conn.prepareOnUse(`${sel} WHERE recipient_id > ? ORDER BY recipient_id LIMIT ?`);
    this.sQueueBySid = conn.prepare(`${sel} WHERE sender_id = ?`);
    this.sQueueByLink = conn.prepareOnUse(`${sel} WHERE link_id = ?`);
    this.sQueueByNid = conn.prepare(`${sel} WHERE notifier_id = ?`);
    this.sQueueByQid = conn.prepare(`${sel} WHERE qid = ?`);
    this.sInsertQueue = conn.prepare(
      "INSERT INTO queues(recipient_id, recipient_keys, rcv_dh_secret, sender_id, sender_key, queue_mode, " +
        "link_id, link_fixed, link_user, notifier_id, notifier_key, rcv_ntf_dh_secret, ntf_service_id, " +
        "status, blocking_info, updated_at, rcv_service_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    );
    this.sSetSenderKey = conn.prepare("UPDATE queues SET sender_key = ? WHERE qid = ?");
    this.sSetKeys = conn.prepareOnUse("UPDATE queues SET recipient_keys = ? WHERE qid = ?");
    this.sSetLink = conn.prepareOnUse("UPDATE queues SET link_id = ?, link_fixed = ?, link_user = ? WHERE qid = ?");
    this.sLinkOwner = conn.prepareOnUse("SELECT qid FROM queues WHERE link_id = ?");
    this.sNotifierOwner = conn.prepareOnUse("SELECT qid FROM queues WHERE notifier_id = ?");
    this.sSetNotifier = conn.prepareOnUse(
      "UPDATE queues SET notifier_id = ?, notifier_key = ?, rcv_ntf_dh_secret = ?, ntf_service_id = ? WHERE qid = ?",
    );
    this.sSetStatus = conn.prepareOnUse("UPDATE queues SET status = ?, blocking_info = ? WHERE qid = ?");
    this.sSetUpdatedAt = conn.prepare("UPDATE queues SET updated_at = ? WHERE qid = ?");
    this.sDeleteQueue = conn.prepareOnUse("DELETE FROM queues WHERE qid = ?");
    this.sInactive = conn.prepareOnUse("SELECT qid FROM queues WHERE updated_at < ? ORDER BY updated_at LIMIT ?");
  }

  // ---------------------------------------------------------------- create and look up

  /** QueueStore/STM.hs:`addQueue_`. */
  async createQueue(nq: NewQueue): Promise<QueueRec | "DUPLICATE"> {
    return this.conn.writeUnique("createQueue", this.createTx, nq, encodeKeys(nq.recipientKeys));
  }

  private readonly createTx = (nq: NewQueue, keys: Uint8Array): QueueRec => {
    const link = nq.link;
    const n = nq.notifier;
    const res = this.sInsertQueue.run(
      nq.recipientId,
      keys,
      nq.rcvDhSecret,
      nq.senderId,
      nq.senderKey,
      nq.queueMode,
      link?.linkId ?? null,
      link?.fixed ?? null,
      link?.user ?? null,
      n?.notifierId ?? null,
      n?.notifierKey ?? null,
      n?.rcvNtfDhSecret ?? null,
      n?.serviceId ?? null,
      statusCode(nq.status),
      nq.status === "blocked" ? nq.blockingInfo : null,
      nq.updatedAt,
      nq.rcvServiceId,
    );
    const key = Number(res.lastInsertRowid);
    this.conn.count(C_QUEUES, 1);
    if (n !== null) {
      this.conn.count(C_NOTIFIERS, 1);
      if (n.serviceId !== null) this.services.changeServiceQueues("ntf", n.serviceId, n.notifierId, 1);
    }
    if (nq.rcvServiceId !== null) this.services.changeServiceQueues("rcv", nq.rcvServiceId, nq.recipientId, 1);
    return { ...nq, blockingInfo: nq.status === "blocked" ? nq.blockingInfo : null, key };
  };

  async getQueueByRecipientId(id: Uint8Array): Promise<QueueRec | null> {
    return this.conn.read("getQueue", this.lookup, this.sQueueByRid, id);
  }

  async getQueueBySenderId(id: Uint8Array): Promise<QueueRec | null> {
    return this.conn.read("getQueue", this.lookup, this.sQueueBySid, id);
  }

  async getQueueByLinkId(id: Uint8Array): Promise<QueueRec | null> {
    return this.conn.read("getQueue", this.lookup, this.sQueueByLink, id);
  }

  async getQueueByNotifierId(id: Uint8Array): Promise<QueueRec | null> {
    return this.conn.read("getQueue", this.lookup, this.sQueueByNid, id);
  }

  private readonly lookup = (st: Prepared<QueueRow>, id: Uint8Array): QueueRec | null => {
    const r = st.get(id);
    return r === null ? null : queueFromRow(r);
  };

  /**
   * One statement per IN_LIST ids (a block of SUBs holds ~135): one call into SQLite instead
   * of one per id. Rows come back in index order, so each is matched to its places in `ids`.
   */
  async getQueues(party: ServiceParty, ids: readonly Uint8Array[]): Promise<(QueueRec | null)[]> {
    return this.conn.read("getQueues", this.lookupAll, party, ids);
  }

  private readonly lookupAll = (party: ServiceParty, ids: readonly Uint8Array[]): (QueueRec | null)[] => {
    const out = new Array<QueueRec | null>(ids.length).fill(null);
    const st = party === "rcv" ? (this.sQueuesByRids ??= this.prepareIn("recipient_id")) : (this.sQueuesByNids ??= this.prepareIn("notifier_id"));
    const args = this.inArgs;
    for (let from = 0; from < ids.length; from += IN_LIST) {
      const to = Math.min(ids.length, from + IN_LIST);
      for (let k = 0; k < IN_LIST; k++) args[k] = from + k < to ? ids[from + k]! : null;
      const rows = st.all(...args);
      args.fill(null);
      for (const r of rows) {
        const rec = queueFromRow(r);
        const id = party === "rcv" ? r.recipient_id : r.notifier_id!;
        const b0 = id[0];
        const b1 = id[1];
        for (let i = from; i < to; i++) {
          const x = ids[i]!;
          if (x[0] === b0 && x[1] === b1 && out[i] === null && bytesEqual(x, id)) out[i] = rec;
        }
      }
    }
    return out;
  };

  private prepareIn(column: "recipient_id" | "notifier_id"): Statement<QueueRow> {
    return this.conn.prepare(`SELECT ${QUEUE_COLUMNS} FROM queues WHERE ${column} IN (${new Array(IN_LIST).fill("?").join(",")})`);
  }

  /** Export: queues ordered by recipient id, after `after` (exclusive; null = from the start), at most `limit`. */
  async allQueues(after: Uint8Array | null, limit: number): Promise<QueueRec[]> {
    return this.conn.read("allQueues", this.page, after ?? EMPTY, Math.max(1, limit | 0));
  }

  private readonly page = (after: Uint8Array, limit: number): QueueRec[] => this.sAllQueues.all(after, limit).map(queueFromRow);

  // ---------------------------------------------------------------- updates

  /** QueueStore/STM.hs:`secureQueue`. */
  async secureQueue(ref: QueueRef, senderKey: Uint8Array): Promise<Ok | Auth> {
    return this.conn.write("secureQueue", this.secureTx, ref, senderKey);
  }

  private readonly secureTx = (ref: QueueRef, senderKey: Uint8Array): Ok | Auth => {
    const r = this.row(ref);
    if (r === null) return "AUTH";
    if (r.sender_key !== null) return bytesEqual(r.sender_key, senderKey) ? "OK" : "AUTH";
    this.sSetSenderKey.run(senderKey, ref.key);
    return "OK";
  };

  /** QueueStore/STM.hs:`updateKeys`. */
  async updateRecipientKeys(ref: QueueRef, keys: readonly Uint8Array[]): Promise<Ok | Auth> {
    const enc = encodeKeys(keys);
    return this.conn.write("updateKeys", this.setColumns, ref, this.sSetKeys, [enc]);
  }

  /** QueueStore/STM.hs:`addQueueLinkData`. */
  async setQueueLink(ref: QueueRef, link: QueueLink): Promise<Ok | Auth> {
    return this.conn.write("setQueueLink", this.setLinkTx, ref, link);
  }

  private readonly setLinkTx = (ref: QueueRef, link: QueueLink): Ok | Auth => {
    const r = this.row(ref);
    if (r === null) return "AUTH";
    if (linkConflicts(r, link)) return "AUTH";
    const owner = this.sLinkOwner.get(link.linkId);
    if (owner !== null && owner.qid !== ref.key) return "AUTH";
    this.sSetLink.run(link.linkId, link.fixed, link.user, ref.key);
    return "OK";
  };

  /** QueueStore/STM.hs:`deleteQueueLinkData`. */
  async deleteQueueLink(ref: QueueRef): Promise<Ok | Auth> {
    return this.conn.write("deleteQueueLink", this.setColumns, ref, this.sSetLink, NO_LINK);
  }

  /** QueueStore/STM.hs:`addQueueNotifier`. */
  async setQueueNotifier(ref: QueueRef, creds: NtfCreds): Promise<NotifierResult> {
    return this.conn.write("setQueueNotifier", this.setNotifierTx, ref, creds);
  }

  private readonly setNotifierTx = (ref: QueueRef, creds: NtfCreds): NotifierResult => {
    const r = this.row(ref);
    if (r === null) return "AUTH";
    if (this.sNotifierOwner.get(creds.notifierId) !== null) return "DUPLICATE";
    const prev = notifierOf(r);
    if (prev !== null) this.dropNotifier(prev);
    this.sSetNotifier.run(creds.notifierId, creds.notifierKey, creds.rcvNtfDhSecret, creds.serviceId, ref.key);
    this.conn.count(C_NOTIFIERS, 1);
    if (creds.serviceId !== null) this.services.changeServiceQueues("ntf", creds.serviceId, creds.notifierId, 1);
    return { prev };
  };

  /** QueueStore/STM.hs:`deleteQueueNotifier` + NtfStore.hs:`deleteNtfs`. */
  async deleteQueueNotifier(ref: QueueRef): Promise<DeletedNotifier> {
    return this.conn.write("deleteQueueNotifier", this.deleteNotifierTx, ref);
  }

  private readonly deleteNotifierTx = (ref: QueueRef): DeletedNotifier => {
    const r = this.row(ref);
    if (r === null) return "AUTH";
    const prev = notifierOf(r);
    let ntfCount = 0;
    if (prev !== null) {
      ntfCount = this.dropNotifier(prev);
      this.sSetNotifier.run(null, null, null, null, ref.key);
    }
    return { prev, ntfCount };
  };

  /** `removeNotifier` + its pending notifications; returns how many were dropped. */
  private dropNotifier(n: NtfCreds): number {
    this.conn.count(C_NOTIFIERS, -1);
    if (n.serviceId !== null) this.services.changeServiceQueues("ntf", n.serviceId, n.notifierId, -1);
    return this.ntfs.deleteNotifierNtfs(n.notifierId);
  }

  /** QueueStore/STM.hs:`suspendQueue`. */
  async suspendQueue(ref: QueueRef): Promise<Ok | Auth> {
    return this.conn.write("suspendQueue", this.setColumns, ref, this.sSetStatus, STATUS_OFF_COLUMNS);
  }

  /** QueueStore/STM.hs:`blockQueue`. */
  async blockQueue(ref: QueueRef, blockingInfo: Uint8Array): Promise<Ok | Auth> {
    return this.conn.write("blockQueue", this.setColumns, ref, this.sSetStatus, [STATUS_BLOCKED, blockingInfo]);
  }

  /** QueueStore/STM.hs:`unblockQueue`. */
  async unblockQueue(ref: QueueRef): Promise<Ok | Auth> {
    return this.conn.write("unblockQueue", this.setColumns, ref, this.sSetStatus, STATUS_ACTIVE_COLUMNS);
  }

  /** QueueStore/STM.hs:`updateQueueTime`: only a changed date is written. */
  async updateQueueTime(ref: QueueRef, date: number): Promise<Ok | Auth> {
    const r = this.conn.read("updateQueueTime", this.row, ref);
    if (r === null) return "AUTH";
    if (r.updated_at === date) return "OK";
    return this.conn.write("updateQueueTime", this.setColumns, ref, this.sSetUpdatedAt, [date]);
  }

  /**
   * The body of the single-statement updates: `st` sets `values` (then the qid) on the queue
   * if `ref` still names it. These are cold paths (RKEY, LDEL, OFF, control port, a daily
   * date), so the values come as a small array.
   */
  private readonly setColumns = (ref: QueueRef, st: Prepared, values: readonly (Uint8Array | number | null)[]): Ok | Auth => {
    if (this.row(ref) === null) return "AUTH";
    st.run(...values, ref.key);
    return "OK";
  };

  // ---------------------------------------------------------------- delete

  /** MsgStore/STM.hs:`deleteQueueSize` (→ QueueStore/STM.hs:`deleteStoreQueue`). */
  async deleteQueue(ref: QueueRef): Promise<DeletedQueue | Auth> {
    return this.conn.write("deleteQueue", this.deleteTx, ref);
  }

  private readonly deleteTx = (ref: QueueRef): DeletedQueue | Auth => {
    const r = this.row(ref);
    return r === null ? "AUTH" : this.deleteRow(r);
  };

  async expireInactiveQueues(beforeDate: number, budget: number): Promise<{ readonly deleted: DeletedQueue[]; readonly done: boolean }> {
    const max = Math.max(1, budget | 0);
    const qids = this.conn.read("expireInactiveQueues", this.inactive, beforeDate, max);
    if (qids.length === 0) return { deleted: [], done: true };
    const deleted = this.conn.write("expireInactiveQueues", this.expireTx, qids);
    return { deleted, done: qids.length < max };
  }

  private readonly inactive = (beforeDate: number, max: number) => this.sInactive.all(beforeDate, max);

  private readonly expireTx = (qids: readonly { qid: number }[]): DeletedQueue[] => {
    const deleted: DeletedQueue[] = [];
    for (const { qid } of qids) {
      const r = this.sQueueByQid.get(qid);
      if (r !== null) deleted.push(this.deleteRow(r));
    }
    return deleted;
  };

  /** The queue and everything that belongs to it, across concerns (inside a write bracket). */
  private deleteRow(r: QueueRow): DeletedQueue {
    const queue = queueFromRow(r);
    const msgCount = this.messages.deleteQueueMessages(r.qid);
    const ntfCount = queue.notifier !== null ? this.dropNotifier(queue.notifier) : 0;
    if (r.rcv_service_id !== null) this.services.changeServiceQueues("rcv", r.rcv_service_id, r.recipient_id, -1);
    this.sDeleteQueue.run(r.qid);
    this.conn.count(C_QUEUES, -1);
    return { queue, msgCount, ntfCount };
  }

  /** The queue's current row, if `ref` still names a live queue. */
  private readonly row = (ref: QueueRef): QueueRow | null => {
    const r = this.sQueueByQid.get(ref.key);
    return r !== null && bytesEqual(r.recipient_id, ref.recipientId) ? r : null;
  };
}

const NO_LINK = [null, null, null] as const;
const STATUS_OFF_COLUMNS = [STATUS_OFF, null] as const;
const STATUS_ACTIVE_COLUMNS = [STATUS_ACTIVE, null] as const;
