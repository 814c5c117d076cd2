// tests/ServerTests.hs "SMP messages": delivery, subscriptions moving between connections, GET,
// the queue quota and concurrent sending, against a real server at several versions; plus the
// order and grouping of responses (Server.hs:client, send) seen block by block.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { authPublicKey, generateAuthKey } from "../../src/client/index.ts";
import { DhPrivateKey, x25519 } from "../../src/crypto/dh.ts";
import { base64url } from "../../src/encoding/base64.ts";
import { ERR } from "../../src/protocol/errors.ts";
import { startTestServer, type TestServer } from "./harness.ts";
import { CMD, EMPTY, RawClient, asMsg, b, closeAll, connect, connectN, createAndSecureQueue, decText, err, expectNoEvent, nextEvent, nextMsg, send, sndKeys, sokNone, sr, OK } from "./helpers.ts";

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({ store: { msgQueueQuota: 4 } });
});
afterAll(async () => {
  await srv.stop();
});

describe("ServerTests.hs:testDuplex — duplex communication over 2 SMP connections", () => {
  for (const v of [6, 20]) {
    test(`v${v}`, async () => {
      const [alice, bob] = await connectN(srv, 2, v);
      try {
        const aq = await alice.createQueue({ authAlg: "ed448", corrId: b("abcd") });
        // aSnd is passed to Bob out-of-band; Bob sends his key ("key …" is ad hoc, not SMP).
        const bs = sndKeys("ed448");
        expect(await sr(bob, null, "bcda", aq.sndId, send("key " + base64url(bs.sPub.der)))).toEqual(OK);
        const m1 = await nextMsg(alice, aq);
        expect(await sr(alice, aq.rcvAuthKey, "cdab", aq.rcvId, CMD.ack(m1.msgId))).toEqual(OK);
        expect(m1.text).toBe("key " + base64url(bs.sPub.der));
        expect(await sr(alice, aq.rcvAuthKey, "dabc", aq.rcvId, CMD.key(bs.sPub))).toEqual(OK);

        const bq = await bob.createQueue({ authAlg: "ed448", corrId: b("abcd") });
        expect(await sr(bob, bs.sKey, "bcda", aq.sndId, send("reply_id " + base64url(bq.sndId)))).toEqual(OK);
        const m2 = await nextMsg(alice, aq);
        expect(await sr(alice, aq.rcvAuthKey, "cdab", aq.rcvId, CMD.ack(m2.msgId))).toEqual(OK);
        expect(m2.text).toBe("reply_id " + base64url(bq.sndId));

        const as = sndKeys("ed448");
        expect(await sr(alice, null, "dabc", bq.sndId, send("key " + base64url(as.sPub.der)))).toEqual(OK);
        const m3 = await nextMsg(bob, bq);
        expect(await sr(bob, bq.rcvAuthKey, "abcd", bq.rcvId, CMD.ack(m3.msgId))).toEqual(OK);
        expect(m3.text).toBe("key " + base64url(as.sPub.der));
        expect(await sr(bob, bq.rcvAuthKey, "bcda", bq.rcvId, CMD.key(as.sPub))).toEqual(OK);

        expect(await sr(bob, bs.sKey, "cdab", aq.sndId, send("hi alice"))).toEqual(OK);
        const m4 = await nextMsg(alice, aq);
        expect(await sr(alice, aq.rcvAuthKey, "dabc", aq.rcvId, CMD.ack(m4.msgId))).toEqual(OK);
        expect(m4.text).toBe("hi alice");

        expect(await sr(alice, as.sKey, "abcd", bq.sndId, send("how are you bob"))).toEqual(OK);
        const m5 = await nextMsg(bob, bq);
        expect(await sr(bob, bq.rcvAuthKey, "bcda", bq.rcvId, CMD.ack(m5.msgId))).toEqual(OK);
        expect(m5.text).toBe("how are you bob");
      } finally {
        closeAll([alice, bob]);
      }
    });
  }
});

