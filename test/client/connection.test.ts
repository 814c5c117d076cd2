// The client connection against a scripted router (real server handshake, in-memory stream):
// corrId matching (Client.hs:processMsg), events, timeouts, closing, batching, bounded memory.
import { afterEach, describe, expect, test } from "bun:test";
import { hex, loadVectors, toHex } from "../vectors.ts";
import { startFake, SERVER_SESSION_KEY, SESSION_ID, type Received } from "./fake-server.ts";
import { SMPClient } from "../../src/client/client.ts";
import { SMPClientError, SMPError } from "../../src/client/errors.ts";
import type { ServerEvent } from "../../src/client/connection.ts";
import { generateAuthKey, authPublicKey } from "../../src/client/keys.ts";
import { DhPrivateKey } from "../../src/crypto/dh.ts";
import { SignPrivateKey, verifySignature } from "../../src/crypto/sign.ts";
import { cbVerify } from "../../src/crypto/authenticator.ts";
import { Writer } from "../../src/encoding/writer.ts";
import { ERR } from "../../src/protocol/errors.ts";
import { MSG_, type BrokerMsg } from "../../src/protocol/broker-messages.ts";
import { CMD } from "../../src/protocol/commands.ts";
import { BATCH_PAYLOAD_BUDGET, MAX_BATCH_COUNT, batch1 } from "../../src/protocol/batch.ts";
import { encodeResponse } from "../../src/protocol/transmission.ts";
import { versionRange } from "../../src/protocol/versions.ts";

const T = loadVectors("transmissions.json");
const keyOf = (label: string) => T.keys.find((k: any) => k.label === label);
const rcvId = hex(T.ids.rcvId);
const sndId = hex(T.ids.sndId);
const msgId = hex(T.ids.msgId);
const EMPTY = new Uint8Array(0);
const bytes = (s: string) => new TextEncoder().encode(s);

let clients: SMPClient[] = [];
async function fake(opts: Parameters<typeof startFake>[0] = {}) {
  const r = await startFake(opts);
  clients.push(r.client);
  return r;
}
afterEach(() => {
  for (const c of clients) c.close();
  clients = [];
});

/** The memory stream end's own closed flag (not part of TransportStream). */
const isClosed = (end: object) => (end as { closed: boolean }).closed;

const msg = (body: string): BrokerMsg => ({ tag: "MSG", msgId, body: bytes(body) });

describe("connect", () => {
  test("negotiates v20 with block encryption and a server session key", async () => {
    const { client, server } = await fake();
    expect(client.version).toBe(20);
    expect(client.handle.blockEncryption).toBe(true);
    expect(toHex(client.sessionId)).toBe(toHex(SESSION_ID));
    const p = client.ping();
    const t = await server.next();
    expect(t.command).toEqual(CMD.PING);
    expect(t.corrId.length).toBe(24);
    expect(t.auth.length).toBe(0);
    server.respond(t.corrId, EMPTY, MSG_.PONG);
    await p;
  });

  test("a server whose CA does not match the address key hash is rejected before the handshake", async () => {
    const { memoryStreamPair } = await import("../transport/memory-stream.ts");
    const { CHAIN } = await import("./fake-server.ts");
    const { client } = memoryStreamPair({ sessionId: SESSION_ID, serverChain: CHAIN });
    const wrong = new Uint8Array(32).fill(7);
    const err = await SMPClient.connect({ server: { hosts: ["x"], port: "", keyHash: wrong }, openStream: async () => client }).catch((e) => e);
    expect(err).toBeInstanceOf(SMPClientError);
    expect(err.kind).toBe("connect");
    expect(isClosed(client)).toBe(true);
  });

  test("a server that never answers the handshake times out", async () => {
    const { memoryStreamPair } = await import("../transport/memory-stream.ts");
    const { CHAIN, KEY_HASH } = await import("./fake-server.ts");
    const { client } = memoryStreamPair({ sessionId: SESSION_ID, serverChain: CHAIN });
    const err = await SMPClient.connect({
      server: { hosts: ["x"], port: "", keyHash: KEY_HASH },
      openStream: async () => client,
      connectTimeoutMs: 50,
    }).catch((e) => e);
    expect(err).toBeInstanceOf(SMPClientError);
    expect(err.kind).toBe("connect");
  });

  test("the stream opener gets the address host, default port 5223 and the key hash", async () => {
    const seen: unknown[] = [];
    const { KEY_HASH } = await import("./fake-server.ts");
    await SMPClient.connect({
      server: { hosts: ["abc.onion", "smp.example.com"], port: "", keyHash: KEY_HASH },
      openStream: async (host, port, ctx) => {
        seen.push(host, port, toHex(ctx.keyHash), ctx.alpn);
        throw new Error("refused");
      },
    }).catch(() => {});
    expect(seen).toEqual(["smp.example.com", 5223, toHex(KEY_HASH), ["smp/1"]]);
  });
});

