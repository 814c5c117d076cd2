// Two nodes of one server on one PostgreSQL schema (issue 18), as two servers in this process:
// each control port says which node answered, lists the cluster's nodes with their last
// publication, and gives the cluster's totals beside its own counters; the metrics name the node.
// Message expiry runs on the node that leads it, not on every node.
import { SQL } from "bun";
import { afterAll, beforeAll, describe, expect, setSystemTime, spyOn, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer, type RunningServer } from "../../../src/server/index.ts";
import { METRICS_FILE, nodeFileName } from "../../../src/server/monitor/index.ts";
import { DAILY_FILE } from "../../../src/server/monitor/daily.ts";
import type { ServerOptions } from "../../../src/server/options.ts";
import { setLogLevel, setLogSink } from "../../../src/util/log.ts";
import { dropTestSchemas, testPostgresUri, testSchemaName } from "../../store/postgres.ts";
import { openTestStore, testOptions } from "../harness.ts";
import { closeAll, connect, OK, send, sr } from "../helpers.ts";
import { ControlClient } from "./control-client.ts";

const uri = testPostgresUri();
const ADMIN = "admin-secret";

(uri === null ? describe.skip : describe)("two nodes on one store", () => {
  const schema = testSchemaName();
  const dir = mkdtempSync(join(tmpdir(), "smp-nodes-"));
  let a: RunningServer;
  let b: RunningServer | null;
  const node = (index: number): ServerOptions => ({
    ...testOptions({ control: { port: 0, adminPassword: ADMIN, dailyBlockQueueQuota: 0 }, store: { postgres: { uri: uri!, schema, poolSize: 3 } } }, dir),
    node: { index, count: 2, name: `t-${index}` },
  });
  const start = async (o: ServerOptions) => startServer(o, await openTestStore(o));
  beforeAll(async () => {
    setLogLevel("error");
    a = await start(node(1));
    b = await start(node(2));
  });
  afterAll(async () => {
    await a.close();
    await b?.close();
    setLogLevel("info");
    rmSync(dir, { recursive: true, force: true });
    await dropTestSchemas(uri!, [schema]);
  });
  const control = (s: RunningServer, cmd: string): Promise<string[]> => ControlClient.command(s.control!.port, ADMIN, cmd);

  test("each node answers as itself, with the cluster's nodes and totals", async () => {
    const client = await connect({ address: `smp://${Buffer.from(node(2).credentials.fingerprint).toString("base64url")}=@127.0.0.1:${b!.ports[0]}` });
    try {
      await client.createQueue({ authAlg: "ed25519" });
      // `save` on b publishes its figures now (otherwise every 15 s).
      expect(await control(b!, "save")).toEqual(["saving server state...", "server state saved!"]);

      const info = await control(a, "server-info");
      expect(info).toContain("Node: t-1 (1 of 2 on its machine)");
      expect(info.find((l) => l.startsWith("Cluster nodes: "))).toMatch(/^Cluster nodes: 2, clients: 1, SMP subscriptions: \d+, Ntf subscriptions: 0$/);
      expect(info.find((l) => l.startsWith("Node t-1: "))).toMatch(/^Node t-1: live, updated .* UTC \(\d+ s ago\), clients 0, SMP subscriptions 0, Ntf subscriptions 0$/);
      expect(info.find((l) => l.startsWith("Node t-2: "))).toMatch(/^Node t-2: live, updated .* UTC \(\d+ s ago\), clients 1, /);

      const stats = await control(a, "stats");
      expect(stats).toContain("qCreated: 0");
      expect(stats).toContain("node: t-1");
      expect(stats).toContain("cluster nodes: 2");
      expect(stats).toContain("cluster live nodes: 2");
      expect(stats).toContain("cluster qCreated: 1");
      expect((await control(b!, "stats")).filter((l) => /^(qCreated|node|cluster qCreated): /.test(l))).toEqual(["qCreated: 1", "node: t-2", "cluster qCreated: 1"]);

      const clients = await control(b!, "clients");
      expect(clients[0]).toBe("clientId,sessionId,connected,createdAt,rcvActiveAt,sndActiveAt,age,subscriptions,node");
      expect(clients.length).toBe(2);
      expect(clients[1]).toEndWith(",t-2");

      const metrics = await a.monitor.metricsText();
      expect(metrics).toContain('simplex_smp_node_info{node="t-1",index="1",count="2"} 1\n');
      expect(metrics).toContain('simplex_smp_cluster_nodes{state="live"} 2\n');
      expect(metrics).toContain('simplex_smp_cluster_counter{counter="qCreated"} 1\n');
      expect(metrics).toContain("simplex_smp_cluster_clients 1\n");
    } finally {
      closeAll([client]);
    }
  });

  test("a stopped node is listed as stopped; its counters stay in the totals", async () => {
    await b!.close();
    b = null;
    const info = await control(a, "server-info");
    expect(info.find((l) => l.startsWith("Cluster nodes: "))).toBe("Cluster nodes: 2, clients: 0, SMP subscriptions: 0, Ntf subscriptions: 0");
    expect(info.find((l) => l.startsWith("Node t-2: "))).toMatch(/^Node t-2: stopped, .*, clients 0, SMP subscriptions 0, Ntf subscriptions 0$/);
    expect(await control(a, "stats")).toContain("cluster qCreated: 1");
  });

  test("a node with no counters of its own beside stopped nodes' is warned about (a renamed node?); running nodes are not named", async () => {
    const warnings = await logged(async () => {
      const c = await start({ ...node(2), node: { index: 2, count: 2, name: "t-9" } });
      await c.close();
    });
    expect(warnings).toContain(
      "no saved counters for node t-9, but the store has statistics of t-2: if this is not a new node but a renamed one (a changed host name, e.g. a new container), its counters start from zero; set [NODES] name to keep a machine's name stable",
    );
  });

  test("a plain server on the store (no node) keeps the reference's counters blob and control output", async () => {
    const plain: ServerOptions = testOptions({ control: { port: 0, adminPassword: ADMIN, dailyBlockQueueQuota: 0 }, store: { postgres: { uri: uri!, schema, poolSize: 3 } } }, dir);
    let p: RunningServer | undefined;
    const warnings = await logged(async () => {
      p = await start(plain);
    });
    expect(warnings.some((w) => w.startsWith("no saved counters for this server (no [NODES] name), but the store has statistics of t-2, t-9:"))).toBe(true);
    try {
      // Server.hs:processCommand CPClients: the reference's header, no node column.
      expect((await control(p!, "clients"))[0]).toBe("clientId,sessionId,connected,createdAt,rcvActiveAt,sndActiveAt,age,subscriptions");
      expect((await control(p!, "server-info")).filter((l) => /^(Node|Cluster)/.test(l))).toEqual([]);
      expect((await control(p!, "stats")).filter((l) => /^(node|cluster)/.test(l))).toEqual([]);
      expect(await p!.monitor.metricsText()).not.toContain("simplex_smp_node_info");
    } finally {
      await p!.close();
    }
    // Its counters under the reference's single name (persist.ts STATS_BLOB), not a node's.
    const sql = new SQL(uri!, { max: 1 });
    try {
      const names = (await sql.unsafe(`SELECT name FROM "${schema}".blobs WHERE name = 'server-stats' OR name LIKE 'server-stats/%' ORDER BY name`)).map((r: { name: string }) => r.name);
      // t-1 runs on (it saves on stop); the stopped nodes saved under their names.
      expect(names).toEqual(["server-stats", "server-stats/t-2", "server-stats/t-9"]);
    } finally {
      await sql.close();
    }
  });
});

