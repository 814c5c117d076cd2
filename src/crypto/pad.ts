/**
 * Length-prefixed padding (Crypto.hs:pad / unPad): `Word16BE(len) || msg || '#'…` to a fixed
 * size, so ciphertext length does not reveal message length.
 */

/** The longest message `pad` accepts (Crypto.hs:maxMsgLen = 2^16 - 3). */
export const MAX_PAD_MSG_LEN = 65533;
const PAD_BYTE = 0x23; // '#'

export class CryptoError extends Error {
  override name = "CryptoError";
  constructor(readonly code: "LARGE_MSG" | "INVALID_MSG" | "DECRYPT") {
    super(code);
  }
}

/** Whether `pad(msg, paddedLen)` would succeed (CryptoLargeMsgError otherwise). */
export function canPad(msgLen: number, paddedLen: number): boolean {
  return msgLen <= MAX_PAD_MSG_LEN && paddedLen - msgLen - 2 >= 0;
}

/** Crypto.hs:pad. Throws CryptoError("LARGE_MSG") when the message does not fit. */
export function pad(msg: Uint8Array, paddedLen: number): Uint8Array {
  const out = new Uint8Array(paddedLen);
  padInto(msg, out, 0, paddedLen);
  return out;
}

/**
 * Pads into `out[offset .. offset+paddedLen)` (hot path: the caller owns the block buffer).
 * `msg` may already sit at `out[offset+2 ..]` (then it is not copied).
 */
export function padInto(msg: Uint8Array, out: Uint8Array, offset: number, paddedLen: number): void {
  const len = msg.length;
  if (!canPad(len, paddedLen)) throw new CryptoError("LARGE_MSG");
  if (offset + paddedLen > out.length) throw new RangeError("pad: output buffer too small");
  out[offset] = len >>> 8;
  out[offset + 1] = len & 0xff;
  const at = offset + 2;
  if (!(msg.buffer === out.buffer && msg.byteOffset === out.byteOffset + at)) out.set(msg, at);
  out.fill(PAD_BYTE, at + len, offset + paddedLen);
}

/**
 * Crypto.hs:unPad: a view of the message inside `padded` (not a copy). The pad bytes are not
 * checked, as in the reference. Returns null when the length prefix is missing or too big.
 */
export function unPad(padded: Uint8Array): Uint8Array | null {
  if (padded.length < 2) return null;
  const len = (padded[0]! << 8) | padded[1]!;
  if (len > padded.length - 2) return null;
  return padded.subarray(2, 2 + len);
}
