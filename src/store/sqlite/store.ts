/**
 * `Store` on bun:sqlite: one database file in WAL mode, one connection, prepared statements
 * created once. Nothing is loaded at start beyond a handful of counters; lookups go through
 * the unique indexes, and SQLite's page cache (bounded by `cacheSizeKiB`) is the only cache,
 * so memory does not grow with the number of queues.
 *
 * Semantics mirror the reference STM stores (cited per method); durability is `GroupCommit`.
 */
import { Database, type Statement } from "bun:sqlite";
import { bytesEqual } from "../../encoding/bytes.ts";
import { emptyIdsHash, xorQueueId } from "../idsHash.ts";
import {
  StoreError,
  type Auth,
  type DeletedQueue,
  type ExpiryProgress,
  type MsgNtf,
  type NewMessage,
  type NewQueue,
  type NotifierNtf,
  type NtfCreds,
  type Ok,
  type PendingNotifier,
  type QueueLink,
  type QueueRec,
  type QueueRef,
  type ServiceParty,
  type ServiceQueuesInfo,
  type ServiceRec,
  type Store,
  type StoredMessage,
  type StoreStats,
  type WriteMsgResult,
} from "../types.ts";
import {
  encodeCertChain,
  encodeKeys,
  notifierOf,
  QUEUE_COLUMNS,
  queueFromRow,
  serviceFromRow,
  STATUS_ACTIVE,
  STATUS_BLOCKED,
  STATUS_OFF,
  statusCode,
  type QueueRow,
  type ServiceRow,
} from "./codec.ts";
import { isUniqueViolation, toStoreError } from "./errors.ts";
import { GroupCommit } from "./groupCommit.ts";
import { migrate } from "./migrate.ts";
import { COUNTERS } from "./schema.ts";

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
}

const F_NTF = 1;
const F_QUOTA = 2;

const C_QUEUES = 0;
const C_NOTIFIERS = 1;
const C_MESSAGES = 2;
const C_NTFS = 3;
const C_RCV_SERVICES = 4;
const C_NTF_SERVICES = 5;
const C_RCV_SERVICE_QUEUES = 6;
const C_NTF_SERVICE_QUEUES = 7;

interface MsgRow {
  seq: number;
  msg_id: Uint8Array;
  ts_ms: number;
  flags: number;
  body: Uint8Array;
}

interface AggRow {
  count: number;
  hash: Uint8Array;
}

const EMPTY = new Uint8Array(0);

function messageFromRow(r: MsgRow): StoredMessage {
  return {
    msgId: r.msg_id,
    ts: Math.floor(r.ts_ms / 1000),
    tsMs: r.ts_ms,
    quota: (r.flags & F_QUOTA) !== 0,
    notification: (r.flags & F_NTF) !== 0,
    body: r.body,
  };
}

export function openSqliteStore(opts: SqliteStoreOptions): SqliteStore {
  return new SqliteStore(opts);
}

export class SqliteStore implements Store {
  readonly db: Database;
  private readonly tx: GroupCommit;
  private readonly quota: number;
  /** Counter values as committed, pending (uncommitted) deltas, and deltas of the running operation. */
  private readonly committed = new Float64Array(COUNTERS.length);
  private readonly pending = new Float64Array(COUNTERS.length);
  private readonly delta = new Float64Array(COUNTERS.length);
  private closed = false;
  /** Finalized at close so the file is released at once (not when the GC gets to them). */
  private readonly statements: Statement[] = [];
  /** Resume point of the message expiry scan (ts_ms, seq). */
  private expireCursorTs = -1;
  private expireCursorSeq = -1;

  // queues
  private readonly sQueueByRid: Statement<QueueRow>;
  private readonly sQueueBySid: Statement<QueueRow>;
  private readonly sQueueByLink: Statement<QueueRow>;
  private readonly sQueueByNid: Statement<QueueRow>;
  private readonly sQueueByQid: Statement<QueueRow>;
  private readonly sInsertQueue: Statement;
  private readonly sSetSenderKey: Statement;
  private readonly sSetKeys: Statement;
  private readonly sSetLink: Statement;
  private readonly sLinkOwner: Statement<{ qid: number }>;
  private readonly sNotifierOwner: Statement<{ qid: number }>;
  private readonly sSetNotifier: Statement;
  private readonly sSetStatus: Statement;
  private readonly sSetUpdatedAt: Statement;
  private readonly sDeleteQueue: Statement;
  private readonly sSetRcvService: Statement;
  private readonly sSetNtfService: Statement;
  private readonly sInactive: Statement<{ qid: number }>;
  // messages
  private readonly sWriteCheck: Statement<{ recipient_id: Uint8Array; tail: number | null; size: number }>;
  private readonly sCount: Statement<{ n: number }>;
  private readonly sInsertMsg: Statement;
  private readonly sHead: Statement<MsgRow>;
  /** The head without its body: an ACK only compares the id before deleting it. */
  private readonly sHeadMeta: Statement<Omit<MsgRow, "body">>;
  private readonly sDeleteMsg: Statement;
  private readonly sFirstKept: Statement<{ seq: number }>;
  private readonly sDeleteBefore: Statement;
  private readonly sDeleteAllMsgs: Statement;
  private readonly sExpiredMsgs: Statement<{ seq: number; qid: number; ts_ms: number }>;
  // notifications
  private readonly sInsertNtf: Statement;
  private readonly sNtfsOf: Statement<{ seq: number; msg_id: Uint8Array; ts_ms: number; nonce: Uint8Array; enc_meta: Uint8Array }>;
  private readonly sDeleteNtfsOf: Statement;
  private readonly sPendingNotifiers: Statement<{ notifier_id: Uint8Array; ntf_service_id: Uint8Array | null }>;
  private readonly sExpireNtfs: Statement;
  // services
  private readonly sServiceByHash: Statement<{ service_id: Uint8Array; role: string }>;
  private readonly sServiceById: Statement<ServiceRow>;
  private readonly sInsertService: Statement;
  private readonly sRcvAgg: Statement<AggRow>;
  private readonly sNtfAgg: Statement<AggRow>;
  private readonly sSetRcvAgg: Statement;
  private readonly sSetNtfAgg: Statement;
  private readonly sRcvServiceQueues: Statement<QueueRow>;
  private readonly sNtfServiceQueues: Statement<QueueRow>;
  // misc
  private readonly sAddCounter: Statement;
  private readonly sGetBlob: Statement<{ value: Uint8Array }>;
  private readonly sPutBlob: Statement;
  private readonly sDeleteBlob: Statement;

