// Client ↔ server round trips over real TLS, the SMP handshake and SQLite at each protocol
// version the reference distinguishes on the wire (Transport.hs version constants): v6 (session id
// in every transmission), v10 (implied session id, DELD), v11 (block encryption), v14, v16
// (service-signature slot), v20 (current).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SMPClient, type RcvQueue } from "../../src/client/client.ts";
import { SMPError } from "../../src/client/errors.ts";
import { authPublicKey, generateAuthKey } from "../../src/client/keys.ts";
import { decryptMsgBody } from "../../src/client/msg-body.ts";
import type { ServerEvent } from "../../src/client/connection.ts";
import { bytesEqual, concat, fromUtf8, utf8 } from "../../src/encoding/bytes.ts";
import { Writer } from "../../src/encoding/writer.ts";
import type { BrokerMsg } from "../../src/protocol/broker-messages.ts";
import { ERR } from "../../src/protocol/errors.ts";
import { batch1 } from "../../src/protocol/batch.ts";
import { versionRange } from "../../src/protocol/versions.ts";
import { startTestServer, type TestServer } from "./harness.ts";
import { EVENT_WAIT_MS } from "./helpers.ts";
import { plainTransmissions, recordingOpenStream, transmissionHeader, type Recording } from "../fixtures/wire.ts";

let s: TestServer;
const open: SMPClient[] = [];

beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  for (const c of open) c.close();
  await s.stop();
});

async function connect(v: number, extra: { agreeSecret?: boolean; record?: boolean } = {}): Promise<{ c: SMPClient; rec: Recording | null }> {
  const r = extra.record ? recordingOpenStream() : null;
  const c = await SMPClient.connect({
    server: s.address,
    versionRange: versionRange(v, v),
    agreeSecret: extra.agreeSecret,
    openStream: r?.openStream,
    timeoutMs: 5000,
  });
  open.push(c);
  return { c, rec: r?.rec ?? null };
}

async function nextMsg(c: SMPClient, entityId: Uint8Array): Promise<Extract<BrokerMsg, { tag: "MSG" }>> {
  const e: ServerEvent = await c.nextEvent(EVENT_WAIT_MS);
  if (e.type !== "event" || e.msg.tag !== "MSG") throw new Error(`expected MSG, got ${JSON.stringify(e.type)}`);
  expect(bytesEqual(e.entityId, entityId)).toBe(true);
  return e.msg;
}

function bodyOf(q: RcvQueue, m: Extract<BrokerMsg, { tag: "MSG" }>): string {
  const b = decryptMsgBody(q.rcvDhSecret, m.msgId, m.body);
  if (b.type !== "message") throw new Error("quota marker");
  return fromUtf8(b.body);
}

function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

const VERSIONS = [6, 10, 11, 14, 16, 20];