describe("ServerTests.hs:testSwitchSub — switch subscription to another TCP connection", () => {
  // DELD is END below v10 (Protocol.hs:encodeProtocol DELD); SOK is OK below v16.
  for (const v of [9, 10, 20]) {
    test(`v${v}`, async () => {
      const [rh1, rh2, sh] = await connectN(srv, 3, v);
      try {
        const q = await rh1.createQueue({ authAlg: "ed448", corrId: b("abcd") });
        const rKey = q.rcvAuthKey;
        expect(await sr(sh, null, "bcda", q.sndId, send("test1"))).toEqual(OK);
        expect(await sr(sh, null, "cdab", q.sndId, send("test2, no ACK"))).toEqual(OK);

        const m1 = await nextMsg(rh1, q);
        expect(m1.text).toBe("test1"); // delivered to the 1st connection
        const m2 = asMsg(await sr(rh1, rKey, "abcd", q.rcvId, CMD.ack(m1.msgId)));
        expect(decText(q, m2)).toBe("test2, no ACK"); // the next message is the ACK response

        expect(await sr(rh2, rKey, "bcda", q.rcvId, CMD.SUB)).toEqual(sokNone(v));
        const m2b = await nextMsg(rh2, q); // delivered again: it was not acknowledged
        expect(m2b.text).toBe("test2, no ACK");
        expect(m2b.msgId).toEqual(m2.msgId);
        expect(await sr(rh2, rKey, "cdab", q.rcvId, CMD.ack(m2b.msgId))).toEqual(OK);

        expect(await nextEvent(rh1, q.rcvId)).toEqual({ tag: "END" }); // the 1st connection is unsubscribed

        expect(await sr(sh, null, "dabc", q.sndId, send("test3"))).toEqual(OK);
        const m3 = await nextMsg(rh2, q);
        expect(m3.text).toBe("test3");
        expect(await sr(rh1, rKey, "abcd", q.rcvId, CMD.ack(m3.msgId))).toEqual(err(ERR.NO_MSG));
        expect(await sr(rh2, rKey, "bcda", q.rcvId, CMD.ack(m3.msgId))).toEqual(OK);

        expect(await sr(rh1, rKey, "cdab", q.rcvId, CMD.DEL)).toEqual(OK);
        expect(await nextEvent(rh2, q.rcvId)).toEqual(v >= 10 ? { tag: "DELD" } : { tag: "END" });
        await expectNoEvent(rh1); // nothing else is delivered to the 1st connection
      } finally {
        closeAll([rh1, rh2, sh]);
      }
    });
  }
});

describe("ServerTests.hs:testGetCommand — retrieve messages with GET", () => {
  for (const v of [6, 20]) {
    test(`v${v}`, async () => {
      const { sKey, sPub } = sndKeys("ed25519");
      const sh = await connect(srv, v);
      const creator = await connect(srv, v);
      const q = await createAndSecureQueue(creator, sPub);
      creator.close();
      const rh = await connect(srv, v);
      try {
        expect(await sr(sh, sKey, "1", q.sndId, send("hello"))).toEqual(OK);
        const m = await sr(rh, q.rcvAuthKey, "2", q.rcvId, CMD.GET);
        expect(decText(q, m)).toBe("hello");
        expect(await sr(rh, q.rcvAuthKey, "3", q.rcvId, CMD.ack(asMsg(m).msgId))).toEqual(OK);
        expect(await sr(rh, q.rcvAuthKey, "4", q.rcvId, CMD.GET)).toEqual(OK);
      } finally {
        closeAll([sh, rh]);
      }
    });
  }
});

