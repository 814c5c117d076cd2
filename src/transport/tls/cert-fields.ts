/**
 * The X.509 fields chain validation looks at (Transport/Shared.hs:x509validate →
 * crypton-x509-validation): signed bytes, version, names as raw DER (compared byte for byte:
 * DER makes equal names equal bytes), validity, key, signature, basicConstraints, keyUsage.
 */
import { children, oidToString, readElement, type Element } from "../../crypto/x509/der.ts";

export class CertFieldsError extends Error {
  override name = "CertFieldsError";
}

export interface CertFields {
  der: Uint8Array;
  /** The DER TBSCertificate: what the issuer signed. */
  tbs: Uint8Array;
  /** 1, 2 or 3. */
  version: number;
  issuer: Uint8Array;
  subject: Uint8Array;
  /** Validity bounds, ms since the epoch. */
  notBefore: number;
  notAfter: number;
  spki: Uint8Array;
  /** OID of the outer signatureAlgorithm. */
  signatureAlgorithm: string;
  signature: Uint8Array;
  /** null = extension absent. */
  basicConstraints: { ca: boolean; pathLen: number | null } | null;
  /** keyUsage bits (bit n of RFC 5280 §4.2.1.3 = 1 << n); null = extension absent. */
  keyUsage: number | null;
}

export const KEY_USAGE_KEY_CERT_SIGN = 1 << 5;

const OID_BASIC_CONSTRAINTS = "2.5.29.19";
const OID_KEY_USAGE = "2.5.29.15";

function expect(e: Element | undefined, tag: number, what: string): Element {
  if (e === undefined || e.tag !== tag) throw new CertFieldsError(`malformed certificate: ${what}`);
  return e;
}

function smallInt(content: Uint8Array): number {
  if (content.length === 0 || content.length > 4 || content[0] & 0x80) throw new CertFieldsError("malformed certificate: integer");
  let v = 0;
  for (const b of content) v = v * 256 + b;
  return v;
}

/** UTCTime (YYMMDDHHMMSSZ, years 1950–2049) or GeneralizedTime (YYYYMMDDHHMMSSZ). */
function parseTime(e: Element): number {
  const s = new TextDecoder().decode(e.content);
  const m = e.tag === 0x17 ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s) : e.tag === 0x18 ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s) : null;
  if (m === null) throw new CertFieldsError("malformed certificate: time");
  let year = Number(m[1]);
  if (e.tag === 0x17) year += year >= 50 ? 1900 : 2000;
  const t = Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  if (Number.isNaN(t)) throw new CertFieldsError("malformed certificate: time");
  return t;
}

function parseBasicConstraints(value: Uint8Array): { ca: boolean; pathLen: number | null } {
  const items = children(expect(readElement(value), 0x30, "basicConstraints").content);
  let i = 0;
  let ca = false;
  if (items[i]?.tag === 0x01) ca = items[i++].content[0] !== 0;
  const pathLen = items[i]?.tag === 0x02 ? smallInt(items[i].content) : null;
  return { ca, pathLen };
}

function parseKeyUsage(value: Uint8Array): number {
  const bits = expect(readElement(value), 0x03, "keyUsage").content;
  let mask = 0;
  for (let n = 0; n < 16 && 1 + (n >> 3) < bits.length; n++) if (bits[1 + (n >> 3)] & (0x80 >> (n & 7))) mask |= 1 << n;
  return mask;
}

export function readCertFields(der: Uint8Array): CertFields {
  try {
    const cert = expect(readElement(der), 0x30, "Certificate");
    if (cert.end !== der.length) throw new CertFieldsError("malformed certificate: trailing bytes");
    const [tbsEl, sigAlgEl, sigEl] = children(cert.content);
    const tbs = expect(tbsEl, 0x30, "TBSCertificate");
    const sigAlg = expect(sigAlgEl, 0x30, "signatureAlgorithm");
    const sig = expect(sigEl, 0x03, "signature");
    if (sig.content.length < 1 || sig.content[0] !== 0) throw new CertFieldsError("malformed certificate: signature bits");
    const f = children(tbs.content);
    let i = 0;
    let version = 1;
    if (f[0]?.tag === 0xa0) {
      version = smallInt(expect(readElement(f[0].content), 0x02, "version").content) + 1;
      i = 1;
    }
    expect(f[i++], 0x02, "serialNumber");
    expect(f[i++], 0x30, "signature");
    const issuer = expect(f[i++], 0x30, "issuer");
    const validity = children(expect(f[i++], 0x30, "validity").content);
    if (validity.length !== 2) throw new CertFieldsError("malformed certificate: validity");
    const subject = expect(f[i++], 0x30, "subject");
    const spki = expect(f[i++], 0x30, "subjectPublicKeyInfo");
    let basicConstraints: CertFields["basicConstraints"] = null;
    let keyUsage: number | null = null;
    const extWrapper = f.slice(i).find((e) => e.tag === 0xa3);
    if (extWrapper !== undefined) {
      for (const ext of children(expect(readElement(extWrapper.content), 0x30, "extensions").content)) {
        const parts = children(ext.content);
        const id = oidToString(expect(parts[0], 0x06, "extension id").content);
        const value = expect(parts[parts.length - 1], 0x04, "extension value").content;
        if (id === OID_BASIC_CONSTRAINTS) basicConstraints = parseBasicConstraints(value);
        else if (id === OID_KEY_USAGE) keyUsage = parseKeyUsage(value);
      }
    }
    return {
      der,
      tbs: tbs.raw,
      version,
      issuer: issuer.raw,
      subject: subject.raw,
      notBefore: parseTime(validity[0]),
      notAfter: parseTime(validity[1]),
      spki: spki.raw,
      signatureAlgorithm: oidToString(expect(children(sigAlg.content)[0], 0x06, "algorithm").content),
      signature: sig.content.subarray(1),
      basicConstraints,
      keyUsage,
    };
  } catch (e) {
    if (e instanceof CertFieldsError) throw e;
    throw new CertFieldsError(`malformed certificate: ${(e as Error).message}`);
  }
}
