/**
 * The proxy's client of destination routers (Client/Agent.hs:SMPClientAgent as the server
 * configures it in Server/Main.hs:smpAgentCfg): one connection per destination address, shared
 * by every client of this proxy; a failed connection's error is answered for a while before the
 * next attempt; each connection is also found by its session id, which PFWD names.
 *
 * Connections are made as a router's proxy connection: hello key sent (RFWD needs the session
 * secret), `proxyServer` flag (no block encryption), versions 6..20, ALPN smp/1, no SNI.
 */
import { sha256 } from "../../crypto/digest.ts";
import { base64 } from "../../encoding/base64.ts";
import { randomNonce } from "../../crypto/nonce.ts";
import type { ErrorType } from "../../protocol/errors.ts";
import { isOnionHost, type SMPServer } from "../../protocol/server-address.ts";
import { supportedProxyClientSMPRelayVRange } from "../../protocol/versions.ts";
import { tlsStream } from "../../transport/tls-stream.ts";
import { SMPClient, type OpenStream } from "../../client/client.ts";
import { log } from "../../util/log.ts";
import type { ProxyOptions } from "../options.ts";
import { PROXY_HOST, PROXY_NETWORK, PROXY_TIMEOUT, proxyError } from "./errors.ts";
import { connectTLSViaSocks, type SocksCredentials } from "./socks.ts";
import { ProxyStats } from "./stats.ts";

/** Reference background timeouts (Client.hs:defaultNetworkConfig) and persistErrorInterval. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 45_000;
export const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;
export const DEFAULT_PERSIST_ERROR_MS = 30_000;
/** Cached errors are swept once the map holds more entries than this. */
const SWEEP_ABOVE = 1024;

/** Opens a connection to a destination router; resolves with the client or the error to answer. */
export type RelayConnector = (server: SMPServer) => Promise<SMPClient | ErrorType>;

type Entry =
  | { readonly state: "connecting"; readonly result: Promise<SMPClient | ErrorType> }
  | { readonly state: "connected"; readonly client: SMPClient }
  | { readonly state: "failed"; readonly error: ErrorType; readonly until: number };

/** Map key of a destination: the whole address, as the reference's map compares SMPServer. */
function serverKey(s: SMPServer): string {
  return `${s.hosts.join(",")}|${s.port}|${base64(s.keyHash)}`;
}

function sessionKey(sessionId: Uint8Array): string {
  return base64(sessionId);
}

/** Client.hs:chooseTransportHost with the server's host_mode ("onion" = HMOnionViaSocks). */
export function chooseRelayHost(o: ProxyOptions, hosts: readonly string[]): string | null {
  const onion = hosts.find(isOnionHost);
  const pub = hosts.find((h) => !isOnionHost(h));
  const pick = o.hostMode === "onion" && o.socksProxy !== undefined ? onion : pub;
  if (pick !== undefined) return pick;
  return o.requiredHostMode === true ? null : hosts[0]!;
}

export class ProxyAgent {
  /** The RFWD corrId (= nonce of the proxy↔relay layer); fixed in tests reproducing reference bytes. */
  nonce: () => Uint8Array = randomNonce;
  private readonly relays = new Map<string, Entry>();
  private readonly sessions = new Map<string, SMPClient>();
  private readonly connector: RelayConnector;
  private readonly socksUser: SocksCredentials;
  private closed = false;
  private onionRefusalLogged = false;

  constructor(
    private readonly options: ProxyOptions,
    connector?: RelayConnector,
    /** The server's counters (ServerStats.proxy), so they outlive the agent and survive restarts. */
    readonly stats: ProxyStats = new ProxyStats(),
  ) {
    this.connector = connector ?? ((s) => this.open(s));
    // SocksIsolateByAuth with the reference's session mode: one user name per agent lifetime.
    this.socksUser = { username: base64(sha256(new TextEncoder().encode(`1:${new Date().toISOString()}`))), password: "" };
  }

  get connectTimeoutMs(): number {
    return this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  }

  /**
   * Agent.hs:getConnectedSMPServerClient: the connection if it is up, the cached error while it
   * is fresh, null when the caller must wait for (or start) a connection.
   */
  connected(server: SMPServer): SMPClient | ErrorType | null {
    const key = serverKey(server);
    const e = this.relays.get(key);
    if (e === undefined || e.state === "connecting") return null;
    if (e.state === "connected") return e.client.isOpen ? e.client : null;
    if (Date.now() < e.until) return e.error;
    this.relays.delete(key);
    return null;
  }

