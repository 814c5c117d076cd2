// Two real routers over TLS — one as the client's proxy, one as the destination — through the
// full proxied flow (Server.hs:processProxiedCmd, processForwardedCommand; Client.hs:
// proxySMPCommand, forwardSMPTransmission, smpProxyError), and each error the reference maps.
import { afterAll, afterEach, beforeAll, describe, expect, setSystemTime, test } from "bun:test";
import { overNodes, startTestServer, type TestServer, type TestOptions } from "../harness.ts";
import { EVENT_WAIT_MS } from "../helpers.ts";
import { blackHole, sendRawProxied, socksServer } from "./helpers.ts";
import { KEY_HASH, startFake } from "../../client/fake-server.ts";
import { SMPClient } from "../../../src/client/client.ts";
import { SMPError } from "../../../src/client/errors.ts";
import { ProxyClientError, type ProxiedRelay } from "../../../src/client/proxy.ts";
import { authPublicKey, generateAuthKey } from "../../../src/client/keys.ts";
import { parseServerStr, type SMPServer } from "../../../src/protocol/server-address.ts";
import { ERR, type ErrorType } from "../../../src/protocol/errors.ts";
import { versionRange, type VersionRange } from "../../../src/protocol/versions.ts";
import { batch1 } from "../../../src/protocol/batch.ts";
import { Writer } from "../../../src/encoding/writer.ts";
import { encodeResponse } from "../../../src/protocol/transmission.ts";
import { ProxyAgent } from "../../../src/server/proxy/agent.ts";
import { createNamesService } from "../../../src/server/names/index.ts";
import { TEST_NAME_RECORD_JSON, resolveResp, startResolver, testNamesConfig } from "../names/resolver-server.ts";

const text = (s: string) => new TextEncoder().encode(s);
const serverOf = (s: TestServer): SMPServer => parseServerStr(s.address).server;
const proxyOn = (extra: Partial<TestOptions["proxy"]> = {}): TestOptions => ({ proxy: { enabled: true, clientConcurrency: 32, ...extra } });
const broker = (err: object): ErrorType => ({ type: "PROXY", err: { type: "BROKER", err } }) as ErrorType;
const protocolErr = (err: ErrorType): ErrorType => ({ type: "PROXY", err: { type: "PROTOCOL", err } });
const SEND = (body: string) => ({ tag: "SEND" as const, flags: { notification: false }, body: text(body) });

let dest: TestServer;
let proxy: TestServer;
let cleanup: (() => unknown)[] = [];

beforeAll(async () => {
  dest = await startTestServer();
  proxy = await startTestServer(proxyOn());
});
afterAll(async () => {
  await proxy.stop();
  await dest.stop();
});
afterEach(async () => {
  for (const f of cleanup.reverse()) await f();
  cleanup = [];
});

async function connect(s: TestServer | string, cfg: Partial<Parameters<typeof SMPClient.connect>[0]> = {}): Promise<SMPClient> {
  const c = await SMPClient.connect({ server: typeof s === "string" ? s : s.address, ...cfg });
  cleanup.push(() => c.close());
  return c;
}

async function started(o: TestOptions): Promise<TestServer> {
  const s = await startTestServer(o);
  cleanup.push(() => s.stop());
  return s;
}

async function rejection(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection");
}

