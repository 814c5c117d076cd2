/**
 * `smp-server database import|export` (Server/Main.hs `Database` command, here between the SQLite
 * file in the data directory and the PostgreSQL schema of `db_connection`/`db_schema`): copies
 * every table, prints the row counts. Run with the server stopped. Idempotent: see
 * `src/store/transfer.ts`.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { DB_FILE } from "../server/index.ts";
import { redactUri } from "../store/postgres/errors.ts";
import { countsLine, exportPostgresToSqlite, importSqliteToPostgres, type TransferResult } from "../store/transfer.ts";
import { StoreError } from "../store/types.ts";
import { loadConfig } from "./config.ts";
import { CliError, type Out } from "./errors.ts";
import { configFile, type Paths } from "./paths.ts";

export type DatabaseCommand = "import" | "export";

export async function database(cmd: DatabaseCommand, paths: Paths, out: Out): Promise<void> {
  const cfg = loadConfig(configFile(paths));
  const pg = cfg.storeLog.postgres;
  if (pg === undefined)
    throw new CliError(`Error: [STORE_LOG] db_connection is not set in ${configFile(paths)}: it names the PostgreSQL database to ${cmd === "import" ? "import into" : "export from"}`);
  const file = join(paths.dataDir, DB_FILE);
  const target = { uri: pg.connection, schema: pg.schema };
  const where = `PostgreSQL ${redactUri(pg.connection)}, schema ${pg.schema}`;
  let r: TransferResult;
  try {
    if (cmd === "import") {
      if (!existsSync(file)) throw new CliError(`Error: no SQLite database to import: ${file} does not exist`);
      r = await importSqliteToPostgres(file, target);
    } else {
      r = await exportPostgresToSqlite(target, file);
    }
  } catch (e) {
    if (e instanceof StoreError) throw new CliError(`Error: ${cmd} failed (${where}; ${file}): ${e.message}`);
    throw e;
  }
  const counts = countsLine(r.counts);
  const [from, to] = cmd === "import" ? [file, where] : [where, file];
  out(r.alreadyDone ? `Nothing to do: ${to} already holds the same rows as ${from} (${counts}).` : `Copied ${from} → ${to}: ${counts}.`);
  if (cmd === "import") out("Start the server with db_connection set to use PostgreSQL.");
  else out("Remove db_connection from [STORE_LOG] to use the SQLite database.");
}