describe("responses are matched by corrId", () => {
  test("out-of-order responses in separate blocks", async () => {
    const { client, server } = await fake();
    const key = generateAuthKey();
    const pSub = client.sendCommand(rcvId, CMD.SUB, key);
    const pGet = client.sendCommand(rcvId, CMD.GET, key);
    const pPing = client.sendCommand(EMPTY, CMD.PING);
    const [tSub, tGet, tPing] = [await server.next(), await server.next(), await server.next()];
    expect([tSub.command!.tag, tGet.command!.tag, tPing.command!.tag]).toEqual(["SUB", "GET", "PING"]);
    server.respond(tPing.corrId, EMPTY, MSG_.PONG);
    server.respond(tGet.corrId, rcvId, msg("got"));
    server.respond(tSub.corrId, rcvId, { tag: "SOK", serviceId: null });
    expect(await pPing).toEqual(MSG_.PONG);
    const g = await pGet;
    expect(g.tag === "MSG" && new TextDecoder().decode(g.body)).toBe("got");
    expect(await pSub).toEqual({ tag: "SOK", serviceId: null });
  });

  test("several responses and an event in one block, reversed", async () => {
    const { client, server } = await fake();
    const key = generateAuthKey();
    const ps = [0, 1, 2].map(() => client.sendCommand(rcvId, CMD.GET, key));
    const ts = [await server.next(), await server.next(), await server.next()];
    server.respondBatch([
      { corrId: ts[2]!.corrId, entityId: rcvId, msg: msg("two") },
      { corrId: EMPTY, entityId: rcvId, msg: MSG_.END },
      { corrId: ts[0]!.corrId, entityId: rcvId, msg: msg("zero") },
      { corrId: ts[1]!.corrId, entityId: rcvId, msg: { tag: "ERR", err: ERR.NO_MSG } },
    ]);
    const rs = await Promise.all(ps);
    expect(rs[0]!.tag === "MSG" && new TextDecoder().decode(rs[0]!.body)).toBe("zero");
    expect(rs[1]).toEqual({ tag: "ERR", err: ERR.NO_MSG });
    expect(rs[2]!.tag === "MSG" && new TextDecoder().decode(rs[2]!.body)).toBe("two");
    const e = await client.nextEvent(10_000);
    expect(e.type === "event" && e.msg.tag).toBe("END");
    expect(e.type === "event" && toHex(e.entityId)).toBe(toHex(rcvId));
  });

  test("typed methods throw SMPError for ERR", async () => {
    const { client, server } = await fake();
    const key = generateAuthKey();
    const p = client.getMessage(rcvId, key).catch((e) => e);
    const t = await server.next();
    server.respond(t.corrId, rcvId, { tag: "ERR", err: ERR.AUTH });
    const e = await p;
    expect(e).toBeInstanceOf(SMPError);
    expect(e.err).toEqual(ERR.AUTH);
    expect(e.message).toBe("SMP ERR AUTH");
  });

  test("a response for another entity is rejected as unexpected", async () => {
    const { client, server } = await fake();
    const p = client.sendCommand(rcvId, CMD.GET, generateAuthKey()).catch((e) => e);
    const t = await server.next();
    server.respond(t.corrId, sndId, MSG_.OK);
    const e = await p;
    expect(e).toBeInstanceOf(SMPClientError);
    expect(e.kind).toBe("unexpected");
  });

  test("a response that does not parse is rejected with the parse error", async () => {
    const { client, server } = await fake();
    const p = client.sendCommand(EMPTY, CMD.PING).catch((e) => e);
    const t = await server.next();
    const w = new Writer();
    w.byte(0).short(t.corrId).short(EMPTY).ascii("WHAT");
    server.writePayload(batch1(w.toBytes()));
    const e = await p;
    expect(e.kind).toBe("bad-response");
    expect(e.responseError).toEqual(ERR.CMD_UNKNOWN);
  });

  test("a typed method rejects a well-formed response of the wrong kind", async () => {
    const { client, server } = await fake();
    const p = client.ping().catch((e) => e);
    const t = await server.next();
    server.respond(t.corrId, EMPTY, MSG_.ALLS);
    const e = await p;
    expect(e.kind).toBe("unexpected");
    expect(e.response).toEqual(MSG_.ALLS);
  });
});

