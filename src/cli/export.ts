/**
 * `smp-server export`: the database written as the reference server's own files — a compacted
 * store log (what StoreLog.hs:`writeQueueStore` writes at start: every `NEW_SERVICE`, then one
 * `CREATE` per queue), the message log (Server.hs:`exportMessages`) and the notification log
 * (Server.hs:`saveServerNtfs`). The reference starts from them (with `store_messages: memory`),
 * which makes this the way back, and a plain-text backup. Existing files are never replaced.
 *
 * The database is read inside one read transaction, so a running server may keep writing: the
 * files show one consistent moment.
 */
import { closeSync, existsSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { DB_FILE } from "../server/index.ts";
import { openSqliteStore, type SqliteStore } from "../store/sqlite/open.ts";
import { CliError, type Out } from "./errors.ts";
import { REFERENCE_FILES } from "./import/data.ts";
import { encodeMsgLogRecord } from "./import/msg-log.ts";
import { encodeNtfLogRecord } from "./import/ntf-log.ts";
import { encodeNewService, encodeQueue } from "./import/store-log.ts";
import type { Paths } from "./paths.ts";

const PAGE = 1000;

/** Buffered line writer to a temporary name, renamed into place only when everything is written. */
class LogFile {
  private readonly fd: number;
  private chunks: string[] = [];
  private size = 0;
  constructor(
    readonly path: string,
    readonly tmp = `${path}.tmp`,
  ) {
    this.fd = openSync(tmp, "wx", 0o600);
  }
  line(s: string): void {
    this.chunks.push(s, "\n");
    this.size += s.length + 1;
    if (this.size > 1 << 20) this.drain();
  }
  private drain(): void {
    if (this.chunks.length > 0) writeSync(this.fd, this.chunks.join(""));
    this.chunks = [];
    this.size = 0;
  }
  close(): void {
    this.drain();
    closeSync(this.fd);
  }
}

export interface ExportCounts {
  services: number;
  queues: number;
  messages: number;
  notifications: number;
}

async function writeAll(store: SqliteStore, files: { store: LogFile; msgs: LogFile; ntfs: LogFile }): Promise<ExportCounts> {
  const n: ExportCounts = { services: 0, queues: 0, messages: 0, notifications: 0 };
  for (const s of await store.services.allServices()) {
    files.store.line(encodeNewService(s));
    n.services++;
  }
  for (let after: Uint8Array | null = null; ; ) {
    const page = await store.queues.allQueues(after, PAGE);
    for (const q of page) {
      for (const l of encodeQueue(q)) files.store.line(l);
      n.queues++;
      for (const m of await store.messages.queueMessages(q)) {
        files.msgs.line(encodeMsgLogRecord(q.recipientId, { ...m, ts: Math.floor(m.tsMs / 1000) }));
        n.messages++;
      }
    }
    if (page.length < PAGE) break;
    after = page[page.length - 1]!.recipientId;
  }
  for (let after: Uint8Array | null = null; ; ) {
    const page = await store.ntfs.pendingNtfNotifiers(after, PAGE);
    for (const p of page)
      for (const ntf of await store.ntfs.notifierNtfs(p.notifierId)) {
        files.ntfs.line(encodeNtfLogRecord({ notifierId: p.notifierId, msgId: ntf.msgId, ts: Math.floor(ntf.tsMs / 1000), nonce: ntf.nonce, encMeta: ntf.encMeta }));
        n.notifications++;
      }
    if (page.length < PAGE) break;
    after = page[page.length - 1]!.notifierId;
  }
  return n;
}

export async function exportStore(paths: Paths, toDir: string, out: Out): Promise<ExportCounts> {
  const dbPath = join(paths.dataDir, DB_FILE);
  if (!existsSync(dbPath)) throw new CliError(`Error: ${dbPath} does not exist: nothing to export.`);
  const targets = [REFERENCE_FILES.storeLog, REFERENCE_FILES.messagesLog, REFERENCE_FILES.ntfsLog].map((f) => join(toDir, f));
  const existing = targets.filter((p) => existsSync(p) || existsSync(`${p}.tmp`));
  if (existing.length > 0)
    throw new CliError(`Error: ${existing.join(", ")} already exist${existing.length === 1 ? "s" : ""}; nothing was replaced. Export into another directory (--to-dir) or move them away.`);
  mkdirSync(toDir, { recursive: true, mode: 0o700 });
  const store = openSqliteStore({ path: dbPath });
  const opened: LogFile[] = [];
  let ok = false;
  try {
    const files = { store: new LogFile(targets[0]!), msgs: new LogFile(targets[1]!), ntfs: new LogFile(targets[2]!) };
    opened.push(files.store, files.msgs, files.ntfs);
    store.db.run("BEGIN");
    let n: ExportCounts;
    try {
      n = await writeAll(store, files);
    } finally {
      store.db.run("COMMIT");
    }
    for (const f of opened) f.close();
    for (const f of opened) renameSync(f.tmp, f.path);
    ok = true;
    out(`Exported ${n.services} services and ${n.queues} queues to ${targets[0]}, ${n.messages} messages to ${targets[1]}, ${n.notifications} notifications to ${targets[2]}.`);
    out(`The reference server starts from these files with [STORE_LOG] enable = on and store_messages = memory (for the journal store: \`smp-server journal import\` of the reference).`);
    return n;
  } finally {
    if (!ok) for (const f of opened) rmSync(f.tmp, { force: true });
    await store.close();
  }
}
