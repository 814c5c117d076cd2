/**
 * Everything the running server needs, already validated. The CLI builds this from
 * smp-server.toml (src/cli/config) and the certificate files; tests build it directly.
 */
import type { NamesConfig } from "./names/config.ts";

export interface TransportOptions {
  /** Listener ports, each a TLS listener (INI `[TRANSPORT] port`, default 5223,443). */
  ports: number[];
  /** Bind address; "::" listens on IPv6 and IPv4. */
  bindHost: string;
  /** Public host names printed in the server address (INI `[TRANSPORT] host`). */
  host: string;
  logTlsErrors: boolean;
  /** Upper bound on simultaneous client connections (ours; the reference has none). */
  maxConnections: number;
}

export interface Credentials {
  /** DER of server.crt then ca.crt, as sent in the TLS chain and the server hello. */
  chainDer: Uint8Array[];
  /** PEM for the TLS stack. */
  certPem: string;
  caPem: string;
  keyPem: string;
  /** The online (server.crt) signing key, PKCS#8 DER, Ed25519. */
  serverKeyPkcs8: Uint8Array;
  /** SHA-256 of ca.crt DER: the server identity (`keyHash`). */
  fingerprint: Uint8Array;
}

export interface ServerOptions {
  transport: TransportOptions;
  credentials: Credentials;
  /** Directory holding the SQLite store. */
  dataDir: string;
  auth: {
    allowNewQueues: boolean;
    /** Basic auth for NEW and PRXY; undefined = none required. */
    createPassword?: Uint8Array;
  };
  store: {
    /** false ([STORE_LOG] enable = off): nothing survives a restart (an in-memory database). */
    persistent: boolean;
    expireMessagesDays: number;
    expireMessagesOnStart: boolean;
    expireMessagesOnSend: boolean;
    expireNtfsHours: number;
    /** Messages per queue before ERR QUOTA (reference: 128, not configurable there). */
    msgQueueQuota: number;
  };
  inactiveClients?: { ttlSeconds: number; checkIntervalSeconds: number };
  /** SMP handshake timeout (reference 120 s) and TLS setup timeout (reference 60 s). */
  timeouts: { tlsSetupMs: number; handshakeMs: number };
  proxy: { enabled: boolean; clientConcurrency: number };
  /** The names role (RSLV); undefined = no resolver, RSLV answers ERR NAME NO_RESOLVER. */
  names?: NamesConfig;
  logLevel: "trace" | "debug" | "info" | "note" | "warn" | "error";
}
