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
 * Two implementations, one chosen at start-up: our WebAssembly SIMD kernel (wasm/; on a 16 KB
 * block 2.5× noble and a little faster than libsodium's WebAssembly build: `bun bench/crypto.ts`)
 * and noble's Salsa20/Poly1305 where WebAssembly SIMD is unavailable. Both run in place in a caller's buffer (no per-block allocation) and are
 * checked against the reference vectors and each other (test/crypto/secretbox*.test.ts).
 */
import { padInto, unPad } from "./pad.ts";
import { loadWasmSecretbox } from "./wasm/xsalsa20poly1305.ts";

export const TAG_LEN = 16;

interface Implementation {
  readonly name: "wasm-simd" | "noble";
  sealInPlace(key: Uint8Array, nonce: Uint8Array, buf: Uint8Array, at: number, len: number): void;
  openInto(key: Uint8Array, nonce: Uint8Array, packet: Uint8Array, out: Uint8Array): Uint8Array | null;
}

/** Chosen at the first use, so that an idle server holds neither (see wasm/xsalsa20poly1305.ts). */
let impl: Implementation | null = null;

function implementation(): Implementation {
  if (impl !== null) return impl;
  const wasm = loadWasmSecretbox();
  if (wasm !== null) {
    impl = { name: "wasm-simd", sealInPlace: (k, n, b, a, l) => wasm.sealInPlace(k, n, b, a, l), openInto: (k, n, p, o) => wasm.openInto(k, n, p, o) };
  } else {
    const noble = require("./secretbox-noble.ts") as typeof import("./secretbox-noble.ts");
    impl = { name: "noble", sealInPlace: noble.nobleSealInPlace, openInto: noble.nobleOpenInto };
  }
  return impl;
}

/** Which implementation runs: "wasm-simd" or "noble". */
export function secretboxImplementation(): "wasm-simd" | "noble" {
  return implementation().name;
}

/**
 * Encrypts `buf[at .. at+len)` in place and writes the tag to `buf[at-16 .. at)`.
 */
export function sealInPlace(key: Uint8Array, nonce: Uint8Array, buf: Uint8Array, at: number, len: number): void {
  (impl ?? implementation()).sealInPlace(key, nonce, buf, at, len);
}

/**
 * Authenticates `packet` (tag || ciphertext) and decrypts it into `out` (length ≥ packet − 16;
 * `out` may be `packet.subarray(16)` for in-place). Tag compared in constant time
 * (Crypto.hs:sbDecryptNoPad_ uses BA.constEq). Returns the plaintext view, or null.
 */
export function openInto(key: Uint8Array, nonce: Uint8Array, packet: Uint8Array, out: Uint8Array): Uint8Array | null {
  return (impl ?? implementation()).openInto(key, nonce, packet, out);
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

/** Crypto.hs:cbEncrypt — crypto_box keyed by the raw X25519 shared secret. @alias */
export const cbEncrypt: (dhSecret: Uint8Array, nonce: Uint8Array, msg: Uint8Array, paddedLen: number) => Uint8Array =
  sbEncrypt;
/** Crypto.hs:cbEncryptNoPad. @alias */
export const cbEncryptNoPad: (dhSecret: Uint8Array, nonce: Uint8Array, msg: Uint8Array) => Uint8Array = sbEncryptNoPad;
/** Crypto.hs:cbDecrypt. @alias */
export const cbDecrypt: (dhSecret: Uint8Array, nonce: Uint8Array, packet: Uint8Array) => Uint8Array | null = sbDecrypt;
/** Crypto.hs:cbDecryptNoPad. @alias */
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