describe("proxied sending", () => {
  test("SEND through the proxy is delivered; the recipient's router never sees the sender's connection", async () => {
    const rcv = await connect(dest);
    const q = await rcv.createQueue();
    const snd = await connect(proxy);
    const relay = await snd.connectProxiedRelay(serverOf(dest));
    expect(relay.version).toBe(20);
    expect(await snd.proxyCommand(relay, null, q.sndId, SEND("hello via proxy"))).toEqual({ tag: "OK" });
    const ev = await rcv.nextEvent(EVENT_WAIT_MS);
    if (ev.type !== "event" || ev.msg.tag !== "MSG") throw new Error(`unexpected ${ev.type}`);
    const body = SMPClient.decryptMessage(q, ev.msg);
    expect(body.type === "message" && new TextDecoder().decode(body.body)).toBe("hello via proxy");
    // The destination's only other connection is the proxy's: the sender never connected to it.
    expect(overNodes(dest, (n) => n.server.clients.size)).toBe(2);
  });

  test("SKEY through the proxy secures the queue: then only SENDs signed with that key pass", async () => {
    const rcv = await connect(dest);
    const q = await rcv.createQueue();
    const snd = await connect(proxy);
    const relay = await snd.connectProxiedRelay(serverOf(dest));
    // An X25519 key: the inner authenticator is computed with the destination's key from PKEY.
    const sndKey = generateAuthKey("x25519");
    expect(await snd.proxyCommand(relay, sndKey, q.sndId, { tag: "SKEY", key: authPublicKey(sndKey) })).toEqual({ tag: "OK" });
    const e = await rejection(snd.proxyCommand(relay, null, q.sndId, SEND("unsigned")));
    expect(e).toBeInstanceOf(SMPError);
    expect(e.err).toEqual(ERR.AUTH);
    const other = generateAuthKey("ed25519");
    expect((await rejection(snd.proxyCommand(relay, other, q.sndId, SEND("wrong key")))).err).toEqual(ERR.AUTH);
    expect(await snd.proxyCommand(relay, sndKey, q.sndId, SEND("signed"))).toEqual({ tag: "OK" });
    const ev = await rcv.nextEvent(EVENT_WAIT_MS);
    expect(ev.type === "event" && ev.msg.tag).toBe("MSG");
    // A second SKEY with another key is refused (the queue has its sender key).
    expect((await rejection(snd.proxyCommand(relay, other, q.sndId, { tag: "SKEY", key: authPublicKey(other) }))).err).toEqual(ERR.AUTH);
  });

  test("all clients of the proxy share one session with a destination", async () => {
    // One proxy process's session (SMP_TEST_NODES: each node has its own): both clients on node 1, one destination node.
    const a = await connect(proxy.addresses[0]!);
    const b = await connect(proxy.addresses[0]!);
    const to = serverOf(dest);
    const ra = await a.connectProxiedRelay(to);
    const rb = await b.connectProxiedRelay(to);
    expect(Buffer.from(rb.sessionId).equals(Buffer.from(ra.sessionId))).toBe(true);
    expect(proxy.server.proxy!.lookup(ra.sessionId)).toBeDefined();
    // Both PRXYs were answered from that one connection (Server.hs pRelays counters).
    const st = proxy.server.proxy!.stats.relays;
    expect(st.successes).toBeGreaterThanOrEqual(2);
    expect(st.requests).toBe(st.successes + st.errorsConnect + st.errorsCompat + st.errorsOther);
  });

  test("SEND to an unknown queue: the destination's AUTH reaches the client as the relay's error", async () => {
    const snd = await connect(proxy);
    const relay = await snd.connectProxiedRelay(serverOf(dest));
    const e = await rejection(snd.proxyCommand(relay, null, crypto.getRandomValues(new Uint8Array(24)), SEND("x")));
    expect(e).toBeInstanceOf(SMPError);
    expect(e.err).toEqual(ERR.AUTH);
  });
});

describe("names through the proxy (RSLV may be forwarded, Server.hs:rejectOrVerify)", () => {
  test("the destination resolves later and answers in RRES; without a resolver it answers NAME NO_RESOLVER at once", async () => {
    const resolver = startResolver(resolveResp({ status: 200, body: TEST_NAME_RECORD_JSON, delayMs: 100 }));
    cleanup.push(() => resolver.stop());
    const named = await started({});
    named.server.names = await createNamesService(testNamesConfig(resolver.url), { stats: named.server.namesStats, healthCheck: "skip" });
    const c = await connect(proxy);
    const relay = await c.connectProxiedRelay(serverOf(named));
    const r = await c.proxyCommand(relay, null, new Uint8Array(0), { tag: "RSLV", name: "alice.simplex" });
    expect(r.tag === "RNAME" && new TextDecoder().decode(r.json)).toBe(TEST_NAME_RECORD_JSON);
    expect(resolver.requests.some((q) => q.segments.join("/") === "resolve/alice.simplex")).toBe(true);

    const plain = await c.connectProxiedRelay(serverOf(dest));
    const e = await rejection(c.proxyCommand(plain, null, new Uint8Array(0), { tag: "RSLV", name: "alice.simplex" }));
    expect(e).toBeInstanceOf(SMPError);
    expect(e.err).toEqual({ type: "NAME", err: { type: "NO_RESOLVER" } });
  });
});

