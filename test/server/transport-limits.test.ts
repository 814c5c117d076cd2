// Connection limits: TLS setup and SMP handshake timeouts (Transport/Server.hs:tlsSetupTimeout,
// Server.hs:runClient smpHandshakeTimeout), inactive-client disconnect (Server.hs:disconnectTransport),
// the maximum number of connections, and bounded memory / no stall when a client stops reading.
import { afterEach, describe, expect, setSystemTime, test } from "bun:test";
import { SMPClient } from "../../src/client/client.ts";
import { TransmissionEncoder } from "../../src/client/authorize.ts";
import { Writer } from "../../src/encoding/writer.ts";
import { BatchPacker } from "../../src/protocol/batch.ts";
import { CMD } from "../../src/protocol/commands.ts";
import { versionRange } from "../../src/protocol/versions.ts";
import { startTestServer, type TestOptions, type TestServer } from "./harness.ts";
import { RawConnection } from "../fixtures/wire.ts";
import { spawnServerPerTest } from "../fixtures/spawn-server.ts";

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function server(o: TestOptions = {}): Promise<TestServer> {
  const s = await startTestServer(o);
  cleanup.push(() => s.stop());
  return s;
}

async function client(address: string, v = 20): Promise<SMPClient> {
  const c = await SMPClient.connect({ server: address, versionRange: versionRange(6, v), timeoutMs: 5000 });
  cleanup.push(() => c.close());
  return c;
}

async function raw(s: { port: number; options?: { credentials: { fingerprint: Uint8Array } }; keyHash?: Uint8Array }): Promise<RawConnection> {
  const keyHash = s.keyHash ?? s.options!.credentials.fingerprint;
  const r = await RawConnection.connect(s.port, keyHash);
  cleanup.push(() => r.close());
  return r;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Timeouts are checked from below only (a timer never fires early; a loaded machine only makes
// things later): "closed at all" is the event awaited, and a hang is caught by the test's timeout.
// The timeouts are long enough that a client's own TLS + SMP handshake fits on a busy machine.
const TIMEOUT_MS = 1000;

/** A plain TCP connection; resolves the time the server closed it. */
function tcp(port: number, send?: Uint8Array): { closedAt: Promise<number>; close(): void } {
  let sock: { end(): void } | null = null;
  const closedAt = new Promise<number>((resolve) => {
    void Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        open(s) {
          sock = s;
          if (send !== undefined) s.write(send);
        },
        data() {},
        close() {
          resolve(Date.now());
        },
        error() {
          resolve(Date.now());
        },
      },
    });
  });
  const h = { closedAt, close: () => sock?.end() };
  cleanup.push(() => h.close());
  return h;
}

/** The first connection attempt that the server accepts (a freed slot is noticed asynchronously). */
async function clientOnceAccepted(address: string): Promise<SMPClient> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await client(address);
    } catch (e) {
      if (attempt >= 100) throw e;
      await sleep(20);
    }
  }
}

