// Schema versioning: old databases are migrated in place, newer ones refused untouched.
import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encodeKeys } from "../../src/store/codec.ts";
import { migrate, schemaVersion } from "../../src/store/sqlite/migrate.ts";
import { MIGRATIONS, SCHEMA_VERSION } from "../../src/store/sqlite/schema.ts";
import { openSqliteStore } from "../../src/store/sqlite/open.ts";
import type { MigrationPolicy } from "../../src/store/migration-confirmation.ts";
import { StoreError } from "../../src/store/types.ts";
import { randomId, spki, tempDir } from "./helpers.ts";

function openError(path: string): StoreError {
  try {
    openSqliteStore({ path }).close();
  } catch (e) {
    expect(e).toBeInstanceOf(StoreError);
    return e as StoreError;
  }
  throw new Error("expected the open to fail");
}

describe("migrations", () => {
  test("a version-1 database with data is migrated to the current version", async () => {
    expect(SCHEMA_VERSION).toBeGreaterThan(1);
    const { dir, cleanup } = tempDir();
    const path = join(dir, "smp.db");
    try {
      const old = new Database(path);
      expect(migrate(old, MIGRATIONS.slice(0, 1))).toEqual({ from: 0, to: 1 });
      const rid = randomId();
      old.run(
        "INSERT INTO queues(recipient_id, recipient_keys, rcv_dh_secret, sender_id, status, updated_at) VALUES (?,?,?,?,0,?)",
        [rid, encodeKeys([spki("rcv-auth-ed25519")]), randomId(32), randomId(), 86400],
      );
      old.run("INSERT INTO messages(qid, msg_id, ts_ms, flags, body) VALUES (1, ?, 5000, 0, ?)", [randomId(), new Uint8Array([7])]);
      old.run("UPDATE counters SET value = 1 WHERE name IN ('queues', 'messages')");
      old.close();

      const s = openSqliteStore({ path });
      expect(schemaVersion(s.db)).toBe(SCHEMA_VERSION);
      const q = (await s.queues.getQueueByRecipientId(rid))!;
      expect(q.recipientKeys).toEqual([spki("rcv-auth-ed25519")]);
      expect((await s.messages.peekMsg(q))!.body).toEqual(new Uint8Array([7]));
      expect(await s.stats()).toMatchObject({ queueCount: 1, messageCount: 1, ntfCount: 0 });
      // version-2 tables work
      await s.ntfs.addNtf(randomId(), { msgId: randomId(), tsMs: 1, nonce: randomId(), encMeta: randomId(144) });
      expect(await s.messages.expireMessages(10, 100)).toEqual({ expired: 1, done: false });
      await s.close();
      // opening again is a no-op migration
      const again = new Database(path);
      expect(migrate(again)).toEqual({ from: SCHEMA_VERSION, to: SCHEMA_VERSION });
      again.close();
    } finally {
      cleanup();
    }
  });

  test("a database from a newer server is refused with a clear message and not modified", () => {
    const { dir, cleanup } = tempDir();
    const path = join(dir, "smp.db");
    try {
      const db = new Database(path);
      db.run("CREATE TABLE future (x)");
      db.run(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
      db.close();
      const before = readFileSync(path);
      const e = openError(path);
      expect(e.kind).toBe("schema");
      expect(e.message).toContain(`schema version ${SCHEMA_VERSION + 1} is newer than this server supports (${SCHEMA_VERSION})`);
      expect(readFileSync(path).equals(before)).toBe(true);
    } finally {
      cleanup();
    }
  });

  test("a file that is not a database → StoreError(corrupt)", () => {
    const { dir, cleanup } = tempDir();
    const path = join(dir, "smp.db");
    try {
      writeFileSync(path, Buffer.alloc(4096, 0x41));
      expect(openError(path).kind).toBe("corrupt");
    } finally {
      cleanup();
    }
  });

  test("a failing migration leaves the database at its old version", () => {
    const { dir, cleanup } = tempDir();
    const path = join(dir, "smp.db");
    try {
      const db = new Database(path);
      migrate(db, MIGRATIONS.slice(0, 1));
      const broken = [...MIGRATIONS.slice(0, 1), { version: 2, name: "broken", up: (d: Database) => d.run("CREATE TABLE queues (x)") }];
      expect(() => migrate(db, broken)).toThrow();
      expect(schemaVersion(db)).toBe(1);
      db.close();
    } finally {
      cleanup();
    }
  });

  // Agent/Store/Migrations.hs:sharedMigrateSchema — a new database is created without asking; an
  // existing one is upgraded with MCYesUp/MCYesUpDown, after a "y" with MCConsole, never with MCError.
  describe("--confirm-migrations (MigrationConfirmation)", () => {
    const pendingNames = MIGRATIONS.slice(1).map((m) => m.name);
    function versionOne(): { path: string; cleanup: () => void } {
      const { dir, cleanup } = tempDir();
      const path = join(dir, "smp.db");
      const db = new Database(path);
      migrate(db, MIGRATIONS.slice(0, 1));
      db.close();
      return { path, cleanup };
    }
    function versionAfterOpen(path: string, migrations: MigrationPolicy): number | StoreError {
      try {
        const s = openSqliteStore({ path, migrations });
        const v = schemaVersion(s.db);
        s.close();
        return v;
      } catch (e) {
        if (e instanceof StoreError) return e;
        throw e;
      }
    }
    function fileVersion(path: string): number {
      const db = new Database(path, { readonly: true });
      const v = schemaVersion(db);
      db.close();
      return v;
    }

    test("a new database is created at the latest version even with 'error'", () => {
      const { dir, cleanup } = tempDir();
      try {
        expect(versionAfterOpen(join(dir, "new.db"), { confirm: "error" })).toBe(SCHEMA_VERSION);
      } finally {
        cleanup();
      }
    });

    test("'error' and an unanswered or declined 'console' refuse to upgrade and change nothing", () => {
      const { path, cleanup } = versionOne();
      try {
        const questions: string[] = [];
        const policies: MigrationPolicy[] = [
          { confirm: "error" },
          { confirm: "console" },
          { confirm: "console", ask: (q) => (questions.push(q), false) },
        ];
        for (const p of policies) {
          const before = readFileSync(path);
          const e = versionAfterOpen(path, p);
          expect(e).toBeInstanceOf(StoreError);
          expect((e as StoreError).kind).toBe("schema");
          expect((e as StoreError).message).toContain(`needs these migrations: ${pendingNames.join(", ")}`);
          expect((e as StoreError).message).toContain("--confirm-migrations up");
          expect(readFileSync(path).equals(before)).toBe(true);
        }
        expect(questions).toEqual([`The app has a newer version than the database.\nConfirm to upgrade using these migrations: ${pendingNames.join(", ")}`]);
        expect(fileVersion(path)).toBe(1);
      } finally {
        cleanup();
      }
    });

    for (const p of [{ confirm: "yesUp" }, { confirm: "yesUpDown" }, { confirm: "console", ask: () => true }] as MigrationPolicy[])
      test(`'${p.confirm}'${p.ask ? " answered y" : ""} upgrades an existing database`, () => {
        const { path, cleanup } = versionOne();
        try {
          expect(versionAfterOpen(path, p)).toBe(SCHEMA_VERSION);
          expect(fileVersion(path)).toBe(SCHEMA_VERSION);
        } finally {
          cleanup();
        }
      });

    test("a newer database is refused even with 'yesUpDown': no down-migrations are known", () => {
      const { dir, cleanup } = tempDir();
      const path = join(dir, "smp.db");
      try {
        const db = new Database(path);
        db.run(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
        db.close();
        const e = versionAfterOpen(path, { confirm: "yesUpDown" }) as StoreError;
        expect(e.message).toContain(`version ${SCHEMA_VERSION + 1} is newer than this server supports (${SCHEMA_VERSION}) and has no down-migrations known to it`);
        expect(fileVersion(path)).toBe(SCHEMA_VERSION + 1);
      } finally {
        cleanup();
      }
    });
  });
});
