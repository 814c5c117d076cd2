/**
 * Imports a reference installation's data directory into the store: services and queues from
 * `smp-server-store.log`, undelivered messages from `smp-server-messages.log` or the journal
 * store (`messages/`), pending notifications from `smp-server-ntfs.log`.
 *
 * Everything read is validated before it is used, and the caller runs the whole import as one
 * store transaction (it commits, or discards on a failure or a dry run). Idempotent: a queue or
 * service already in the store is left as it is, and so are the messages and notifications of
 * such a queue — the server may have delivered them since the first import.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fromBase64url } from "../../encoding/base64.ts";
import { bytesEqual, hex } from "../../encoding/bytes.ts";
import type { QueueRef, ServiceRec, Store } from "../../store/types.ts";
import { journalQueueDir, journalQueueIds, JOURNAL_DIR, readJournalQueue, readQueueState, statePath } from "./journal.ts";
import { ImportError, records, type LineOptions } from "./lines.ts";
import type { LogMessage } from "./message.ts";
import { parseMsgLogRecord } from "./msg-log.ts";
import { parseNtfLogRecord } from "./ntf-log.ts";
import { ReplayState, Tally, type QueueState } from "./replay.ts";
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
}

export class Count {
  imported = 0;
  readonly skipped = new Tally();
}

export interface DataImportReport {
  records: number;
  /** Store log records the reference itself would have refused (it logs them and goes on). */
  readonly recordsSkipped: Tally;
  readonly services: Count;
  readonly queues: Count;
  readonly messages: Count;
  readonly notifications: Count;
  /** What was read, for the operator: file names and sources. */
  readonly sources: string[];
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

