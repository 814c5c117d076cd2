/**
 * Command and broker-message tags as small integers, so the hot path can dispatch on the bytes up to the
 * first SP (Protocol.hs:parseProtocol `B.break (== ' ')`) without building a string.
 */

/** Packs up to 5 ASCII bytes big-endian into a number; -1 for longer (no tag is longer than 5). */
export function tagCode(b: Uint8Array, start: number, end: number): number {
  const n = end - start;
  if (n === 0 || n > 5) return -1;
  let c = 0;
  for (let i = start; i < end; i++) c = c * 256 + b[i]!;
  // Distinguish lengths, so "\0SUB" cannot collide with "SUB".
  return c * 8 + n;
}

export function tagCodeOf(s: string): number {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
  return tagCode(b, 0, b.length);
}
