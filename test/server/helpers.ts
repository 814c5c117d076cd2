// Helpers for the server integration tests: the counterparts of tests/ServerTests.hs and
// tests/SMPClient.hs (signSendRecv, sendRecv, tGet1, createAndSecureQueue, decryptMsgV3) on top of
// the client library, against a real server (test/server/harness.ts).
import { expect } from "bun:test";
import { SMPClient, SMPClientError, authPublicKey, generateAuthKey, type AuthAlg, type AuthKey, type RcvQueue, type ServerEvent } from "../../src/client/index.ts";
import { connectTLSStream } from "../../src/client/tls-stream.ts";
import { TransmissionEncoder } from "../../src/client/authorize.ts";
import { DhPrivateKey } from "../../src/crypto/dh.ts";
import type { PublicKey } from "../../src/crypto/keys.ts";
import { fromBase64 } from "../../src/encoding/base64.ts";
import { ascii, utf8 } from "../../src/encoding/bytes.ts";
import { Reader } from "../../src/encoding/reader.ts";
import { Writer } from "../../src/encoding/writer.ts";
import { BatchCursor, BatchPacker } from "../../src/protocol/batch.ts";
import type { BrokerMsg } from "../../src/protocol/broker-messages.ts";
import { encodeCommand, type Command } from "../../src/protocol/commands.ts";
import type { ErrorType } from "../../src/protocol/errors.ts";
import { parseServerStr } from "../../src/protocol/server-address.ts";
import { encodeTransmission, parseServerTransmission, type TransmissionParams } from "../../src/protocol/transmission.ts";
import { authCmdsSMPVersion, versionRange, type Version } from "../../src/protocol/versions.ts";
import { BlockTransport } from "../../src/transport/block.ts";
import { clientHandshake } from "../../src/transport/client-handshake.ts";
import type { ClientAuth, SmpHandle } from "../../src/transport/handle.ts";
import type { TestServer } from "./harness.ts";

export const EMPTY = new Uint8Array(0);
export const b = (s: string): Uint8Array => utf8(s);

/** ServerTests.hs:sampleSig — a well-formed Ed25519 signature of nothing in particular. */
export const sampleSig = fromBase64("e8JK+8V3fq6kOLqco/SaKlpNaQ7i1gfOrXoqekEl42u4mF8Bgu14T5j0189CGcUhJHw2RwCMvON+qbvQ9ecJAA==");

/** Key algorithms a queue can use at version v (X25519 authenticators from authCmdsSMPVersion). */
export function algsAt(v: Version): AuthAlg[] {
  return v >= authCmdsSMPVersion ? ["ed25519", "ed448", "x25519"] : ["ed25519", "ed448"];
}

/** A client negotiating exactly version v (the server supports 6..20). */
export async function connect(s: { address: string }, v: Version = 20): Promise<SMPClient> {
  const c = await SMPClient.connect({ server: s.address, versionRange: versionRange(6, v), timeoutMs: 5000, connectTimeoutMs: 5000 });
  expect(c.version).toBe(v);
  return c;
}

export async function connectN(s: { address: string }, n: number, v: Version = 20): Promise<SMPClient[]> {
  const cs: SMPClient[] = [];
  for (let i = 0; i < n; i++) cs.push(await connect(s, v));
  return cs;
}

export function closeAll(cs: SMPClient[]): void {
  for (const c of cs) c.close();
}

/** signSendRecv / sendRecv without auth: the command with this corrId; the entity of the response is checked by the client. */
export function sr(c: SMPClient, key: AuthKey | null, corrId: string | Uint8Array, entityId: Uint8Array, cmd: Command): Promise<BrokerMsg> {
  return c.sendCommand(entityId, cmd, key, { corrId: typeof corrId === "string" ? b(corrId) : corrId });
}

/**
 * sendRecv with arbitrary authorization bytes (e.g. sampleSig) and, optionally, raw command bytes
 * and a service-signature slot: the transmission is encoded here and sent as one block.
 */
export function srRaw(
  c: SMPClient,
  auth: Uint8Array,
  corrId: string,
  entityId: Uint8Array,
  cmd: Command | Uint8Array,
  opts: { serviceSig?: Uint8Array; authKey?: AuthKey } = {},
): Promise<BrokerMsg> {
  const corr = b(corrId);
  const w = new Writer(17000);
  w.byte(1).word16(0);
  const start = w.pos;
  if (opts.authKey !== undefined) {
    // Signed by a real key, with an extra service-signature slot the client would never add.
    const fa = authorizedBytes(c.params, corr, entityId, cmd);
    const sig = opts.authKey instanceof DhPrivateKey ? null : opts.authKey.sign(fa.authorized);
    if (sig === null) throw new Error("authKey must be a signing key");
    encodeTransmission(w, c.params, sig, opts.serviceSig ?? null, fa.toSend);
  } else {
    const fa = authorizedBytes(c.params, corr, entityId, cmd);
    encodeTransmission(w, c.params, auth, opts.serviceSig ?? null, fa.toSend);
  }
  const len = w.pos - start;
  w.buf[1] = len >> 8;
  w.buf[2] = len & 0xff;
  const p = c.expectResponse(corr, entityId);
  c.sendRawPayload(w.toBytes());
  return p;
}

