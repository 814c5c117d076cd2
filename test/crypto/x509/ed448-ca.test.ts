/**
 * An Ed448 CA (the reference's old default, Server/CLI.hs:defaultX509Config) signs our Ed25519 online
 * certificate: the signature algorithm is Ed448 (RFC 8410 id-Ed448), the leaf key stays Ed25519, and
 * the chain validates as a client checks it (Transport/Client.hs:validateCertificateChain).
 */
import { describe, expect, test } from "bun:test";
import { CertificateError, OID, certSigner, generateServerCert, parseCertificate, toPem } from "../../../src/crypto/x509/certificate.ts";
import { sha256 } from "../../../src/crypto/digest.ts";
import { decodePubKey, encodePrivKey } from "../../../src/crypto/keys.ts";
import { generateEd448 } from "../../../src/crypto/sign.ts";
import { bitString, explicit, oid, sequence, set, smallInteger, time, unsignedInteger, utf8String, boolean, octetString } from "../../../src/crypto/x509/der.ts";
import { validateServerChain, x509Validate } from "../../../src/transport/tls/chain-validation.ts";

/** A self-signed Ed448 CA certificate built by hand (as openssl_ca.conf makes it: CN, O, critical CA:true). */
function ed448Ca(): { der: Uint8Array; keyPem: string } {
  const kp = generateEd448();
  const keyPem = toPem("PRIVATE KEY", encodePrivKey("ed448", kp.privateRaw));
  const signer = certSigner(keyPem);
  const rdn = (type: string, v: string) => set(sequence(oid(type), utf8String(v)));
  const dn = sequence(rdn(OID.commonName, "SMP server CA"), rdn(OID.organizationName, "SimpleX"));
  const alg = sequence(oid(OID.ed448));
  const now = Date.now();
  const tbs = sequence(
    explicit(0, smallInteger(2)),
    unsignedInteger(Uint8Array.of(1)),
    alg,
    dn,
    sequence(time(new Date(now - 3600_000)), time(new Date(now + 86400_000))),
    dn,
    signer.spki,
    explicit(3, sequence(sequence(oid(OID.basicConstraints), boolean(true), octetString(sequence(boolean(true)))))),
  );
  return { der: sequence(tbs, alg, bitString(signer.key.sign(tbs))), keyPem };
}

describe("generateServerCert with an Ed448 CA key", () => {
  const ca = ed448Ca();
  const leaf = generateServerCert(ca, "smp.example.com");

  test("Ed448 signature, Ed25519 key, issuer = the CA's subject, and the chain validates against the CA's fingerprint", () => {
    const info = parseCertificate(leaf.der);
    expect(info.signatureAlgorithm).toBe(OID.ed448);
    expect(decodePubKey(info.spki).alg).toBe("ed25519");
    expect(info.issuer).toEqual(parseCertificate(ca.der).subject);
    expect(x509Validate(ca.der, [leaf.der, ca.der])).toBeNull();
    expect(validateServerChain(sha256(ca.der), [leaf.der, ca.der])).toEqual({ ok: true });
  });

  test("a CA key that does not belong to the CA certificate is refused", () => {
    const other = ed448Ca();
    expect(() => generateServerCert({ der: ca.der, keyPem: other.keyPem }, "x")).toThrow(new CertificateError("the CA private key does not match the CA certificate"));
  });

  test("keys that cannot sign certificates are refused with a clear reason", () => {
    const x448 = toPem("PRIVATE KEY", encodePrivKey("x448", new Uint8Array(56).fill(7)));
    expect(() => certSigner(x448)).toThrow("an x448 key cannot sign certificates (Ed25519 or Ed448 only)");
    expect(() => certSigner("not a key")).toThrow("not an Ed25519 or Ed448 private key in PKCS#8 PEM");
  });
});
