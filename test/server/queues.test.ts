// tests/ServerTests.hs "SMP queues": NEW, KEY, SKEY, RKEY, OFF, DEL, the stress test and
// allowNewQueues, against a real server, at the versions where these commands' encodings or
// semantics change and with each queue key type the reference allows at that version.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { generateAuthKey, authPublicKey, type AuthAlg } from "../../src/client/index.ts";
import { DhPrivateKey } from "../../src/crypto/dh.ts";
import { ERR } from "../../src/protocol/errors.ts";
import { startTestServer, type TestServer } from "./harness.ts";
import { CMD, EMPTY, algsAt, b, closeAll, connect, connectN, err, nextMsg, sampleSig, send, sndKeys, sokNone, sr, srRaw, OK } from "./helpers.ts";

/** Protocol.hs:maxMessageLength: 16048 from v11 (encrypted blocks), 16064 from v8, 16088 before. */
function maxMessageLength(v: number): number {
  return v >= 11 ? 16048 : v >= 8 ? 16064 : 16088;
}

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({ store: { msgQueueQuota: 4 } });
});
afterAll(async () => {
  await srv.stop();
});

function otherAlg(alg: AuthAlg, v: number): AuthAlg {
  const all = algsAt(v);
  return all[(all.indexOf(alg) + 1) % all.length]!;
}

describe("ServerTests.hs:testCreateSecure — NEW and KEY commands, SEND messages", () => {
  for (const v of [6, 8, 11, 20]) {
    for (const alg of algsAt(v)) {
      test(`v${v}, ${alg} queue keys`, async () => {
        const [r, s] = await connectN(srv, 2, v);
        try {
          // NEW answered with the empty entity (the client checks the response entity).
          const q = await r.createQueue({ authAlg: alg, corrId: b("abcd") });
          const rKey = q.rcvAuthKey;
          expect(q.queueMode).toBe(v >= 9 ? "M" : null);

          expect(await sr(s, null, "bcda", q.sndId, send("hello"))).toEqual(OK); // accepts unsigned SEND
          const m1 = await nextMsg(r, q);
          expect(m1.text).toBe("hello");
          expect(await sr(r, rKey, "cdab", q.rcvId, CMD.ack(m1.msgId))).toEqual(OK);
          expect(await sr(r, rKey, "dabc", q.rcvId, CMD.ack(m1.msgId))).toEqual(err(ERR.NO_MSG));

          const { sKey, sPub } = sndKeys(alg);
          expect(await sr(s, sKey, "abcd", q.sndId, send("hello"))).toEqual(err(ERR.AUTH)); // rejects signed SEND
          expect(await srRaw(r, sampleSig, "bcda", q.rcvId, CMD.key(sPub))).toEqual(err(ERR.AUTH)); // wrong signature
          expect(await sr(r, rKey, "cdab", q.sndId, CMD.key(sPub))).toEqual(err(ERR.AUTH)); // sender's id
          expect(await sr(r, rKey, "dabc", q.rcvId, CMD.key(sPub))).toEqual(OK);
          expect(await sr(r, rKey, "abcd", q.rcvId, CMD.key(sPub))).toEqual(OK); // the same key again
          expect(await sr(r, rKey, "abcd", q.rcvId, CMD.key(sndKeys(alg).sPub))).toEqual(err(ERR.AUTH)); // a different key

          expect(await sr(s, sKey, "bcda", q.sndId, send("hello again"))).toEqual(OK);
          const m2 = await nextMsg(r, q);
          expect(m2.text).toBe("hello again");
          expect(await sr(r, rKey, "cdab", q.rcvId, CMD.ack(m2.msgId))).toEqual(OK);
          expect(await sr(s, null, "dabc", q.sndId, send("hello"))).toEqual(err(ERR.AUTH)); // rejects unsigned SEND

          const max = "-".repeat(maxMessageLength(v));
          expect(await sr(s, sKey, "bcda", q.sndId, send(max))).toEqual(OK);
          expect((await nextMsg(r, q)).text).toBe(max);
          expect(await sr(s, sKey, "bcda", q.sndId, send(max + "-"))).toEqual(err(ERR.LARGE_MSG));
        } finally {
          closeAll([r, s]);
        }
      });
    }
  }
});

