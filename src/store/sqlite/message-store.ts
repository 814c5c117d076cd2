/**
 * `MessageStore` on SQLite: the `messages` table, one row per message or quota marker, in `seq`
 * order per queue. Size and quota state are derived from the rows (see `writeMsg`), so a SEND
 * or ACK writes only the message row, never the queue's.
 */
import type { Statement } from "bun:sqlite";
import { bytesEqual } from "../../encoding/bytes.ts";
import type { MessageStore } from "../message-store.ts";
import type { Auth, ExpiryProgress, NewMessage, Ok, QueueRef, RestoredMessage, StoredMessage, WriteMsgResult } from "../types.ts";
import { F_NTF, F_QUOTA } from "../codec.ts";
import { C_MESSAGES } from "../counters.ts";
import type { Prepared, SqliteConnection } from "./connection.ts";

/** Queue keys per statement of `expectPeeks` (a block holds ≤ 255 transmissions). */
const IN_LIST = 64;

const EMPTY = new Uint8Array(0);

interface MsgRow {
  seq: number;
  msg_id: Uint8Array;
  ts_ms: number;
  flags: number;
  body: Uint8Array;
}

type MsgMeta = Omit<MsgRow, "body">;

/** A row as a message; one read without its body (`MsgMeta`, a deleted head) has the empty body. */
function messageFromRow(r: MsgMeta & { readonly body?: Uint8Array }): StoredMessage {
  return {
    msgId: r.msg_id,
    ts: Math.floor(r.ts_ms / 1000),
    tsMs: r.ts_ms,
    quota: (r.flags & F_QUOTA) !== 0,
    notification: (r.flags & F_NTF) !== 0,
    body: r.body ?? EMPTY,
  };
}

export class SqliteMessageStore implements MessageStore {
  private readonly quota: number;
  /** Resume point of the message expiry scan (ts_ms, seq). */
  private expireCursorTs = -1;
  private expireCursorSeq = -1;

  private readonly sWriteCheck: Statement<{ recipient_id: Uint8Array; tail: number | null; size: number }>;
  private readonly sCount: Prepared<{ n: number }>;
  private readonly sInsertMsg: Statement;
  private readonly sHead: Statement<MsgRow>;
  /** The head without its body: an ACK only compares the id before deleting it. */
  private readonly sHeadMeta: Statement<MsgMeta>;
  /** The message after a given one: what becomes the head once that one is deleted. */
  private readonly sAfter: Statement<MsgRow>;
  private readonly sDeleteMsg: Statement;
  private readonly sFirstKept: Prepared<{ seq: number }>;
  private readonly sDeleteBefore: Prepared;
  private readonly sDeleteAllMsgs: Prepared;
  private readonly sExpiredMsgs: Prepared<{ seq: number; qid: number; ts_ms: number }>;
  /** Which of up to IN_LIST queues have messages (prepared at first use, as SUB blocks come). */
  private sNonEmpty: Statement<{ qid: number }> | null = null;
  private readonly inArgs: (number | null)[] = new Array<number | null>(IN_LIST).fill(null);
  /**
   * Queues `expectPeeks` found empty: `peekMsg` answers null for them without a query. Exact,
   * not a guess: every insert (writeTx) removes its queue first, nothing else adds messages, and
   * deletions only keep a queue empty. At most one block's queues (≤ 255), replaced each call.
   */
  private readonly knownEmpty = new Set<number>();
  private readonly sAllMsgs: Prepared<MsgRow>;

