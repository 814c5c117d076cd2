/**
 * Digests (Crypto.hs:sha256Hash, sha512Hash, sha3_384, md5Hash). Bun's native hashers are
 * 5–10x faster than the pure-JS ones here (bench/crypto.ts), and SHA-512 runs once per
 * authenticated transmission, so the native ones are used throughout.
 */
import { hash as nodeHash } from "node:crypto";

/** SHA-256: certificate fingerprints / KeyHash. */
export function sha256(data: Uint8Array): Uint8Array {
  return Bun.SHA256.hash(data) as Uint8Array;
}

/** SHA-512 (authenticators). With `out` (64 bytes) nothing is allocated for the digest. */
export function sha512(data: Uint8Array, out?: Uint8Array): Uint8Array {
  if (out === undefined) return Bun.SHA512.hash(data) as Uint8Array;
  Bun.SHA512.hash(data, out);
  return out;
}

/** SHA3-384: sender id derivation. */
export function sha3_384(data: Uint8Array): Uint8Array {
  const b = nodeHash("sha3-384", data, "buffer") as Buffer;
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** MD5: IdsHash only (a set checksum, not a security property). */
export function md5(data: Uint8Array): Uint8Array {
  return Bun.MD5.hash(data) as Uint8Array;
}
