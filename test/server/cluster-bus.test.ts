// Several nodes on one PostgreSQL schema behave for clients as one server (issue 18): nodes are
// `startServer` instances in this process, each with its own store connections and bus, on the
// same schema; clients connect to different nodes. Real processes killed with -9 are in
// test/cluster. Needs SMP_TEST_PG_URI (skipped, and said so, without it).
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SQL } from "bun";
import { base64url } from "../../src/encoding/base64.ts";
import { idKey } from "../../src/encoding/bytes.ts";
import { SMPClient, type RcvQueue } from "../../src/client/client.ts";
import { authPublicKey, generateAuthKey } from "../../src/client/keys.ts";
import { decodePrivKey } from "../../src/crypto/keys.ts";
import { SignPrivateKey } from "../../src/crypto/sign.ts";
import { pemToDer } from "../../src/crypto/x509/certificate.ts";
import { generateServiceCert } from "../../src/crypto/x509/service-certificate.ts";
import { queueIdsHash } from "../../src/protocol/ids-hash.ts";
import type { BrokerMsg } from "../../src/protocol/broker-messages.ts";
import { startServer, type RunningServer } from "../../src/server/index.ts";
import { quoteIdent } from "../../src/store/postgres/migrate.ts";
import { openPostgresStore, type PostgresStore } from "../../src/store/postgres/open.ts";
import type { ServiceCredentials } from "../../src/transport/client-handshake.ts";
import { dropTestSchemas, testPostgresUri, testSchemaName } from "../store/postgres.ts";
import { setLogLevel } from "../../src/util/log.ts";
import { testOptions } from "./harness.ts";
import { dyingWithParent } from "../cluster/harness.ts";
import { ControlClient } from "./ops/control-client.ts";
import { asMsg, CMD, OK, decText, expectNoEvent, nextEvent, nextMsg, send, sndKeys, sr } from "./helpers.ts";

const URI = testPostgresUri();
const ADMIN = "admin-secret";
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

beforeAll(() => setLogLevel("error"));
afterAll(() => setLogLevel("info")); // the default; other test files in this process expect it

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

/**
 * `count` nodes on one new schema, as `start --nodes` runs them (same identity, same store);
 * `sweepMs`: their sweep interval (default 10 s, so that only the tests that want it see a sweep).
 */
async function cluster(count: number, schema = testSchemaName(), sweepMs?: number): Promise<Node[]> {
  if (!schemas.includes(schema)) schemas.push(schema);
  const out: Node[] = [];
  for (let i = 0; i < count; i++) out.push(await startNode(schema, sweepMs));
  return out;
}

async function startNode(schema: string, sweepMs?: number): Promise<Node> {
  const dir = mkdtempSync(join(tmpdir(), "smp-cluster-"));
  const control = { port: 0, adminPassword: ADMIN, dailyBlockQueueQuota: 0 };
  const options = { ...testOptions({ store: { postgres: { uri: URI!, schema, poolSize: 4 } }, control }, dir), clusterSweepMs: sweepMs };
  const store = await openPostgresStore({ uri: URI!, schema, poolSize: 4, createSchema: true, msgQueueQuota: 128 });
  const running = await startServer(options, store);
  const fp = Buffer.from(options.credentials.fingerprint).toString("base64url") + "=";
  const n = { running, store, dir, address: `smp://${fp}@127.0.0.1:${running.ports[0]}` };
  nodes.push(n);
  return n;
}

async function client(n: Node, service?: ServiceCredentials): Promise<SMPClient> {
  // Answers wait for claims that some tests hold back on purpose: generous for a loaded machine.
  const c = await SMPClient.connect({ server: n.address, service, timeoutMs: 20_000, connectTimeoutMs: 20_000 });
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

/** A queue subscribed by a client of `holder` (at NEW), once its claim is in the store. */
async function subscribedQueue(holder: Node): Promise<{ rc: SMPClient; q: RcvQueue; sKey: ReturnType<typeof sndKeys>["sKey"] }> {
  const rc = await client(holder);
  const { q, sKey } = await securedQueue(rc);
  await until(async () => (await ownerOf(holder, 0, q.rcvId)) === holder.store.cluster.nodeId);
  // …and the holder has seen its claim answered and looked at the queue once more.
  await holder.running.server.cluster!.settled();
  return { rc, q, sKey };
}

/** A message written to the store through `n` without SEND: committed, and no event is ever sent. */
async function writeWithoutEvent(n: Node, rcvId: Uint8Array): Promise<Uint8Array> {
  const rec = (await n.store.queues.getQueueByRecipientId(rcvId))!;
  const msgId = crypto.getRandomValues(new Uint8Array(24));
  expect(await n.store.messages.writeMsg(rec, { msgId, tsMs: Date.now(), notification: false, body: new Uint8Array(16) })).toBe("OK_EMPTY");
  return msgId;
}

/** Waits until `cond` holds, checking at every turn of the event loop (no clock threshold: the test's own timeout bounds it). */
async function until(cond: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await cond())) await new Promise((r) => setTimeout(r, 5));
}

