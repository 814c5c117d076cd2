// `database import|export`: SQLite → PostgreSQL → SQLite gives back identical tables (ids, order,
// quota markers, service hashes, counters); a second run changes nothing; a different non-empty
// target is refused untouched.
import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { openPostgresStore } from "../../src/store/postgres/open.ts";
import { openSqliteStore } from "../../src/store/sqlite/open.ts";
import { exportPostgresToSqlite, importSqliteToPostgres } from "../../src/store/transfer.ts";
import { StoreError } from "../../src/store/types.ts";
import { created, newMsg, newQueue, randomId, spki, tempDir } from "./helpers.ts";
import { dropTestSchemas, testPostgresUri, testSchemaName } from "./postgres.ts";

const uri = testPostgresUri();

const TABLES: Record<string, string> = { queues: "qid", messages: "seq", ntfs: "seq", services: "service_id", blobs: "name", counters: "name" };

function dump(path: string): Record<string, unknown[]> {
  const db = new Database(path, { readonly: true });
  try {
    const out: Record<string, unknown[]> = {};
    for (const [t, key] of Object.entries(TABLES)) out[t] = db.query(`SELECT * FROM ${t} ORDER BY ${key}`).all();
    return out;
  } finally {
    db.close();
  }
}

/** A store with every kind of row: services, links, notifiers, messages up to a quota marker, notifications, a blob. */
async function populate(path: string): Promise<void> {
  const s = openSqliteStore({ path, msgQueueQuota: 3 });
  const svc = { serviceId: randomId(), role: "N" as const, certChain: [randomId(300), randomId(200)], certHash: randomId(32), createdAt: 86400 * 3 };
  await s.services.getCreateService(svc);
  const rcvSvc = { serviceId: randomId(), role: "M" as const, certChain: [randomId(100)], certHash: randomId(32), createdAt: 86400 * 4 };
  await s.services.getCreateService(rcvSvc);
  for (let i = 0; i < 30; i++) {
    const notifier = i % 2 === 0 ? { notifierId: randomId(), notifierKey: spki("ntf-auth-ed25519"), rcvNtfDhSecret: randomId(32), serviceId: i % 4 === 0 ? svc.serviceId : null } : null;
    const q = await created(
      s,
      newQueue({
        notifier,
        senderKey: i % 3 === 0 ? spki("snd-auth-ed25519") : null,
        link: i % 5 === 0 ? { linkId: randomId(), fixed: randomId(50), user: randomId(70) } : null,
        rcvServiceId: i % 6 === 0 ? rcvSvc.serviceId : null,
        status: i === 7 ? "blocked" : i === 8 ? "off" : "active",
        blockingInfo: i === 7 ? new TextEncoder().encode("reason=spam") : null,
        updatedAt: i === 9 ? null : 86400 * (19000 + i),
      }),
    );
    for (let m = 0; m < i % 5; m++) await s.messages.writeMsg(q, newMsg({ notification: m % 2 === 0 }));
    if (notifier !== null) await s.ntfs.addNtf(notifier.notifierId, { msgId: randomId(), tsMs: 1_700_000_000_123 + i, nonce: randomId(), encMeta: randomId(100) });
    if (i === 12) await s.queues.deleteQueue(q);
  }
  await s.putBlob("stats", randomId(500));
  await s.close();
}

(uri === null ? describe.skip : describe)("database import / export (SQLite ↔ PostgreSQL)", () => {
  const pgUri = uri ?? "";
  const schemas: string[] = [];
  const { dir, cleanup } = tempDir();
  afterAll(async () => {
    cleanup();
    await dropTestSchemas(pgUri, schemas);
  });

  test("round trip gives identical tables; a second run is a no-op; the PostgreSQL copy works as a store", async () => {
    const src = join(dir, "src.sqlite");
    const back = join(dir, "back.sqlite");
    await populate(src);
    const schema = testSchemaName();
    schemas.push(schema);
    const pg = { uri: pgUri, schema };

    const imported = await importSqliteToPostgres(src, pg);
    expect(imported.alreadyDone).toBe(false);
    expect(imported.counts).toMatchObject({ queues: 29, services: 2, blobs: 1 });
    expect(imported.counts.messages).toBeGreaterThan(0);
    expect((await importSqliteToPostgres(src, pg)).alreadyDone).toBe(true);

    const exported = await exportPostgresToSqlite(pg, back);
    expect(exported).toEqual({ counts: imported.counts, alreadyDone: false });
    expect(dump(back)).toEqual(dump(src));
    expect((await exportPostgresToSqlite(pg, back)).alreadyDone).toBe(true);

    // The imported schema is a working store: same stats, messages in order, new ids above the copied ones.
    const lite = openSqliteStore({ path: src });
    const litestats = await lite.stats();
    await lite.close();
    const s = await openPostgresStore({ ...pg, msgQueueQuota: 3 });
    try {
      expect(await s.stats()).toEqual(litestats);
      const q = await created(s);
      expect(q.key).toBeGreaterThan(30);
      expect(await s.messages.writeMsg(q, newMsg())).toBe("OK_EMPTY");
    } finally {
      await s.close();
    }
  });

  test("a non-empty target with other data is refused and left as it was", async () => {
    const a = join(dir, "a.sqlite");
    await populate(a);
    const schema = testSchemaName();
    schemas.push(schema);
    const s = await openPostgresStore({ uri: pgUri, schema, createSchema: true });
    await created(s);
    await s.close();
    const e = await importSqliteToPostgres(a, { uri: pgUri, schema }).then(
      () => null,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(StoreError);
    expect((e as StoreError).message).toContain("is not empty and differs");
    const again = await openPostgresStore({ uri: pgUri, schema });
    expect((await again.stats()).queueCount).toBe(1);
    await again.close();
  });
});
