/**
 * Imports a reference installation's data directory into the store: services and queues from
 * `smp-server-store.log`, undelivered messages from `smp-server-messages.log` or the journal
 * store (`messages/`), pending notifications from `smp-server-ntfs.log`.
 *
 * Each record is validated before it is used, and the caller runs the whole import as one store
 * transaction (it commits, or discards on a failure or a dry run), so a corrupt line anywhere
 * leaves the database as it was. Idempotent: a store log
 * imported before (same SHA-256, kept as a store blob) is not imported again — a queue deleted here
 * since must not come back; and from another log, a queue or service already in the store is left
 * as it is, and so are the messages and notifications of such a queue (the server may have
 * delivered them since).
 */
import { createHash } from "node:crypto";
import { closeSync, existsSync, openSync, readSync } from "node:fs";
import { join } from "node:path";
import { fromBase64url } from "../../encoding/base64.ts";
import type { SqliteStore } from "../../store/sqlite/open.ts";
import type { QueueRec, QueueRef } from "../../store/types.ts";
import { journalQueueDir, journalQueueIds, JOURNAL_DIR, readJournalQueue, readQueueState, statePath } from "./journal.ts";
import { ImportError, records, type LineOptions } from "./lines.ts";
import type { LogMessage } from "./message.ts";
import { parseMsgLogRecord } from "./msg-log.ts";
import { parseNtfLogRecord } from "./ntf-log.ts";
import { idKey } from "../../encoding/bytes.ts";
import { Count, StoreReplay, type Tally } from "./replay.ts";
import { parseStoreLogRecord } from "./store-log.ts";

/** File names in the reference's log directory (Server/Main.hs). */
export const REFERENCE_FILES = {
  storeLog: "smp-server-store.log",
  messagesLog: "smp-server-messages.log",
  ntfsLog: "smp-server-ntfs.log",
  journal: JOURNAL_DIR,
} as const;

export interface DataImportOptions extends LineOptions {
  readonly fromDataDir: string;
  /** `[STORE_LOG] store_messages` of the reference INI, when known: which message store is current. */
  readonly storeMessages: string | null;
  /** storeLogImportMark of fromDataDir when the caller has it (a store log is hashed once). */
  readonly storeLogMark?: string;
}

export interface DataImportReport {
  records: number;
  /** Store log records the reference itself would have refused (it logs them and goes on). */
  readonly recordsSkipped: Tally;
  /** Store log records of queues that were in the store before, by record type. */
  readonly recordsLeftAlone: Tally;
  readonly services: Count;
  readonly queues: Count;
  readonly messages: Count;
  readonly notifications: Count;
  /** What was read, for the operator: file names and sources. */
  readonly sources: string[];
  /** When this store log was imported before (then nothing else was done). */
  alreadyImported?: string;
}

/** SHA-256 of a file, read in bounded memory. */
function fileDigest(path: string): string {
  const h = createHash("sha256");
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return h.digest("hex");
}

type MsgSource = "log" | "journal" | null;

function messageSource(dir: string, storeMessages: string | null, sources: string[]): MsgSource {
  const log = existsSync(join(dir, REFERENCE_FILES.messagesLog));
  const journal = existsSync(join(dir, REFERENCE_FILES.journal));
  if (storeMessages === "journal") {
    if (log) sources.push(`${REFERENCE_FILES.messagesLog} not read: store_messages is journal`);
    return journal ? "journal" : null;
  }
  if (storeMessages === "memory" || storeMessages === "database") {
    if (journal) sources.push(`${REFERENCE_FILES.journal}/ not read: store_messages is ${storeMessages}`);
    return log ? "log" : null;
  }
  if (log && journal)
    throw new ImportError(
      `both ${join(dir, REFERENCE_FILES.messagesLog)} and ${join(dir, REFERENCE_FILES.journal)} exist, and no smp-server.ini says which one is current (store_messages); the reference refuses to start like this too`,
    );
  return log ? "log" : journal ? "journal" : null;
}

/**
 * StoreLog.hs:`readWriteStoreLog`: a `.start` file means the reference stopped while compacting
 * its log; the `.start` file is the complete state, and the reference itself restores from it.
 */
function storeLogOf(dir: string): { mainLog: string; interrupted: boolean; storeLog: string } {
  const mainLog = join(dir, REFERENCE_FILES.storeLog);
  const interrupted = existsSync(`${mainLog}.start`);
  return { mainLog, interrupted, storeLog: interrupted ? `${mainLog}.start` : mainLog };
}