/** The warnings logged while `f` runs. */
async function logged(f: () => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  const prev = setLogSink((l) => lines.push(l));
  setLogLevel("warn");
  try {
    await f();
  } finally {
    setLogLevel("error");
    setLogSink(prev);
  }
  return lines.filter((l) => l.includes("[WARN]")).map((l) => l.slice(l.indexOf("[WARN] ") + 7));
}

(uri === null ? describe.skip : describe)("expiry on two nodes", () => {
  const MSG_EXPIRY_INTERVAL_MS = 7200_000; // src/server/jobs.ts, Server.hs:expireMessagesThread
  const schema = testSchemaName();
  const dir = mkdtempSync(join(tmpdir(), "smp-nodes-"));
  afterAll(async () => {
    setSystemTime();
    setLogLevel("info");
    rmSync(dir, { recursive: true, force: true });
    await dropTestSchemas(uri!, [schema]);
  });

  /** A node whose message expiry can be run on demand (the callback it gave setInterval), and whose lead() answers are recorded. */
  const startNode = async (index: number) => {
    const o: ServerOptions = { ...testOptions({ store: { postgres: { uri: uri!, schema, poolSize: 3 } } }, dir), node: { index, count: 2, name: `e-${index}` } };
    const store = await openTestStore(o);
    const asked: boolean[] = [];
    const lead = store.cluster!.lead;
    store.cluster!.lead = async (job) => {
      const r = await lead(job);
      if (job === "expire-messages") asked.push(r);
      return r;
    };
    const spy = spyOn(globalThis, "setInterval");
    let s: RunningServer;
    let expiry: () => void;
    try {
      s = await startServer(o, store);
    } finally {
      expiry = spy.mock.calls.find(([, ms]) => ms === MSG_EXPIRY_INTERVAL_MS)![0] as () => void;
      spy.mockRestore();
    }
    /** Runs the job; resolves with this node's answer from lead() once it asked. */
    const runExpiry = async (): Promise<boolean> => {
      const n = asked.length;
      expiry();
      while (asked.length === n) await Bun.sleep(5);
      return asked[n]!;
    };
    return { s, runExpiry, address: `smp://${Buffer.from(o.credentials.fingerprint).toString("base64url")}=@127.0.0.1:${s.ports[0]}` };
  };

  /** Messages in the schema, as PostgreSQL has them (each node's own counters see only its own writes). */
  const messages = async (): Promise<number> => {
    const sql = new SQL(uri!, { max: 1 });
    try {
      return (await sql.unsafe(`SELECT count(*)::int AS n FROM "${schema}".messages`))[0].n;
    } finally {
      await sql.close();
    }
  };

  test("one node expires, the other does not; it takes over when the first stops", async () => {
    setLogLevel("error");
    const a = await startNode(1);
    const b = await startNode(2);
    const c = await connect(b);
    try {
      const q = await c.createQueue({ subMode: "C" });
      expect(await sr(c, null, "1", q.sndId, send("one"))).toEqual(OK);
      setSystemTime(Date.now() + 22 * 86400_000);
      // b asks first and leads: it expires the message.
      expect(await b.runExpiry()).toBe(true);
      while (b.s.server.stats.msgExpired < 1) await Bun.sleep(5);
      expect(await sr(c, null, "2", q.sndId, send("two"))).toEqual(OK);
      setSystemTime(Date.now() + 22 * 86400_000);
      // a does not lead: its job ends without expiring anything.
      expect(await a.runExpiry()).toBe(false);
      expect(a.s.server.stats.msgExpired).toBe(0);
      expect(await messages()).toBe(1);
      c.close();
      await b.s.close();
      // b is gone: a leads now and expires the second message.
      expect(await a.runExpiry()).toBe(true);
      while (a.s.server.stats.msgExpired < 1) await Bun.sleep(5);
      expect(await messages()).toBe(0);
    } finally {
      c.close();
      await a.s.close();
    }
  });
});

describe("files in the data directory", () => {
  test("a node of several on this machine writes its own; one node keeps the reference's names", () => {
    expect(nodeFileName(METRICS_FILE, { index: 2, count: 3 })).toBe("smp-server-metrics.node2.txt");
    expect(nodeFileName(DAILY_FILE, { index: 1, count: 3 })).toBe("smp-server-stats.daily.node1.log");
    expect(nodeFileName(DAILY_FILE, { index: 1, count: 1 })).toBe("smp-server-stats.daily.log");
    expect(nodeFileName(METRICS_FILE, undefined)).toBe("smp-server-metrics.txt");
  });
});
