/**
 * X25519 (Crypto.hs:dh'). Native node:crypto: ~12x faster than noble (bench/crypto.ts), and the
 * server runs one DH per X25519-authenticated transmission. Building a public KeyObject from
 * raw bytes costs ~1 µs against ~28 µs for the DH itself, so public keys are not cached;
 * private KeyObjects (~16 µs to build) are held by `DhPrivateKey`, one per connection.
 */
import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject } from "node:crypto";

const SPKI_PREFIX = Buffer.from("302a300506032b656e032100", "hex");
const PKCS8_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");

export interface X25519KeyPair {
  readonly publicRaw: Uint8Array;
  readonly privateRaw: Uint8Array;
}

function publicKeyObject(publicRaw: Uint8Array): KeyObject {
  if (publicRaw.length !== 32) throw new RangeError("X25519 public key must be 32 bytes");
  const der = Buffer.allocUnsafe(44);
  der.set(SPKI_PREFIX, 0);
  der.set(publicRaw, 12);
  return createPublicKey({ key: der, format: "der", type: "spki" });
}

function privateKeyObject(privateRaw: Uint8Array): KeyObject {
  if (privateRaw.length !== 32) throw new RangeError("X25519 private key must be 32 bytes");
  const der = Buffer.alloc(48);
  der.set(PKCS8_PREFIX, 0);
  der.set(privateRaw, 16);
  const k = createPrivateKey({ key: der, format: "der", type: "pkcs8" });
  der.fill(0);
  return k;
}

function lastBytes(der: Buffer, n: number): Uint8Array {
  return new Uint8Array(der.subarray(der.length - n));
}

/** A private X25519 key with its native key object built once (per connection / per server key). */
export class DhPrivateKey {
  readonly keyObject: KeyObject;
  readonly publicRaw: Uint8Array;

  constructor(readonly raw: Uint8Array, keyObject?: KeyObject, publicRaw?: Uint8Array) {
    this.keyObject = keyObject ?? privateKeyObject(raw);
    this.publicRaw =
      publicRaw ?? lastBytes(createPublicKey(this.keyObject).export({ format: "der", type: "spki" }) as Buffer, 32);
  }

  static generate(): DhPrivateKey {
    const { privateKey, publicKey } = generateKeyPairSync("x25519");
    const raw = lastBytes(privateKey.export({ format: "der", type: "pkcs8" }) as Buffer, 32);
    const pub = lastBytes(publicKey.export({ format: "der", type: "spki" }) as Buffer, 32);
    return new DhPrivateKey(raw, privateKey, pub);
  }
}

export function generateX25519(): X25519KeyPair {
  const k = DhPrivateKey.generate();
  return { publicRaw: k.publicRaw, privateRaw: k.raw };
}

/** X25519 public key of a raw private key. */
export function x25519PublicKey(privateRaw: Uint8Array): Uint8Array {
  return new DhPrivateKey(privateRaw).publicRaw;
}

/**
 * Crypto.hs:dh' — the raw 32-byte shared secret. A low-order peer key makes OpenSSL refuse
 * (all-zero result); cryptonite returns the zeros unchecked, so we do the same: such a key only
 * weakens its own owner's session, and every caller then fails authentication cleanly.
 */
export function x25519(publicRaw: Uint8Array, privateKey: Uint8Array | DhPrivateKey): Uint8Array {
  const priv = privateKey instanceof DhPrivateKey ? privateKey.keyObject : privateKeyObject(privateKey);
  const pub = publicKeyObject(publicRaw);
  try {
    const s = diffieHellman({ privateKey: priv, publicKey: pub });
    return new Uint8Array(s.buffer, s.byteOffset, s.byteLength);
  } catch {
    return new Uint8Array(32);
  }
}