describe("ServerTests.hs:testGetSubCommands — GET and SUB on one queue, only one ACK works", () => {
  for (const v of [6, 20]) {
    test(`v${v}`, async () => {
      const { sKey, sPub } = sndKeys("ed25519");
      const [rh1, rh2, sh] = await connectN(srv, 3, v);
      try {
        const q = await createAndSecureQueue(rh1, sPub);
        const rKey = q.rcvAuthKey;
        for (const [c, t] of [
          ["1", "hello 1"],
          ["1a", "hello 2"],
          ["1b", "hello 3"],
          ["1c", "hello 4"],
        ] as const)
          expect(await sr(sh, sKey, c, q.sndId, send(t))).toEqual(OK);
        // Both get the same message while it is not acknowledged: same id, same encrypted bytes.
        const m1 = await nextMsg(rh1, q);
        const m1g = asMsg(await sr(rh2, rKey, "2", q.rcvId, CMD.GET));
        expect(m1.text).toBe("hello 1");
        expect(decText(q, m1g)).toBe("hello 1");
        expect(m1g.msgId).toEqual(m1.msgId);
        expect(m1g.body).toEqual(m1.msg.body);
        // The subscriber cannot GET, the getter cannot SUB.
        expect(await sr(rh1, rKey, "3", q.rcvId, CMD.GET)).toEqual(err(ERR.CMD_PROHIBITED));
        expect(await sr(rh2, rKey, "3a", q.rcvId, CMD.SUB)).toEqual(err(ERR.CMD_PROHIBITED));
        // ACK of the subscriber delivers the next message.
        const m2 = asMsg(await sr(rh1, rKey, "4", q.rcvId, CMD.ack(m1.msgId)));
        expect(decText(q, m2)).toBe("hello 2");
        expect(await sr(rh2, rKey, "5", q.rcvId, CMD.ack(b("1234")))).toEqual(err(ERR.NO_MSG)); // bad msgId
        // Already acknowledged by the subscriber, still OK when the msgId matches.
        expect(await sr(rh2, rKey, "5a", q.rcvId, CMD.ack(m1.msgId))).toEqual(OK);
        // Not lost although the subscriber did not acknowledge it.
        const m2g = asMsg(await sr(rh2, rKey, "6", q.rcvId, CMD.GET));
        expect(decText(q, m2g)).toBe("hello 2");
        expect(m2g.msgId).toEqual(m2.msgId);
        expect(m2g.body).toEqual(m2.body);
        // The getter's ACK answers OK even though there is a next message.
        expect(await sr(rh2, rKey, "7", q.rcvId, CMD.ack(m2g.msgId))).toEqual(OK);
        const m3g = asMsg(await sr(rh2, rKey, "8", q.rcvId, CMD.GET));
        expect(decText(q, m3g)).toBe("hello 3");
        // The subscriber's ACK (of a message already removed) loses nothing.
        const m3 = asMsg(await sr(rh1, rKey, "9", q.rcvId, CMD.ack(m2g.msgId)));
        expect(decText(q, m3)).toBe("hello 3");
        expect(m3.msgId).toEqual(m3g.msgId);
        expect(m3.body).toEqual(m3g.body);
        const m4 = asMsg(await sr(rh1, rKey, "10", q.rcvId, CMD.ack(m3g.msgId)));
        expect(decText(q, m4)).toBe("hello 4");
        expect(await sr(rh1, rKey, "11", q.rcvId, CMD.ack(m4.msgId))).toEqual(OK);
        expect(await sr(rh2, rKey, "12", q.rcvId, CMD.GET)).toEqual(OK); // no more messages for the getter
      } finally {
        closeAll([rh1, rh2, sh]);
      }
    });
  }
});

describe("ServerTests.hs:testExceedQueueQuota — ERR QUOTA to the sender, QUOTA message to the recipient", () => {
  let quotaSrv: TestServer;
  beforeAll(async () => {
    quotaSrv = await startTestServer({ store: { msgQueueQuota: 2 } });
  });
  afterAll(async () => {
    await quotaSrv.stop();
  });
  for (const v of [6, 20]) {
    test(`v${v}, msgQueueQuota = 2`, async () => {
      const [sh, rh] = await connectN(quotaSrv, 2, v);
      try {
        const { sKey, sPub } = sndKeys("ed25519");
        const q = await createAndSecureQueue(rh, sPub);
        const rKey = q.rcvAuthKey;
        expect(await sr(sh, sKey, "1", q.sndId, send("hello 1"))).toEqual(OK);
        expect(await sr(sh, sKey, "2", q.sndId, send("hello 2"))).toEqual(OK);
        expect(await sr(sh, sKey, "3", q.sndId, send("hello 3"))).toEqual(err(ERR.QUOTA));
        const m1 = await nextMsg(rh, q);
        expect(m1.text).toBe("hello 1");
        const m2 = asMsg(await sr(rh, rKey, "4", q.rcvId, CMD.ack(m1.msgId)));
        expect(decText(q, m2)).toBe("hello 2");
        expect(await sr(sh, sKey, "5", q.sndId, send("hello 3"))).toEqual(err(ERR.QUOTA));
        const m3 = asMsg(await sr(rh, rKey, "6", q.rcvId, CMD.ack(m2.msgId)));
        expect(decText(q, m3)).toBe("QUOTA"); // ClientRcvMsgQuota
        expect(await sr(sh, sKey, "7", q.sndId, send("hello 3"))).toEqual(err(ERR.QUOTA));
        expect(await sr(rh, rKey, "8", q.rcvId, CMD.ack(m3.msgId))).toEqual(OK);
        expect(await sr(sh, sKey, "9", q.sndId, send("hello 3"))).toEqual(OK);
        const m4 = await nextMsg(rh, q);
        expect(m4.text).toBe("hello 3");
        expect(await sr(rh, rKey, "10", q.rcvId, CMD.ack(m4.msgId))).toEqual(OK);
      } finally {
        closeAll([sh, rh]);
      }
    });
  }
  test("the default quota is 128 messages (Server/Env/STM.hs:defaultMsgQueueQuota)", async () => {
    const s = await startTestServer();
    try {
      expect(s.options.store.msgQueueQuota).toBe(128);
      const [sh, rh] = await connectN(s, 2);
      const q = await rh.createQueue({ subMode: "C" });
      const rs = await sh.sendBatch(Array.from({ length: 130 }, (_, i) => ({ entityId: q.sndId, command: send(`m${i}`) })));
      expect(rs.slice(0, 128).every((r) => (r as { tag?: string }).tag === "OK")).toBe(true);
      expect(rs.slice(128)).toEqual([err(ERR.QUOTA), err(ERR.QUOTA)]);
      const info = await rh.queueInfo(q.rcvId, q.rcvAuthKey);
      expect(info.qiSize).toBe(129); // 128 messages and the quota marker
      closeAll([sh, rh]);
    } finally {
      await s.stop();
    }
  });
});

