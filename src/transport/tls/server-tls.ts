/**
 * The TLS listener of an SMP port (Transport/Server.hs:runTransportServerState_ with the SMP
 * server's TransportServerConfig): Bun's raw TCP listener, node:tls per connection (see
 * connection.ts), connections handed over only when fully established.
 *
 * Bun.listen rather than node:net: it is the native socket API node:net itself is built on in
 * Bun, with one shared handler object instead of per-socket EventEmitters.
 */
import { SERVER_ALPN, selectAlpn } from "./alpn.ts";
import { tlsConnHandlers, type SocketSink } from "./bun-handlers.ts";
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
  /** Why a connection never got established (for `log_tls_errors`); carries no peer address. */
  onHandshakeError?: (reason: string) => void;
  /** The port is shared with the web site: ClientHellos with SNI are handed over here (sni-split.ts). */
  sniHandoff?: SniHandoff;
}

export interface TlsServer {
  readonly hostname: string;
  readonly port: number;
  /** Stop listening; with closeActive also terminate open connections. */
  stop(closeActive?: boolean): void;
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
  const listener = Bun.listen<SocketSink>({
    hostname: config.hostname,
    port: config.port,
    socket: {
      ...tlsConnHandlers,
      open(socket) {
        socket.data = sniHandoff === undefined ? new TlsConn(setup) : new HelloSniffer(setup, sniHandoff);
        tlsConnHandlers.open!(socket);
      },
    },
  });
  return {
    hostname: listener.hostname,
    port: listener.port,
    stop: (closeActive = false) => listener.stop(closeActive),
  };
}