describe("ServerTests.hs:testCreateSndSecure — NEW and SKEY commands", () => {
  for (const v of [9, 15, 20]) {
    for (const alg of algsAt(v)) {
      test(`v${v}, ${alg} queue keys`, async () => {
        const [r, s] = await connectN(srv, 2, v);
        try {
          const q = await r.createQueue({ authAlg: alg, corrId: b("abcd") });
          const { sKey, sPub } = sndKeys(alg);
          expect(await srRaw(s, sampleSig, "bcda", q.sndId, CMD.skey(sPub))).toEqual(err(ERR.AUTH)); // wrong signature
          expect(await sr(s, sKey, "cdab", q.rcvId, CMD.skey(sPub))).toEqual(err(ERR.AUTH)); // recipient's id
          expect(await sr(s, sKey, "dabc", q.sndId, CMD.skey(sPub))).toEqual(OK);
          const other = sndKeys(alg);
          expect(await sr(s, other.sKey, "abcd", q.sndId, CMD.skey(other.sPub))).toEqual(err(ERR.AUTH)); // secured with another key
          expect(await sr(s, sKey, "abcd", q.sndId, CMD.skey(sPub))).toEqual(OK); // repeated SKEY is accepted

          expect(await sr(s, sKey, "bcda", q.sndId, send("hello"))).toEqual(OK);
          const m = await nextMsg(r, q);
          expect(m.text).toBe("hello");
          expect(await sr(r, q.rcvAuthKey, "cdab", q.rcvId, CMD.ack(m.msgId))).toEqual(OK);
          expect(await sr(s, null, "dabc", q.sndId, send("hello"))).toEqual(err(ERR.AUTH));

          const max = "-".repeat(maxMessageLength(v));
          expect(await sr(s, sKey, "bcda", q.sndId, send(max))).toEqual(OK);
          expect((await nextMsg(r, q)).text).toBe(max);
          expect(await sr(s, sKey, "bcda", q.sndId, send(max + "-"))).toEqual(err(ERR.LARGE_MSG));
        } finally {
          closeAll([r, s]);
        }
      });
    }
  }
});

describe("ServerTests.hs:testSndSecureProhibited — SKEY refused on a contact queue", () => {
  for (const v of [9, 20]) {
    test(`v${v}`, async () => {
      const [r, s] = await connectN(srv, 2, v);
      try {
        const q = await r.createQueue({ authAlg: "ed448", queueMode: "C", corrId: b("abcd") });
        expect(q.queueMode).toBe("C");
        const { sKey, sPub } = sndKeys("ed448");
        expect(await sr(s, sKey, "dabc", q.sndId, CMD.skey(sPub))).toEqual(err(ERR.AUTH));
      } finally {
        closeAll([r, s]);
      }
    });
  }
  test("below v9 no queue mode is sent, so SKEY is refused for every new queue", async () => {
    const [r, s] = await connectN(srv, 2, 8);
    try {
      const q = await r.createQueue({ authAlg: "ed448" });
      expect(q.queueMode).toBeNull();
      const { sKey, sPub } = sndKeys("ed448");
      expect(await sr(s, sKey, "dabc", q.sndId, CMD.skey(sPub))).toEqual(err(ERR.AUTH));
    } finally {
      closeAll([r, s]);
    }
  });
});

