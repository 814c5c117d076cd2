// Typed queue operations against a scripted router: what the router receives and how the client
// uses what it answers (keys, DH secrets, link sender ids, service sessions).
import { afterEach, describe, expect, test } from "bun:test";
import { hex, toHex } from "../vectors.ts";
import { startFake } from "./fake-server.ts";
import { SMPClient, senderIdFromCorrId, type RcvQueue } from "../../src/client/client.ts";
import { SMPError } from "../../src/client/errors.ts";
import { authPublicKey } from "../../src/client/keys.ts";
import { DhPrivateKey, x25519 } from "../../src/crypto/dh.ts";
import { SignPrivateKey, verifySignature } from "../../src/crypto/sign.ts";
import { decodePrivKey, publicKey } from "../../src/crypto/keys.ts";
import { cbEncrypt } from "../../src/crypto/secretbox.ts";
import { sha256, sha3_384 } from "../../src/crypto/digest.ts";
import { generateCa, pemToDer } from "../../src/crypto/x509/certificate.ts";
import { concat } from "../../src/encoding/bytes.ts";
import { Writer } from "../../src/encoding/writer.ts";
import { MSG_, type BrokerMsg } from "../../src/protocol/broker-messages.ts";
import type { Command, NewQueueReq } from "../../src/protocol/commands.ts";
import { ERR } from "../../src/protocol/errors.ts";
import { versionRange } from "../../src/protocol/versions.ts";

const EMPTY = new Uint8Array(0);
const id = (b: number) => new Uint8Array(24).fill(b);
const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

let clients: SMPClient[] = [];
afterEach(() => {
  for (const c of clients) c.close();
  clients = [];
});
async function fake(opts: Parameters<typeof startFake>[0] = {}) {
  const r = await startFake(opts);
  clients.push(r.client);
  return r;
}

/** Server.hs:encryptMsg as digest §5.7 describes it: pad(Int64 ts ‖ flags ‖ SP ‖ body, 16106), crypto_box, nonce = msgId. */
function serverEncryptMsg(rcvDhSecret: Uint8Array, msgId: Uint8Array, ts: number, notification: boolean, body: Uint8Array): Uint8Array {
  const w = new Writer();
  w.int64(ts).bool(notification).space().bytes(body);
  return cbEncrypt(rcvDhSecret, msgId, w.toBytes(), 16106);
}

