/**
 * The SMP client (Client.hs:getProtocolClient and the command functions after it): connects to a
 * router by its `smp://` address, checks its identity, runs the handshake, then offers one typed
 * method per command. Typed methods resolve with what the command returns and throw SMPError for
 * `ERR`, SMPClientError for everything else; `sendCommand` / `sendBatch` give raw access.
 */
import { sha256, sha3_384 } from "../crypto/digest.ts";
import { DhPrivateKey, x25519 } from "../crypto/dh.ts";
import type { PublicKey } from "../crypto/keys.ts";
import type { SignPrivateKey } from "../crypto/sign.ts";
import { CMD, type Command, type MsgFlags, type NewNtfCreds, type QueueLinkData, type QueueMode, type QueueReqData, type SubscriptionMode } from "../protocol/commands.ts";
import type { BrokerMsg, BrokerMsgTag, QueueIdsKeys } from "../protocol/broker-messages.ts";
import type { QueueInfo } from "../protocol/queue-info.ts";
import { isOnionHost, parseServerStr, type BasicAuth, type SMPServer } from "../protocol/server-address.ts";
import { authCmdsSMPVersion, namesSMPVersion, sendingProxySMPVersion, supportedClientSMPRelayVRange, type Version, type VersionRange } from "../protocol/versions.ts";
import { BlockTransport } from "../transport/block.ts";
import { clientHandshake, type ServiceCredentials } from "../transport/client-handshake.ts";
import type { ClientAuth, SmpHandle } from "../transport/handle.ts";
import type { TransportStream } from "../transport/stream.ts";
import { chainIdCaCerts, validateServerChain } from "../transport/tls/chain-validation.ts";
import { SMP_ALPN } from "../transport/tls/alpn.ts";
import type { PemCredentials } from "../transport/tls/params.ts";
import type { AuthKey, ServiceAuth } from "./authorize.ts";
import { ClientConnection, randomCorrId, type ConnectionOptions, type SendOptions } from "./connection.ts";
import { SMPClientError, SMPError, unexpected } from "./errors.ts";
import { authPublicKey, dhPublicKey, generateAuthKey, type AuthAlg } from "./keys.ts";
import { decryptMsgBody, decryptNMsgMeta, type NMsgMeta, type RcvMsgBody } from "./msg-body.ts";
import {
  buildForward,
  buildProxiedCommand,
  openForwardResponse,
  openProxiedResponse,
  ProxyClientError,
  proxiedRelayFromPKEY,
  type ProxiedCommandOptions,
  type ProxiedRelay,
} from "./proxy.ts";
import { connectTLSStream, servicePemCredentials } from "./tls-stream.ts";

export const DEFAULT_SMP_PORT = "5223";
export const DEFAULT_CONNECT_TIMEOUT_MS = 20_000;

export interface OpenStreamContext {
  readonly keyHash: Uint8Array;
  readonly alpn: readonly string[];
  readonly clientCredentials?: PemCredentials;
  readonly timeoutMs: number;
}

export type OpenStream = (host: string, port: number, ctx: OpenStreamContext) => Promise<TransportStream>;

export interface SMPClientConfig extends ConnectionOptions {
  /** `smp://<keyHash>[:<auth>]@<host>[,<host>…][:<port>]` or a parsed address. */
  readonly server: string | SMPServer;
  /** Password for NEW / PRXY; defaults to the one in the address. */
  readonly basicAuth?: BasicAuth | null;
  /** Where the byte stream comes from (tests: in-memory pairs); TLS to host:port by default. */
  readonly openStream?: OpenStream;
  /** Offered versions (default 6..20). */
  readonly versionRange?: VersionRange;
  /** Send a hello key: block encryption from v11 and X25519 authorization (default true). */
  readonly agreeSecret?: boolean;
  /** This is a router's proxy connection to a destination router (no block encryption). */
  readonly proxyServer?: boolean;
  /** Service client: the handshake announces it, NEW/SUB/NSUB are also service-signed. */
  readonly service?: ServiceCredentials;
  /** TLS client certificate for the service (derived from `service` when absent). */
  readonly tlsCredentials?: PemCredentials;
  /** TLS setup plus SMP handshake. */
  readonly connectTimeoutMs?: number;
  /** Fixed hello key (tests reproducing reference bytes). */
  readonly sessionKey?: DhPrivateKey;
}