  constructor(opts: SqliteStoreOptions) {
    this.quota = opts.msgQueueQuota ?? 128;
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
      migrate(db);
      db.run("PRAGMA journal_mode = WAL");
      db.run(`PRAGMA synchronous = ${opts.synchronous === "full" ? "FULL" : "NORMAL"}`);
      db.run(`PRAGMA cache_size = ${-((opts.cacheSizeKiB ?? 65536) | 0)}`);
      db.run("PRAGMA foreign_keys = OFF");
      db.run("PRAGMA temp_store = MEMORY");
      for (const r of db.query("SELECT name, value FROM counters").all() as { name: string; value: number }[]) {
        const i = (COUNTERS as readonly string[]).indexOf(r.name);
        if (i >= 0) this.committed[i] = r.value;
      }
    } catch (e) {
      db.close();
      throw toStoreError(e, "open");
    }

    const q = (sql: string) => {
      const st = db.prepare(sql);
      this.statements.push(st);
      return st;
    };
    const sel = `SELECT ${QUEUE_COLUMNS} FROM queues`;
    this.sQueueByRid = q(`${sel} WHERE recipient_id = ?`) as Statement<QueueRow>;
    this.sQueueBySid = q(`${sel} WHERE sender_id = ?`) as Statement<QueueRow>;
    this.sQueueByLink = q(`${sel} WHERE link_id = ?`) as Statement<QueueRow>;
    this.sQueueByNid = q(`${sel} WHERE notifier_id = ?`) as Statement<QueueRow>;
    this.sQueueByQid = q(`${sel} WHERE qid = ?`) as Statement<QueueRow>;
    this.sInsertQueue = q(
      "INSERT INTO queues(recipient_id, recipient_keys, rcv_dh_secret, sender_id, sender_key, queue_mode, " +
        "link_id, link_fixed, link_user, notifier_id, notifier_key, rcv_ntf_dh_secret, ntf_service_id, " +
        "status, blocking_info, updated_at, rcv_service_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    );
    this.sSetSenderKey = q("UPDATE queues SET sender_key = ? WHERE qid = ?");
    this.sSetKeys = q("UPDATE queues SET recipient_keys = ? WHERE qid = ?");
    this.sSetLink = q("UPDATE queues SET link_id = ?, link_fixed = ?, link_user = ? WHERE qid = ?");
    this.sLinkOwner = q("SELECT qid FROM queues WHERE link_id = ?") as Statement<{ qid: number }>;
    this.sNotifierOwner = q("SELECT qid FROM queues WHERE notifier_id = ?") as Statement<{ qid: number }>;
    this.sSetNotifier = q(
      "UPDATE queues SET notifier_id = ?, notifier_key = ?, rcv_ntf_dh_secret = ?, ntf_service_id = ? WHERE qid = ?",
    );
    this.sSetStatus = q("UPDATE queues SET status = ?, blocking_info = ? WHERE qid = ?");
    this.sSetUpdatedAt = q("UPDATE queues SET updated_at = ? WHERE qid = ?");
    this.sDeleteQueue = q("DELETE FROM queues WHERE qid = ?");
    this.sSetRcvService = q("UPDATE queues SET rcv_service_id = ? WHERE qid = ?");
    this.sSetNtfService = q("UPDATE queues SET ntf_service_id = ? WHERE qid = ?");
    this.sInactive = q("SELECT qid FROM queues WHERE updated_at < ? ORDER BY updated_at LIMIT ?") as Statement<{
      qid: number;
    }>;

    // What writeMsg needs, in one statement: the queue still exists, its tail's flags, its size.
    this.sWriteCheck = q(
      "SELECT recipient_id, (SELECT flags FROM messages WHERE qid = ?1 ORDER BY seq DESC LIMIT 1) AS tail, " +
        "(SELECT count(*) FROM messages WHERE qid = ?1) AS size FROM queues WHERE qid = ?1",
    ) as Statement<{ recipient_id: Uint8Array; tail: number | null; size: number }>;
    this.sCount = q("SELECT count(*) AS n FROM messages WHERE qid = ?") as Statement<{ n: number }>;
    this.sInsertMsg = q("INSERT INTO messages(qid, msg_id, ts_ms, flags, body) VALUES (?,?,?,?,?)");
    this.sHead = q(
      "SELECT seq, msg_id, ts_ms, flags, body FROM messages WHERE qid = ? ORDER BY seq LIMIT 1",
    ) as Statement<MsgRow>;
    this.sHeadMeta = q("SELECT seq, msg_id, ts_ms, flags FROM messages WHERE qid = ? ORDER BY seq LIMIT 1") as Statement<Omit<MsgRow, "body">>;
    this.sDeleteMsg = q("DELETE FROM messages WHERE seq = ?");
    this.sFirstKept = q(
      "SELECT seq FROM messages WHERE qid = ? AND (flags & 2 != 0 OR ts_ms >= ?) ORDER BY seq LIMIT 1",
    ) as Statement<{ seq: number }>;
    this.sDeleteBefore = q("DELETE FROM messages WHERE qid = ? AND seq < ?");
    this.sDeleteAllMsgs = q("DELETE FROM messages WHERE qid = ?");
    this.sExpiredMsgs = q(
      "SELECT seq, qid, ts_ms FROM messages WHERE flags & 2 = 0 AND ts_ms < ? AND (ts_ms, seq) > (?, ?) " +
        "ORDER BY ts_ms, seq LIMIT ?",
    ) as Statement<{ seq: number; qid: number; ts_ms: number }>;

    this.sInsertNtf = q("INSERT INTO ntfs(notifier_id, msg_id, ts_ms, nonce, enc_meta) VALUES (?,?,?,?,?)");
    this.sNtfsOf = q(
      "SELECT seq, msg_id, ts_ms, nonce, enc_meta FROM ntfs WHERE notifier_id = ? ORDER BY seq",
    ) as Statement<{ seq: number; msg_id: Uint8Array; ts_ms: number; nonce: Uint8Array; enc_meta: Uint8Array }>;
    this.sDeleteNtfsOf = q("DELETE FROM ntfs WHERE notifier_id = ?");
    this.sPendingNotifiers = q(
      "SELECT p.notifier_id, q.ntf_service_id FROM " +
        "(SELECT DISTINCT notifier_id FROM ntfs WHERE notifier_id > ? ORDER BY notifier_id LIMIT ?) p " +
        "LEFT JOIN queues q ON q.notifier_id = p.notifier_id ORDER BY p.notifier_id",
    ) as Statement<{ notifier_id: Uint8Array; ntf_service_id: Uint8Array | null }>;
    this.sExpireNtfs = q("DELETE FROM ntfs WHERE seq IN (SELECT seq FROM ntfs WHERE ts_ms < ? ORDER BY ts_ms LIMIT ?)");

    this.sServiceByHash = q("SELECT service_id, role FROM services WHERE cert_hash = ?") as Statement<{
      service_id: Uint8Array;
      role: string;
    }>;
    this.sServiceById = q(
      "SELECT service_id, role, cert_chain, cert_hash, created_at FROM services WHERE service_id = ?",
    ) as Statement<ServiceRow>;
    this.sInsertService = q(
      "INSERT INTO services(service_id, role, cert_chain, cert_hash, created_at) VALUES (?,?,?,?,?)",
    );
    this.sRcvAgg = q("SELECT rcv_count AS count, rcv_hash AS hash FROM services WHERE service_id = ?") as Statement<AggRow>;
    this.sNtfAgg = q("SELECT ntf_count AS count, ntf_hash AS hash FROM services WHERE service_id = ?") as Statement<AggRow>;
    this.sSetRcvAgg = q("UPDATE services SET rcv_count = ?, rcv_hash = ? WHERE service_id = ?");
    this.sSetNtfAgg = q("UPDATE services SET ntf_count = ?, ntf_hash = ? WHERE service_id = ?");
    this.sRcvServiceQueues = q(
      `${sel} WHERE rcv_service_id = ? AND recipient_id > ? ORDER BY recipient_id LIMIT ?`,
    ) as Statement<QueueRow>;
    this.sNtfServiceQueues = q(
      `${sel} WHERE ntf_service_id = ? AND notifier_id > ? ORDER BY notifier_id LIMIT ?`,
    ) as Statement<QueueRow>;

    this.sAddCounter = q("UPDATE counters SET value = value + ? WHERE name = ?");
    this.sGetBlob = q("SELECT value FROM blobs WHERE name = ?") as Statement<{ value: Uint8Array }>;
    this.sPutBlob = q("INSERT INTO blobs(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value");
    this.sDeleteBlob = q("DELETE FROM blobs WHERE name = ?");

    this.tx = new GroupCommit(
      db,
      {
        beforeCommit: () => {
          for (let i = 0; i < COUNTERS.length; i++) if (this.pending[i] !== 0) this.sAddCounter.run(this.pending[i]!, COUNTERS[i]!);
        },
        committed: () => {
          for (let i = 0; i < COUNTERS.length; i++) this.committed[i]! += this.pending[i]!;
          this.pending.fill(0);
        },
        rolledBack: () => {
          this.pending.fill(0);
          this.expireCursorTs = -1;
          this.expireCursorSeq = -1;
        },
      },
      opts.maxOpsPerCommit ?? 10000,
    );
  }

