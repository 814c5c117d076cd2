// Several nodes on one PostgreSQL schema behave for clients as one server (issue 18): nodes are
// `startServer` instances in this process, each with its own store connections and bus, on the
// same schema; clients connect to different nodes. Real processes killed with -9 are in
// test/cluster. Needs SMP_TEST_PG_URI (skipped, and said so, without it).
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SQL } from "bun";
import { SMPClient, type RcvQueue } from "../../src/client/client.ts";
import { authPublicKey, generateAuthKey } from "../../src/client/keys.ts";
import { decodePrivKey } from "../../src/crypto/keys.ts";
import { SignPrivateKey } from "../../src/crypto/sign.ts";
import { pemToDer } from "../../src/crypto/x509/certificate.ts";
import { generateServiceCert } from "../../src/crypto/x509/service-certificate.ts";
import { queueIdsHash } from "../../src/protocol/ids-hash.ts";
import type { BrokerMsg } from "../../src/protocol/broker-messages.ts";
import { startServer, type RunningServer } from "../../src/server/index.ts";
import { openPostgresStore, type PostgresStore } from "../../src/store/postgres/open.ts";
import type { ServiceCredentials } from "../../src/transport/client-handshake.ts";
import { dropTestSchemas, testPostgresUri, testSchemaName } from "../store/postgres.ts";
import { testOptions } from "./harness.ts";
import { CMD, OK, decText, expectNoEvent, nextEvent, nextMsg, send, sndKeys, sr } from "./helpers.ts";

const URI = testPostgresUri();
const pgDescribe = URI === null ? describe.skip : describe;

interface Node {
  readonly running: RunningServer;
  readonly store: PostgresStore;
  readonly address: string;
  readonly dir: string;
}

let nodes: Node[] = [];
let clients: SMPClient[] = [];
let schemas: string[] = [];

afterEach(async () => {
  for (const c of clients) c.close();
  clients = [];
  for (const n of nodes) {
    await n.running.close();
    rmSync(n.dir, { recursive: true, force: true });
  }
  nodes = [];
  await dropTestSchemas(URI!, schemas);
  schemas = [];
});

/** `count` nodes on one new schema, as `start --nodes` runs them (same identity, same store). */
async function cluster(count: number, schema = testSchemaName()): Promise<Node[]> {
  if (!schemas.includes(schema)) schemas.push(schema);
  const out: Node[] = [];
  for (let i = 0; i < count; i++) out.push(await startNode(schema));
  return out;
}

async function startNode(schema: string): Promise<Node> {
  const dir = mkdtempSync(join(tmpdir(), "smp-cluster-"));
  const options = testOptions({ store: { postgres: { uri: URI!, schema, poolSize: 4 } } }, dir);
  const store = await openPostgresStore({ uri: URI!, schema, poolSize: 4, createSchema: true, msgQueueQuota: 128 });
  const running = await startServer(options, store);
  const fp = Buffer.from(options.credentials.fingerprint).toString("base64url") + "=";
  const n = { running, store, dir, address: `smp://${fp}@127.0.0.1:${running.ports[0]}` };
  nodes.push(n);
  return n;
}

async function client(n: Node, service?: ServiceCredentials): Promise<SMPClient> {
  const c = await SMPClient.connect({ server: n.address, service, timeoutMs: 5000, connectTimeoutMs: 5000 });
  clients.push(c);
  return c;
}

/** A queue of `rc` (subscribed on its node at NEW), secured with a sender key (KEY). */
async function securedQueue(rc: SMPClient): Promise<{ q: RcvQueue; sKey: ReturnType<typeof sndKeys>["sKey"] }> {
  const q = await rc.createQueue({ subMode: "S" });
  const { sKey, sPub } = sndKeys();
  expect(await sr(rc, q.rcvAuthKey, "k", q.rcvId, CMD.key(sPub))).toEqual(OK);
  return { q, sKey };
}

/** Waits until `cond` holds, checking at every turn of the event loop (no clock threshold: the test's own timeout bounds it). */
async function until(cond: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await cond())) await new Promise((r) => setTimeout(r, 5));
}

async function ownerOf(n: Node, party: 0 | 1, id: Uint8Array): Promise<string | null> {
  const rs = await n.store.conn.sql`SELECT node_id FROM cluster_subs WHERE party = ${party} AND queue_id = ${id}`;
  return rs.length === 0 ? null : (rs[0].node_id as string);
}

