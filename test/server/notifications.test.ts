// tests/ServerTests.hs "Message notifications": NKEY → NID, NSUB, NMSG with encrypted metadata,
// END when another connection subscribes the notifier, DELD on NDEL / DEL (END below v10), and
// notifier credentials requested in NEW (v17+).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SMPClient, authPublicKey, generateAuthKey, type AuthAlg, type AuthKey } from "../../src/client/index.ts";
import { DhPrivateKey, x25519 } from "../../src/crypto/dh.ts";
import type { BrokerMsg } from "../../src/protocol/broker-messages.ts";
import { ERR } from "../../src/protocol/errors.ts";
import { startTestServer, type TestServer } from "./harness.ts";
import { CMD, EMPTY, closeAll, connectN, createAndSecureQueue, err, expectNoEvent, nextEvent, nextMsg, send, sndKeys, sokNone, sr, srRaw, OK } from "./helpers.ts";

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({ store: { msgQueueQuota: 4 } });
});
afterAll(async () => {
  await srv.stop();
});

interface Notifier {
  nId: Uint8Array;
  nKey: AuthKey;
  secret: Uint8Array;
}

/** NKEY with fresh keys → NID; the DH secret that decrypts NMSG metadata. */
async function nkey(c: SMPClient, rKey: AuthKey, corrId: string, rcvId: Uint8Array, alg: AuthAlg = "ed25519"): Promise<Notifier> {
  const nKey = generateAuthKey(alg);
  const dh = DhPrivateKey.generate();
  const r = await sr(c, rKey, corrId, rcvId, { tag: "NKEY", notifierKey: authPublicKey(nKey), dhKey: authPublicKey(dh) });
  if (r.tag !== "NID") throw new Error(`expected NID, got ${r.tag}`);
  return { nId: r.notifierId, nKey, secret: x25519(r.dhKey.raw, dh) };
}

/** NMSG metadata decrypts with the notifier's secret to the delivered message's id and time. */
function expectNmsgFor(n: Notifier, ev: BrokerMsg, msg: { msgId: Uint8Array; ts: number }): void {
  if (ev.tag !== "NMSG") throw new Error(`expected NMSG, got ${ev.tag}`);
  expect(ev.nonce.length).toBe(24);
  expect(ev.encMeta.length).toBe(144); // cbEncrypt … 128 (Server.hs:mkMessageNotification)
  expect(SMPClient.decryptNotification({ rcvNtfDhSecret: n.secret }, ev)).toEqual(msg);
}

describe("ServerTests.hs:testMessageNotifications — subscribe notifier and deliver notifications", () => {
  for (const v of [9, 16, 20]) {
    test(`v${v}`, async () => {
      const [rh, sh, nh1, nh2] = await connectN(srv, 4, v);
      try {
        const { sKey, sPub } = sndKeys("ed25519");
        const q = await createAndSecureQueue(rh, sPub);
        const rKey = q.rcvAuthKey;
        const first = await nkey(rh, rKey, "1", q.rcvId);
        const n = await nkey(rh, rKey, "1a", q.rcvId);
        expect(n.nId).not.toEqual(first.nId);
        expect(await sr(nh1, first.nKey, "x", first.nId, CMD.NSUB)).toEqual(err(ERR.AUTH)); // the replaced notifier is gone
        if (v >= 16) {
          // A service signature outside a service session → SERVICE.
          const serviceSig = generateAuthKey("ed25519");
          const r = await srRaw(nh1, EMPTY, "2'", n.nId, CMD.NSUB, { authKey: n.nKey, serviceSig: (serviceSig as { sign(m: Uint8Array): Uint8Array }).sign(new Uint8Array(1)) });
          expect(r).toEqual(err(ERR.SERVICE));
        }
        expect(await sr(nh1, n.nKey, "2", n.nId, CMD.NSUB)).toEqual(sokNone(v));
        expect(await sr(sh, sKey, "3", q.sndId, send("hello", true))).toEqual(OK);
        const m1 = await nextMsg(rh, q);
        expect(m1.text).toBe("hello");
        expect(await sr(rh, rKey, "3a", q.rcvId, CMD.ack(m1.msgId))).toEqual(OK);
        expectNmsgFor(n, await nextEvent(nh1, n.nId), { msgId: m1.msgId, ts: SMPClient.decryptMessage(q, m1.msg).ts });

        expect(await sr(nh2, n.nKey, "4", n.nId, CMD.NSUB)).toEqual(sokNone(v));
        expect(await nextEvent(nh1, n.nId)).toEqual({ tag: "END" });
        expect(await sr(sh, sKey, "5", q.sndId, send("hello again", true))).toEqual(OK);
        const m2 = await nextMsg(rh, q);
        expect(await sr(rh, rKey, "5a", q.rcvId, CMD.ack(m2.msgId))).toEqual(OK);
        expect(m2.text).toBe("hello again");
        expectNmsgFor(n, await nextEvent(nh2, n.nId), { msgId: m2.msgId, ts: SMPClient.decryptMessage(q, m2.msg).ts });
        await expectNoEvent(nh1); // nothing else for the 1st notifier connection

        expect(await sr(rh, rKey, "6", q.rcvId, CMD.NDEL)).toEqual(OK);
        expect(await nextEvent(nh2, n.nId)).toEqual(v >= 10 ? { tag: "DELD" } : { tag: "END" });
        expect(await sr(sh, sKey, "7", q.sndId, send("hello there", true))).toEqual(OK);
        const m3 = await nextMsg(rh, q);
        expect(m3.text).toBe("hello there");
        expect(await sr(rh, rKey, "7a", q.rcvId, CMD.ack(m3.msgId))).toEqual(OK);
        await expectNoEvent(nh2); // nothing else for the 2nd notifier connection
        expect(await sr(rh, rKey, "7b", q.rcvId, CMD.NDEL)).toEqual(OK); // NDEL without a notifier is OK

        const n2 = await nkey(rh, rKey, "8", q.rcvId);
        expect(await sr(nh1, n2.nKey, "9", n2.nId, CMD.NSUB)).toEqual(sokNone(v));
        expect(await sr(sh, sKey, "10", q.sndId, send("one more", true))).toEqual(OK);
        const m4 = await nextMsg(rh, q);
        expect(m4.text).toBe("one more");
        expect(await sr(rh, rKey, "10a", q.rcvId, CMD.ack(m4.msgId))).toEqual(OK);
        expectNmsgFor(n2, await nextEvent(nh1, n2.nId), { msgId: m4.msgId, ts: SMPClient.decryptMessage(q, m4.msg).ts });
      } finally {
        closeAll([rh, sh, nh1, nh2]);
      }
    });
  }
});

