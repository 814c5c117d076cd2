// tests/ServerTests.hs "Short links" (v15+): link data with NEW, LSET, LDEL, LKEY → LNK for
// 1-time invitations, LGET → LNK for contact addresses, and the sender-id rule of NEW.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { authPublicKey, generateAuthKey, type AuthKey } from "../../src/client/index.ts";
import { DhPrivateKey } from "../../src/crypto/dh.ts";
import { sha3_384 } from "../../src/crypto/digest.ts";
import type { BrokerMsg } from "../../src/protocol/broker-messages.ts";
import type { Command, QueueLinkData, QueueReqData } from "../../src/protocol/commands.ts";
import { ERR } from "../../src/protocol/errors.ts";
import { startTestServer, type TestServer } from "./harness.ts";
import { CMD, EMPTY, b, closeAll, connectN, err, sampleSig, send, sndKeys, sr, srRaw, OK } from "./helpers.ts";

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv.stop();
});

const random24 = () => crypto.getRandomValues(new Uint8Array(24));
/** Server.hs:createQueue: a client-chosen sender id must be the first 24 bytes of SHA3-384(corrId). */
const sndIdFor = (corrId: Uint8Array) => sha3_384(corrId).slice(0, 24);
const ld = (fixed: string, user: string): QueueLinkData => ({ fixedData: b(fixed), userData: b(user) });

function newCmd(rKey: AuthKey, queueReqData: QueueReqData): Command {
  return {
    tag: "NEW",
    req: { rcvAuthKey: authPublicKey(rKey), rcvDhKey: authPublicKey(DhPrivateKey.generate()), basicAuth: null, subMode: "S", queueReqData, ntfCreds: null },
  };
}

function ids(m: BrokerMsg) {
  if (m.tag !== "IDS") throw new Error(`expected IDS, got ${m.tag} ${JSON.stringify(m)}`);
  return m.ids;
}

const lnk = (senderId: Uint8Array, data: QueueLinkData): BrokerMsg => ({ tag: "LNK", senderId, data });

