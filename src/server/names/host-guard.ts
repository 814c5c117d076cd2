/**
 * Refuses resolver hosts that reach a cloud metadata service or a link-local network, in any spelling a URL
 * parser would turn into such an address. The reference at 209f7826c relies only on `validateUrl` and
 * `redirectCount = 0`; this guard is the stricter check its pre-merge audit rounds had
 * (git 9cfdb5546 "IPv6 SSRF", 5e0b75703^ Server/Main.hs:isBareIntegerHost/isObfuscatedIpv4/isForbiddenIpv6),
 * kept because the issue asks for it and it only narrows which endpoints an operator may configure.
 *
 * `normalized` must be the WHATWG hostname of the same URL: that is the address fetch() will connect to, so
 * checking it (not the text the operator wrote) closes every alias the URL parser accepts.
 */

/** Names that resolve to the metadata service on the big clouds. */
const METADATA_NAMES = new Set(["metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal"]);

/** Single metadata addresses outside 169.254.0.0/16: Alibaba Cloud and Oracle Cloud. */
const METADATA_V4 = new Set([ipv4(100, 100, 100, 200), ipv4(192, 0, 0, 192)]);

function ipv4(a: number, b: number, c: number, d: number): number {
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

/** Canonical dotted-quad (what the WHATWG parser outputs for any IPv4 spelling) → 32-bit value. */
function parseDottedQuad(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (m === null) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ipv4(parts[0]!, parts[1]!, parts[2]!, parts[3]!);
}

/** Compressed hex IPv6 as WHATWG serializes it (no brackets, no embedded dotted quad) → 8 hextets. */
function parseIpv6(s: string): number[] | undefined {
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const piece = (t: string) => (t === "" ? [] : t.split(":"));
  const head = piece(halves[0]!);
  const tail = halves.length === 2 ? piece(halves[1]!) : [];
  const fill = 8 - head.length - tail.length;
  if (halves.length === 1 ? fill !== 0 : fill < 1) return undefined;
  const words = [...head, ...new Array<string>(halves.length === 2 ? fill : 0).fill("0"), ...tail];
  if (!words.every((w) => /^[0-9a-f]{1,4}$/i.test(w))) return undefined;
  return words.map((w) => parseInt(w, 16));
}

function v4Problem(addr: number): string | undefined {
  if (addr >>> 16 === 0xa9fe) return "link-local address (169.254.0.0/16, cloud metadata services) not allowed";
  if (METADATA_V4.has(addr)) return "cloud metadata address not allowed";
  return undefined;
}

function v6Problem(w: number[]): string | undefined {
  if (w[0]! >>> 6 === 0x3fa) return "IPv6 link-local address (fe80::/10) not allowed";
  // AWS IPv6 metadata endpoint fd00:ec2::254.
  if (w[0] === 0xfd00 && w[1] === 0x0ec2 && w.slice(2, 7).every((x) => x === 0) && w[7] === 0x254)
    return "cloud metadata address not allowed";
  const low32 = ((w[6]! << 16) | w[7]!) >>> 0;
  const high80Zero = w.slice(0, 5).every((x) => x === 0);
  let embedded: number | undefined;
  if (high80Zero && w[5] === 0xffff) embedded = low32; // IPv4-mapped ::ffff:0:0/96
  else if (high80Zero && w[5] === 0 && low32 > 1) embedded = low32; // IPv4-compatible ::/96 (not :: or ::1)
  else if (w[0] === 0x64 && w[1] === 0xff9b && w.slice(2, 6).every((x) => x === 0)) embedded = low32; // NAT64 64:ff9b::/96
  else if (w[0] === 0x2002) embedded = ((w[1]! << 16) | w[2]!) >>> 0; // 6to4 2002::/16
  if (embedded === undefined) return undefined;
  const p = v4Problem(embedded);
  return p === undefined ? undefined : `IPv6 alias of an IPv4 address: ${p}`;
}

/**
 * Why `rawHost` (as written in the URL) may not be used as the resolver host, or undefined when it may.
 * `normalized` is `new URL(url).hostname` (IPv6 in brackets).
 */
export function forbiddenHostReason(rawHost: string, normalized: string): string | undefined {
  const host = normalized.toLowerCase();
  if (host.startsWith("[")) {
    const words = parseIpv6(host.slice(1, -1));
    return words === undefined ? "unrecognised IPv6 address" : v6Problem(words);
  }
  const v4 = parseDottedQuad(host);
  // Integer, hex, octal, short ("127.1") and percent-encoded spellings all normalise to something else:
  // refuse them outright rather than reason about every resolver library's notion of an address.
  if (rawHost.toLowerCase() !== host)
    return v4 !== undefined
      ? `non-canonical IPv4 form not allowed (write it as ${host})`
      : `non-canonical host form not allowed (write it as ${host})`;
  if (v4 !== undefined) return v4Problem(v4);
  if (METADATA_NAMES.has(host.replace(/\.$/, ""))) return "cloud metadata host name not allowed";
  return undefined;
}
