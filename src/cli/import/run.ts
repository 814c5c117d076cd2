/**
 * `smp-server import`: a reference installation (its configuration and log directories) into
 * this server's configuration and data directories — the configuration (./ini.ts), the identity
 * (./identity.ts) and the data (./data.ts). Never modifies, renames or deletes a file of the
 * reference; idempotent (what is already here is kept and reported); `--dry-run` goes through
 * the same steps, reports the same counts and writes nothing.
 *
 * Into PostgreSQL (the configuration's `db_connection`, or `--database` for a configuration this
 * import writes): the data is imported into a temporary SQLite file first, then copied as
 * `smp-server database import` copies (src/store/transfer.ts: an empty schema gets it, the same
 * rows again are left alone, any other content is refused untouched).
 */
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { DB_FILE } from "../../server/index.ts";
import { redactUri } from "../../store/postgres/errors.ts";
import { openSqliteStore } from "../../store/sqlite/open.ts";
import { countsLine, importSqliteToPostgres, postgresBlob, type PostgresTarget } from "../../store/transfer.ts";
import { StoreError } from "../../store/types.ts";
import { loadConfig, readPostgres } from "../config.ts";
import { SectionReader } from "../config-reader.ts";
import { CliError, type Out } from "../errors.ts";
import { REFERENCE_INI } from "../identity-guard.ts";
import { configFile, type Paths } from "../paths.ts";
import { tomlString } from "../toml-string.ts";
import { importData, storeLogImportMark, type DataImportReport } from "./data.ts";
import { IDENTITY_ERROR, importIdentity } from "./identity.ts";
import { convertReferenceIni } from "./ini.ts";
import { effectiveSections, parseIni } from "./ini-reader.ts";
import { ImportError } from "./lines.ts";
import type { Count, Tally } from "./replay.ts";

export interface ImportOptions {
  readonly fromConfigDir: string;
  readonly fromDataDir: string;
  readonly dryRun: boolean;
  readonly skipWarnings: boolean;
  /** `--database URI [--schema S]`: PostgreSQL for a configuration this import writes. */
  readonly database?: PostgresTarget;
}

/** `[STORE_LOG] store_messages` of the reference INI (Server/Main.hs:`readStoreType`; default memory). */
function storeMessages(iniText: string | null): string | null {
  if (iniText === null) return null;
  const entry = effectiveSections(parseIni(iniText))
    .get("STORE_LOG")
    ?.entries.find((e) => e.key === "store_messages");
  return entry?.value ?? "memory";
}

function reasons(t: Tally): string {
  return [...t.reasons].map(([why, n]) => `${n} ${why}`).join("; ");
}

function countLine(name: string, c: Count, verb: string): string {
  const skipped = c.skipped.total;
  return `  ${name}: ${c.imported} ${verb}${skipped > 0 ? `, ${skipped} skipped (${reasons(c.skipped)})` : ""}`;
}

function printDataReport(r: DataImportReport, dryRun: boolean, out: Out): void {
  const verb = dryRun ? "to import" : "imported";
  for (const s of r.sources) out(`  read: ${s}`);
  if (r.alreadyImported !== undefined) {
    out(`  this store log was imported at ${r.alreadyImported}: nothing to do (the database is left as it is)`);
    return;
  }
  const skipped = r.recordsSkipped.total;
  out(`  store log records: ${r.records}${skipped > 0 ? `, ${skipped} not applied, as the reference would not apply them (${reasons(r.recordsSkipped)})` : ""}`);
  const alone = r.recordsLeftAlone.total;
  if (alone > 0) out(`  store log records of queues already in the store, left as they are: ${alone} (${reasons(r.recordsLeftAlone)})`);
  out(countLine("services", r.services, verb));
  out(countLine("queues", r.queues, verb));
  out(countLine("messages", r.messages, verb));
  out(countLine("notifications", r.notifications, verb));
}

/** The entries of a directory, or null when it does not exist. */
function listing(dir: string): Set<string> | null {
  return existsSync(dir) ? new Set(readdirSync(dir)) : null;
}

/**
 * Run as root (the reference's directories need it), what the import created in `dir` gets the
 * owner of the reference's directory `like`: the reference's unit runs the server as its own user
 * (`User=smp`), which must be able to write the database and read the configuration and keys.
 */
