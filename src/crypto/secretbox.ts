/**
 * XSalsa20-Poly1305 exactly as simplexmq's Crypto.hs:cryptoBox / sbDecryptNoPad_:
 * output = tag(16) || ciphertext, stream cipher keyed with `HSalsa20(key, 0^16)` and the full
 * 24-byte nonce (cryptonite `XSalsa.initialize key (0^16 || n[0:8])` then `derive n[8:24]`).
 *
 * The same construction serves both callers in the reference:
 *  - `cb*` (crypto_box): `key` is the raw X25519 DH secret, so this equals NaCl crypto_box;
 *  - `sb*` (secret_box with a 32-byte symmetric key, used for transport blocks): note that this
 *    is NOT plain NaCl crypto_secretbox(key) — the HSalsa20 pre-step applies here too.
 *
 * Built from noble's Salsa20 core and Poly1305 so encryption and decryption can run in place
 * inside a caller's block buffer (no per-block allocation beyond noble's small scratch arrays).
 */
import { hsalsa, salsa20 } from "@noble/ciphers/salsa.js";
import { poly1305 } from "@noble/ciphers/_poly1305.js";
import { padInto, unPad } from "./pad.ts";

export const TAG_LEN = 16;

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
export function sealInPlace(key: Uint8Array, nonce: Uint8Array, buf: Uint8Array, at: number, len: number): void {
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
export function openInto(key: Uint8Array, nonce: Uint8Array, packet: Uint8Array, out: Uint8Array): Uint8Array | null {
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

// ---- Crypto.hs API (allocating; cold paths and tests) ----

/** Crypto.hs:sbEncrypt — tag || XSalsa20(pad(msg, paddedLen)); throws CryptoError LARGE_MSG. */
export function sbEncrypt(key: Uint8Array, nonce: Uint8Array, msg: Uint8Array, paddedLen: number): Uint8Array {
  const out = new Uint8Array(TAG_LEN + paddedLen);
  padInto(msg, out, TAG_LEN, paddedLen);
  sealInPlace(key, nonce, out, TAG_LEN, paddedLen);
  return out;
}

/** Crypto.hs:sbEncryptNoPad. */
export function sbEncryptNoPad(key: Uint8Array, nonce: Uint8Array, msg: Uint8Array): Uint8Array {
  const out = new Uint8Array(TAG_LEN + msg.length);
  out.set(msg, TAG_LEN);
  sealInPlace(key, nonce, out, TAG_LEN, msg.length);
  return out;
}

/** Crypto.hs:sbDecrypt — null on a bad tag, short packet or bad padding. */
export function sbDecrypt(key: Uint8Array, nonce: Uint8Array, packet: Uint8Array): Uint8Array | null {
  const pt = sbDecryptNoPad(key, nonce, packet);
  return pt === null ? null : unPad(pt);
}

/** Crypto.hs:sbDecryptNoPad. */
export function sbDecryptNoPad(key: Uint8Array, nonce: Uint8Array, packet: Uint8Array): Uint8Array | null {
  if (packet.length < TAG_LEN) return null;
  return openInto(key, nonce, packet, new Uint8Array(packet.length - TAG_LEN));
}

/** Crypto.hs:cbEncrypt — crypto_box keyed by the raw X25519 shared secret. */
export const cbEncrypt: (dhSecret: Uint8Array, nonce: Uint8Array, msg: Uint8Array, paddedLen: number) => Uint8Array =
  sbEncrypt;
/** Crypto.hs:cbEncryptNoPad. */
export const cbEncryptNoPad: (dhSecret: Uint8Array, nonce: Uint8Array, msg: Uint8Array) => Uint8Array = sbEncryptNoPad;
/** Crypto.hs:cbDecrypt. */
export const cbDecrypt: (dhSecret: Uint8Array, nonce: Uint8Array, packet: Uint8Array) => Uint8Array | null = sbDecrypt;
/** Crypto.hs:cbDecryptNoPad. */
export const cbDecryptNoPad: (dhSecret: Uint8Array, nonce: Uint8Array, packet: Uint8Array) => Uint8Array | null =
  sbDecryptNoPad;

// ---- transport blocks (hot path) ----

/**
 * Transport.hs:tPutBlock with encryption: `block = sbEncrypt(key, nonce, payload, block.length-16)`
 * written into `block` (16384 bytes on the wire). `payload` may already sit at `block[18..]`
 * (then it is not copied). Throws CryptoError LARGE_MSG if it does not fit.
 */
export function sealBlock(key: Uint8Array, nonce: Uint8Array, payload: Uint8Array, block: Uint8Array): Uint8Array {
  const paddedLen = block.length - TAG_LEN;
  padInto(payload, block, TAG_LEN, paddedLen);
  sealInPlace(key, nonce, block, TAG_LEN, paddedLen);
  return block;
}

/**
 * Transport.hs:tGetBlock with encryption: decrypts `block` into `out` (≥ block.length-16 bytes;
 * may be `block.subarray(16)`) and returns the unpadded payload view, or null if the tag or
 * the padding is bad.
 */
export function openBlock(key: Uint8Array, nonce: Uint8Array, block: Uint8Array, out: Uint8Array): Uint8Array | null {
  const pt = openInto(key, nonce, block, out);
  return pt === null ? null : unPad(pt);
}