describe("server events", () => {
  test("MSG pushes (empty corrId) arrive in order through nextEvent and events(), with owned bodies", async () => {
    const { client, server } = await fake();
    server.respond(EMPTY, rcvId, msg("first"));
    server.respond(EMPTY, rcvId, msg("second"));
    server.respondBatch([
      { corrId: EMPTY, entityId: rcvId, msg: msg("third") },
      { corrId: EMPTY, entityId: rcvId, msg: MSG_.DELD },
    ]);
    const first = await client.nextEvent(10_000);
    const rest: ServerEvent[] = [];
    for await (const e of client.events()) {
      rest.push(e);
      if (rest.length === 3) break;
    }
    // The first body is still intact after three more blocks were received and decrypted.
    const body = (e: ServerEvent) => (e.type === "event" && e.msg.tag === "MSG" ? new TextDecoder().decode(e.msg.body) : e.type === "event" ? e.msg.tag : e.type);
    expect([first, ...rest].map(body)).toEqual(["first", "second", "third", "DELD"]);
  });

  test("an onEvent handler gets events synchronously instead of the queue", async () => {
    const seen: string[] = [];
    const { client, server } = await fake({ client: { onEvent: (e) => seen.push(e.type === "event" ? e.msg.tag : e.type) } });
    server.respond(EMPTY, rcvId, MSG_.END);
    server.respond(EMPTY, EMPTY, { tag: "ERR", err: ERR.BLOCK });
    const p = client.ping();
    const t = await server.next();
    server.respond(t.corrId, EMPTY, MSG_.PONG);
    await p;
    expect(seen).toEqual(["END", "ERR"]);
    await expect(client.nextEvent(10)).rejects.toThrow();
  });

  test("an unparsable pushed transmission is an 'invalid' event; the connection keeps working", async () => {
    const { client, server } = await fake();
    const w = new Writer();
    w.byte(0).short(EMPTY).short(rcvId).ascii("MSG"); // MSG without its fields
    server.writePayload(batch1(w.toBytes()));
    server.writePayload(new Uint8Array([2, 0, 0])); // count 2, one empty item: bad batch framing
    const e1 = await client.nextEvent(10_000);
    expect(e1).toMatchObject({ type: "invalid", error: ERR.CMD_SYNTAX });
    const e2 = await client.nextEvent(10_000);
    expect(e2).toMatchObject({ type: "invalid", error: ERR.BLOCK });
    const p = client.ping();
    const t = await server.next();
    server.respond(t.corrId, EMPTY, MSG_.PONG);
    await p;
  });

  test("a full event queue stops reading (backpressure) until events are taken", async () => {
    const { client, server } = await fake({ client: { eventQueueSize: 2 } });
    for (let i = 0; i < 4; i++) server.respond(EMPTY, rcvId, msg(`m${i}`));
    const p = client.ping();
    const t = await server.next();
    server.respond(t.corrId, EMPTY, MSG_.PONG);
    let answered = false;
    void p.then(() => (answered = true));
    await Bun.sleep(30);
    expect(answered).toBe(false); // the PONG waits behind the unread events
    for (let i = 0; i < 4; i++) await client.nextEvent(10_000);
    await p;
    expect(answered).toBe(true);
  });

  test("nextEvent times out without losing a later event", async () => {
    const { client, server } = await fake();
    const err = await client.nextEvent(20).catch((e) => e);
    expect(err.kind).toBe("timeout");
    server.respond(EMPTY, rcvId, MSG_.END);
    const e = await client.nextEvent(10_000);
    expect(e.type === "event" && e.msg.tag).toBe("END");
  });
});