async function firstLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stream.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const r = await reader.read();
    if (r.done) throw new Error(`the node process ended before it started: ${text}`);
    text += new TextDecoder().decode(r.value);
  }
  reader.releaseLock();
  return text.slice(0, text.indexOf("\n"));
}

/** Holds node `n`'s claims back until `release`; `claimStarted` resolves at the first one. */
function gateClaims(n: Node): { claimStarted: Promise<void>; release: () => void } {
  const bus = n.store.cluster;
  let release = (): void => {};
  const gate = new Promise<void>((r) => (release = r));
  let started = (): void => {};
  const claimStarted = new Promise<void>((r) => (started = r));
  const claim = bus.claim.bind(bus);
  bus.claim = async (party, id, service) => {
    started();
    await gate;
    return claim(party, id, service);
  };
  return { claimStarted, release };
}

async function ownerOf(n: Node, party: 0 | 1, id: Uint8Array): Promise<string | null> {
  const rs = await n.store.conn.sql`SELECT node_id FROM cluster_subs WHERE party = ${party} AND queue_id = ${id}`;
  return rs.length === 0 ? null : (rs[0].node_id as string);
}

/** Ends the node's own PostgreSQL sessions (LISTEN and liveness lock), as a network failure would. */
async function cutEventConnection(n: Node): Promise<void> {
  const admin = new SQL(URI!, { max: 1 });
  try {
    const killed = await admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ${"smp-node-" + n.store.cluster.nodeId}`;
    expect(killed.length).toBeGreaterThan(0);
  } finally {
    await admin.close();
  }
}

/** An admin session on the node's control port. */
async function controlPort(n: Node): Promise<ControlClient> {
  const c = await ControlClient.open(n.running.control!.port);
  await c.greeting();
  expect((await c.cmd(`auth ${ADMIN}`))[0]).toBe("Current role is CPRAdmin");
  return c;
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
    const { rc: ra, q, sKey } = await subscribedQueue(a!);
    const sc = await client(a!);
    const rb = await client(b!);
    expect(await sr(rb, q.rcvAuthKey, "1", q.rcvId, CMD.SUB)).toEqual({ tag: "SOK", serviceId: null });
    expect(await nextEvent(ra, q.rcvId)).toEqual({ tag: "END" });
    expect(await sr(sc, sKey, "2", q.sndId, send("after the move"))).toEqual(OK);
    expect((await nextMsg(rb, q)).text).toBe("after the move");
    await expectNoEvent(ra);
    expect(a!.running.server.subscribers.counts("rcv").queues).toBe(0);
    expect(b!.running.server.subscribers.counts("rcv").queues).toBe(1);

    // A node that stops leaves the registry and takes its claims with it.
    const aId = a!.store.cluster.nodeId;
    expect((await b!.store.cluster.nodes()).map((x) => x.nodeId)).toContain(aId);
    nodes.splice(nodes.indexOf(a!), 1);
    await a!.running.close();
    rmSync(a!.dir, { recursive: true, force: true });
    expect((await b!.store.cluster.nodes()).map((x) => x.nodeId)).toEqual([b!.store.cluster.nodeId]);
    expect((await b!.store.conn.sql`SELECT count(*)::int AS n FROM cluster_subs WHERE node_id = ${aId}`)[0].n).toBe(0);
  });

  // Found by the flake audit (two-nodes 'SUB on B ends A's subscription' failed so under load):
  // A answered its SUB before its claim was recorded, so a later SUB on B could claim first and
  // lose the queue to it. Answers now wait for the claims of their block (Server.commitAndFlush).
  test("a SUB answered on A whose claim commits after a later SUB's claim on B: B's subscriber keeps the queue, A's gets END", async () => {
    const [a, b] = await cluster(2);
    // Node A's claims reach the store 500 ms late (a busy bus connection or a slow PostgreSQL).
    const bus = a!.store.cluster as unknown as { runClaims: (...args: unknown[]) => Promise<void> };
    const runClaims = bus.runClaims.bind(bus);
    bus.runClaims = async (...args) => {
      await Bun.sleep(500);
      return runClaims(...args);
    };
    const ra = await client(a!);
    const { q, sKey } = await securedQueue(ra); // NEW subscribes ra; its claim is slow
    const sc = await client(a!);
    expect(await sr(sc, sKey, "1", q.sndId, send("before"))).toEqual(OK);
    expect((await nextMsg(ra, q)).text).toBe("before");
    // After A's subscriber was answered and served: a SUB on B.
    const rb = await client(b!);
    const sub = await sr(rb, q.rcvAuthKey, "2", q.rcvId, CMD.SUB);
    expect(decText(q, sub.tag === "MSG" ? sub : await nextEvent(rb, q.rcvId))).toBe("before");
    expect(await nextEvent(ra, q.rcvId)).toEqual({ tag: "END" });
    await expectNoEvent(rb, 1000);
  });

  test("two SUBs racing on two nodes leave exactly one subscriber, the one whose claim came last", async () => {
    const [a, b, c] = await cluster(3);
    const owner = await client(c!);
    const { q, sKey } = await securedQueue(owner);
    await until(async () => (await ownerOf(a!, 0, q.rcvId)) === c!.store.cluster.nodeId);
    const ra = await client(a!);
    const rb = await client(b!);
    const [sa, sb] = await Promise.all([sr(ra, q.rcvAuthKey, "1", q.rcvId, CMD.SUB), sr(rb, q.rcvAuthKey, "2", q.rcvId, CMD.SUB)]);
    expect(sa).toEqual({ tag: "SOK", serviceId: null });
    expect(sb).toEqual({ tag: "SOK", serviceId: null });
    expect(await nextEvent(owner, q.rcvId)).toEqual({ tag: "END" });
    // Each SOK waited for its own claim only: the loser is known once the "taken" reached it.
    const held = (n: Node) => n.running.server.subscribers.counts("rcv").queues;
    await until(() => held(a!) + held(b!) === 1);
    const [wNode, wClient, lClient] = held(a!) === 1 ? [a!, ra, rb] : [b!, rb, ra];
    expect(await ownerOf(a!, 0, q.rcvId)).toBe(wNode.store.cluster.nodeId);
    expect(await nextEvent(lClient, q.rcvId)).toEqual({ tag: "END" });
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

  test("DEL on one node: DELD to the recipient's and the notifier's subscribers on others; the control port's delete too", async () => {
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

    // `delete` on the control port of node B; the subscriber is on node C.
    const rc2 = await client(c!);
    const { q: q2 } = await securedQueue(rc2);
    await until(async () => (await ownerOf(b!, 0, q2.rcvId)) === c!.store.cluster.nodeId);
    const cp = await controlPort(b!);
    try {
      expect(await cp.cmd(`delete ${base64url(q2.sndId)}`)).toEqual(["ok, 0 messages deleted"]);
    } finally {
      cp.close();
    }
    expect(await nextEvent(rc2, q2.rcvId)).toEqual({ tag: "DELD" });
  });

  test("a DEL racing a SUB on a third node: the node whose claim the 'ended' deleted is the one told (DELD), the one it replaced gets END", async () => {
    const schema = testSchemaName();
    const [a, b, c] = await cluster(3, schema);
    const { rc: rb, q } = await subscribedQueue(b!);
    // An admin transaction holds the claim row, so C's claim and then the DEL's statement wait for it, in that order.
    const admin = new SQL(URI!, { max: 2 });
    const tx = await admin.reserve();
    try {
      await tx`BEGIN`;
      await tx.unsafe(`SELECT 1 FROM ${quoteIdent(schema)}.cluster_subs WHERE party = 0 AND queue_id = $1 FOR UPDATE`, [q.rcvId]);
      const pid = (await tx`SELECT pg_backend_pid() AS pid`)[0].pid as number;
      // Sessions waiting for the admin's lock, directly or behind one that does.
      const waiting = async (): Promise<number> =>
        Number(
          (
            await admin`WITH w AS (SELECT pid, pg_blocking_pids(pid) AS b FROM pg_stat_activity)
              SELECT count(*) AS n FROM w WHERE ${pid} = ANY(w.b) OR w.b && (SELECT array_agg(pid) FROM w WHERE ${pid} = ANY(w.b))`
          )[0].n,
        );
      const rc = await client(c!);
      // Answered once C's claim is recorded, so only after the COMMIT below.
      const subbed = sr(rc, q.rcvAuthKey, "1", q.rcvId, CMD.SUB);
      await until(async () => (await waiting()) === 1);
      expect(await sr(await client(a!), q.rcvAuthKey, "2", q.rcvId, CMD.DEL)).toEqual(OK);
      await until(async () => (await waiting()) >= 2);
      await tx`COMMIT`;
      expect(await subbed).toEqual({ tag: "SOK", serviceId: null });
      // C's claim is written first (B: END), then the DEL's statement deletes it and tells C (DELD).
      expect(await nextEvent(rb, q.rcvId)).toEqual({ tag: "END" });
      expect(await nextEvent(rc, q.rcvId)).toEqual({ tag: "DELD" });
      await until(async () => (await ownerOf(a!, 0, q.rcvId)) === null);
      expect(c!.running.server.subscribers.counts("rcv").queues).toBe(0);
    } finally {
      tx.release();
      await admin.close();
    }
  }, 20_000);

  test("a SUB on another node that takes a queue back from a service before the move's 'ended' went out keeps its subscriber", async () => {
    const schema = testSchemaName();
    const [a, c] = await cluster(2, schema);
    const owner = await client(c!);
    const q = await owner.createQueue({ subMode: "C" });
    const { sKey, sPub } = sndKeys();
    expect(await sr(owner, q.rcvAuthKey, "k", q.rcvId, CMD.key(sPub))).toEqual(OK);
    const sh = await client(a!, serviceCreds("M")());
    const serviceId = sh.serviceId!;
    // An uncommitted row with the service's key: A's service claim waits for it, and so does the
    // move's "ended", queued behind it in the same round of A's bus.
    const admin = new SQL(URI!, { max: 2 });
    const tx = await admin.reserve();
    try {
      await tx`BEGIN`;
      await tx.unsafe(`INSERT INTO ${quoteIdent(schema)}.cluster_service_subs(party, service_id, node_id, epoch) VALUES (0, $1, 'x', 0)`, [serviceId]);
      const pid = (await tx`SELECT pg_backend_pid() AS pid`)[0].pid as number;
      const waiting = async (): Promise<number> =>
        Number((await admin`SELECT count(*) AS n FROM pg_stat_activity WHERE ${pid} = ANY(pg_blocking_pids(pid))`)[0].n);
      const subS = sr(sh, q.rcvAuthKey, "s", q.rcvId, CMD.SUB);
      await until(async () => (await waiting()) === 1);
      expect((await a!.store.queues.getQueueByRecipientId(q.rcvId))!.rcvServiceId).toEqual(serviceId);
      // A plain SUB on C after the move: it takes the queue back from the service and claims it.
      const r = await client(c!);
      expect(await sr(r, q.rcvAuthKey, "1", q.rcvId, CMD.SUB)).toEqual({ tag: "SOK", serviceId: null });
      await until(async () => (await ownerOf(a!, 0, q.rcvId)) === c!.store.cluster.nodeId);
      await tx`ROLLBACK`;
      expect(await subS).toEqual({ tag: "SOK", serviceId });
      // A SEND through A: its event goes out after the move's "ended" (A's bus sends in order),
      // which must have left C's newer claim alone — the message, not END, reaches C's subscriber.
      expect(await sr(await client(a!), sKey, "m", q.sndId, send("after"))).toEqual(OK);
      expect(decText(q, (await nextEvent(r, q.rcvId)) as BrokerMsg)).toBe("after");
      expect(await ownerOf(a!, 0, q.rcvId)).toBe(c!.store.cluster.nodeId);
      expect(c!.running.server.subscribers.counts("rcv").queues).toBe(1);
    } finally {
      tx.release();
      await admin.close();
    }
  }, 20_000);

  test("a DEL whose 'ended' looked for holders before a SUB's claim on another node was written: DELD follows that SUB's SOK at once, not at the sweep", async () => {
    const [a, b] = await cluster(2, testSchemaName(), 3_600_000); // no sweep during the test
    const owner = await client(a!);
    const q = await owner.createQueue({ subMode: "C" });
    const { claimStarted, release } = gateClaims(b!); // B's claims wait at a gate
    // A's event statements that carried events (the DEL's "ended" looks for holders there).
    const busA = a!.store.cluster as unknown as { runEvents: (events: readonly unknown[]) => Promise<void> };
    const runEvents = busA.runEvents.bind(busA);
    let eventsRun = 0;
    busA.runEvents = async (events) => {
      await runEvents(events);
      if (events.length > 0) eventsRun++;
    };
    const rb = await client(b!);
    const subbed = sr(rb, q.rcvAuthKey, "1", q.rcvId, CMD.SUB); // answered once its claim is written
    await claimStarted;
    expect(await sr(owner, q.rcvAuthKey, "2", q.rcvId, CMD.DEL)).toEqual(OK);
    await until(() => eventsRun > 0); // "ended" went out and found no holder
    release();
    expect(await subbed).toEqual({ tag: "SOK", serviceId: null });
    expect(await nextEvent(rb, q.rcvId)).toEqual({ tag: "DELD" });
    await until(() => b!.running.server.subscribers.counts("rcv").queues === 0);
    await until(async () => (await ownerOf(a!, 0, q.rcvId)) === null); // the claim of the gone queue is released
  }, 40_000);

  test("a move's 'ended' while a newer SUB's claim on the same node is pending: the newer subscriber keeps the queue", async () => {
    const [a, b] = await cluster(2);
    const { rc: r1, q, sKey } = await subscribedQueue(b!);
    // A second connection on B subscribes the queue (the queue is individual: no service); its claim is held pending.
    const { claimStarted, release } = gateClaims(b!);
    const r2 = await client(b!);
    // Answered once its claim is recorded, so only after the release below.
    const subbed = sr(r2, q.rcvAuthKey, "1", q.rcvId, CMD.SUB);
    await claimStarted;
    expect(await nextEvent(r1, q.rcvId)).toEqual({ tag: "END" }); // local takeover
    // As if a move's statement (snapshot before r2's dissociation) had deleted B's older row and told B.
    b!.running.server.cluster!.event({ kind: "ended", party: "rcv", queueId: q.rcvId, serviceId: null, deleted: false });
    release();
    expect(await subbed).toEqual({ tag: "SOK", serviceId: null });
    await b!.running.server.cluster!.settled();
    // The queue is served by no service: r2, the newest subscriber, should keep it.
    const sc = await client(a!);
    expect(await sr(sc, sKey, "m", q.sndId, send("to r2"))).toEqual(OK);
    const ev = await nextEvent(r2, q.rcvId);
    expect((ev as BrokerMsg).tag).toBe("MSG");
    expect(b!.running.server.subscribers.counts("rcv").queues).toBe(1);
  }, 20_000);

  test("a move's 'ended' at the node of a claim: kept and written back while no service serves the queue, END once one does", async () => {
    const [a, b] = await cluster(2);
    const { rc: rb, q, sKey } = await subscribedQueue(b!);
    // As if a move's statement had deleted B's claim and told B although the queue is B's
    // subscriber's again (the statement checks the queue; the receiving node checks too).
    await a!.store.conn.sql`DELETE FROM cluster_subs WHERE party = 0 AND queue_id = ${q.rcvId}`;
    b!.running.server.cluster!.event({ kind: "ended", party: "rcv", queueId: q.rcvId, serviceId: null, deleted: false });
    await until(async () => (await ownerOf(a!, 0, q.rcvId)) !== null || b!.running.server.subscribers.counts("rcv").queues === 0);
    expect(await ownerOf(a!, 0, q.rcvId)).toBe(b!.store.cluster.nodeId);
    const sc = await client(a!);
    expect(await sr(sc, sKey, "1", q.sndId, send("still B's"))).toEqual(OK);
    const m = asMsg(await nextEvent(rb, q.rcvId));
    expect(decText(q, m)).toBe("still B's");
    expect(await sr(rb, q.rcvAuthKey, "2", q.rcvId, CMD.ack(m.msgId))).toEqual(OK);
    // A real move: a service's SUB on A; B's subscriber gets END (Server.hs: CSClient with the service).
    const sh = await client(a!, serviceCreds("M")());
    expect(await sr(sh, q.rcvAuthKey, "3", q.rcvId, CMD.SUB)).toEqual({ tag: "SOK", serviceId: sh.serviceId });
    expect(await nextEvent(rb, q.rcvId)).toEqual({ tag: "END" });
    await until(() => b!.running.server.subscribers.counts("rcv").queues === 0);
    expect(await ownerOf(a!, 0, q.rcvId)).toBeNull();
  }, 20_000);

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

  test("a service SUB whose claim another node's SUBS replaces before it is answered: SOK first, then ENDS, as on one server", async () => {
    const [a, b] = await cluster(2);
    const creds = serviceCreds("M");
    const sh0 = await client(b!, creds());
    const serviceId = sh0.serviceId!;
    const q = await sh0.createQueue(); // associated with the service, whose holder is on B
    await until(async () => (await b!.store.conn.sql`SELECT 1 FROM cluster_service_subs WHERE party = 0 AND service_id = ${serviceId}`).length === 1);
    // A's service claim, once committed, comes back to A only after B's newer claim's "serviceTaken" did.
    const bus = a!.store.cluster;
    const subs = a!.running.server.cluster!;
    let committed = (): void => {};
    const claimCommitted = new Promise<void>((r) => (committed = r));
    let seen = (): void => {};
    const takenSeen = new Promise<void>((r) => (seen = r));
    const claim = bus.claim.bind(bus);
    bus.claim = async (party, id, service) => {
      const epoch = await claim(party, id, service);
      if (service) {
        committed();
        await takenSeen;
      }
      return epoch;
    };
    const event = subs.event.bind(subs);
    subs.event = (e) => {
      event(e);
      if (e.kind === "serviceTaken") seen();
    };
    // Each event with whether the SUB was still unanswered when it arrived (responses and events are read in order).
    const events: { tag: string; subPending: boolean }[] = [];
    const sh2: SMPClient = await SMPClient.connect({
      server: a!.address,
      service: creds(),
      timeoutMs: 5000,
      connectTimeoutMs: 5000,
      onEvent: (e) => {
        if (e.type === "event") events.push({ tag: e.msg.tag, subPending: sh2.pendingRequests > 0 });
      },
    });
    clients.push(sh2);
    const sub = sr(sh2, q.rcvAuthKey, "s", q.rcvId, CMD.SUB);
    await claimCommitted;
    const sh3 = await client(b!, creds());
    expect((await sh3.subscribeService(1, queueIdsHash([q.rcvId]))).count).toBe(1);
    expect(await sub).toEqual({ tag: "SOK", serviceId });
    await until(() => events.length > 0);
    expect(events).toEqual([{ tag: "ENDS", subPending: false }]);
    expect(a!.running.server.subscribers.serviceSubscriber("rcv", serviceId)).toBeUndefined();
  }, 20_000);

  test("a notifier service: NMSG to its connection on another node; NSUBS on a third node takes it over with ENDS", async () => {
    const [a, b, c] = await cluster(3);
    const creds = serviceCreds("N");
    const nh1 = await client(a!, creds());
    const serviceId = nh1.serviceId!;
    const rc = await client(b!);
    const { q, sKey } = await securedQueue(rc);
    const n = await rc.enableNotifications(q.rcvId, q.rcvAuthKey);
    expect(await nh1.subscribeNotifications(n.notifierId, n.notifierKey)).toEqual(serviceId);
    await until(async () => (await a!.store.conn.sql`SELECT 1 FROM cluster_service_subs WHERE party = 1 AND service_id = ${serviceId}`).length === 1);
    const sc = await client(c!);
    expect(await sr(sc, sKey, "1", q.sndId, send("to the service", true))).toEqual(OK);
    expect((await nextEvent(nh1, n.notifierId)).tag).toBe("NMSG");
    const m = await nextMsg(rc, q);
    expect(await sr(rc, q.rcvAuthKey, "2", q.rcvId, CMD.ack(m.msgId))).toEqual(OK);

    const nh2 = await client(c!, creds());
    const idsHash = queueIdsHash([n.notifierId]);
    expect(await nh2.subscribeNtfService(1, idsHash)).toEqual({ count: 1, idsHash });
    expect(await nextEvent(nh1, serviceId)).toEqual({ tag: "ENDS", count: 1, idsHash });
    expect(await sr(sc, sKey, "3", q.sndId, send("to the new connection", true))).toEqual(OK);
    expect((await nextEvent(nh2, n.notifierId)).tag).toBe("NMSG");
    await expectNoEvent(nh1);
  });

  test("block on node A's control port: the subscriber on node B gets ERR BLOCKED, and every node refuses the queue", async () => {
    const [a, b] = await cluster(2);
    const { rc: rb, q, sKey } = await subscribedQueue(b!);
    const cp = await controlPort(a!);
    try {
      expect(await cp.cmd(`block ${base64url(q.sndId)} reason=spam`)).toEqual(["ok, queue blocked: EntityBlocked (BlockingInfo {reason = BRSpam, notice = Nothing})"]);
    } finally {
      cp.close();
    }
    const blocked: BrokerMsg = { tag: "ERR", err: { type: "BLOCKED", info: { reason: "spam", notice: null } } };
    expect(await nextEvent(rb, q.rcvId)).toEqual(blocked);
    expect(await sr(await client(a!), sKey, "1", q.sndId, send("no"))).toEqual(blocked);
    expect(await sr(await client(b!), sKey, "2", q.sndId, send("no"))).toEqual(blocked);
    expect(await sr(rb, q.rcvAuthKey, "3", q.rcvId, CMD.SUB)).toEqual(blocked);
  });

  test("a node killed with -9: its claims are released, its client resubscribes on another node and gets every message", async () => {
    const schema = testSchemaName();
    const [b] = await cluster(1, schema);
    // Node A in a process of its own, on the same schema (killed by the kernel if this runner dies first).
    const proc = Bun.spawn(dyingWithParent([process.execPath, join(import.meta.dir, "cluster-node.ts"), schema]), { stdout: "pipe", stderr: "inherit", env: process.env });
    try {
      const dead = JSON.parse(await firstLine(proc.stdout)) as { address: string; nodeId: string; dir: string };
      const ra = await SMPClient.connect({ server: dead.address, timeoutMs: 5000, connectTimeoutMs: 5000 });
      clients.push(ra);
      const { q, sKey } = await securedQueue(ra);
      await until(async () => (await ownerOf(b!, 0, q.rcvId)) === dead.nodeId);
      proc.kill(9);
      await proc.exited;
      rmSync(dead.dir, { recursive: true, force: true });
      // Its sessions end with the process; the next node to look (here: one that starts) releases its claims.
      await until(async () => (await b!.store.conn.sql`SELECT 1 FROM pg_stat_activity WHERE application_name = ${"smp-node-" + dead.nodeId}`).length === 0);
      const c = (await cluster(1, schema))[0]!;
      expect(await ownerOf(b!, 0, q.rcvId)).toBeNull();
      expect((await b!.store.cluster.nodes()).map((n) => n.nodeId).sort()).toEqual([b!.store.cluster.nodeId, c.store.cluster.nodeId].sort());
      // Sent while nobody is subscribed, then the client resubscribes on B.
      const sc = await client(c);
      for (let i = 0; i < 3; i++) expect(await sr(sc, sKey, `s${i}`, q.sndId, send(`m${i}`))).toEqual(OK);
      const rb = await client(b!);
      expect(await sr(rb, q.rcvAuthKey, "1", q.rcvId, CMD.SUB)).toEqual({ tag: "SOK", serviceId: null });
      let m: BrokerMsg = await nextEvent(rb, q.rcvId);
      for (let i = 0; i < 3; i++) {
        expect(decText(q, m)).toBe(`m${i}`);
        m = await sr(rb, q.rcvAuthKey, `a${i}`, q.rcvId, CMD.ack((m as { msgId: Uint8Array }).msgId));
      }
      expect(m).toEqual(OK);
      await until(async () => (await ownerOf(b!, 0, q.rcvId)) === b!.store.cluster.nodeId);
    } finally {
      proc.kill(9);
    }
  }, 30_000);

  test("a takeover whose event never came: the node that lost the queue learns it when it resynchronises, and ends its subscriber", async () => {
    const [a, b] = await cluster(2);
    const { rc: ra, q } = await subscribedQueue(a!);
    // B's claim, as written by a node whose "taken" to A was lost.
    await b!.store.conn.sql`UPDATE cluster_subs SET node_id = ${b!.store.cluster.nodeId}, epoch = nextval('cluster_epoch') WHERE party = 0 AND queue_id = ${q.rcvId}`;
    await cutEventConnection(a!);
    expect(await nextEvent(ra, q.rcvId, 20_000)).toEqual({ tag: "END" });
    expect(a!.running.server.subscribers.counts("rcv").queues).toBe(0);
  }, 30_000);

  test("a message whose event never came is found by the periodic sweep, with nothing else happening", async () => {
    const [a, b] = await cluster(2, undefined, 50);
    const { rc: rb, q } = await subscribedQueue(b!);
    const msgId = await writeWithoutEvent(a!, q.rcvId);
    const m = await nextEvent(rb, q.rcvId, 10_000);
    expect((m as { msgId: Uint8Array }).msgId).toEqual(msgId);
  }, 20_000);

  test("a DEL whose 'ended' never came: the resync finds the queue gone, DELD to the subscriber, and its claim is not written back", async () => {
    const [a, b] = await cluster(2);
    const { rc: rb, q } = await subscribedQueue(b!);
    // A's DEL as committed — the queue and the claims of other nodes gone — whose "ended" B never got.
    const rec = (await a!.store.queues.getQueueByRecipientId(q.rcvId))!;
    await a!.store.queues.deleteQueue(rec);
    await a!.store.conn.sql`DELETE FROM cluster_subs WHERE party = 0 AND queue_id = ${q.rcvId}`;
    await cutEventConnection(b!); // B re-listens and resynchronises
    // Server.hs: CSDeleted → DELD to the queue's subscriber.
    expect(await nextEvent(rb, q.rcvId, 20_000)).toEqual({ tag: "DELD" });
    await until(() => b!.running.server.cluster!.resyncs > 0);
    expect(await ownerOf(a!, 0, q.rcvId)).toBeNull();
    expect(b!.running.server.subscribers.counts("rcv").queues).toBe(0);
  }, 30_000);

  test("a move to a service whose 'ended' never came: the sweep finds the queue served by the service, END to the individual subscriber", async () => {
    const [a, b] = await cluster(2, undefined, 50);
    const { rc: rb, q } = await subscribedQueue(b!);
    const sh = await client(a!, serviceCreds("M")());
    // The service's SUB on A as committed (the queue associated, B's claim gone), its "ended" to B lost.
    const rec = (await a!.store.queues.getQueueByRecipientId(q.rcvId))!;
    expect(await a!.store.services.setQueueService(rec, "rcv", sh.serviceId!)).toBe("OK");
    await a!.store.conn.sql`DELETE FROM cluster_subs WHERE party = 0 AND queue_id = ${q.rcvId}`;
    // Server.hs: CSClient with the service → END to the queue's individual subscriber.
    expect(await nextEvent(rb, q.rcvId, 10_000)).toEqual({ tag: "END" });
    expect(b!.running.server.subscribers.counts("rcv").queues).toBe(0);
    const sweeps = b!.running.server.cluster!.sweeps;
    await until(() => b!.running.server.cluster!.sweeps > sweeps + 1);
    expect(await ownerOf(a!, 0, q.rcvId)).toBeNull();
  }, 20_000);

  test("a service connection that only SUBbed one queue: no sweep or resync delivers its service's older messages, but a message whose event was lost arrives", async () => {
    const [a, b] = await cluster(2, undefined, 50);
    const creds = serviceCreds("M");
    const sh1 = await client(a!, creds());
    const serviceId = sh1.serviceId!;
    const q1 = await sh1.createQueue();
    const q2 = await sh1.createQueue();
    const q3 = await sh1.createQueue();
    sh1.close();
    await until(() => a!.running.server.subscribers.serviceSubscriber("rcv", serviceId) === undefined);
    const h = await client(b!);
    const k2 = generateAuthKey("ed25519") as SignPrivateKey;
    expect(await sr(h, k2, "1", q2.sndId, { tag: "SKEY", key: authPublicKey(k2) })).toEqual(OK);
    expect(await sr(h, k2, "2", q2.sndId, send("older, in q2"))).toEqual(OK);
    const sh2 = await client(a!, creds());
    expect(await sr(sh2, q1.rcvAuthKey, "3", q1.rcvId, CMD.SUB)).toEqual({ tag: "SOK", serviceId });
    // Answered once the service's claim is visible to every node.
    expect((await a!.store.conn.sql`SELECT node_id FROM cluster_service_subs WHERE party = 0 AND service_id = ${serviceId}`)[0].node_id).toBe(a!.store.cluster.nodeId);
    // Written on B after the SOK, its event lost: a SEND to the empty q3 would have delivered it (tryDeliverMessage).
    const lost = await writeWithoutEvent(b!, q3.rcvId);
    const m = await nextEvent(sh2, q3.rcvId, 10_000);
    expect((m as { msgId: Uint8Array }).msgId).toEqual(lost);
    // Sweeps and a resync later, q2's older message is still only in the store (SUBS delivers it).
    const node = a!.running.server.cluster!;
    await cutEventConnection(a!);
    await until(() => node.resyncs > 0);
    const sweeps = node.sweeps;
    await until(() => node.sweeps > sweeps + 2); // the service's page is swept every other tick
    await node.settled();
    const holder = a!.running.server.subscribers.serviceSubscriber("rcv", serviceId)!;
    expect([...holder.subs.keys()]).toEqual([idKey(q3.rcvId)]);
    const idsHash = queueIdsHash([q1.rcvId, q2.rcvId, q3.rcvId]);
    expect(await sh2.subscribeService(3, idsHash)).toEqual({ count: 3, idsHash });
    expect(decText(q2, await nextEvent(sh2, q2.rcvId))).toBe("older, in q2");
    expect(await nextEvent(sh2)).toEqual({ tag: "ALLS" });
  }, 30_000);

  test("a message whose event never came (its sender died after COMMIT) is found when the node resynchronises", async () => {
    const [a, b] = await cluster(2);
    const { rc: rb, q } = await subscribedQueue(b!);
    // Written to the store on A without SEND: committed, and no event is ever sent.
    const msgId = await writeWithoutEvent(a!, q.rcvId);
    // B's event connection is cut: Bun re-listens, and B resynchronises.
    await cutEventConnection(b!);
    const m = await nextEvent(rb, q.rcvId, 20_000);
    expect((m as { msgId: Uint8Array }).msgId).toEqual(msgId);
  }, 30_000);
});