/** What NEW created, with the private keys that operate the queue. */
export interface RcvQueue {
  readonly rcvId: Uint8Array;
  readonly sndId: Uint8Array;
  readonly rcvAuthKey: AuthKey;
  readonly rcvDhKey: DhPrivateKey;
  /** The server's per-queue DH key from IDS. */
  readonly srvDhKey: PublicKey;
  /** dh(srvDhKey, rcvDhKey): decrypts MSG bodies. */
  readonly rcvDhSecret: Uint8Array;
  readonly queueMode: QueueMode | null;
  readonly linkId: Uint8Array | null;
  readonly serviceId: Uint8Array | null;
  /** Notifier credentials requested with NEW (v17+), if the server returned them. */
  readonly notifier: NotifierCreds | null;
  readonly ids: QueueIdsKeys;
}

export interface NotifierCreds {
  readonly notifierId: Uint8Array;
  readonly notifierKey: AuthKey;
  readonly rcvNtfDhKey: DhPrivateKey;
  readonly srvNtfDhKey: PublicKey;
  /** dh(srvNtfDhKey, rcvNtfDhKey): decrypts NMSG metadata. */
  readonly rcvNtfDhSecret: Uint8Array;
}

export interface CreateQueueOptions {
  readonly authAlg?: AuthAlg;
  readonly rcvAuthKey?: AuthKey;
  readonly rcvDhKey?: DhPrivateKey;
  /** "S" subscribes this connection (default), "C" only creates. */
  readonly subMode?: SubscriptionMode;
  /** Default: the client's basic auth. */
  readonly basicAuth?: BasicAuth | null;
  /** Messaging (default, the sender may secure it with SKEY) or contact queue. */
  readonly queueMode?: QueueMode;
  /** Short-link data (v15+): the sender id is then derived from the corrId, as the server requires. */
  readonly linkData?: QueueLinkData;
  /** Contact queue link id (random by default). */
  readonly linkId?: Uint8Array;
  /** Exact queue request data, bypassing queueMode/linkData. */
  readonly queueReqData?: QueueReqData | null;
  /** Ask for notifier credentials in NEW (v17+). */
  readonly notifications?: boolean | { readonly notifierKey: AuthKey; readonly dhKey: DhPrivateKey };
  readonly corrId?: Uint8Array;
}

export interface SubscribeResult {
  readonly entityId: Uint8Array;
  /** The service now associated with the queue (SOK), or null. */
  readonly serviceId?: Uint8Array | null;
  readonly error?: SMPError | SMPClientError;
}

const EMPTY = new Uint8Array(0);

function chooseHost(s: SMPServer): string {
  return s.hosts.find((h) => !isOnionHost(h)) ?? s.hosts[0]!;
}

/** SHA-256 of the service's identity certificate (Transport.hs: the server computes the same). */
export function serviceCertHash(chain: readonly Uint8Array[]): Uint8Array {
  const shape = chainIdCaCerts(chain);
  if (shape.kind === "self") return sha256(shape.cert);
  if (shape.kind === "valid") return sha256(shape.idCert);
  throw new RangeError("service certificate chain must have 1..4 certificates");
}

/** The sender id the server accepts for client-chosen ids: the first 24 bytes of SHA3-384(corrId). */
export function senderIdFromCorrId(corrId: Uint8Array): Uint8Array {
  return sha3_384(corrId).slice(0, 24);
}