  constructor(
    private readonly conn: SqliteConnection,
    msgQueueQuota: number,
  ) {
    this.quota = msgQueueQuota;
    // What writeMsg needs, in one statement: the queue still exists, its tail's flags, its size.
    this.sWriteCheck = conn.prepare(
      "SELECT recipient_id, (SELECT flags FROM messages WHERE qid = ?1 ORDER BY seq DESC LIMIT 1) AS tail, " +
        "(SELECT count(*) FROM messages WHERE qid = ?1) AS size FROM queues WHERE qid = ?1",
    );
    this.sCount = conn.prepareOnUse("SELECT count(*) AS n FROM messages WHERE qid = ?");
    this.sInsertMsg = conn.prepare("INSERT INTO messages(qid, msg_id, ts_ms, flags, body) VALUES (?,?,?,?,?)");
    this.sHead = conn.prepare("SELECT seq, msg_id, ts_ms, flags, body FROM messages WHERE qid = ? ORDER BY seq LIMIT 1");
    this.sHeadMeta = conn.prepare("SELECT seq, msg_id, ts_ms, flags FROM messages WHERE qid = ? ORDER BY seq LIMIT 1");
    this.sAfter = conn.prepare("SELECT seq, msg_id, ts_ms, flags, body FROM messages WHERE qid = ? AND seq > ? ORDER BY seq LIMIT 1");
    this.sDeleteMsg = conn.prepare("DELETE FROM messages WHERE seq = ?");
    this.sFirstKept = conn.prepareOnUse(
      "SELECT seq FROM messages WHERE qid = ? AND (flags & 2 != 0 OR ts_ms >= ?) ORDER BY seq LIMIT 1",
    );
    this.sDeleteBefore = conn.prepareOnUse("DELETE FROM messages WHERE qid = ? AND seq < ?");
    this.sDeleteAllMsgs = conn.prepareOnUse("DELETE FROM messages WHERE qid = ?");
    this.sExpiredMsgs = conn.prepareOnUse(
      "SELECT seq, qid, ts_ms FROM messages WHERE flags & 2 = 0 AND ts_ms < ? AND (ts_ms, seq) > (?, ?) " +
        "ORDER BY ts_ms, seq LIMIT ?",
    );
    this.sAllMsgs = conn.prepareOnUse("SELECT seq, msg_id, ts_ms, flags, body FROM messages WHERE qid = ? ORDER BY seq");
    conn.onRollback(() => {
      this.expireCursorTs = -1;
      this.expireCursorSeq = -1;
    });
  }

  // ---------------------------------------------------------------- MessageStore

  /**
   * MsgStore/STM.hs:`writeMsg`. The reference keeps `canWrite` and `size` per queue; here they
   * are derived from the stored messages, which is equivalent: `canWrite` turns False exactly
   * when the quota marker is appended, the marker is then the tail until the queue is drained
   * (nothing is written after it and expiry stops at it), and the next write into the empty
   * queue turns `canWrite` True again. So "not writable" ⇔ "the tail is a quota marker".
   */
  async writeMsg(ref: QueueRef, msg: NewMessage): Promise<WriteMsgResult> {
    return this.conn.writeOne("writeMsg", this.writeTx, ref, msg);
  }

  /** Reads, then one INSERT as its last statement (`writeOne`). */
  private readonly writeTx = (ref: QueueRef, msg: NewMessage): WriteMsgResult => {
    const qr = this.sWriteCheck.get(ref.key);
    if (qr === null || !bytesEqual(qr.recipient_id, ref.recipientId)) return "AUTH";
    if (qr.tail !== null && (qr.tail & F_QUOTA) !== 0) return "QUOTA";
    let res: WriteMsgResult = "QUOTA";
    const size = qr.size;
    this.knownEmpty.delete(ref.key);
    if (this.quota > size) {
      this.sInsertMsg.run(ref.key, msg.msgId, msg.tsMs, msg.notification ? F_NTF : 0, msg.body);
      res = size === 0 ? "OK_EMPTY" : "OK";
    } else {
      // MessageQuota carries the rejected message's id and time, nothing else.
      this.sInsertMsg.run(ref.key, msg.msgId, msg.tsMs, F_QUOTA, EMPTY);
    }
    this.conn.count(C_MESSAGES, 1);
    return res;
  };

  /** MsgStore/Types.hs:`tryPeekMsg`. */
  async peekMsg(ref: QueueRef): Promise<StoredMessage | null> {
    if (this.knownEmpty.delete(ref.key)) return null;
    const h = this.conn.read("peekMsg", this.head, ref);
    return h === null ? null : messageFromRow(h);
  }

