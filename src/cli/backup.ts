/**
 * `smp-server backup FILE`: a consistent copy of the database, taken while the server runs.
 * SQLite's `VACUUM INTO` reads the database in one read transaction (WAL: the server keeps
 * writing meanwhile) and writes a compact, self-contained database file — no WAL beside it — that
 * `start` can use as it is. It never replaces an existing file.
 */
import { Database } from "bun:sqlite";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { DB_FILE } from "../server/index.ts";
import { CliError, type Out } from "./errors.ts";
import type { Paths } from "./paths.ts";

export function backupDatabase(paths: Paths, file: string, out: Out): void {
  const dbPath = join(paths.dataDir, DB_FILE);
  if (!existsSync(dbPath)) throw new CliError(`Error: ${dbPath} does not exist: nothing to back up.`);
  if (existsSync(file)) throw new CliError(`Error: ${file} already exists; a backup never replaces a file. Choose another name.`);
  let db: Database;
  try {
    db = new Database(dbPath, { readonly: true });
  } catch (e) {
    throw new CliError(`Error: cannot open ${dbPath}: ${(e as Error).message}`);
  }
  try {
    db.run("PRAGMA busy_timeout = 5000");
    db.run("VACUUM INTO ?", [file]);
  } catch (e) {
    throw new CliError(`Error: backup of ${dbPath} to ${file} failed: ${(e as Error).message}`);
  } finally {
    db.close();
  }
  out(`Backed up ${dbPath} to ${file}.`);
}