describe("ServerTests.hs:testConcurrentSendDelivery — delivery continues when a message is sent before the ACK", () => {
  test("50 rounds of two concurrent senders", async () => {
    const [rh, sh1, sh2] = await connectN(srv, 3);
    try {
      const { sKey, sPub } = sndKeys("ed25519");
      const q = await createAndSecureQueue(rh, sPub);
      const sndMsg = async (sh: typeof sh1, n: string) => expect(await sr(sh, sKey, n, q.sndId, send("msg " + n))).toEqual(OK);
      for (let i = 0; i < 50; i++) {
        await Promise.all([sndMsg(sh1, "1"), sndMsg(sh2, "2")]);
        const m1 = await nextMsg(rh, q);
        const m2 = asMsg(await sr(rh, q.rcvAuthKey, "3", q.rcvId, CMD.ack(m1.msgId)));
        expect([m1.text, decText(q, m2)].sort()).toEqual(["msg 1", "msg 2"]);
        expect(await sr(rh, q.rcvAuthKey, "4", q.rcvId, CMD.ack(m2.msgId))).toEqual(OK);
      }
    } finally {
      closeAll([rh, sh1, sh2]);
    }
  });
});

describe("a block made only of SUBs (Server.hs:receive: its queues looked up together, getQueueRecs)", () => {
  test("one store lookup for the block; each SUB answered as alone: SOK and its waiting MSG, AUTH for a missing queue or a wrong key", async () => {
    const r = await RawClient.connect(srv.address);
    const sh = await connect(srv);
    const queues = srv.server.store.queues;
    const batches: number[] = [];
    let single = 0;
    const getQueues = queues.getQueues.bind(queues);
    const byRecipientId = queues.getQueueByRecipientId.bind(queues);
    try {
      const rKey = generateAuthKey("ed25519");
      const newCmd = (dh: DhPrivateKey) => ({
        tag: "NEW" as const,
        req: { rcvAuthKey: authPublicKey(rKey), rcvDhKey: authPublicKey(dh), basicAuth: null, subMode: "C" as const, queueReqData: { mode: "M" as const, link: null }, ntfCreds: null },
      });
      const made: { rcvId: Uint8Array; sndId: Uint8Array; rcvDhSecret: Uint8Array }[] = [];
      for (const n of ["1", "2"]) {
        const dh = DhPrivateKey.generate();
        r.send([{ key: rKey, corrId: n, entityId: EMPTY, cmd: newCmd(dh) }]);
        const [ids] = await r.recvBlock();
        if (ids?.msg?.tag !== "IDS") throw new Error("expected IDS");
        made.push({ rcvId: ids.msg.ids.rcvId, sndId: ids.msg.ids.sndId, rcvDhSecret: x25519(ids.msg.ids.rcvPublicDhKey.raw, dh) });
      }
      const [q1, q2] = made as [(typeof made)[0], (typeof made)[0]];
      expect(await sr(sh, null, "s", q1.sndId, send("waiting"))).toEqual(OK);

      queues.getQueues = (party, ids) => {
        batches.push(ids.length);
        return getQueues(party, ids);
      };
      queues.getQueueByRecipientId = (id) => {
        single++;
        return byRecipientId(id);
      };
      // A transmission that does not parse is answered in its place and left out of the lookup
      // (Server.hs:receive: partitionEithers, then the batch of the parsed ones).
      r.send([
        { key: rKey, corrId: "a", entityId: q1.rcvId, cmd: CMD.SUB },
        { key: rKey, corrId: "b", entityId: new Uint8Array(24).fill(9), cmd: CMD.SUB },
        { key: null, corrId: "x", entityId: q2.rcvId, cmd: new TextEncoder().encode("HELLO") },
        { key: generateAuthKey("ed25519"), corrId: "c", entityId: q2.rcvId, cmd: CMD.SUB },
        { key: rKey, corrId: "d", entityId: q2.rcvId, cmd: CMD.SUB },
      ]);
      const got: Awaited<ReturnType<RawClient["recvBlock"]>> = [];
      while (got.length < 6) got.push(...(await r.recvBlock()));
      expect(got.map((t) => [t.corrId, t.msg?.tag])).toEqual([
        ["a", "SOK"],
        ["", "MSG"],
        ["b", "ERR"],
        ["x", "ERR"],
        ["c", "ERR"],
        ["d", "SOK"],
      ]);
      expect(got[1]!.entityId).toEqual(q1.rcvId);
      expect(decText(q1, got[1]!.msg!)).toBe("waiting");
      expect(got[2]!.msg).toEqual(err(ERR.AUTH));
      expect(got[3]!.msg).toEqual(err(ERR.CMD_UNKNOWN));
      expect(got[4]!.msg).toEqual(err(ERR.AUTH));
      expect(batches).toEqual([4]);
      expect(single).toBe(0);

      // A block that is not only SUBs looks each queue up as it comes.
      r.send([
        { key: rKey, corrId: "e", entityId: q2.rcvId, cmd: CMD.SUB },
        { key: null, corrId: "f", entityId: EMPTY, cmd: CMD.PING },
      ]);
      expect((await r.recvBlock()).map((t) => [t.corrId, t.msg?.tag])).toEqual([
        ["e", "SOK"],
        ["f", "PONG"],
      ]);
      expect(batches).toEqual([4]);
      expect(single).toBe(1);
    } finally {
      queues.getQueues = getQueues;
      queues.getQueueByRecipientId = byRecipientId;
      r.close();
      sh.close();
    }
  });
});

