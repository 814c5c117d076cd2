// Schema versioning: old databases are migrated in place, newer ones refused untouched.
import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encodeKeys } from "../../src/store/codec.ts";
import { migrate, schemaVersion } from "../../src/store/sqlite/migrate.ts";
import { MIGRATIONS, SCHEMA_VERSION } from "../../src/store/sqlite/schema.ts";
import { openSqliteStore } from "../../src/store/sqlite/open.ts";
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
});