describe("round trips per version", () => {
  for (const v of VERSIONS) {
    test(`v${v}: NEW, secure, SEND → MSG, ACK → next MSG, GET, DEL; wire layout`, async () => {
      const { c: rcv, rec } = await connect(v, { record: true });
      const { c: snd } = await connect(v);
      expect(rcv.version).toBe(v);
      // Transport.hs:blockEncryption — from v11 when the client sent a hello key (it does by default).
      expect(rcv.handle.blockEncryption).toBe(v >= 11);

      const newCorrId = crypto.getRandomValues(new Uint8Array(24));
      const q = await rcv.createQueue({ corrId: newCorrId });
      const sndKey = generateAuthKey("ed25519");
      // SKEY exists from v9 (sndAuthKeySMPVersion); before it the recipient secures with KEY.
      if (v >= 9) await snd.secureBySender(q.sndId, sndKey);
      else await rcv.secureQueue(q.rcvId, q.rcvAuthKey, authPublicKey(sndKey));

      await snd.sendMessage(q.sndId, utf8(`first v${v}`), { key: sndKey });
      const m1 = await nextMsg(rcv, q.rcvId);
      expect(bodyOf(q, m1)).toBe(`first v${v}`);
      // Sent while m1 awaits its ACK: stays queued and comes back as the ACK's answer.
      await snd.sendMessage(q.sndId, utf8(`second v${v}`), { key: sndKey });
      const m2 = await rcv.ack(q.rcvId, q.rcvAuthKey, m1.msgId);
      expect(m2).not.toBeNull();
      expect(bodyOf(q, m2!)).toBe(`second v${v}`);
      expect(await rcv.ack(q.rcvId, q.rcvAuthKey, m2!.msgId)).toBeNull();

      // GET on a queue this connection did not subscribe to.
      const q2 = await rcv.createQueue({ subMode: "C" });
      await snd.sendMessage(q2.sndId, utf8("by GET"));
      const g = await rcv.getMessage(q2.rcvId, q2.rcvAuthKey);
      expect(bodyOf(q2, g!)).toBe("by GET");
      expect(await rcv.ack(q2.rcvId, q2.rcvAuthKey, g!.msgId)).toBeNull();
      expect(await rcv.getMessage(q2.rcvId, q2.rcvAuthKey)).toBeNull();

      await rcv.deleteQueue(q.rcvId, q.rcvAuthKey);
      const err = await snd.sendMessage(q.sndId, utf8("gone"), { key: sndKey }).catch((e) => e);
      expect(err).toBeInstanceOf(SMPError);
      expect((err as SMPError).err).toEqual(ERR.AUTH);
      await snd.ping();

      // The wire: block 0 each way is the hello; block 1 from the client carries NEW.
      const sent = rec!.sent.blocks;
      const got = rec!.received.blocks;
      expect(sent.length).toBeGreaterThan(1);
      const anyPlain = sent.slice(1).some((b) => contains(b, newCorrId));
      if (v >= 11) {
        // Encrypted: neither the corrId nor a parsable padded batch is visible.
        expect(anyPlain).toBe(false);
        expect(plainTransmissions(sent[1]!)).toBeNull();
        expect(plainTransmissions(got[1]!)).toBeNull();
      } else {
        expect(anyPlain).toBe(true);
        const [t] = plainTransmissions(sent[1]!)!;
        const h = transmissionHeader(t!, { serviceSlot: false, sessionId: v < 7 });
        expect(h.auth.length).toBe(64);
        expect(bytesEqual(h.corrId, newCorrId)).toBe(true);
        if (v < 7) expect(bytesEqual(h.sessionId!, rcv.sessionId)).toBe(true);
        // The server's IDS answer has the same layout (no auth, no service slot).
        const [r] = plainTransmissions(got[1]!)!;
        const rh = transmissionHeader(r!, { serviceSlot: false, sessionId: v < 7 });
        expect(rh.auth.length).toBe(0);
        if (v < 7) expect(bytesEqual(rh.sessionId!, rcv.sessionId)).toBe(true);
        expect(bytesEqual(rh.corrId, newCorrId)).toBe(true);
        expect(fromUtf8(rh.rest.subarray(0, 4))).toBe("IDS ");
      }
    });
  }
});

describe("transmission layout (Protocol.hs:transmissionP, tEncodeAuth)", () => {
  for (const v of [14, 16, 20]) {
    test(`v${v} without a hello key: blocks in clear; the service-signature slot ${v >= 16 ? "follows" : "is absent after"} a non-empty authorization`, async () => {
      const { c, rec } = await connect(v, { agreeSecret: false, record: true });
      expect(c.handle.blockEncryption).toBe(false);
      const q = await c.createQueue();
      await c.ping();
      const ts = rec!.sent.blocks.slice(1).map((b) => plainTransmissions(b)![0]!);
      const newT = transmissionHeader(ts[0]!, { serviceSlot: v >= 16, sessionId: false });
      expect(newT.auth.length).toBe(64);
      expect(newT.sigSlot).toBe(v >= 16 ? 0x30 : null); // '0' = Nothing
      expect(newT.corrId.length).toBe(24);
      expect(fromUtf8(newT.rest.subarray(0, 4))).toBe("NEW ");
      // PING is unauthorized: no slot even from v16.
      const ping = transmissionHeader(ts[1]!, { serviceSlot: v >= 16, sessionId: false });
      expect(ping.auth.length).toBe(0);
      expect(ping.sigSlot).toBeNull();
      expect(fromUtf8(ping.rest)).toBe("PING");
      expect(q.rcvId.length).toBe(24);
    });
  }

  test("v16: a signed transmission without the service-signature slot is not accepted", async () => {
    const { c } = await connect(16, { agreeSecret: false });
    const q = await c.createQueue({ subMode: "C" });
    // Re-encode a v14-style SUB (no slot): the server reads the corrId length as the slot byte.
    const corrId = crypto.getRandomValues(new Uint8Array(24));
    const sk = q.rcvAuthKey as import("../../src/crypto/sign.ts").SignPrivateKey;
    const w = new Writer(512);
    w.short(c.sessionId).short(corrId).short(q.rcvId).ascii("SUB");
    const authorized = w.toBytes();
    const sig = sk.sign(authorized);
    const t = concat(Uint8Array.of(sig.length), sig, authorized.subarray(1 + c.sessionId.length));
    c.sendRawPayload(batch1(t));
    // Unparsable transmission → ERR BLOCK with empty corrId and entity (Protocol.hs:tDecodeServer).
    const e = await c.nextEvent(EVENT_WAIT_MS);
    expect(e).toEqual({ type: "event", entityId: new Uint8Array(0), msg: { tag: "ERR", err: ERR.BLOCK } });
    await c.ping();
  });

  test("v6: a wrong session id → ERR SESSION, corrId kept, entity empty; v7+ sends none", async () => {
    const { c } = await connect(6);
    const corrId = crypto.getRandomValues(new Uint8Array(24));
    const w = new Writer(512);
    w.byte(0).short(new Uint8Array(32).fill(7)).short(corrId).short(new Uint8Array(0)).ascii("PING");
    const p = c.expectResponse(corrId, new Uint8Array(0));
    c.sendRawPayload(batch1(w.toBytes()));
    expect(await p).toEqual({ tag: "ERR", err: ERR.SESSION });
    // The right session id: PONG.
    const corr2 = crypto.getRandomValues(new Uint8Array(24));
    const w2 = new Writer(512);
    w2.byte(0).short(c.sessionId).short(corr2).short(new Uint8Array(0)).ascii("PING");
    const p2 = c.expectResponse(corr2, new Uint8Array(0));
    c.sendRawPayload(batch1(w2.toBytes()));
    expect((await p2).tag).toBe("PONG");
  });
});

