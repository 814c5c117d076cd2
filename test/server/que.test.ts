// QUE → INFO: the JSON bytes as the server sends them (Server.hs:getQueueInfo,
// QueueStore/QueueInfo.hs: aeson, fields in declaration order, Nothing fields omitted), read from
// the wire with a bare connection so the exact text is checked.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SMPClient, authPublicKey, generateAuthKey, type AuthKey } from "../../src/client/index.ts";
import { DhPrivateKey, x25519 } from "../../src/crypto/dh.ts";
import { base64 } from "../../src/encoding/base64.ts";
import { ascii } from "../../src/encoding/bytes.ts";
import type { Command } from "../../src/protocol/commands.ts";
import { startTestServer, type TestServer } from "./harness.ts";
import { CMD, EMPTY, RawClient, asMsg, connect, sndKeys } from "./helpers.ts";

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({ store: { msgQueueQuota: 1 } });
});
afterAll(async () => {
  await srv.stop();
});

async function call(r: RawClient, key: AuthKey | null, corrId: string, entityId: Uint8Array, cmd: Command) {
  r.send([{ key, corrId, entityId, cmd }]);
  for (;;) {
    for (const t of await r.recvBlock()) if (t.corrId === corrId) return t;
  }
}

async function que(r: RawClient, key: AuthKey, rcvId: Uint8Array): Promise<string> {
  const t = await call(r, key, "que", rcvId, CMD.QUE);
  const text = ascii(t.raw);
  expect(text.startsWith("INFO ")).toBe(true);
  return text.slice(5);
}

/** aeson's UTCTime of a message received at `sec` (the server keeps sub-second precision). */
const tsPattern = (sec: number) => new RegExp(`^${new Date(sec * 1000).toISOString().slice(0, 19).replace(/[-:.]/g, "\\$&")}(\\.\\d+)?Z$`);

describe("QUE → INFO JSON (QueueStore/QueueInfo.hs)", () => {
  test("empty queue; secured with a notifier and subscribed; a delivered message; GET; the quota marker", async () => {
    const r = await RawClient.connect(srv.address);
    const sh = await connect(srv);
    try {
      const rKey = generateAuthKey("ed25519");
      const dh = DhPrivateKey.generate();
      const ids = await call(r, rKey, "new", EMPTY, {
        tag: "NEW",
        req: { rcvAuthKey: authPublicKey(rKey), rcvDhKey: authPublicKey(dh), basicAuth: null, subMode: "C", queueReqData: { mode: "M", link: null }, ntfCreds: null },
      });
      if (ids.msg?.tag !== "IDS") throw new Error("expected IDS");
      const { rcvId, sndId, rcvPublicDhKey } = ids.msg.ids;
      const secret = x25519(rcvPublicDhKey.raw, dh);

      // Only created on this connection: no qiSub.
      expect(await que(r, rKey, rcvId)).toBe(`{"qiSnd":false,"qiNtf":false,"qiSize":0}`);

      const { sKey, sPub } = sndKeys("ed25519");
      expect((await call(r, rKey, "key", rcvId, CMD.key(sPub))).msg).toEqual({ tag: "OK" });
      const nkey = await call(r, rKey, "nkey", rcvId, { tag: "NKEY", notifierKey: authPublicKey(generateAuthKey("ed25519")), dhKey: authPublicKey(DhPrivateKey.generate()) });
      expect(nkey.msg?.tag).toBe("NID");
      expect((await call(r, rKey, "sub", rcvId, CMD.SUB)).msg).toEqual({ tag: "SOK", serviceId: null });
      expect(await que(r, rKey, rcvId)).toBe(`{"qiSnd":true,"qiNtf":true,"qiSub":{"qSubThread":"noSub"},"qiSize":0}`);

      await sh.sendMessage(sndId, new TextEncoder().encode("hello"), { key: sKey });
      const [pushed] = await r.recvBlock();
      const m = asMsg(pushed!.msg!);
      const ts = SMPClient.decryptMessage({ rcvDhSecret: secret }, m).ts;
      const info = JSON.parse(await que(r, rKey, rcvId));
      expect(Object.keys(info)).toEqual(["qiSnd", "qiNtf", "qiSub", "qiSize", "qiMsg"]);
      expect(info.qiSub).toEqual({ qSubThread: "noSub", qDelivered: base64(m.msgId) });
      expect(info.qiSize).toBe(1);
      expect(Object.keys(info.qiMsg)).toEqual(["msgId", "msgTs", "msgType"]);
      expect(info.qiMsg.msgId).toBe(base64(m.msgId));
      expect(info.qiMsg.msgType).toBe("message");
      expect(info.qiMsg.msgTs).toMatch(tsPattern(ts));

      // Quota 1: the next SEND leaves the marker behind the message.
      await expect(sh.sendMessage(sndId, new TextEncoder().encode("more"), { key: sKey })).rejects.toThrow("QUOTA");
      const acked = await call(r, rKey, "ack", rcvId, CMD.ack(m.msgId));
      const marker = asMsg(acked.msg!);
      const quotaInfo = JSON.parse(await que(r, rKey, rcvId));
      expect(quotaInfo.qiSize).toBe(1);
      expect(quotaInfo.qiSub).toEqual({ qSubThread: "noSub", qDelivered: base64(marker.msgId) });
      expect(quotaInfo.qiMsg.msgType).toBe("quota");

      // GET on another connection: prohibitSub, nothing delivered after the ACK.
      const g = await RawClient.connect(srv.address);
      try {
        const got = await call(g, rKey, "get", rcvId, CMD.GET);
        const gm = asMsg(got.msg!);
        expect(await que(g, rKey, rcvId)).toBe(
          `{"qiSnd":true,"qiNtf":true,"qiSub":{"qSubThread":"prohibitSub","qDelivered":"${base64(gm.msgId)}"},"qiSize":1,"qiMsg":{"msgId":"${base64(gm.msgId)}","msgTs":${JSON.stringify(quotaInfo.qiMsg.msgTs)},"msgType":"quota"}}`,
        );
        expect((await call(g, rKey, "ack", rcvId, CMD.ack(gm.msgId))).msg).toEqual({ tag: "OK" });
        expect(await que(g, rKey, rcvId)).toBe(`{"qiSnd":true,"qiNtf":true,"qiSub":{"qSubThread":"prohibitSub"},"qiSize":0}`);
      } finally {
        g.close();
      }
      await sh.sendMessage(sndId, new TextEncoder().encode("again"), { key: sKey }); // writable once drained
    } finally {
      r.close();
      sh.close();
    }
  });
});
