/**
 * Signed public keys (Crypto.hs:signX509 / verifyX509, crypton-x509 `objectToSignedExactF`,
 * `decodeSignedObject`): the server hello's session key and a service's session key.
 *
 * The signed bytes are the object's ASN.1 wrapped in an EXTRA SEQUENCE (crypton-x509 adds one
 * around `toASN1 object`, and an SPKI is already a SEQUENCE), so for a key:
 *   SignedExact = SEQUENCE { SEQUENCE { SPKI }, AlgorithmIdentifier, BIT STRING(sig) }
 * and the signature covers the DER of `SEQUENCE { SPKI }`.
 */
import { bytesEqual } from "../encoding/bytes.ts";
import type { PublicKey } from "./keys.ts";
import { SignPrivateKey, verifySignature, type SignAlg } from "./sign.ts";

const SEQUENCE = 0x30;
const BIT_STRING = 0x03;

// AlgorithmIdentifier without parameters, as crypton-x509 writes IntrinsicHash Ed25519/Ed448.
const ALG_ID: Record<SignAlg, Uint8Array> = {
  ed25519: Uint8Array.from([0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70]),
  ed448: Uint8Array.from([0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x71]),
};

function derLength(n: number): number[] {
  if (n < 0x80) return [n];
  if (n < 0x100) return [0x81, n];
  if (n < 0x10000) return [0x82, n >> 8, n & 0xff];
  throw new RangeError("DER object too large");
}

function tlv(tag: number, ...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const head = [tag, ...derLength(n)];
  const out = new Uint8Array(head.length + n);
  out.set(head, 0);
  let o = head.length;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Crypto.hs:signX509 over a DER object (an SPKI for session keys) → DER of the SignedExact.
 * Ed25519 and Ed448 signatures are deterministic, so the output is reproducible byte for byte.
 */
export function signX509(key: SignPrivateKey, objectDer: Uint8Array): Uint8Array {
  const signedData = tlv(SEQUENCE, objectDer);
  const sig = key.sign(signedData);
  return tlv(SEQUENCE, signedData, ALG_ID[key.alg], tlv(BIT_STRING, Uint8Array.of(0), sig));
}

export interface DecodedSignedObject {
  /** The bytes the signature covers (`SEQUENCE { object }`, X.getSignedData). */
  readonly signedData: Uint8Array;
  /** The wrapped object's DER (for a signed key: the SPKI). */
  readonly object: Uint8Array;
  /** Signature algorithm, or null if not Ed25519/Ed448 (verification then fails). */
  readonly alg: SignAlg | null;
  readonly signature: Uint8Array;
}

export class SignedObjectError extends Error {
  override name = "SignedObjectError";
}

interface Tlv {
  tag: number;
  start: number; // first content byte
  end: number; // one past the last content byte
}

/** One DER TLV at `pos` within `[pos, limit)`; definite, minimal lengths only. */
function readTlv(buf: Uint8Array, pos: number, limit: number): Tlv {
  if (pos + 2 > limit) throw new SignedObjectError("truncated DER");
  const tag = buf[pos]!;
  let len = buf[pos + 1]!;
  let start = pos + 2;
  if (len >= 0x80) {
    const nBytes = len & 0x7f;
    if (nBytes === 0 || nBytes > 2 || start + nBytes > limit) throw new SignedObjectError("bad DER length");
    len = 0;
    for (let i = 0; i < nBytes; i++) len = (len << 8) | buf[start + i]!;
    if (len < 0x80 || (nBytes === 2 && len < 0x100)) throw new SignedObjectError("non-minimal DER length");
    start += nBytes;
  }
  const end = start + len;
  if (end > limit) throw new SignedObjectError("truncated DER");
  return { tag, start, end };
}

function algOf(der: Uint8Array): SignAlg | null {
  if (bytesEqual(der, ALG_ID.ed25519)) return "ed25519";
  if (bytesEqual(der, ALG_ID.ed448)) return "ed448";
  return null;
}

/**
 * X.decodeSignedObject, restricted to what the reference produces: DER, one wrapped object,
 * a BIT STRING with 0 unused bits, no trailing bytes. Throws SignedObjectError otherwise.
 */
export function decodeSignedObject(der: Uint8Array): DecodedSignedObject {
  const outer = readTlv(der, 0, der.length);
  if (outer.tag !== SEQUENCE || outer.end !== der.length) throw new SignedObjectError("not a signed object");
  const wrapped = readTlv(der, outer.start, outer.end);
  if (wrapped.tag !== SEQUENCE) throw new SignedObjectError("bad signed data");
  const obj = readTlv(der, wrapped.start, wrapped.end);
  if (obj.end !== wrapped.end) throw new SignedObjectError("trailing data in signed object");
  const algId = readTlv(der, wrapped.end, outer.end);
  if (algId.tag !== SEQUENCE) throw new SignedObjectError("bad signature algorithm");
  const bits = readTlv(der, algId.end, outer.end);
  if (bits.tag !== BIT_STRING || bits.end !== outer.end || bits.end - bits.start < 1 || der[bits.start] !== 0) {
    throw new SignedObjectError("bad signature");
  }
  return {
    signedData: der.subarray(outer.start, wrapped.end),
    object: der.subarray(wrapped.start, obj.end),
    alg: algOf(der.subarray(wrapped.end, algId.end)),
    signature: der.subarray(bits.start + 1, bits.end),
  };
}

/**
 * Crypto.hs:verifyX509: returns the signed object's DER (e.g. the SPKI) if the signature is a
 * valid Ed25519/Ed448 signature by `key` over the signed data; null otherwise (including
 * malformed input and algorithm mismatch). Takes the DER, or what a parser already decoded.
 */
export function verifySignedObject(signed: Uint8Array | DecodedSignedObject, key: PublicKey): Uint8Array | null {
  let d: DecodedSignedObject;
  if (signed instanceof Uint8Array) {
    try {
      d = decodeSignedObject(signed);
    } catch {
      return null;
    }
  } else d = signed;
  if (d.alg === null || d.alg !== key.alg) return null;
  return verifySignature(key, d.signature, d.signedData) ? d.object : null;
}