for (const v of [15, 20]) {
  describe(`v${v}`, () => {
    test("ServerTests.hs:testInvQueueLinkData — short link data for a 1-time invitation", async () => {
      const [r, s] = await connectN(srv, 2, v);
      try {
        const rKey = generateAuthKey("ed25519");
        const corrId = random24();
        const sId = sndIdFor(corrId);
        const qrd: QueueReqData = { mode: "M", link: { senderId: sId, data: ld("fixed data", "user data") } };
        expect(await sr(r, rKey, "1", EMPTY, newCmd(rKey, qrd))).toEqual(err(ERR.CMD_PROHIBITED)); // sender id not from this corrId
        const q = ids(await sr(r, rKey, corrId, EMPTY, newCmd(rKey, qrd)));
        expect(q.sndId).toEqual(sId);
        expect(q.queueMode).toBe("M");
        const lnkId = q.linkId!;
        expect(lnkId.length).toBe(24);
        expect(q.serviceId).toBeNull();
        expect(q.serverNtfCreds).toBeNull();

        expect(await sr(s, null, "2", lnkId, CMD.LGET)).toEqual(err(ERR.AUTH)); // not a contact queue
        const newLD = ld("fixed data", "updated user data");
        expect(await sr(r, rKey, "2a", q.rcvId, { tag: "LSET", linkId: lnkId, data: newLD })).toEqual(OK); // before it is secured

        const { sKey, sPub } = sndKeys("ed25519");
        expect(await srRaw(s, EMPTY, "3a", lnkId, CMD.lkey(sPub))).toEqual(err(ERR.CMD_NO_AUTH));
        expect(await srRaw(s, sampleSig, "3b", lnkId, CMD.lkey(sPub))).toEqual(err(ERR.AUTH));
        expect(await sr(s, sKey, "4", q.rcvId, CMD.lkey(sPub))).toEqual(err(ERR.AUTH)); // recipient's id
        expect(await sr(s, sKey, "5", lnkId, CMD.lkey(sPub))).toEqual(lnk(sId, newLD)); // secures, returns the data

        const other = sndKeys("ed25519");
        expect(await sr(s, other.sKey, "6", lnkId, CMD.lkey(other.sPub))).toEqual(err(ERR.AUTH)); // secured with another key
        expect(await sr(s, sKey, "7", lnkId, CMD.lkey(sPub))).toEqual(lnk(sId, newLD));
        expect(await sr(r, rKey, "8", q.rcvId, { tag: "LSET", linkId: lnkId, data: newLD })).toEqual(err(ERR.AUTH)); // secured
        expect(await sr(r, rKey, "9", q.rcvId, CMD.LDEL)).toEqual(OK);
        expect(await sr(s, sKey, "10", lnkId, CMD.lkey(sPub))).toEqual(err(ERR.AUTH)); // no link data any more
      } finally {
        closeAll([r, s]);
      }
    });

    test("the first SEND to a secured messaging queue removes its link data (Server.hs:sendMessage)", async () => {
      const [r, s] = await connectN(srv, 2, v);
      try {
        const q = await r.createQueue({ linkData: ld("f", "u") });
        const { sKey, sPub } = sndKeys("ed25519");
        expect(await sr(s, sKey, "1", q.linkId!, CMD.lkey(sPub))).toEqual(lnk(q.sndId, ld("f", "u")));
        expect(await sr(s, sKey, "2", q.sndId, send("hi"))).toEqual(OK);
        expect(await sr(s, sKey, "3", q.linkId!, CMD.lkey(sPub))).toEqual(err(ERR.AUTH));
      } finally {
        closeAll([r, s]);
      }
    });

    test("ServerTests.hs:testContactQueueLinkData — short link data for a contact address", async () => {
      const [r, s] = await connectN(srv, 2, v);
      try {
        const rKey = generateAuthKey("ed25519");
        const corrId = random24();
        const lnkId = random24();
        const sId = sndIdFor(corrId);
        const data = ld("fixed data", "user data");
        const qrd: QueueReqData = { mode: "C", link: { linkId: lnkId, senderId: sId, data } };
        expect(await sr(r, rKey, "1", EMPTY, newCmd(rKey, qrd))).toEqual(err(ERR.CMD_PROHIBITED));
        const q = ids(await sr(r, rKey, corrId, EMPTY, newCmd(rKey, qrd)));
        expect(q.linkId).toEqual(lnkId);
        expect(q.sndId).toEqual(sId);
        expect(q.queueMode).toBe("C");

        const { sKey, sPub } = sndKeys("ed25519");
        expect(await sr(s, sKey, "2", lnkId, CMD.lkey(sPub))).toEqual(err(ERR.AUTH)); // LKEY is for messaging queues
        expect(await srRaw(s, sampleSig, "3", lnkId, CMD.LGET)).toEqual(err(ERR.CMD_HAS_AUTH));
        expect(await sr(s, null, "4", q.rcvId, CMD.LGET)).toEqual(err(ERR.AUTH)); // recipient's id
        expect(await sr(s, null, "5", lnkId, CMD.LGET)).toEqual(lnk(sId, data));
        expect(await sr(s, null, "6", lnkId, CMD.LGET)).toEqual(lnk(sId, data));

        const newLD = ld("fixed data", "updated user data");
        expect(await sr(r, rKey, "7", q.rcvId, { tag: "LSET", linkId: lnkId, data: newLD })).toEqual(OK);
        expect(await sr(s, null, "8", lnkId, CMD.LGET)).toEqual(lnk(sId, newLD));
        expect(await sr(r, rKey, "9", q.rcvId, { tag: "LSET", linkId: random24(), data: newLD })).toEqual(err(ERR.AUTH)); // another link id
        const badLD = ld("changed fixed data", "updated user data 2");
        expect(await sr(r, rKey, "10", q.rcvId, { tag: "LSET", linkId: lnkId, data: badLD })).toEqual(err(ERR.AUTH)); // fixed part changed
        expect(await sr(r, rKey, "11", q.rcvId, CMD.LDEL)).toEqual(OK);
        expect(await sr(r, rKey, "11a", q.rcvId, CMD.LDEL)).toEqual(OK);
        expect(await sr(s, null, "12", lnkId, CMD.LGET)).toEqual(err(ERR.AUTH));
      } finally {
        closeAll([r, s]);
      }
    });

    test("ServerTests.hs:testDuplicateQueueLinkData — an existing short link cannot be attached to another queue", async () => {
      const [r, s] = await connectN(srv, 2, v);
      try {
        const victimKey = generateAuthKey("ed25519");
        const corrId = random24();
        const lnkId = random24();
        const victimSId = sndIdFor(corrId);
        const victimLD = ld("fixed data", "victim user data");
        const victim = ids(await sr(r, victimKey, corrId, EMPTY, newCmd(victimKey, { mode: "C", link: { linkId: lnkId, senderId: victimSId, data: victimLD } })));
        expect(victim.linkId).toEqual(lnkId);
        expect(victim.sndId).toEqual(victimSId);
        expect(await sr(s, null, "1", lnkId, CMD.LGET)).toEqual(lnk(victimSId, victimLD));

        const attackerKey = generateAuthKey("ed25519");
        const attacker = ids(await sr(r, attackerKey, "2", EMPTY, newCmd(attackerKey, { mode: "C", link: null })));
        expect(attacker.queueMode).toBe("C");
        expect(attacker.linkId).toBeNull();
        const res = await sr(r, attackerKey, "3", attacker.rcvId, { tag: "LSET", linkId: lnkId, data: ld("fixed data", "attacker user data") });
        expect(res).toEqual(err(ERR.AUTH)); // the reference test accepts any ERR; QueueStore/STM.hs:addQueueLinkData answers AUTH
        expect(await sr(s, null, "4", lnkId, CMD.LGET)).toEqual(lnk(victimSId, victimLD));

        // The same link id in another NEW: a collision of client-chosen ids is AUTH, never retried.
        const corrId2 = random24();
        const k2 = generateAuthKey("ed25519");
        const dup = await sr(r, k2, corrId2, EMPTY, newCmd(k2, { mode: "C", link: { linkId: lnkId, senderId: sndIdFor(corrId2), data: victimLD } }));
        expect(dup).toEqual(err(ERR.AUTH));
      } finally {
        closeAll([r, s]);
      }
    });
  });
}
