/**
 * Public keys as they travel on the wire: DER SubjectPublicKeyInfo with no AlgorithmIdentifier
 * parameters (Crypto.hs:encodePubKey / decodePubKey). Which algorithms a slot accepts is the
 * caller's rule (auth keys: Ed25519/Ed448/X25519; DH keys: X25519 only; verify keys: Ed25519/Ed448).
 */
import { bytesEqual } from "../encoding/bytes.ts";

export type KeyAlg = "ed25519" | "ed448" | "x25519" | "x448";

export interface PublicKey {
  readonly alg: KeyAlg;
  /** Raw key bytes (32, 57, 32 or 56). */
  readonly raw: Uint8Array;
  /** The full DER SPKI (what `short(...)` carries on the wire). */
  readonly der: Uint8Array;
}

interface AlgSpec {
  alg: KeyAlg;
  rawLen: number;
  prefix: Uint8Array;
}

const spec = (alg: KeyAlg, rawLen: number, prefixHex: string): AlgSpec => ({
  alg,
  rawLen,
  prefix: new Uint8Array(Buffer.from(prefixHex, "hex")),
});

const SPECS: readonly AlgSpec[] = [
  spec("ed25519", 32, "302a300506032b6570032100"),
  spec("ed448", 57, "3043300506032b6571033a00"),
  spec("x25519", 32, "302a300506032b656e032100"),
  spec("x448", 56, "3042300506032b656f033900"),
];

const BY_ALG = new Map(SPECS.map((s) => [s.alg, s]));

export class KeyDecodeError extends Error {
  override name = "KeyDecodeError";
}

export function encodePubKey(alg: KeyAlg, raw: Uint8Array): Uint8Array {
  const s = BY_ALG.get(alg)!;
  if (raw.length !== s.rawLen) throw new RangeError(`${alg} key must be ${s.rawLen} bytes`);
  const der = new Uint8Array(s.prefix.length + raw.length);
  der.set(s.prefix, 0);
  der.set(raw, s.prefix.length);
  return der;
}

export function publicKey(alg: KeyAlg, raw: Uint8Array): PublicKey {
  const der = encodePubKey(alg, raw);
  return { alg, raw: der.subarray(der.length - raw.length), der };
}

/** Decode a DER SPKI; the returned key owns copies of the bytes (safe to keep past the block). */
export function decodePubKey(der: Uint8Array): PublicKey {
  for (const s of SPECS) {
    const n = s.prefix.length;
    if (der.length === n + s.rawLen && bytesEqual(der.subarray(0, n), s.prefix)) {
      const copy = der.slice();
      return { alg: s.alg, raw: copy.subarray(n), der: copy };
    }
  }
  throw new KeyDecodeError("unsupported or malformed public key");
}

/** Queue authorization keys (Crypto.hs:authAlgorithm): Ed25519, Ed448 or X25519. */
export function isAuthKeyAlg(alg: KeyAlg): boolean {
  return alg !== "x448";
}

// ---- private keys: PKCS#8 DER (Crypto.hs:encodePrivKey / decodePrivKey) ----

export interface PrivateKey {
  readonly alg: KeyAlg;
  /** Raw private key: the 32-byte seed (Ed25519/X25519), 57 (Ed448) or 56 (X448) bytes. */
  readonly raw: Uint8Array;
}

const PKCS8_SPECS: readonly AlgSpec[] = [
  spec("ed25519", 32, "302e020100300506032b657004220420"),
  spec("ed448", 57, "3047020100300506032b6571043b0439"),
  spec("x25519", 32, "302e020100300506032b656e04220420"),
  spec("x448", 56, "3046020100300506032b656f043a0438"),
];

const PKCS8_BY_ALG = new Map(PKCS8_SPECS.map((s) => [s.alg, s]));

export function encodePrivKey(alg: KeyAlg, raw: Uint8Array): Uint8Array {
  const s = PKCS8_BY_ALG.get(alg)!;
  if (raw.length !== s.rawLen) throw new RangeError(`${alg} private key must be ${s.rawLen} bytes`);
  const der = new Uint8Array(s.prefix.length + raw.length);
  der.set(s.prefix, 0);
  der.set(raw, s.prefix.length);
  return der;
}

/** Decode PKCS#8 as the reference writes it (no optional attributes or public key). */
export function decodePrivKey(der: Uint8Array): PrivateKey {
  for (const s of PKCS8_SPECS) {
    const n = s.prefix.length;
    if (der.length === n + s.rawLen && bytesEqual(der.subarray(0, n), s.prefix)) {
      return { alg: s.alg, raw: der.slice(n) };
    }
  }
  throw new KeyDecodeError("unsupported or malformed private key");
}
