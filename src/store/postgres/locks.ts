/**
 * The row locks a write takes before it writes anything, so that operations of several
 * processes on one schema (nodes) see each other's effects as one server's would: a queue's row
 * serialises everything that reads its messages or columns to decide (quota, empty queue, keys,
 * notifier, deletion); a service's row its count and hash. Order: queues by `qid`, then services
 * by id — the same in every process. Inside a group the locks are only tried (`SKIP LOCKED`): a
 * row held elsewhere throws `LockBusy` (see `connection.ts`), and the operation runs again first
 * in the next transaction, waiting.
 */
import type { SQL } from "bun";
import { bytesEqual, idKey } from "../../encoding/bytes.ts";
import { QUEUE_COLUMNS, type QueueRow } from "../codec.ts";
import type { QueueRef } from "../types.ts";
import { LockBusy, type PgConnection } from "./connection.ts";
import { normalizeQueueRow, type PgRow } from "./rows.ts";

const TRY = "FOR UPDATE SKIP LOCKED";
const WAIT = "FOR UPDATE";

function clause(conn: PgConnection): string {
  return conn.waitsForLocks ? WAIT : TRY;
}

const KEY_TRY = `SELECT recipient_id FROM queues WHERE qid = $1 ${TRY}`;
const KEY_WAIT = `SELECT recipient_id FROM queues WHERE qid = $1 ${WAIT}`;
const ROW_TRY = `SELECT ${QUEUE_COLUMNS} FROM queues WHERE qid = $1 ${TRY}`;
const ROW_WAIT = `SELECT ${QUEUE_COLUMNS} FROM queues WHERE qid = $1 ${WAIT}`;

/**
 * Locks the row of the queue `ref.key` with `wait` or `tried` (selecting at least `recipient_id`)
 * and returns it; null if the queue is gone. Tried, an existing row it did not get is locked
 * elsewhere: `LockBusy`.
 */
async function lockOne<R>(conn: PgConnection, tx: SQL, ref: QueueRef, wait: string, tried: string): Promise<R | null> {
  const waits = conn.waitsForLocks;
  const rs = await tx.unsafe(waits ? wait : tried, [ref.key]);
  if (rs.length > 0) return rs[0] as R;
  if (!waits && (await tx`SELECT 1 FROM queues WHERE qid = ${ref.key}`).length > 0) throw new LockBusy();
  return null;
}

/** Locks the queue's row; false if `ref` no longer names a live queue (→ AUTH). The hot path (SEND, ACK). */
export async function lockQueue(conn: PgConnection, tx: SQL, ref: QueueRef): Promise<boolean> {
  const r = await lockOne<{ recipient_id: Uint8Array }>(conn, tx, ref, KEY_WAIT, KEY_TRY);
  return r !== null && bytesEqual(r.recipient_id, ref.recipientId);
}

/** Locks the queue's row and returns it, if `ref` still names a live queue. */
export async function lockQueueRow(conn: PgConnection, tx: SQL, ref: QueueRef): Promise<QueueRow | null> {
  const row = await lockOne<PgRow<QueueRow>>(conn, tx, ref, ROW_WAIT, ROW_TRY);
  if (row === null) return null;
  const r = normalizeQueueRow(row);
  return bytesEqual(r.recipient_id, ref.recipientId) ? r : null;
}

/**
 * Locks the rows of the queues `qids` that still exist and satisfy `cond` (a condition on the
 * row, or "TRUE"), in `qid` order, and returns them. Tried, a queue that matches but is locked
 * elsewhere throws `LockBusy`.
 */
export async function lockQueueRows(conn: PgConnection, tx: SQL, qids: readonly number[], cond: string, params: readonly unknown[]): Promise<QueueRow[]> {
  const where = `qid = ANY($1::int8[]) AND (${cond})`;
  const rs = await tx.unsafe(`SELECT ${QUEUE_COLUMNS} FROM queues WHERE ${where} ORDER BY qid ${clause(conn)}`, [qids, ...params]);
  if (!conn.waitsForLocks && rs.length < new Set(qids).size) {
    const all = await tx.unsafe(`SELECT count(*)::int AS n FROM queues WHERE ${where}`, [qids, ...params]);
    if (all[0].n > rs.length) throw new LockBusy();
  }
  return (rs as Parameters<typeof normalizeQueueRow>[0][]).map(normalizeQueueRow);
}

/**
 * Locks the service rows named (nulls and repeats ignored), in id order, before the caller
 * changes their counts and hashes. A service id with no row locks nothing.
 */
export async function lockServices(conn: PgConnection, tx: SQL, ids: readonly (Uint8Array | null)[]): Promise<void> {
  const named = ids.filter((id): id is Uint8Array => id !== null);
  if (named.length === 0) return;
  const rs = await tx.unsafe(`SELECT service_id FROM services WHERE service_id = ANY($1::bytea[]) ORDER BY service_id ${clause(conn)}`, [named]);
  if (conn.waitsForLocks || rs.length === new Set(named.map(idKey)).size) return;
  // Services are never deleted: fewer rows than exist means some are locked elsewhere.
  const all = await tx`SELECT count(*)::int AS n FROM services WHERE service_id = ANY(${named}::bytea[])`;
  if (all[0].n > rs.length) throw new LockBusy();
}