  /** Agent.hs:getSMPServerClient'': joins a connection in progress or starts one. */
  async connect(server: SMPServer): Promise<SMPClient | ErrorType> {
    if (this.closed) return PROXY_NETWORK;
    const key = serverKey(server);
    const e = this.relays.get(key);
    if (e !== undefined) {
      if (e.state === "connected" && e.client.isOpen) return e.client;
      if (e.state === "failed" && Date.now() < e.until) return e.error;
      // Someone else's attempt: wait for it, as long as a connect may take (waitForSMPClient).
      if (e.state === "connecting") return this.waitFor(e.result);
      this.relays.delete(key);
    }
    const result = this.start(key, server);
    this.relays.set(key, { state: "connecting", result });
    return result;
  }

  private async start(key: string, server: SMPServer): Promise<SMPClient | ErrorType> {
    let r: SMPClient | ErrorType;
    try {
      r = await this.connector(server);
    } catch (e) {
      r = proxyError(e);
    }
    if (this.closed) {
      if (r instanceof SMPClient) r.close();
      return PROXY_NETWORK;
    }
    if (!(r instanceof SMPClient)) {
      log.debug(`proxy: destination connection failed`);
      this.relays.set(key, { state: "failed", error: r, until: Date.now() + (this.options.persistErrorMs ?? DEFAULT_PERSIST_ERROR_MS) });
      if (this.relays.size > SWEEP_ABOVE) this.sweep();
      return r;
    }
    const client = r;
    const sid = sessionKey(client.sessionId);
    this.relays.set(key, { state: "connected", client });
    this.sessions.set(sid, client);
    void client.closed.then(() => {
      const cur = this.relays.get(key);
      if (cur !== undefined && cur.state === "connected" && cur.client === client) this.relays.delete(key);
      if (this.sessions.get(sid) === client) this.sessions.delete(sid);
    });
    return client;
  }

  /** Expired errors of destinations nobody asked for again (clients may name any address). */
  private sweep(): void {
    const now = Date.now();
    for (const [k, e] of this.relays) if (e.state === "failed" && now >= e.until) this.relays.delete(k);
  }

  private async waitFor(p: Promise<SMPClient | ErrorType>): Promise<SMPClient | ErrorType> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<ErrorType>((resolve) => {
      timer = setTimeout(() => resolve(PROXY_TIMEOUT), this.connectTimeoutMs);
    });
    try {
      return await Promise.race([p, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Agent.hs:lookupSMPServerClient: the connection whose session id a PFWD names. */
  lookup(sessionId: Uint8Array): SMPClient | undefined {
    const c = this.sessions.get(sessionKey(sessionId));
    return c !== undefined && c.isOpen ? c : undefined;
  }

  /** The default connector: host choice, optional SOCKS5, then the SMP client handshake. */
  private async open(server: SMPServer): Promise<SMPClient | ErrorType> {
    const o = this.options;
    const host = chooseRelayHost(o, server.hosts);
    if (host === null) return PROXY_HOST;
    const socks = o.socksProxy;
    const viaSocks = socks !== undefined && (o.socksMode === "always" || isOnionHost(host));
    if (!viaSocks && isOnionHost(host)) {
      // Without SOCKS a .onion name would go to the system's DNS resolver (the reference does
      // that: simplexmq#1518), telling it which onion service this server is asked to reach.
      // Answered as the unreachable host it is instead.
      if (!this.onionRefusalLogged) {
        this.onionRefusalLogged = true;
        log.warn("proxy: a destination reachable only through .onion was asked for, and [PROXY] socks_proxy is not set: answered PROXY BROKER NETWORK, never resolved through DNS (logged once)");
      }
      return PROXY_NETWORK;
    }
    let openStream: OpenStream | undefined;
    if (viaSocks) {
      const credentials = socks.auth === undefined ? this.socksUser : socks.auth;
      openStream = async (h, port, ctx) =>
        tlsStream(
          await connectTLSViaSocks({ proxy: socks, credentials, host: h, port, keyHash: ctx.keyHash, alpn: ctx.alpn, timeoutMs: ctx.timeoutMs }),
        );
    }
    return SMPClient.connect({
      server: { hosts: [host], port: server.port, keyHash: server.keyHash },
      basicAuth: null,
      versionRange: supportedProxyClientSMPRelayVRange,
      agreeSecret: true,
      proxyServer: true,
      connectTimeoutMs: this.connectTimeoutMs,
      timeoutMs: o.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
      // A destination sends nothing but responses to this connection; late ones are dropped.
      onEvent: () => {},
      ...(openStream !== undefined && { openStream }),
    });
  }

  /** Agent.hs:closeSMPClientAgent: every destination connection is closed. */
  close(): void {
    this.closed = true;
    for (const e of this.relays.values()) if (e.state === "connected") e.client.close();
    this.relays.clear();
    this.sessions.clear();
  }
}
