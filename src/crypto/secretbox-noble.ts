/**
 * XSalsa20-Poly1305 as in secretbox.ts, built from noble's Salsa20 core and Poly1305: the
 * portable fallback where WebAssembly SIMD is unavailable, and the independent implementation
 * the WebAssembly kernel is tested against. Runs in place in the caller's buffer.
 */
import { hsalsa, salsa20 } from "@noble/ciphers/salsa.js";
import { poly1305 } from "@noble/ciphers/_poly1305.js";

const TAG_LEN = 16;

// "expand 32-byte k" as little-endian words.
const SIGMA = new Uint32Array([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]);
const ZERO_WORDS = new Uint32Array(4);

// Module-level scratch: every function here is synchronous, so one set suffices.
const keyWords = new Uint32Array(8);
const keyBytes = new Uint8Array(keyWords.buffer);
const nonceWords = new Uint32Array(4);
const nonceBytes = new Uint8Array(nonceWords.buffer);
const subkeyWords = new Uint32Array(8);
const subkey = new Uint8Array(subkeyWords.buffer);
const block0 = new Uint8Array(64);

/**
 * `subkey = HSalsa20(HSalsa20(key, 0^16), nonce[0:16])`, after which the stream is Salsa20 with
 * `subkey` and `nonce[16:24]`. Little-endian host assumed (x86-64 / arm64), as Bun runs on.
 */
function deriveSubkey(key: Uint8Array, nonce: Uint8Array): void {
  if (key.length !== 32) throw new RangeError("secretbox key must be 32 bytes");
  if (nonce.length !== 24) throw new RangeError("nonce must be 24 bytes");
  keyBytes.set(key);
  hsalsa(SIGMA, keyWords, ZERO_WORDS, keyWords);
  nonceBytes.set(nonce.subarray(0, 16));
  hsalsa(SIGMA, keyWords, nonceWords, subkeyWords);
  keyWords.fill(0);
}

/**
 * Keystream block 0: bytes 0..32 are the Poly1305 key, bytes 32..64 encrypt the first 32
 * message bytes; the rest of the message starts at block counter 1.
 */
function firstBlock(n8: Uint8Array): void {
  block0.fill(0);
  salsa20(subkey, n8, block0, block0, 0);
}

/** `dst = src XOR stream`, where message byte 0 is keystream byte 32 (after the Poly1305 key). */
function xorStream(n8: Uint8Array, src: Uint8Array, dst: Uint8Array): void {
  const len = src.length;
  const head = len < 32 ? len : 32;
  for (let i = 0; i < head; i++) dst[i] = src[i]! ^ block0[32 + i]!;
  if (len > 32) salsa20(subkey, n8, src.subarray(32), dst.subarray(32), 1);
}

function wipe(): void {
  subkey.fill(0);
  block0.fill(0);
}

/**
 * Encrypts `buf[at .. at+len)` in place and writes the tag to `buf[at-16 .. at)`.
 * Keep `buf.byteOffset + at` a multiple of 4 for noble's word-aligned fast path.
 */
export function nobleSealInPlace(key: Uint8Array, nonce: Uint8Array, buf: Uint8Array, at: number, len: number): void {
  if (at < TAG_LEN || at + len > buf.length) throw new RangeError("sealInPlace: bad range");
  deriveSubkey(key, nonce);
  const n8 = nonce.subarray(16, 24);
  firstBlock(n8);
  const msg = buf.subarray(at, at + len);
  xorStream(n8, msg, msg);
  const tag = poly1305(msg, block0.subarray(0, 32));
  buf.set(tag, at - TAG_LEN);
  wipe();
}

/**
 * Authenticates `packet` (tag || ciphertext) and decrypts it into `out` (length ≥ packet − 16;
 * `out` may be `packet.subarray(16)` for in-place). Tag compared in constant time
 * (Crypto.hs:sbDecryptNoPad_ uses BA.constEq). Returns the plaintext view, or null.
 */
export function nobleOpenInto(key: Uint8Array, nonce: Uint8Array, packet: Uint8Array, out: Uint8Array): Uint8Array | null {
  if (packet.length < TAG_LEN) return null;
  const len = packet.length - TAG_LEN;
  if (out.length < len) throw new RangeError("openInto: output buffer too small");
  const ct = packet.subarray(TAG_LEN);
  deriveSubkey(key, nonce);
  const n8 = nonce.subarray(16, 24);
  firstBlock(n8);
  const tag = poly1305(ct, block0.subarray(0, 32));
  let diff = 0;
  for (let i = 0; i < TAG_LEN; i++) diff |= tag[i]! ^ packet[i]!;
  if (diff !== 0) {
    wipe();
    return null;
  }
  const pt = out.subarray(0, len);
  xorStream(n8, ct, pt);
  wipe();
  return pt;
}