export async function importData(store: Store, o: DataImportOptions): Promise<DataImportReport> {
  const dir = o.fromDataDir;
  const sources: string[] = [];
  const report: DataImportReport = {
    records: 0,
    recordsSkipped: new Tally(),
    services: new Count(),
    queues: new Count(),
    messages: new Count(),
    notifications: new Count(),
    sources,
  };
  const msgSource = messageSource(dir, o.storeMessages, sources);

  // 1. The store log, replayed as the reference replays it at start.
  const state = new ReplayState();
  // StoreLog.hs:`readWriteStoreLog`: a `.start` file means the reference stopped while compacting
  // its log; the `.start` file is the complete state, and the reference itself restores from it.
  const mainLog = join(dir, REFERENCE_FILES.storeLog);
  const interrupted = existsSync(`${mainLog}.start`);
  const storeLog = interrupted ? `${mainLog}.start` : mainLog;
  if (existsSync(storeLog)) {
    sources.push(interrupted ? `${storeLog} (the reference was stopped while compacting its log; it restores from this file)` : storeLog);
    for (const { rec } of records(storeLog, parseStoreLogRecord, o, () => report.recordsSkipped.add("corrupt last line"))) {
      report.records++;
      state.apply(rec);
    }
    for (const [reason, n] of state.skipped.reasons) report.recordsSkipped.add(reason, n);
  } else sources.push(`${mainLog} does not exist: no queues to import`);

  // 2. Services, then queues (a queue's service associations need the service).
  const serviceIds = new Map<string, Uint8Array | null>();
  for (const s of state.services.values()) serviceIds.set(hex(s.serviceId), await importService(store, s, report.services));
  const mapService = (id: Uint8Array | null): Uint8Array | null => (id === null ? null : (serviceIds.get(hex(id)) ?? id));

  const created = new Map<string, QueueRef>();
  const present = new Set<string>();
  const createdNotifiers = new Set<string>();
  const presentNotifiers = new Set<string>();
  for (const q of state.liveQueues()) {
    const k = hex(q.recipientId);
    const r = await store.createQueue(withServices(q, mapService));
    if (r !== "DUPLICATE") {
      report.queues.imported++;
      created.set(k, r);
      if (q.notifier !== null) createdNotifiers.add(hex(q.notifier.notifierId));
      continue;
    }
    const existing = await store.getQueueByRecipientId(q.recipientId);
    if (existing !== null && bytesEqual(existing.senderId, q.senderId)) {
      report.queues.skipped.add("already in the store");
      present.add(k);
      if (q.notifier !== null) presentNotifiers.add(hex(q.notifier.notifierId));
    } else report.queues.skipped.add("an id of it is used by another queue in the store");
  }

  // 3. Messages, from the message store the reference was using.
  const msgs = report.messages;
  const add = async (ref: QueueRef, m: LogMessage): Promise<void> => {
    await store.restoreMsg(ref, { msgId: m.msgId, tsMs: m.ts * 1000, notification: m.notification, quota: m.quota, body: m.body });
    msgs.imported++;
  };
  const noQueue = (k: string): string => (present.has(k) ? "its queue was already in the store" : "its queue is not in the store log");
  if (msgSource === "log") {
    const path = join(dir, REFERENCE_FILES.messagesLog);
    sources.push(path);
    for (const { rec } of records(path, parseMsgLogRecord, o, () => msgs.skipped.add("corrupt last line"))) {
      const k = hex(rec.rId);
      const ref = created.get(k);
      if (ref === undefined) msgs.skipped.add(noQueue(k));
      else await add(ref, rec.msg);
    }
  } else if (msgSource === "journal") {
    const root = join(dir, REFERENCE_FILES.journal);
    sources.push(`${root}/`);
    for (const q of state.liveQueues()) {
      const ref = created.get(hex(q.recipientId));
      if (ref !== undefined) for (const m of readJournalQueue(root, q.recipientId, o.warn)) await add(ref, m);
    }
    for (const id of journalQueueIds(root)) {
      const rId = fromBase64url(id);
      const k = hex(rId);
      if (created.has(k)) continue;
      const st = readQueueState(statePath(journalQueueDir(root, rId), rId), o.warn);
      msgs.skipped.add(noQueue(k), st?.size ?? 0);
    }
  }

  // 4. Pending notifications of the imported notifiers.
  const ntfs = report.notifications;
  const ntfsLog = join(dir, REFERENCE_FILES.ntfsLog);
  if (existsSync(ntfsLog)) {
    sources.push(ntfsLog);
    for (const { rec } of records(ntfsLog, parseNtfLogRecord, o, () => ntfs.skipped.add("corrupt last line"))) {
      const k = hex(rec.notifierId);
      if (createdNotifiers.has(k)) {
        await store.addNtf(rec.notifierId, { msgId: rec.msgId, tsMs: rec.ts * 1000, nonce: rec.nonce, encMeta: rec.encMeta });
        ntfs.imported++;
      } else ntfs.skipped.add(presentNotifiers.has(k) ? "its queue was already in the store" : "its notifier is not in the store log");
    }
  }
  return report;
}

/** QueueStore/STM.hs:`getCreateService` keeps one service per certificate: the id it returns is the one to use. */
async function importService(store: Store, s: ServiceRec, count: Count): Promise<Uint8Array | null> {
  if ((await store.getService(s.serviceId)) !== null) {
    count.skipped.add("already in the store");
    return s.serviceId;
  }
  const r = await store.getCreateService(s);
  if (r === "SERVICE") {
    count.skipped.add("its certificate belongs to a service with another role in the store");
    return null;
  }
  if (r === "DUPLICATE") {
    count.skipped.add("its id is used by another service in the store");
    return null;
  }
  if (bytesEqual(r, s.serviceId)) count.imported++;
  else count.skipped.add("its certificate belongs to another service in the store (queues moved to it)");
  return r;
}

function withServices(q: QueueState, map: (id: Uint8Array | null) => Uint8Array | null): QueueState {
  return {
    ...q,
    rcvServiceId: map(q.rcvServiceId),
    notifier: q.notifier === null ? null : { ...q.notifier, serviceId: map(q.notifier.serviceId) },
  };
}
