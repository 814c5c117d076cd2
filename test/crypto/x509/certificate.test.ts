import { describe, expect, test } from "bun:test";
import { X509Certificate, createPublicKey } from "node:crypto";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CertificateError,
  OID,
  generateCa,
  generateServerCert,
  parseCertificate,
  pemToDer,
} from "../../../src/crypto/x509/certificate.ts";
import { sha256 } from "../../../src/crypto/digest.ts";
import { hex, loadVectors, toHex } from "../../vectors.ts";

// Reference certificates (openssl per Server/CLI.hs:createServerX509_), tests/fixtures/ed25519.
const fixtures = loadVectors("handshake.json").fixtures;
const refCa = parseCertificate(hex(fixtures.ca_crt_der));
const refServer = parseCertificate(hex(fixtures.server_crt_der));

const OPENSSL = "/usr/bin/openssl";
const hasOpenssl = existsSync(OPENSSL);
if (!hasOpenssl) console.warn(`SKIP: ${OPENSSL} not found, openssl cross-checks are skipped`);

function openssl(...args: string[]): { code: number; out: string } {
  const r = Bun.spawnSync([OPENSSL, ...args], { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode ?? -1, out: r.stdout.toString() + r.stderr.toString() };
}

const ca = generateCa();
const server = generateServerCert(ca, "smp.example.com");
const dir = mkdtempSync(join(tmpdir(), "smp-x509-"));
writeFileSync(join(dir, "ca.crt"), ca.pem);
writeFileSync(join(dir, "server.crt"), server.pem);

describe("generated certificates match the reference's shape", () => {
  test("CA subject and issuer are byte-identical to the reference CA's (CN=SMP server CA, O=SimpleX)", () => {
    const c = parseCertificate(ca.der);
    expect(toHex(c.subject)).toBe(toHex(refCa.subject));
    expect(toHex(c.issuer)).toBe(toHex(refCa.subject));
    expect(c.signatureAlgorithm).toBe(OID.ed25519);
  });

  test("CA: basicConstraints critical CA:true, SKI = SHA-1 of the key, AKI keyid = SKI", () => {
    const c = parseCertificate(ca.der);
    const bc = c.extensions.get(OID.basicConstraints)!;
    const refBc = refCa.extensions.get(OID.basicConstraints)!;
    expect(bc.critical).toBe(true);
    expect(toHex(bc.value)).toBe(toHex(refBc.value));
    const raw = c.spki.subarray(c.spki.length - 32);
    const sha1 = new Uint8Array(new Bun.CryptoHasher("sha1").update(raw).digest());
    expect(toHex(c.subjectKeyId!)).toBe(toHex(sha1));
    // AKI = SEQUENCE { [0] keyIdentifier }
    expect(toHex(c.extensions.get(OID.authorityKeyIdentifier)!.value)).toBe("30168014" + toHex(sha1));
  });

  test("server: issuer = CA subject; basicConstraints, keyUsage, EKU values equal the reference's", () => {
    const s = parseCertificate(server.der);
    expect(toHex(s.issuer)).toBe(toHex(parseCertificate(ca.der).subject));
    expect(s.subjectCommonName).toBe("smp.example.com");
    for (const id of [OID.basicConstraints, OID.keyUsage, OID.extKeyUsage]) {
      const ours = s.extensions.get(id)!;
      const ref = refServer.extensions.get(id)!;
      expect({ id, critical: ours.critical, value: toHex(ours.value) }).toEqual({ id, critical: ref.critical, value: toHex(ref.value) });
    }
    const caKeyId = parseCertificate(ca.der).subjectKeyId!;
    expect(toHex(s.extensions.get(OID.authorityKeyIdentifier)!.value)).toBe("30168014" + toHex(caKeyId));
    expect(s.subjectKeyId?.length).toBe(20);
  });

  test("the reference fixture parses: CN and key identifiers", () => {
    expect(refServer.subjectCommonName).toBe("localhost");
    expect(refCa.subjectCommonName).toBe("SMP server CA");
    expect(toHex(refCa.subjectKeyId!)).toBe("94910ec451bc0c9685132b5df5b4029b3015b207");
    // identity = SHA-256 of the CA certificate DER (Transport/Server.hs:loadFingerprint)
    expect(toHex(sha256(hex(fixtures.ca_crt_der)))).toBe(fixtures.key_hash_sha256_ca);
  });
});

describe("verification", () => {
  test("node:crypto X509Certificate: server verifies with the CA key, CA self-verifies", () => {
    const caX = new X509Certificate(ca.pem);
    const srvX = new X509Certificate(server.pem);
    expect(caX.ca).toBe(true);
    expect(srvX.ca).toBe(false);
    expect(caX.verify(caX.publicKey)).toBe(true);
    expect(srvX.verify(caX.publicKey)).toBe(true);
    expect(srvX.verify(new X509Certificate(generateCa().pem).publicKey)).toBe(false);
    expect(srvX.checkIssued(caX)).toBe(true);
    // validity: starts no later than now, ends ~999999 days later (year 4700+)
    expect(new Date(srvX.validFrom).getTime()).toBeLessThanOrEqual(Date.now());
    expect(new Date(srvX.validTo).getUTCFullYear()).toBeGreaterThan(4700);
  });

  test("the certificate key is the one in server.key", () => {
    const spki = new Uint8Array(createPublicKey(server.keyPem).export({ type: "spki", format: "der" }));
    expect(toHex(parseCertificate(server.der).spki)).toBe(toHex(spki));
  });

  test.skipIf(!hasOpenssl)("openssl parses both certificates and shows the extensions", () => {
    const c = openssl("x509", "-in", join(dir, "ca.crt"), "-text", "-noout");
    expect(c.code).toBe(0);
    expect(c.out).toContain("Issuer: CN = SMP server CA, O = SimpleX");
    expect(c.out).toMatch(/Basic Constraints: critical\s+CA:TRUE/);
    expect(c.out).toContain("X509v3 Subject Key Identifier");
    expect(c.out).toContain("X509v3 Authority Key Identifier");
    const s = openssl("x509", "-in", join(dir, "server.crt"), "-text", "-noout");
    expect(s.code).toBe(0);
    expect(s.out).toContain("Subject: CN = smp.example.com");
    expect(s.out).toMatch(/Basic Constraints:\s+CA:FALSE/);
    expect(s.out).toContain("Digital Signature, Non Repudiation, Key Agreement");
    expect(s.out).toContain("TLS Web Server Authentication");
    expect(s.out).toContain("Signature Algorithm: ED25519");
  });

  test.skipIf(!hasOpenssl)("openssl verify: chain validates with its CA (strict), fails with another CA", () => {
    const ok = openssl("verify", "-x509_strict", "-CAfile", join(dir, "ca.crt"), join(dir, "server.crt"));
    expect(ok.out).toContain("server.crt: OK");
    expect(ok.code).toBe(0);
    writeFileSync(join(dir, "other.crt"), generateCa().pem);
    const bad = openssl("verify", "-CAfile", join(dir, "other.crt"), join(dir, "server.crt"));
    expect(bad.code).not.toBe(0);
  });
});

describe("errors", () => {
  test("issuing with a CA key that does not match the CA certificate fails", () => {
    const other = generateCa();
    expect(() => generateServerCert({ der: ca.der, keyPem: other.keyPem }, "x")).toThrow(/does not match/);
    expect(() => generateServerCert(ca, "")).toThrow(CertificateError);
  });

  test("malformed input is a CertificateError, not a crash", () => {
    expect(() => parseCertificate(ca.der.subarray(0, 100))).toThrow(CertificateError);
    expect(() => parseCertificate(Uint8Array.of(0x30, 0x00))).toThrow(CertificateError);
    expect(() => pemToDer("no pem here")).toThrow(CertificateError);
    expect(toHex(pemToDer(ca.pem))).toBe(toHex(ca.der));
  });

  test("serial numbers are random, positive and at most 20 octets", () => {
    const serials = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const x = new X509Certificate(generateCa().pem);
      serials.add(x.serialNumber);
      expect(x.serialNumber.length).toBeLessThanOrEqual(40);
    }
    expect(serials.size).toBe(4);
  });
});
