/**
 * Chain rules of Transport/Shared.hs (chainIdCaCerts, x509validate = crypton-x509-validation
 * `validate` with checkFQHN off and the chain's CA as the only trusted certificate),
 * Transport/Server.hs:validateClientCertificate and Transport/Client.hs:validateCertificateChain,
 * on certificates made by the openssl CLI as `smp-server init` makes them.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sha256 } from "../../../src/crypto/digest.ts";
import { readCertFields } from "../../../src/transport/tls/cert-fields.ts";
import {
  chainIdCaCerts,
  validateClientChain,
  validateServerChain,
  x509Validate,
} from "../../../src/transport/tls/chain-validation.ts";
import { CertDir, type Issued } from "./certs.ts";

let certs: CertDir;
let ca: Issued;
let server: Issued;
let intermediate: Issued;
let deepLeaf: Issued;
let network: Issued;
let fourLeaf: Issued;
let sameNameCa: Issued;
let forged: Issued;
let notCa: Issued;
let underNotCa: Issued;
let v1: Issued;
let self: Issued;

beforeAll(() => {
  certs = new CertDir();
  ca = certs.ca("ca");
  server = certs.issue("server", ca, { cn: "localhost" });
  intermediate = certs.issue("intermediate", ca, { cn: "operator", asCa: true });
  deepLeaf = certs.issue("deep-leaf", intermediate);
  network = certs.issue("network", intermediate, { cn: "network", asCa: true });
  fourLeaf = certs.issue("four-leaf", network);
  sameNameCa = certs.ca("same-name-ca"); // same subject as `ca`, different key
  forged = certs.issue("forged", sameNameCa, { cn: "localhost" });
  notCa = certs.issue("not-ca", ca, { cn: "not a CA" }); // CA:FALSE, keyUsage without keyCertSign
  underNotCa = certs.issue("under-not-ca", notCa);
  v1 = certs.issue("v1", ca, { v1: true });
  self = certs.selfSigned("self");
});

afterAll(() => certs.remove());

test("openssl made the certificates we think it made", () => {
  expect(readCertFields(ca.der).basicConstraints).toEqual({ ca: true, pathLen: null });
  expect(readCertFields(server.der).basicConstraints).toEqual({ ca: false, pathLen: null });
  expect(readCertFields(notCa.der).keyUsage).toBe(0b10011); // digitalSignature, nonRepudiation, keyAgreement
  expect(readCertFields(v1.der).version).toBe(1);
  expect(readCertFields(server.der).version).toBe(3);
  expect(readCertFields(server.der).issuer).toEqual(readCertFields(ca.der).subject);
});

describe("x509validate", () => {
  test("[server, ca] against ca → valid", () => {
    expect(x509Validate(ca.der, [server.der, ca.der])).toBeNull();
  });

  test("3 and 4 certificates: issuers found by name through the chain", () => {
    expect(x509Validate(ca.der, [deepLeaf.der, intermediate.der, ca.der])).toBeNull();
    expect(x509Validate(ca.der, [fourLeaf.der, network.der, intermediate.der, ca.der])).toBeNull();
    // not strictly ordered: crypton searches the rest of the chain (checkStrictOrdering = False)
    expect(x509Validate(ca.der, [fourLeaf.der, intermediate.der, network.der, ca.der])).toBeNull();
  });

  test("signed by another key under the same CA name → InvalidSignature", () => {
    expect(x509Validate(ca.der, [forged.der, ca.der])).toBe("InvalidSignature");
  });

  test("tampered signature → InvalidSignature", () => {
    const bad = server.der.slice();
    bad[bad.length - 1] ^= 1;
    expect(x509Validate(ca.der, [bad, ca.der])).toBe("InvalidSignature");
  });

  test("issuer missing from the chain → UnknownCA", () => {
    expect(x509Validate(ca.der, [fourLeaf.der, intermediate.der, ca.der])).toBe("UnknownCA");
    expect(x509Validate(self.der, [server.der])).toBe("UnknownCA");
  });

  test("intermediate that is not a CA → NotAllowedToSign (keyUsage without keyCertSign)", () => {
    expect(x509Validate(ca.der, [underNotCa.der, notCa.der, ca.der])).toBe("NotAllowedToSign");
  });

  test("self-signed leaf not from the trust anchor → SelfSigned", () => {
    expect(x509Validate(ca.der, [self.der, ca.der])).toBe("SelfSigned");
  });

  test("X.509 v1 leaf → LeafNotV3", () => {
    expect(x509Validate(ca.der, [v1.der, ca.der])).toBe("LeafNotV3");
  });

  test("validity dates are checked", () => {
    const { notBefore, notAfter } = readCertFields(server.der);
    expect(x509Validate(ca.der, [server.der, ca.der], notBefore - 1000)).toBe("InFuture");
    expect(x509Validate(ca.der, [server.der, ca.der], notAfter + 1000)).toBe("Expired");
    expect(x509Validate(ca.der, [server.der, ca.der], notAfter - 1000)).toBeNull();
  });

  test("malformed DER → MalformedCertificate; empty → EmptyChain", () => {
    expect(x509Validate(ca.der, [server.der.subarray(0, 50), ca.der])).toBe("MalformedCertificate");
    expect(x509Validate(ca.der, [])).toBe("EmptyChain");
  });
});

test("chainIdCaCerts shapes", () => {
  const [a, b, c, d, e] = [server.der, intermediate.der, network.der, ca.der, self.der];
  expect(chainIdCaCerts([])).toEqual({ kind: "empty" });
  expect(chainIdCaCerts([a])).toEqual({ kind: "self", cert: a });
  expect(chainIdCaCerts([a, d])).toEqual({ kind: "valid", leafCert: a, idCert: d, caCert: d });
  expect(chainIdCaCerts([a, b, d])).toEqual({ kind: "valid", leafCert: a, idCert: b, caCert: d });
  expect(chainIdCaCerts([a, b, c, d])).toEqual({ kind: "valid", leafCert: a, idCert: b, caCert: d });
  expect(chainIdCaCerts([a, b, c, d, e])).toEqual({ kind: "long" });
});

describe("client certificates (server side)", () => {
  test("none → accepted", () => expect(validateClientChain([])).toEqual({ ok: true }));
  test("one validly self-signed → accepted; one not self-signed → rejected", () => {
    expect(validateClientChain([self.der])).toEqual({ ok: true });
    expect(validateClientChain([server.der])).toEqual({ ok: false, error: "UnknownCA" });
  });
  test("2–4 validated against the last", () => {
    expect(validateClientChain([server.der, ca.der])).toEqual({ ok: true });
    expect(validateClientChain([forged.der, ca.der])).toEqual({ ok: false, error: "InvalidSignature" });
    expect(validateClientChain([fourLeaf.der, network.der, intermediate.der, ca.der])).toEqual({ ok: true });
  });
  test("5 or more → rejected", () => {
    expect(validateClientChain([server.der, ca.der, ca.der, ca.der, ca.der])).toEqual({ ok: false, error: "chain too long" });
  });
});

describe("server chain and identity (client side)", () => {
  test("SHA-256 of the CA certificate = key hash → valid", () => {
    expect(validateServerChain(sha256(ca.der), [server.der, ca.der])).toEqual({ ok: true });
  });
  test("the identity certificate is the second one (operator certificate in a 3-chain)", () => {
    expect(validateServerChain(sha256(intermediate.der), [deepLeaf.der, intermediate.der, ca.der])).toEqual({ ok: true });
    expect(validateServerChain(sha256(ca.der), [deepLeaf.der, intermediate.der, ca.der])).toEqual({ ok: false, error: "UnknownCA" });
  });
  test("wrong key hash → UnknownCA, even for an otherwise valid chain", () => {
    expect(validateServerChain(sha256(server.der), [server.der, ca.der])).toEqual({ ok: false, error: "UnknownCA" });
  });
  test("matching key hash does not excuse a bad chain", () => {
    expect(validateServerChain(sha256(ca.der), [forged.der, ca.der])).toEqual({ ok: false, error: "InvalidSignature" });
  });
  test("1 certificate → EmptyChain, 5 → AuthorityTooDeep", () => {
    expect(validateServerChain(sha256(ca.der), [ca.der])).toEqual({ ok: false, error: "EmptyChain" });
    expect(validateServerChain(sha256(ca.der), [server.der, ca.der, ca.der, ca.der, ca.der])).toEqual({ ok: false, error: "AuthorityTooDeep" });
  });
});
