/**
 * Long-term certificates of service clients (notification servers, chat relays, bots), made as
 * the reference makes them (Transport/Credentials.hs:genCredentials): Ed25519, a CN-only subject,
 * serial 1 and no extensions, self-signed or issued by a parent. Unlike the server's CA, such a
 * certificate carries no keyUsage, so TLS stacks accept it as a client certificate.
 *
 * A service's identity is the SHA-256 of its identity certificate: the certificate itself when
 * the chain has one, else the second of the chain (Transport.hs:getClientService).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { bitString, explicit, oid, sequence, set, smallInteger, time, utf8String } from "./der.ts";
import { CertificateError, OID, parseCertificate, toPem, type GeneratedCertificate } from "./certificate.ts";

export interface ServiceCertOptions {
  /** Issuer (its certificate and PKCS#8 PEM key); self-signed when absent. */
  readonly parent?: { readonly der: Uint8Array; readonly keyPem: string };
  /** Validity around `now`, in hours (genCredentials' `(before, after)`); default (0, 2400). */
  readonly hoursBefore?: number;
  readonly hoursAfter?: number;
  readonly now?: Date;
}

function commonName(cn: string): Uint8Array {
  return sequence(set(sequence(oid(OID.commonName), utf8String(cn))));
}

/** Generates a service (client) certificate for `subjectName`; returns it with its key. */
export function generateServiceCert(subjectName: string, opts: ServiceCertOptions = {}): GeneratedCertificate {
  if (subjectName.length === 0) throw new CertificateError("certificate common name must not be empty");
  const { privateKey } = generateKeyPairSync("ed25519");
  const subject = commonName(subjectName);
  let issuer = subject;
  let signer: KeyObject = privateKey;
  if (opts.parent !== undefined) {
    issuer = parseCertificate(opts.parent.der).subject;
    signer = createPrivateKey(opts.parent.keyPem);
    if (signer.asymmetricKeyType !== "ed25519") throw new CertificateError("the issuer key must be Ed25519");
  }
  // Whole seconds: the certificate encoding drops fractions.
  const now = Math.floor((opts.now ?? new Date()).getTime() / 1000) * 1000;
  const hour = 3600_000;
  const algorithm = sequence(oid(OID.ed25519));
  const spki = new Uint8Array(createPublicKey(privateKey).export({ type: "spki", format: "der" }));
  const tbs = sequence(
    explicit(0, smallInteger(2)), // v3
    smallInteger(1),
    algorithm,
    issuer,
    sequence(time(new Date(now - (opts.hoursBefore ?? 0) * hour)), time(new Date(now + (opts.hoursAfter ?? 2400) * hour))),
    subject,
    spki,
  );
  const der = sequence(tbs, algorithm, bitString(new Uint8Array(sign(null, tbs, signer))));
  return { der, pem: toPem("CERTIFICATE", der), keyPem: privateKey.export({ type: "pkcs8", format: "pem" }) as string };
}