describe("batching", () => {
  test("SUB of 200 queues: 2 request blocks, each answered by one response block", async () => {
    const { c: creator } = await connect(20);
    const qs: RcvQueue[] = [];
    for (let i = 0; i < 200; i++) qs.push(await creator.createQueue({ subMode: "C" }));
    const { c, rec } = await connect(20, { record: true });
    const before = rec!.received.blocks.length;
    const rs = await c.subscribeMany(qs.map((q) => ({ rcvId: q.rcvId, key: q.rcvAuthKey })));
    expect(rs.every((r) => r.error === undefined)).toBe(true);
    expect(rs.map((r) => r.entityId)).toEqual(qs.map((q) => q.rcvId));
    // A v20 SUB is 119 bytes (+2 length): 135 fit the 16365-byte budget (Protocol.hs:batchTransmissions_).
    expect(rec!.sent.blocks.length - 1).toBe(2);
    expect(rec!.received.blocks.length - before).toBe(2);
  });

  test("responses are packed greedily up to 16365 bytes and 255 per block, in request order", async () => {
    const { c: creator } = await connect(10);
    const q1 = await creator.createQueue({ subMode: "C" });
    const q2 = await creator.createQueue({ subMode: "C" });
    await creator.sendMessage(q1.sndId, utf8("one"));
    await creator.sendMessage(q2.sndId, utf8("two"));
    const { c, rec } = await connect(10, { record: true });
    const before = rec!.received.blocks.length;
    const PING = { tag: "PING" } as const;
    const reqs = [
      ...Array.from({ length: 50 }, () => ({ entityId: new Uint8Array(0), command: PING })),
      { entityId: q1.rcvId, command: { tag: "GET" } as const, key: q1.rcvAuthKey },
      ...Array.from({ length: 50 }, () => ({ entityId: new Uint8Array(0), command: PING })),
      { entityId: q2.rcvId, command: { tag: "GET" } as const, key: q2.rcvAuthKey },
      ...Array.from({ length: 50 }, () => ({ entityId: new Uint8Array(0), command: PING })),
    ];
    const rs = await c.sendBatch(reqs);
    expect(rs.map((r) => (r instanceof Error ? "error" : r.tag))).toEqual(reqs.map((r) => (r.command.tag === "GET" ? "MSG" : "PONG")));
    expect(rec!.sent.blocks.length - 1).toBe(1); // 152 requests in one block
    const blocks = rec!.received.blocks.slice(before).map((b) => plainTransmissions(b)!);
    const sizes = blocks.map((ts) => ts.map((t) => 2 + t.length));
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    for (const b of sizes) expect(sum(b)).toBeLessThanOrEqual(16365);
    // Greedy: the first transmission of each block did not fit into the previous one.
    for (let i = 1; i < sizes.length; i++) expect(sum(sizes[i - 1]!) + sizes[i]![0]!).toBeGreaterThan(16365);
    const tags = blocks.flat().map((t) => fromUtf8(transmissionHeader(t, { serviceSlot: false, sessionId: false }).rest.subarray(0, 4)));
    expect(tags.length).toBe(152);
    expect(tags.filter((t) => t === "MSG ").length).toBe(2);
    expect(blocks.length).toBe(5); // 50 PONG | MSG + 4 PONG | 46 PONG | MSG + 4 PONG | 46 PONG

    // 255 PINGs fit one request block (count byte) and come back in one response block.
    const before2 = rec!.received.blocks.length;
    const sent2 = rec!.sent.blocks.length;
    const rs2 = await c.sendBatch(Array.from({ length: 256 }, () => ({ entityId: new Uint8Array(0), command: PING })));
    expect(rs2.every((r) => !(r instanceof Error) && r.tag === "PONG")).toBe(true);
    expect(rec!.sent.blocks.length - sent2).toBe(2);
    const counts = rec!.received.blocks.slice(before2).map((b) => plainTransmissions(b)!.length);
    expect(counts).toEqual([255, 1]);
  });
});