  async expectPeeks(refs: readonly QueueRef[]): Promise<void> {
    this.conn.read("expectPeeks", this.findEmpty, refs);
  }

  private readonly findEmpty = (refs: readonly QueueRef[]): void => {
    const empty = this.knownEmpty;
    empty.clear();
    const st = (this.sNonEmpty ??= this.conn.prepare(
      `SELECT DISTINCT qid FROM messages WHERE qid IN (${new Array(IN_LIST).fill("?").join(",")})`,
    ));
    const args = this.inArgs;
    for (let from = 0; from < refs.length; from += IN_LIST) {
      const to = Math.min(refs.length, from + IN_LIST);
      for (let k = 0; k < IN_LIST; k++) args[k] = from + k < to ? refs[from + k]!.key : null;
      const nonEmpty = st.all(...args);
      for (let i = from; i < to; i++) empty.add(refs[i]!.key);
      for (const r of nonEmpty) empty.delete(r.qid);
    }
  };

  /** MsgStore/Types.hs:`tryDelMsg`. */
  async tryDelMsg(ref: QueueRef, msgId: Uint8Array): Promise<StoredMessage | null> {
    const h = this.conn.read("tryDelMsg", this.head, ref);
    if (h === null || !bytesEqual(h.msg_id, msgId)) return null;
    this.conn.writeOne("tryDelMsg", this.deleteHead, h.seq);
    return messageFromRow(h);
  }

  /**
   * MsgStore/Types.hs:`tryDelPeekMsg`. The deleted message comes back without its body (EMPTY):
   * not reading a 16 KB body just to delete it is what keeps an ACK cheap.
   */
  async tryDelPeekMsg(
    ref: QueueRef,
    msgId: Uint8Array,
  ): Promise<{ readonly deleted: StoredMessage | null; readonly next: StoredMessage | null }> {
    const h = this.conn.read("tryDelPeekMsg", this.headMeta, ref);
    if (h === null) return { deleted: null, next: null };
    if (!bytesEqual(h.msg_id, msgId)) {
      const cur = this.conn.read("tryDelPeekMsg", this.head, ref);
      return { deleted: null, next: cur === null ? null : messageFromRow(cur) };
    }
    const n = this.conn.writeOne("tryDelPeekMsg", this.delPeekTx, ref, h.seq);
    return { deleted: messageFromRow(h), next: n === null ? null : messageFromRow(n) };
  }

  /** The message after the head first, then the head's DELETE as the last statement (`writeOne`). */
  private readonly delPeekTx = (ref: QueueRef, seq: number): MsgRow | null => {
    const next = this.sAfter.get(ref.key, seq);
    this.deleteHead(seq);
    return next;
  };

  async queueSize(ref: QueueRef): Promise<number> {
    return this.conn.read("queueSize", this.size, ref);
  }

  private readonly size = (ref: QueueRef): number => this.sCount.get(ref.key)!.n;

  /** MsgStore/Types.hs:`deleteExpiredMsgs` / `deleteExpireMsgs_`. */
  async deleteExpiredMsgs(ref: QueueRef, oldSec: number): Promise<number> {
    const oldMs = oldSec * 1000;
    // The cheap check first, on the head's time and flags only: this runs on every SEND when
    // expire-on-send is on, and the body is 16 KB.
    const h = this.conn.read("deleteExpiredMsgs", this.headMeta, ref);
    if (h === null || (h.flags & F_QUOTA) !== 0 || h.ts_ms >= oldMs) return 0;
    return this.conn.write("deleteExpiredMsgs", this.expireQueue, ref.key, oldMs);
  }