describe("proxy errors", () => {
  test("PFWD for a session the proxy does not have: PROXY NO_SESSION", async () => {
    const snd = await connect(proxy);
    const relay: ProxiedRelay = { sessionId: new Uint8Array(32).fill(3), version: 20, basicAuth: null, serverKey: new Uint8Array(32).fill(9) };
    const e = await rejection(snd.proxyCommand(relay, null, new Uint8Array(24), SEND("x")));
    expect(e).toBeInstanceOf(ProxyClientError);
    expect(e.err).toEqual({ type: "PROXY", err: { type: "NO_SESSION" } });
  });

  test("PRXY basic auth: the server password is required; a proxy that is off refuses everyone", async () => {
    const pw = await started({ ...proxyOn(), auth: { createPassword: text("s3cret") } });
    const c = await connect(pw);
    const basicAuth = { type: "PROXY", err: { type: "BASIC_AUTH" } };
    expect((await rejection(c.connectProxiedRelay(serverOf(dest)))).err).toEqual(basicAuth);
    expect((await rejection(c.connectProxiedRelay(serverOf(dest), text("wrong!")))).err).toEqual(basicAuth);
    const relay = await c.connectProxiedRelay(serverOf(dest), text("s3cret"));
    expect(relay.version).toBe(20);
    // dest runs with the proxy off (the test harness default, like allowSMPProxy = False).
    const d = await connect(dest);
    expect((await rejection(d.connectProxiedRelay(serverOf(proxy)))).err).toEqual(basicAuth);
  });

  test("unreachable destination: PROXY BROKER NETWORK (refused port, wrong identity — errata 3)", async () => {
    const snd = await connect(proxy);
    const hole = blackHole();
    const port = hole.port;
    hole.stop(); // nothing listens there now
    const refused = { ...serverOf(dest), port: String(port) };
    expect((await rejection(snd.connectProxiedRelay(refused))).err).toEqual(broker({ type: "NETWORK", err: { type: "FAILED" } }));
    const wrongId = { ...serverOf(dest), keyHash: new Uint8Array(32).fill(1) };
    expect((await rejection(snd.connectProxiedRelay(wrongId))).err).toEqual(broker({ type: "NETWORK", err: { type: "FAILED" } }));
  });

  test("a destination that hangs: NETWORK after the connect timeout, then the error is answered from cache until it expires", async () => {
    // The cached error's lifetime is measured by Date.now: the test moves the clock past it
    // instead of sleeping, so a slow machine cannot expire it early.
    cleanup.push(() => setSystemTime());
    const p = await started(proxyOn({ connectTimeoutMs: 300, persistErrorMs: 60_000 }));
    const hole = blackHole();
    cleanup.push(() => hole.stop());
    const c = await connect(p);
    const srv = { ...serverOf(dest), port: String(hole.port) };
    const t0 = Date.now();
    expect((await rejection(c.connectProxiedRelay(srv))).err).toEqual(broker({ type: "NETWORK", err: { type: "FAILED" } }));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250); // a timer never fires early
    expect(hole.accepted()).toBe(1);
    // From cache: the same error without a new connection attempt.
    expect((await rejection(c.connectProxiedRelay(srv))).err).toEqual(broker({ type: "NETWORK", err: { type: "FAILED" } }));
    expect(hole.accepted()).toBe(1);
    setSystemTime(Date.now() + 61_000);
    await rejection(c.connectProxiedRelay(srv));
    expect(hole.accepted()).toBe(2);
  });

  test("a destination with no version ≥ 8: PROXY BROKER TRANSPORT VERSION", async () => {
    const old = await started({});
    for (const n of old.nodes) (n.server.handshake as { versionRange: VersionRange }).versionRange = versionRange(6, 7);
    const c = await connect(proxy);
    expect((await rejection(c.connectProxiedRelay(serverOf(old)))).err).toEqual(broker({ type: "TRANSPORT", err: { type: "VERSION" } }));
  });

  test("PKEY caps the destination's range to 8..20 (a v6..12 destination offers 8..10 to a proxy)", async () => {
    const mid = await started({});
    for (const n of mid.nodes) (n.server.handshake as { versionRange: VersionRange }).versionRange = versionRange(6, 12);
    const rcv = await connect(mid, { versionRange: versionRange(6, 12) });
    const q = await rcv.createQueue();
    const c = await connect(proxy);
    const relay = await c.connectProxiedRelay(serverOf(mid));
    expect(relay.version).toBe(10);
    expect(await c.proxyCommand(relay, null, q.sndId, SEND("v10"))).toEqual({ tag: "OK" });
  });
});

