// Optional parts degrade: a metrics endpoint or control port that cannot be opened, or saved
// statistics that cannot be read, are reported and SMP runs on. Plus the pieces the end-to-end
// tests cannot reach by waiting: the time of the daily write and the statistics blob's format.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { METRICS_CONTENT_TYPE, startMetricsHttp } from "../../../src/server/monitor/http.ts";
import { msUntilDailyWrite } from "../../../src/server/monitor/daily.ts";
import { decodePeriods, decodeStats, encodeStats, PERIODS_BLOB, restoreStats, saveStats, STATS_BLOB } from "../../../src/server/monitor/persist.ts";
import { NamesStats } from "../../../src/server/names/index.ts";
import { ServerStats } from "../../../src/server/stats.ts";
import { setLogLevel } from "../../../src/util/log.ts";
import { openSqliteStore } from "../../../src/store/sqlite/open.ts";
import { openTestStore, startTestServer } from "../harness.ts";
import { CMD, connect, sr } from "../helpers.ts";

// Quiet while these run; other test files in this process expect the default level.
beforeAll(() => setLogLevel("error"));
afterAll(() => setLogLevel("info"));

test("the daily write is at 00:00 UTC (Server/Main.hs logStatsStartTime = 0, Server.hs:logServerStats initialDelay)", () => {
  const at = (iso: string) => msUntilDailyWrite(Date.parse(iso));
  expect(at("2026-12-06T23:59:00Z")).toBe(60_000);
  expect(at("2026-12-06T12:00:00Z")).toBe(12 * 3600_000);
  expect(at("2026-12-06T00:00:00.001Z")).toBe(86_400_000 - 1);
  expect(at("2026-12-06T00:00:00Z")).toBe(86_400_000);
});

test("statistics blob: round trip; another format is refused", () => {
  const s = new ServerStats();
  const names = new NamesStats();
  s.qCreated = 7;
  s.proxy.relaysOwn.successes = 3;
  names.succ = 2;
  const s2 = new ServerStats();
  const n2 = new NamesStats();
  decodeStats(encodeStats(s, names), s2, n2);
  expect([s2.qCreated, s2.proxy.relaysOwn.successes, n2.succ]).toEqual([7, 3, 2]);
  expect(() => decodeStats(new TextEncoder().encode('{"format":99}'), new ServerStats(), new NamesStats())).toThrow("unknown statistics format");
  // 1 (the sets in this JSON) was never released: not read either.
  expect(() => decodeStats(new TextEncoder().encode('{"format":1,"counters":{"qCreated":4}}'), new ServerStats(), new NamesStats())).toThrow("unknown statistics format 1");
});

/** `n` distinct queue ids (the first 6 bytes vary, as PeriodStats keeps them), spread over 48 bits. */
function addQueues(p: ServerStats["activeQueues"], n: number, seed: number): void {
  const id = new Uint8Array(24);
  for (let i = 0; i < n; i++) {
    const v = (i * 2654435761 + seed) % 2 ** 32;
    id.set([v & 255, (v >>> 8) & 255, (v >>> 16) & 255, v >>> 24, (i + seed) & 255, ((i + seed) >>> 8) & 255]);
    p.add(id);
  }
}

test("active-queue sets: round trip through save and restore, 6 bytes an id, not in the hourly save", async () => {
  const store = openSqliteStore({ path: ":memory:" });
  try {
    const s = new ServerStats();
    addQueues(s.activeQueues, 10_000, 1);
    s.activeQueues.day.clear(); // a new day: the week and month keep theirs
    addQueues(s.activeQueues, 300, 7);
    addQueues(s.activeQueuesNtf, 50, 9);
    // The highest 48-bit hash survives too.
    s.activeQueues.add(new Uint8Array(24).fill(255));
    const sets = (x: ServerStats) => [x.activeQueues, x.activeQueuesNtf].flatMap((p) => [p.day, p.week, p.month].map((set) => [...set].sort((a, b) => a - b)));
    await saveStats(store, s, new NamesStats(), true);
    const periods = (await store.getBlob(PERIODS_BLOB))!;
    const ids = sets(s).reduce((n, set) => n + set.length, 0);
    expect(periods.length).toBeLessThanOrEqual(1 + 6 * 4 + 6 * ids);
    const r = new ServerStats();
    expect(await restoreStats(store, r, new NamesStats())).toBeNull();
    expect(sets(r)).toEqual(sets(s));
    expect(r.activeQueues.month.has(2 ** 48 - 1)).toBe(true);

    // The hourly save writes the counters only: the sets' blob stays as it was, and the
    // counters' blob does not grow with the number of active queues.
    const counters = (await store.getBlob(STATS_BLOB))!.length;
    addQueues(s.activeQueues, 5000, 11);
    await saveStats(store, s, new NamesStats(), false);
    expect(await store.getBlob(PERIODS_BLOB)).toEqual(periods);
    expect((await store.getBlob(STATS_BLOB))!.length).toBe(counters);
  } finally {
    await store.close();
  }
});

