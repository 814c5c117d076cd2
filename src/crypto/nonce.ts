/** crypto_box nonces (Crypto.hs:CbNonce, cbNonce, reverseNonce, randomCbNonce). */
export const NONCE_LEN = 24;

/** Crypto.hs:cbNonce: exactly 24 bytes — longer input truncated, shorter right-padded with 0x00. */
export function cbNonce(bytes: Uint8Array): Uint8Array {
  return cbNonceInto(bytes, new Uint8Array(NONCE_LEN));
}

/** cbNonce into a caller's 24-byte buffer (hot path: corrId → authenticator nonce). */
export function cbNonceInto(bytes: Uint8Array, out: Uint8Array): Uint8Array {
  const n = bytes.length < NONCE_LEN ? bytes.length : NONCE_LEN;
  out.set(n === bytes.length ? bytes : bytes.subarray(0, n));
  out.fill(0, n, NONCE_LEN);
  return out;
}

/** Crypto.hs:reverseNonce: the 24 bytes in reverse order. */
export function reverseNonce(nonce: Uint8Array): Uint8Array {
  if (nonce.length !== NONCE_LEN) throw new RangeError("nonce must be 24 bytes");
  return nonce.slice().reverse();
}

/** Crypto.hs:randomCbNonce. */
export function randomNonce(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(NONCE_LEN));
}
