// tests/ServerTests.hs:testBlockMessageQueue (an `xit` in the reference: blocked through the store
// log) and the blocked-queue rules of Server.hs:processCommand / withQueue_ / sendMessage: the
// queue is blocked directly in the store, as the control port or the store log would.
// ERR BLOCKED is AUTH below v12 and loses its notice below v18 (Protocol.hs:encodeProtocol ERR).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { authPublicKey, generateAuthKey } from "../../src/client/index.ts";
import { DhPrivateKey } from "../../src/crypto/dh.ts";
import { Writer } from "../../src/encoding/writer.ts";
import { ERR, encodeBlockingInfo, type BlockingInfo, type ErrorType } from "../../src/protocol/errors.ts";
import { startTestServer, type TestServer } from "./harness.ts";
import { CMD, closeAll, connectN, err, EVENT_WAIT_MS, queueRec, send, sndKeys, sokNone, sr, OK } from "./helpers.ts";

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv.stop();
});

async function block(rcvId: Uint8Array, info: BlockingInfo): Promise<void> {
  const w = new Writer();
  encodeBlockingInfo(w, info);
  expect(await srv.server.store.queues.blockQueue(await queueRec(srv, rcvId), w.toBytes())).toBe("OK");
  await srv.server.store.flush();
}

/** What a client at version v receives for BLOCKED info. */
function blockedAt(v: number, info: BlockingInfo): ErrorType {
  if (v < 12) return ERR.AUTH;
  return { type: "BLOCKED", info: v < 18 ? { reason: info.reason, notice: null } : info };
}

describe("ServerTests.hs:testBlockMessageQueue — BLOCKED error when the queue is blocked", () => {
  test("SKEY on a queue blocked for content (v20)", async () => {
    const [r, s] = await connectN(srv, 2);
    try {
      const q = await r.createQueue({ authAlg: "ed448", corrId: new TextEncoder().encode("abcd") });
      await block(q.rcvId, { reason: "content", notice: null });
      const { sKey, sPub } = sndKeys("ed448");
      expect(await sr(s, sKey, "dabc", q.sndId, CMD.skey(sPub))).toEqual(err({ type: "BLOCKED", info: { reason: "content", notice: null } }));
    } finally {
      closeAll([r, s]);
    }
  });
});

describe("blocked queues by version (Server.hs:withQueue_, sendMessage; OFF, DEL and NSUB are not blocked)", () => {
  const info: BlockingInfo = { reason: "spam", notice: { ttl: 3600 } };
  for (const v of [11, 12, 17, 18, 20]) {
    test(`v${v}`, async () => {
      const [r, s, n] = await connectN(srv, 3, v);
      try {
        const q = await r.createQueue({ authAlg: "ed25519" });
        const rKey = q.rcvAuthKey;
        const { sKey, sPub } = sndKeys("ed25519");
        expect(await sr(s, sKey, "0", q.sndId, CMD.skey(sPub))).toEqual(OK);
        const nKey = generateAuthKey("ed25519");
        const nid = await sr(r, rKey, "1", q.rcvId, { tag: "NKEY", notifierKey: authPublicKey(nKey), dhKey: authPublicKey(DhPrivateKey.generate()) });
        if (nid.tag !== "NID") throw new Error("expected NID");
        expect(await sr(s, sKey, "2", q.sndId, send("before"))).toEqual(OK);
        await block(q.rcvId, info);

        const blocked = err(blockedAt(v, info));
        expect(await sr(s, sKey, "3", q.sndId, send("hello"))).toEqual(blocked);
        expect(await sr(s, sKey, "4", q.sndId, CMD.skey(sPub))).toEqual(blocked);
        for (const [corrId, cmd] of [
          ["5", CMD.SUB],
          ["6", CMD.GET],
          ["7", CMD.ack(new Uint8Array(24))],
          ["8", CMD.key(sPub)],
          ["9", CMD.QUE],
          ["10", CMD.NDEL],
          ["11", CMD.LDEL],
          ["12", { tag: "NKEY" as const, notifierKey: authPublicKey(nKey), dhKey: authPublicKey(DhPrivateKey.generate()) }],
        ] as const)
          expect([corrId, await sr(r, rKey, corrId, q.rcvId, cmd)]).toEqual([corrId, blocked]);
        // NSUB does not check the status; OFF and DEL work on blocked queues.
        expect(await sr(n, nKey, "13", nid.notifierId, CMD.NSUB)).toEqual(sokNone(v));

        // Unblocked, the queue works again and the message sent before is still there.
        expect(await srv.server.store.queues.unblockQueue(await queueRec(srv, q.rcvId))).toBe("OK");
        expect(await sr(r, rKey, "14", q.rcvId, CMD.SUB)).toEqual(sokNone(v));
        const m = await r.nextEvent(EVENT_WAIT_MS);
        expect(m.type === "event" && m.msg.tag).toBe("MSG");
        await block(q.rcvId, info);
        expect(await sr(r, rKey, "15", q.rcvId, CMD.OFF)).toEqual(OK);
        expect(await sr(r, rKey, "16", q.rcvId, CMD.DEL)).toEqual(OK);
        expect(await sr(s, sKey, "17", q.sndId, send("hello"))).toEqual(err(ERR.AUTH));
      } finally {
        closeAll([r, s, n]);
      }
    });
  }

  test("v20: LGET and LSET on a blocked contact queue", async () => {
    const [r, s] = await connectN(srv, 2);
    try {
      const data = { fixedData: new Uint8Array([1]), userData: new Uint8Array([2]) };
      const q = await r.createQueue({ queueMode: "C", linkData: data });
      expect(await sr(s, null, "1", q.linkId!, CMD.LGET)).toEqual({ tag: "LNK", senderId: q.sndId, data });
      await block(q.rcvId, { reason: "content", notice: null });
      const blocked = err({ type: "BLOCKED", info: { reason: "content", notice: null } });
      expect(await sr(s, null, "2", q.linkId!, CMD.LGET)).toEqual(blocked);
      expect(await sr(r, q.rcvAuthKey, "3", q.rcvId, { tag: "LSET", linkId: q.linkId!, data })).toEqual(blocked);
      expect(await sr(r, q.rcvAuthKey, "4", q.rcvId, { tag: "RKEY", keys: [authPublicKey(q.rcvAuthKey)] })).toEqual(blocked);
    } finally {
      closeAll([r, s]);
    }
  });
});