describe("response order and grouping (Server.hs:client, send)", () => {
  test("a block of commands is answered in command order; SUB's SOK precedes its MSG in the same block", async () => {
    const r = await RawClient.connect(srv.address);
    const sh = await connect(srv);
    try {
      const rKey = generateAuthKey("ed25519");
      const dh = DhPrivateKey.generate();
      const newCmd = {
        tag: "NEW" as const,
        req: { rcvAuthKey: authPublicKey(rKey), rcvDhKey: authPublicKey(dh), basicAuth: null, subMode: "C" as const, queueReqData: { mode: "M" as const, link: null }, ntfCreds: null },
      };
      r.send([{ key: rKey, corrId: "1", entityId: EMPTY, cmd: newCmd }]);
      const [ids] = await r.recvBlock();
      if (ids?.msg?.tag !== "IDS") throw new Error("expected IDS");
      const q = { rcvId: ids.msg.ids.rcvId, rcvDhSecret: x25519(ids.msg.ids.rcvPublicDhKey.raw, dh) };
      const sndId = ids.msg.ids.sndId;

      // Three SENDs in one block: OK, OK, OK in order; messages queued in that order.
      const sends = await sh.sendBatch(["a", "b", "c"].map((t) => ({ entityId: sndId, command: send(t), corrId: b("s" + t) })));
      expect(sends).toEqual([OK, OK, OK]);

      r.send([
        { key: null, corrId: "p1", entityId: EMPTY, cmd: CMD.PING },
        { key: rKey, corrId: "sub", entityId: q.rcvId, cmd: CMD.SUB },
        { key: null, corrId: "p2", entityId: EMPTY, cmd: CMD.PING },
      ]);
      const block = await r.recvBlock();
      expect(block.map((t) => [t.corrId, t.msg?.tag])).toEqual([
        ["p1", "PONG"],
        ["sub", "SOK"],
        ["", "MSG"],
        ["p2", "PONG"],
      ]);
      const m1 = block[2]!;
      expect(m1.entityId).toEqual(q.rcvId);
      expect(decText(q, m1.msg!)).toBe("a");

      // ACK then QUE in one block: the next message answers the ACK, then INFO shows it delivered
      // (a 16 KB block holds one MSG, so INFO follows in the next block).
      r.send([
        { key: rKey, corrId: "ack", entityId: q.rcvId, cmd: CMD.ack(asMsg(m1.msg!).msgId) },
        { key: rKey, corrId: "que", entityId: q.rcvId, cmd: CMD.QUE },
      ]);
      const rs = [...(await r.recvBlock())];
      if (rs.length < 2) rs.push(...(await r.recvBlock()));
      expect(rs.map((t) => t.corrId)).toEqual(["ack", "que"]);
      const m2 = asMsg(rs[0]!.msg!);
      expect(decText(q, m2)).toBe("b");
      const info = rs[1]!.msg;
      if (info?.tag !== "INFO") throw new Error("expected INFO");
      expect(info.info.qiSub?.qDelivered).toBe(Buffer.from(m2.msgId).toString("base64"));
    } finally {
      r.close();
      sh.close();
    }
  });
});