describe("NEW", () => {
  test("creates a queue: signed by the new recipient key; DH secrets agree with the router's", async () => {
    const { client, server } = await fake();
    const p = client.createQueue({ notifications: true });
    const t = await server.next();
    const cmd = t.command as Extract<Command, { tag: "NEW" }>;
    const req: NewQueueReq = cmd.req;
    expect(t.entityId.length).toBe(0);
    expect(req.subMode).toBe("S");
    expect(req.queueReqData).toEqual({ mode: "M", link: null });
    expect(verifySignature(req.rcvAuthKey, t.auth, t.authorized!)).toBe(true);
    const srvDh = DhPrivateKey.generate();
    const srvNtfDh = DhPrivateKey.generate();
    server.respond(t.corrId, EMPTY, {
      tag: "IDS",
      ids: {
        rcvId: id(1),
        sndId: id(2),
        rcvPublicDhKey: publicKey("x25519", srvDh.publicRaw),
        queueMode: "M",
        linkId: null,
        serviceId: null,
        serverNtfCreds: { notifierId: id(3), dhKey: publicKey("x25519", srvNtfDh.publicRaw) },
      },
    });
    const q: RcvQueue = await p;
    expect(toHex(q.rcvId)).toBe(toHex(id(1)));
    expect(toHex(q.sndId)).toBe(toHex(id(2)));
    expect(toHex(q.rcvDhSecret)).toBe(toHex(x25519(req.rcvDhKey.raw, srvDh)));
    expect(toHex(authPublicKey(q.rcvAuthKey).der)).toBe(toHex(req.rcvAuthKey.der));
    expect(toHex(q.notifier!.notifierId)).toBe(toHex(id(3)));
    expect(toHex(q.notifier!.rcvNtfDhSecret)).toBe(toHex(x25519(req.ntfCreds!.dhKey.raw, srvNtfDh)));

    // A message the router encrypts for this queue decrypts with the queue's secret.
    const secret = x25519(req.rcvDhKey.raw, srvDh);
    const msgId = id(9);
    server.respond(EMPTY, q.rcvId, { tag: "MSG", msgId, body: serverEncryptMsg(secret, msgId, 1700000000, true, bytes("hi there")) });
    const e = await client.nextEvent(10_000);
    if (e.type !== "event" || e.msg.tag !== "MSG") throw new Error("expected MSG");
    const body = SMPClient.decryptMessage(q, e.msg);
    expect(body).toMatchObject({ type: "message", ts: 1700000000, notification: true });
    expect(body.type === "message" && text(body.body)).toBe("hi there");
  });

  test("link data: the sender id is the first 24 bytes of SHA3-384(corrId) (Server.hs:createQueue)", async () => {
    const { client, server } = await fake();
    const data = { fixedData: bytes("fixed"), userData: bytes("user") };
    const p = client.createQueue({ linkData: data, queueMode: "C" }).catch((e) => e);
    const t = await server.next();
    const req = (t.command as Extract<Command, { tag: "NEW" }>).req;
    const link = req.queueReqData!.link as { linkId: Uint8Array; senderId: Uint8Array; data: unknown };
    expect(req.queueReqData!.mode).toBe("C");
    expect(toHex(link.senderId)).toBe(toHex(sha3_384(t.corrId).subarray(0, 24)));
    expect(toHex(senderIdFromCorrId(t.corrId))).toBe(toHex(link.senderId));
    expect(link.linkId.length).toBe(24);
    expect(link.data).toEqual(data);
    server.respond(t.corrId, EMPTY, { tag: "ERR", err: ERR.AUTH });
    const e = await p;
    expect(e).toBeInstanceOf(SMPError);
  });

  test("basic auth from the address is sent in NEW; X25519 queue keys are refused below v7", async () => {
    const { KEY_HASH } = await import("./fake-server.ts");
    const { client, server } = await fake({ client: { basicAuth: bytes("secret") } });
    const p = client.createQueue({ authAlg: "x25519" }).catch(() => {});
    const t = await server.next();
    const req = (t.command as Extract<Command, { tag: "NEW" }>).req;
    expect(text(req.basicAuth!)).toBe("secret");
    expect(req.rcvAuthKey.alg).toBe("x25519");
    expect(t.auth.length).toBe(80);
    server.respond(t.corrId, EMPTY, { tag: "ERR", err: ERR.AUTH });
    await p;
    const v6 = await fake({ clientRange: versionRange(6, 6), client: { server: `smp://${Buffer.from(KEY_HASH).toString("base64url")}=:pw@h` } });
    expect(v6.client.version).toBe(6);
    expect(v6.client.basicAuth && text(v6.client.basicAuth)).toBe("pw");
    await expect(v6.client.createQueue({ authAlg: "x25519" })).rejects.toThrow("needs SMP v7");
  });
});

