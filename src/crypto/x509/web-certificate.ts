/**
 * A self-signed certificate for the server's web pages (`smp-server init --web-cert self-signed`,
 * ours): ECDSA P-384, which every browser accepts (Ed25519, used for SMP, is not accepted by
 * browsers), with the host in subjectAltName as browsers require. Browsers still warn about a
 * self-signed certificate: it makes HTTPS work out of the box until the operator installs one
 * from a CA (the reference asks for Let's Encrypt).
 */
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { isIP } from "node:net";
import { ipv6Bytes } from "../../encoding/ip-address.ts";
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
  if (v === 6) {
    const b = ipv6Bytes(host);
    if (b === null) throw new CertificateError(`the web certificate cannot name ${host}: an IPv6 address with a zone id`);
    return implicitPrimitive(7, b);
  }
  return implicitPrimitive(2, new TextEncoder().encode(host));
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
