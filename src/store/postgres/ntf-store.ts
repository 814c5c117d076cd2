/** `NtfStore` on PostgreSQL: the `ntfs` table, pending notifications per notifier id in `seq` order. */
import type { SQL } from "bun";
import { C_NTFS } from "../counters.ts";
import type { NtfStore } from "../ntf-store.ts";
import type { ExpiryProgress, MsgNtf, NotifierNtf, PendingNotifier } from "../types.ts";
import { bytes, type PgConnection } from "./connection.ts";

const EMPTY = new Uint8Array(0);

interface NtfRow {
  seq: string;
  notifier_id: Uint8Array;
  msg_id: Uint8Array;
  ts_ms: string;
  nonce: Uint8Array;
  enc_meta: Uint8Array;
}

export class PgNtfStore implements NtfStore {
  constructor(private readonly conn: PgConnection) {}

  /** NtfStore.hs:`storeNtf`. */
  async addNtf(notifierId: Uint8Array, ntf: MsgNtf): Promise<void> {
    await this.conn.write("addNtf", async (tx) => {
      await tx`INSERT INTO ntfs(notifier_id, msg_id, ts_ms, nonce, enc_meta) VALUES (${notifierId}, ${ntf.msgId}, ${ntf.tsMs}, ${ntf.nonce}, ${ntf.encMeta})`;
      this.conn.count(C_NTFS, 1);
    });
  }

  async pendingNtfNotifiers(after: Uint8Array | null, limit: number): Promise<PendingNotifier[]> {
    const max = Math.max(1, limit | 0);
    const from = after ?? EMPTY;
    const rows = await this.conn.read(
      "pendingNtfNotifiers",
      (db) => db`SELECT p.notifier_id, q.ntf_service_id FROM
        (SELECT DISTINCT notifier_id FROM ntfs WHERE notifier_id > ${from} ORDER BY notifier_id LIMIT ${max}) p
        LEFT JOIN queues q ON q.notifier_id = p.notifier_id ORDER BY p.notifier_id`,
    );
    return (rows as { notifier_id: Uint8Array; ntf_service_id: Uint8Array | null }[]).map((r) => ({
      notifierId: bytes(r.notifier_id),
      serviceId: bytes(r.ntf_service_id),
    }));
  }

  /** Server.hs:`deliverNtfsThread` (`addNtfs` + clearing the taken ones), oldest first: one statement for the batch. */
  async takeNtfs(notifierIds: readonly Uint8Array[]): Promise<NotifierNtf[]> {
    if (notifierIds.length === 0) return [];
    const rows = await this.conn.write("takeNtfs", async (tx) => {
      // SKIP LOCKED: rows another node is taking or deleting are its to deliver or drop (no wait).
      const rs = (await tx`DELETE FROM ntfs WHERE seq IN (SELECT seq FROM ntfs
          WHERE notifier_id = ANY(${notifierIds as Uint8Array[]}::bytea[]) FOR UPDATE SKIP LOCKED)
        RETURNING seq, notifier_id, msg_id, ts_ms, nonce, enc_meta`) as NtfRow[];
      this.conn.count(C_NTFS, -rs.length);
      return rs;
    });
    rows.sort((a, b) => Number(a.seq) - Number(b.seq));
    return rows.map((r) => ({
      notifierId: bytes(r.notifier_id),
      ntf: { msgId: bytes(r.msg_id), tsMs: Number(r.ts_ms), nonce: bytes(r.nonce), encMeta: bytes(r.enc_meta) },
    }));
  }

  /** NtfStore.hs:`deleteExpiredNtfs`, a bounded batch through the `ntfs_ts` index. */
  async expireNtfs(oldSec: number, budget: number): Promise<ExpiryProgress> {
    const max = Math.max(1, budget | 0);
    const oldMs = oldSec * 1000;
    const n = await this.conn.write("expireNtfs", async (tx) => {
      const r = await tx`DELETE FROM ntfs WHERE seq IN (SELECT seq FROM ntfs WHERE ts_ms < ${oldMs} ORDER BY ts_ms LIMIT ${max} FOR UPDATE SKIP LOCKED)`;
      this.conn.count(C_NTFS, -r.count);
      return r.count as number;
    });
    return { expired: n, done: n < max };
  }

  // ---------------------------------------------------------------- for the queue store

  /** NtfStore.hs:`deleteNtfs`, inside the caller's write: returns how many were dropped. */
  async deleteNotifierNtfs(tx: SQL, notifierId: Uint8Array): Promise<number> {
    const r = await tx`DELETE FROM ntfs WHERE notifier_id = ${notifierId}`;
    this.conn.count(C_NTFS, -r.count);
    return r.count;
  }
}