describe("forwarded transmissions the destination refuses", () => {
  test("commands a sender may not forward: CMD PROHIBITED (not even verified)", async () => {
    const rcv = await connect(dest);
    const q = await rcv.createQueue();
    const c = await connect(proxy);
    const relay = await c.connectProxiedRelay(serverOf(dest));
    for (const [key, entity, cmd] of [
      [q.rcvAuthKey, q.rcvId, { tag: "SUB" }],
      [null, new Uint8Array(0), { tag: "PING" }],
      [q.rcvAuthKey, q.rcvId, { tag: "DEL" }],
    ] as const) {
      const e = await rejection(c.proxyCommand(relay, key, entity, cmd as any));
      expect(e).toBeInstanceOf(SMPError);
      expect(e.err).toEqual(ERR.CMD_PROHIBITED);
    }
    // The queue was not deleted.
    expect((await rcv.queueInfo(q.rcvId, q.rcvAuthKey)).qiSnd).toBe(false);
  });

  test("an inner block that does not parse: the destination answers ERR BLOCK inside RRES", async () => {
    const c = await connect(proxy);
    const relay = await c.connectProxiedRelay(serverOf(dest));
    expect(await sendRawProxied(c, relay, Uint8Array.from([1, 0, 50, 1, 2, 3]))).toEqual({ tag: "ERR", err: ERR.BLOCK });
  });

  test("more than one forwarded transmission: ERR BLOCK to the proxy, PROXY PROTOCOL BLOCK to the client", async () => {
    const c = await connect(proxy);
    const relay = await c.connectProxiedRelay(serverOf(dest));
    const w = new Writer(200);
    w.byte(0).short(new Uint8Array(24)).short(new Uint8Array(0)).ascii("PING");
    const t = w.toBytes();
    const two = new Uint8Array(1 + 2 * (2 + t.length));
    two[0] = 2;
    two.set(batch1(t).subarray(1), 1);
    two.set(batch1(t).subarray(1), 3 + t.length);
    const r = await sendRawProxied(c, relay, two);
    expect(r).toEqual({ proxyErr: { tag: "ERR", err: protocolErr(ERR.BLOCK) } });
  });

  test("a sealed command that does not decrypt: PROXY PROTOCOL CRYPTO", async () => {
    const c = await connect(proxy);
    const relay = await c.connectProxiedRelay(serverOf(dest));
    // Sealed for another key than the destination's.
    const r = await sendRawProxied(c, { ...relay, serverKey: generateAuthKey("x25519").publicRaw }, batch1(new Uint8Array(10)));
    expect(r).toEqual({ proxyErr: { tag: "ERR", err: protocolErr(ERR.CRYPTO) } });
  });

  test("RFWD from a connection without a session key, or not sealed for it", async () => {
    const noKey = await connect(dest, { agreeSecret: false });
    expect(await noKey.sendCommand(new Uint8Array(0), { tag: "RFWD", encFwdTransmission: new Uint8Array(100) })).toEqual({
      tag: "ERR",
      err: broker({ type: "TRANSPORT", err: { type: "NO_AUTH" } }),
    });
    const withKey = await connect(dest, { proxyServer: true });
    expect(await withKey.sendCommand(new Uint8Array(0), { tag: "RFWD", encFwdTransmission: new Uint8Array(100) })).toEqual({ tag: "ERR", err: ERR.CRYPTO });
  });
});

describe("the destination misbehaving (scripted destination)", () => {
  async function viaFake(commandTimeoutMs = 5000) {
    const fake = await startFake({ client: { proxyServer: true, timeoutMs: commandTimeoutMs, onEvent: () => {} } });
    cleanup.push(() => fake.client.close());
    const p = await started(proxyOn());
    p.server.proxy = new ProxyAgent(p.options.proxy, async () => fake.client);
    const c = await connect(p);
    const relay = await c.connectProxiedRelay({ hosts: ["fake.example"], port: "", keyHash: KEY_HASH });
    return { fake, c, relay };
  }

  test("no answer to RFWD: PROXY BROKER TIMEOUT", async () => {
    const { c, relay } = await viaFake(300);
    const e = await rejection(c.proxyCommand(relay, null, new Uint8Array(24), SEND("x")));
    expect(e).toBeInstanceOf(ProxyClientError);
    expect(e.err).toEqual(broker({ type: "TIMEOUT" }));
  });

  test("the destination's ERR, an unexpected answer, an RRES that does not open or parse", async () => {
    const { fake, c, relay } = await viaFake();
    const empty = new Uint8Array(0);
    const cases: [(corrId: Uint8Array) => void, ErrorType][] = [
      [(id) => fake.server.respond(id, empty, { tag: "ERR", err: ERR.AUTH }), protocolErr(ERR.AUTH)],
      [(id) => fake.server.respond(id, empty, { tag: "PONG" }), broker({ type: "UNEXPECTED", err: "PONG" })],
      // OK must name an entity (Protocol.hs:checkCredentials for BrokerMsg): a response error.
      [(id) => fake.server.respond(id, empty, { tag: "OK" }), broker({ type: "RESPONSE", err: "CMD NO_ENTITY" })],
      [(id) => fake.server.respond(id, empty, { tag: "RRES", encFwdResponse: new Uint8Array(40) }), ERR.CRYPTO],
      [
        (id) => {
          // A well-formed transmission whose message does not parse.
          const w = new Writer(100);
          encodeResponse(w, fake.server.handle.params, id, empty, { tag: "OK" });
          const t = w.toBytes();
          fake.server.writePayload(batch1(new Uint8Array([...t.subarray(0, t.length - 2), 0x58, 0x58])));
        },
        broker({ type: "RESPONSE", err: "CMD UNKNOWN" }),
      ],
    ];
    for (const [answer, err] of cases) {
      const p = rejection(c.proxyCommand(relay, null, new Uint8Array(24), SEND("x")));
      const rfwd = await fake.server.next();
      expect(rfwd.command!.tag).toBe("RFWD");
      answer(rfwd.corrId);
      const e = await p;
      expect(e).toBeInstanceOf(ProxyClientError);
      expect(e.err).toEqual(err);
    }
  });
});