describe("queue commands", () => {
  async function answered(server: Awaited<ReturnType<typeof fake>>["server"], m: (t: { corrId: Uint8Array; entityId: Uint8Array }) => BrokerMsg) {
    const t = await server.next();
    server.respond(t.corrId, t.entityId, m(t));
    return t;
  }

  test("KEY, SKEY, SEND, ACK, OFF, DEL, QUE with their entities and keys", async () => {
    const { client, server } = await fake();
    const rKey = new SignPrivateKey("ed25519", crypto.getRandomValues(new Uint8Array(32)));
    const sKey = new SignPrivateKey("ed448", crypto.getRandomValues(new Uint8Array(57)));
    const rcvId = id(1);
    const sndId = id(2);

    let p: Promise<unknown> = client.secureQueue(rcvId, rKey, authPublicKey(sKey));
    let t = await answered(server, () => MSG_.OK);
    expect(t).toMatchObject({ command: { tag: "KEY" } });
    expect(verifySignature(authPublicKey(rKey), t.auth as Uint8Array, (t as any).authorized)).toBe(true);
    await p;

    p = client.secureBySender(sndId, sKey);
    t = await answered(server, () => MSG_.OK);
    const skey = (t as any).command as Extract<Command, { tag: "SKEY" }>;
    expect(toHex(skey.key.der)).toBe(toHex(authPublicKey(sKey).der));
    expect((t as any).auth.length).toBe(114); // Ed448 signature
    expect(verifySignature(skey.key, (t as any).auth, (t as any).authorized)).toBe(true);
    await p;

    p = client.sendMessage(sndId, bytes("m1"), { key: sKey, notification: true });
    t = await answered(server, () => MSG_.OK);
    expect((t as any).command).toMatchObject({ tag: "SEND", flags: { notification: true } });
    expect(toHex(t.entityId)).toBe(toHex(sndId));
    await p;

    const ack = client.ack(rcvId, rKey, id(7));
    t = await answered(server, () => ({ tag: "MSG", msgId: id(8), body: bytes("next") }));
    expect(toHex(((t as any).command as { msgId: Uint8Array }).msgId)).toBe(toHex(id(7)));
    const next = await ack;
    expect(next && toHex(next.msgId)).toBe(toHex(id(8)));

    const ack2 = client.ack(rcvId, rKey, id(8));
    await answered(server, () => MSG_.OK);
    expect(await ack2).toBeNull();

    const info = client.queueInfo(rcvId, rKey);
    await answered(server, () => ({ tag: "INFO", info: { qiSnd: true, qiNtf: false, qiSub: null, qiSize: 3, qiMsg: null } }));
    expect((await info).qiSize).toBe(3);

    p = client.suspendQueue(rcvId, rKey);
    expect((await answered(server, () => MSG_.OK) as any).command.tag).toBe("OFF");
    await p;
    p = client.deleteQueue(rcvId, rKey);
    expect((await answered(server, () => MSG_.OK) as any).command.tag).toBe("DEL");
    await p;
  });

  test("NKEY → NID; NMSG metadata decrypts with the notifier secret; NSUB", async () => {
    const { client, server } = await fake();
    const rKey = new SignPrivateKey("ed25519", crypto.getRandomValues(new Uint8Array(32)));
    const srvNtf = DhPrivateKey.generate();
    const p = client.enableNotifications(id(1), rKey);
    const t = await server.next();
    const nkey = t.command as Extract<Command, { tag: "NKEY" }>;
    server.respond(t.corrId, id(1), { tag: "NID", notifierId: id(5), dhKey: publicKey("x25519", srvNtf.publicRaw) });
    const n = await p;
    expect(toHex(n.notifierId)).toBe(toHex(id(5)));
    expect(toHex(authPublicKey(n.notifierKey).der)).toBe(toHex(nkey.notifierKey.der));

    // Server.hs:mkMessageNotification: cbEncrypt(rcvNtfDhSecret, nonce, pad(short(msgId) ‖ Int64 ts, 128))
    const secret = x25519(nkey.dhKey.raw, srvNtf);
    const nonce = id(0x33);
    const meta = new Writer().short(id(9)).int64(1700000123).toBytes();
    server.respond(EMPTY, id(5), { tag: "NMSG", nonce, encMeta: cbEncrypt(secret, nonce, meta, 128) });
    const e = await client.nextEvent(10_000);
    if (e.type !== "event" || e.msg.tag !== "NMSG") throw new Error("expected NMSG");
    const m = SMPClient.decryptNotification(n, e.msg);
    expect(toHex(m.msgId)).toBe(toHex(id(9)));
    expect(m.ts).toBe(1700000123);

    const sub = client.subscribeNotifications(n.notifierId, n.notifierKey);
    const ts = await server.next();
    expect(ts.command!.tag).toBe("NSUB");
    expect(verifySignature(authPublicKey(n.notifierKey), ts.auth, ts.authorized!)).toBe(true);
    server.respond(ts.corrId, n.notifierId, { tag: "SOK", serviceId: null });
    expect(await sub).toBeNull();
  });

  test("SUB answered with the message itself (older routers): the MSG becomes an event", async () => {
    const { client, server } = await fake();
    const k = new SignPrivateKey("ed25519", crypto.getRandomValues(new Uint8Array(32)));
    const p = client.subscribe(id(1), k);
    const t = await server.next();
    server.respond(t.corrId, id(1), { tag: "MSG", msgId: id(8), body: bytes("queued") });
    expect(await p).toBeNull();
    const e = await client.nextEvent(10_000);
    expect(e.type === "event" && e.msg.tag === "MSG" && text(e.msg.body)).toBe("queued");
  });

  test("LGET is unauthorized; LKEY is signed by the key it sets", async () => {
    const { client, server } = await fake();
    const data = { fixedData: bytes("f"), userData: bytes("u") };
    const g = client.getQueueLink(id(4));
    let t = await server.next();
    expect(t.auth.length).toBe(0);
    server.respond(t.corrId, id(4), { tag: "LNK", senderId: id(2), data });
    expect(await g).toEqual({ senderId: id(2), data });
    const k = new SignPrivateKey("ed25519", crypto.getRandomValues(new Uint8Array(32)));
    const l = client.secureGetQueueLink(id(4), k);
    t = await server.next();
    const lkey = t.command as Extract<Command, { tag: "LKEY" }>;
    expect(verifySignature(lkey.key, t.auth, t.authorized!)).toBe(true);
    server.respond(t.corrId, id(4), { tag: "LNK", senderId: id(2), data });
    expect((await l).senderId).toEqual(id(2));
  });
});

