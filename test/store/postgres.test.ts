// PostgreSQL-only behaviour of the store (the backend-neutral tests run on it through
// backends.ts): schema versions, group commit, errors naming the database without its password.
import { SQL } from "bun";
import { afterAll, describe, expect, test } from "bun:test";
import type { MigrationPolicy } from "../../src/store/migration-confirmation.ts";
import { pgMigrate, pgSchemaVersion } from "../../src/store/postgres/migrate.ts";
import { openPostgresStore } from "../../src/store/postgres/open.ts";
import { PG_MIGRATIONS, PG_SCHEMA_VERSION, type PgMigration } from "../../src/store/postgres/schema.ts";
import { StoreError } from "../../src/store/types.ts";
import { created, newMsg } from "./helpers.ts";
import { CuttableRelay } from "./postgres-proxy.ts";
import { dropTestSchemas, testPostgresUri, testSchemaName } from "./postgres.ts";

const uri = testPostgresUri();

(uri === null ? describe.skip : describe)("postgres store", () => {
  const pgUri = uri ?? "";
  const schemas: string[] = [];
  const schema = () => {
    const s = testSchemaName();
    schemas.push(s);
    return s;
  };
  const admin = new SQL(pgUri, { max: 1 });
  afterAll(async () => {
    await admin.close();
    await dropTestSchemas(pgUri, schemas);
  });

  test("a new schema is created at the current version; reopening migrates nothing", async () => {
    const sc = schema();
    expect(await pgSchemaVersion(admin, sc)).toBe(0);
    const s = await openPostgresStore({ uri: pgUri, schema: sc, poolSize: 2, createSchema: true });
    await s.close();
    expect(await pgSchemaVersion(admin, sc)).toBe(PG_SCHEMA_VERSION);
    const s2 = await openPostgresStore({ uri: pgUri, schema: sc, poolSize: 2, createSchema: true });
    await s2.close();
    const rows = await admin.unsafe(`SELECT version FROM "${sc}".schema_version`);
    expect(rows.map((r: { version: number }) => r.version)).toEqual(PG_MIGRATIONS.map((m) => m.version));
  });

  test("a schema name with capitals is used exactly as written", async () => {
    const sc = "Mixed_" + schema();
    schemas.push(sc);
    const s = await openPostgresStore({ uri: pgUri, schema: sc, poolSize: 2, createSchema: true });
    const q = await created(s);
    await s.close();
    const rows = await admin.unsafe(`SELECT count(*)::int AS n FROM "${sc}".queues`);
    expect(rows[0].n).toBe(1);
    const again = await openPostgresStore({ uri: pgUri, schema: sc, poolSize: 2 });
    expect((await again.queues.getQueueByRecipientId(q.recipientId))?.key).toBe(q.key);
    await again.close();
  });

  test("a missing schema is refused unless asked to create it (the server's start does not)", async () => {
    const sc = schema();
    const e = await openPostgresStore({ uri: pgUri, schema: sc }).then(
      () => null,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(StoreError);
    expect((e as StoreError).message).toContain(`schema "${sc}" does not exist`);
    expect((await admin`SELECT 1 FROM pg_namespace WHERE nspname = ${sc}`).length).toBe(0);
    await admin.unsafe(`CREATE SCHEMA "${sc}"`);
    const s = await openPostgresStore({ uri: pgUri, schema: sc, poolSize: 2 });
    await s.close();
    expect(await pgSchemaVersion(admin, sc)).toBe(PG_SCHEMA_VERSION);
  });

  test("a schema from a newer server is refused with both versions named, and not modified", async () => {
    const sc = schema();
    await (await openPostgresStore({ uri: pgUri, schema: sc, poolSize: 2, createSchema: true })).close();
    await admin.unsafe(`INSERT INTO "${sc}".schema_version(version, name) VALUES (${PG_SCHEMA_VERSION + 1}, 'future')`);
    const before = await admin.unsafe(`SELECT count(*)::int AS n FROM "${sc}".schema_version`);
    const e = await openPostgresStore({ uri: pgUri, schema: sc, poolSize: 2, createSchema: true }).then(
      () => null,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(StoreError);
    expect((e as StoreError).kind).toBe("schema");
    expect((e as StoreError).message).toContain(`version ${PG_SCHEMA_VERSION + 1}`);
    expect((e as StoreError).message).toContain(`(${PG_SCHEMA_VERSION})`);
    expect(await admin.unsafe(`SELECT count(*)::int AS n FROM "${sc}".schema_version`)).toEqual(before);
  });

  // Agent/Store/Migrations.hs:sharedMigrateSchema with the server's policies (migration-confirmation.ts);
  // a second migration stands in for the next release's.
  test("--confirm-migrations: an existing schema is upgraded only as confirmed; a new one without asking", async () => {
    const next: PgMigration = { version: PG_SCHEMA_VERSION + 1, name: "next release", up: ["CREATE TABLE next_release (x INT)"] };
    const all = [...PG_MIGRATIONS, next];
    const fresh = schema();
    expect(await pgMigrate(admin, fresh, true, all, { confirm: "error" })).toEqual({ from: 0, to: next.version });
    const sc = schema();
    await pgMigrate(admin, sc, true);
    const questions: string[] = [];
    for (const p of [{ confirm: "error" }, { confirm: "console" }, { confirm: "console", ask: (q: string) => (questions.push(q), false) }] as MigrationPolicy[]) {
      const e = await pgMigrate(admin, sc, false, all, p).then(
        () => null,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(StoreError);
      expect((e as StoreError).message).toContain(`needs these migrations: ${next.name}`);
      expect(await pgSchemaVersion(admin, sc)).toBe(PG_SCHEMA_VERSION);
    }
    expect(questions).toEqual([`The app has a newer version than the database.\nConfirm to upgrade using these migrations: ${next.name}`]);
    expect(await pgMigrate(admin, sc, false, all, { confirm: "console", ask: () => true })).toEqual({ from: PG_SCHEMA_VERSION, to: next.version });
    expect((await admin`SELECT to_regclass(${`"${sc}".next_release`}) IS NOT NULL AS t`)[0].t).toBe(true);
    // Newer than this server: refused with any policy (no down-migrations are known).
    const e = await pgMigrate(admin, sc, false, PG_MIGRATIONS, { confirm: "yesUpDown" }).then(
      () => null,
      (x: unknown) => x,
    );
    expect((e as StoreError).message).toContain(`version ${next.version} is newer than this server supports (${PG_SCHEMA_VERSION}) and has no down-migrations`);
  });

  test("an unreachable database → StoreError(io) naming the URI without its password", async () => {
    // Port 1 on 127.0.0.1: nothing listens there, the connection is refused at once.
    const bad = "postgresql://smp:s3cret-pw@127.0.0.1:1/smp";
    const e = await openPostgresStore({ uri: bad, schema: "x" }).then(
      () => null,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(StoreError);
    expect((e as StoreError).kind).toBe("io");
    expect((e as StoreError).message).toContain("postgresql://smp:***@127.0.0.1:1/smp");
    expect((e as StoreError).message).not.toContain("s3cret-pw");
  });

  test("writes queued together share one COMMIT, and each resolves only after it", async () => {
    const s = await openPostgresStore({ uri: pgUri, schema: schema(), poolSize: 2, createSchema: true });
    try {
      const q = await created(s);
      await s.flush();
      const c0 = s.conn.commits;
      const writes = [];
      for (let i = 0; i < 50; i++) writes.push(s.messages.writeMsg(q, newMsg()));
      const results = await Promise.all(writes);
      expect(results[0]).toBe("OK_EMPTY");
      expect(results.slice(1).every((r) => r === "OK")).toBe(true);
      expect(s.conn.commits).toBe(c0 + 1);
      // Committed means visible to another connection.
      const n = await admin.unsafe(`SELECT count(*)::int AS n FROM "${s.conn.schema}".messages`);
      expect(n[0].n).toBe(50);
      expect((await s.stats()).messageCount).toBe(50);
    } finally {
      await s.close();
    }
  });
});

(uri === null ? describe.skip : describe)("postgres store: connection lost and back", () => {
  const pgUri = uri ?? "";
  const sc = testSchemaName();
  afterAll(() => dropTestSchemas(pgUri, [sc]));

  test("operations fail with StoreError(io) while PostgreSQL is unreachable, and work again when it is back (no reopen)", async () => {
    const target = new URL(pgUri);
    const relay = new CuttableRelay(target.hostname, Number(target.port || 5432));
    relay.up();
    const via = new URL(pgUri);
    via.port = String(relay.port);
    const s = await openPostgresStore({ uri: via.toString(), schema: sc, poolSize: 2, createSchema: true });
    try {
      const q = await created(s);
      expect(await s.messages.writeMsg(q, newMsg())).toBe("OK_EMPTY");

      relay.cut();
      const failed = await s.messages.writeMsg(q, newMsg()).then(
        () => null,
        (e: unknown) => e,
      );
      expect(failed).toBeInstanceOf(StoreError);
      expect((failed as StoreError).kind).toBe("io");
      const readFailed = await s.messages.queueSize(q).then(
        () => null,
        (e: unknown) => e,
      );
      expect(readFailed).toBeInstanceOf(StoreError);

      relay.up();
      // The first attempts may still meet connections the pool has not seen closing yet.
      let size: number | null = null;
      for (let i = 0; i < 20 && size === null; i++) size = await s.messages.queueSize(q).catch(() => null);
      expect(size).toBe(1);
      let w: string | null = null;
      for (let i = 0; i < 20 && w === null; i++) w = await s.messages.writeMsg(q, newMsg()).catch(() => null);
      expect(w).toBe("OK");
      expect(await s.messages.queueSize(q)).toBe(2);
      expect((await s.stats()).messageCount).toBe(2);
    } finally {
      relay.cut();
      await s.close().catch(() => {});
    }
  });
});