describe("outgoing connections", () => {
  test("through a SOCKS5 proxy (socks_mode = always), with username/password", async () => {
    const socks = socksServer({ route: (h, port) => ({ host: h, port }), credentials: { username: "u", password: "p" } });
    cleanup.push(() => socks.stop());
    const p = await started(proxyOn({ socksProxy: { host: "127.0.0.1", port: socks.port, auth: { username: "u", password: "p" } }, socksMode: "always" }));
    const rcv = await connect(dest);
    const q = await rcv.createQueue();
    const c = await connect(p);
    const to = serverOf(dest);
    const relay = await c.connectProxiedRelay(to);
    expect(await c.proxyCommand(relay, null, q.sndId, SEND("via socks"))).toEqual({ tag: "OK" });
    expect(socks.seen).toEqual([{ atyp: 1, host: "127.0.0.1", port: Number(to.port), username: "u", password: "p" }]);
  });

  test("onion destinations go through SOCKS by name (host_mode = onion, socks_mode = onion) with an isolating user name", async () => {
    const onion = "a".repeat(56) + ".onion";
    const socks = socksServer({ route: () => ({ host: "127.0.0.1", port: dest.port }), credentials: "any" });
    cleanup.push(() => socks.stop());
    const p = await started(proxyOn({ socksProxy: { host: "127.0.0.1", port: socks.port }, socksMode: "onion", hostMode: "onion" }));
    const c = await connect(p);
    const to = serverOf(dest);
    const relay = await c.connectProxiedRelay({ ...to, hosts: ["127.0.0.1", onion] });
    expect(relay.version).toBe(20);
    expect(socks.seen.length).toBe(1);
    expect(socks.seen[0]).toMatchObject({ atyp: 3, host: onion, port: Number(to.port), password: "" });
    expect(socks.seen[0]!.username!.length).toBeGreaterThan(0);
  });

  test("required_host_mode without a host of that kind: PROXY BROKER HOST", async () => {
    const p = await started(proxyOn({ hostMode: "public", requiredHostMode: true }));
    const c = await connect(p);
    const onion = "b".repeat(56) + ".onion";
    expect((await rejection(c.connectProxiedRelay({ ...serverOf(dest), hosts: [onion] }))).err).toEqual(broker({ type: "HOST" }));
  });
});

describe("concurrency", () => {
  test("client_concurrency bounds a connection's slow proxy commands; further commands wait for a slot", async () => {
    for (const [limit, waits] of [
      [1, true],
      [32, false],
    ] as const) {
      // The destination accepts TCP and never answers; the slow commands end when the test closes
      // it (the connect timeout is out of reach), so the outcome is an order, not a duration.
      const hole = blackHole();
      cleanup.push(() => hole.stop());
      const p = await started(proxyOn({ clientConcurrency: limit, connectTimeoutMs: 30_000 }));
      const c = await connect(p);
      const slow = { ...serverOf(dest), port: String(hole.port), keyHash: p.options.credentials.fingerprint };
      const order: string[] = [];
      const a = rejection(c.connectProxiedRelay(slow)).then(() => void order.push("a"));
      const b = rejection(c.connectProxiedRelay({ ...slow, hosts: ["127.0.0.2"] })).then(() => void order.push("b"));
      const ping = c.ping().then(() => void order.push("ping"));
      if (waits) {
        // One slot, taken by `a`: b, and the PING behind it, wait until `a` ends.
        while (hole.accepted() === 0) await Bun.sleep(5);
      } else {
        await ping; // answered while both slow commands are still running
      }
      hole.stop();
      await Promise.all([a, b, ping]);
      expect(order[0]).toBe(waits ? "a" : "ping");
    }
  });
});
