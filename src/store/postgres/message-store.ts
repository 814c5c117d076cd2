/**
 * `MessageStore` on PostgreSQL: the `messages` table, one row per message or quota marker, in
 * `seq` order per queue. Quota state is derived from the rows as in SQLite (see
 * `../sqlite/message-store.ts:writeMsg`), so a SEND or ACK never writes the queue's row.
 */
import type { SQL } from "bun";
import { bytesEqual } from "../../encoding/bytes.ts";
import { F_NTF, F_QUOTA } from "../codec.ts";
import { C_MESSAGES } from "../counters.ts";
import type { MessageStore } from "../message-store.ts";
import type { ExpiryProgress, NewMessage, QueueRef, StoredMessage, WriteMsgResult } from "../types.ts";
import { bytes, type PgConnection } from "./connection.ts";

const EMPTY = new Uint8Array(0);

interface MsgRow {
  seq: string;
  msg_id: Uint8Array;
  ts_ms: string;
  flags: number;
  body?: Uint8Array;
}

function messageFromRow(r: MsgRow): StoredMessage {
  const tsMs = Number(r.ts_ms);
  return {
    msgId: bytes(r.msg_id),
    ts: Math.floor(tsMs / 1000),
    tsMs,
    quota: (r.flags & F_QUOTA) !== 0,
    notification: (r.flags & F_NTF) !== 0,
    body: r.body === undefined ? EMPTY : bytes(r.body),
  };
}

export class PgMessageStore implements MessageStore {
  /** Resume point of the message expiry scan (ts_ms, seq). */
  private cursorTs = -1;
  private cursorSeq = -1;

  constructor(
    private readonly conn: PgConnection,
    private readonly quota: number,
  ) {
    conn.onRollback(() => {
      this.cursorTs = -1;
      this.cursorSeq = -1;
    });
  }

  /** MsgStore/STM.hs:`writeMsg`; "not writable" ⇔ "the tail is a quota marker" (as in SQLite). */
  async writeMsg(ref: QueueRef, msg: NewMessage): Promise<WriteMsgResult> {
    return this.conn.write("writeMsg", async (tx): Promise<WriteMsgResult> => {
      const qid = ref.key;
      const rs = await tx`SELECT recipient_id,
          (SELECT flags FROM messages WHERE qid = ${qid} ORDER BY seq DESC LIMIT 1) AS tail,
          (SELECT count(*) FROM messages WHERE qid = ${qid})::int AS size
        FROM queues WHERE qid = ${qid}`;
      const q = rs[0] as { recipient_id: Uint8Array; tail: number | null; size: number } | undefined;
      if (q === undefined || !bytesEqual(q.recipient_id, ref.recipientId)) return "AUTH";
      if (q.tail !== null && (q.tail & F_QUOTA) !== 0) return "QUOTA";
      let res: WriteMsgResult = "QUOTA";
      if (this.quota > q.size) {
        await tx`INSERT INTO messages(qid, msg_id, ts_ms, flags, body) VALUES (${qid}, ${msg.msgId}, ${msg.tsMs}, ${msg.notification ? F_NTF : 0}, ${msg.body})`;
        res = q.size === 0 ? "OK_EMPTY" : "OK";
      } else {
        // MessageQuota carries the rejected message's id and time, nothing else.
        await tx`INSERT INTO messages(qid, msg_id, ts_ms, flags, body) VALUES (${qid}, ${msg.msgId}, ${msg.tsMs}, ${F_QUOTA}, ${EMPTY})`;
      }
      this.conn.count(C_MESSAGES, 1);
      return res;
    });
  }

  /** MsgStore/Types.hs:`tryPeekMsg`. */
  async peekMsg(ref: QueueRef): Promise<StoredMessage | null> {
    const h = await this.conn.read("peekMsg", (db) => head(db, ref.key));
    return h === null ? null : messageFromRow(h);
  }

  /**
   * A hint only (a block of SUBs is about to peek): each `peekMsg` here is one indexed read on the
   * pool, so there is nothing yet to gain from prefetching that a write in between could not undo.
   */
  async expectPeeks(_refs: readonly QueueRef[]): Promise<void> {}

  /** MsgStore/Types.hs:`tryDelMsg`: one statement deletes the head iff it has this id. */
  async tryDelMsg(ref: QueueRef, msgId: Uint8Array): Promise<StoredMessage | null> {
    const r = await this.conn.write("tryDelMsg", async (tx) => {
      const rs = (await tx`DELETE FROM messages
        WHERE seq = (SELECT seq FROM messages WHERE qid = ${ref.key} ORDER BY seq LIMIT 1) AND msg_id = ${msgId}
        RETURNING seq, msg_id, ts_ms, flags, body`) as MsgRow[];
      this.conn.count(C_MESSAGES, -rs.length);
      return rs[0] ?? null;
    });
    return r === null ? null : messageFromRow(r);
  }

