/**
 * SMP server addresses (Protocol.hs:ProtocolServer, BasicAuth, strEncodeServer, serverStrP;
 * Transport/Client.hs:TransportHost). Binary form (PRXY): `NonEmpty(short host) ‖ short(port) ‖ short(keyHash)`;
 * string form: `smp://<base64url keyHash>[:<basicAuth>]@<host>[,<host>…][:<port>]`.
 */
import { isIPv6 } from "node:net";
import { Reader, ParseError } from "../encoding/reader.ts";
import type { Writer } from "../encoding/writer.ts";
import { ascii, utf8 } from "../encoding/bytes.ts";
import { base64url, fromBase64url } from "../encoding/base64.ts";

export interface SMPServer {
  /** Host texts (IPv4, IPv6, `*.onion` or domain), 1..255 of them. */
  readonly hosts: readonly string[];
  /** Port as text; "" = the default port. */
  readonly port: string;
  /** SHA-256 fingerprint of the server's identity (CA) certificate. */
  readonly keyHash: Uint8Array;
}

/** Server password (create_password / proxy auth) as raw bytes. */
export type BasicAuth = Uint8Array;

/**
 * Protocol.hs:basicAuth: every byte printable and not a space, '@', ':' or '/'. Bytes are Latin-1 chars
 * to the reference, so 0xA1..0xFF count as printable except the soft hyphen 0xAD (a format char).
 */
export function isValidBasicAuth(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    const printable = (c > 0x20 && c < 0x7f) || (c > 0xa0 && c !== 0xad);
    if (!printable || c === 0x40 || c === 0x3a || c === 0x2f) return false;
  }
  return true;
}

export function encodeBasicAuth(w: Writer, a: BasicAuth): void {
  w.short(a);
}

export function parseBasicAuth(r: Reader): BasicAuth {
  const a = r.short();
  if (!isValidBasicAuth(a)) throw new ParseError("invalid character in BasicAuth");
  return a.slice();
}

// ---------------------------------------------------------------------------------------------
// Hosts (Transport/Client.hs:StrEncoding TransportHost)

const isDigit = (c: string) => c >= "0" && c <= "9";

/**
 * Parses one host at `s[i..]` the way `strP` chooses between IPv4, IPv6, onion and domain forms;
 * returns the host text and where it ends. Null if no form matches.
 */
function hostAt(s: string, i: number): { host: string; end: number } | null {
  // IPv4: three octets ≤ 255 followed by '.', then a decimal read as Word8 (wraps, as the reference does).
  let j = i;
  const octets: number[] = [];
  for (let k = 0; k < 4; k++) {
    const d0 = j;
    while (j < s.length && isDigit(s[j]!)) j++;
    if (j === d0) break;
    const n = Number(s.slice(d0, j));
    if (k < 3) {
      if (n > 255 || s[j] !== ".") break;
      j++;
      octets.push(n);
    } else {
      octets.push(n % 256);
    }
  }
  if (octets.length === 4) return { host: octets.join("."), end: j };
  // IPv6: "[...]" or a run of hex digits and ':'.
  if (s[i] === "[") {
    const close = s.indexOf("]", i + 1);
    if (close > i + 1) {
      const a = s.slice(i + 1, close);
      if (isIPv6(a)) return { host: a, end: close + 1 };
    }
  } else {
    j = i;
    while (j < s.length && /[0-9A-Fa-f:]/.test(s[j]!)) j++;
    if (j > i && isIPv6(s.slice(i, j))) return { host: s.slice(i, j), end: j };
  }
  // onion: [a-z0-9]* ".onion"
  j = i;
  while (j < s.length && /[a-z0-9]/.test(s[j]!)) j++;
  if (s.startsWith(".onion", j)) return { host: s.slice(i, j + 6), end: j + 6 };
  // domain: anything but ":#,;/ \n\r\t[]", not ending in ".onion"
  j = i;
  while (j < s.length && !":#,;/ \n\r\t[]".includes(s[j]!)) j++;
  if (j > i) {
    const h = s.slice(i, j);
    if (!h.endsWith(".onion")) return { host: h, end: j };
  }
  return null;
}

