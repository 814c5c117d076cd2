// Service clients (SMP v16–v19) against a real server: service handshake with a real TLS client
// certificate, queue association on NEW/SUB/NSUB, SUBS/NSUBS → SOKS (+ MSG…, ALLS), ENDS to the
// older connection of a service, moving queues between individual and service subscription.
// Scenarios mirror tests/ServerTests.hs at 209f7826c (each test names the one it mirrors); the
// certificate chains are generated here, as genCredentials does there.
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SMPClient, type RcvQueue, type NotifierCreds } from "../../src/client/client.ts";
import { TransmissionEncoder, type AuthKey } from "../../src/client/authorize.ts";
import { SMPClientError } from "../../src/client/errors.ts";
import { authPublicKey, dhPublicKey, generateAuthKey } from "../../src/client/keys.ts";
import { DhPrivateKey } from "../../src/crypto/dh.ts";
import { HandshakeError, type ServiceCredentials } from "../../src/transport/client-handshake.ts";
import type { ClientAuth } from "../../src/transport/handle.ts";
import { sha256 } from "../../src/crypto/digest.ts";
import { SignPrivateKey } from "../../src/crypto/sign.ts";
import { generateCa } from "../../src/crypto/x509/certificate.ts";
import { generateServiceCert } from "../../src/crypto/x509/service-certificate.ts";
import { fromUtf8, utf8 } from "../../src/encoding/bytes.ts";
import { Writer } from "../../src/encoding/writer.ts";
import type { BrokerMsg } from "../../src/protocol/broker-messages.ts";
import type { Command } from "../../src/protocol/commands.ts";
import { queueIdsHash, xorIdsHashInto } from "../../src/protocol/ids-hash.ts";
import { versionRange } from "../../src/protocol/versions.ts";
import { overNodes, startTestServer, type TestServer } from "./harness.ts";
import { EVENT_WAIT_MS } from "./helpers.ts";
import { selfSignedServiceCert, serviceCredentials, signKeyOf, type ServiceCert } from "./service-certs.ts";

const EMPTY = new Uint8Array(0);
const ERR_SERVICE: BrokerMsg = { tag: "ERR", err: { type: "SERVICE" } };

// ---- fixtures ----

let servers: TestServer[] = [];
let clients: SMPClient[] = [];
afterEach(async () => {
  for (const c of clients) c.close();
  clients = [];
  for (const s of servers) await s.stop();
  servers = [];
});

async function server(dataDir?: string): Promise<TestServer> {
  const s = await startTestServer({}, dataDir);
  if (dataDir === undefined) servers.push(s);
  return s;
}

async function client(s: TestServer, service?: ServiceCredentials): Promise<SMPClient> {
  const c = await SMPClient.connect({ server: s.address, service, timeoutMs: 5000, connectTimeoutMs: 5000 });
  clients.push(c);
  return c;
}

/** runSMPServiceClient: a messaging- or notifier-role session with this certificate. */
async function serviceClient(s: TestServer, cert: ServiceCert, role: "M" | "N" = "M"): Promise<SMPClient & { key: SignPrivateKey }> {
  const creds = serviceCredentials(cert, role);
  const c = await client(s, creds);
  expect(c.version).toBe(20);
  expect(c.serviceId).not.toBeNull();
  return Object.assign(c, { key: creds.sessionKey });
}

function sr(c: SMPClient, key: AuthKey | null, entityId: Uint8Array, cmd: Command): Promise<BrokerMsg> {
  return c.sendCommand(entityId, cmd, key);
}

/**
 * signSendRecv without the service key on a service session: the entity key signs `authorized`
 * alone and there is no service signature, which the client library never sends.
 */
function srWithoutServiceSig(c: SMPClient, key: AuthKey, entityId: Uint8Array, cmd: Command): Promise<BrokerMsg> {
  const enc = new TransmissionEncoder(c.params, (c.handle.auth as ClientAuth).peerServerPubKey, null);
  const corrId = crypto.getRandomValues(new Uint8Array(24));
  const t = new Writer(17000);
  enc.encode(t, corrId, entityId, cmd, key);
  const tBytes = t.toBytes();
  const w = new Writer(17000);
  w.byte(1).word16(tBytes.length).bytes(tBytes);
  const p = c.expectResponse(corrId, entityId);
  c.sendRawPayload(w.toBytes());
  return p;
}

interface Ev {
  readonly entityId: Uint8Array;
  readonly msg: BrokerMsg;
}

/** tGet1 for a server-initiated transmission. */
async function nextEvent(c: SMPClient, timeoutMs = EVENT_WAIT_MS): Promise<Ev> {
  const e = await c.nextEvent(timeoutMs);
  if (e.type !== "event") throw new Error(`expected an event, got ${e.type}`);
  return { entityId: e.entityId, msg: e.msg };
}

/** `1000 `timeout` tGetClient` → Nothing. */
async function expectNoEvent(c: SMPClient, ms = 150): Promise<void> {
  try {
    const e = await c.nextEvent(ms);
    throw new Error(`unexpected event ${e.type === "event" ? e.msg.tag : e.type}`);
  } catch (e) {
    if (!(e instanceof SMPClientError && e.kind === "timeout")) throw e;
  }
}

type Msg = Extract<BrokerMsg, { tag: "MSG" }>;

function asMsg(m: BrokerMsg): Msg {
  if (m.tag !== "MSG") throw new Error(`expected MSG, got ${m.tag}${m.tag === "ERR" ? " " + JSON.stringify(m.err) : ""}`);
  return m;
}

