/**
 * The default stream source of the client: a TLS connection (transport/tls, no SNI, ALPN smp/1,
 * the server chain checked against the address key hash during connect) seen as the
 * TransportStream the SMP layers use (transport/tls-stream.ts).
 */
import { connectTLS } from "../transport/tls/client-tls.ts";
import { SMP_ALPN } from "../transport/tls/alpn.ts";
import type { PemCredentials } from "../transport/tls/params.ts";
import type { TransportStream } from "../transport/stream.ts";
import { tlsStream } from "../transport/tls-stream.ts";
import { encodePrivKey } from "../crypto/keys.ts";
import { toPem } from "../crypto/x509/certificate.ts";
import type { ServiceCredentials } from "../transport/client-handshake.ts";

export interface TlsStreamOptions {
  /** SHA-256 of the server's identity certificate: the chain is rejected during TLS setup otherwise. */
  readonly keyHash: Uint8Array;
  readonly alpn?: readonly string[];
  /** TLS client certificate (service clients). */
  readonly clientCredentials?: PemCredentials;
  readonly timeoutMs?: number;
}

export async function connectTLSStream(host: string, port: number, opts: TlsStreamOptions): Promise<TransportStream> {
  const conn = await connectTLS({
    host,
    port,
    alpn: opts.alpn ?? SMP_ALPN,
    keyHash: opts.keyHash,
    clientCredentials: opts.clientCredentials,
    timeoutMs: opts.timeoutMs,
  });
  return tlsStream(conn);
}

/** The TLS client credentials of a service: its chain and the leaf key as PEM. */
export function servicePemCredentials(s: ServiceCredentials): PemCredentials {
  const [leaf, ...rest] = s.certChain;
  if (leaf === undefined) throw new RangeError("service certificate chain is empty");
  return {
    certPem: toPem("CERTIFICATE", leaf),
    chainPem: rest.length > 0 ? rest.map((c) => toPem("CERTIFICATE", c)).join("") : undefined,
    keyPem: toPem("PRIVATE KEY", encodePrivKey(s.certSignKey.alg, s.certSignKey.raw)),
  };
}