/**
 * Whether a host name is a Tor onion service, for choosing how to reach it (never for parsing:
 * the wire grammar above is the reference's, lower case only). DNS names are case-insensitive and
 * may end in a root dot, so `X.ONION` and `x.onion.` name the same service and must never reach DNS.
 */
export function isOnionHost(h: string): boolean {
  const n = h.endsWith(".") ? h.slice(0, -1) : h;
  return n.toLowerCase().endsWith(".onion");
}

/** A host text as carried in PRXY must parse completely (`parseAll strP`). */
export function parseHost(text: string): string {
  const h = hostAt(text, 0);
  if (h === null || h.end !== text.length) throw new ParseError("bad host");
  return h.host;
}

// ---------------------------------------------------------------------------------------------
// Binary form

export function encodeSMPServer(w: Writer, s: SMPServer): void {
  const n = s.hosts.length;
  if (n < 1 || n > 255) throw new RangeError(`host count ${n}`);
  w.byte(n);
  for (const h of s.hosts) w.short(utf8(h));
  w.short(utf8(s.port));
  w.short(s.keyHash);
}

export function parseSMPServer(r: Reader): SMPServer {
  const n = r.byte();
  if (n === 0) throw new ParseError("empty host list");
  const hosts: string[] = [];
  for (let i = 0; i < n; i++) hosts.push(parseHost(ascii(r.short())));
  // Haskell String via Latin-1: byte for byte.
  const port = ascii(r.short());
  const keyHash = r.short().slice();
  return { hosts, port, keyHash };
}

// ---------------------------------------------------------------------------------------------
// String form

export function strEncodeServer(s: SMPServer, auth: BasicAuth | null = null, scheme = "smp"): string {
  const a = auth === null ? "" : ":" + ascii(auth);
  const port = s.port === "" ? "" : ":" + s.port;
  return `${scheme}://${base64url(s.keyHash)}${a}@${s.hosts.join(",")}${port}`;
}

export interface ServerWithAuth {
  readonly scheme: string;
  readonly server: SMPServer;
  readonly auth: BasicAuth | null;
}

/** Protocol.hs:serverStrP, the whole string must be consumed. */
export function parseServerStr(text: string): ServerWithAuth {
  const bad = (why: string): never => {
    throw new ParseError(`bad server address: ${why}`);
  };
  const sep = text.indexOf("://");
  if (sep < 0) bad("scheme");
  const scheme = text.slice(0, sep);
  if (scheme !== "smp" && scheme !== "ntf" && scheme !== "xftp") bad("scheme");
  let i = sep + 3;
  const m = /^[A-Za-z0-9_-]+=*/.exec(text.slice(i));
  if (m === null) bad("key hash");
  let keyHash: Uint8Array;
  try {
    keyHash = fromBase64url(m![0]);
  } catch {
    return bad("key hash");
  }
  i += m![0].length;
  let auth: BasicAuth | null = null;
  if (text[i] === ":") {
    const at = text.indexOf("@", i + 1);
    if (at <= i + 1) bad("basic auth");
    const a = new Uint8Array(Buffer.from(text.slice(i + 1, at), "latin1"));
    if (!isValidBasicAuth(a)) bad("basic auth");
    auth = a;
    i = at;
  }
  if (text[i] !== "@") bad("'@'");
  i++;
  const hosts: string[] = [];
  for (;;) {
    const h = hostAt(text, i);
    if (h === null) bad("host");
    hosts.push(h!.host);
    i = h!.end;
    if (text[i] !== ",") break;
    i++;
  }
  let port = "";
  if (text[i] === ":") {
    const pm = /^\d+/.exec(text.slice(i + 1));
    if (pm !== null) {
      port = String(Number(pm[0]));
      i += 1 + pm[0].length;
    }
  }
  if (i !== text.length) bad("trailing characters");
  return { scheme, server: { hosts, port, keyHash: keyHash! }, auth };
}