describe("timeouts and closing", () => {
  test("no response in time → timeout; the late response becomes a 'late' event", async () => {
    const { client, server } = await fake({ client: { timeoutMs: 40 } });
    const started = Date.now();
    const e = await client.ping().catch((e) => e);
    expect(e).toBeInstanceOf(SMPClientError);
    expect(e.kind).toBe("timeout");
    expect(Date.now() - started).toBeGreaterThanOrEqual(35);
    expect(client.pendingRequests).toBe(0);
    const t = await server.next();
    server.respond(t.corrId, EMPTY, MSG_.PONG);
    const late = await client.nextEvent(10_000);
    expect(late.type).toBe("late");
    expect(late.type === "late" && toHex(late.corrId)).toBe(toHex(t.corrId));
  });

  test("per-request timeouts: the short one expires, the long one is answered", async () => {
    const { client, server } = await fake();
    const short = client.sendCommand(EMPTY, CMD.PING, null, { timeoutMs: 20 }).catch((e) => e);
    const long = client.sendCommand(EMPTY, CMD.PING, null, { timeoutMs: 5000 });
    expect((await short).kind).toBe("timeout");
    await server.next();
    const t2 = await server.next();
    server.respond(t2.corrId, EMPTY, MSG_.PONG);
    expect(await long).toEqual(MSG_.PONG);
  });

  test("the server closing rejects every pending request and ends the event stream", async () => {
    const { client, server } = await fake();
    const ps = [client.ping().catch((e) => e), client.getMessage(rcvId, generateAuthKey()).catch((e) => e)];
    await server.next();
    await server.next();
    server.close();
    for (const e of await Promise.all(ps)) {
      expect(e).toBeInstanceOf(SMPClientError);
      expect(e.kind).toBe("closed");
    }
    await client.closed;
    expect(client.isOpen).toBe(false);
    expect((await client.ping().catch((e) => e)).kind).toBe("closed");
    expect((await client.nextEvent(10_000).catch((e) => e)).kind).toBe("closed");
    const all: ServerEvent[] = [];
    for await (const e of client.events()) all.push(e);
    expect(all).toEqual([]);
  });

  test("close() rejects pending requests and closes the stream", async () => {
    const { client, server } = await fake();
    const p = client.ping().catch((e) => e);
    await server.next();
    client.close();
    expect((await p).kind).toBe("closed");
    await client.closed;
    await Bun.sleep(1);
    expect(isClosed(server.serverEnd)).toBe(true);
  });
});

describe("bounded pending requests", () => {
  test("beyond maxPending, senders wait for a response before sending", async () => {
    const { client, server } = await fake({ client: { maxPending: 2 } });
    const ps = [client.ping(), client.ping(), client.ping()];
    const t1 = await server.next();
    await server.next();
    await Bun.sleep(20);
    expect(client.pendingRequests).toBe(2);
    expect(server.blocks).toBe(2); // the third PING has not been written
    server.respond(t1.corrId, EMPTY, MSG_.PONG);
    const t3 = await server.next();
    expect(server.blocks).toBe(3);
    server.respond(t3.corrId, EMPTY, MSG_.PONG);
    await ps[0];
    await ps[2];
    client.close();
    expect((await ps[1]!.catch((e) => e)).kind).toBe("closed");
  });
});

describe("batches (Protocol.hs:batchTransmissions_)", () => {
  test("300 SUBs are packed greedily into blocks within the byte budget and 255 per block", async () => {
    const { client, server } = await fake();
    const keys = Array.from({ length: 300 }, () => generateAuthKey());
    const ids = keys.map((_, i) => new Uint8Array(24).fill(i & 0xff));
    const p = client.subscribeMany(ids.map((rcvId, i) => ({ rcvId, key: keys[i]! })));
    const got: Received[] = [];
    for (let i = 0; i < 300; i++) got.push(await server.next());
    // Reference rule: a transmission joins the block while Σ(2 + len) ≤ 16365 and count < 255.
    const expected: number[] = [];
    let block = 0;
    let size = 0;
    let count = 0;
    for (const t of got) {
      if (count > 0 && (size + 2 + t.length > BATCH_PAYLOAD_BUDGET || count >= MAX_BATCH_COUNT)) {
        block++;
        size = 0;
        count = 0;
      }
      size += 2 + t.length;
      count++;
      expected.push(block);
    }
    expect(got.map((t) => t.block - got[0]!.block)).toEqual(expected);
    expect(expected[expected.length - 1]).toBeGreaterThan(0);
    // Every SUB is signed by its own queue's key over exactly what the server authorizes.
    got.forEach((t, i) => {
      expect(toHex(t.entityId)).toBe(toHex(ids[i]!));
      expect(verifySignature(authPublicKey(keys[i]!), t.auth, t.authorized!)).toBe(true);
    });
    server.respondBatch(got.slice(0, 100).map((t) => ({ corrId: t.corrId, entityId: t.entityId, msg: { tag: "SOK", serviceId: null } })));
    server.respondBatch(got.slice(100, 200).map((t) => ({ corrId: t.corrId, entityId: t.entityId, msg: { tag: "ERR", err: ERR.AUTH } })));
    server.respondBatch(got.slice(200).map((t) => ({ corrId: t.corrId, entityId: t.entityId, msg: MSG_.OK })));
    const rs = await p;
    expect(rs.slice(0, 100).every((r) => r.serviceId === null && r.error === undefined)).toBe(true);
    expect(rs.slice(100, 200).every((r) => r.error instanceof SMPError && r.error.err === ERR.AUTH)).toBe(true);
    expect(rs.slice(200).every((r) => r.serviceId === null)).toBe(true);
  });

  test("a transmission too large for a block is refused without sending", async () => {
    const { client, server } = await fake();
    const big = new Uint8Array(16400);
    const e = await client.sendMessage(sndId, big).catch((e) => e);
    expect(e.kind).toBe("large-msg");
    const [r] = await client.sendBatch([{ entityId: sndId, command: { tag: "SEND", flags: { notification: false }, body: big } }]);
    expect(r).toBeInstanceOf(SMPClientError);
    expect((r as SMPClientError).kind).toBe("large-msg");
    expect(client.pendingRequests).toBe(0);
    expect(server.blocks).toBe(0);
  });
});