async function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => void): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let timedOut = false;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      onTimeout();
      reject(new SMPClientError("connect", `connect timeout after ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([p, t]);
  } catch (e) {
    if (timedOut) throw new SMPClientError("connect", `connect timeout after ${ms} ms`);
    throw e;
  } finally {
    if (timer !== null) clearTimeout(timer);
  }
}

const defaultOpenStream: OpenStream = (host, port, ctx) =>
  connectTLSStream(host, port, { keyHash: ctx.keyHash, alpn: ctx.alpn, clientCredentials: ctx.clientCredentials, timeoutMs: ctx.timeoutMs });

export class SMPClient extends ClientConnection {
  private constructor(
    handle: SmpHandle<ClientAuth | null>,
    options: ConnectionOptions,
    service: ServiceAuth | null,
    readonly server: SMPServer,
    readonly basicAuth: BasicAuth | null,
    private readonly serviceSessionKey: SignPrivateKey | null,
  ) {
    super(handle, options, service);
  }

  /**
   * Opens the stream, checks the server chain against the address key hash (the CA being the only
   * trust anchor), runs the SMP handshake and starts receiving. Throws SMPClientError "connect"
   * (stream, identity, timeout) or HandshakeError (the handshake's TransportError).
   */
  static async connect(cfg: SMPClientConfig): Promise<SMPClient> {
    const addr = typeof cfg.server === "string" ? parseServerStr(cfg.server) : { scheme: "smp", server: cfg.server, auth: null };
    const server = addr.server;
    const keyHash = server.keyHash;
    const timeoutMs = cfg.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const host = chooseHost(server);
    const port = Number(server.port === "" ? DEFAULT_SMP_PORT : server.port);
    const clientCredentials = cfg.tlsCredentials ?? (cfg.service !== undefined ? servicePemCredentials(cfg.service) : undefined);
    const open = cfg.openStream ?? defaultOpenStream;

    let stream: TransportStream | null = null;
    let abandoned = false;
    const abandon = () => {
      abandoned = true;
      stream?.close();
    };
    const handle = await withTimeout(
      (async () => {
        try {
          stream = await open(host, port, { keyHash, alpn: SMP_ALPN, clientCredentials, timeoutMs });
        } catch (e) {
          throw new SMPClientError("connect", `cannot connect: ${e instanceof Error ? e.message : String(e)}`);
        }
        if (abandoned) {
          stream.close();
          throw new SMPClientError("connect", "connect timeout");
        }
        const chain = validateServerChain(keyHash, stream.peerCertificateChain);
        if (!chain.ok) {
          stream.close();
          throw new SMPClientError("connect", `server certificate rejected: ${chain.error}`);
        }
        try {
          return await clientHandshake(new BlockTransport(stream), {
            keyHash,
            versionRange: cfg.versionRange ?? supportedClientSMPRelayVRange,
            proxyServer: cfg.proxyServer ?? false,
            agreeSecret: cfg.agreeSecret ?? true,
            service: cfg.service,
            sessionKey: cfg.sessionKey,
          });
        } catch (e) {
          stream.close();
          throw e;
        }
      })(),
      timeoutMs,
      abandon,
    );

    let service: ServiceAuth | null = null;
    if (cfg.service !== undefined && handle.auth?.serviceId != null) {
      service = { certHash: serviceCertHash(cfg.service.certChain), sessionKey: cfg.service.sessionKey };
    }
    const basicAuth = cfg.basicAuth !== undefined ? cfg.basicAuth : addr.auth;
    return new SMPClient(handle, cfg, service, server, basicAuth, service !== null ? cfg.service!.sessionKey : null);
  }

  /** The service id the server gave this session, or null. */
  get serviceId(): Uint8Array | null {
    return (this.handle.auth as ClientAuth | null)?.serviceId ?? null;
  }

  // ------------------------------------------------------------------------------------------
  // Helpers

  /** sendCommand that throws SMPError for ERR. */
  async request(entityId: Uint8Array, cmd: Command, key: AuthKey | null = null, opts?: SendOptions): Promise<BrokerMsg> {
    const r = await this.sendCommand(entityId, cmd, key, opts);
    if (r.tag === "ERR") throw new SMPError(r.err);
    return r;
  }

  private async expect<T extends BrokerMsgTag>(
    tag: T,
    entityId: Uint8Array,
    cmd: Command,
    key: AuthKey | null,
    opts?: SendOptions,
  ): Promise<Extract<BrokerMsg, { tag: T }>> {
    const r = await this.request(entityId, cmd, key, opts);
    if (r.tag !== tag) throw unexpected(r);
    return r as Extract<BrokerMsg, { tag: T }>;
  }

  private async ok(entityId: Uint8Array, cmd: Command, key: AuthKey | null): Promise<void> {
    await this.expect("OK", entityId, cmd, key);
  }

  /** Batched commands that answer OK (Client.hs:okSMPCommands). */
  private async okMany(tagCmd: Command, qs: readonly { entityId: Uint8Array; key: AuthKey }[]): Promise<(SMPError | SMPClientError | null)[]> {
    const rs = await this.sendBatch(qs.map((q) => ({ entityId: q.entityId, command: tagCmd, key: q.key })));
    return rs.map((r) => (r instanceof SMPClientError ? r : r.tag === "OK" ? null : r.tag === "ERR" ? new SMPError(r.err) : unexpected(r)));
  }

  private requireVersion(min: Version, what: string): void {
    if (this.version < min) throw new SMPClientError("unsupported", `${what} needs SMP v${min}, connection is v${this.version}`);
  }

  // ------------------------------------------------------------------------------------------
  // Recipient

  /** NEW: creates a queue with fresh (or given) keys (Client.hs:createSMPQueue). */
  async createQueue(opts: CreateQueueOptions = {}): Promise<RcvQueue> {
    const rcvAuthKey = opts.rcvAuthKey ?? generateAuthKey(opts.authAlg ?? "ed25519");
    const rcvAuthPub = authPublicKey(rcvAuthKey);
    if (rcvAuthPub.alg === "x25519") this.requireVersion(authCmdsSMPVersion, "X25519 queue keys");
    const rcvDhKey = opts.rcvDhKey ?? DhPrivateKey.generate();
    const corrId = opts.corrId ?? randomCorrId();
    let queueReqData: QueueReqData | null;
    if (opts.queueReqData !== undefined) queueReqData = opts.queueReqData;
    else {
      const mode = opts.queueMode ?? "M";
      const data = opts.linkData;
      if (data === undefined) queueReqData = { mode, link: null };
      else {
        const senderId = senderIdFromCorrId(corrId);
        queueReqData =
          mode === "M"
            ? { mode, link: { senderId, data } }
            : { mode, link: { linkId: opts.linkId ?? randomCorrId(), senderId, data } };
      }
    }
    let ntfKeys: { notifierKey: AuthKey; dhKey: DhPrivateKey } | null = null;
    if (opts.notifications === true) ntfKeys = { notifierKey: generateAuthKey("ed25519"), dhKey: DhPrivateKey.generate() };
    else if (opts.notifications) ntfKeys = opts.notifications;
    const ntfCreds: NewNtfCreds | null =
      ntfKeys === null ? null : { notifierKey: authPublicKey(ntfKeys.notifierKey), dhKey: dhPublicKey(ntfKeys.dhKey) };
    const cmd: Command = {
      tag: "NEW",
      req: {
        rcvAuthKey: rcvAuthPub,
        rcvDhKey: dhPublicKey(rcvDhKey),
        basicAuth: opts.basicAuth !== undefined ? opts.basicAuth : this.basicAuth,
        subMode: opts.subMode ?? "S",
        queueReqData,
        ntfCreds,
      },
    };
    const { ids } = await this.expect("IDS", EMPTY, cmd, rcvAuthKey, { corrId });
    let notifier: NotifierCreds | null = null;
    if (ntfKeys !== null && ids.serverNtfCreds !== null) {
      const srvNtfDhKey = ids.serverNtfCreds.dhKey;
      notifier = {
        notifierId: ids.serverNtfCreds.notifierId,
        notifierKey: ntfKeys.notifierKey,
        rcvNtfDhKey: ntfKeys.dhKey,
        srvNtfDhKey,
        rcvNtfDhSecret: x25519(srvNtfDhKey.raw, ntfKeys.dhKey),
      };
    }
    return {
      rcvId: ids.rcvId,
      sndId: ids.sndId,
      rcvAuthKey,
      rcvDhKey,
      srvDhKey: ids.rcvPublicDhKey,
      rcvDhSecret: x25519(ids.rcvPublicDhKey.raw, rcvDhKey),
      queueMode: ids.queueMode,
      linkId: ids.linkId,
      serviceId: ids.serviceId,
      notifier,
      ids,
    };
  }

  /**
   * SUB: resolves with the service now associated with the queue (SOK) or null (OK). A message
   * waiting in the queue arrives as an event (MSG with empty corrId).
   */
  async subscribe(rcvId: Uint8Array, key: AuthKey): Promise<Uint8Array | null> {
    const r = await this.request(rcvId, CMD.SUB, key);
    if (r.tag === "MSG") {
      // Routers that answer SUB with the message itself (Client.hs:processSUBResponse_): pass it on.
      const wait = this.emit({ type: "event", entityId: rcvId, msg: r });
      if (wait !== null) await wait;
      return null;
    }
    return this.subResult(r);
  }

  private subResult(r: BrokerMsg): Uint8Array | null {
    if (r.tag === "OK") return null;
    if (r.tag === "SOK") return r.serviceId;
    throw unexpected(r);
  }

  /** SUB for many queues in as few blocks as possible (Client.hs:subscribeSMPQueues). */
  subscribeMany(qs: readonly { rcvId: Uint8Array; key: AuthKey }[]): Promise<SubscribeResult[]> {
    return this.subMany(CMD.SUB, qs.map((q) => ({ entityId: q.rcvId, key: q.key })));
  }

  private async subMany(cmd: Command, qs: readonly { entityId: Uint8Array; key: AuthKey }[]): Promise<SubscribeResult[]> {
    const rs = await this.sendBatch(qs.map((q) => ({ entityId: q.entityId, command: cmd, key: q.key })));
    return rs.map((r, i) => {
      const entityId = qs[i]!.entityId;
      if (r instanceof SMPClientError) return { entityId, error: r };
      if (r.tag === "ERR") return { entityId, error: new SMPError(r.err) };
      try {
        return { entityId, serviceId: this.subResult(r) };
      } catch (e) {
        return { entityId, error: e as SMPClientError };
      }
    });
  }

  /** KEY: the recipient sets the sender's key (Client.hs:secureSMPQueue). */
  secureQueue(rcvId: Uint8Array, key: AuthKey, senderKey: PublicKey): Promise<void> {
    return this.ok(rcvId, { tag: "KEY", key: senderKey }, key);
  }

  /** RKEY: replaces the recipient keys of a contact queue. */
  setRecipientKeys(rcvId: Uint8Array, key: AuthKey, keys: readonly PublicKey[]): Promise<void> {
    return this.ok(rcvId, { tag: "RKEY", keys }, key);
  }

  /** GET: the next message (not subscribing), or null when the queue is empty. */
  async getMessage(rcvId: Uint8Array, key: AuthKey): Promise<Extract<BrokerMsg, { tag: "MSG" }> | null> {
    const r = await this.request(rcvId, CMD.GET, key);
    if (r.tag === "OK") return null;
    if (r.tag === "MSG") return r;
    throw unexpected(r);
  }

  /**
   * ACK: removes the delivered message; in a subscription the server answers with the next
   * message (returned here, not as an event), or OK (null).
   */
  async ack(rcvId: Uint8Array, key: AuthKey, msgId: Uint8Array): Promise<Extract<BrokerMsg, { tag: "MSG" }> | null> {
    const r = await this.request(rcvId, { tag: "ACK", msgId }, key);
    if (r.tag === "OK") return null;
    if (r.tag === "MSG") return r;
    throw unexpected(r);
  }

  /** OFF: suspends the queue (senders then get AUTH). */
  suspendQueue(rcvId: Uint8Array, key: AuthKey): Promise<void> {
    return this.ok(rcvId, CMD.OFF, key);
  }

  /** DEL: deletes the queue and its messages. */
  deleteQueue(rcvId: Uint8Array, key: AuthKey): Promise<void> {
    return this.ok(rcvId, CMD.DEL, key);
  }

  /** DEL for many queues, batched; null = deleted. */
  deleteQueues(qs: readonly { rcvId: Uint8Array; key: AuthKey }[]): Promise<(SMPError | SMPClientError | null)[]> {
    return this.okMany(CMD.DEL, qs.map((q) => ({ entityId: q.rcvId, key: q.key })));
  }

  /** QUE: the queue's state as the server sees it (Client.hs:getSMPQueueInfo). */
  async queueInfo(rcvId: Uint8Array, key: AuthKey): Promise<QueueInfo> {
    return (await this.expect("INFO", rcvId, CMD.QUE, key)).info;
  }

  /** Decrypts an MSG of this queue (ServerTests.hs:decryptMsgV3). */
  static decryptMessage(q: { readonly rcvDhSecret: Uint8Array }, msg: { readonly msgId: Uint8Array; readonly body: Uint8Array }): RcvMsgBody {
    return decryptMsgBody(q.rcvDhSecret, msg.msgId, msg.body);
  }

  // ------------------------------------------------------------------------------------------
  // Short links

  /** LSET: sets the queue's link id and data. */
  setQueueLink(rcvId: Uint8Array, key: AuthKey, linkId: Uint8Array, data: QueueLinkData): Promise<void> {
    return this.ok(rcvId, { tag: "LSET", linkId, data }, key);
  }

  /** LDEL: removes the queue's link data. */
  deleteQueueLink(rcvId: Uint8Array, key: AuthKey): Promise<void> {
    return this.ok(rcvId, CMD.LDEL, key);
  }

  /** LKEY: secures a messaging queue by its link id and reads its link (Client.hs:secureGetSMPQueueLink). */
  async secureGetQueueLink(linkId: Uint8Array, sndKey: AuthKey): Promise<{ senderId: Uint8Array; data: QueueLinkData }> {
    const r = await this.expect("LNK", linkId, { tag: "LKEY", key: authPublicKey(sndKey) }, sndKey);
    return { senderId: r.senderId, data: r.data };
  }

  /** LGET: reads a contact queue's link (unauthorized). */
  async getQueueLink(linkId: Uint8Array): Promise<{ senderId: Uint8Array; data: QueueLinkData }> {
    const r = await this.expect("LNK", linkId, CMD.LGET, null);
    return { senderId: r.senderId, data: r.data };
  }

  // ------------------------------------------------------------------------------------------
  // Sender

  /** SKEY: the sender secures a messaging queue with its own key (Client.hs:secureSndSMPQueue). */
  secureBySender(sndId: Uint8Array, sndKey: AuthKey): Promise<void> {
    return this.ok(sndId, { tag: "SKEY", key: authPublicKey(sndKey) }, sndKey);
  }

  /** SEND: unauthorized (key null) until the queue is secured, then with the sender key. */
  sendMessage(sndId: Uint8Array, body: Uint8Array, opts: { readonly key?: AuthKey | null; readonly notification?: boolean } = {}): Promise<void> {
    const flags: MsgFlags = { notification: opts.notification ?? false };
    return this.ok(sndId, { tag: "SEND", flags, body }, opts.key ?? null);
  }

  // ------------------------------------------------------------------------------------------
  // Notifications

  /** NKEY: creates (or replaces) the queue's notifier; keys are generated unless given. */
  async enableNotifications(
    rcvId: Uint8Array,
    key: AuthKey,
    keys: { readonly notifierKey?: AuthKey; readonly dhKey?: DhPrivateKey } = {},
  ): Promise<NotifierCreds> {
    const notifierKey = keys.notifierKey ?? generateAuthKey("ed25519");
    const rcvNtfDhKey = keys.dhKey ?? DhPrivateKey.generate();
    const r = await this.expect("NID", rcvId, { tag: "NKEY", notifierKey: authPublicKey(notifierKey), dhKey: dhPublicKey(rcvNtfDhKey) }, key);
    return {
      notifierId: r.notifierId,
      notifierKey,
      rcvNtfDhKey,
      srvNtfDhKey: r.dhKey,
      rcvNtfDhSecret: x25519(r.dhKey.raw, rcvNtfDhKey),
    };
  }

  /** NDEL: removes the queue's notifier. */
  disableNotifications(rcvId: Uint8Array, key: AuthKey): Promise<void> {
    return this.ok(rcvId, CMD.NDEL, key);
  }

  /** NSUB: subscribes to a notifier's NMSG events; resolves with the associated service or null. */
  async subscribeNotifications(notifierId: Uint8Array, key: AuthKey): Promise<Uint8Array | null> {
    return this.subResult(await this.request(notifierId, CMD.NSUB, key));
  }

  subscribeNotificationsMany(qs: readonly { notifierId: Uint8Array; key: AuthKey }[]): Promise<SubscribeResult[]> {
    return this.subMany(CMD.NSUB, qs.map((q) => ({ entityId: q.notifierId, key: q.key })));
  }

  /** Decrypts NMSG metadata with the notifier's rcvNtfDhSecret. */
  static decryptNotification(n: { readonly rcvNtfDhSecret: Uint8Array }, msg: { readonly nonce: Uint8Array; readonly encMeta: Uint8Array }): NMsgMeta {
    return decryptNMsgMeta(n.rcvNtfDhSecret, msg.nonce, msg.encMeta);
  }

  // ------------------------------------------------------------------------------------------
  // Services

  private requireService(): { serviceId: Uint8Array; key: SignPrivateKey } {
    const serviceId = this.serviceId;
    if (serviceId === null || this.serviceSessionKey === null) throw new SMPClientError("unsupported", "not a service session");
    return { serviceId, key: this.serviceSessionKey };
  }

  /** SUBS: subscribes every queue associated with this service (Client.hs:subscribeService). */
  async subscribeService(count: number, idsHash: Uint8Array): Promise<{ count: number; idsHash: Uint8Array }> {
    const s = this.requireService();
    const r = await this.expect("SOKS", s.serviceId, { tag: "SUBS", count, idsHash }, s.key);
    return { count: r.count, idsHash: r.idsHash };
  }

  /** NSUBS: the notifier-service counterpart of SUBS. */
  async subscribeNtfService(count: number, idsHash: Uint8Array): Promise<{ count: number; idsHash: Uint8Array }> {
    const s = this.requireService();
    const r = await this.expect("SOKS", s.serviceId, { tag: "NSUBS", count, idsHash }, s.key);
    return { count: r.count, idsHash: r.idsHash };
  }

  // ------------------------------------------------------------------------------------------
  // Misc

  /** PING → PONG. */
  async ping(): Promise<void> {
    await this.expect("PONG", EMPTY, CMD.PING, null);
  }

  /** RSLV (v20): the NameRecord JSON the server resolved. */
  async resolveName(name: string): Promise<Uint8Array> {
    this.requireVersion(namesSMPVersion, "RSLV");
    return (await this.expect("RNAME", EMPTY, { tag: "RSLV", name }, null)).json;
  }

  // ------------------------------------------------------------------------------------------
  // Proxy: client side

  /** PRXY: asks this router to connect to `relay` and checks the relay's identity from PKEY. */
  async connectProxiedRelay(relay: SMPServer, basicAuth: BasicAuth | null = null, opts?: SendOptions & { now?: number }): Promise<ProxiedRelay> {
    this.requireVersion(sendingProxySMPVersion, "PRXY");
    const r = await this.expect("PKEY", EMPTY, { tag: "PRXY", server: relay, basicAuth }, null, opts);
    return proxiedRelayFromPKEY(relay.keyHash, r.sessionId, r.versionRange, r.certKey, basicAuth, opts?.now);
  }

  /**
   * PFWD: sends `command` to the relay through this proxy (Client.hs:proxySMPCommand). Resolves
   * with the relay's answer; throws SMPError for the relay's ERR and ProxyClientError for errors
   * between this client and the proxy.
   */
  async proxyCommand(
    relay: ProxiedRelay,
    key: AuthKey | null,
    entityId: Uint8Array,
    command: Command,
    opts: ProxiedCommandOptions & { timeoutMs?: number } = {},
  ): Promise<BrokerMsg> {
    const corrId = opts.corrId ?? randomCorrId();
    const pc = buildProxiedCommand(this.params, relay, key, entityId, command, corrId, opts.cmdKey);
    let r: BrokerMsg;
    try {
      r = await this.sendCommand(relay.sessionId, pc.cmd, null, { corrId, timeoutMs: opts.timeoutMs });
    } catch (e) {
      if (e instanceof SMPClientError && e.kind === "unexpected") throw new ProxyClientError("UNEXPECTED", null, e.response);
      if (e instanceof SMPClientError && e.kind === "bad-response") throw new ProxyClientError("SYNTAX", e.responseError);
      throw e;
    }
    if (r.tag === "ERR") throw new ProxyClientError("PROTOCOL", r.err);
    if (r.tag !== "PRES") throw new ProxyClientError("UNEXPECTED", null, r);
    return openProxiedResponse(pc, r.encResponse);
  }

  // ------------------------------------------------------------------------------------------
  // Proxy: router side (this client is a router's connection to the destination)

  /**
   * RFWD: forwards a client's PFWD to the destination router over this (proxyServer) connection
   * and returns the encrypted response to pass back in PRES (Client.hs:forwardSMPTransmission).
   */
  async forwardTransmission(
    fwd: { fwdCorrId: Uint8Array; fwdVersion: Version; fwdKey: PublicKey; encTransmission: Uint8Array },
    opts: SendOptions = {},
  ): Promise<Uint8Array> {
    const sessSecret = (this.handle.auth as ClientAuth | null)?.sessSecret ?? null;
    if (sessSecret === null) throw new SMPClientError("no-server-auth", "RFWD needs a session secret with the destination");
    const nonce = opts.corrId ?? randomCorrId();
    const cmd = buildForward(sessSecret, nonce, fwd);
    const r = await this.expect("RRES", EMPTY, cmd, null, { corrId: nonce, timeoutMs: opts.timeoutMs });
    return openForwardResponse(sessSecret, nonce, r.encFwdResponse);
  }
}