describe("timeouts", () => {
  test("SMP handshake: a client that completes TLS but never sends its hello is closed after timeouts.handshakeMs", async () => {
    const s = await server({ timeouts: { handshakeMs: TIMEOUT_MS } });
    const t0 = Date.now();
    const r = await raw(s);
    // Half a hello block does not reset the timer either.
    const r2 = await raw(s);
    expect(await r.readBlock()).not.toBeNull(); // the server hello
    expect(await r2.readBlock()).not.toBeNull();
    r2.write(new Uint8Array(8000));
    await Promise.all([r.closedAt, r2.closedAt]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    // A client that completes the handshake in time is not affected by the timer afterwards.
    const c = await client(s.address);
    await sleep(TIMEOUT_MS + 200);
    await c.ping();
  });

  test("TLS setup: a TCP connection without a TLS handshake (silent, or a partial ClientHello) is closed after timeouts.tlsSetupMs", async () => {
    const s = await server({ timeouts: { tlsSetupMs: TIMEOUT_MS } });
    const t0 = Date.now();
    const silent = tcp(s.port);
    const partial = tcp(s.port, Uint8Array.of(0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03));
    const [a, b] = await Promise.all([silent.closedAt, partial.closedAt]);
    expect(a - t0).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(b - t0).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    const c = await client(s.address);
    await c.ping();
  });
});

describe("inactive clients (Server.hs:disconnectTransport)", () => {
  // The server's clock is moved instead of waiting (bun:test setSystemTime moves Date.now, which
  // stamps activity and drives the check): a slow machine cannot make an active client look idle.
  afterEach(() => void setSystemTime());
  const TTL_S = 3600;

  test("a connection without subscriptions is closed after the ttl; a subscribed one and an active one are not", async () => {
    const s = await server({ inactiveClients: { ttlSeconds: TTL_S, checkIntervalSeconds: 0.05 } });
    const t0 = Date.now();
    const idle = await client(s.address);
    const subscribed = await client(s.address);
    await subscribed.createQueue(); // subMode S: subscribed
    const active = await client(s.address);
    setSystemTime(t0 + (TTL_S / 2) * 1000);
    await active.ping(); // active half a ttl later
    setSystemTime(t0 + (TTL_S + 60) * 1000); // idle and subscribed are now past the ttl, active is not
    await idle.closed;
    // The check that closed `idle` examined every connection in the same pass.
    expect(subscribed.isOpen).toBe(true);
    expect(active.isOpen).toBe(true);
    await subscribed.ping();
    await active.ping();
  });

  test("without [INACTIVE_CLIENTS] nobody is disconnected", async () => {
    const s = await server();
    const idle = await client(s.address);
    setSystemTime(Date.now() + 30 * 86400_000);
    await sleep(300);
    expect(idle.isOpen).toBe(true);
    await idle.ping();
  });
});

describe("maxConnections", () => {
  test("connection N+1 is closed at once, also while the first N are still in the handshake", async () => {
    const s = await server({ transport: { ports: [0], bindHost: "127.0.0.1", host: "127.0.0.1", logTlsErrors: false, maxConnections: 3 } });
    // The limit is per process: every connection goes to node 1 (SMP_TEST_NODES).
    const at = s.addresses[0]!;
    const a = await client(at);
    const b = await raw(s); // TLS done, no hello yet
    const c = await raw(s);
    expect(await b.readBlock()).not.toBeNull();
    expect(await c.readBlock()).not.toBeNull();
    // Closed at TCP accept, before any TLS byte (connection-limits.ts: counted from accept).
    await expect(raw(s)).rejects.toThrow("closed during TLS setup");
    expect(s.server.stats.connRefusedMax).toBe(1);
    await expect(client(at)).rejects.toThrow();
    await a.ping();
    // A slot frees when a connection ends.
    b.close();
    await b.closedAt;
    const e = await clientOnceAccepted(at);
    await e.ping();
  });
});

describe("a client that stops reading (separate server process)", () => {
  const spawn = spawnServerPerTest("smp-slow-");

  test("the server stops reading from it: bounded memory, other connections keep answering PING meanwhile", async () => {
    const srv = await spawn();
    const setup = await client(srv.address);
    const q = await setup.createQueue({ subMode: "C" });
    await setup.sendMessage(q.sndId, new Uint8Array(16000).fill(0x61));

    // The attacker: GET of that queue repeated, 130 per block — each answered by a ~16 KB MSG,
    // so every 16 KB request block asks for ~2 MB of responses.
    const attacker = await client(srv.address);
    const enc = new TransmissionEncoder(attacker.params, attacker.handle.auth?.peerServerPubKey ?? null, null);
    const packer = new BatchPacker();
    const w = new Writer(1024);
    while (packer.count < 130) {
      w.reset();
      enc.encode(w, crypto.getRandomValues(new Uint8Array(24)), q.rcvId, CMD.GET, q.rcvAuthKey);
      expect(packer.add(w.toBytes())).toBe("added");
    }
    const payload = packer.payload().slice();
    attacker.handle.transport.stream.pause(); // never read again

    Bun.gc(true);
    const before = await srv.mem();
    const observer = await client(srv.address);
    let written = 0;
    let stalled = 0;
    let pings = 0;
    let pingsWhileStalled = 0;
    let pingError: unknown = undefined;
    let blocked = false;
    let done = false;
    const pingLoop = (async () => {
      while (!done) {
        await observer.ping();
        pings++;
        if (blocked) pingsWhileStalled++;
        await sleep(20);
      }
    })().catch((e) => (pingError = e));
    // Counts, not a duration: run until the attacker has been held back for a while and the
    // observer was answered 20 times meanwhile — or until the attacker got far more through than
    // a server that stopped reading lets it (the assertions below then fail).
    while ((stalled <= 5 || pingsWhileStalled < 20) && pingError === undefined && written < 1000) {
      if (blocked) {
        const drained = await Promise.race([attacker.handle.transport.drain().then(() => true), sleep(100).then(() => false)]);
        if (!drained) {
          stalled++;
          continue;
        }
        blocked = false;
      }
      written++;
      blocked = !attacker.handle.writePayload(payload);
      if (written % 4 === 0) await sleep(0);
    }
    done = true;
    await pingLoop;
    const after = await srv.mem();
    const grew = after.rss - before.rss;
    // Unthrottled, every accepted block would cost the server ~2 MB: the server must have stopped
    // reading, so the attacker's writes stall, and the server holds a bounded amount for it.
    expect(pingError).toBeUndefined();
    expect(stalled).toBeGreaterThan(5);
    expect(written).toBeLessThan(1000);
    expect(pingsWhileStalled).toBeGreaterThanOrEqual(20);
    expect(grew).toBeLessThan(96 * 1024 * 1024);
    expect(after.failures).toBe(0);
    // Dropping the attacker frees what the server held for it; a fresh connection works.
    attacker.close();
    await sleep(200);
    const fresh = await client(srv.address);
    await fresh.ping();
    console.log(`slow reader: ${written} blocks written, ${stalled} stalls, server RSS +${(grew / 1048576).toFixed(1)} MiB, ${pings} PINGs answered (${pingsWhileStalled} while it was held back)`);
  });
});
