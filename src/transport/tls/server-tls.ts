/**
 * The TLS listener of an SMP port (Transport/Server.hs:runTransportServerState_ with the SMP
 * server's TransportServerConfig): Bun's raw TCP listener, node:tls per connection (see
 * connection.ts), connections handed over only when fully established.
 *
 * Bun.listen rather than node:net: it is the native socket API node:net itself is built on in
 * Bun, with one shared handler object instead of per-socket EventEmitters.
 */
import type { Socket, SocketHandler } from "bun";
import type { Admission, Refusal } from "../admission.ts";
import { SERVER_ALPN, selectAlpn } from "./alpn.ts";
import { DISCARD, tlsConnHandlers, type SocketSink } from "./bun-handlers.ts";
import { validateClientChain } from "./chain-validation.ts";
import { TlsConn, type TlsConnection, type TlsSetup } from "./connection.ts";
import { MAX_HANDSHAKE_BYTES, TLS_SETUP_TIMEOUT_MS, serverSecureContext, type PemCredentials } from "./params.ts";
import { HelloSniffer, type SniHandoff } from "./sni-split.ts";

export type { TlsConnection } from "./connection.ts";
export type { SniHandoff } from "./sni-split.ts";

export interface TlsServerConfig {
  hostname: string;
  /** 0 = any free port (tests). */
  port: number;
  /** server.crt (certPem), ca.crt (chainPem), server.key. */
  credentials: PemCredentials;
  /** Server ALPN list (default ["smp/1", "h2", "http/1.1"]); null = no ALPN negotiation. */
  alpn?: readonly string[] | null;
  /** Ask for an optional client certificate and validate it (default true, as the SMP server). */
  askClientCert?: boolean;
  tlsSetupTimeoutMs?: number;
  maxHandshakeBytes?: number;
  onConnection: (conn: TlsConnection) => void;
  /** Counts every accepted socket until it closes (shared by a server's listeners). */
  admission?: Admission;
  /** A socket closed at accept by `admission` (carries no peer address). */
  onRefused?: (why: Refusal) => void;
  /** Why a connection never got established (for `log_tls_errors`); carries no peer address. */
  onHandshakeError?: (reason: string) => void;
  /** The port is shared with the web site: ClientHellos with SNI are handed over here (sni-split.ts). */
  sniHandoff?: SniHandoff;
  /** SO_REUSEPORT: other processes (nodes of the same server) listen on the same port. */
  reusePort?: boolean;
}

export interface TlsServer {
  readonly hostname: string;
  readonly port: number;
  /** Stop listening; with closeActive also terminate open connections. */
  stop(closeActive?: boolean): void;
  /**
   * Stop / start accepting, open connections kept: while file descriptors are exhausted, an
   * open listening socket would make Bun retry the failing accept() in a busy loop.
   */
  pauseAccepting(): void;
  /** Throws (as Bun.listen does) if the port cannot be bound again. */
  resumeAccepting(): void;
}

export function listenTLS(config: TlsServerConfig): TlsServer {
  const serverAlpn = config.alpn === undefined ? SERVER_ALPN : config.alpn;
  const askClientCert = config.askClientCert ?? true;
  const setup: TlsSetup = {
    side: "server",
    secureContext: serverSecureContext(config.credentials),
    timeoutMs: config.tlsSetupTimeoutMs ?? TLS_SETUP_TIMEOUT_MS,
    maxHandshakeBytes: config.maxHandshakeBytes ?? MAX_HANDSHAKE_BYTES,
    requestCert: askClientCert,
    alpnCallback: serverAlpn === null ? undefined : (offered) => selectAlpn(serverAlpn, offered),
    checkPeerChain: (chain) => {
      if (!askClientCert) return null;
      const r = validateClientChain(chain);
      return r.ok ? null : r.error;
    },
    ready: (conn) => config.onConnection(conn),
    failed: (reason) => config.onHandshakeError?.(reason),
  };
  const sniHandoff = config.sniHandoff;
  const admission = config.admission;
  /**
   * Open sockets, whichever listening socket accepted them (accepting may pause and resume), and
   * the key `admission` counted each under. Kept here, not in `socket.data`: on a port shared
   * with the web site the socket changes hands.
   */
  const open = new Map<Socket<SocketSink>, string | null>();
  const closed = (socket: Socket<SocketSink>) => {
    const key = open.get(socket); // string | null when counted
    if (key === undefined) return;
    open.delete(socket);
    admission?.release(key);
  };
  const handlers: SocketHandler<SocketSink> = {
    ...tlsConnHandlers,
    open(socket) {
      let key: string | null = null;
      if (admission !== undefined) {
        const r = admission.admit(socket.remoteAddress);
        if (typeof r === "string") {
          socket.data = DISCARD;
          socket.terminate();
          config.onRefused?.(r);
          return;
        }
        key = r.key;
      }
      open.set(socket, key);
      socket.data = sniHandoff === undefined ? new TlsConn(setup) : new HelloSniffer(setup, sniHandoff);
      tlsConnHandlers.open!(socket);
    },
    close(socket, error) {
      closed(socket);
      tlsConnHandlers.close!(socket, error);
    },
    error(socket, error) {
      closed(socket);
      tlsConnHandlers.error!(socket, error);
    },
  };
  const listen = (port: number) => Bun.listen<SocketSink>({ hostname: config.hostname, port, socket: handlers, ...(config.reusePort === true && { reusePort: true }) });
  let listener: ReturnType<typeof listen> | null = listen(config.port);
  const hostname = listener.hostname;
  const port = listener.port;
  return {
    hostname,
    port,
    stop: (closeActive = false) => {
      listener?.stop(false);
      listener = null;
      if (closeActive) for (const s of [...open.keys()]) s.terminate();
    },
    pauseAccepting: () => {
      listener?.stop(false);
      listener = null;
    },
    resumeAccepting: () => {
      if (listener === null) listener = listen(port);
    },
  };
}