describe("LARGE_MSG by version (Protocol.hs:maxMessageLength: 16088 below v8, 16064 from v8, 16048 from v11)", () => {
  for (const [v, max] of [
    [7, 16088],
    [8, 16064],
    [10, 16064],
    [11, 16048],
    [20, 16048],
  ] as const) {
    test(`v${v}: ${max} bytes accepted, ${max + 1} refused`, async () => {
      const c = await connect(srv, v);
      try {
        const q = await c.createQueue({ subMode: "C" });
        expect(await sr(c, null, "1", q.sndId, send("-".repeat(max + 1)))).toEqual(err(ERR.LARGE_MSG));
        expect(await sr(c, null, "2", q.sndId, send("-".repeat(max)))).toEqual(OK);
        const m = await sr(c, q.rcvAuthKey, "3", q.rcvId, CMD.GET);
        expect(decText(q, m)).toBe("-".repeat(max));
        expect(asMsg(m).body.length).toBe(16122); // padded to 16106 + tag, whatever the size (Server.hs:encryptMsg)
      } finally {
        c.close();
      }
    });
  }
});

describe("ACK semantics (Server.hs:acknowledgeMsg)", () => {
  test("an empty msgId matches what was delivered but deletes nothing: the same message is the answer", async () => {
    const [r, s] = await connectN(srv, 2);
    try {
      const q = await r.createQueue();
      expect(await sr(s, null, "1", q.sndId, send("one"))).toEqual(OK);
      expect(await sr(s, null, "2", q.sndId, send("two"))).toEqual(OK);
      const m1 = await nextMsg(r, q);
      const again = asMsg(await sr(r, q.rcvAuthKey, "3", q.rcvId, CMD.ack(EMPTY)));
      expect(again.msgId).toEqual(m1.msgId);
      const m2 = asMsg(await sr(r, q.rcvAuthKey, "4", q.rcvId, CMD.ack(m1.msgId)));
      expect(decText(q, m2)).toBe("two");
      expect(await sr(r, q.rcvAuthKey, "5", q.rcvId, CMD.ack(m2.msgId))).toEqual(OK);
      expect(await sr(r, q.rcvAuthKey, "6", q.rcvId, CMD.ack(m2.msgId))).toEqual(err(ERR.NO_MSG)); // nothing delivered
    } finally {
      closeAll([r, s]);
    }
  });

  test("GET mode: ACK with an empty msgId answers OK and keeps the message; ACK without SUB or GET is NO_MSG", async () => {
    const [r, g, s] = await connectN(srv, 3);
    try {
      const q = await r.createQueue({ subMode: "C" });
      expect(await sr(s, null, "1", q.sndId, send("one"))).toEqual(OK);
      expect(await sr(g, q.rcvAuthKey, "2", q.rcvId, CMD.ack(EMPTY))).toEqual(err(ERR.NO_MSG)); // no subscription on g
      const m = asMsg(await sr(g, q.rcvAuthKey, "3", q.rcvId, CMD.GET));
      expect(await sr(g, q.rcvAuthKey, "4", q.rcvId, CMD.ack(EMPTY))).toEqual(OK);
      expect(asMsg(await sr(g, q.rcvAuthKey, "5", q.rcvId, CMD.GET)).msgId).toEqual(m.msgId); // still there
      expect(await sr(g, q.rcvAuthKey, "6", q.rcvId, CMD.ack(m.msgId))).toEqual(OK);
      expect(await sr(g, q.rcvAuthKey, "7", q.rcvId, CMD.GET)).toEqual(OK);
    } finally {
      closeAll([r, g, s]);
    }
  });
});
