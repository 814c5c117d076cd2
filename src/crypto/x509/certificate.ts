/**
 * In-process generation of the two certificates an SMP server needs (Server/CLI.hs:createServerX509_):
 * the offline CA, whose DER hash is the server identity, and the online TLS certificate it signs.
 * The reference shells out to openssl; we build the same X.509 v3 structures with node:crypto
 * Ed25519 keys so the single executable has no runtime dependency. New keys are always Ed25519:
 * Bun's TLS stack (BoringSSL) cannot serve an Ed448 key. A CA the reference made with Ed448 (its
 * old default, Server/CLI.hs:defaultX509Config) can still sign our Ed25519 online certificate — the
 * identity is the CA certificate, so the leaf's algorithm does not matter to clients.
 */
import { createPublicKey, generateKeyPairSync, KeyObject, randomBytes, sign } from "node:crypto";
import { decodePrivKey, encodePubKey, KeyDecodeError } from "../keys.ts";
import { SignPrivateKey } from "../sign.ts";
import {
  DerError,
  TAG,
  bitString,
  boolean,
  children,
  explicit,
  implicitPrimitive,
  namedBits,
  octetString,
  oid,
  oidToString,
  readElement,
  sequence,
  set,
  smallInteger,
  time,
  unsignedInteger,
  utf8String,
} from "./der.ts";

export const OID = {
  ed25519: "1.3.101.112",
  ed448: "1.3.101.113",
  commonName: "2.5.4.3",
  organizationName: "2.5.4.10",
  subjectKeyIdentifier: "2.5.29.14",
  keyUsage: "2.5.29.15",
  basicConstraints: "2.5.29.19",
  authorityKeyIdentifier: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
  serverAuth: "1.3.6.1.5.5.7.3.1",
} as const;

/** Names used by the reference's openssl_ca.conf. */
export const CA_COMMON_NAME = "SMP server CA";
export const CA_ORGANIZATION = "SimpleX";

/** The reference signs with `-days 999999`; such a far notAfter means the certificates never need renewal. */
export const VALIDITY_DAYS = 999999;
/** notBefore is backdated so a peer whose clock is a little behind still accepts a fresh certificate. */
const CLOCK_SKEW_MS = 60 * 60 * 1000;

const KEY_USAGE = { digitalSignature: 0, nonRepudiation: 1, keyAgreement: 4, keyCertSign: 5, cRLSign: 6 } as const;

export class CertificateError extends Error {
  override name = "CertificateError";
}

export interface GeneratedCertificate {
  der: Uint8Array;
  pem: string;
  /** PKCS#8 PEM of the certificate's private key. */
  keyPem: string;
}

export interface GenerateOptions {
  /** Issue time (tests); defaults to now. */
  now?: Date;
}

// ---------------------------------------------------------------- PEM

