/**
 * Issue 18 with two real node processes on one PostgreSQL schema, each on its own port: a client
 * connected to node A and a client connected to node B must see what two clients of one server
 * see (Server.hs semantics, as test/server/messages.test.ts checks them on one process).
 */
import { describe, expect, test } from "bun:test";
import { SMPClient } from "../../src/client/client.ts";
import { connectTLSStream } from "../../src/client/tls-stream.ts";
import { sha256 } from "../../src/crypto/digest.ts";
import { parseServerStr } from "../../src/protocol/server-address.ts";
import { chainIdCaCerts } from "../../src/transport/tls/chain-validation.ts";
import { asMsg, CMD, createAndSecureQueue, decText, expectNoEvent, nextEvent, OK, send, sndKeys, sr } from "../server/helpers.ts";
import { clusterFixture, HAVE_PG, type NodeProcess } from "./harness.ts";
import { receiveAcking } from "./receive.ts";

/**
 * Cross-node events: an upper bound, never a measurement. Beyond the node's sweep interval (10 s,
 * cluster-subscribers.ts SWEEP_MS): an event whose notification missed a claim still being
 * committed (a DEL right after NEW on another node) comes with the sweep — seen once after 8.8 s.
 */
const CROSS_MS = 30_000;
const TEST_MS = 90_000;

/** SHA-256 of the identity certificate in the chain `n` serves (what a client checks the address's key hash against). */
async function servedFingerprint(n: NodeProcess): Promise<Uint8Array> {
  let chain: readonly Uint8Array[] = [];
  const c = await SMPClient.connect({
    server: n.address,
    timeoutMs: 5000,
    connectTimeoutMs: 5000,
    openStream: async (host, port, ctx) => {
      const s = await connectTLSStream(host, port, ctx);
      chain = s.peerCertificateChain;
      return s;
    },
  });
  c.close();
  const shape = chainIdCaCerts(chain);
  if (shape.kind !== "valid") throw new Error(`node ${n.name} served a chain of ${chain.length} certificates`);
  return sha256(shape.idCert);
}

if (!HAVE_PG) console.warn("SKIP test/cluster/two-nodes.test.ts: no PostgreSQL (SMP_TEST_PG_URI)");