/** The blob that records an import of `storeLog` (its SHA-256), with the time of the import as its value. */
function importMark(storeLog: string): string {
  return `import:${fileDigest(storeLog)}`;
}

/** The mark importData leaves for the store log of `dir`, null when there is none. */
export function storeLogImportMark(dir: string): string | null {
  const { storeLog } = storeLogOf(dir);
  return existsSync(storeLog) ? importMark(storeLog) : null;
}

export async function importData(store: SqliteStore, o: DataImportOptions): Promise<DataImportReport> {
  const dir = o.fromDataDir;
  const sources: string[] = [];
  const msgSource = messageSource(dir, o.storeMessages, sources);
  const replay = new StoreReplay(store);
  const report: DataImportReport = {
    records: 0,
    recordsSkipped: replay.refused,
    recordsLeftAlone: replay.leftAlone,
    services: replay.services,
    queues: replay.queues,
    messages: new Count(),
    notifications: new Count(),
    sources,
  };

  // 1. The store log, replayed as the reference replays it at start.
  const { mainLog, interrupted, storeLog } = storeLogOf(dir);
  if (existsSync(storeLog)) {
    sources.push(interrupted ? `${storeLog} (the reference was stopped while compacting its log; it restores from this file)` : storeLog);
    // The same store log imported before: queues deleted here since must not come back.
    const mark = o.storeLogMark ?? importMark(storeLog);
    const done = await store.getBlob(mark);
    if (done !== null) {
      report.alreadyImported = Buffer.from(done).toString("utf8");
      return report;
    }
    await store.putBlob(mark, new TextEncoder().encode(new Date().toISOString()));
    for (const { rec } of records(storeLog, parseStoreLogRecord, o, () => replay.refused.add("corrupt last line"))) {
      report.records++;
      await replay.apply(rec);
    }
  } else sources.push(`${mainLog} does not exist: no queues to import`);

  // Messages and notifications only for the queues this import created.
  const imported = async (q: QueueRec | null): Promise<QueueRec | string> =>
    q === null ? "its queue is not in the store log" : replay.created.has(idKey(q.recipientId)) ? q : "its queue was already in the store";
  let last: { k: string; q: QueueRec | string } | null = null;
  const target = async (rId: Uint8Array): Promise<QueueRec | string> => {
    const k = idKey(rId);
    if (last === null || last.k !== k) last = { k, q: await imported(await store.queues.getQueueByRecipientId(rId)) };
    return last.q;
  };

  // 2. Messages, from the message store the reference was using.
  const msgs = report.messages;
  const add = async (ref: QueueRef, m: LogMessage): Promise<void> => {
    await store.messages.restoreMsg(ref, { msgId: m.msgId, tsMs: m.ts * 1000, notification: m.notification, quota: m.quota, body: m.body });
    msgs.imported++;
  };
  if (msgSource === "log") {
    const path = join(dir, REFERENCE_FILES.messagesLog);
    sources.push(path);
    for (const { rec } of records(path, parseMsgLogRecord, o, () => msgs.skipped.add("corrupt last line"))) {
      const q = await target(rec.rId);
      if (typeof q === "string") msgs.skipped.add(q);
      else await add(q, rec.msg);
    }
  } else if (msgSource === "journal") {
    const root = join(dir, REFERENCE_FILES.journal);
    sources.push(`${root}/`);
    for (const id of journalQueueIds(root)) {
      const rId = fromBase64url(id);
      const q = await target(rId);
      if (typeof q !== "string") for (const m of readJournalQueue(root, rId, o.warn)) await add(q, m);
      else msgs.skipped.add(q, readQueueState(statePath(journalQueueDir(root, rId), rId), o.warn)?.size ?? 0);
    }
  }

  // 3. Pending notifications of the imported notifiers.
  const ntfs = report.notifications;
  const ntfsLog = join(dir, REFERENCE_FILES.ntfsLog);
  if (existsSync(ntfsLog)) {
    sources.push(ntfsLog);
    for (const { rec } of records(ntfsLog, parseNtfLogRecord, o, () => ntfs.skipped.add("corrupt last line"))) {
      const owner = await store.queues.getQueueByNotifierId(rec.notifierId);
      const q = owner === null ? "its notifier is not in the store log" : await imported(owner);
      if (typeof q === "string") ntfs.skipped.add(q);
      else {
        await store.ntfs.addNtf(rec.notifierId, { msgId: rec.msgId, tsMs: rec.ts * 1000, nonce: rec.nonce, encMeta: rec.encMeta });
        ntfs.imported++;
      }
    }
  }
  return report;
}
