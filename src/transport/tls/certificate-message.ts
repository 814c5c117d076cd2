/**
 * The TLS Certificate handshake message body (RFC 5246 §7.4.2, RFC 8446 §4.4.2) → DER list,
 * in the order the peer sent it (leaf first). The reference validates exactly this list
 * (Transport/Shared.hs:chainIdCaCerts), so we read it off the wire rather than ask the TLS stack,
 * which may reorder or complete chains.
 */

function u24(b: Uint8Array, o: number): number {
  return (b[o] << 16) | (b[o + 1] << 8) | b[o + 2];
}

/** null when the body is malformed. */
export function parseCertificateMessage(body: Uint8Array, tls13: boolean): Uint8Array[] | null {
  let o = 0;
  if (tls13) {
    if (body.length < 1) return null;
    o = 1 + body[0]; // certificate_request_context
  }
  if (o + 3 > body.length) return null;
  const listEnd = o + 3 + u24(body, o);
  if (listEnd !== body.length) return null;
  o += 3;
  const chain: Uint8Array[] = [];
  while (o < listEnd) {
    if (o + 3 > listEnd) return null;
    const len = u24(body, o);
    o += 3;
    if (len === 0 || o + len > listEnd) return null;
    chain.push(body.slice(o, o + len));
    o += len;
    if (tls13) {
      if (o + 2 > listEnd) return null;
      o += 2 + ((body[o] << 8) | body[o + 1]); // per-certificate extensions
      if (o > listEnd) return null;
    }
  }
  return chain;
}