function ownNew(dir: string, before: Set<string> | null, like: string, out: Out): void {
  if (process.getuid?.() !== 0 || !existsSync(like) || !existsSync(dir)) return;
  const { uid, gid } = statSync(like);
  if (uid === 0) return;
  const made = [...(before === null ? [dir] : []), ...readdirSync(dir).filter((f) => !before?.has(f)).map((f) => join(dir, f))];
  for (const p of made) chownSync(p, uid, gid);
  if (made.length > 0) out(`  owner ${uid}:${gid} (as ${like}): ${made.join(", ")}`);
}

function describeTarget(pg: PostgresTarget): string {
  return `PostgreSQL ${redactUri(pg.uri)}, schema ${pg.schema}`;
}

/**
 * Where the data goes: the PostgreSQL database of an existing smp-server.toml (`db_connection`),
 * else `--database`, else (undefined) the SQLite file. `--database` is refused when an existing
 * configuration names another store: the import never changes a configuration that is here.
 */
function postgresTarget(paths: Paths, o: ImportOptions): PostgresTarget | undefined {
  const file = configFile(paths);
  // Checked as the configuration's own keys before anything is written.
  if (o.database !== undefined)
    readPostgres(new SectionReader("--database/--schema", "STORE_LOG", { db_connection: o.database.uri, db_schema: o.database.schema }));
  if (!existsSync(file)) return o.database;
  const pg = loadConfig(file).storeLog.postgres;
  const configured = pg === undefined ? undefined : { uri: pg.connection, schema: pg.schema };
  if (o.database !== undefined && (configured?.uri !== o.database.uri || configured.schema !== o.database.schema))
    throw new CliError(
      `Error: --database: ${file} exists and ${configured === undefined ? "keeps the store in SQLite (no db_connection)" : `selects ${describeTarget(configured)}`}; ` +
        "the import keeps an existing configuration: set [STORE_LOG] db_connection and db_schema there instead of --database.",
    );
  return configured;
}

/** The converted configuration with `pg` as its store ([STORE_LOG] is always rendered). */
function withPostgres(toml: string, pg: PostgresTarget | undefined): string {
  if (pg === undefined) return toml;
  return toml.replace("\n[STORE_LOG]\n", `\n[STORE_LOG]\ndb_connection = ${tomlString(pg.uri)}\ndb_schema = ${tomlString(pg.schema)}\n`);
}

/** The configuration: smp-server.ini → smp-server.toml, unless a smp-server.toml is here already. */
function importConfig(paths: Paths, o: ImportOptions, iniPath: string, iniText: string | null, out: Out): void {
  const target = configFile(paths);
  if (iniText === null) {
    out(`Configuration: ${iniPath} does not exist; ${existsSync(target) ? `${target} is kept as it is` : "`smp-server init` makes a configuration"}.`);
    return;
  }
  const converted = convertReferenceIni(iniText, iniPath);
  const notes = converted.notes;
  const toml = withPostgres(converted.toml, o.database);
  if (existsSync(target)) {
    const same = readFileSync(target, "utf8") === toml;
    out(`Configuration: ${target} ${same ? "already holds the conversion of" : "exists and is kept as it is (not replaced by a conversion of"} ${iniPath}${same ? "" : ")"}.`);
    return;
  }
  out(`Configuration: ${iniPath} → ${target}${o.dryRun ? " (would be written)" : ""}`);
  if (o.database !== undefined) out(`  [STORE_LOG] db_connection, db_schema: ${describeTarget(o.database)} (--database)`);
  for (const n of notes) out(`  note: ${n}`);
  if (!o.dryRun) {
    mkdirSync(paths.configDir, { recursive: true, mode: 0o700 });
    writeFileSync(target, toml);
  }
}

/** The data, as one transaction: committed when everything was read and written, else discarded. */
async function importStore(dbPath: string, o: ImportOptions, storeMsgs: string | null, out: Out, storeLogMark?: string): Promise<DataImportReport> {
  // A dry run against a database that does not exist yet runs in memory: it must not create one.
  const path = o.dryRun && !existsSync(dbPath) ? ":memory:" : dbPath;
  if (path !== ":memory:") mkdirSync(dirname(dbPath), { recursive: true, mode: 0o700 });
  let store;
  try {
    store = openSqliteStore({ path, maxOpsPerCommit: Number.MAX_SAFE_INTEGER, cacheSizeKiB: 8192 });
  } catch (e) {
    throw new CliError(`Error: cannot open the database ${dbPath}: ${(e as Error).message}`);
  }
  try {
    const report = await importData(store, {
      fromDataDir: o.fromDataDir,
      storeMessages: storeMsgs,
      storeLogMark,
      skipWarnings: o.skipWarnings,
      warn: (l) => out(`  warning: ${l}`),
    });
    // The one commit (at the end of this event-loop turn), or none.
    if (o.dryRun) store.discard();
    else await store.flush();
    return report;
  } catch (e) {
    store.discard();
    if (e instanceof ImportError) throw new CliError(`Error: ${e.message}\nNothing was imported.`);
    if (e instanceof StoreError) throw new CliError(`Error: the database ${dbPath}: ${e.message}\nNothing was imported.`);
    throw e;
  } finally {
    await store.close();
  }
}