function authorizedBytes(p: TransmissionParams, corrId: Uint8Array, entityId: Uint8Array, cmd: Command | Uint8Array): { authorized: Uint8Array; toSend: Uint8Array } {
  const w = new Writer(17000);
  w.short(p.sessionId).short(corrId).short(entityId);
  if (cmd instanceof Uint8Array) w.bytes(cmd);
  else encodeCommand(w, cmd, p.version);
  const authorized = w.toBytes();
  return { authorized, toSend: p.implySessId ? authorized.subarray(1 + p.sessionId.length) : authorized };
}

export const OK: BrokerMsg = { tag: "OK" };
export const SOK: BrokerMsg = { tag: "SOK", serviceId: null };

export function err(e: ErrorType): BrokerMsg {
  return { tag: "ERR", err: e };
}

/** `SOK Nothing`, which versions before 16 receive as `OK` (Protocol.hs:encodeProtocol SOK). */
export function sokNone(v: Version): BrokerMsg {
  return v >= 16 ? { tag: "SOK", serviceId: null } : { tag: "OK" };
}

/**
 * How long a test waits for an event it expects: an upper bound for a hang, never reached in
 * normal operation. Generous: a loaded machine delays events, and with several nodes
 * (SMP_TEST_NODES) an event whose notification missed a claim still being committed comes with
 * the node's periodic sweep (cluster-subscribers.ts SWEEP_MS, 10 s).
 */
export const EVENT_WAIT_MS = 20_000;

/** tGet1 for a server-initiated transmission: the next event, which must be an event for `entityId`. */
export async function nextEvent(c: SMPClient, entityId?: Uint8Array, timeoutMs = EVENT_WAIT_MS): Promise<BrokerMsg> {
  const e: ServerEvent = await c.nextEvent(timeoutMs);
  if (e.type !== "event") throw new Error(`expected an event, got ${e.type}`);
  if (entityId !== undefined) expect(e.entityId).toEqual(entityId);
  return e.msg;
}

/** `1000 `timeout` tGetClient` → Nothing: nothing else arrives within `ms`. */
export async function expectNoEvent(c: SMPClient, ms = 100): Promise<void> {
  try {
    const e = await c.nextEvent(ms);
    throw new Error(`unexpected event: ${JSON.stringify(e, (_, v) => (v instanceof Uint8Array ? ascii(v).slice(0, 40) : v))}`);
  } catch (e) {
    if (!(e instanceof SMPClientError && e.kind === "timeout")) throw e;
  }
}

export type Msg = Extract<BrokerMsg, { tag: "MSG" }>;

export function asMsg(m: BrokerMsg): Msg {
  if (m.tag !== "MSG") throw new Error(`expected MSG, got ${m.tag}${m.tag === "ERR" ? " " + JSON.stringify(m.err) : ""}`);
  return m;
}

/** decryptMsgV3: the body text, or "QUOTA" for the quota marker (ClientRcvMsgQuota). */
export function decText(q: { rcvDhSecret: Uint8Array }, m: BrokerMsg): string {
  const body = SMPClient.decryptMessage(q, asMsg(m));
  return body.type === "quota" ? "QUOTA" : ascii(body.body);
}

/** The next pushed MSG of this queue, decrypted. */
export async function nextMsg(c: SMPClient, q: { rcvId: Uint8Array; rcvDhSecret: Uint8Array }): Promise<{ msgId: Uint8Array; text: string; msg: Msg }> {
  const m = asMsg(await nextEvent(c, q.rcvId));
  return { msgId: m.msgId, text: decText(q, m), msg: m };
}

export function send(body: string | Uint8Array, notification = false): Command {
  return { tag: "SEND", flags: { notification }, body: typeof body === "string" ? b(body) : body };
}

export interface SndKeys {
  sKey: AuthKey;
  sPub: PublicKey;
}

export function sndKeys(alg: AuthAlg = "ed25519"): SndKeys {
  const sKey = generateAuthKey(alg);
  return { sKey, sPub: authPublicKey(sKey) };
}

/**
 * ServerTests.hs:createAndSecureQueue: NEW then KEY with the sender key. The reference uses an
 * Ed448 recipient key; Ed25519 by default here, as Ed448 costs ~9 ms per signature in pure JS and
 * the key types have their own parametrized scenarios.
 */
