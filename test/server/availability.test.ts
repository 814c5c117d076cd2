// Hostile peers against connection resources (connection-limits.ts, transport/admission.ts):
// file descriptor exhaustion, one address taking every slot, a block begun and never finished.
import { afterEach, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { SMPClient } from "../../src/client/client.ts";
import { connectionBound, fdThresholds, watchFileDescriptors } from "../../src/server/connection-limits.ts";
import { MAX_METRICS_CONNECTIONS } from "../../src/server/monitor/http.ts";
import { setLogSink } from "../../src/util/log.ts";
import { spawnServerPerTest } from "../fixtures/spawn-server.ts";
import { overNodes, startTestServer, type TestOptions, type TestServer } from "./harness.ts";
import { connect, RawClient, sleep } from "./helpers.ts";

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function server(o: TestOptions): Promise<TestServer> {
  const s = await startTestServer(o);
  cleanup.push(() => s.stop());
  return s;
}

/** A TCP connection that sends nothing; `closed` resolves when the server closes it. */
async function idleTcp(port: number): Promise<{ closed: Promise<void>; isClosed(): boolean; close(): void }> {
  let done = false;
  let resolve!: () => void;
  const closed = new Promise<void>((r) => (resolve = r));
  const finish = () => {
    done = true;
    resolve();
  };
  const sock = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {}, close: finish, error: finish } });
  const h = { closed, isClosed: () => done, close: () => sock.end() };
  cleanup.push(h.close);
  return h;
}

/** Polls `f` until it holds (a count reached), at most `ms`. */
async function until(f: () => Promise<boolean> | boolean, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await f()) return true;
    await sleep(20);
  }
  return f();
}

/** Descriptors a process holds now. */
function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/**
 * The LISTEN socket on `port` in the process's network namespace (/proc/<pid>/net/tcp{,6}; for a
 * listener rx_queue is the number of connections waiting in its accept queue), or null.
 */
function listenEntry(pid: number, port: number): { rxQueue: number } | null {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  for (const f of ["tcp", "tcp6"]) {
    for (const line of readFileSync(`/proc/${pid}/net/${f}`, "utf8").split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 5 || cols[3] !== "0A" || !cols[1]!.endsWith(`:${hexPort}`)) continue;
      return { rxQueue: parseInt(cols[4]!.split(":")[1]!, 16) };
    }
  }
  return null;
}

/** The error code of a TCP connect to 127.0.0.1:`port`, or "connected". */
async function connectError(port: number): Promise<string> {
  try {
    const sock = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
    sock.end();
    return "connected";
  } catch (e) {
    return String((e as { code?: unknown }).code);
  }
}

const transport = (o: Partial<TestOptions["transport"] & object>) => ({ ports: [0], bindHost: "127.0.0.1", host: "127.0.0.1", logTlsErrors: false, maxConnections: 1000, ...o });