export function toPem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** DER of every `label` block in `pem`, in order. */
export function pemBlocks(pem: string, label = "CERTIFICATE"): Uint8Array[] {
  const re = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]*?)-----END ${label}-----`, "g");
  const out: Uint8Array[] = [];
  for (const m of pem.matchAll(re)) out.push(new Uint8Array(Buffer.from(m[1].replace(/\s+/g, ""), "base64")));
  return out;
}

/** DER of the single `label` block in `pem`. */
export function pemToDer(pem: string, label = "CERTIFICATE"): Uint8Array {
  const blocks = pemBlocks(pem, label);
  if (blocks.length !== 1) throw new CertificateError(`expected exactly one ${label} in PEM, found ${blocks.length}`);
  return blocks[0];
}

// ---------------------------------------------------------------- building

export function name(cn: string, o?: string): Uint8Array {
  // openssl (default string_mask utf8only) writes each RDN as its own SET with a UTF8String;
  // matching that keeps issuer/subject byte-identical to certificates the reference made.
  const rdn = (type: string, value: string) => set(sequence(oid(type), utf8String(value)));
  return o === undefined ? sequence(rdn(OID.commonName, cn)) : sequence(rdn(OID.commonName, cn), rdn(OID.organizationName, o));
}

export function extension(id: string, critical: boolean, value: Uint8Array): Uint8Array {
  return critical ? sequence(oid(id), boolean(true), octetString(value)) : sequence(oid(id), octetString(value));
}

/** RFC 5280 4.2.1.2 method (1), as openssl's `subjectKeyIdentifier = hash`: SHA-1 of the subjectPublicKey bits. */
export function keyIdentifier(spki: Uint8Array): Uint8Array {
  const [, keyBits] = children(readElement(spki).content);
  if (keyBits === undefined || keyBits.tag !== TAG.BIT_STRING) throw new CertificateError("malformed SubjectPublicKeyInfo");
  return new Uint8Array(new Bun.CryptoHasher("sha1").update(keyBits.content.subarray(1)).digest());
}

function serialNumber(): Uint8Array {
  const b = new Uint8Array(randomBytes(20));
  b[0] &= 0x7f; // positive, and at most 20 octets (RFC 5280 4.1.2.2)
  if (b[0] === 0) b[0] = 1;
  return unsignedInteger(b);
}

export function spkiOf(key: KeyObject): Uint8Array {
  return new Uint8Array(createPublicKey(key).export({ type: "spki", format: "der" }));
}

export interface TbsInput {
  issuer: Uint8Array;
  subject: Uint8Array;
  spki: Uint8Array;
  extensions: Uint8Array[];
  now: Date;
  /** Default VALIDITY_DAYS. */
  validityDays?: number;
}

/** How the signer signs: its AlgorithmIdentifier and the digest node:crypto `sign` takes (null for EdDSA). */
export interface SignatureAlgorithm {
  oid: string;
  digest: string | null;
}

const ED25519_SIGNATURE: SignatureAlgorithm = { oid: OID.ed25519, digest: null };

/** An Edwards signing key read from PEM (Ed25519 or Ed448): its algorithm decides the signatureAlgorithm. */
export interface CertSigner {
  readonly key: SignPrivateKey;
  /** DER SubjectPublicKeyInfo of the key. */
  readonly spki: Uint8Array;
}

/** A PKCS#8 PEM private key as openssl or node write it, Ed25519 or Ed448 (node:crypto has no Ed448 here). */
export function certSigner(keyPem: string): CertSigner {
  let k;
  try {
    k = decodePrivKey(pemToDer(keyPem, "PRIVATE KEY"));
  } catch (e) {
    if (e instanceof CertificateError || e instanceof KeyDecodeError) throw new CertificateError("not an Ed25519 or Ed448 private key in PKCS#8 PEM");
    throw e;
  }
  if (k.alg !== "ed25519" && k.alg !== "ed448") throw new CertificateError(`an ${k.alg} key cannot sign certificates (Ed25519 or Ed448 only)`);
  const key = new SignPrivateKey(k.alg, k.raw);
  return { key, spki: encodePubKey(key.alg, key.publicRaw) };
}

/** `alg` applies to a KeyObject signer; a CertSigner signs with its own algorithm. */
export function signCertificate(tbsInput: TbsInput, signer: KeyObject | CertSigner, alg: SignatureAlgorithm = ED25519_SIGNATURE): Uint8Array {
  const notBefore = new Date(tbsInput.now.getTime() - CLOCK_SKEW_MS);
  const notAfter = new Date(tbsInput.now.getTime() + (tbsInput.validityDays ?? VALIDITY_DAYS) * 86400_000);
  const native = signer instanceof KeyObject;
  const algorithm = sequence(oid(native ? alg.oid : signer.key.alg === "ed448" ? OID.ed448 : OID.ed25519));
  const tbs = sequence(
    explicit(0, smallInteger(2)), // v3
    serialNumber(),
    algorithm,
    tbsInput.issuer,
    sequence(time(notBefore), time(notAfter)),
    tbsInput.subject,
    tbsInput.spki,
    explicit(3, sequence(...tbsInput.extensions)),
  );
  const signature = native ? new Uint8Array(sign(alg.digest, tbs, signer)) : signer.key.sign(tbs);
  return sequence(tbs, algorithm, bitString(signature));
}

function newEd25519(): { key: KeyObject; keyPem: string; spki: Uint8Array } {
  const { privateKey } = generateKeyPairSync("ed25519");
  return { key: privateKey, keyPem: privateKey.export({ type: "pkcs8", format: "pem" }) as string, spki: spkiOf(privateKey) };
}

/** Self-signed offline CA: CN "SMP server CA", O "SimpleX", SKI/AKI by hash, basicConstraints critical CA:true. */
export function generateCa(opts: GenerateOptions = {}): GeneratedCertificate {
  const { key, keyPem, spki } = newEd25519();
  const ski = keyIdentifier(spki);
  const dn = name(CA_COMMON_NAME, CA_ORGANIZATION);
  const der = signCertificate(
    {
      issuer: dn,
      subject: dn,
      spki,
      extensions: [
        extension(OID.subjectKeyIdentifier, false, octetString(ski)),
        extension(OID.authorityKeyIdentifier, false, sequence(implicitPrimitive(0, ski))),
        extension(OID.basicConstraints, true, sequence(boolean(true))),
        extension(OID.keyUsage, true, namedBits([KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign])),
      ],
      now: opts.now ?? new Date(),
    },
    key,
  );
  return { der, pem: toPem("CERTIFICATE", der), keyPem };
}

/**
 * Online TLS certificate signed by the CA (openssl_server.conf `[v3]`): CN = FQDN or IP,
 * basicConstraints CA:FALSE, keyUsage digitalSignature/nonRepudiation/keyAgreement, EKU serverAuth.
 * Works with a CA made by the reference too: the issuer is copied byte for byte from the CA's subject,
 * and an Ed448 CA key signs with Ed448 (the new certificate's own key is Ed25519 all the same).
 */
export function generateServerCert(
  ca: { der: Uint8Array; keyPem: string },
  commonName: string,
  opts: GenerateOptions = {},
): GeneratedCertificate {
  if (commonName.length === 0) throw new CertificateError("certificate common name must not be empty");
  const caInfo = parseCertificate(ca.der);
  let caKey: CertSigner;
  try {
    caKey = certSigner(ca.keyPem);
  } catch (e) {
    throw new CertificateError(`cannot read the CA private key: ${(e as Error).message}`);
  }
  if (!Buffer.from(caKey.spki).equals(Buffer.from(caInfo.spki))) throw new CertificateError("the CA private key does not match the CA certificate");
  const caKeyId = caInfo.subjectKeyId ?? keyIdentifier(caInfo.spki);
  const { keyPem, spki } = newEd25519();
  const der = signCertificate(
    {
      issuer: caInfo.subject,
      subject: name(commonName),
      spki,
      extensions: [
        extension(OID.basicConstraints, false, sequence()),
        extension(OID.keyUsage, false, namedBits([KEY_USAGE.digitalSignature, KEY_USAGE.nonRepudiation, KEY_USAGE.keyAgreement])),
        extension(OID.extKeyUsage, false, sequence(oid(OID.serverAuth))),
        extension(OID.subjectKeyIdentifier, false, octetString(keyIdentifier(spki))),
        extension(OID.authorityKeyIdentifier, false, sequence(implicitPrimitive(0, caKeyId))),
      ],
      now: opts.now ?? new Date(),
    },
    caKey,
  );
  return { der, pem: toPem("CERTIFICATE", der), keyPem };
}

// ---------------------------------------------------------------- reading

export interface CertificateInfo {
  /** DER of the subject Name. */
  subject: Uint8Array;
  issuer: Uint8Array;
  subjectCommonName?: string;
  /** DER SubjectPublicKeyInfo. */
  spki: Uint8Array;
  signatureAlgorithm: string;
  subjectKeyId?: Uint8Array;
  extensions: Map<string, { critical: boolean; value: Uint8Array }>;
}

/** The fields `cert` and the tests need; throws CertificateError on anything that is not a v3 certificate. */
export function parseCertificate(der: Uint8Array): CertificateInfo {
  try {
    const cert = readElement(der);
    if (cert.tag !== TAG.SEQUENCE || cert.end !== der.length) throw new CertificateError("not a DER certificate");
    const [tbs, sigAlg, signature] = children(cert.content);
    // X.509 SignedExact (and crypton-x509's decodeSignedObject): TBS, algorithm, signature bits.
    if (signature?.tag !== TAG.BIT_STRING) throw new CertificateError("certificate without a signature");
    const f = children(tbs.content);
    // [version,] serial, signature, issuer, validity, subject, spki, [extensions]; version is absent in v1
    const hasVersion = f[0]?.tag === 0xa0;
    const base = hasVersion ? 1 : 0;
    const [issuer, subject, spki] = [f[base + 2], f[base + 4], f[base + 5]];
    if (spki === undefined || sigAlg === undefined) throw new CertificateError("truncated certificate");
    const extensions = new Map<string, { critical: boolean; value: Uint8Array }>();
    const extWrapper = f.slice(base + 6).find((e) => e.tag === 0xa3);
    if (extWrapper !== undefined) {
      for (const ext of children(readElement(extWrapper.content).content)) {
        const parts = children(ext.content);
        const critical = parts.length === 3 && parts[1].tag === TAG.BOOLEAN && parts[1].content[0] !== 0;
        extensions.set(oidToString(parts[0].content), { critical, value: parts[parts.length - 1].content });
      }
    }
    const skiExt = extensions.get(OID.subjectKeyIdentifier);
    return {
      subject: subject.raw,
      issuer: issuer.raw,
      subjectCommonName: commonNameOf(subject.content),
      spki: spki.raw,
      signatureAlgorithm: oidToString(children(sigAlg.content)[0].content),
      subjectKeyId: skiExt ? readElement(skiExt.value).content : undefined,
      extensions,
    };
  } catch (e) {
    if (e instanceof CertificateError) throw e;
    if (e instanceof DerError || e instanceof TypeError) throw new CertificateError(`malformed certificate: ${e.message}`);
    throw e;
  }
}

function commonNameOf(nameContent: Uint8Array): string | undefined {
  for (const rdn of children(nameContent)) {
    for (const atv of children(rdn.content)) {
      const [type, value] = children(atv.content);
      if (oidToString(type.content) === OID.commonName) return new TextDecoder().decode(value.content);
    }
  }
  return undefined;
}
