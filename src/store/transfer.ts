/**
 * Copies the whole store between the SQLite file and a PostgreSQL schema (`smp-server database
 * import|export`): every table, row by row with its ids (`qid`, `seq`) kept, so the copy is the
 * same state — queue order, quota markers, service hashes, counters. Run with the server stopped.
 *
 * Idempotent and never destructive: a target that is empty gets the copy (in one transaction);
 * a target that already holds exactly as many rows per table as the source is taken as the
 * result of an earlier run and left alone; any other non-empty target is refused.
 */
import type { Database, SQLQueryBindings } from "bun:sqlite";
import { SQL } from "bun";
import { COUNTERS } from "./counters.ts";
import { QUEUE_COLUMNS } from "./codec.ts";
import { PgConnection, bytes } from "./postgres/connection.ts";
import { redactUri, toStoreError } from "./postgres/errors.ts";
import { quoteIdent } from "./postgres/migrate.ts";
import { openSqliteStore } from "./sqlite/open.ts";
import { StoreError } from "./types.ts";

interface Table {
  readonly name: string;
  readonly columns: readonly string[];
  /** The paging key (unique). */
  readonly key: string;
  /** BIGINT columns (PostgreSQL returns them as strings). */
  readonly ints: ReadonlySet<string>;
  /** PostgreSQL identity column: inserted with OVERRIDING SYSTEM VALUE, its sequence moved past the copy. */
  readonly identity?: string;
}

const TABLES: readonly Table[] = [
  { name: "queues", columns: QUEUE_COLUMNS.split(", "), key: "qid", ints: new Set(["qid", "updated_at"]), identity: "qid" },
  { name: "messages", columns: ["seq", "qid", "msg_id", "ts_ms", "flags", "body"], key: "seq", ints: new Set(["seq", "qid", "ts_ms"]), identity: "seq" },
  { name: "ntfs", columns: ["seq", "notifier_id", "msg_id", "ts_ms", "nonce", "enc_meta"], key: "seq", ints: new Set(["seq", "ts_ms"]), identity: "seq" },
  {
    name: "services",
    columns: ["service_id", "role", "cert_chain", "cert_hash", "created_at", "rcv_count", "rcv_hash", "ntf_count", "ntf_hash"],
    key: "service_id",
    ints: new Set(["created_at", "rcv_count", "ntf_count"]),
  },
  { name: "blobs", columns: ["name", "value"], key: "name", ints: new Set() },
];

const BATCH = 500;

/** Rows per table, as printed by the CLI. */
export type TableCounts = Record<string, number>;

/** "queues 3, messages 5, …", as the CLI prints them. */
export function countsLine(c: TableCounts): string {
  return Object.entries(c)
    .map(([t, n]) => `${t} ${n}`)
    .join(", ");
}

export interface TransferResult {
  readonly counts: TableCounts;
  /** True when the target already held the same number of rows: nothing was written. */
  readonly alreadyDone: boolean;
}

export interface PostgresTarget {
  readonly uri: string;
  readonly schema: string;
}

/** The blob `name` of the schema; null when it has none, or no tables of ours yet. Writes nothing. */
export async function postgresBlob(pg: PostgresTarget, name: string): Promise<Uint8Array | null> {
  const sql = new SQL(pg.uri, { max: 1, connectionTimeout: 10 });
  try {
    const blobs = `${quoteIdent(pg.schema)}.blobs`;
    if (!(await sql`SELECT to_regclass(${blobs}) IS NOT NULL AS present`)[0].present) return null;
    const r = await sql.unsafe(`SELECT value FROM ${blobs} WHERE name = $1`, [name]);
    return r.length === 0 ? null : bytes(r[0].value as Uint8Array);
  } catch (e) {
    const err = toStoreError(e, "open");
    throw new StoreError(err.kind, `${err.message} [${redactUri(pg.uri)}, schema ${pg.schema}]`, { cause: e });
  } finally {
    await sql.close({ timeout: 0 });
  }
}

/** SQLite file → PostgreSQL schema (created if missing, as the reference's import does). */
export async function importSqliteToPostgres(sqlitePath: string, pg: PostgresTarget): Promise<TransferResult> {
  const lite = openSqliteStore({ path: sqlitePath });
  try {
    const conn = await PgConnection.open({ ...pg, createSchema: true, poolSize: 2 });
    try {
      const src = sqliteCounts(lite.db);
      const dst = await postgresCounts(conn.sql);
      if (decide(src, dst, "PostgreSQL schema " + pg.schema)) return { counts: src, alreadyDone: true };
      await conn.sql.begin(async (tx) => {
        for (const t of TABLES) {
          const q = lite.db.query(`SELECT ${t.columns.join(", ")} FROM ${t.name} ORDER BY ${t.key}`);
          let batch: Record<string, unknown>[] = [];
          for (const row of q.iterate() as IterableIterator<Record<string, unknown>>) {
            batch.push(row);
            if (batch.length === BATCH) {
              await pgInsert(tx, t, batch);
              batch = [];
            }
          }
          if (batch.length > 0) await pgInsert(tx, t, batch);
          if (t.identity !== undefined)
            await tx.unsafe(
              `SELECT setval(pg_get_serial_sequence('${t.name}', '${t.identity}'), coalesce(max(${t.identity}), 0) + 1, false) FROM ${t.name}`,
            );
        }
        for (const r of lite.db.query("SELECT name, value FROM counters").all() as { name: string; value: number }[])
          await tx`UPDATE counters SET value = ${r.value} WHERE name = ${r.name}`;
      });
      return { counts: src, alreadyDone: false };
    } finally {
      await conn.close();
    }
  } finally {
    await lite.close();
  }
}

