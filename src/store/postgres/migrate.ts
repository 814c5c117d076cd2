/**
 * Creates the schema or brings it to `PG_SCHEMA_VERSION`, or refuses one written by a newer
 * server — the rules of `../sqlite/migrate.ts`, with the same `MigrationPolicy` (a schema without
 * our tables is new and created without asking). All of it runs in one transaction under an
 * advisory lock, so two servers starting on the same schema do not both migrate.
 */
import type { SQL } from "bun";
import { confirmUpgrade, newerSchemaError, YES_UP, type MigrationPolicy } from "../migration-confirmation.ts";
import { StoreError } from "../types.ts";
import { PG_MIGRATIONS, type PgMigration } from "./schema.ts";

/** A schema name as a quoted identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** The schema's version, 0 when it has no tables of ours yet. Writes nothing. */
export async function pgSchemaVersion(sql: SQL, schema: string): Promise<number> {
  const t = await sql`SELECT to_regclass(${quoteIdent(schema) + ".schema_version"}) IS NOT NULL AS present`;
  if (!t[0].present) return 0;
  const r = await sql.unsafe(`SELECT max(version) AS v FROM ${quoteIdent(schema)}.schema_version`);
  return Number(r[0]?.v ?? 0);
}

function newerError(schema: string, from: number, latest: number): StoreError {
  return newerSchemaError(`store database schema "${schema}"`, from, latest);
}

/**
 * `createSchema` false (the server's start, as the reference's `createSchema = False`): a
 * missing schema is refused — it means a wrong URI or a lost database, and silently starting
 * empty would lose every queue. The operator creates the empty schema once (README recipe).
 */
export async function pgMigrate(
  sql: SQL,
  schema: string,
  createSchema: boolean,
  migrations: readonly PgMigration[] = PG_MIGRATIONS,
  policy: MigrationPolicy = YES_UP,
): Promise<{ from: number; to: number }> {
  const latest = migrations[migrations.length - 1]!.version;
  if (!createSchema && (await sql`SELECT 1 FROM pg_namespace WHERE nspname = ${schema}`).length === 0)
    throw new StoreError(
      "schema",
      `schema "${schema}" does not exist in the database; if this is a new server, create it: CREATE SCHEMA ${quoteIdent(schema)}`,
    );
  const seen = await pgSchemaVersion(sql, schema);
  if (seen > latest) throw newerError(schema, seen, latest);
  if (seen === latest) return { from: seen, to: latest };
  // Asked before the transaction: the operator's answer must not hold the lock (or a connection) open.
  const pending = (v: number): string[] => migrations.filter((m) => m.version > v).map((m) => m.name);
  if (seen > 0) confirmUpgrade(policy, `the store database schema "${schema}" (version ${seen})`, pending(seen));
  const s = quoteIdent(schema);
  const from = await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(hashtext(${"smp-server migrate " + schema}))`;
    await tx.unsafe(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await tx.unsafe(`SET LOCAL search_path TO ${s}`);
    await tx.unsafe("CREATE TABLE IF NOT EXISTS schema_version (version INT NOT NULL, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())");
    const r = await tx.unsafe("SELECT coalesce(max(version), 0) AS v FROM schema_version");
    const v = Number(r[0].v);
    if (v > latest) throw newerError(schema, v, latest);
    // New when looked at, but another server created tables meanwhile: an existing schema now.
    if (v > 0 && seen === 0) confirmUpgrade(policy, `the store database schema "${schema}" (version ${v})`, pending(v));
    for (const m of migrations) {
      if (m.version <= v) continue;
      for (const st of m.up) await tx.unsafe(st);
      await tx`INSERT INTO schema_version(version, name) VALUES (${m.version}, ${m.name})`;
    }
    return v;
  });
  return { from, to: latest };
}
