/**
 * The checks before the server opens its database: a missing file is never silently replaced
 * by an empty one (a deleted file or an unmounted data volume would otherwise look like a
 * healthy server that lost every queue), and a damaged file is refused before anything is
 * served (otherwise it shows up later as ERR STORE on some queues and failed commits).
 */
import { Database } from "bun:sqlite";
import { existsSync } from "node:fs";
import { toStoreError } from "./errors.ts";
import { openSqliteStore } from "./open.ts";

export type DatabaseProblem = "missing" | "damaged";

/** Why the database cannot be used; the message names the file and what to do. */
export class DatabaseStartError extends Error {
  override name = "DatabaseStartError";
  constructor(
    readonly problem: DatabaseProblem,
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

/** The rows of `PRAGMA quick_check(N)` shown to the operator: enough to see what is wrong. */
const MAX_REPORTED = 10;

export function recoveryHint(path: string): string {
  return (
    `Keep a copy of the damaged file, then restore ${path} from a backup, or recover what SQLite can still read:\n` +
    `  sqlite3 ${path} .recover | sqlite3 ${path}.recovered\n` +
    `check it (sqlite3 ${path}.recovered "PRAGMA integrity_check") and move it into place of ${path} (removing ${path}-wal and ${path}-shm).`
  );
}

/**
 * `PRAGMA quick_check` over the whole file: every b-tree page's structure, record format, free
 * list and NOT NULL / CHECK constraints — what a torn write or random bytes break. It does not
 * compare index entries with their table rows (`integrity_check` does, at several times the
 * cost; bench/quick-check.ts). Returns null when the file is sound, else SQLite's own words;
 * throws StoreError when the file cannot be read at all (permissions, a lock, I/O).
 */
export function quickCheck(path: string): string | null {
  let db: Database | null = null;
  try {
    db = new Database(path, { readwrite: true, create: false });
    const rows = db.query(`PRAGMA quick_check(${MAX_REPORTED})`).all() as { quick_check: string }[];
    const lines = rows.map((r) => r.quick_check);
    return lines.length === 1 && lines[0] === "ok" ? null : lines.join("\n");
  } catch (e) {
    // "file is not a database", "database disk image is malformed" …: SQLite's message as is.
    // Anything else (permissions, a lock, I/O) is not damage: the caller reports it as it is.
    const err = toStoreError(e, "integrity check");
    if (err.kind !== "corrupt") throw err;
    return `${(e as Error).message} (${(e as { code?: string }).code})`;
  } finally {
    db?.close();
  }
}

/**
 * Run before opening the server's database. A missing file is created only with
 * `createIfMissing` (a fresh server, or the operator's explicit choice); an existing one must
 * pass `quickCheck`.
 */
export function checkDatabaseFile(path: string, createIfMissing: boolean): "new" | "checked" {
  if (!existsSync(path)) {
    if (createIfMissing) return "new";
    throw new DatabaseStartError("missing", path, `the database ${path} does not exist`);
  }
  const problem = quickCheck(path);
  if (problem !== null)
    throw new DatabaseStartError("damaged", path, `the database ${path} is damaged; SQLite's quick_check reports:\n${problem}\n${recoveryHint(path)}`);
  return "checked";
}

/** An empty database with the current schema (`init`, so that `start` finds the store it expects). */
export function createDatabase(path: string): void {
  if (existsSync(path)) return;
  // Nothing is pending in a fresh store, so its close finishes synchronously.
  void openSqliteStore({ path }).close();
}