  /** MsgStore/Types.hs:`tryDelPeekMsg`; the deleted message comes back without its body. */
  async tryDelPeekMsg(
    ref: QueueRef,
    msgId: Uint8Array,
  ): Promise<{ readonly deleted: StoredMessage | null; readonly next: StoredMessage | null }> {
    const [deleted, next] = await this.conn.write("tryDelPeekMsg", async (tx) => {
      const rs = (await tx`DELETE FROM messages
        WHERE seq = (SELECT seq FROM messages WHERE qid = ${ref.key} ORDER BY seq LIMIT 1) AND msg_id = ${msgId}
        RETURNING seq, msg_id, ts_ms, flags`) as MsgRow[];
      this.conn.count(C_MESSAGES, -rs.length);
      return [rs[0] ?? null, await head(tx, ref.key)] as const;
    });
    return { deleted: deleted === null ? null : messageFromRow(deleted), next: next === null ? null : messageFromRow(next) };
  }

  async queueSize(ref: QueueRef): Promise<number> {
    const rs = await this.conn.read("queueSize", (db) => db`SELECT count(*)::int AS n FROM messages WHERE qid = ${ref.key}`);
    return rs[0].n as number;
  }

  /** MsgStore/Types.hs:`deleteExpiredMsgs` / `deleteExpireMsgs_`: a read of the head's time first (every SEND). */
  async deleteExpiredMsgs(ref: QueueRef, oldSec: number): Promise<number> {
    const oldMs = oldSec * 1000;
    const rs = await this.conn.read(
      "deleteExpiredMsgs",
      (db) => db`SELECT ts_ms, flags FROM messages WHERE qid = ${ref.key} ORDER BY seq LIMIT 1`,
    );
    const h = rs[0] as { ts_ms: string; flags: number } | undefined;
    if (h === undefined || (h.flags & F_QUOTA) !== 0 || Number(h.ts_ms) >= oldMs) return 0;
    return this.conn.write("deleteExpiredMsgs", (tx) => this.expireQueue(tx, ref.key, oldMs));
  }

  /**
   * MsgStore/STM.hs:`expireOldMessages`, driven by the `messages_ts` index in bounded batches,
   * so the work is proportional to the expired messages, not to the number of queues (the
   * reference's `expire_old_messages()` scanned every queue in one call).
   */
  async expireMessages(oldSec: number, budget: number): Promise<ExpiryProgress> {
    const oldMs = oldSec * 1000;
    const max = Math.max(1, budget | 0);
    const rows = (await this.conn.read(
      "expireMessages",
      (db) => db`SELECT seq, qid, ts_ms FROM messages
        WHERE flags & 2 = 0 AND ts_ms < ${oldMs} AND (ts_ms, seq) > (${this.cursorTs}::int8, ${this.cursorSeq}::int8)
        ORDER BY ts_ms, seq LIMIT ${max}`,
    )) as { seq: string; qid: string; ts_ms: string }[];
    if (rows.length === 0) {
      this.cursorTs = -1;
      this.cursorSeq = -1;
      return { expired: 0, done: true };
    }
    const qids = [...new Set(rows.map((r) => Number(r.qid)))];
    const expired = await this.conn.write("expireMessages", async (tx) => {
      let n = 0;
      for (const qid of qids) n += await this.expireQueue(tx, qid, oldMs);
      return n;
    });
    const last = rows[rows.length - 1]!;
    this.cursorTs = Number(last.ts_ms);
    this.cursorSeq = Number(last.seq);
    return { expired, done: false };
  }

  /** Deletes the head run of messages older than `oldMs`, up to the first newer one or a quota marker. */
  private async expireQueue(tx: SQL, qid: number, oldMs: number): Promise<number> {
    const r = await tx`DELETE FROM messages WHERE qid = ${qid} AND seq < coalesce(
        (SELECT seq FROM messages WHERE qid = ${qid} AND (flags & 2 <> 0 OR ts_ms >= ${oldMs}) ORDER BY seq LIMIT 1),
        9223372036854775807)`;
    this.conn.count(C_MESSAGES, -r.count);
    return r.count;
  }

  // ---------------------------------------------------------------- for the queue store

  /** Deletes every message of a queue, inside the caller's write (queue deletion). */
  async deleteQueueMessages(tx: SQL, qid: number): Promise<number> {
    const r = await tx`DELETE FROM messages WHERE qid = ${qid}`;
    this.conn.count(C_MESSAGES, -r.count);
    return r.count;
  }
}

/** The head message. Queue keys are never reused and a deleted queue has no messages. */
async function head(db: SQL, qid: number): Promise<MsgRow | null> {
  const rs = await db`SELECT seq, msg_id, ts_ms, flags, body FROM messages WHERE qid = ${qid} ORDER BY seq LIMIT 1`;
  return (rs[0] as MsgRow | undefined) ?? null;
}
