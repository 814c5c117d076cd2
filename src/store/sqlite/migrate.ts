/** Brings a database to `SCHEMA_VERSION`, or refuses one written by a newer server. */
import type { Database } from "bun:sqlite";
import { StoreError } from "../types.ts";
import { MIGRATIONS, type Migration } from "./schema.ts";

export function schemaVersion(db: Database): number {
  const row = db.query("PRAGMA user_version").get() as { user_version: number };
  return row.user_version;
}

/**
 * Throws `StoreError("schema")` without writing anything when the database is newer than
 * `migrations`; otherwise applies the missing ones in one transaction (all or nothing).
 */
export function migrate(db: Database, migrations: readonly Migration[] = MIGRATIONS): { from: number; to: number } {
  const from = schemaVersion(db);
  const latest = migrations[migrations.length - 1]!.version;
  if (from > latest)
    throw new StoreError(
      "schema",
      `store database schema version ${from} is newer than this server supports (${latest}); ` +
        "run the newer smp-server version that created it, or restore a backup",
    );
  if (from === latest) return { from, to: latest };
  db.transaction(() => {
    for (const m of migrations) {
      if (m.version <= from) continue;
      m.up(db);
      db.run(`PRAGMA user_version = ${m.version | 0}`);
    }
  })();
  return { from, to: latest };
}