describe("authorization as the router sees it", () => {
  test("signed SEND: the sender key's signature verifies over exactly the authorized bytes", async () => {
    const { client, server } = await fake();
    const sndKey = new SignPrivateKey("ed25519", hex(keyOf("snd-auth-ed25519").private_raw));
    const p = client.sendMessage(sndId, bytes("hello, signed"), { key: sndKey, notification: true });
    const t = await server.next();
    const w = new Writer();
    w.short(client.sessionId).short(t.corrId).short(sndId).ascii("SEND T ").bytes(bytes("hello, signed"));
    expect(toHex(t.authorized!)).toBe(toHex(w.toBytes()));
    expect(verifySignature(authPublicKey(sndKey), t.auth, t.authorized!)).toBe(true);
    expect(t.serviceSig).toBeNull();
    server.respond(t.corrId, sndId, MSG_.OK);
    await p;
  });

  test("X25519 key: an authenticator the router verifies with its session key and nonce = corrId", async () => {
    const { client, server } = await fake();
    const k = DhPrivateKey.generate();
    const p = client.sendMessage(sndId, bytes("hi"), { key: k });
    const t = await server.next();
    expect(t.auth.length).toBe(80);
    expect(cbVerify(k.publicRaw, SERVER_SESSION_KEY(), t.corrId, t.auth, t.authorized!)).toBe(true);
    server.respond(t.corrId, sndId, MSG_.OK);
    await p;
  });

  for (const version of [6, 20]) {
    test(`v${version}: fixed corrId gives the reference block payload (transmissions.json)`, async () => {
      const { client, server } = await fake({ clientRange: versionRange(6, version), client: { agreeSecret: version > 6 } });
      expect(client.version).toBe(version);
      const c = T.versions.find((x: any) => x.version === version).commands.find((c: any) => c.name === "SEND signed, notification=T");
      const sndKey = new SignPrivateKey("ed25519", hex(keyOf("snd-auth-ed25519").private_raw));
      const p = client.sendCommand(sndId, { tag: "SEND", flags: { notification: true }, body: bytes("hello, signed") }, sndKey, { corrId: hex(c.corr_id) });
      const t = await server.next();
      expect(toHex(server.payloads[0]!)).toBe(c.block_payload);
      server.respond(t.corrId, sndId, MSG_.OK);
      expect(await p).toEqual(MSG_.OK);
    });
  }

  test("X25519 needs the server's hello key: a legacy (no ALPN) v6 session cannot use it", async () => {
    const { client } = await fake({ alpn: null });
    expect(client.version).toBe(6);
    const e = await client.sendMessage(sndId, bytes("x"), { key: DhPrivateKey.generate() }).catch((e) => e);
    expect(e.kind).toBe("no-server-auth");
  });
});

describe("raw access for malformed-input tests", () => {
  test("sendRawPayload + expectResponse", async () => {
    const { client, server } = await fake();
    const corrId = new Uint8Array([1, 2, 3, 4]);
    const w = new Writer();
    w.byte(0).short(corrId).short(EMPTY).ascii("PING");
    const p = client.expectResponse(corrId, EMPTY, 1000);
    client.sendRawPayload(batch1(w.toBytes()));
    const t = await server.next();
    expect(toHex(t.corrId)).toBe("01020304");
    const r = new Writer();
    encodeResponse(r, server.handle.params, corrId, EMPTY, MSG_.PONG);
    server.writePayload(batch1(r.toBytes()));
    expect(await p).toEqual(MSG_.PONG);
    // A second request with a corrId that is still pending is refused.
    const dup = client.expectResponse(corrId, EMPTY, 50);
    await expect(client.expectResponse(corrId, EMPTY, 50)).rejects.toThrow(RangeError);
    await dup.catch(() => {});
  });
});