function serviceCreds(role: "M" | "N"): () => ServiceCredentials {
  const c = generateServiceCert("localhost");
  const key = new SignPrivateKey("ed25519", decodePrivKey(pemToDer(c.keyPem, "PRIVATE KEY")).raw);
  return () => ({ role, certChain: [c.der], certSignKey: key, sessionKey: new SignPrivateKey("ed25519", crypto.getRandomValues(new Uint8Array(32))) });
}

pgDescribe("a cluster of nodes on one PostgreSQL schema", () => {
  test("SEND on node A → MSG on node B; ACK there brings the next; GET works on either", async () => {
    const [a, b] = await cluster(2);
    const rc = await client(b!);
    const sc = await client(a!);
    const { q, sKey } = await securedQueue(rc);
    expect(await sr(sc, sKey, "1", q.sndId, send("one"))).toEqual(OK);
    expect(await sr(sc, sKey, "2", q.sndId, send("two"))).toEqual(OK);
    const m1 = await nextMsg(rc, q);
    expect(m1.text).toBe("one");
    const m2 = await sr(rc, q.rcvAuthKey, "3", q.rcvId, CMD.ack(m1.msgId));
    expect(decText(q, m2)).toBe("two");
    expect(await sr(rc, q.rcvAuthKey, "4", q.rcvId, CMD.ack((m2 as { msgId: Uint8Array }).msgId))).toEqual(OK);
    // Once empty, the next SEND on A is pushed to B again.
    expect(await sr(sc, sKey, "5", q.sndId, send("three"))).toEqual(OK);
    expect((await nextMsg(rc, q)).text).toBe("three");

    // GET on a connection to A of a queue whose messages were sent through B.
    const { q: q2, sKey: sKey2 } = await securedQueue(await client(a!));
    const getter = await client(a!);
    const sender = await client(b!);
    expect(await sr(sender, sKey2, "6", q2.sndId, send("for GET"))).toEqual(OK);
    const g = await sr(getter, q2.rcvAuthKey, "7", q2.rcvId, CMD.GET);
    expect(decText(q2, g)).toBe("for GET");
  });

  test("SUB on node B ends node A's subscription with END; deliveries follow the subscriber", async () => {
    const [a, b] = await cluster(2);
    const ra = await client(a!);
    const sc = await client(a!);
    const { q, sKey } = await securedQueue(ra);
    await until(async () => (await ownerOf(a!, 0, q.rcvId)) !== null);
    const rb = await client(b!);
    expect(await sr(rb, q.rcvAuthKey, "1", q.rcvId, CMD.SUB)).toEqual({ tag: "SOK", serviceId: null });
    expect(await nextEvent(ra, q.rcvId)).toEqual({ tag: "END" });
    expect(await sr(sc, sKey, "2", q.sndId, send("after the move"))).toEqual(OK);
    expect((await nextMsg(rb, q)).text).toBe("after the move");
    await expectNoEvent(ra);
    expect(a!.running.server.subscribers.counts("rcv").queues).toBe(0);
    expect(b!.running.server.subscribers.counts("rcv").queues).toBe(1);
  });

  test("two SUBs racing on two nodes leave exactly one subscriber, the one whose claim came last", async () => {
    const [a, b, c] = await cluster(3);
    const owner = await client(c!);
    const { q, sKey } = await securedQueue(owner);
    const ra = await client(a!);
    const rb = await client(b!);
    const [sa, sb] = await Promise.all([sr(ra, q.rcvAuthKey, "1", q.rcvId, CMD.SUB), sr(rb, q.rcvAuthKey, "2", q.rcvId, CMD.SUB)]);
    expect(sa).toEqual({ tag: "SOK", serviceId: null });
    expect(sb).toEqual({ tag: "SOK", serviceId: null });
    expect(await nextEvent(owner, q.rcvId)).toEqual({ tag: "END" });
    const winner = await ownerOf(a!, 0, q.rcvId);
    const [wNode, wClient, lClient, lNode] = winner === a!.store.cluster.nodeId ? [a!, ra, rb, b!] : [b!, rb, ra, a!];
    expect(await nextEvent(lClient, q.rcvId)).toEqual({ tag: "END" });
    await until(() => lNode.running.server.subscribers.counts("rcv").queues === 0);
    expect(wNode.running.server.subscribers.counts("rcv").queues).toBe(1);
    const sc = await client(c!);
    expect(await sr(sc, sKey, "3", q.sndId, send("to the winner"))).toEqual(OK);
    expect((await nextMsg(wClient, q)).text).toBe("to the winner");
    await expectNoEvent(lClient);
  });

  test("NMSG to the notifier's subscriber on another node; NSUB on a third node ends it with END", async () => {
    const [a, b, c] = await cluster(3);
    const rc = await client(a!);
    const { q, sKey } = await securedQueue(rc);
    const creds = await rc.enableNotifications(q.rcvId, q.rcvAuthKey);
    const nb = await client(b!);
    expect(await sr(nb, creds.notifierKey, "1", creds.notifierId, CMD.NSUB)).toEqual({ tag: "SOK", serviceId: null });
    await until(async () => (await ownerOf(a!, 1, creds.notifierId)) === b!.store.cluster.nodeId);
    const sc = await client(c!);
    expect(await sr(sc, sKey, "2", q.sndId, send("ping", true))).toEqual(OK);
    const n = await nextEvent(nb, creds.notifierId);
    expect(n.tag).toBe("NMSG");
    expect((await nextMsg(rc, q)).text).toBe("ping");

    const nc = await client(c!);
    expect(await sr(nc, creds.notifierKey, "3", creds.notifierId, CMD.NSUB)).toEqual({ tag: "SOK", serviceId: null });
    expect(await nextEvent(nb, creds.notifierId)).toEqual({ tag: "END" });
  });

  test("DEL on one node: DELD to the recipient's and the notifier's subscribers on others; control-port-like delete too", async () => {
    const [a, b, c] = await cluster(3);
    const ra = await client(a!);
    const { q } = await securedQueue(ra);
    const creds = await ra.enableNotifications(q.rcvId, q.rcvAuthKey);
    const nb = await client(b!);
    expect(await sr(nb, creds.notifierKey, "1", creds.notifierId, CMD.NSUB)).toEqual({ tag: "SOK", serviceId: null });
    await until(async () => (await ownerOf(a!, 1, creds.notifierId)) !== null);
    const rc = await client(c!);
    expect(await sr(rc, q.rcvAuthKey, "2", q.rcvId, CMD.DEL)).toEqual(OK);
    expect(await nextEvent(ra, q.rcvId)).toEqual({ tag: "DELD" });
    expect(await nextEvent(nb, creds.notifierId)).toEqual({ tag: "DELD" });
    await until(async () => (await ownerOf(a!, 0, q.rcvId)) === null && (await ownerOf(a!, 1, creds.notifierId)) === null);
  });

  test("a service's SUBS on another node takes it over: ENDS to the older connection, deliveries move", async () => {
    const [a, b] = await cluster(2);
    const creds = serviceCreds("M");
    const sh1 = await client(a!, creds());
    const serviceId = sh1.serviceId!;
    const h = await client(b!);
    const q1 = await sh1.createQueue();
    const q2 = await sh1.createQueue();
    const k1 = generateAuthKey("ed25519") as SignPrivateKey;
    expect(await sr(h, k1, "1", q1.sndId, { tag: "SKEY", key: authPublicKey(k1) })).toEqual(OK);
    const idsHash = queueIdsHash([q1.rcvId, q2.rcvId]);
    // Sent through B while the service's connection is on A.
    expect(await sr(h, k1, "2", q1.sndId, send("to A"))).toEqual(OK);
    expect(decText(q1, (await nextEvent(sh1, q1.rcvId)) as BrokerMsg)).toBe("to A");

    const sh2 = await client(b!, creds());
    expect(sh2.serviceId).toEqual(serviceId);
    expect(await sh2.subscribeService(2, idsHash)).toEqual({ count: 2, idsHash });
    expect(await nextEvent(sh1, serviceId)).toEqual({ tag: "ENDS", count: 2, idsHash });
    // The unacknowledged message goes to the new connection, then ALLS.
    expect(decText(q1, await nextEvent(sh2, q1.rcvId))).toBe("to A");
    expect(await nextEvent(sh2)).toEqual({ tag: "ALLS" });
    expect(a!.running.server.subscribers.serviceSubscriber("rcv", serviceId)).toBeUndefined();
  });

  test("blocking on one node: the subscriber on another gets ERR BLOCKED, and SEND is refused everywhere", async () => {
    const [a, b] = await cluster(2);
    const rb = await client(b!);
    const { q, sKey } = await securedQueue(rb);
    await until(async () => (await ownerOf(a!, 0, q.rcvId)) !== null);
    const srvA = a!.running.server;
    const rec = (await srvA.store.queues.getQueueByRecipientId(q.rcvId))!;
    const info = { reason: "spam" as const, notice: null };
    const { Writer } = await import("../../src/encoding/writer.ts");
    const { encodeBlockingInfo } = await import("../../src/protocol/errors.ts");
    const w = new Writer();
    encodeBlockingInfo(w, info);
    expect(await srvA.store.queues.blockQueue(rec, w.toBytes())).toBe("OK");
    await srvA.store.flush();
    srvA.subscribers.blocked(q.rcvId, info);
    expect(await nextEvent(rb, q.rcvId)).toEqual({ tag: "ERR", err: { type: "BLOCKED", info } });
    const sc = await client(a!);
    expect(await sr(sc, sKey, "1", q.sndId, send("no"))).toEqual({ tag: "ERR", err: { type: "BLOCKED", info } });
  });

  test("a node that dies without leaving: its claims are released, its client resubscribes elsewhere and gets every message", async () => {
    const [a, b] = await cluster(2);
    const ra = await client(a!);
    const { q, sKey } = await securedQueue(ra);
    await until(async () => (await ownerOf(b!, 0, q.rcvId)) === a!.store.cluster.nodeId);
    // Node A's process "dies": its PostgreSQL sessions end without a goodbye (as with kill -9),
    // and its client loses the connection.
    const deadId = a!.store.cluster.nodeId;
    const admin = new SQL(URI!, { max: 1 });
    try {
      const killed = await admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ${"smp-node-" + deadId}`;
      expect(killed.length).toBeGreaterThan(0);
    } finally {
      await admin.close();
    }
    nodes.splice(nodes.indexOf(a!), 1);
    await a!.running.close(); // its clients are cut off (the store's rows are already the dead node's)
    rmSync(a!.dir, { recursive: true, force: true });
    const sc = await client(b!);
    for (let i = 0; i < 3; i++) expect(await sr(sc, sKey, `s${i}`, q.sndId, send(`m${i}`))).toEqual(OK);
    const rb = await client(b!);
    expect(await sr(rb, q.rcvAuthKey, "1", q.rcvId, CMD.SUB)).toEqual({ tag: "SOK", serviceId: null });
    let m = await nextMsg(rb, q);
    for (let i = 0; i < 3; i++) {
      expect(m.text).toBe(`m${i}`);
      const next = await sr(rb, q.rcvAuthKey, `a${i}`, q.rcvId, CMD.ack(m.msgId));
      if (i < 2) m = { msgId: (next as { msgId: Uint8Array }).msgId, text: decText(q, next), msg: next as never };
      else expect(next).toEqual(OK);
    }
    expect(await ownerOf(b!, 0, q.rcvId)).toBe(b!.store.cluster.nodeId);
  });

  test("a lost event connection: the node re-listens, resynchronises, and a message sent meanwhile is delivered", async () => {
    const [a, b] = await cluster(2);
    const rb = await client(b!);
    const { q, sKey } = await securedQueue(rb);
    await until(async () => (await ownerOf(a!, 0, q.rcvId)) === b!.store.cluster.nodeId);
    // B's LISTEN (and lock) connections are cut; a message is sent on A at once, its event may be lost.
    const admin = new SQL(URI!, { max: 1 });
    try {
      await admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ${"smp-node-" + b!.store.cluster.nodeId}`;
    } finally {
      await admin.close();
    }
    const sc = await client(a!);
    expect(await sr(sc, sKey, "1", q.sndId, send("while B was deaf"))).toEqual(OK);
    expect((await nextMsg(rb, q, )).text).toBe("while B was deaf");
  });
});

describe("cluster bus without PostgreSQL", () => {
  test.skipIf(URI !== null)("skipped: set SMP_TEST_PG_URI (scripts/pg-test-cluster.sh) to run the cluster tests", () => {});
});
