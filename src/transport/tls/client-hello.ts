/**
 * Reads enough of a TLS ClientHello to tell whether it carries SNI (RFC 6066 server_name), the
 * one bit a port shared by SMP and the web site decides on (Server.hs:smpServer.runServer: a
 * client that sends SNI gets the HTTPS site, one that does not gets SMP; SMP clients never send
 * SNI, Client.hs:defaultSMPClientConfig useSNI = False).
 *
 * The hello is gathered from handshake records as they arrive (it may span records and TCP
 * segments); anything that is not a well-formed hello is "no SNI", so the SMP TLS stack sees the
 * same bytes it always did and rejects them itself.
 */

const HEADER = 5;
const CT_HANDSHAKE = 22;
const HS_CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
const NAME_TYPE_HOST = 0;
/** A ClientHello is a few KB at most (post-quantum key shares included); beyond this it is not one we serve. */
export const MAX_CLIENT_HELLO = 32 * 1024;

export type HelloVerdict = "more" | "sni" | "no-sni";

/**
 * Looks at the bytes received so far: "more" while the hello is incomplete, then whether it
 * names a server. Pure, so the caller can keep its buffer as it likes.
 */
export function sniVerdict(bytes: Uint8Array): HelloVerdict {
  // Reassemble the handshake layer from the leading handshake records.
  const hs: Uint8Array[] = [];
  let hsLen = 0;
  let at = 0;
  let helloLen = -1;
  for (;;) {
    if (bytes.length - at < HEADER) return "more";
    if (bytes[at] !== CT_HANDSHAKE || bytes[at + 1] !== 3) return "no-sni";
    const len = (bytes[at + 3] << 8) | bytes[at + 4];
    if (len === 0) return "no-sni";
    if (bytes.length - at - HEADER < len) return "more";
    hs.push(bytes.subarray(at + HEADER, at + HEADER + len));
    hsLen += len;
    at += HEADER + len;
    if (helloLen < 0 && hsLen >= 4) {
      const head = concat(hs, 4);
      if (head[0] !== HS_CLIENT_HELLO) return "no-sni";
      helloLen = (head[1] << 16) | (head[2] << 8) | head[3];
      if (helloLen + 4 > MAX_CLIENT_HELLO) return "no-sni";
    }
    if (helloLen >= 0 && hsLen >= helloLen + 4) break;
  }
  const hello = concat(hs, helloLen + 4).subarray(4);
  return helloHasSni(hello) ? "sni" : "no-sni";
}

function concat(parts: Uint8Array[], n: number): Uint8Array {
  if (parts[0].length >= n) return parts[0].subarray(0, n);
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    const take = Math.min(p.length, n - at);
    out.set(p.subarray(0, take), at);
    at += take;
    if (at === n) break;
  }
  return out;
}

/** RFC 8446 §4.1.2 ClientHello body; true when a server_name extension names a host. */
export function helloHasSni(b: Uint8Array): boolean {
  let at = 2 + 32; // legacy_version, random
  const skip = (lenBytes: number): boolean => {
    if (at + lenBytes > b.length) return false;
    let n = 0;
    for (let i = 0; i < lenBytes; i++) n = (n << 8) | b[at + i];
    at += lenBytes + n;
    return at <= b.length;
  };
  if (!skip(1) || !skip(2) || !skip(1)) return false; // session id, cipher suites, compression
  if (at + 2 > b.length) return false; // no extensions
  const end = at + 2 + ((b[at] << 8) | b[at + 1]);
  at += 2;
  if (end > b.length) return false;
  while (at + 4 <= end) {
    const type = (b[at] << 8) | b[at + 1];
    const len = (b[at + 2] << 8) | b[at + 3];
    const body = at + 4;
    at = body + len;
    if (at > end) return false;
    if (type !== EXT_SERVER_NAME) continue;
    // ServerNameList: u16 length, then (u8 name_type, u16 length, name)*
    if (len < 2) return false;
    const listEnd = body + 2 + ((b[body] << 8) | b[body + 1]);
    if (listEnd > at) return false;
    for (let p = body + 2; p + 3 <= listEnd; ) {
      const nameLen = (b[p + 1] << 8) | b[p + 2];
      if (b[p] === NAME_TYPE_HOST && nameLen > 0 && p + 3 + nameLen <= listEnd) return true;
      p += 3 + nameLen;
    }
    return false;
  }
  return false;
}