describe("ServerTests.hs:testCreateUpdateKeys — RKEY command to add additional recipient keys", () => {
  for (const v of [9, 20]) {
    for (const alg of algsAt(v)) {
      test(`v${v}, ${alg} + ${otherAlg(alg, v)} recipient keys`, async () => {
        const h = await connect(srv, v);
        try {
          const q = await h.createQueue({ authAlg: alg, queueMode: "C", corrId: b("1") });
          const rKey = q.rcvAuthKey;
          const rPub = authPublicKey(rKey);
          const rKey2 = generateAuthKey(otherAlg(alg, v));
          const rPub2 = authPublicKey(rKey2);
          const rkey = (...keys: (typeof rPub)[]) => ({ tag: "RKEY" as const, keys });
          expect(await sr(h, rKey, "2", q.rcvId, rkey(rPub, rPub2))).toEqual(OK);
          expect((await sr(h, rKey, "3", q.rcvId, CMD.QUE)).tag).toBe("INFO"); // old key still works
          expect((await sr(h, rKey2, "4", q.rcvId, CMD.QUE)).tag).toBe("INFO"); // new key works too
          expect(await sr(h, rKey2, "5", q.rcvId, rkey(rPub2))).toEqual(OK); // remove the old key
          expect(await sr(h, rKey, "6", q.rcvId, CMD.QUE)).toEqual(err(ERR.AUTH));
          expect(await sr(h, rKey2, "7", q.rcvId, rkey(rPub, rPub2))).toEqual(OK); // add it back
          expect((await sr(h, rKey, "8", q.rcvId, CMD.QUE)).tag).toBe("INFO");
          expect(await sr(h, rKey, "9", q.rcvId, rkey(rPub2))).toEqual(OK); // a key can remove itself
          expect(await sr(h, rKey, "10", q.rcvId, CMD.QUE)).toEqual(err(ERR.AUTH));
          expect((await sr(h, rKey2, "11", q.rcvId, CMD.QUE)).tag).toBe("INFO");
        } finally {
          h.close();
        }
      });
    }
  }
  test("RKEY is refused on a messaging queue (Server.hs: checkMode QMContact)", async () => {
    const h = await connect(srv, 20);
    try {
      const q = await h.createQueue({ authAlg: "ed25519" });
      expect(await sr(h, q.rcvAuthKey, "1", q.rcvId, { tag: "RKEY", keys: [authPublicKey(q.rcvAuthKey)] })).toEqual(err(ERR.AUTH));
    } finally {
      h.close();
    }
  });
});

describe("ServerTests.hs:testCreateDelete — NEW, OFF and DEL commands, SEND messages", () => {
  const cases: [number, AuthAlg][] = [
    [6, "ed25519"],
    [9, "ed448"],
    [15, "x25519"],
    [16, "ed25519"],
    [20, "ed25519"],
    [20, "x25519"],
  ];
  for (const [v, alg] of cases) {
    test(`v${v}, ${alg} queue keys`, async () => {
      const [rh, sh] = await connectN(srv, 2, v);
      try {
        const q = await rh.createQueue({ authAlg: alg, corrId: b("abcd") });
        const rKey = q.rcvAuthKey;
        const { sKey, sPub } = sndKeys(alg);
        expect(await sr(rh, rKey, "bcda", q.rcvId, CMD.key(sPub))).toEqual(OK);
        expect(await sr(sh, sKey, "cdab", q.sndId, send("hello"))).toEqual(OK);
        // Not delivered: the first message is not acknowledged yet.
        expect(await sr(sh, sKey, "dabc", q.sndId, send("hello 2"))).toEqual(OK);
        expect((await nextMsg(rh, q)).text).toBe("hello");

        expect(await srRaw(rh, sampleSig, "abcd", q.rcvId, CMD.OFF)).toEqual(err(ERR.AUTH));
        expect(await sr(rh, rKey, "bcda", q.sndId, CMD.OFF)).toEqual(err(ERR.AUTH));
        expect(await sr(rh, rKey, "cdab", q.rcvId, CMD.OFF)).toEqual(OK);
        expect(await sr(sh, sKey, "dabc", q.sndId, send("hello"))).toEqual(err(ERR.AUTH));
        expect(await sr(sh, null, "abcd", q.sndId, send("hello"))).toEqual(err(ERR.AUTH));
        expect(await sr(rh, rKey, "bcda", q.rcvId, CMD.OFF)).toEqual(OK); // OFF when suspended

        // SUB on a suspended queue delivers the unacknowledged message again.
        expect(await sr(rh, rKey, "cdab", q.rcvId, CMD.SUB)).toEqual(sokNone(v));
        expect((await nextMsg(rh, q)).text).toBe("hello");

        expect(await srRaw(rh, sampleSig, "dabc", q.rcvId, CMD.DEL)).toEqual(err(ERR.AUTH));
        expect(await sr(rh, rKey, "abcd", q.sndId, CMD.DEL)).toEqual(err(ERR.AUTH));
        expect(await sr(rh, rKey, "bcda", q.rcvId, CMD.DEL)).toEqual(OK);

        expect(await sr(sh, sKey, "cdab", q.sndId, send("hello"))).toEqual(err(ERR.AUTH));
        expect(await sr(sh, null, "dabc", q.sndId, send("hello"))).toEqual(err(ERR.AUTH));
        expect(await sr(rh, rKey, "abcd", q.rcvId, CMD.ack(EMPTY))).toEqual(err(ERR.AUTH));
        expect(await sr(rh, rKey, "bcda", q.rcvId, CMD.OFF)).toEqual(err(ERR.AUTH));
        expect(await sr(rh, rKey, "cdab", q.rcvId, CMD.SUB)).toEqual(err(ERR.AUTH));
      } finally {
        closeAll([rh, sh]);
      }
    });
  }
});

