/**
 * TLS parameters of SMP ports (Transport.hs:defaultSupportedParams) mapped onto Bun's TLS
 * (BoringSSL via node:tls), and the secure contexts built from them.
 *
 * Differences forced by BoringSSL, all invisible to SimpleX clients (which offer only
 * TLS13_CHACHA20POLY1305_SHA256 / ECDHE_ECDSA_CHACHA20POLY1305 and X25519):
 * - TLS 1.3 cipher suites cannot be restricted: a client that prefers AES-GCM gets it (with
 *   AES-256-GCM-SHA384 the session id is 48 bytes, as the tls-unique of that suite).
 * - X448 and Ed448 do not exist in BoringSSL: groups = X25519, signature scheme = Ed25519.
 * - Renegotiation: a BoringSSL server never renegotiates, and it always sends the
 *   renegotiation_info extension, so OpenSSL TLS 1.2 clients connect without
 *   legacy_server_connect (errata 5).
 */
import { constants } from "node:crypto";
import { createSecureContext, type SecureContext } from "node:tls";

/** Transport/Server.hs:mkTransportServerConfig `tlsSetupTimeout = 60000000` µs. */
export const TLS_SETUP_TIMEOUT_MS = 60_000;

/** Bytes accepted from a peer before its handshake completes (ours: the reference has no cap). */
export const MAX_HANDSHAKE_BYTES = 256 * 1024;

export const TLS_CIPHERS = "TLS_CHACHA20_POLY1305_SHA256:ECDHE-ECDSA-CHACHA20-POLY1305";
export const TLS_GROUPS = "X25519";
export const TLS_SIGALGS = "ed25519";

export interface PemCredentials {
  /** Leaf certificate PEM (server.crt, or a service client's certificate). */
  certPem: string;
  /** Further chain PEM (ca.crt for the server), sent after the leaf. */
  chainPem?: string;
  keyPem: string;
}

function context(credentials: PemCredentials | undefined, maxVersion: "TLSv1.2" | "TLSv1.3"): SecureContext {
  return createSecureContext({
    cert: credentials ? credentials.certPem.trimEnd() + "\n" + (credentials.chainPem ?? "") : undefined,
    key: credentials?.keyPem,
    ciphers: TLS_CIPHERS,
    ecdhCurve: TLS_GROUPS,
    sigalgs: TLS_SIGALGS,
    minVersion: "TLSv1.2",
    maxVersion,
    // The reference never resumes (errata 4): no tickets, and no session cache is consulted
    // because neither side ever offers a saved session.
    secureOptions: constants.SSL_OP_NO_TICKET,
  });
}

/** Server context: chain [server.crt, ca.crt] (Transport/Server.hs:loadServerCredential). */
export function serverSecureContext(credentials: PemCredentials): SecureContext {
  return context(credentials, "TLSv1.3");
}

/** Client context, with an optional client (service) certificate chain. */
export function clientSecureContext(credentials?: PemCredentials, maxVersion: "TLSv1.2" | "TLSv1.3" = "TLSv1.3"): SecureContext {
  return context(credentials, maxVersion);
}