describe("notifications: credentials in NEW, pending notifications, DEL, authorization", () => {
  test("v17+: NEW with notifier credentials → IDS with the notifier id and server DH key (Server.hs:createQueue)", async () => {
    const [rh, sh, nh] = await connectN(srv, 3, 17);
    try {
      const q = await rh.createQueue({ notifications: true });
      const n = q.notifier!;
      expect(n.notifierId.length).toBe(24);
      expect(await sr(nh, n.notifierKey, "1", n.notifierId, CMD.NSUB)).toEqual({ tag: "SOK", serviceId: null });
      expect(await sr(sh, null, "2", q.sndId, send("hi", true))).toEqual(OK);
      const m = await nextMsg(rh, q);
      expectNmsgFor({ nId: n.notifierId, nKey: n.notifierKey, secret: n.rcvNtfDhSecret }, await nextEvent(nh, n.notifierId), {
        msgId: m.msgId,
        ts: SMPClient.decryptMessage(q, m.msg).ts,
      });
    } finally {
      closeAll([rh, sh, nh]);
    }
  });

  test("v16 cannot carry notifier credentials in NEW: the queue has no notifier", async () => {
    const [rh] = await connectN(srv, 1, 16);
    try {
      const q = await rh.createQueue({ notifications: true });
      expect(q.notifier).toBeNull();
      expect((await rh.queueInfo(q.rcvId, q.rcvAuthKey)).qiNtf).toBe(false);
    } finally {
      rh.close();
    }
  });

  test("notifications kept while nobody subscribes go out after NSUB's response, oldest first; no flag, no NMSG", async () => {
    const [rh, sh, nh] = await connectN(srv, 3);
    try {
      const q = await rh.createQueue({ subMode: "C" });
      const n = await nkey(rh, q.rcvAuthKey, "1", q.rcvId);
      expect(await sr(sh, null, "a", q.sndId, send("first", true))).toEqual(OK);
      expect(await sr(sh, null, "b", q.sndId, send("silent", false))).toEqual(OK);
      expect(await sr(sh, null, "c", q.sndId, send("second", true))).toEqual(OK);
      expect(await sr(nh, n.nKey, "2", n.nId, CMD.NSUB)).toEqual({ tag: "SOK", serviceId: null });
      const e1 = await nextEvent(nh, n.nId);
      const e2 = await nextEvent(nh, n.nId);
      await expectNoEvent(nh);
      // The queue holds first, silent, second: NMSGs name the 1st and 3rd.
      const g1 = await sr(rh, q.rcvAuthKey, "g1", q.rcvId, CMD.GET);
      if (g1.tag !== "MSG") throw new Error("expected MSG");
      await sr(rh, q.rcvAuthKey, "a1", q.rcvId, CMD.ack(g1.msgId));
      const g2 = await sr(rh, q.rcvAuthKey, "g2", q.rcvId, CMD.GET);
      if (g2.tag !== "MSG") throw new Error("expected MSG");
      await sr(rh, q.rcvAuthKey, "a2", q.rcvId, CMD.ack(g2.msgId));
      const g3 = await sr(rh, q.rcvAuthKey, "g3", q.rcvId, CMD.GET);
      if (g3.tag !== "MSG") throw new Error("expected MSG");
      expectNmsgFor(n, e1, { msgId: g1.msgId, ts: SMPClient.decryptMessage(q, g1).ts });
      expectNmsgFor(n, e2, { msgId: g3.msgId, ts: SMPClient.decryptMessage(q, g3).ts });
    } finally {
      closeAll([rh, sh, nh]);
    }
  });

  test("DEL of the queue ends the notifier subscription with DELD; NSUB then fails", async () => {
    const [rh, nh] = await connectN(srv, 2);
    try {
      const q = await rh.createQueue();
      const n = await nkey(rh, q.rcvAuthKey, "1", q.rcvId);
      expect(await sr(nh, n.nKey, "2", n.nId, CMD.NSUB)).toEqual({ tag: "SOK", serviceId: null });
      expect(await sr(rh, q.rcvAuthKey, "3", q.rcvId, CMD.DEL)).toEqual(OK);
      expect(await nextEvent(nh, n.nId)).toEqual({ tag: "DELD" });
      expect(await sr(nh, n.nKey, "4", n.nId, CMD.NSUB)).toEqual(err(ERR.AUTH));
    } finally {
      closeAll([rh, nh]);
    }
  });

  test("NSUB: wrong key, a recipient id, or a queue without notifier → AUTH; a repeated NSUB is accepted", async () => {
    const [rh, nh] = await connectN(srv, 2);
    try {
      const q = await rh.createQueue();
      const n = await nkey(rh, q.rcvAuthKey, "1", q.rcvId);
      expect(await sr(nh, generateAuthKey("ed25519"), "2", n.nId, CMD.NSUB)).toEqual(err(ERR.AUTH));
      expect(await sr(nh, n.nKey, "3", q.rcvId, CMD.NSUB)).toEqual(err(ERR.AUTH));
      expect(await sr(nh, n.nKey, "4", n.nId, CMD.NSUB)).toEqual({ tag: "SOK", serviceId: null });
      expect(await sr(nh, n.nKey, "5", n.nId, CMD.NSUB)).toEqual({ tag: "SOK", serviceId: null });
      await expectNoEvent(nh);
    } finally {
      closeAll([rh, nh]);
    }
  });

  test("the connection that deletes a notifier it also subscribes gets no DELD (Server.hs:serverThread checkAnotherClient)", async () => {
    const [rh] = await connectN(srv, 1);
    try {
      const q = await rh.createQueue();
      const n = await nkey(rh, q.rcvAuthKey, "1", q.rcvId);
      expect(await sr(rh, n.nKey, "2", n.nId, CMD.NSUB)).toEqual({ tag: "SOK", serviceId: null });
      expect(await sr(rh, q.rcvAuthKey, "3", q.rcvId, CMD.NDEL)).toEqual(OK);
      await expectNoEvent(rh);
    } finally {
      rh.close();
    }
  });

  for (const v of [9, 20]) {
    test(`v${v}: NKEY replacing a notifier ends its subscription on another connection (DELD, END below v10)`, async () => {
      const [rh, nh] = await connectN(srv, 2, v);
      try {
        const q = await rh.createQueue();
        const n1 = await nkey(rh, q.rcvAuthKey, "1", q.rcvId);
        expect(await sr(nh, n1.nKey, "2", n1.nId, CMD.NSUB)).toEqual(sokNone(v));
        const n2 = await nkey(rh, q.rcvAuthKey, "3", q.rcvId);
        expect(n2.nId).not.toEqual(n1.nId);
        expect(await nextEvent(nh, n1.nId)).toEqual(v >= 10 ? { tag: "DELD" } : { tag: "END" });
        await expectNoEvent(nh);
      } finally {
        closeAll([rh, nh]);
      }
    });
  }

  for (const alg of ["ed448", "x25519"] as const) {
    test(`a notifier with an ${alg} key: NSUB authorized by it, NMSG delivered`, async () => {
      const [rh, sh, nh] = await connectN(srv, 3);
      try {
        const q = await rh.createQueue({ subMode: "C" });
        const n = await nkey(rh, q.rcvAuthKey, "1", q.rcvId, alg);
        expect(await sr(nh, generateAuthKey(alg), "2", n.nId, CMD.NSUB)).toEqual(err(ERR.AUTH));
        expect(await sr(nh, n.nKey, "3", n.nId, CMD.NSUB)).toEqual({ tag: "SOK", serviceId: null });
        expect(await sr(sh, null, "4", q.sndId, send("hi", true))).toEqual(OK);
        const m = await sr(rh, q.rcvAuthKey, "5", q.rcvId, CMD.GET);
        if (m.tag !== "MSG") throw new Error("expected MSG");
        expectNmsgFor(n, await nextEvent(nh, n.nId), { msgId: m.msgId, ts: SMPClient.decryptMessage(q, m).ts });
      } finally {
        closeAll([rh, sh, nh]);
      }
    });
  }
});
