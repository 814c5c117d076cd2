/**
 * Client side (Transport/Client.hs:runTLSTransportClient / mkTLSClientParams): TLS over a Bun TCP
 * connection, no SNI (SMP clients set useSNI = False), ALPN ["smp/1"] by default, never resuming.
 * The session id is our own Finished (T.getFinished). The server chain is checked by the caller's
 * hook — for SMP `validateServerChain(keyHash, chain)`; `keyHash` is the shortcut for that.
 *
 * Unlike the reference, the check runs after the TLS handshake (node:tls has no hook inside it):
 * a rejected server gets our Finished but never a byte of application data.
 */
import { SMP_ALPN } from "./alpn.ts";
import { tlsConnHandlers, type SocketSink } from "./bun-handlers.ts";
import { validateServerChain } from "./chain-validation.ts";
import { TlsConn, type TlsConnection } from "./connection.ts";
import { MAX_HANDSHAKE_BYTES, TLS_SETUP_TIMEOUT_MS, clientSecureContext, type PemCredentials } from "./params.ts";

export type { TlsConnection } from "./connection.ts";

export class TlsConnectError extends Error {
  override name = "TlsConnectError";
}

export interface TlsClientConfig {
  host: string;
  port: number;
  /** Offered ALPN (default ["smp/1"]); [] = no ALPN extension. */
  alpn?: readonly string[];
  /** Service client certificate chain (leaf PEM + further chain PEM) and key. */
  clientCredentials?: PemCredentials;
  /** Server identity: SHA-256 of its CA certificate (the address fingerprint). */
  keyHash?: Uint8Array;
  /** Own check of the server chain (DER, leaf first); return an error message to reject. */
  checkServerChain?: (chain: Uint8Array[]) => string | null;
  timeoutMs?: number;
  /** Highest TLS version to offer (tests of the TLS 1.2 path); default TLS 1.3. */
  maxVersion?: "TLSv1.2" | "TLSv1.3";
}

export function connectTLS(config: TlsClientConfig): Promise<TlsConnection> {
  return new Promise((resolve, reject) => {
    const alpn = config.alpn ?? SMP_ALPN;
    const conn = new TlsConn({
      side: "client",
      secureContext: clientSecureContext(config.clientCredentials, config.maxVersion),
      timeoutMs: config.timeoutMs ?? TLS_SETUP_TIMEOUT_MS,
      maxHandshakeBytes: MAX_HANDSHAKE_BYTES,
      alpnProtocols: alpn.length > 0 ? [...alpn] : undefined,
      checkPeerChain: (chain) => {
        if (config.keyHash !== undefined) {
          const r = validateServerChain(config.keyHash, chain);
          if (!r.ok) return r.error;
        }
        return config.checkServerChain?.(chain) ?? null;
      },
      ready: (c) => resolve(c),
      failed: (reason) => reject(new TlsConnectError(reason)),
    });
    Bun.connect<SocketSink>({ hostname: config.host, port: config.port, data: conn, socket: tlsConnHandlers }).catch((e: Error) =>
      conn.socketClosed(`connect: ${e.message}`),
    );
  });
}
