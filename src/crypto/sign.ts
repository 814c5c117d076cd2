/**
 * Signatures (Crypto.hs:sign', verify). Ed25519 uses native node:crypto (~10x noble for
 * verification, which runs per signed transmission); Ed448 uses noble because Bun's BoringSSL
 * has no Ed448. Ed448 is pure Ed448 with an empty context, as cryptonite's.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from "node:crypto";
import { encodePrivKey, encodePubKey, type PublicKey } from "./keys.ts";

type Ed448 = (typeof import("@noble/curves/ed448.js"))["ed448"];
let ed448Module: Ed448 | null = null;
/**
 * noble's Ed448, loaded at its first use: most servers never see an Ed448 key, and evaluating
 * the module (and the pages of the runtime it touches) costs a few MB of a small board's memory.
 */
function ed448(): Ed448 {
  return (ed448Module ??= (require("@noble/curves/ed448.js") as typeof import("@noble/curves/ed448.js")).ed448);
}

export type SignAlg = "ed25519" | "ed448";

/** Crypto.hs:decodeSignature: the signature length decides its algorithm. */
export function signatureAlg(sig: Uint8Array): SignAlg | null {
  return sig.length === 64 ? "ed25519" : sig.length === 114 ? "ed448" : null;
}

export interface SignKeyPair {
  readonly alg: SignAlg;
  readonly publicRaw: Uint8Array;
  readonly privateRaw: Uint8Array;
}

function ed25519PublicObject(publicRaw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.from(encodePubKey("ed25519", publicRaw)), format: "der", type: "spki" });
}

/**
 * Native key objects of recently verified Ed25519 keys. Building one is ~15 % of a verification
 * (bench/crypto.ts), and the server verifies the same queue keys again and again; bounded, the
 * oldest entry goes first. Public keys only, so holding them is harmless.
 */
const PUBLIC_CACHE_MAX = 256;
const publicCache = new Map<string, KeyObject>();

function cachedEd25519PublicObject(publicRaw: Uint8Array): KeyObject {
  const id = Buffer.from(publicRaw.buffer, publicRaw.byteOffset, publicRaw.byteLength).toString("latin1");
  let o = publicCache.get(id);
  if (o === undefined) {
    o = ed25519PublicObject(publicRaw);
    if (publicCache.size >= PUBLIC_CACHE_MAX) publicCache.delete(publicCache.keys().next().value!);
    publicCache.set(id, o);
  }
  return o;
}

function lastBytes(der: Buffer, n: number): Uint8Array {
  return new Uint8Array(der.subarray(der.length - n));
}

/**
 * A private signing key, built once and reused (the server's TLS key signs every handshake's
 * session key; building the native Ed25519 key object costs ~15 µs).
 */
export class SignPrivateKey {
  readonly publicRaw: Uint8Array;
  private readonly keyObject: KeyObject | null;

  constructor(readonly alg: SignAlg, readonly raw: Uint8Array) {
    if (alg === "ed25519") {
      if (raw.length !== 32) throw new RangeError("Ed25519 private key must be 32 bytes");
      const der = Buffer.from(encodePrivKey("ed25519", raw));
      this.keyObject = createPrivateKey({ key: der, format: "der", type: "pkcs8" });
      der.fill(0);
      this.publicRaw = lastBytes(createPublicKey(this.keyObject).export({ format: "der", type: "spki" }) as Buffer, 32);
    } else {
      if (raw.length !== 57) throw new RangeError("Ed448 private key must be 57 bytes");
      this.keyObject = null;
      this.publicRaw = ed448().getPublicKey(raw);
    }
  }

  /** Crypto.hs:sign' — deterministic (RFC 8032), 64 or 114 bytes. */
  sign(msg: Uint8Array): Uint8Array {
    if (this.keyObject !== null) {
      const s = sign(null, msg, this.keyObject);
      return new Uint8Array(s.buffer, s.byteOffset, s.byteLength);
    }
    return ed448().sign(msg, this.raw);
  }
}

export function generateEd25519(): SignKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return {
    alg: "ed25519",
    privateRaw: lastBytes(privateKey.export({ format: "der", type: "pkcs8" }) as Buffer, 32),
    publicRaw: lastBytes(publicKey.export({ format: "der", type: "spki" }) as Buffer, 32),
  };
}

export function generateEd448(): SignKeyPair {
  const privateRaw = ed448().utils.randomSecretKey();
  return { alg: "ed448", privateRaw, publicRaw: ed448().getPublicKey(privateRaw) };
}

export function signEd25519(privateRaw: Uint8Array, msg: Uint8Array): Uint8Array {
  return new SignPrivateKey("ed25519", privateRaw).sign(msg);
}

export function signEd448(privateRaw: Uint8Array, msg: Uint8Array): Uint8Array {
  return ed448().sign(msg, privateRaw);
}

/** False (never throws) for a malformed key or signature. */
export function verifyEd25519(publicRaw: Uint8Array, sig: Uint8Array, msg: Uint8Array): boolean {
  if (publicRaw.length !== 32 || sig.length !== 64) return false;
  try {
    return verify(null, msg, cachedEd25519PublicObject(publicRaw), sig);
  } catch {
    return false;
  }
}

/** False (never throws) for a malformed key or signature. */
export function verifyEd448(publicRaw: Uint8Array, sig: Uint8Array, msg: Uint8Array): boolean {
  if (publicRaw.length !== 57 || sig.length !== 114) return false;
  try {
    return ed448().verify(sig, msg, publicRaw);
  } catch {
    return false;
  }
}

/**
 * Crypto.hs:verify: false when the key's algorithm differs from the signature's (decided by
 * the signature length, Crypto.hs:decodeSignature) or the key cannot verify (X25519/X448).
 */
export function verifySignature(key: PublicKey, sig: Uint8Array, msg: Uint8Array): boolean {
  const alg = signatureAlg(sig);
  if (alg === null || alg !== key.alg) return false;
  return alg === "ed25519" ? verifyEd25519(key.raw, sig, msg) : verifyEd448(key.raw, sig, msg);
}
