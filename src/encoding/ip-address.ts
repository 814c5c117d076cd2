/**
 * IPv6 text form (RFC 4291 §2.2) → its 16 bytes: hex groups, one `::` for a run of zero groups,
 * and an optional dotted IPv4 tail for the last 32 bits (`::ffff:1.2.3.4`). Certificates (SAN
 * iPAddress), SOCKS5 CONNECT and the per-/64 connection bound all need the bytes, not the text.
 */

const HEX_GROUP = /^[0-9a-f]{1,4}$/i;
const IPV4_PART = /^(?:0|[1-9]\d{0,2})$/;

/** The 16 bytes of an IPv6 address, or null if `text` is not one (zone ids and brackets are not). */
export function ipv6Bytes(text: string): Uint8Array | null {
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (head === null || tail === null) return null;
  const words = [...head, ...tail];
  // an IPv4 tail may only end the address (so not before a trailing `::`)
  const v4 = words.findIndex((w) => w.includes("."));
  if (v4 !== -1 && (v4 !== words.length - 1 || (halves.length === 2 && tail.length === 0))) return null;
  const count = words.length + (v4 === -1 ? 0 : 1);
  if (halves.length === 2 ? count > 7 : count !== 8) return null;
  const out = new Uint8Array(16);
  let at = 0;
  const put = (ws: readonly string[]): boolean => {
    for (const w of ws) {
      if (w.includes(".")) {
        const octets = w.split(".");
        if (octets.length !== 4 || !octets.every((o) => IPV4_PART.test(o) && Number(o) <= 255)) return false;
        for (const o of octets) out[at++] = Number(o);
      } else {
        if (!HEX_GROUP.test(w)) return false;
        const n = parseInt(w, 16);
        out[at++] = n >> 8;
        out[at++] = n & 0xff;
      }
    }
    return true;
  };
  if (!put(head)) return null;
  at = 16 - 2 * (count - head.length);
  return put(tail) ? out : null;
}

/** The `:`-separated words of one side of `::` (none for an empty side); null for an empty word. */
function groups(side: string): string[] | null {
  if (side === "") return [];
  const ws = side.split(":");
  return ws.includes("") ? null : ws;
}