/** decryptMsgV3: the message text. */
function dec(q: RcvQueue, m: BrokerMsg): string {
  const body = SMPClient.decryptMessage(q, asMsg(m));
  if (body.type !== "message") throw new Error("quota marker");
  return fromUtf8(body.body);
}

function send(text: string, notification = false): Command {
  return { tag: "SEND", flags: { notification }, body: utf8(text) };
}

/** A queue created by `rc` and secured by the sender with SKEY, as the reference tests do. */
async function queueWithSender(rc: SMPClient, h: SMPClient): Promise<{ q: RcvQueue; sKey: SignPrivateKey }> {
  const q = await rc.createQueue();
  const sKey = generateAuthKey("ed25519") as SignPrivateKey;
  expect(await sr(h, sKey, q.sndId, { tag: "SKEY", key: authPublicKey(sKey) })).toEqual({ tag: "OK" });
  return { q, sKey };
}

/** createAndSecureQueue: NEW, then KEY with the sender's key by the recipient. */
async function createAndSecureQueue(rh: SMPClient): Promise<{ q: RcvQueue; sKey: SignPrivateKey }> {
  const q = await rh.createQueue({ subMode: "S" });
  const sKey = generateAuthKey("ed25519") as SignPrivateKey;
  await rh.secureQueue(q.rcvId, q.rcvAuthKey, authPublicKey(sKey));
  return { q, sKey };
}

function hashOf(...ids: Uint8Array[]): Uint8Array {
  return queueIdsHash(ids);
}

// With several nodes (SMP_TEST_NODES) each node holds the subscriptions of its own connections
// and counts what it served: the figures below are the cluster's (sums, XOR of the hashes).

/** The service's subscriber state, from the node(s) where its connection is. */
function serviceState(s: TestServer, party: "rcv" | "ntf", serviceId: Uint8Array): { count: number; idsHash: Uint8Array } | null {
  let out: { count: number; idsHash: Uint8Array } | null = null;
  for (const n of s.nodes) {
    const c = n.server.subscribers.serviceSubscriber(party, serviceId);
    if (c === undefined) continue;
    out ??= { count: 0, idsHash: hashOf() };
    out.count += c.serviceSubs.count;
    xorIdsHashInto(out.idsHash, c.serviceSubs.idsHash);
  }
  return out;
}

function totalServiceSubs(s: TestServer, party: "rcv" | "ntf"): { count: number; idsHash: Uint8Array } {
  const out = { count: 0, idsHash: hashOf() };
  for (const n of s.nodes) {
    const t = n.server.subscribers.totalServiceSubs(party);
    out.count += t.count;
    xorIdsHashInto(out.idsHash, t.idsHash);
  }
  return out;
}

const stat = (s: TestServer, f: (st: TestServer["server"]["stats"]) => number): number => overNodes(s, (n) => f(n.server.stats));

// ---- handshake ----

