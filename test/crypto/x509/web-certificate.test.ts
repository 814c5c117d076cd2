// The self-signed web certificate's subjectAltName: names as dNSName, addresses as iPAddress bytes
// (RFC 5280 4.2.1.6), read back by node:crypto's own X.509 parser.
import { expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { CertificateError } from "../../../src/crypto/x509/certificate.ts";
import { generateWebCertificate } from "../../../src/crypto/x509/web-certificate.ts";

test("IPv4 and IPv6 hosts (with `::` and an embedded IPv4 tail) become iPAddress entries", () => {
  const c = generateWebCertificate(["smp.example", "::ffff:1.2.3.4", "2001:db8::1", "::", "192.0.2.1"]);
  expect(new X509Certificate(c.pem).subjectAltName).toBe(
    "DNS:smp.example, IP Address:0:0:0:0:0:FFFF:102:304, IP Address:2001:DB8:0:0:0:0:0:1, IP Address:0:0:0:0:0:0:0:0, IP Address:192.0.2.1",
  );
});

test("an IPv6 address with a zone id cannot be named: a CertificateError saying so", () => {
  expect(() => generateWebCertificate(["fe80::1%eth0"])).toThrow(CertificateError);
  expect(() => generateWebCertificate(["fe80::1%eth0"])).toThrow("zone id");
});
