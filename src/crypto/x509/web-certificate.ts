/**
 * A self-signed certificate for the server's web pages (`smp-server init --web-cert self-signed`,
 * ours): ECDSA P-384, which every browser accepts (Ed25519, used for SMP, is not accepted by
 * browsers), with the host in subjectAltName as browsers require. Browsers still warn about a
 * self-signed certificate: it makes HTTPS work out of the box until the operator installs one
 * from a CA (the reference asks for Let's Encrypt).
 */
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { isIP } from "node:net";
import { namedBits, octetString, oid, sequence, implicitPrimitive } from "./der.ts";
import { CertificateError, OID, extension, keyIdentifier, name, signCertificate, spkiOf, toPem, type GeneratedCertificate, type GenerateOptions } from "./certificate.ts";

const ECDSA_WITH_SHA384 = "1.2.840.10045.4.3.3";
const SUBJECT_ALT_NAME = "2.5.29.17";
/** Ten years: a self-signed certificate is trusted by exception, not by its dates. */
export const WEB_VALIDITY_DAYS = 3650;

/** GeneralName: dNSName [2] or iPAddress [7] (RFC 5280 4.2.1.6). */
function generalName(host: string): Uint8Array {
  const v = isIP(host);
  if (v === 4) return implicitPrimitive(7, Uint8Array.from(host.split(".").map(Number)));
  if (v === 6) return implicitPrimitive(7, ipv6Bytes(host));
  return implicitPrimitive(2, new TextEncoder().encode(host));
}

function ipv6Bytes(address: string): Uint8Array {
  // URL normalises to hex groups (an embedded IPv4 part becomes two groups) and rejects zones.
  const host = new URL(`http://[${address}]`).hostname.slice(1, -1);
  const [head, tail] = host.includes("::") ? host.split("::") : [host, undefined];
  const words = (s: string | undefined) => (s === undefined || s === "" ? [] : s.split(":").map((w) => parseInt(w, 16)));
  const h = words(head);
  const t = words(tail);
  const all = tail === undefined ? h : [...h, ...new Array(8 - h.length - t.length).fill(0), ...t];
  const out = new Uint8Array(16);
  all.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

/** `hosts`: names and IP addresses the site is reached at; the first is the subject CN. */
export function generateWebCertificate(hosts: readonly string[], opts: GenerateOptions = {}): GeneratedCertificate {
  if (hosts.length === 0 || hosts.some((h) => h.length === 0)) throw new CertificateError("the web certificate needs a host name or IP address");
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-384" });
  const key: KeyObject = privateKey;
  const spki = spkiOf(key);
  const dn = name(hosts[0]!);
  const der = signCertificate(
    {
      issuer: dn,
      subject: dn,
      spki,
      extensions: [
        extension(OID.basicConstraints, true, sequence()),
        extension(OID.keyUsage, true, namedBits([0])), // digitalSignature
        extension(OID.extKeyUsage, false, sequence(oid(OID.serverAuth))),
        extension(SUBJECT_ALT_NAME, false, sequence(...hosts.map(generalName))),
        extension(OID.subjectKeyIdentifier, false, octetString(keyIdentifier(spki))),
      ],
      now: opts.now ?? new Date(),
      validityDays: WEB_VALIDITY_DAYS,
    },
    key,
    { oid: ECDSA_WITH_SHA384, digest: "sha384" },
  );
  return { der, pem: toPem("CERTIFICATE", der), keyPem: key.export({ type: "pkcs8", format: "pem" }) as string };
}