describe("service handshake (Transport.hs:smpServerHandshake getClientService)", () => {
  test("a self-signed certificate gets a service id, stable per certificate and role across reconnects", async () => {
    const s = await server();
    const cert = selfSignedServiceCert();
    const a = await serviceClient(s, cert);
    const b = await serviceClient(s, cert);
    expect(b.serviceId).toEqual(a.serviceId!);
    expect(a.serviceId!.length).toBe(24);
    const other = await serviceClient(s, selfSignedServiceCert());
    expect(other.serviceId).not.toEqual(a.serviceId!);
    const rec = await s.server.store.services.getService(a.serviceId!);
    expect(rec?.role).toBe("M");
    expect(rec?.certHash).toEqual(sha256(cert.chain[0]!));
  });

  test("the same certificate in another role is refused: 'E' HANDSHAKE BAD_SERVICE", async () => {
    const s = await server();
    const cert = selfSignedServiceCert();
    await serviceClient(s, cert, "M");
    const e = await SMPClient.connect({ server: s.address, service: serviceCredentials(cert, "N"), connectTimeoutMs: 5000 }).catch((x) => x);
    expect(e).toBeInstanceOf(HandshakeError);
    expect((e as HandshakeError).transportError).toEqual({ type: "HANDSHAKE", err: "BAD_SERVICE" });
    // The first role still works.
    await serviceClient(s, cert, "M");
  });

  test("the TLS client chain must equal the chain in the hello: 'E' HANDSHAKE BAD_AUTH", async () => {
    const s = await server();
    const cert = selfSignedServiceCert();
    const tlsCert = generateServiceCert("other");
    const e = await SMPClient.connect({
      server: s.address,
      service: serviceCredentials(cert, "M"),
      tlsCredentials: { certPem: tlsCert.pem, keyPem: tlsCert.keyPem },
      connectTimeoutMs: 5000,
    }).catch((x) => x);
    expect(e).toBeInstanceOf(HandshakeError);
    expect((e as HandshakeError).transportError).toEqual({ type: "HANDSHAKE", err: "BAD_AUTH" });
  });

  test("a two-certificate chain: the service is identified by its CA certificate", async () => {
    const s = await server();
    const ca = generateCa();
    const leaf1 = generateServiceCert("relay 1", { parent: ca });
    const leaf2 = generateServiceCert("relay 2", { parent: ca });
    const a = await serviceClient(s, { chain: [leaf1.der, ca.der], key: signKeyOf(leaf1.keyPem) });
    const b = await serviceClient(s, { chain: [leaf2.der, ca.der], key: signKeyOf(leaf2.keyPem) });
    expect(b.serviceId).toEqual(a.serviceId!);
    expect((await s.server.store.services.getService(a.serviceId!))?.certHash).toEqual(sha256(ca.der));
  });

  test("service ids survive a server restart on the same data", async () => {
    const dir = mkdtempSync(join(tmpdir(), "smp-svc-"));
    try {
      const cert = selfSignedServiceCert();
      let s = await server(dir);
      const a = await SMPClient.connect({ server: s.address, service: serviceCredentials(cert, "N") });
      const id = a.serviceId!;
      a.close();
      await s.stop(true);
      s = await server(dir);
      const b = await SMPClient.connect({ server: s.address, service: serviceCredentials(cert, "N") });
      expect(b.serviceId).toEqual(id);
      b.close();
      await s.stop(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---- messaging services ----

describe("messaging services", () => {
  test("ServerTests.hs:testServiceDeliverSubscribe — create queue as service and subscribe with SUBS after reconnect", async () => {
    const s = await server();
    const cert = selfSignedServiceCert();
    const h = await client(s);
    const rKey = generateAuthKey("ed25519");
    const sKey = generateAuthKey("ed25519") as SignPrivateKey;

    const sh = await serviceClient(s, cert);
    const serviceId = sh.serviceId!;
    // "1": NEW without the service signature in a service session.
    const newCmd: Command = {
      tag: "NEW",
      req: { rcvAuthKey: authPublicKey(rKey), rcvDhKey: dhPublicKey(DhPrivateKey.generate()), basicAuth: null, subMode: "S", queueReqData: null, ntfCreds: null },
    };
    expect(await srWithoutServiceSig(sh, rKey, EMPTY, newCmd)).toEqual(ERR_SERVICE);
    // "2": with it, the queue is created associated with the service.
    const q = await sh.createQueue({ rcvAuthKey: rKey });
    expect(q.serviceId).toEqual(serviceId);
    expect((await s.server.store.queues.getQueueByRecipientId(q.rcvId))?.rcvServiceId).toEqual(serviceId);
    expect(await sr(h, sKey, q.sndId, { tag: "SKEY", key: authPublicKey(sKey) })).toEqual({ tag: "OK" });
    expect(await sr(h, sKey, q.sndId, send("hello"))).toEqual({ tag: "OK" });
    expect(await sr(h, sKey, q.sndId, send("hello 2"))).toEqual({ tag: "OK" });
    const e1 = await nextEvent(sh);
    expect(e1.entityId).toEqual(q.rcvId);
    expect(dec(q, e1.msg)).toBe("hello");
    // "6": ACK needs no service signature.
    const m2 = await sr(sh, rKey, q.rcvId, { tag: "ACK", msgId: asMsg(e1.msg).msgId });
    expect(dec(q, m2)).toBe("hello 2");
    expect(await sr(sh, rKey, q.rcvId, { tag: "ACK", msgId: asMsg(e1.msg).msgId })).toEqual({ tag: "ERR", err: { type: "NO_MSG" } });
    expect(await sr(sh, rKey, q.rcvId, { tag: "ACK", msgId: asMsg(m2).msgId })).toEqual({ tag: "OK" });
    expect(await sr(h, sKey, q.sndId, send("hello 3"))).toEqual({ tag: "OK" });
    expect(await nextEvent(sh).then((e) => dec(q, e.msg))).toBe("hello 3");
    sh.close();

    const sh2 = await serviceClient(s, cert);
    expect(sh2.serviceId).toEqual(serviceId);
    const idsHash = hashOf(q.rcvId);
    // "10": SUBS must name the service.
    expect(await sr(sh2, sh2.key, EMPTY, { tag: "SUBS", count: 1, idsHash })).toEqual({ tag: "ERR", err: { type: "CMD", err: "NO_AUTH" } });
    // "11": SOKS with the server's count and hash, the pending message, then ALLS.
    expect(await sr(sh2, sh2.key, serviceId, { tag: "SUBS", count: 1, idsHash })).toEqual({ tag: "SOKS", count: 1, idsHash });
    const e3 = await nextEvent(sh2);
    expect(e3.entityId).toEqual(q.rcvId);
    expect(dec(q, e3.msg)).toBe("hello 3");
    expect(await nextEvent(sh2)).toEqual({ entityId: EMPTY, msg: { tag: "ALLS" } });
    expect(await sr(sh2, rKey, q.rcvId, { tag: "ACK", msgId: asMsg(e3.msg).msgId })).toEqual({ tag: "OK" });
    expect(await sr(h, sKey, q.sndId, send("hello 4"))).toEqual({ tag: "OK" });
    const e4 = await nextEvent(sh2);
    expect(dec(q, e4.msg)).toBe("hello 4");
    expect(await sr(sh2, rKey, q.rcvId, { tag: "ACK", msgId: asMsg(e4.msg).msgId })).toEqual({ tag: "OK" });
    expect(stat(s, (st) => st.rcvServices.subOk)).toBe(1);
  });

  test("ServerTests.hs:testServiceUpgradeAndDowngrade — create queue as client, switch to service and back", async () => {
    const s = await server();
    const cert = selfSignedServiceCert();
    const h = await client(s);

    const c1 = await client(s);
    const { q: q1, sKey: sKey1 } = await queueWithSender(c1, h);
    expect(await sr(h, sKey1, q1.sndId, send("hello"))).toEqual({ tag: "OK" });
    const m1 = await nextEvent(c1);
    expect(dec(q1, m1.msg)).toBe("hello");
    expect(await sr(c1, q1.rcvAuthKey, q1.rcvId, { tag: "ACK", msgId: asMsg(m1.msg).msgId })).toEqual({ tag: "OK" });
    expect(await sr(h, sKey1, q1.sndId, send("hello 2"))).toEqual({ tag: "OK" });
    await nextEvent(c1); // delivered, not acknowledged
    c1.close();
    // Split to prevent message delivery.
    const c2 = await client(s);
    const { q: q2, sKey: sKey2 } = await queueWithSender(c2, h);
    c2.close();
    const c3 = await client(s);
    const { q: q3 } = await queueWithSender(c3, h);
    c3.close();

    const sh = await serviceClient(s, cert);
    const serviceId = sh.serviceId!;
    // "8": SUB without the service signature.
    expect(await srWithoutServiceSig(sh, q1.rcvAuthKey, q1.rcvId, { tag: "SUB" })).toEqual(ERR_SERVICE);
    // "9": SOK with the service id, then the waiting message.
    expect(await sh.subscribe(q1.rcvId, q1.rcvAuthKey)).toEqual(serviceId);
    const mm2 = await nextEvent(sh);
    expect(mm2.entityId).toEqual(q1.rcvId);
    expect(dec(q1, mm2.msg)).toBe("hello 2");
    expect(await sh.subscribe(q2.rcvId, q2.rcvAuthKey)).toEqual(serviceId);
    expect(await sr(sh, q1.rcvAuthKey, q1.rcvId, { tag: "ACK", msgId: asMsg(mm2.msg).msgId })).toEqual({ tag: "OK" });
    expect(await sh.subscribe(q3.rcvId, q3.rcvAuthKey)).toEqual(serviceId);
    expect(stat(s, (st) => st.rcvServices.assocNew)).toBe(3);
    expect(serviceState(s, "rcv", serviceId)).toEqual({ count: 3, idsHash: hashOf(q1.rcvId, q2.rcvId, q3.rcvId) });
    sh.close();

    expect(await sr(h, sKey1, q1.sndId, send("hello 3.1"))).toEqual({ tag: "OK" });
    expect(await sr(h, sKey2, q2.sndId, send("hello 3.2"))).toEqual({ tag: "OK" });

    const sh2 = await serviceClient(s, cert);
    const idsHash = hashOf(q1.rcvId, q2.rcvId, q3.rcvId);
    expect(await sr(sh2, sh2.key, serviceId, { tag: "SUBS", count: 3, idsHash })).toEqual({ tag: "SOKS", count: 3, idsHash });
    const got = new Map<string, Ev>();
    for (let i = 0; i < 2; i++) {
      const e = await nextEvent(sh2);
      got.set(Buffer.from(e.entityId).toString("hex"), e);
    }
    expect(await nextEvent(sh2)).toEqual({ entityId: EMPTY, msg: { tag: "ALLS" } });
    const g1 = got.get(Buffer.from(q1.rcvId).toString("hex"))!;
    const g2 = got.get(Buffer.from(q2.rcvId).toString("hex"))!;
    expect(dec(q1, g1.msg)).toBe("hello 3.1");
    expect(dec(q2, g2.msg)).toBe("hello 3.2");
    expect(await sr(sh2, q1.rcvAuthKey, q1.rcvId, { tag: "ACK", msgId: asMsg(g1.msg).msgId })).toEqual({ tag: "OK" });
    expect(await sr(sh2, q2.rcvAuthKey, q2.rcvId, { tag: "ACK", msgId: asMsg(g2.msg).msgId })).toEqual({ tag: "OK" });
    sh2.close();

    expect(await sr(h, sKey1, q1.sndId, send("hello 4"))).toEqual({ tag: "OK" });
    const rc = await client(s);
    // "18": SUBS outside a service session.
    expect(await sr(rc, sh2.key, serviceId, { tag: "SUBS", count: 3, idsHash: hashOf() })).toEqual(ERR_SERVICE);
    // "19": back to an individual subscription: SOK without service, then the message.
    expect(await rc.subscribe(q1.rcvId, q1.rcvAuthKey)).toBeNull();
    const m4 = await nextEvent(rc);
    expect(dec(q1, m4.msg)).toBe("hello 4");
    expect(await sr(rc, q1.rcvAuthKey, q1.rcvId, { tag: "ACK", msgId: asMsg(m4.msg).msgId })).toEqual({ tag: "OK" });
    expect(await sr(h, sKey1, q1.sndId, send("hello 5"))).toEqual({ tag: "OK" });
    const m5 = await nextEvent(rc);
    expect(dec(q1, m5.msg)).toBe("hello 5");
    expect(await sr(rc, q1.rcvAuthKey, q1.rcvId, { tag: "ACK", msgId: asMsg(m5.msg).msgId })).toEqual({ tag: "OK" });
    expect(await rc.subscribe(q2.rcvId, q2.rcvAuthKey)).toBeNull();
    expect(await sr(h, sKey1, q1.sndId, send("hello 6"))).toEqual({ tag: "OK" });
    const m6 = await nextEvent(rc);
    expect(dec(q1, m6.msg)).toBe("hello 6");
    expect(await sr(rc, q1.rcvAuthKey, q1.rcvId, { tag: "ACK", msgId: asMsg(m6.msg).msgId })).toEqual({ tag: "OK" });
    expect((await s.server.store.queues.getQueueByRecipientId(q1.rcvId))?.rcvServiceId).toBeNull();
    expect(await s.server.store.services.getServiceQueuesInfo(serviceId, "rcv")).toEqual({ count: 1, idsHash: hashOf(q3.rcvId) });
    expect(stat(s, (st) => st.rcvServices.assocRemoved)).toBe(2);
  });

  test("ServerTests.hs:testServiceSubsTotalCount — the server total follows SUBS, SUB and disconnects", async () => {
    const s = await server();
    const cert = selfSignedServiceCert();
    const total = (): { count: number; idsHash: Uint8Array } => totalServiceSubs(s, "rcv");
    const sh = await serviceClient(s, cert);
    const serviceId = sh.serviceId!;
    const q1 = await sh.createQueue();
    const q2 = await sh.createQueue();
    expect(total()).toEqual({ count: 2, idsHash: hashOf(q1.rcvId, q2.rcvId) });
    sh.close();
    await sh.closed;
    await waitFor(() => serviceState(s, "rcv", serviceId) === null);
    expect(total().count).toBe(0);

    const sh2 = await serviceClient(s, cert);
    expect(await sh2.subscribeService(2, hashOf(q1.rcvId, q2.rcvId))).toEqual({ count: 2, idsHash: hashOf(q1.rcvId, q2.rcvId) });
    expect(await nextEvent(sh2)).toEqual({ entityId: EMPTY, msg: { tag: "ALLS" } });
    expect(total()).toEqual({ count: 2, idsHash: hashOf(q1.rcvId, q2.rcvId) });
    sh2.close();

    const h = await client(s);
    const { q: q3 } = await queueWithSender(h, h);
    const sh3 = await serviceClient(s, cert);
    expect(await sh3.subscribe(q3.rcvId, q3.rcvAuthKey)).toEqual(serviceId);
    sh3.close();
    const sh4 = await serviceClient(s, cert);
    // The service expects fewer queues than the server has: drift is counted, the server's set wins.
    expect(await sh4.subscribeService(2, hashOf(q1.rcvId, q2.rcvId))).toEqual({ count: 3, idsHash: hashOf(q1.rcvId, q2.rcvId, q3.rcvId) });
    await waitFor(() => total().count === 3);
    expect(total()).toEqual({ count: 3, idsHash: hashOf(q1.rcvId, q2.rcvId, q3.rcvId) });
    expect(stat(s, (st) => st.rcvServices.subMore)).toBe(1);
    expect(stat(s, (st) => st.rcvServices.subMoreTotal)).toBe(1);
    // h's individual subscription of q3 ended when the service took the queue over.
    expect(await nextEvent(h)).toEqual({ entityId: q3.rcvId, msg: { tag: "END" } });
  });

  test("repeated SUBS on a connection answers what it holds, without delivering again", async () => {
    const s = await server();
    const cert = selfSignedServiceCert();
    const h = await client(s);
    const sh = await serviceClient(s, cert);
    const { q, sKey } = await queueWithSender(sh, h);
    sh.close();
    expect(await sr(h, sKey, q.sndId, send("waiting"))).toEqual({ tag: "OK" });
    const sh2 = await serviceClient(s, cert);
    const idsHash = hashOf(q.rcvId);
    expect(await sh2.subscribeService(1, idsHash)).toEqual({ count: 1, idsHash });
    expect(dec(q, (await nextEvent(sh2)).msg)).toBe("waiting");
    expect((await nextEvent(sh2)).msg).toEqual({ tag: "ALLS" });
    expect(await sh2.subscribeService(0, hashOf())).toEqual({ count: 1, idsHash });
    await expectNoEvent(sh2);
    expect(stat(s, (st) => st.rcvServices.subDuplicate)).toBe(1);
  });

  test("a newer connection of the service takes over: ENDS (count, hash) to the older one, deliveries move", async () => {
    const s = await server();
    const cert = selfSignedServiceCert();
    const h = await client(s);
    const sh1 = await serviceClient(s, cert);
    const serviceId = sh1.serviceId!;
    const { q: q1, sKey: sKey1 } = await queueWithSender(sh1, h);
    const { q: q2 } = await queueWithSender(sh1, h);
    const sh2 = await serviceClient(s, cert);
    await expectNoEvent(sh1, 50); // connecting alone takes nothing over
    const idsHash = hashOf(q1.rcvId, q2.rcvId);
    expect(await sh2.subscribeService(2, idsHash)).toEqual({ count: 2, idsHash });
    expect(await nextEvent(sh1)).toEqual({ entityId: serviceId, msg: { tag: "ENDS", count: 2, idsHash } });
    expect((await nextEvent(sh2)).msg).toEqual({ tag: "ALLS" });
    expect(await sr(h, sKey1, q1.sndId, send("to the new one"))).toEqual({ tag: "OK" });
    expect(dec(q1, (await nextEvent(sh2)).msg)).toBe("to the new one");
    await expectNoEvent(sh1);
    expect(stat(s, (st) => st.rcvServices.subEnd)).toBe(1);
    expect(totalServiceSubs(s, "rcv").count).toBe(2);
  });

  test("Server.hs:subscribeQueueAndDeliver — a service connection's SUB delivers that queue's message only; the service's other queues wait for SUBS", async () => {
    const s = await server();
    const cert = selfSignedServiceCert();
    const h = await client(s);
    const sh1 = await serviceClient(s, cert);
    const serviceId = sh1.serviceId!;
    const { q: q1, sKey: sKey1 } = await queueWithSender(sh1, h);
    const { q: q2, sKey: sKey2 } = await queueWithSender(sh1, h);
    const { q: q3, sKey: sKey3 } = await queueWithSender(sh1, h);
    sh1.close();
    while (s.server.subscribers.serviceSubscriber("rcv", serviceId) !== undefined) await new Promise((r) => setTimeout(r, 5));
    // Sent while no connection of the service is subscribed.
    expect(await sr(h, sKey1, q1.sndId, send("pending in q1"))).toEqual({ tag: "OK" });
    expect(await sr(h, sKey2, q2.sndId, send("pending in q2"))).toEqual({ tag: "OK" });
    const sh2 = await serviceClient(s, cert);
    expect(await sr(sh2, q1.rcvAuthKey, q1.rcvId, { tag: "SUB" })).toEqual({ tag: "SOK", serviceId });
    const e1 = await nextEvent(sh2);
    expect(e1.entityId).toEqual(q1.rcvId);
    expect(dec(q1, e1.msg)).toBe("pending in q1");
    // With several nodes: whatever the SUB's claim of the service started is over.
    await s.server.cluster?.settled();
    // A message to an empty queue of the service goes to its connection now (tryDeliverMessage)…
    expect(await sr(h, sKey3, q3.sndId, send("new in q3"))).toEqual({ tag: "OK" });
    const e3 = await nextEvent(sh2);
    expect(e3.entityId).toEqual(q3.rcvId);
    expect(dec(q3, e3.msg)).toBe("new in q3");
    // …while q2's, sent before, was not delivered: SUBS delivers it (q1's and q3's are in flight).
    const holder = s.server.subscribers.serviceSubscriber("rcv", serviceId)!;
    expect([...holder.subs.keys()].length).toBe(2);
    const idsHash = hashOf(q1.rcvId, q2.rcvId, q3.rcvId);
    expect(await sh2.subscribeService(3, idsHash)).toEqual({ count: 3, idsHash });
    const e2 = await nextEvent(sh2);
    expect(e2.entityId).toEqual(q2.rcvId);
    expect(dec(q2, e2.msg)).toBe("pending in q2");
    expect((await nextEvent(sh2)).msg).toEqual({ tag: "ALLS" });
    expect(s.server.stats.rcvServicesSubMsg).toBe(1);
    expect(s.server.stats.rcvServicesSubDuplicate).toBe(2);
  });

  test("moving a queue while both sides are connected: END to the service, then END to the client", async () => {
    const s = await server();
    const cert = selfSignedServiceCert();
    const h = await client(s);
    const sh = await serviceClient(s, cert);
    const serviceId = sh.serviceId!;
    const { q: q1, sKey: sKey1 } = await queueWithSender(sh, h);
    const { q: q2 } = await queueWithSender(sh, h);
    expect(serviceState(s, "rcv", serviceId)).toEqual({ count: 2, idsHash: hashOf(q1.rcvId, q2.rcvId) });
    // Downgrade: an individual SUB dissociates the queue; the service's connection gets END.
    const rc = await client(s);
    expect(await rc.subscribe(q1.rcvId, q1.rcvAuthKey)).toBeNull();
    expect(await nextEvent(sh)).toEqual({ entityId: q1.rcvId, msg: { tag: "END" } });
    expect(serviceState(s, "rcv", serviceId)).toEqual({ count: 1, idsHash: hashOf(q2.rcvId) });
    expect(await sr(h, sKey1, q1.sndId, send("individual"))).toEqual({ tag: "OK" });
    expect(dec(q1, (await nextEvent(rc)).msg)).toBe("individual");
    await expectNoEvent(sh, 50);
    // Upgrade again: the service SUB associates it; the individual subscriber gets END.
    expect(await sh.subscribe(q1.rcvId, q1.rcvAuthKey)).toEqual(serviceId);
    const back = await nextEvent(sh); // the unacknowledged message comes with the subscription
    expect(dec(q1, back.msg)).toBe("individual");
    expect(await nextEvent(rc)).toEqual({ entityId: q1.rcvId, msg: { tag: "END" } });
    expect(serviceState(s, "rcv", serviceId)).toEqual({ count: 2, idsHash: hashOf(q1.rcvId, q2.rcvId) });
    expect(stat(s, (st) => st.rcvServices.assocUpdated + st.rcvServices.assocNew)).toBe(1);
    // A client of another service takes a queue over: END to the first service.
    const other = await serviceClient(s, selfSignedServiceCert());
    expect(await other.subscribe(q2.rcvId, q2.rcvAuthKey)).toEqual(other.serviceId!);
    expect(await nextEvent(sh)).toEqual({ entityId: q2.rcvId, msg: { tag: "END" } });
    expect(serviceState(s, "rcv", serviceId)).toEqual({ count: 1, idsHash: hashOf(q1.rcvId) });
    expect(stat(s, (st) => st.rcvServices.assocUpdated)).toBe(1);
    // DEL by the recipient elsewhere: DELD to the service's connection.
    expect(await sr(rc, q1.rcvAuthKey, q1.rcvId, { tag: "DEL" })).toEqual({ tag: "OK" });
    expect(await nextEvent(sh)).toEqual({ entityId: q1.rcvId, msg: { tag: "DELD" } });
    expect(serviceState(s, "rcv", serviceId)).toEqual({ count: 0, idsHash: hashOf() });
    expect(await s.server.store.services.getServiceQueuesInfo(serviceId, "rcv")).toEqual({ count: 0, idsHash: hashOf() });
  });

  test("a notifier-role session cannot use recipient commands, nor a messaging one NSUB: CMD PROHIBITED", async () => {
    const s = await server();
    const nh = await serviceClient(s, selfSignedServiceCert(), "N");
    const r = await nh.sendCommand(EMPTY, { tag: "NEW", req: { rcvAuthKey: authPublicKey(generateAuthKey("ed25519")), rcvDhKey: dhPublicKey(DhPrivateKey.generate()), basicAuth: null, subMode: "S", queueReqData: null, ntfCreds: null } }, generateAuthKey("ed25519"));
    expect(r).toEqual({ tag: "ERR", err: { type: "CMD", err: "PROHIBITED" } });
    const sh = await serviceClient(s, selfSignedServiceCert(), "M");
    expect(await sr(sh, sh.key, sh.serviceId!, { tag: "NSUBS", count: 0, idsHash: hashOf() })).toEqual({ tag: "ERR", err: { type: "CMD", err: "PROHIBITED" } });
  });
});

// ---- notifier services ----

async function deliverMessage(rh: SMPClient, sh: SMPClient, q: RcvQueue, sKey: SignPrivateKey, nh: SMPClient, text: string, n: NotifierCreds | null = null): Promise<void> {
  expect(await sr(sh, sKey, q.sndId, send(text, true))).toEqual({ tag: "OK" });
  const m = await nextEvent(rh);
  expect(dec(q, m.msg)).toBe(text);
  expect(await sr(rh, q.rcvAuthKey, q.rcvId, { tag: "ACK", msgId: asMsg(m.msg).msgId })).toEqual({ tag: "OK" });
  const e = await nextEvent(nh);
  expect(e.msg.tag).toBe("NMSG");
  if (n !== null) {
    expect(e.entityId).toEqual(n.notifierId);
    const meta = SMPClient.decryptNotification(n, e.msg as Extract<BrokerMsg, { tag: "NMSG" }>);
    expect(meta.msgId).toEqual(asMsg(m.msg).msgId);
  }
}

describe("notifier services", () => {
  test("ServerTests.hs:testMessageServiceNotifications — subscribe notifier as service and deliver notifications", async () => {
    const s = await server();
    const cert = selfSignedServiceCert();
    const rh = await client(s);
    const sh = await client(s);
    const { q, sKey } = await createAndSecureQueue(rh);
    const n = await rh.enableNotifications(q.rcvId, q.rcvAuthKey);
    const nh1 = await serviceClient(s, cert, "N");
    const serviceId = nh1.serviceId!;
    // "2a": NSUB without the service signature in a service session.
    expect(await srWithoutServiceSig(nh1, n.notifierKey, n.notifierId, { tag: "NSUB" })).toEqual(ERR_SERVICE);
    expect(await nh1.subscribeNotifications(n.notifierId, n.notifierKey)).toEqual(serviceId);
    // "2c": a repeated subscription works, to support retries.
    expect(await nh1.subscribeNotifications(n.notifierId, n.notifierKey)).toEqual(serviceId);
    await deliverMessage(rh, sh, q, sKey, nh1, "hello", n);

    const nh2 = await serviceClient(s, cert, "N");
    expect(nh2.serviceId).toEqual(serviceId);
    expect(await nh2.subscribeNotifications(n.notifierId, n.notifierKey)).toEqual(serviceId);
    // The service subscription of the first connection is terminated.
    const ends = await nextEvent(nh1);
    expect(ends.entityId).toEqual(serviceId);
    expect(ends.msg).toEqual({ tag: "ENDS", count: 1, idsHash: hashOf(n.notifierId) });
    await deliverMessage(rh, sh, q, sKey, nh2, "hello again", n);
    await expectNoEvent(nh1);
    // "6": NDEL → DELD to the service's connection.
    await rh.disableNotifications(q.rcvId, q.rcvAuthKey);
    expect(await nextEvent(nh2)).toEqual({ entityId: n.notifierId, msg: { tag: "DELD" } });
    expect(await sr(sh, sKey, q.sndId, send("hello there", true))).toEqual({ tag: "OK" });
    const m3 = await nextEvent(rh);
    expect(dec(q, m3.msg)).toBe("hello there");
    expect(await sr(rh, q.rcvAuthKey, q.rcvId, { tag: "ACK", msgId: asMsg(m3.msg).msgId })).toEqual({ tag: "OK" });
    await expectNoEvent(nh2);
    // New notification credentials.
    const n1 = await rh.enableNotifications(q.rcvId, q.rcvAuthKey);
    expect(n1.notifierId).not.toEqual(n.notifierId);
    expect(await nh2.subscribeNotifications(n1.notifierId, n1.notifierKey)).toEqual(serviceId);
    // Another queue.
    const { q: qb, sKey: sKeyB } = await createAndSecureQueue(rh);
    const nb = await rh.enableNotifications(qb.rcvId, qb.rcvAuthKey);
    expect(await nh2.subscribeNotifications(nb.notifierId, nb.notifierKey)).toEqual(serviceId);
    await deliverMessage(rh, sh, q, sKey, nh2, "connection 1", n1);
    await deliverMessage(rh, sh, qb, sKeyB, nh2, "connection 2", nb);
    // Another connection makes the service subscription.
    const idsHash = hashOf(n1.notifierId, nb.notifierId);
    expect(await sr(nh1, nh1.key, serviceId, { tag: "NSUBS", count: 2, idsHash })).toEqual({ tag: "SOKS", count: 2, idsHash });
    // ENDS hashes notifier ids here (the reference hashes recipient ids after per-queue NSUBs: digest errata 2).
    expect(await nextEvent(nh2)).toEqual({ entityId: serviceId, msg: { tag: "ENDS", count: 2, idsHash } });
    await deliverMessage(rh, sh, q, sKey, nh1, "connection 1 one more", n1);
    await deliverMessage(rh, sh, qb, sKeyB, nh1, "connection 2 one more", nb);
    expect(totalServiceSubs(s, "ntf")).toEqual({ count: 2, idsHash });
  });

  test("ServerTests.hs:testServiceNotificationsTwoRestarts — NSUBS after two restarts", async () => {
    const dir = mkdtempSync(join(tmpdir(), "smp-svc-"));
    const cert = selfSignedServiceCert();
    const open: SMPClient[] = [];
    const conn = async (s: TestServer, service?: ServiceCredentials) => {
      const c = await SMPClient.connect({ server: s.address, service, timeoutMs: 5000 });
      open.push(c);
      return c;
    };
    try {
      let s = await server(dir);
      let rh = await conn(s);
      let sh = await conn(s);
      const { q, sKey } = await createAndSecureQueue(rh);
      const n = await rh.enableNotifications(q.rcvId, q.rcvAuthKey);
      let nh = await conn(s, serviceCredentials(cert, "N"));
      const serviceId = nh.serviceId!;
      expect(await nh.subscribeNotifications(n.notifierId, n.notifierKey)).toEqual(serviceId);
      await deliverMessage(rh, sh, q, sKey, nh, "hello", n);
      for (const c of open.splice(0)) c.close();
      await s.stop(true);

      const idsHash = hashOf(n.notifierId);
      for (const text of ["hello 2", "hello 3"]) {
        s = await server(dir);
        rh = await conn(s);
        sh = await conn(s);
        nh = await conn(s, serviceCredentials(cert, "N"));
        expect(nh.serviceId).toEqual(serviceId);
        expect(await nh.subscribeNtfService(1, idsHash)).toEqual({ count: 1, idsHash });
        expect(await rh.subscribe(q.rcvId, q.rcvAuthKey)).toBeNull();
        await deliverMessage(rh, sh, q, sKey, nh, text, n);
        expect(stat(s, (st) => st.ntfServices.subOk)).toBe(1);
        for (const c of open.splice(0)) c.close();
        await s.stop(true);
      }
    } finally {
      for (const c of open) c.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("v16–v18 notifier services (older notification servers): NSUBS without count or hash, SOKS with the count only", async () => {
    const s = await server();
    const cert = selfSignedServiceCert();
    const rh = await client(s);
    const sh = await client(s);
    const { q, sKey } = await createAndSecureQueue(rh);
    const n = await rh.enableNotifications(q.rcvId, q.rcvAuthKey);
    const connect18 = async () => {
      const c = await SMPClient.connect({ server: s.address, service: serviceCredentials(cert, "N"), versionRange: versionRange(6, 18), timeoutMs: 5000 });
      clients.push(c);
      expect(c.version).toBe(18);
      expect(c.serviceId).not.toBeNull();
      return c;
    };
    const nh = await connect18();
    expect(await nh.subscribeNotifications(n.notifierId, n.notifierKey)).toEqual(nh.serviceId!);
    nh.close();
    const nh2 = await connect18();
    // Below v19 SOKS has no hash: the client reads an empty one; the server's count is real.
    expect(await nh2.subscribeNtfService(7, hashOf(n.notifierId))).toEqual({ count: 1, idsHash: hashOf() });
    await deliverMessage(rh, sh, q, sKey, nh2, "to an old notification server", n);
    // The request carried no expectation (count -1): not counted as drift.
    expect(stat(s, (st) => st.ntfServices.subOk)).toBe(1);
  });

  test("notifications kept while the service was away arrive after NSUBS; an individual NSUB takes a notifier back", async () => {
    const s = await server();
    const cert = selfSignedServiceCert();
    const rh = await client(s);
    const sh = await client(s);
    const { q, sKey } = await createAndSecureQueue(rh);
    const n = await rh.enableNotifications(q.rcvId, q.rcvAuthKey);
    const nh = await serviceClient(s, cert, "N");
    const serviceId = nh.serviceId!;
    expect(await nh.subscribeNotifications(n.notifierId, n.notifierKey)).toEqual(serviceId);
    nh.close();
    await nh.closed;
    await waitFor(() => serviceState(s, "ntf", serviceId) === null);
    expect(await sr(sh, sKey, q.sndId, send("while away", true))).toEqual({ tag: "OK" });
    const m = await nextEvent(rh);
    expect(stat(s, (st) => st.msgNtfNoSub)).toBe(1);

    const nh2 = await serviceClient(s, cert, "N");
    expect(await nh2.subscribeNtfService(1, hashOf(n.notifierId))).toEqual({ count: 1, idsHash: hashOf(n.notifierId) });
    const e = await nextEvent(nh2);
    expect(e.entityId).toEqual(n.notifierId);
    expect(SMPClient.decryptNotification(n, e.msg as Extract<BrokerMsg, { tag: "NMSG" }>).msgId).toEqual(asMsg(m.msg).msgId);

    // A notification client without a service subscribes the notifier: END to the service.
    const plain = await client(s);
    expect(await plain.subscribeNotifications(n.notifierId, n.notifierKey)).toBeNull();
    expect(await nextEvent(nh2)).toEqual({ entityId: n.notifierId, msg: { tag: "END" } });
    expect((await s.server.store.queues.getQueueByNotifierId(n.notifierId))?.notifier?.serviceId).toBeNull();
    expect(stat(s, (st) => st.ntfServices.assocRemoved)).toBe(1);
    expect(serviceState(s, "ntf", serviceId)).toEqual({ count: 0, idsHash: hashOf() });
  });
});

/** Polls a condition on server state; the bound only turns a hang into a failure, so it is generous for a loaded machine. */
async function waitFor(cond: () => boolean, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error("condition not reached");
    await new Promise((r) => setTimeout(r, 5));
  }
}
