// StoreCluster's JOBS members on PostgreSQL (src/store/postgres/jobs.ts): two stores on one
// schema stand for two nodes. Leadership is a session advisory lock: one node leads a job, the
// other takes it over when the first closes or loses its session; per-node statistics are rows.
import { SQL } from "bun";
import { afterAll, describe, expect, test } from "bun:test";
import { openPostgresStore, type PostgresStore } from "../../src/store/postgres/open.ts";
import { dropTestSchemas, testPostgresUri, testSchemaName } from "./postgres.ts";

const uri = testPostgresUri();

(uri === null ? describe.skip : describe)("cluster jobs on postgres", () => {
  const pgUri = uri ?? "";
  const schemas: string[] = [];
  const admin = new SQL(pgUri, { max: 1 });
  afterAll(async () => {
    await admin.close();
    await dropTestSchemas(pgUri, schemas);
  });
  const twoNodes = async (): Promise<[PostgresStore, PostgresStore, string]> => {
    const schema = testSchemaName();
    schemas.push(schema);
    const a = await openPostgresStore({ uri: pgUri, schema, poolSize: 2, createSchema: true });
    const b = await openPostgresStore({ uri: pgUri, schema, poolSize: 2 });
    return [a, b, schema];
  };

  test("one node leads a job; the other takes it over when the first closes", async () => {
    const [a, b] = await twoNodes();
    expect(await a.cluster.lead("expire-messages")).toBe(true);
    expect(await b.cluster.lead("expire-messages")).toBe(false);
    // Asking again keeps it where it is.
    expect(await a.cluster.lead("expire-messages")).toBe(true);
    expect(await b.cluster.lead("expire-messages")).toBe(false);
    // Another job is led independently.
    expect(await b.cluster.lead("expire-ntfs")).toBe(true);
    expect(await a.cluster.lead("expire-ntfs")).toBe(false);
    await a.close();
    expect(await b.cluster.lead("expire-messages")).toBe(true);
    expect(await b.cluster.lead("expire-ntfs")).toBe(true);
    await b.close();
  });

  test("a node whose session is lost loses its jobs, and asks again", async () => {
    const [a, b, schema] = await twoNodes();
    expect(await a.cluster.lead("expire-messages")).toBe(true);
    expect(await b.cluster.lead("expire-messages")).toBe(false);
    // Ends a's lock session from outside, as a network failure or a PostgreSQL restart would.
    const holders = await admin`
      SELECT pid FROM pg_locks
      WHERE locktype = 'advisory' AND objsubid = 2 AND granted
        AND classid::text::bigint = (hashtext(${schema})::bigint + 4294967296) % 4294967296
        AND objid::text::bigint = (hashtext(${"expire-messages"})::bigint + 4294967296) % 4294967296`;
    expect(holders.length).toBe(1);
    await admin`SELECT pg_terminate_backend(${holders[0].pid})`;
    // The lock goes with the backend process, once it has exited.
    while (!(await b.cluster.lead("expire-messages"))) await Bun.sleep(10);
    expect(await a.cluster.lead("expire-messages")).toBe(false);
    await b.close();
    // a's new session gets it now.
    expect(await a.cluster.lead("expire-messages")).toBe(true);
    await a.close();
  });

  test("a node's name is held by one process at a time, apart from the jobs", async () => {
    const [a, b] = await twoNodes();
    expect(await a.cluster.claimNode("host-1")).toBe(true);
    // The same name again (the server started twice, two machines with one name): refused.
    expect(await b.cluster.claimNode("host-1", 0)).toBe(false);
    expect(await b.cluster.claimNode("host-2")).toBe(true);
    // A single server's "" is a name like the others.
    expect(await a.cluster.claimNode("")).toBe(true);
    expect(await b.cluster.claimNode("", 0)).toBe(false);
    // Names and jobs do not collide.
    expect(await b.cluster.lead("expire-messages")).toBe(true);
    await a.close();
    expect(await b.cluster.claimNode("host-1")).toBe(true);
    await b.close();
  });

  test("a start waits for the name of a process that is going away (a restart right after kill -9)", async () => {
    const [a, b] = await twoNodes();
    expect(await a.cluster.claimNode("host-1")).toBe(true);
    // b asks while a still holds the name; a's session then ends: b gets it without being refused.
    const claim = b.cluster.claimNode("host-1", 60_000);
    let settled = false;
    void claim.then(() => (settled = true));
    expect(await b.cluster.claimNode("host-x", 0)).toBe(true); // b's session answers meanwhile
    expect(settled).toBe(false);
    await a.close();
    expect(await claim).toBe(true);
    await b.close();
  });

  test("each node's statistics are one row, replaced at each publication", async () => {
    const [a, b] = await twoNodes();
    const before = Math.floor(Date.now() / 1000);
    await a.cluster.putNodeStats("host-1", '{"n":1}');
    await b.cluster.putNodeStats("host-2", '{"n":2}');
    await a.cluster.putNodeStats("host-1", '{"n":3}');
    const rows = await b.cluster.nodeStats();
    expect(rows.map((r) => [r.node, r.json])).toEqual([
      ["host-1", '{"n":3}'],
      ["host-2", '{"n":2}'],
    ]);
    for (const r of rows) expect(r.updatedAt).toBeGreaterThanOrEqual(before);
    // Other blobs (the saved counters) are not node statistics.
    await a.putBlob("server-stats", new Uint8Array([1]));
    expect((await a.cluster.nodeStats()).length).toBe(2);
    await a.close();
    await b.close();
  });
});
