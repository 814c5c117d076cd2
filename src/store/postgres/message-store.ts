/**
 * `MessageStore` on PostgreSQL: the `messages` table, one row per message or quota marker, in
 * `seq` order per queue. Quota state is derived from the rows as in SQLite (see
 * `../sqlite/message-store.ts:writeMsg`), so a SEND or ACK never writes the queue's row — but it
 * locks it (`locks.ts`): every change to a queue's messages holds that lock, so the statement
 * after it sees every change another node committed before (quota, empty queue, the next message).
 */
import type { SQL } from "bun";
import { F_NTF, F_QUOTA } from "../codec.ts";
import { C_MESSAGES } from "../counters.ts";
import type { MessageStore } from "../message-store.ts";
import type { ExpiryProgress, NewMessage, QueueRef, StoredMessage, WriteMsgResult } from "../types.ts";
import { bytes, type PgConnection } from "./connection.ts";
import { lockQueue, lockQueueRows } from "./locks.ts";

const EMPTY = new Uint8Array(0);

/**
 * After the lock: the queue's size and tail before, and the message (or, at the quota, the
 * marker carrying its id and time) appended unless the tail is a quota marker. One statement.
 */
const WRITE_MSG = `WITH s AS (SELECT (SELECT flags FROM messages WHERE qid = $1 ORDER BY seq DESC LIMIT 1) AS tail,
      (SELECT count(*) FROM messages WHERE qid = $1)::int AS size),
    i AS (INSERT INTO messages(qid, msg_id, ts_ms, flags, body)
      SELECT $1, $2, $3, CASE WHEN s.size < $4 THEN $5::int2 ELSE ${F_QUOTA} END, CASE WHEN s.size < $4 THEN $6::bytea ELSE ''::bytea END
      FROM s WHERE s.tail IS NULL OR s.tail & ${F_QUOTA} = 0 RETURNING 1)
  SELECT s.tail, s.size FROM s`;

/**
 * After the lock: the head deleted if it has this id (no body), and the next message — one
 * statement, so the next is the first row after the deleted one in the same snapshot.
 */
const DEL_PEEK = `WITH d AS (DELETE FROM messages
      WHERE seq = (SELECT seq FROM messages WHERE qid = $1 ORDER BY seq LIMIT 1) AND msg_id = $2
      RETURNING seq, msg_id, ts_ms, flags)
  SELECT true AS deleted, seq, msg_id, ts_ms, flags, NULL::bytea AS body FROM d
  UNION ALL
  (SELECT false, seq, msg_id, ts_ms, flags, body FROM messages
    WHERE qid = $1 AND seq > coalesce((SELECT seq FROM d), 0) ORDER BY seq LIMIT 1)`;

interface MsgRow {
  seq: string;
  msg_id: Uint8Array;
  ts_ms: string;
  flags: number;
  /** Absent or NULL where a statement does not read it (a deleted head). */
  body?: Uint8Array | null;
}

function messageFromRow(r: MsgRow): StoredMessage {
  const tsMs = Number(r.ts_ms);
  return {
    msgId: bytes(r.msg_id),
    ts: Math.floor(tsMs / 1000),
    tsMs,
    quota: (r.flags & F_QUOTA) !== 0,
    notification: (r.flags & F_NTF) !== 0,
    body: r.body == null ? EMPTY : bytes(r.body),
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
    const flags = msg.notification ? F_NTF : 0;
    return this.conn.write("writeMsg", async (tx): Promise<WriteMsgResult> => {
      if (!(await lockQueue(this.conn, tx, ref))) return "AUTH";
      const rs = await tx.unsafe(WRITE_MSG, [ref.key, msg.msgId, msg.tsMs, this.quota, flags, msg.body]);
      const { tail, size } = rs[0] as { tail: number | null; size: number };
      if (tail !== null && (tail & F_QUOTA) !== 0) return "QUOTA";
      this.conn.count(C_MESSAGES, 1);
      return size >= this.quota ? "QUOTA" : size === 0 ? "OK_EMPTY" : "OK";
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
      if (!(await lockQueue(this.conn, tx, ref))) return null;
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
    const rs = await this.conn.write("tryDelPeekMsg", async (tx) => {
      if (!(await lockQueue(this.conn, tx, ref))) return [] as (MsgRow & { deleted: boolean })[];
      const rs = (await tx.unsafe(DEL_PEEK, [ref.key, msgId])) as (MsgRow & { deleted: boolean })[];
      if (rs.length > 0 && rs[0]!.deleted) this.conn.count(C_MESSAGES, -1);
      return rs;
    });
    let deleted: StoredMessage | null = null;
    let next: StoredMessage | null = null;
    for (const r of rs) {
      if (r.deleted) deleted = messageFromRow(r);
      else next = messageFromRow(r);
    }
    return { deleted, next };
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
    return this.conn.write("deleteExpiredMsgs", async (tx) => ((await lockQueue(this.conn, tx, ref)) ? this.expireQueue(tx, ref.key, oldMs) : 0));
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
      for (const q of await lockQueueRows(this.conn, tx, qids, "TRUE", [])) n += await this.expireQueue(tx, q.qid, oldMs);
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

  /** Deletes every message of a queue, inside the caller's write (queue deletion, the queue's row locked). */
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
