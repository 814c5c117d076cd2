/**
 * Certificate chain checks of both TLS sides, done by us because BoringSSL can only verify against
 * a trust store and the reference's rules are its own:
 * - chain shape: Transport/Shared.hs:chainIdCaCerts;
 * - validation: Transport/Shared.hs:x509validate = crypton-x509-validation `validate` with
 *   default checks minus the host name check, and a store holding only the chain's CA;
 * - server side (client certificates): Transport/Server.hs:validateClientCertificate;
 * - client side (server chain + identity): Transport/Client.hs:validateCertificateChain.
 *
 * Cold path (once per connection); certificates are few and small.
 */
import { bytesEqual, constantTimeEqual } from "../../encoding/bytes.ts";
import { sha256 } from "../../crypto/digest.ts";
import { decodePubKey } from "../../crypto/keys.ts";
import { verifyEd25519, verifyEd448 } from "../../crypto/sign.ts";
import { KEY_USAGE_KEY_CERT_SIGN, readCertFields, type CertFields } from "./cert-fields.ts";

/** crypton-x509-validation FailedReason names, plus MalformedCertificate. */
export type ChainFailure =
  | "EmptyChain"
  | "LeafNotV3"
  | "Expired"
  | "InFuture"
  | "SelfSigned"
  | "UnknownCA"
  | "NotAllowedToSign"
  | "NotAnAuthority"
  | "AuthorityTooDeep"
  | "InvalidSignature"
  | "MalformedCertificate";

export type ChainResult = { ok: true } | { ok: false; error: string };

export type ChainShape =
  | { kind: "empty" }
  | { kind: "self"; cert: Uint8Array }
  | { kind: "valid"; leafCert: Uint8Array; idCert: Uint8Array; caCert: Uint8Array }
  | { kind: "long" };

/**
 * [] · [cert] · [leaf, ca] (id = ca) · [leaf, id, ca] (operator cert) · [leaf, id, network, ca] · longer.
 */
export function chainIdCaCerts(chain: readonly Uint8Array[]): ChainShape {
  switch (chain.length) {
    case 0:
      return { kind: "empty" };
    case 1:
      return { kind: "self", cert: chain[0] };
    case 2:
      return { kind: "valid", leafCert: chain[0], idCert: chain[1], caCert: chain[1] };
    case 3:
    case 4:
      return { kind: "valid", leafCert: chain[0], idCert: chain[1], caCert: chain[chain.length - 1] };
    default:
      return { kind: "long" };
  }
}

const OID_ED25519 = "1.3.101.112";
const OID_ED448 = "1.3.101.113";

/** Signature of `signed` by the key of `signer`; only the Edwards algorithms SMP certificates use. */
function signatureValid(signed: CertFields, signer: CertFields): boolean {
  let key;
  try {
    key = decodePubKey(signer.spki);
  } catch {
    return false;
  }
  if (signed.signatureAlgorithm === OID_ED25519 && key.alg === "ed25519") return verifyEd25519(key.raw, signed.signature, signed.tbs);
  if (signed.signatureAlgorithm === OID_ED448 && key.alg === "ed448") return verifyEd448(key.raw, signed.signature, signed.tbs);
  return false;
}

/** crypton `checkCA`: basicConstraints cA, keyCertSign if keyUsage is present, path length. */
function caFailure(level: number, cert: CertFields): ChainFailure | null {
  if (cert.keyUsage !== null && (cert.keyUsage & KEY_USAGE_KEY_CERT_SIGN) === 0) return "NotAllowedToSign";
  if (cert.basicConstraints === null || !cert.basicConstraints.ca) return "NotAnAuthority";
  if (cert.basicConstraints.pathLen !== null && cert.basicConstraints.pathLen < level) return "AuthorityTooDeep";
  return null;
}

function timeFailure(cert: CertFields, now: number): ChainFailure | null {
  if (now < cert.notBefore) return "InFuture";
  if (now > cert.notAfter) return "Expired";
  return null;
}

/**
 * Walks from `current` towards the trust anchor, like crypton's `doCheckChain` (non-exhaustive:
 * the first failure is the answer). Issuers are looked up by name, in any order; the anchor
 * itself is only used for its key (its own validity and constraints are not checked — as the
 * reference's store lookup does).
 */
function checkFrom(level: number, current: CertFields, rest: CertFields[], anchor: CertFields, now: number): ChainFailure | null {
  const t = timeFailure(current, now);
  if (t !== null) return t;
  if (bytesEqual(current.issuer, anchor.subject)) return signatureValid(current, anchor) ? null : "InvalidSignature";
  if (bytesEqual(current.issuer, current.subject)) return "SelfSigned";
  const issuer = rest.find((c) => bytesEqual(c.subject, current.issuer));
  if (issuer === undefined) return "UnknownCA";
  const ca = caFailure(level, issuer);
  if (ca !== null) return ca;
  if (!signatureValid(current, issuer)) return "InvalidSignature";
  return checkFrom(
    level + 1,
    issuer,
    rest.filter((c) => !bytesEqual(c.der, issuer.der)),
    anchor,
    now,
  );
}

/**
 * Transport/Shared.hs:x509validate: validate `chain` (leaf first) with `trustAnchor` as the only
 * trusted certificate. Returns null when valid.
 */
export function x509Validate(trustAnchor: Uint8Array, chain: readonly Uint8Array[], now: number = Date.now()): ChainFailure | null {
  if (chain.length === 0) return "EmptyChain";
  let parsed: CertFields[];
  let anchor: CertFields;
  try {
    parsed = chain.map(readCertFields);
    anchor = readCertFields(trustAnchor);
  } catch {
    return "MalformedCertificate";
  }
  if (parsed[0].version !== 3) return "LeafNotV3";
  return checkFrom(0, parsed[0], parsed.slice(1), anchor, now);
}

/** Validate `chain` against `trustAnchor` (see x509Validate). */
export function validateChain(chain: readonly Uint8Array[], trustAnchor: Uint8Array, now?: number): ChainResult {
  const failure = x509Validate(trustAnchor, chain, now);
  return failure === null ? { ok: true } : { ok: false, error: failure };
}

/**
 * Server side, client certificates (Transport/Server.hs:validateClientCertificate): no chain is
 * fine (only service clients present one); one certificate must be validly self-signed; 2–4 are
 * validated against their last certificate; 5 or more are rejected.
 */
export function validateClientChain(chain: readonly Uint8Array[], now?: number): ChainResult {
  const shape = chainIdCaCerts(chain);
  switch (shape.kind) {
    case "empty":
      return { ok: true };
    case "self":
      return validateChain(chain, shape.cert, now);
    case "valid":
      return validateChain(chain, shape.caCert, now);
    case "long":
      return { ok: false, error: "chain too long" };
  }
}

/**
 * Client side (Transport/Client.hs:validateCertificateChain): 2–4 certificates, SHA-256 of the
 * identity certificate (the second) equal to the server's key hash, then the chain validated
 * against its last certificate.
 */
export function validateServerChain(keyHash: Uint8Array, chain: readonly Uint8Array[], now?: number): ChainResult {
  const shape = chainIdCaCerts(chain);
  switch (shape.kind) {
    case "empty":
    case "self":
      return { ok: false, error: "EmptyChain" };
    case "long":
      return { ok: false, error: "AuthorityTooDeep" };
    case "valid":
      if (!constantTimeEqual(sha256(shape.idCert), keyHash)) return { ok: false, error: "UnknownCA" };
      return validateChain(chain, shape.caCert, now);
  }
}
