// tests/ServerTests.hs "Store log" (testWithStoreLog) and "Restore messages" (testRestoreMessages):
// queues, notifiers and messages survive a server restart. The reference keeps them in a store log
// and message journals; this server keeps them in its SQLite database, so "restart" = stop the
// server and start another on the same data directory. (The statistics checks of those tests need
// the stats backup file, which is not part of this assignment.)
import { describe, expect, test } from "bun:test";
import { SMPClient, authPublicKey, generateAuthKey } from "../../src/client/index.ts";
import { DhPrivateKey } from "../../src/crypto/dh.ts";
import { ERR } from "../../src/protocol/errors.ts";
import { startTestServer } from "./harness.ts";
import { CMD, asMsg, closeAll, connect, connectN, createAndSecureQueue, decText, err, nextEvent, nextMsg, send, sndKeys, sr, OK, SOK } from "./helpers.ts";


describe("ServerTests.hs:testWithStoreLog — queues and notifiers restored after a restart", () => {
  test("a secured queue with a notifier is restored; a deleted one is not", async () => {
    const s1 = await startTestServer({ store: { msgQueueQuota: 4 } });
    const dir = s1.dataDir;
    const k1 = sndKeys("ed25519");
    const k2 = sndKeys("ed25519");
    const nKey = generateAuthKey("ed25519");
    let q1, nId: Uint8Array, q2;
    {
      const [h, h1] = await connectN(s1, 2);
      q1 = await createAndSecureQueue(h, k1.sPub);
      const nid = await sr(h, q1.rcvAuthKey, "abcd", q1.rcvId, { tag: "NKEY", notifierKey: authPublicKey(nKey), dhKey: authPublicKey(DhPrivateKey.generate()) });
      if (nid.tag !== "NID") throw new Error("expected NID");
      nId = nid.notifierId;
      expect(await sr(h1, nKey, "dabc", nId, CMD.NSUB)).toEqual(SOK);
      // The recipient's own connection sends: the pushed MSG and the SEND's OK both arrive.
      expect(await sr(h, k1.sKey, "bcda", q1.sndId, send("hello", true))).toEqual(OK);
      expect((await nextMsg(h, q1)).text).toBe("hello");
      expect((await nextEvent(h1, nId)).tag).toBe("NMSG");

      q2 = await createAndSecureQueue(h, k2.sPub);
      expect(await sr(h, k2.sKey, "cdab", q2.sndId, send("hello too"))).toEqual(OK);
      expect((await nextMsg(h, q2)).text).toBe("hello too");
      expect(await sr(h, q2.rcvAuthKey, "dabc", q2.rcvId, CMD.DEL)).toEqual(OK);
      closeAll([h, h1]);
      await s1.stop(true);
    }

    // Without the stored data (another data directory) the queue is unknown.
    const empty = await startTestServer({ store: { msgQueueQuota: 4 } });
    try {
      const h = await connect(empty);
      expect(await sr(h, k1.sKey, "bcda", q1.sndId, send("hello"))).toEqual(err(ERR.AUTH));
      h.close();
    } finally {
      await empty.stop();
    }

    const s2 = await startTestServer({ store: { msgQueueQuota: 4 } }, dir);
    try {
      const [h, h1] = await connectN(s2, 2);
      expect(await sr(h1, nKey, "dabc", nId, CMD.NSUB)).toEqual(SOK);
      expect(await sr(h, k1.sKey, "bcda", q1.sndId, send("hello", true))).toEqual(OK);
      expect(await sr(h, q1.rcvAuthKey, "cdab", q1.rcvId, CMD.SUB)).toEqual(SOK);
      expect((await nextMsg(h, q1)).text).toBe("hello"); // the first "hello", never acknowledged
      expect((await nextEvent(h1, nId)).tag).toBe("NMSG");
      expect(await sr(h, k2.sKey, "cdab", q2.sndId, send("hello too"))).toEqual(err(ERR.AUTH)); // the deleted queue is not restored
      closeAll([h, h1]);
    } finally {
      await s2.stop();
    }
  });
});

describe("ServerTests.hs:testRestoreMessages — messages kept over restarts, quota marker included", () => {
  test("quota 4: messages 2–5 and the marker are delivered after two restarts", async () => {
    const o = { store: { msgQueueQuota: 4 } };
    const s1 = await startTestServer(o);
    const dir = s1.dataDir;
    const { sKey, sPub } = sndKeys("ed25519");
    let q;
    {
      const [h, h1] = await connectN(s1, 2);
      q = await createAndSecureQueue(h1, sPub);
      expect(await sr(h, sKey, "1", q.sndId, send("hello"))).toEqual(OK);
      const m1 = await nextMsg(h1, q);
      expect(await sr(h1, q.rcvAuthKey, "1a", q.rcvId, CMD.ack(m1.msgId))).toEqual(OK);
      expect(m1.text).toBe("hello");
      h1.close();
      // Delivered after the restart.
      for (const i of [2, 3, 4, 5]) expect(await sr(h, sKey, `${i}`, q.sndId, send(`hello ${i}`))).toEqual(OK);
      expect(await sr(h, sKey, "6", q.sndId, send("hello 6"))).toEqual(err(ERR.QUOTA));
      h.close();
      await s1.stop(true);
    }
    {
      const s2 = await startTestServer(o, dir);
      const h = await connect(s2);
      expect(await sr(h, q.rcvAuthKey, "2", q.rcvId, CMD.SUB)).toEqual(SOK);
      const m2 = await nextMsg(h, q);
      expect(m2.text).toBe("hello 2");
      const m3 = asMsg(await sr(h, q.rcvAuthKey, "3", q.rcvId, CMD.ack(m2.msgId)));
      expect(decText(q, m3)).toBe("hello 3");
      const m4 = asMsg(await sr(h, q.rcvAuthKey, "4", q.rcvId, CMD.ack(m3.msgId)));
      expect(decText(q, m4)).toBe("hello 4"); // not acknowledged: delivered again after the restart
      h.close();
      await s2.stop(true);
    }
    const s3 = await startTestServer(o, dir);
    try {
      const h = await connect(s3);
      expect(await sr(h, q.rcvAuthKey, "4", q.rcvId, CMD.SUB)).toEqual(SOK);
      const m4 = await nextMsg(h, q);
      expect(m4.text).toBe("hello 4");
      const m5 = asMsg(await sr(h, q.rcvAuthKey, "5", q.rcvId, CMD.ack(m4.msgId)));
      expect(decText(q, m5)).toBe("hello 5");
      const m6 = asMsg(await sr(h, q.rcvAuthKey, "6", q.rcvId, CMD.ack(m5.msgId)));
      expect(decText(q, m6)).toBe("QUOTA"); // ClientRcvMsgQuota
      expect(SMPClient.decryptMessage(q, m6).type).toBe("quota");
      expect(await sr(h, q.rcvAuthKey, "7", q.rcvId, CMD.ack(m6.msgId))).toEqual(OK);
      h.close();
    } finally {
      await s3.stop();
    }
  });
});