  // ---------------------------------------------------------------- durability

  flush(): Promise<void> {
    return this.tx.flush();
  }

  /** Commits now instead of at the end of the turn (tests, shutdown). */
  commitNow(): void {
    this.tx.commit();
  }

  /** Group commits made so far. */
  get commitCount(): number {
    return this.tx.commits;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.tx.commit();
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

  // ---------------------------------------------------------------- write brackets

  private begin(op: string): void {
    if (this.closed) throw new StoreError("internal", `store: closed (${op})`);
    this.tx.begin(op);
    this.delta.fill(0);
  }

  private end(): void {
    for (let i = 0; i < COUNTERS.length; i++) this.pending[i]! += this.delta[i]!;
    this.tx.end();
  }

  private fail(e: unknown, op: string): StoreError {
    return this.tx.fail(e, op);
  }

  private read<T>(op: string, f: () => T): T {
    if (this.closed) throw new StoreError("internal", `store: closed (${op})`);
    try {
      return f();
    } catch (e) {
      throw toStoreError(e, op);
    }
  }

  /** The queue's current row, if `ref` still names a live queue. */
  private row(ref: QueueRef): QueueRow | null {
    const r = this.sQueueByQid.get(ref.key);
    return r !== null && bytesEqual(r.recipient_id, ref.recipientId) ? r : null;
  }

  // ---------------------------------------------------------------- queues

  /** QueueStore/STM.hs:`addQueue_`. */
  async createQueue(nq: NewQueue): Promise<QueueRec | "DUPLICATE"> {
    const keys = encodeKeys(nq.recipientKeys);
    this.begin("createQueue");
    try {
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
      this.delta[C_QUEUES]! += 1;
      if (n !== null) {
        this.delta[C_NOTIFIERS]! += 1;
        if (n.serviceId !== null) this.serviceQueue("ntf", n.serviceId, n.notifierId, 1);
      }
      if (nq.rcvServiceId !== null) this.serviceQueue("rcv", nq.rcvServiceId, nq.recipientId, 1);
      this.end();
      return { ...nq, blockingInfo: nq.status === "blocked" ? nq.blockingInfo : null, key };
    } catch (e) {
      const err = this.fail(e, "createQueue");
      if (isUniqueViolation(e)) return "DUPLICATE";
      throw err;
    }
  }

  async getQueueByRecipientId(id: Uint8Array): Promise<QueueRec | null> {
    return this.lookup(this.sQueueByRid, id);
  }

  async getQueueBySenderId(id: Uint8Array): Promise<QueueRec | null> {
    return this.lookup(this.sQueueBySid, id);
  }

  async getQueueByLinkId(id: Uint8Array): Promise<QueueRec | null> {
    return this.lookup(this.sQueueByLink, id);
  }

  async getQueueByNotifierId(id: Uint8Array): Promise<QueueRec | null> {
    return this.lookup(this.sQueueByNid, id);
  }

  private lookup(st: Statement<QueueRow>, id: Uint8Array): QueueRec | null {
    let r: QueueRow | null;
    try {
      r = st.get(id);
    } catch (e) {
      throw toStoreError(e, "getQueue");
    }
    return r === null ? null : queueFromRow(r);
  }

  /**
   * The head message. Queue keys are never reused and a deleted queue has no messages, so
   * the key alone is a safe address here.
   */
  private head(ref: QueueRef, op: string): MsgRow | null {
    try {
      return this.sHead.get(ref.key);
    } catch (e) {
      throw toStoreError(e, op);
    }
  }

  async getQueues(party: ServiceParty, ids: readonly Uint8Array[]): Promise<(QueueRec | null)[]> {
    const st = party === "rcv" ? this.sQueueByRid : this.sQueueByNid;
    return this.read("getQueues", () =>
      ids.map((id) => {
        const r = st.get(id);
        return r === null ? null : queueFromRow(r);
      }),
    );
  }

  /** QueueStore/STM.hs:`secureQueue`. */
  async secureQueue(ref: QueueRef, senderKey: Uint8Array): Promise<Ok | Auth> {
    this.begin("secureQueue");
    try {
      const r = this.row(ref);
      let res: Ok | Auth;
      if (r === null) res = "AUTH";
      else if (r.sender_key !== null) res = bytesEqual(r.sender_key, senderKey) ? "OK" : "AUTH";
      else {
        this.sSetSenderKey.run(senderKey, ref.key);
        res = "OK";
      }
      this.end();
      return res;
    } catch (e) {
      throw this.fail(e, "secureQueue");
    }
  }

  /** QueueStore/STM.hs:`updateKeys`. */
  async updateRecipientKeys(ref: QueueRef, keys: readonly Uint8Array[]): Promise<Ok | Auth> {
    const enc = encodeKeys(keys);
    return this.simpleUpdate(ref, "updateKeys", () => this.sSetKeys.run(enc, ref.key));
  }

  /** QueueStore/STM.hs:`addQueueLinkData`. */
  async setQueueLink(ref: QueueRef, link: QueueLink): Promise<Ok | Auth> {
    this.begin("setQueueLink");
    try {
      const r = this.row(ref);
      let res: Ok | Auth = "AUTH";
      if (r !== null) {
        const sameLink = r.link_id !== null && bytesEqual(r.link_id, link.linkId) && bytesEqual(r.link_fixed!, link.fixed);
        if (r.link_id === null || sameLink) {
          const owner = this.sLinkOwner.get(link.linkId);
          if (owner === null || owner.qid === ref.key) {
            this.sSetLink.run(link.linkId, link.fixed, link.user, ref.key);
            res = "OK";
          }
        }
      }
      this.end();
      return res;
    } catch (e) {
      throw this.fail(e, "setQueueLink");
    }
  }

  /** QueueStore/STM.hs:`deleteQueueLinkData`. */
  async deleteQueueLink(ref: QueueRef): Promise<Ok | Auth> {
    return this.simpleUpdate(ref, "deleteQueueLink", () => this.sSetLink.run(null, null, null, ref.key));
  }

  /** QueueStore/STM.hs:`addQueueNotifier`. */
  async setQueueNotifier(
    ref: QueueRef,
    creds: NtfCreds,
  ): Promise<{ readonly prev: NtfCreds | null } | "DUPLICATE" | Auth> {
    this.begin("setQueueNotifier");
    try {
      const r = this.row(ref);
      let res: { readonly prev: NtfCreds | null } | "DUPLICATE" | Auth;
      if (r === null) res = "AUTH";
      else if (this.sNotifierOwner.get(creds.notifierId) !== null) res = "DUPLICATE";
      else {
        const prev = notifierOf(r);
        if (prev !== null) this.dropNotifier(prev);
        this.sSetNotifier.run(creds.notifierId, creds.notifierKey, creds.rcvNtfDhSecret, creds.serviceId, ref.key);
        this.delta[C_NOTIFIERS]! += 1;
        if (creds.serviceId !== null) this.serviceQueue("ntf", creds.serviceId, creds.notifierId, 1);
        res = { prev };
      }
      this.end();
      return res;
    } catch (e) {
      throw this.fail(e, "setQueueNotifier");
    }
  }

  /** QueueStore/STM.hs:`deleteQueueNotifier` + NtfStore.hs:`deleteNtfs`. */
  async deleteQueueNotifier(
    ref: QueueRef,
  ): Promise<{ readonly prev: NtfCreds | null; readonly ntfCount: number } | Auth> {
    this.begin("deleteQueueNotifier");
    try {
      const r = this.row(ref);
      let res: { readonly prev: NtfCreds | null; readonly ntfCount: number } | Auth = "AUTH";
      if (r !== null) {
        const prev = notifierOf(r);
        let ntfCount = 0;
        if (prev !== null) {
          ntfCount = this.dropNotifier(prev);
          this.sSetNotifier.run(null, null, null, null, ref.key);
        }
        res = { prev, ntfCount };
      }
      this.end();
      return res;
    } catch (e) {
      throw this.fail(e, "deleteQueueNotifier");
    }
  }

  /** `removeNotifier` + its pending notifications; returns how many were dropped. */
  private dropNotifier(n: NtfCreds): number {
    this.delta[C_NOTIFIERS]! -= 1;
    if (n.serviceId !== null) this.serviceQueue("ntf", n.serviceId, n.notifierId, -1);
    const dropped = this.sDeleteNtfsOf.run(n.notifierId).changes;
    this.delta[C_NTFS]! -= dropped;
    return dropped;
  }

  /** QueueStore/STM.hs:`suspendQueue`. */
  async suspendQueue(ref: QueueRef): Promise<Ok | Auth> {
    return this.simpleUpdate(ref, "suspendQueue", () => this.sSetStatus.run(STATUS_OFF, null, ref.key));
  }

  /** QueueStore/STM.hs:`blockQueue`. */
  async blockQueue(ref: QueueRef, blockingInfo: Uint8Array): Promise<Ok | Auth> {
    return this.simpleUpdate(ref, "blockQueue", () => this.sSetStatus.run(STATUS_BLOCKED, blockingInfo, ref.key));
  }

  /** QueueStore/STM.hs:`unblockQueue`. */
  async unblockQueue(ref: QueueRef): Promise<Ok | Auth> {
    return this.simpleUpdate(ref, "unblockQueue", () => this.sSetStatus.run(STATUS_ACTIVE, null, ref.key));
  }

  /** QueueStore/STM.hs:`updateQueueTime`: only a changed date is written. */
  async updateQueueTime(ref: QueueRef, date: number): Promise<Ok | Auth> {
    const r = this.read("updateQueueTime", () => this.row(ref));
    if (r === null) return "AUTH";
    if (r.updated_at === date) return "OK";
    return this.simpleUpdate(ref, "updateQueueTime", () => this.sSetUpdatedAt.run(date, ref.key));
  }

  private simpleUpdate(ref: QueueRef, op: string, update: () => void): Ok | Auth {
    this.begin(op);
    try {
      let res: Ok | Auth = "AUTH";
      if (this.row(ref) !== null) {
        update();
        res = "OK";
      }
      this.end();
      return res;
    } catch (e) {
      throw this.fail(e, op);
    }
  }

  /** MsgStore/STM.hs:`deleteQueueSize` (→ QueueStore/STM.hs:`deleteStoreQueue`). */
  async deleteQueue(ref: QueueRef): Promise<DeletedQueue | Auth> {
    this.begin("deleteQueue");
    try {
      const r = this.row(ref);
      const res = r === null ? "AUTH" : this.deleteRow(r);
      this.end();
      return res;
    } catch (e) {
      throw this.fail(e, "deleteQueue");
    }
  }

  private deleteRow(r: QueueRow): DeletedQueue {
    const queue = queueFromRow(r);
    const msgCount = this.sDeleteAllMsgs.run(r.qid).changes;
    this.delta[C_MESSAGES]! -= msgCount;
    const ntfCount = queue.notifier !== null ? this.dropNotifier(queue.notifier) : 0;
    if (r.rcv_service_id !== null) this.serviceQueue("rcv", r.rcv_service_id, r.recipient_id, -1);
    this.sDeleteQueue.run(r.qid);
    this.delta[C_QUEUES]! -= 1;
    return { queue, msgCount, ntfCount };
  }

  // ---------------------------------------------------------------- messages

  /**
   * MsgStore/STM.hs:`writeMsg`. The reference keeps `canWrite` and `size` per queue; here they
   * are derived from the stored messages, which is equivalent: `canWrite` turns False exactly
   * when the quota marker is appended, the marker is then the tail until the queue is drained
   * (nothing is written after it and expiry stops at it), and the next write into the empty
   * queue turns `canWrite` True again. So "not writable" ⇔ "the tail is a quota marker".
   */
  async writeMsg(ref: QueueRef, msg: NewMessage): Promise<WriteMsgResult> {
    this.begin("writeMsg");
    try {
      let res: WriteMsgResult = "QUOTA";
      const qr = this.sWriteCheck.get(ref.key);
      if (qr === null || !bytesEqual(qr.recipient_id, ref.recipientId)) res = "AUTH";
      else {
        if (qr.tail === null || (qr.tail & F_QUOTA) === 0) {
          const size = qr.size;
          if (this.quota > size) {
            this.sInsertMsg.run(ref.key, msg.msgId, msg.tsMs, msg.notification ? F_NTF : 0, msg.body);
            res = size === 0 ? "OK_EMPTY" : "OK";
          } else {
            // MessageQuota carries the rejected message's id and time, nothing else.
            this.sInsertMsg.run(ref.key, msg.msgId, msg.tsMs, F_QUOTA, EMPTY);
          }
          this.delta[C_MESSAGES]! += 1;
        }
      }
      this.end();
      return res;
    } catch (e) {
      throw this.fail(e, "writeMsg");
    }
  }

  /** MsgStore/Types.hs:`tryPeekMsg`. */
  async peekMsg(ref: QueueRef): Promise<StoredMessage | null> {
    const h = this.head(ref, "peekMsg");
    return h === null ? null : messageFromRow(h);
  }

  /** MsgStore/Types.hs:`tryDelMsg`. */
  async tryDelMsg(ref: QueueRef, msgId: Uint8Array): Promise<StoredMessage | null> {
    const h = this.head(ref, "tryDelMsg");
    if (h === null || !bytesEqual(h.msg_id, msgId)) return null;
    this.begin("tryDelMsg");
    try {
      this.deleteHead(h.seq);
      this.end();
      return messageFromRow(h);
    } catch (e) {
      throw this.fail(e, "tryDelMsg");
    }
  }

  /**
   * MsgStore/Types.hs:`tryDelPeekMsg`. The deleted message comes back without its body (EMPTY):
   * not reading a 16 KB body just to delete it is what keeps an ACK cheap.
   */
  async tryDelPeekMsg(
    ref: QueueRef,
    msgId: Uint8Array,
  ): Promise<{ readonly deleted: StoredMessage | null; readonly next: StoredMessage | null }> {
    let h: Omit<MsgRow, "body"> | null;
    try {
      h = this.sHeadMeta.get(ref.key);
    } catch (e) {
      throw toStoreError(e, "tryDelPeekMsg");
    }
    if (h === null) return { deleted: null, next: null };
    if (!bytesEqual(h.msg_id, msgId)) {
      const cur = this.head(ref, "tryDelPeekMsg");
      return { deleted: null, next: cur === null ? null : messageFromRow(cur) };
    }
    this.begin("tryDelPeekMsg");
    try {
      this.deleteHead(h.seq);
      const n = this.sHead.get(ref.key);
      this.end();
      return { deleted: messageFromRow({ ...h, body: EMPTY }), next: n === null ? null : messageFromRow(n) };
    } catch (e) {
      throw this.fail(e, "tryDelPeekMsg");
    }
  }

  /** MsgStore/STM.hs:`tryDeleteMsg_`. */
  private deleteHead(seq: number): void {
    this.sDeleteMsg.run(seq);
    this.delta[C_MESSAGES]! -= 1;
  }

  async queueSize(ref: QueueRef): Promise<number> {
    return this.read("queueSize", () => this.sCount.get(ref.key)!.n);
  }

  /** MsgStore/Types.hs:`deleteExpiredMsgs` / `deleteExpireMsgs_`. */
  async deleteExpiredMsgs(ref: QueueRef, oldSec: number): Promise<number> {
    const oldMs = oldSec * 1000;
    // The cheap check first: this runs on every SEND when expire-on-send is on.
    // The head's time and flags only: this runs on every SEND, and the body is 16 KB.
    let h: Omit<MsgRow, "body"> | null;
    try {
      h = this.sHeadMeta.get(ref.key);
    } catch (e) {
      throw toStoreError(e, "deleteExpiredMsgs");
    }
    if (h === null || (h.flags & F_QUOTA) !== 0 || h.ts_ms >= oldMs) return 0;
    this.begin("deleteExpiredMsgs");
    try {
      const n = this.expireQueue(ref.key, oldMs);
      this.end();
      return n;
    } catch (e) {
      throw this.fail(e, "deleteExpiredMsgs");
    }
  }

  /** Deletes the head run of messages older than `oldMs`, up to the first newer one or a quota marker. */
  private expireQueue(qid: number, oldMs: number): number {
    const kept = this.sFirstKept.get(qid, oldMs);
    const n = kept === null ? this.sDeleteAllMsgs.run(qid).changes : this.sDeleteBefore.run(qid, kept.seq).changes;
    this.delta[C_MESSAGES]! -= n;
    return n;
  }

  /**
   * MsgStore/STM.hs:`expireOldMessages`, driven by the ts index so the work is proportional to
   * the expired messages, not to the number of queues. A message that is expired but kept (a
   * newer message before it, after a clock step back) is passed over by the cursor.
   */
  async expireMessages(oldSec: number, budget: number): Promise<ExpiryProgress> {
    const oldMs = oldSec * 1000;
    const rows = this.read("expireMessages", () =>
      this.sExpiredMsgs.all(oldMs, this.expireCursorTs, this.expireCursorSeq, Math.max(1, budget | 0)),
    );
    if (rows.length === 0) {
      this.expireCursorTs = -1;
      this.expireCursorSeq = -1;
      return { expired: 0, done: true };
    }
    let expired = 0;
    this.begin("expireMessages");
    try {
      const seen = new Set<number>();
      for (const r of rows) {
        if (seen.has(r.qid)) continue;
        seen.add(r.qid);
        expired += this.expireQueue(r.qid, oldMs);
      }
      this.end();
    } catch (e) {
      throw this.fail(e, "expireMessages");
    }
    const last = rows[rows.length - 1]!;
    this.expireCursorTs = last.ts_ms;
    this.expireCursorSeq = last.seq;
    return { expired, done: false };
  }

  // ---------------------------------------------------------------- notifications

  /** NtfStore.hs:`storeNtf`. */
  async addNtf(notifierId: Uint8Array, ntf: MsgNtf): Promise<void> {
    this.begin("addNtf");
    try {
      this.sInsertNtf.run(notifierId, ntf.msgId, ntf.tsMs, ntf.nonce, ntf.encMeta);
      this.delta[C_NTFS]! += 1;
      this.end();
    } catch (e) {
      throw this.fail(e, "addNtf");
    }
  }

  async pendingNtfNotifiers(after: Uint8Array | null, limit: number): Promise<PendingNotifier[]> {
    const rows = this.read("pendingNtfNotifiers", () => this.sPendingNotifiers.all(after ?? EMPTY, Math.max(1, limit | 0)));
    return rows.map((r) => ({ notifierId: r.notifier_id, serviceId: r.ntf_service_id }));
  }

  /** Server.hs:`deliverNtfsThread` (`addNtfs` + clearing the taken ones), oldest first. */
  async takeNtfs(notifierIds: readonly Uint8Array[]): Promise<NotifierNtf[]> {
    const out: (NotifierNtf & { seq: number })[] = [];
    this.begin("takeNtfs");
    try {
      for (const nId of notifierIds) {
        const rows = this.sNtfsOf.all(nId);
        if (rows.length === 0) continue;
        for (const r of rows)
          out.push({ seq: r.seq, notifierId: nId, ntf: { msgId: r.msg_id, tsMs: r.ts_ms, nonce: r.nonce, encMeta: r.enc_meta } });
        this.delta[C_NTFS]! -= this.sDeleteNtfsOf.run(nId).changes;
      }
      this.end();
    } catch (e) {
      throw this.fail(e, "takeNtfs");
    }
    out.sort((a, b) => a.seq - b.seq);
    return out.map(({ notifierId, ntf }) => ({ notifierId, ntf }));
  }

  /** NtfStore.hs:`deleteExpiredNtfs`. */
  async expireNtfs(oldSec: number, budget: number): Promise<ExpiryProgress> {
    const max = Math.max(1, budget | 0);
    this.begin("expireNtfs");
    try {
      const n = this.sExpireNtfs.run(oldSec * 1000, max).changes;
      this.delta[C_NTFS]! -= n;
      this.end();
      return { expired: n, done: n < max };
    } catch (e) {
      throw this.fail(e, "expireNtfs");
    }
  }

  // ---------------------------------------------------------------- services

  /** QueueStore/STM.hs:`getCreateService`. */
  async getCreateService(rec: ServiceRec): Promise<Uint8Array | "SERVICE" | "DUPLICATE"> {
    const existing = this.read("getCreateService", () => this.sServiceByHash.get(rec.certHash));
    if (existing !== null) return existing.role === rec.role ? existing.service_id : "SERVICE";
    this.begin("getCreateService");
    try {
      this.sInsertService.run(rec.serviceId, rec.role, encodeCertChain(rec.certChain), rec.certHash, rec.createdAt);
      if (rec.role === "M") this.delta[C_RCV_SERVICES]! += 1;
      else if (rec.role === "N") this.delta[C_NTF_SERVICES]! += 1;
      this.end();
      return rec.serviceId;
    } catch (e) {
      const err = this.fail(e, "getCreateService");
      if (isUniqueViolation(e)) return "DUPLICATE";
      throw err;
    }
  }

  async getService(serviceId: Uint8Array): Promise<ServiceRec | null> {
    const r = this.read("getService", () => this.sServiceById.get(serviceId));
    return r === null ? null : serviceFromRow(r);
  }

  /** QueueStore/STM.hs:`setQueueService`. */
  async setQueueService(ref: QueueRef, party: ServiceParty, serviceId: Uint8Array | null): Promise<Ok | Auth> {
    this.begin("setQueueService");
    try {
      const r = this.row(ref);
      let res: Ok | Auth = "AUTH";
      if (r !== null) {
        if (party === "rcv") {
          const prev = r.rcv_service_id;
          if (!sameId(prev, serviceId)) {
            if (prev !== null) this.serviceQueue("rcv", prev, r.recipient_id, -1);
            if (serviceId !== null) this.serviceQueue("rcv", serviceId, r.recipient_id, 1);
            this.sSetRcvService.run(serviceId, ref.key);
          }
          res = "OK";
        } else if (r.notifier_id !== null) {
          const prev = r.ntf_service_id;
          if (!sameId(prev, serviceId)) {
            if (prev !== null) this.serviceQueue("ntf", prev, r.notifier_id, -1);
            if (serviceId !== null) this.serviceQueue("ntf", serviceId, r.notifier_id, 1);
            this.sSetNtfService.run(serviceId, ref.key);
          }
          res = "OK";
        }
      }
      this.end();
      return res;
    } catch (e) {
      throw this.fail(e, "setQueueService");
    }
  }

  /**
   * QueueStore/STM.hs:`addServiceQueue` / `removeServiceQueue`: count ± 1 and the id's MD5
   * XORed into the hash. Like the reference, a service id with no service record changes nothing.
   */
  private serviceQueue(party: ServiceParty, serviceId: Uint8Array, queueId: Uint8Array, change: 1 | -1): void {
    const agg = (party === "rcv" ? this.sRcvAgg : this.sNtfAgg).get(serviceId);
    if (agg === null) return;
    const hash = xorQueueId(Uint8Array.from(agg.hash), queueId);
    (party === "rcv" ? this.sSetRcvAgg : this.sSetNtfAgg).run(agg.count + change, hash, serviceId);
    this.delta[party === "rcv" ? C_RCV_SERVICE_QUEUES : C_NTF_SERVICE_QUEUES]! += change;
  }

  /** QueueStore/STM.hs:`getServiceQueueCountHash`. */
  async getServiceQueuesInfo(serviceId: Uint8Array, party: ServiceParty): Promise<ServiceQueuesInfo | null> {
    const agg = this.read("getServiceQueuesInfo", () => (party === "rcv" ? this.sRcvAgg : this.sNtfAgg).get(serviceId));
    return agg === null ? null : { count: agg.count, idsHash: agg.hash.length === 16 ? agg.hash : emptyIdsHash() };
  }

  async serviceQueues(
    serviceId: Uint8Array,
    party: ServiceParty,
    after: Uint8Array | null,
    limit: number,
  ): Promise<QueueRec[]> {
    const st = party === "rcv" ? this.sRcvServiceQueues : this.sNtfServiceQueues;
    return this.read("serviceQueues", () => st.all(serviceId, after ?? EMPTY, Math.max(1, limit | 0)).map(queueFromRow));
  }

  // ---------------------------------------------------------------- housekeeping

  async stats(): Promise<StoreStats> {
    const v = (i: number) => this.committed[i]! + this.pending[i]!;
    return {
      queueCount: v(C_QUEUES),
      notifierCount: v(C_NOTIFIERS),
      messageCount: v(C_MESSAGES),
      ntfCount: v(C_NTFS),
      rcvServiceCount: v(C_RCV_SERVICES),
      ntfServiceCount: v(C_NTF_SERVICES),
      rcvServiceQueuesCount: v(C_RCV_SERVICE_QUEUES),
      ntfServiceQueuesCount: v(C_NTF_SERVICE_QUEUES),
    };
  }

  async expireInactiveQueues(
    beforeDate: number,
    budget: number,
  ): Promise<{ readonly deleted: DeletedQueue[]; readonly done: boolean }> {
    const max = Math.max(1, budget | 0);
    const qids = this.read("expireInactiveQueues", () => this.sInactive.all(beforeDate, max));
    if (qids.length === 0) return { deleted: [], done: true };
    const deleted: DeletedQueue[] = [];
    this.begin("expireInactiveQueues");
    try {
      for (const { qid } of qids) {
        const r = this.sQueueByQid.get(qid);
        if (r !== null) deleted.push(this.deleteRow(r));
      }
      this.end();
    } catch (e) {
      throw this.fail(e, "expireInactiveQueues");
    }
    return { deleted, done: qids.length < max };
  }

  async getBlob(name: string): Promise<Uint8Array | null> {
    return this.read("getBlob", () => this.sGetBlob.get(name)?.value ?? null);
  }

  async putBlob(name: string, value: Uint8Array | null): Promise<void> {
    this.begin("putBlob");
    try {
      if (value === null) this.sDeleteBlob.run(name);
      else this.sPutBlob.run(name, value);
      this.end();
    } catch (e) {
      throw this.fail(e, "putBlob");
    }
  }
}

function sameId(a: Uint8Array | null, b: Uint8Array | null): boolean {
  return a === null ? b === null : b !== null && bytesEqual(a, b);
}