describe("service sessions (v19+ messaging role)", () => {
  const ca = generateCa();
  const certSignKey = new SignPrivateKey("ed25519", decodePrivKey(pemToDer(ca.keyPem, "PRIVATE KEY")).raw);
  const sessionKey = new SignPrivateKey("ed25519", crypto.getRandomValues(new Uint8Array(32)));
  const serviceId = id(0x5e);

  async function serviceFake() {
    return fake({
      clientChain: [ca.der],
      getService: () => serviceId,
      client: { service: { role: "M", certChain: [ca.der], certSignKey, sessionKey } },
    });
  }

  test("SUB carries both signatures (entity key over certHash ‖ authorized, session key over authorized); GET only one", async () => {
    const { client, server } = await serviceFake();
    expect(client.serviceId && toHex(client.serviceId)).toBe(toHex(serviceId));
    const rKey = new SignPrivateKey("ed25519", crypto.getRandomValues(new Uint8Array(32)));
    const s = client.subscribe(id(1), rKey);
    const t = await server.next();
    expect(t.serviceSig).not.toBeNull();
    expect(verifySignature(publicKey("ed25519", sessionKey.publicRaw), t.serviceSig!, t.authorized!)).toBe(true);
    expect(verifySignature(authPublicKey(rKey), t.auth, concat(sha256(ca.der), t.authorized!))).toBe(true);
    expect(verifySignature(authPublicKey(rKey), t.auth, t.authorized!)).toBe(false);
    server.respond(t.corrId, id(1), { tag: "SOK", serviceId });
    expect(toHex((await s)!)).toBe(toHex(serviceId));

    const g = client.getMessage(id(1), rKey);
    const tg = await server.next();
    expect(tg.serviceSig).toBeNull();
    expect(verifySignature(authPublicKey(rKey), tg.auth, tg.authorized!)).toBe(true);
    server.respond(tg.corrId, id(1), MSG_.OK);
    expect(await g).toBeNull();
  });

  test("SUBS: entity = service id, signed by the service session key", async () => {
    const { client, server } = await serviceFake();
    const hash = new Uint8Array(16).fill(3);
    const p = client.subscribeService(7, hash);
    const t = await server.next();
    expect(t.command).toMatchObject({ tag: "SUBS", count: 7 });
    expect(toHex(t.entityId)).toBe(toHex(serviceId));
    expect(t.serviceSig).toBeNull();
    expect(verifySignature(publicKey("ed25519", sessionKey.publicRaw), t.auth, t.authorized!)).toBe(true);
    server.respond(t.corrId, serviceId, { tag: "SOKS", count: 5, idsHash: hash });
    expect(await p).toEqual({ count: 5, idsHash: hash });
  });

  test("without a service session SUBS is refused locally", async () => {
    const { client } = await fake();
    await expect(client.subscribeService(0, new Uint8Array(16))).rejects.toThrow("not a service session");
  });
});