/** Through a temporary SQLite file (removed after), then copied by the rules of `database import`. */
async function importToPostgres(dataDir: string, pg: PostgresTarget, o: ImportOptions, storeMsgs: string | null, out: Out): Promise<void> {
  try {
    await throughSqlite(dataDir, pg, o, storeMsgs, out);
  } catch (e) {
    if (e instanceof StoreError) throw new CliError(`Error: ${describeTarget(pg)}: ${e.message}\nNothing was imported.`);
    throw e;
  }
}

async function throughSqlite(dataDir: string, pg: PostgresTarget, o: ImportOptions, storeMsgs: string | null, out: Out): Promise<void> {
  // As into SQLite: the same store log imported before is not imported again (queues deleted since stay deleted).
  const mark = storeLogImportMark(o.fromDataDir);
  const done = mark === null ? null : await postgresBlob(pg, mark);
  if (done !== null) {
    out(`  this store log was imported at ${Buffer.from(done).toString("utf8")}: nothing to do (the schema is left as it is)`);
    return;
  }
  if (o.dryRun) {
    printDataReport(await importStore(":memory:", o, storeMsgs, out, mark ?? undefined), true, out);
    return;
  }
  // In the data directory, not /tmp: the logs may be larger than a RAM-backed /tmp.
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const tmp = mkdtempSync(join(dataDir, ".import-"));
  try {
    const file = join(tmp, DB_FILE);
    printDataReport(await importStore(file, o, storeMsgs, out, mark ?? undefined), false, out);
    const r = await importSqliteToPostgres(file, pg);
    const counts = countsLine(r.counts);
    out(r.alreadyDone ? `  ${describeTarget(pg)} already holds these rows (${counts}): left as it is` : `  copied into ${describeTarget(pg)}: ${counts}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

export async function runImport(paths: Paths, o: ImportOptions, out: Out): Promise<void> {
  const iniPath = join(o.fromConfigDir, REFERENCE_INI);
  if (!existsSync(o.fromConfigDir) && !existsSync(o.fromDataDir))
    throw new CliError(`Error: neither ${o.fromConfigDir} nor ${o.fromDataDir} exists: no reference installation to import (--from-config-dir, --from-data-dir).`);
  const iniText = existsSync(iniPath) ? readFileSync(iniPath, "utf8") : null;
  if (o.dryRun) out("Dry run: nothing is written.");

  // The identity is checked before anything is written: the data must not go into the database of
  // another server (another identity in the target directories) that the import would then refuse.
  if (!o.dryRun) await importIdentity(o.fromConfigDir, paths.configDir, { dryRun: true });
  const pg = postgresTarget(paths, o);
  const before = { cfg: listing(paths.configDir), data: listing(paths.dataDir) };
  try {
    // Then the data: it is what most often stops an import (a corrupt line), and then nothing at all is written.
    if (pg === undefined) {
      out(`Data: ${o.fromDataDir} → ${join(paths.dataDir, DB_FILE)}`);
      printDataReport(await importStore(join(paths.dataDir, DB_FILE), o, storeMessages(iniText), out), o.dryRun, out);
    } else {
      out(`Data: ${o.fromDataDir} → ${describeTarget(pg)}`);
      await importToPostgres(paths.dataDir, pg, o, storeMessages(iniText), out);
    }

    importConfig(paths, o, iniPath, iniText, out);
    const identity = await importIdentity(o.fromConfigDir, paths.configDir, { dryRun: o.dryRun });
    for (const l of identity) out(l);
    if (!o.dryRun && identity.some((l) => l.startsWith(IDENTITY_ERROR)))
      throw new CliError(
        "Import incomplete: the data and the configuration are imported, but the server cannot start before the step above is done. " +
          "Then run `smp-server import` again: it completes the identity and changes nothing else.",
      );
  } finally {
    if (!o.dryRun) {
      ownNew(paths.dataDir, before.data, o.fromDataDir, out);
      ownNew(paths.configDir, before.cfg, o.fromConfigDir, out);
    }
  }
  out(o.dryRun ? "Dry run complete: run again without --dry-run to import." : "Import complete. The reference's files are unchanged.");
}