describe("ServerTests.hs:stressTest — many queues, disconnect and re-connect", () => {
  test("50 queues with one key, subscribed again from two later connections", async () => {
    const [h1, h2, h3] = await connectN(srv, 3);
    try {
      const rKey = generateAuthKey("ed25519");
      const dh = DhPrivateKey.generate();
      const rIds: Uint8Array[] = [];
      for (let i = 0; i < 50; i++) rIds.push((await h1.createQueue({ rcvAuthKey: rKey, rcvDhKey: dh })).rcvId);
      expect(new Set(rIds.map((r) => Buffer.from(r).toString("hex"))).size).toBe(50);
      h1.close();
      for (const rId of rIds) expect(await sr(h2, rKey, "s", rId, CMD.SUB)).toEqual({ tag: "SOK", serviceId: null });
      h2.close();
      for (const rId of rIds) expect(await sr(h3, rKey, "s", rId, CMD.SUB)).toEqual({ tag: "SOK", serviceId: null });
    } finally {
      closeAll([h1, h2, h3]);
    }
  });
});

describe("ServerTests.hs:testAllowNewQueues — allowNewQueues = False", () => {
  test("NEW is refused with AUTH", async () => {
    const s = await startTestServer({ auth: { allowNewQueues: false } });
    try {
      const h = await connect(s);
      const rKey = generateAuthKey("ed448");
      const cmd = {
        tag: "NEW" as const,
        req: {
          rcvAuthKey: authPublicKey(rKey),
          rcvDhKey: authPublicKey(DhPrivateKey.generate()),
          basicAuth: null,
          subMode: "S" as const,
          queueReqData: { mode: "M" as const, link: null },
          ntfCreds: null,
        },
      };
      expect(await sr(h, rKey, "abcd", EMPTY, cmd)).toEqual(err(ERR.AUTH));
      h.close();
    } finally {
      await s.stop();
    }
  });
});

describe("create_password (Server.hs:processCommand NEW allowNew: newQueueBasicAuth)", () => {
  for (const v of [6, 20]) {
    test(`v${v}: NEW without the password or with a wrong one is AUTH; with it, IDS`, async () => {
      const s = await startTestServer({ auth: { createPassword: b("s3cret") } });
      try {
        const h = await connect(s, v);
        const attempt = async (basicAuth: Uint8Array | null) => {
          try {
            await h.createQueue({ authAlg: "ed25519", basicAuth });
            return "IDS";
          } catch (e) {
            return (e as { err?: unknown }).err ?? e;
          }
        };
        expect(await attempt(null)).toEqual(ERR.AUTH);
        expect(await attempt(b("wrong"))).toEqual(ERR.AUTH);
        expect(await attempt(b("s3cret0"))).toEqual(ERR.AUTH);
        expect(await attempt(b("s3cret"))).toBe("IDS");
        h.close();
        // The password in the server address is what a client sends by default.
        const withAuth = await connect({ address: s.address.replace("=@", "=:s3cret@") }, v);
        expect((await withAuth.createQueue()).rcvId.length).toBe(24);
        withAuth.close();
      } finally {
        await s.stop();
      }
    });
  }
});
