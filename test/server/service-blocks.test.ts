// Block boundaries after SUBS / NSUBS: the reference answers SOKS from its response queue and
// sends each MSG and ALLS of the service delivery from its delivery queue, one transmission per
// block (Server.hs:subscribeServiceMessages deliverServiceMessages → msgQ, sendMsg:
// `mapM_ (\t -> tSend th c [t])`); notifications kept for a notifier service come from
// deliverNtfsThread, never in the block of SOKS. Clients that read one transmission per block
// after SUBS (tests/ServerTests.hs helpers do) depend on it. Blocks are counted on the wire.
import { afterEach, expect, test } from "bun:test";
import { SMPClient, type RcvQueue } from "../../src/client/client.ts";
import { authPublicKey, generateAuthKey } from "../../src/client/keys.ts";
import { decodePrivKey } from "../../src/crypto/keys.ts";
import { SignPrivateKey } from "../../src/crypto/sign.ts";
import { pemToDer } from "../../src/crypto/x509/certificate.ts";
import { generateServiceCert } from "../../src/crypto/x509/service-certificate.ts";
import type { BrokerMsg } from "../../src/protocol/broker-messages.ts";
import { queueIdsHash } from "../../src/protocol/ids-hash.ts";
import type { ServiceCredentials } from "../../src/transport/client-handshake.ts";
import { recordingOpenStream, type Recording } from "../fixtures/wire.ts";
import { startTestServer, type TestServer } from "./harness.ts";
import { EVENT_WAIT_MS, send } from "./helpers.ts";

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

function serviceCredentials(role: "M" | "N"): () => ServiceCredentials {
  const c = generateServiceCert("localhost");
  const certSignKey = new SignPrivateKey("ed25519", decodePrivKey(pemToDer(c.keyPem, "PRIVATE KEY")).raw);
  // A fresh session key per connection, as the reference client makes.
  return () => ({ role, certChain: [c.der], certSignKey, sessionKey: new SignPrivateKey("ed25519", crypto.getRandomValues(new Uint8Array(32))) });
}

async function connect(s: TestServer, service?: ServiceCredentials, rec?: { openStream: Parameters<typeof SMPClient.connect>[0]["openStream"] }): Promise<SMPClient> {
  const c = await SMPClient.connect({ server: s.address, service, timeoutMs: 5000, connectTimeoutMs: 5000, ...rec });
  cleanup.push(() => c.close());
  return c;
}

async function recorded(s: TestServer, service: ServiceCredentials): Promise<{ c: SMPClient; rec: Recording }> {
  const { openStream, rec } = recordingOpenStream();
  return { c: await connect(s, service, { openStream }), rec };
}

async function event(c: SMPClient): Promise<BrokerMsg> {
  const e = await c.nextEvent(EVENT_WAIT_MS);
  if (e.type !== "event") throw new Error(`expected an event, got ${e.type}`);
  return e.msg;
}

/** A queue of the service's connection `sh`, secured for sender key sKey, with one message waiting. */
async function queueWithMessage(sh: SMPClient, h: SMPClient, text: string): Promise<RcvQueue> {
  const q = await sh.createQueue({ subMode: "S" });
  const sKey = generateAuthKey("ed25519");
  await sh.secureQueue(q.rcvId, q.rcvAuthKey, authPublicKey(sKey));
  expect(await h.sendCommand(q.sndId, send(text), sKey)).toEqual({ tag: "OK" });
  expect((await event(sh)).tag).toBe("MSG");
  return q;
}

test("after SUBS (re-subscription on a new connection): SOKS, each MSG and ALLS in blocks of their own", async () => {
  const s = await startTestServer();
  cleanup.push(() => s.stop());
  const creds = serviceCredentials("M");
  const h = await connect(s);
  const sh = await connect(s, creds());
  const q1 = await queueWithMessage(sh, h, "one");
  const q2 = await queueWithMessage(sh, h, "two");
  sh.close(); // not acknowledged: both are delivered again after SUBS

  for (let round = 0; round < 2; round++) {
    const { c, rec } = await recorded(s, creds());
    const before = rec.received.blocks.length;
    const idsHash = queueIdsHash([q1.rcvId, q2.rcvId]);
    expect(await c.subscribeService(2, idsHash)).toEqual({ count: 2, idsHash });
    const events = [await event(c), await event(c), await event(c)];
    expect(events.map((m) => m.tag)).toEqual(["MSG", "MSG", "ALLS"]);
    // SOKS + MSG + MSG + ALLS: four blocks.
    expect(rec.received.blocks.length - before).toBe(4);
    c.close();
  }
});

test("after NSUBS: SOKS in its own block, the kept notifications after it", async () => {
  const s = await startTestServer();
  cleanup.push(() => s.stop());
  const creds = serviceCredentials("N");
  const rh = await connect(s);
  const h = await connect(s);
  const q = await rh.createQueue({ subMode: "S" });
  const sKey = generateAuthKey("ed25519");
  await rh.secureQueue(q.rcvId, q.rcvAuthKey, authPublicKey(sKey));
  const n = await rh.enableNotifications(q.rcvId, q.rcvAuthKey);
  const nh = await connect(s, creds());
  expect(await nh.subscribeNotifications(n.notifierId, n.notifierKey)).toEqual(nh.serviceId);
  const serviceId = nh.serviceId!;
  nh.close();
  while (s.server.subscribers.serviceSubscriber("ntf", serviceId) !== undefined) await Bun.sleep(10);
  // The notifier service is away: the notification is kept for it.
  expect(await h.sendCommand(q.sndId, send("hello", true), sKey)).toEqual({ tag: "OK" });
  expect((await event(rh)).tag).toBe("MSG");

  const { c, rec } = await recorded(s, creds());
  const before = rec.received.blocks.length;
  const idsHash = queueIdsHash([n.notifierId]);
  expect(await c.subscribeNtfService(1, idsHash)).toEqual({ count: 1, idsHash });
  expect((await event(c)).tag).toBe("NMSG");
  expect(rec.received.blocks.length - before).toBe(2);
});