describe("file descriptors run out (server in a child process under ulimit -n 256)", () => {
  const spawn = spawnServerPerTest("smp-fds-");

  test("300 idle TCP connections: held at the bound with an empty accept queue, the excess refused and counted, a real client served once they go", async () => {
    // TLS setup timeout of the reference (60 s): the idle connections hold their descriptors.
    const s = await spawn({ timeouts: { tlsSetupMs: 60_000 } }, { ulimitFiles: 256 });
    const bound = connectionBound(1000, 256);
    const socks = [];
    for (let i = 0; i < 300; i++) socks.push(await idleTcp(s.port));
    // Every connection accepted and held, or refused at once — none left pending in accept.
    expect(await until(async () => (await s.stats()).open + (await s.stats()).refused >= 300)).toBe(true);
    const st = await s.stats();
    expect(st.open).toBe(bound);
    expect(st.refused).toBe(300 - bound);
    expect(socks.filter((x) => x.isClosed()).length).toBe(300 - bound);

    // Held at the bound: descriptors stay short of the pause threshold and nothing waits in the
    // kernel's accept queue (a failing accept() would leave connections there). Sampled over
    // several rounds of the server's own checks. (Its CPU in this state: bench/soak.ts --ulimit.)
    const { pauseAt } = fdThresholds(256, 0);
    for (let i = 0; i < 10; i++) {
      expect(openFds(s.proc.pid)).toBeLessThan(pauseAt);
      expect(listenEntry(s.proc.pid, s.port)).toEqual({ rxQueue: 0 });
      await s.stats(); // a round trip through the server's event loop
    }
    expect(s.stderr()).toContain(`with 256 file descriptors (ulimit -n) at most ${bound} connections are accepted`);
    expect(s.stderr()).toContain("at the connection bound");

    // The descriptors free up: a real client gets in and is served.
    for (const x of socks) x.close();
    expect(await until(async () => (await s.stats()).open === 0)).toBe(true);
    const c = await SMPClient.connect({ server: s.address, timeoutMs: 5000 });
    cleanup.push(() => c.close());
    await c.ping();
    const q = await c.createQueue({ subMode: "S" });
    expect(q.rcvId.length).toBe(24);
    expect((await s.stats()).failures).toBe(0);
  }, 30_000);

  test("300 unfinished requests to the metrics endpoint: 16 held, the rest closed at accept, SMP and a later scrape are served", async () => {
    const s = await spawn({ monitor: { logStats: false, version: "test", http: { host: "127.0.0.1", port: 0 } } }, { ulimitFiles: 256 });
    // The metrics endpoint's connections and listener are left free by SMP's bound.
    const bound = connectionBound(1000, 256, MAX_METRICS_CONNECTIONS + 1);
    expect(bound).toBe(connectionBound(1000, 256) - MAX_METRICS_CONNECTIONS - 1);
    expect(s.stderr()).toContain(`with 256 file descriptors (ulimit -n) at most ${bound} connections are accepted`);
    const mp = (await s.stats()).metricsPort!;
    const socks: { isClosed(): boolean; close(): void }[] = [];
    // One reset before connect() returns counts as closed at accept too.
    const refusedAtOnce = { closed: Promise.resolve(), isClosed: () => true, close() {} };
    for (let i = 0; i < 300; i++) socks.push(await idleTcp(mp).catch(() => refusedAtOnce));
    expect(await until(() => socks.filter((x) => x.isClosed()).length >= 300 - MAX_METRICS_CONNECTIONS)).toBe(true);
    expect(socks.filter((x) => x.isClosed()).length).toBe(300 - MAX_METRICS_CONNECTIONS);
    const c = await SMPClient.connect({ server: s.address, timeoutMs: 5000 });
    cleanup.push(() => c.close());
    await c.ping();
    for (const x of socks) x.close();
    // Slots free again: a scrape gets the metrics.
    let res: Response | null = null;
    expect(await until(async () => (res = await fetch(`http://127.0.0.1:${mp}/metrics`).catch(() => null)) !== null)).toBe(true);
    expect(res!.status).toBe(200);
    expect(await res!.text()).toContain("simplex_smp_");
    expect((await s.stats()).failures).toBe(0);
  }, 30_000);

  test("descriptors taken by another part of the process: the port is unbound while they are out (no busy loop on EMFILE) and listens and serves again once they are free", async () => {
    const s = await spawn({}, { ulimitFiles: 256 });
    expect((await s.hogFds()).hogged).toBeGreaterThan(0);
    // Clients waiting in the kernel's accept queue, which accept() cannot take.
    for (let i = 0; i < 20; i++) await idleTcp(s.port).catch(() => null);
    expect(await until(() => s.stderr().includes("file descriptors exhausted"))).toBe(true);
    // Not accepting means not listening (a listening socket would make Bun retry accept() in a
    // busy loop): the port has no LISTEN entry and a client is refused by the kernel.
    expect(listenEntry(s.proc.pid, s.port)).toBeNull();
    expect(await connectError(s.port)).toBe("ECONNREFUSED");

    await s.freeFds();
    expect(await until(() => s.stderr().includes("accepting connections again"))).toBe(true);
    expect(listenEntry(s.proc.pid, s.port)).toEqual({ rxQueue: 0 });
    const c = await SMPClient.connect({ server: s.address, timeoutMs: 5000 });
    cleanup.push(() => c.close());
    await c.ping();
    expect((await s.stats()).failures).toBe(0);
  }, 30_000);
});