/** PostgreSQL schema → SQLite file (created if missing). */
export async function exportPostgresToSqlite(pg: PostgresTarget, sqlitePath: string): Promise<TransferResult> {
  const conn = await PgConnection.open({ ...pg, createSchema: false, poolSize: 2 });
  try {
    const lite = openSqliteStore({ path: sqlitePath });
    try {
      const src = await postgresCounts(conn.sql);
      const dst = sqliteCounts(lite.db);
      if (decide(src, dst, "SQLite file " + sqlitePath)) return { counts: src, alreadyDone: true };
      const db = lite.db;
      db.run("BEGIN IMMEDIATE");
      try {
        for (const t of TABLES) {
          const ins = db.prepare(`INSERT INTO ${t.name} (${t.columns.join(", ")}) VALUES (${t.columns.map(() => "?").join(", ")})`);
          let after: unknown = null;
          for (;;) {
            const rows = (await conn.sql.unsafe(
              `SELECT ${t.columns.join(", ")} FROM ${t.name} ${after === null ? "" : `WHERE ${t.key} > $2`} ORDER BY ${t.key} LIMIT $1`,
              after === null ? [BATCH] : [BATCH, after],
            )) as Record<string, unknown>[];
            for (const r of rows) ins.run(...t.columns.map((c) => fromPg(t, c, r[c])));
            if (rows.length < BATCH) break;
            after = rows[rows.length - 1]![t.key];
          }
          ins.finalize();
        }
        const upd = db.prepare("UPDATE counters SET value = ? WHERE name = ?");
        for (const r of (await conn.sql`SELECT name, value FROM counters`) as { name: string; value: string }[])
          if ((COUNTERS as readonly string[]).includes(r.name)) upd.run(Number(r.value), r.name);
        upd.finalize();
        db.run("COMMIT");
      } catch (e) {
        db.run("ROLLBACK");
        throw e;
      }
      return { counts: src, alreadyDone: false };
    } finally {
      await lite.close();
    }
  } finally {
    await conn.close();
  }
}

/** False: copy into the empty target. True: the same counts are there already. Otherwise refuses. */
function decide(src: TableCounts, dst: TableCounts, target: string): boolean {
  const names = TABLES.map((t) => t.name);
  if (names.every((n) => dst[n] === 0)) return false;
  if (names.every((n) => dst[n] === src[n])) return true;
  throw new StoreError("internal", `${target} is not empty and differs from the source (target: ${countsLine(dst)}; source: ${countsLine(src)}); nothing was copied`);
}

function sqliteCounts(db: Database): TableCounts {
  const out: TableCounts = {};
  for (const t of TABLES) out[t.name] = (db.query(`SELECT count(*) AS n FROM ${t.name}`).get() as { n: number }).n;
  return out;
}

async function postgresCounts(sql: SQL): Promise<TableCounts> {
  const out: TableCounts = {};
  for (const t of TABLES) out[t.name] = Number((await sql.unsafe(`SELECT count(*) AS n FROM ${t.name}`))[0].n);
  return out;
}

async function pgInsert(tx: SQL, t: Table, rows: readonly Record<string, unknown>[]): Promise<void> {
  const n = t.columns.length;
  const params: unknown[] = [];
  const values: string[] = [];
  for (let i = 0; i < rows.length; i++) {
    values.push(`(${t.columns.map((_, j) => `$${i * n + j + 1}`).join(", ")})`);
    for (const c of t.columns) params.push(rows[i]![c] ?? null);
  }
  const overriding = t.identity !== undefined ? " OVERRIDING SYSTEM VALUE" : "";
  await tx.unsafe(`INSERT INTO ${t.name} (${t.columns.join(", ")})${overriding} VALUES ${values.join(", ")}`, params);
}

function fromPg(t: Table, column: string, v: unknown): SQLQueryBindings {
  if (v === null || v === undefined) return null;
  if (t.ints.has(column)) return Number(v);
  if (v instanceof Uint8Array) return bytes(v);
  return v as SQLQueryBindings;
}
