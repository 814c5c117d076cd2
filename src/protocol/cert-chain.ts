/**
 * `CertChainPubKey` (Transport.hs:Encoding CertChainPubKey): a certificate chain (leaf first) and a session
 * key signed by the leaf, as carried in the server hello, the service part of the client hello and PKEY.
 * Kept as raw DER here; X.509 validation and signature checks belong to the transport layer.
 */
import { decodeSignedObject, type DecodedSignedObject } from "../crypto/signed-object.ts";
import { Reader, ParseError } from "../encoding/reader.ts";
import type { Writer } from "../encoding/writer.ts";

export interface CertChainPubKey {
  /** DER certificates, leaf first (count 1..255). */
  readonly certChain: readonly Uint8Array[];
  /** DER `SignedExact` of the wrapped SPKI (Crypto.hs:signX509). */
  readonly signedPubKey: Uint8Array;
  /** `signedPubKey` as the parser decoded it, so that its verification does not decode it again. */
  readonly signed?: DecodedSignedObject;
}

/** `NonEmpty(Large cert) ‖ Large(signedPubKey)` (Crypto.hs:encodeCertChain, Encoding SignedObject). */
export function encodeCertChainPubKey(w: Writer, c: CertChainPubKey): void {
  const n = c.certChain.length;
  if (n < 1 || n > 255) throw new RangeError(`certificate chain length ${n}`);
  w.byte(n);
  for (const cert of c.certChain) w.large(cert);
  w.large(c.signedPubKey);
}

/** Copies the DER blobs, since they usually outlive the handshake block. */
export function parseCertChainPubKey(r: Reader): CertChainPubKey {
  const n = r.byte();
  if (n === 0) throw new ParseError("empty certificate chain");
  const certChain: Uint8Array[] = [];
  for (let i = 0; i < n; i++) certChain.push(r.large().slice());
  const signedPubKey = r.large().slice();
  // The reference's parser decodes it (Crypto.hs:Encoding SignedObject, X.decodeSignedObject):
  // anything else — a bare SPKI, say — fails the hello's parse, not only its verification.
  let signed: DecodedSignedObject;
  try {
    signed = decodeSignedObject(signedPubKey);
  } catch (e) {
    throw new ParseError(`signed key: ${(e as Error).message}`);
  }
  return { certChain, signedPubKey, signed };
}