describe.skipIf(!HAVE_PG)("two nodes, one PostgreSQL store", () => {
  let a: NodeProcess;
  let b: NodeProcess;
  const { on } = clusterFixture(2, TEST_MS, (n) => ([a, b] = n as [NodeProcess, NodeProcess]));

  test("the nodes are distinct processes on distinct ports serving one identity", async () => {
    expect(a.pid).not.toBe(b.pid);
    expect(a.port).not.toBe(b.port);
    // The identity certificate each node presents on connect: the same, the one `init` made.
    const [fa, fb] = [await servedFingerprint(a), await servedFingerprint(b)];
    expect(fb).toEqual(fa);
    expect(fa).toEqual(parseServerStr(a.address).server.keyHash);
  }, TEST_MS);

  test("SEND on A → MSG on B (the recipient subscribed on B), ACK on B", async () => {
    const [ra, sa] = [await on(b), await on(a)];
    const { sKey, sPub } = sndKeys();
    const q = await createAndSecureQueue(ra, sPub); // NEW subscribes this connection (subMode "S")
    expect(await sr(sa, sKey, "1", q.sndId, send("hello from A"))).toEqual(OK);
    const m = asMsg(await nextEvent(ra, q.rcvId, CROSS_MS));
    expect(decText(q, m)).toBe("hello from A");
    expect(await sr(ra, q.rcvAuthKey, "2", q.rcvId, CMD.ack(m.msgId))).toEqual(OK);
    // Several in a row keep their order.
    const texts = ["m0", "m1", "m2", "m3", "m4"];
    for (const t of texts) expect(await sr(sa, sKey, t, q.sndId, send(t))).toEqual(OK);
    expect(await receiveAcking(ra, q, texts.length, CROSS_MS)).toEqual(texts);
    await expectNoEvent(ra, 200);
  }, TEST_MS);

  test("SUB on B ends A's subscription with END; messages then go to B only", async () => {
    const [r1, r2, s] = [await on(a), await on(b), await on(a)];
    const { sKey, sPub } = sndKeys();
    const q = await createAndSecureQueue(r1, sPub);
    expect(await sr(s, sKey, "1", q.sndId, send("before"))).toEqual(OK);
    const first = asMsg(await nextEvent(r1, q.rcvId, CROSS_MS));
    expect(decText(q, first)).toBe("before");
    // Not acknowledged on A: the new subscription on B gets it again (Server.hs:subscribeQueue → deliver).
    const sub = await sr(r2, q.rcvAuthKey, "2", q.rcvId, CMD.SUB);
    const redelivered = sub.tag === "MSG" ? sub : await nextEvent(r2, q.rcvId, CROSS_MS);
    expect(decText(q, redelivered)).toBe("before");
    expect(await nextEvent(r1, q.rcvId, CROSS_MS)).toEqual({ tag: "END" });
    expect(await sr(r2, q.rcvAuthKey, "3", q.rcvId, CMD.ack(first.msgId))).toEqual(OK);
    expect(await sr(s, sKey, "4", q.sndId, send("after"))).toEqual(OK);
    expect(decText(q, await nextEvent(r2, q.rcvId, CROSS_MS))).toBe("after");
    await expectNoEvent(r1, 300);
    // And back: SUB on A ends B's subscription.
    const back = await sr(r1, q.rcvAuthKey, "5", q.rcvId, CMD.SUB);
    // "after" is not acknowledged yet: it comes with the subscription (as SUB's answer or right after it).
    expect(decText(q, back.tag === "MSG" ? back : await nextEvent(r1, q.rcvId, CROSS_MS))).toBe("after");
    expect(await nextEvent(r2, q.rcvId, CROSS_MS)).toEqual({ tag: "END" });
  }, TEST_MS);

  test("GET on A of messages sent on B; ACK on A; a SUB on B then gets the rest in order", async () => {
    const [r1, r2, s] = [await on(a), await on(b), await on(b)];
    const { sKey, sPub } = sndKeys();
    const q = await r1.createQueue({ subMode: "C" });
    expect(await sr(r1, q.rcvAuthKey, "k", q.rcvId, CMD.key(sPub))).toEqual(OK);
    expect(await sr(r1, q.rcvAuthKey, "g0", q.rcvId, CMD.GET)).toEqual(OK); // empty
    for (const t of ["one", "two", "three"]) expect(await sr(s, sKey, t, q.sndId, send(t))).toEqual(OK);
    const g1 = await sr(r1, q.rcvAuthKey, "g1", q.rcvId, CMD.GET);
    expect(decText(q, g1)).toBe("one");
    expect(await sr(r1, q.rcvAuthKey, "a1", q.rcvId, CMD.ack((g1 as { msgId: Uint8Array }).msgId))).toEqual(OK);
    const sub = await sr(r2, q.rcvAuthKey, "sub", q.rcvId, CMD.SUB);
    const m2 = sub.tag === "MSG" ? sub : await nextEvent(r2, q.rcvId, CROSS_MS);
    expect(decText(q, m2)).toBe("two");
    const m3 = await sr(r2, q.rcvAuthKey, "a2", q.rcvId, CMD.ack((m2 as { msgId: Uint8Array }).msgId));
    expect(decText(q, m3)).toBe("three");
    expect(await sr(r2, q.rcvAuthKey, "a3", q.rcvId, CMD.ack((m3 as { msgId: Uint8Array }).msgId))).toEqual(OK);
    expect(await sr(r1, q.rcvAuthKey, "g2", q.rcvId, CMD.GET)).toEqual(OK); // consumed on B, seen empty from A
  }, TEST_MS);

  test("DEL on B: the subscriber on A gets DELD; the sender on either node gets AUTH", async () => {
    const [r1, r2, s] = [await on(a), await on(b), await on(b)];
    const { sKey, sPub } = sndKeys();
    const q = await createAndSecureQueue(r1, sPub);
    expect(await sr(r2, q.rcvAuthKey, "d", q.rcvId, CMD.DEL)).toEqual(OK);
    expect(await nextEvent(r1, q.rcvId, CROSS_MS)).toEqual({ tag: "DELD" });
    expect(await sr(s, sKey, "1", q.sndId, send("gone"))).toEqual({ tag: "ERR", err: { type: "AUTH" } });
  }, TEST_MS);

  test("a queue created on A is used from B at once (no cache of one node hides another's write)", async () => {
    const [r1, r2] = [await on(a), await on(b)];
    const { sKey, sPub } = sndKeys();
    const q = await r1.createQueue({ subMode: "C" });
    expect(await sr(r2, q.rcvAuthKey, "k", q.rcvId, CMD.key(sPub))).toEqual(OK);
    expect(await sr(r1, sKey, "s", q.sndId, send("x"))).toEqual(OK);
    expect(decText(q, await sr(r2, q.rcvAuthKey, "g", q.rcvId, CMD.GET))).toBe("x");
    // OFF on A, then the sender on B is refused.
    expect(await sr(r1, q.rcvAuthKey, "o", q.rcvId, CMD.OFF)).toEqual(OK);
    expect(await sr(r2, sKey, "s2", q.sndId, send("y"))).toEqual({ tag: "ERR", err: { type: "AUTH" } });
  }, TEST_MS);
});