export async function createAndSecureQueue(c: SMPClient, sPub: PublicKey, alg: AuthAlg = "ed25519"): Promise<RcvQueue> {
  const q = await c.createQueue({ authAlg: alg });
  expect(await sr(c, q.rcvAuthKey, "dabc", q.rcvId, { tag: "KEY", key: sPub })).toEqual({ tag: "OK" });
  return q;
}

export async function queueRec(s: TestServer, rcvId: Uint8Array) {
  const q = await s.server.store.queues.getQueueByRecipientId(rcvId);
  if (q === null) throw new Error("no such queue");
  return q;
}

export const CMD = {
  SUB: { tag: "SUB" } as Command,
  GET: { tag: "GET" } as Command,
  OFF: { tag: "OFF" } as Command,
  DEL: { tag: "DEL" } as Command,
  QUE: { tag: "QUE" } as Command,
  NSUB: { tag: "NSUB" } as Command,
  NDEL: { tag: "NDEL" } as Command,
  LGET: { tag: "LGET" } as Command,
  LDEL: { tag: "LDEL" } as Command,
  PING: { tag: "PING" } as Command,
  ack: (msgId: Uint8Array): Command => ({ tag: "ACK", msgId }),
  key: (key: PublicKey): Command => ({ tag: "KEY", key }),
  skey: (key: PublicKey): Command => ({ tag: "SKEY", key }),
  lkey: (key: PublicKey): Command => ({ tag: "LKEY", key }),
};

// ------------------------------------------------------------------------------------------------
// A bare connection (Transport.hs:THandle as tests/SMPClient.hs uses it): whole blocks in and out,
// so the order and grouping of the server's transmissions are visible.

export interface RawResp {
  readonly corrId: string;
  readonly entityId: Uint8Array;
  readonly msg: BrokerMsg | null;
  readonly error: ErrorType | null;
  /** The message bytes after corrId and entity (e.g. the INFO JSON). */
  readonly raw: Uint8Array;
}

export class RawClient {
  private readonly encoder: TransmissionEncoder;
  private readonly cursor = new BatchCursor();
  private readonly reader = new Reader(EMPTY);

  private constructor(readonly handle: SmpHandle<ClientAuth>) {
    this.encoder = new TransmissionEncoder(handle.params, handle.auth.peerServerPubKey, null);
  }

  static async connect(address: string, v: Version = 20): Promise<RawClient> {
    const addr = parseServerStr(address).server;
    const stream = await connectTLSStream(addr.hosts[0]!, Number(addr.port), { keyHash: addr.keyHash, timeoutMs: 5000 });
    const h = await clientHandshake(new BlockTransport(stream), {
      keyHash: addr.keyHash,
      versionRange: versionRange(6, v),
      proxyServer: false,
      agreeSecret: true,
    });
    return new RawClient(h);
  }

  get params(): TransmissionParams {
    return this.handle.params;
  }

  /** Sends these transmissions in one block (tPut of a batch); raw command bytes go unauthorized. */
  send(ts: readonly { key: AuthKey | null; corrId: string; entityId: Uint8Array; cmd: Command | Uint8Array }[]): void {
    const packer = new BatchPacker();
    const w = new Writer(17000);
    for (const t of ts) {
      w.reset();
      if (t.cmd instanceof Uint8Array) encodeTransmission(w, this.params, EMPTY, null, authorizedBytes(this.params, b(t.corrId), t.entityId, t.cmd).toSend);
      else this.encoder.encode(w, b(t.corrId), t.entityId, t.cmd, t.key);
      if (packer.add(w.view_()) !== "added") throw new Error("batch does not fit one block");
    }
    this.handle.writePayload(packer.payload());
  }

  /** The transmissions of the next block (tGetClient). */
  async recvBlock(timeoutMs = EVENT_WAIT_MS): Promise<RawResp[]> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), timeoutMs)));
    const p = await Promise.race([this.handle.readPayload(), timeout]);
    clearTimeout(timer);
    if (p === "timeout") throw new Error("no block in time");
    if (p === null || p === "bad") throw new Error(`connection: ${p}`);
    const payload = p.slice();
    if (!this.cursor.open(payload)) throw new Error("bad batch");
    const out: RawResp[] = [];
    while (this.cursor.next()) {
      const t = parseServerTransmission(payload, this.cursor.start, this.cursor.end, this.params, this.reader);
      const own = payload.slice(this.cursor.start, this.cursor.end);
      // The message bytes follow `auth(0) [sessionId] corrId entityId`.
      const r = new Reader(own);
      r.take(r.byte());
      if (!this.params.implySessId) r.short();
      r.short();
      r.short();
      out.push({ corrId: ascii(t.corrId), entityId: t.entityId.slice(), msg: t.msg, error: t.error, raw: r.tail().slice() });
    }
    return out;
  }

  close(): void {
    this.handle.close();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
