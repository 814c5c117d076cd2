/** Brings a database to `SCHEMA_VERSION`, or refuses one written by a newer server. */
import type { Database } from "bun:sqlite";
import { confirmUpgrade, newerSchemaError, YES_UP, type MigrationPolicy } from "../migration-confirmation.ts";
import { MIGRATIONS, type Migration } from "./schema.ts";

export function schemaVersion(db: Database): number {
  const row = db.query("PRAGMA user_version").get() as { user_version: number };
  return row.user_version;
}

/**
 * Throws `StoreError("schema")` without writing anything when the database is newer than
 * `migrations`, or when `policy` does not confirm upgrading an existing one; otherwise applies
 * the missing ones in one transaction (all or nothing). Version 0 is a new database (the
 * reference's `dbNew`): it is created without asking.
 */
export function migrate(db: Database, migrations: readonly Migration[] = MIGRATIONS, policy: MigrationPolicy = YES_UP): { from: number; to: number } {
  const from = schemaVersion(db);
  const latest = migrations[migrations.length - 1]!.version;
  if (from > latest) throw newerSchemaError("store database schema", from, latest);
  if (from === latest) return { from, to: latest };
  if (from > 0)
    confirmUpgrade(
      policy,
      `the store database (schema version ${from})`,
      migrations.filter((m) => m.version > from).map((m) => m.name),
    );
  db.transaction(() => {
    for (const m of migrations) {
      if (m.version <= from) continue;
      m.up(db);
      db.run(`PRAGMA user_version = ${m.version | 0}`);
    }
  })();
  return { from, to: latest };
}