  /**
   * MsgStore/STM.hs:`expireOldMessages`, driven by the ts index so the work is proportional to
   * the expired messages, not to the number of queues. A message that is expired but kept (a
   * newer message before it, after a clock step back) is passed over by the cursor.
   */
  async expireMessages(oldSec: number, budget: number): Promise<ExpiryProgress> {
    const oldMs = oldSec * 1000;
    const rows = this.conn.read("expireMessages", this.expiredRows, oldMs, Math.max(1, budget | 0));
    if (rows.length === 0) {
      this.expireCursorTs = -1;
      this.expireCursorSeq = -1;
      return { expired: 0, done: true };
    }
    const expired = this.conn.write("expireMessages", this.expireRowsTx, rows, oldMs);
    const last = rows[rows.length - 1]!;
    this.expireCursorTs = last.ts_ms;
    this.expireCursorSeq = last.seq;
    return { expired, done: false };
  }

  private readonly expiredRows = (oldMs: number, limit: number): { seq: number; qid: number; ts_ms: number }[] =>
    this.sExpiredMsgs.all(oldMs, this.expireCursorTs, this.expireCursorSeq, limit);

  private readonly expireRowsTx = (rows: readonly { qid: number }[], oldMs: number): number => {
    let expired = 0;
    const seen = new Set<number>();
    for (const r of rows) {
      if (seen.has(r.qid)) continue;
      seen.add(r.qid);
      expired += this.expireQueue(r.qid, oldMs);
    }
    return expired;
  };

  // ---------------------------------------------------------------- import / export
  // For `smp-server import` / `export`, which work on the SQLite file (a PostgreSQL store gets the
  // data from it with `database import`), so these are not part of the backend-neutral interface.

  /** Appends a message or quota marker exactly as given, after the queue's last one (no quota rule). */
  async restoreMsg(ref: QueueRef, msg: RestoredMessage): Promise<Ok | Auth> {
    return this.conn.write("restoreMsg", this.restoreTx, ref, msg);
  }

  private readonly restoreTx = (ref: QueueRef, msg: RestoredMessage): Ok | Auth => {
    const qr = this.sWriteCheck.get(ref.key);
    if (qr === null || !bytesEqual(qr.recipient_id, ref.recipientId)) return "AUTH";
    // As every insert: the queue is no longer known to be empty (see `knownEmpty`).
    this.knownEmpty.delete(ref.key);
    this.sInsertMsg.run(ref.key, msg.msgId, msg.tsMs, msg.quota ? F_QUOTA : msg.notification ? F_NTF : 0, msg.quota ? EMPTY : msg.body);
    this.conn.count(C_MESSAGES, 1);
    return "OK";
  };

  /** All messages of a queue in queue order (a quota marker last). */
  async queueMessages(ref: QueueRef): Promise<StoredMessage[]> {
    return this.conn.read("queueMessages", this.allOf, ref).map(messageFromRow);
  }

  private readonly allOf = (ref: QueueRef): MsgRow[] => this.sAllMsgs.all(ref.key);

  // ---------------------------------------------------------------- statement bodies

  /**
   * The head message. Queue keys are never reused and a deleted queue has no messages, so
   * the key alone is a safe address here.
   */
  private readonly head = (ref: QueueRef): MsgRow | null => this.sHead.get(ref.key);

  private readonly headMeta = (ref: QueueRef): MsgMeta | null => this.sHeadMeta.get(ref.key);

  /** MsgStore/STM.hs:`tryDeleteMsg_`. */
  private readonly deleteHead = (seq: number): void => {
    this.sDeleteMsg.run(seq);
    this.conn.count(C_MESSAGES, -1);
  };

  /** Deletes the head run of messages older than `oldMs`, up to the first newer one or a quota marker. */
  private readonly expireQueue = (qid: number, oldMs: number): number => {
    const kept = this.sFirstKept.get(qid, oldMs);
    if (kept === null) return this.deleteQueueMessages(qid);
    const n = this.sDeleteBefore.run(qid, kept.seq).changes;
    this.conn.count(C_MESSAGES, -n);
    return n;
  };

  // ---------------------------------------------------------------- for the queue store

  /** Deletes every message of a queue, inside the caller's write bracket (queue deletion). */
  deleteQueueMessages(qid: number): number {
    const n = this.sDeleteAllMsgs.run(qid).changes;
    this.conn.count(C_MESSAGES, -n);
    return n;
  }
}
