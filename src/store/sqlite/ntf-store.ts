/** `NtfStore` on SQLite: the `ntfs` table, pending notifications per notifier id in `seq` order. */
import type { Statement } from "bun:sqlite";
import type { NtfStore } from "../ntf-store.ts";
import type { ExpiryProgress, MsgNtf, NotifierNtf, PendingNotifier } from "../types.ts";
import { C_NTFS } from "../counters.ts";
import type { Prepared, SqliteConnection } from "./connection.ts";

const EMPTY = new Uint8Array(0);

interface NtfRow {
  seq: number;
  msg_id: Uint8Array;
  ts_ms: number;
  nonce: Uint8Array;
  enc_meta: Uint8Array;
}

export class SqliteNtfStore implements NtfStore {
  private readonly sInsertNtf: Statement;
  private readonly sNtfsOf: Prepared<NtfRow>;
  private readonly sDeleteNtfsOf: Prepared;
  private readonly sPendingNotifiers: Prepared<{ notifier_id: Uint8Array; ntf_service_id: Uint8Array | null }>;
  private readonly sExpireNtfs: Prepared;

  constructor(private readonly conn: SqliteConnection) {
    this.sInsertNtf = conn.prepare("INSERT INTO ntfs(notifier_id, msg_id, ts_ms, nonce, enc_meta) VALUES (?,?,?,?,?)");
    this.sNtfsOf = conn.prepareOnUse("SELECT seq, msg_id, ts_ms, nonce, enc_meta FROM ntfs WHERE notifier_id = ? ORDER BY seq");
    this.sDeleteNtfsOf = conn.prepareOnUse("DELETE FROM ntfs WHERE notifier_id = ?");
    this.sPendingNotifiers = conn.prepareOnUse(
      "SELECT p.notifier_id, q.ntf_service_id FROM " +
        "(SELECT DISTINCT notifier_id FROM ntfs WHERE notifier_id > ? ORDER BY notifier_id LIMIT ?) p " +
        "LEFT JOIN queues q ON q.notifier_id = p.notifier_id ORDER BY p.notifier_id",
    );
    this.sExpireNtfs = conn.prepareOnUse("DELETE FROM ntfs WHERE seq IN (SELECT seq FROM ntfs WHERE ts_ms < ? ORDER BY ts_ms LIMIT ?)");
  }

  /** NtfStore.hs:`storeNtf`. */
  async addNtf(notifierId: Uint8Array, ntf: MsgNtf): Promise<void> {
    this.conn.write("addNtf", this.addTx, notifierId, ntf);
  }

  private readonly addTx = (notifierId: Uint8Array, ntf: MsgNtf): void => {
    this.sInsertNtf.run(notifierId, ntf.msgId, ntf.tsMs, ntf.nonce, ntf.encMeta);
    this.conn.count(C_NTFS, 1);
  };

  async pendingNtfNotifiers(after: Uint8Array | null, limit: number): Promise<PendingNotifier[]> {
    const rows = this.conn.read("pendingNtfNotifiers", this.pendingRows, after ?? EMPTY, Math.max(1, limit | 0));
    return rows.map((r) => ({ notifierId: r.notifier_id, serviceId: r.ntf_service_id }));
  }

  private readonly pendingRows = (after: Uint8Array, limit: number) => this.sPendingNotifiers.all(after, limit);

  /** Export: a notifier's pending notifications, oldest first, left in place. */
  async notifierNtfs(notifierId: Uint8Array): Promise<MsgNtf[]> {
    return this.conn.read("notifierNtfs", this.ntfsOf, notifierId);
  }

  private readonly ntfsOf = (notifierId: Uint8Array): MsgNtf[] =>
    this.sNtfsOf.all(notifierId).map((r) => ({ msgId: r.msg_id, tsMs: r.ts_ms, nonce: r.nonce, encMeta: r.enc_meta }));

  /** Server.hs:`deliverNtfsThread` (`addNtfs` + clearing the taken ones), oldest first. */
  async takeNtfs(notifierIds: readonly Uint8Array[]): Promise<NotifierNtf[]> {
    const out: (NotifierNtf & { seq: number })[] = [];
    this.conn.write("takeNtfs", this.takeTx, notifierIds, out);
    out.sort((a, b) => a.seq - b.seq);
    return out.map(({ notifierId, ntf }) => ({ notifierId, ntf }));
  }

  private readonly takeTx = (notifierIds: readonly Uint8Array[], out: (NotifierNtf & { seq: number })[]): void => {
    for (const nId of notifierIds) {
      const rows = this.sNtfsOf.all(nId);
      if (rows.length === 0) continue;
      for (const r of rows)
        out.push({ seq: r.seq, notifierId: nId, ntf: { msgId: r.msg_id, tsMs: r.ts_ms, nonce: r.nonce, encMeta: r.enc_meta } });
      this.deleteNotifierNtfs(nId);
    }
  };

  /** NtfStore.hs:`deleteExpiredNtfs`. */
  async expireNtfs(oldSec: number, budget: number): Promise<ExpiryProgress> {
    const max = Math.max(1, budget | 0);
    const n = this.conn.write("expireNtfs", this.expireTx, oldSec * 1000, max);
    return { expired: n, done: n < max };
  }

  private readonly expireTx = (oldMs: number, max: number): number => {
    const n = this.sExpireNtfs.run(oldMs, max).changes;
    this.conn.count(C_NTFS, -n);
    return n;
  };

  // ---------------------------------------------------------------- for the queue store

  /** NtfStore.hs:`deleteNtfs`, inside the caller's write bracket: returns how many were dropped. */
  deleteNotifierNtfs(notifierId: Uint8Array): number {
    const n = this.sDeleteNtfsOf.run(notifierId).changes;
    this.conn.count(C_NTFS, -n);
    return n;
  }
}