test("unreadable saved statistics: the server starts, counting from zero", async () => {
  // One node under SMP_TEST_NODES: the saved statistics of a single server (nodes save theirs by node name).
  const s1 = await startTestServer({ nodes: 1 });
  const dir = s1.dataDir;
  s1.server.stats.qCreated = 5;
  await s1.stop(true); // saves qCreated = 5; then the blob is damaged through a fresh store

  const st = await openTestStore(s1.options);
  await st.putBlob(STATS_BLOB, new TextEncoder().encode("not json"));
  await st.close();
  const s2 = await startTestServer({ nodes: 1 }, dir);
  try {
    expect(s2.server.stats.qCreated).toBe(0);
    const c = await connect(s2);
    expect(await sr(c, null, "1", new Uint8Array(0), CMD.PING)).toEqual({ tag: "PONG" });
    c.close();
  } finally {
    await s2.stop();
  }
});

test("a metrics port or control port already in use: logged, SMP serves", async () => {
  const squat = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  try {
    const s = await startTestServer({
      monitor: { logStats: false, version: "t", http: { host: "127.0.0.1", port: squat.port } },
      control: { port: squat.port, adminPassword: "a", dailyBlockQueueQuota: 20 },
    });
    try {
      expect(s.monitor.httpPort).toBeNull();
      expect(s.control).toBeNull();
      const c = await connect(s);
      expect(await sr(c, null, "1", new Uint8Array(0), CMD.PING)).toEqual({ tag: "PONG" });
      c.close();
    } finally {
      await s.stop();
    }
  } finally {
    squat.stop(true);
  }
});

test("GET /metrics only: other paths 404, other methods 405", async () => {
  const s = await startTestServer({ monitor: { logStats: false, version: "t", http: { host: "127.0.0.1", port: 0 } } });
  try {
    const base = `http://127.0.0.1:${s.monitor.httpPort}`;
    expect((await fetch(`${base}/`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: "POST" })).status).toBe(405);
    const get = await fetch(`${base}/metrics?x=1`);
    expect([get.status, get.headers.get("content-type"), get.headers.get("connection")]).toEqual([200, METRICS_CONTENT_TYPE, "close"]);
    const body = await get.text();
    const head = await fetch(`${base}/metrics`, { method: "HEAD" });
    expect([head.status, await head.text()]).toEqual([200, ""]);
    expect(Number(head.headers.get("content-length"))).toBeGreaterThan(body.length / 2);
    // A request head beyond 8 KB: 431, and the connection is closed.
    const big = await fetch(`${base}/metrics`, { headers: { "x-filler": "a".repeat(9000) } });
    expect(big.status).toBe(431);
  } finally {
    await s.stop();
  }
});

test("metrics endpoint: beyond its connection bound a connection is closed at accept; a held one that never completes its request is closed at the deadline", async () => {
  let scrapes = 0;
  const m = startMetricsHttp({ host: "127.0.0.1", port: 0 }, async () => `scrape ${++scrapes}\n`, { maxConnections: 2, maxHeadBytes: 8192, requestTimeoutMs: 2000 });
  try {
    const closed: boolean[] = [];
    const open = async (i: number) => {
      closed[i] = false;
      let done!: () => void;
      const gone = new Promise<void>((r) => (done = r));
      const finish = () => {
        closed[i] = true;
        done();
      };
      const sock = await Bun.connect({ hostname: "127.0.0.1", port: m.port, socket: { data() {}, close: finish, error: finish } }).catch(() => (finish(), null));
      return { sock, gone };
    };
    const a = await open(0);
    const b = await open(1);
    const c = await open(2);
    await c.gone; // the third: closed at accept
    expect(closed).toEqual([false, false, true]);
    expect(m.open).toBe(2);
    // The first two never finish their request head: closed by the deadline, places given back.
    a.sock?.write("GET /metrics HTTP/1.1\r\n");
    await Promise.all([a.gone, b.gone]);
    expect(scrapes).toBe(0);
    const r = await fetch(`http://127.0.0.1:${m.port}/metrics`);
    expect(await r.text()).toBe("scrape 1\n");
  } finally {
    m.stop();
  }
});

/** Sends `request` on a new connection; everything the endpoint wrote until it closed. */
async function rawExchange(port: number, request: string): Promise<string> {
  let got = "";
  let done!: () => void;
  const closed = new Promise<void>((r) => (done = r));
  await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      open: (s) => void s.write(request),
      data: (_s, chunk) => void (got += Buffer.from(chunk).toString("latin1")),
      close: () => done(),
      error: () => done(),
    },
  });
  await closed;
  return got;
}

test("metrics endpoint: a malformed request is 400 (the web site's framing); HEAD of another path has no body", async () => {
  const m = startMetricsHttp({ host: "127.0.0.1", port: 0 }, async () => "m 1\n");
  try {
    expect((await rawExchange(m.port, "GARBAGE\r\n\r\n")).split("\r\n")[0]).toBe("HTTP/1.1 400 Bad Request");
    expect((await rawExchange(m.port, "GET /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc")).split("\r\n")[0]).toBe("HTTP/1.1 400 Bad Request");
    const head = await rawExchange(m.port, "HEAD /x HTTP/1.1\r\nHost: x\r\n\r\n");
    expect(head.split("\r\n")[0]).toBe("HTTP/1.1 404 Not Found");
    expect(head.slice(head.indexOf("\r\n\r\n") + 4)).toBe("");
    const get = await rawExchange(m.port, "GET /metrics HTTP/1.0\r\n\r\n");
    expect([get.split("\r\n")[0], get.slice(get.indexOf("\r\n\r\n") + 4)]).toEqual(["HTTP/1.1 200 OK", "m 1\n"]);
  } finally {
    m.stop();
  }
});
