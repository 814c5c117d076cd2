// Connection limits: TLS setup and SMP handshake timeouts (Transport/Server.hs:tlsSetupTimeout,
// Server.hs:runClient smpHandshakeTimeout), inactive-client disconnect (Server.hs:disconnectTransport),
// the maximum number of connections, and bounded memory / no stall when a client stops reading.
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SMPClient } from "../../src/client/client.ts";
import { TransmissionEncoder } from "../../src/client/authorize.ts";
import { Writer } from "../../src/encoding/writer.ts";
import { BatchPacker } from "../../src/protocol/batch.ts";
import { CMD } from "../../src/protocol/commands.ts";
import { versionRange } from "../../src/protocol/versions.ts";
import { startTestServer, type TestOptions, type TestServer } from "./harness.ts";
import { RawConnection } from "../fixtures/wire.ts";
import { spawnServer, type ServerProcess } from "../fixtures/spawn-server.ts";

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

function closedWithin(c: SMPClient, ms: number): Promise<boolean> {
  return Promise.race([c.closed.then(() => true), sleep(ms).then(() => false)]);
}

describe("timeouts", () => {
  test("SMP handshake: a client that completes TLS but never sends its hello is closed after timeouts.handshakeMs", async () => {
    const s = await server({ timeouts: { handshakeMs: 300 } });
    const t0 = Date.now();
    const r = await raw(s);
    expect(await r.readBlock()).not.toBeNull(); // the server hello
    expect(await r.closedWithin(3000)).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    // Half a hello block does not reset the timer either.
    const r2 = await raw(s);
    await r2.readBlock();
    r2.write(new Uint8Array(8000));
    expect(await r2.closedWithin(3000)).toBe(true);
    // A client that completes the handshake in time is not affected by the timer afterwards.
    const c = await client(s.address);
    await sleep(500);
    await c.ping();
  });

  test("TLS setup: a TCP connection without a TLS handshake (silent, or a partial ClientHello) is closed after timeouts.tlsSetupMs", async () => {
    const s = await server({ timeouts: { tlsSetupMs: 300 } });
    const t0 = Date.now();
    const silent = tcp(s.port);
    const partial = tcp(s.port, Uint8Array.of(0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03));
    const [a, b] = await Promise.all([silent.closedAt, partial.closedAt]);
    expect(a - t0).toBeGreaterThanOrEqual(250);
    expect(a - t0).toBeLessThan(3000);
    expect(b - t0).toBeGreaterThanOrEqual(250);
    expect(b - t0).toBeLessThan(3000);
    const c = await client(s.address);
    await c.ping();
  });
});

describe("inactive clients (Server.hs:disconnectTransport)", () => {
  test("a connection without subscriptions is closed after the ttl; a subscribed one and an active one are not", async () => {
    const s = await server({ inactiveClients: { ttlSeconds: 0.4, checkIntervalSeconds: 0.1 } });
    const idle = await client(s.address);
    const subscribed = await client(s.address);
    await subscribed.createQueue(); // subMode S: subscribed
    const active = await client(s.address);
    let pinging = true;
    const pinger = (async () => {
      while (pinging) {
        await active.ping();
        await sleep(100);
      }
    })();
    expect(await closedWithin(idle, 3000)).toBe(true);
    await sleep(600);
    pinging = false;
    await pinger;
    expect(subscribed.isOpen).toBe(true);
    expect(active.isOpen).toBe(true);
    await subscribed.ping();
  });

  test("without [INACTIVE_CLIENTS] nobody is disconnected", async () => {
    const s = await server();
    const idle = await client(s.address);
    expect(await closedWithin(idle, 800)).toBe(false);
    await idle.ping();
  });
});

describe("maxConnections", () => {
  test("connection N+1 is closed at once, also while the first N are still in the handshake", async () => {
    const s = await server({ transport: { ports: [0], bindHost: "127.0.0.1", host: "127.0.0.1", logTlsErrors: false, maxConnections: 3 } });
    const a = await client(s.address);
    const b = await raw(s); // TLS done, no hello yet
    const c = await raw(s);
    expect(await b.readBlock()).not.toBeNull();
    expect(await c.readBlock()).not.toBeNull();
    const t0 = Date.now();
    const d = await raw(s);
    expect(await d.closedWithin(2000)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(await d.readBlock(100)).toBeNull(); // no server hello
    await expect(client(s.address)).rejects.toThrow();
    await a.ping();
    // A slot frees when a connection ends.
    b.close();
    await b.closedAt;
    await sleep(50);
    const e = await client(s.address);
    await e.ping();
  });
});

describe("a client that stops reading (separate server process)", () => {
  let srv: ServerProcess | null = null;
  let dir = "";
  afterEach(async () => {
    if (srv !== null) await srv.stop();
    srv = null;
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  test("the server stops reading from it: bounded memory, other connections keep answering PING quickly", async () => {
    dir = mkdtempSync(join(tmpdir(), "smp-slow-"));
    srv = await spawnServer(dir);
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
    let maxPing = 0;
    let pings = 0;
    const until = Date.now() + 3000;
    const pingLoop = (async () => {
      while (Date.now() < until) {
        const t = performance.now();
        await observer.ping();
        maxPing = Math.max(maxPing, performance.now() - t);
        pings++;
        await sleep(20);
      }
    })();
    let blocked = false;
    while (Date.now() < until) {
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
    await pingLoop;
    const after = await srv.mem();
    const grew = after.rss - before.rss;
    // Unthrottled, every accepted block would cost the server ~2 MB: the server must have stopped
    // reading, so the attacker's writes stall, and the server holds a bounded amount for it.
    expect(stalled).toBeGreaterThan(5);
    expect(written).toBeLessThan(1000);
    expect(grew).toBeLessThan(96 * 1024 * 1024);
    expect(maxPing).toBeLessThan(1000);
    expect(pings).toBeGreaterThan(20);
    expect(after.failures).toBe(0);
    // Dropping the attacker frees what the server held for it; a fresh connection works.
    attacker.close();
    await sleep(200);
    const fresh = await client(srv.address);
    await fresh.ping();
    console.log(`slow reader: ${written} blocks written, ${stalled} stalls, server RSS +${(grew / 1048576).toFixed(1)} MiB, max PING ${maxPing.toFixed(0)} ms over ${pings}`);
  }, 20_000);
});