describe("connections per source address", () => {
  test("beyond the bound a connection is closed at accept, counted, and logged without the address", async () => {
    const lines: string[] = [];
    const prev = setLogSink((l) => lines.push(l));
    cleanup.push(() => setLogSink(prev));
    const s = await server({ transport: transport({ maxConnectionsPerAddress: 2, limitLoopbackPerAddress: true }) });
    const a = await idleTcp(s.port);
    const b = await idleTcp(s.port);
    const c = await idleTcp(s.port);
    await c.closed;
    expect(s.server.stats.connRefusedPerAddress).toBe(1);
    expect(s.server.stats.connRefusedMax).toBe(0);
    expect(s.admission.open).toBe(2);
    expect(a.isClosed() || b.isClosed()).toBe(false);
    const logged = lines.filter((l) => l.includes("refused 1 connection(s): 1 over the per-address bound (2)"));
    expect(logged.length).toBe(1);
    expect(lines.some((l) => l.includes("127.0.0.1"))).toBe(false);
    // A slot of this address frees: a real client is served.
    a.close();
    expect(await until(() => s.admission.open === 1)).toBe(true);
    const cl = await connect(s);
    cleanup.push(() => cl.close());
    await cl.ping();
  });

  test("loopback peers are exempt by default (a local Tor onion service's connections all come from 127.0.0.1)", async () => {
    const s = await server({ transport: transport({ maxConnectionsPerAddress: 2 }) });
    const socks = [await idleTcp(s.port), await idleTcp(s.port), await idleTcp(s.port)];
    expect(await until(() => s.admission.open === 3)).toBe(true);
    expect(socks.some((x) => x.isClosed())).toBe(false);
    expect(s.server.stats.connRefusedPerAddress).toBe(0);
  });
});

describe("a block begun and never finished", () => {
  test("is closed after the partial-block timeout, while a client idle between blocks for longer stays", async () => {
    const s = await server({ transport: transport({ partialBlockTimeoutMs: 200 }) });
    const idle = await connect(s);
    cleanup.push(() => idle.close());
    await idle.ping();
    const stalled = await RawClient.connect(s.address);
    cleanup.push(() => stalled.close());
    // 1000 bytes of a 16384-byte block, then nothing.
    stalled.handle.transport.stream.write(new Uint8Array(1000));
    expect(await stalled.handle.readPayload()).toBeNull();
    expect(overNodes(s, (n) => n.server.stats.partialBlockTimeouts)).toBe(1);
    // Idle since before the stalled client began its block, so longer than the timeout: still served.
    await idle.ping();
    expect(overNodes(s, (n) => n.server.clients.size)).toBe(1);
  });
});

describe("pausing and resuming accept (watchFileDescriptors)", () => {
  test("small limits: resuming waits for a count above what the process holds from the start", () => {
    // Fixed margins (pause at limit − 16, resume below limit − 48) would never resume at 64.
    for (const [limit, baseline] of [
      [64, 30],
      [48, 30],
      [32, 20],
      [16, 12],
    ] as const) {
      const t = fdThresholds(limit, baseline);
      expect(t.resumeBelow).toBeGreaterThan(baseline);
      expect(t.resumeBelow).toBeLessThanOrEqual(t.pauseAt);
      expect(t.pauseAt).toBeLessThan(limit);
    }
    expect(fdThresholds(1024, 40)).toEqual({ pauseAt: 1008, resumeBelow: 976 });
  });

  test("a port that cannot be bound again: named in the log, once however many retries", async () => {
    const lines: string[] = [];
    const prev = setLogSink((l) => lines.push(l));
    cleanup.push(() => setLogSink(prev));
    let used = 10; // the baseline read at start
    let attempts = 0;
    let pauses = 0;
    const listener = {
      port: 47123,
      pauseAccepting: () => void pauses++,
      resumeAccepting: () => {
        attempts++;
        throw new Error("EADDRINUSE");
      },
    };
    const w = watchFileDescriptors([listener], 64, { count: () => used, intervalMs: 1 });
    cleanup.push(() => w.stop());
    used = 64;
    expect(await until(() => pauses >= 1)).toBe(true);
    used = 11;
    expect(await until(() => attempts >= 20)).toBe(true);
    const failures = lines.filter((l) => l.includes("cannot listen again"));
    expect(failures.length).toBe(1);
    expect(failures[0]).toContain("port 47123: EADDRINUSE");
    expect(lines.filter((l) => l.includes("file descriptors exhausted")).length).toBe(1);
    expect(lines.some((l) => l.includes("accepting connections again"))).toBe(false);
  });
});
