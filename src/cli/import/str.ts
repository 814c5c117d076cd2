/**
 * The reference's text encodings of its log files (Encoding/String.hs): ids, keys and secrets as
 * base64url with `=` padding (`base64urlP`: non-empty), integers in decimal, tuples separated by
 * one space, lists by commas, `Maybe` as nothing at all. `Cursor` parses one line the way the
 * attoparsec parsers do (literal prefixes, `strP_` = value then one space, `parseAll` = nothing
 * may be left); a failure names what was expected and where.
 */
import { base64url } from "../../encoding/base64.ts";
import { decodePubKey } from "../../crypto/keys.ts";
import { CertificateError, parseCertificate } from "../../crypto/x509/certificate.ts";

export class FormatError extends Error {
  override name = "FormatError";
}

const B64URL = /[A-Za-z0-9_-]+=*/y;

export class Cursor {
  pos = 0;
  constructor(readonly s: string) {}

  atEnd(): boolean {
    return this.pos >= this.s.length;
  }

  fail(what: string): never {
    throw new FormatError(`expected ${what} at column ${this.pos + 1}`);
  }

  /** Consumes `lit` if the input continues with it. */
  lit(lit: string): boolean {
    if (!this.s.startsWith(lit, this.pos)) return false;
    this.pos += lit.length;
    return true;
  }

  expect(lit: string): void {
    if (!this.lit(lit)) this.fail(JSON.stringify(lit));
  }

  /** Encoding/String.hs:`base64urlP`: `[A-Za-z0-9_-]+` then any `=` padding. */
  bytes(what = "base64url"): Uint8Array {
    B64URL.lastIndex = this.pos;
    const m = B64URL.exec(this.s);
    if (m === null) this.fail(what);
    const text = m[0];
    // The reference decoder rejects lengths that are not a valid base64 length.
    if (text.replace(/=+$/, "").length % 4 === 1) this.fail(what);
    this.pos += text.length;
    return new Uint8Array(Buffer.from(text, "base64url"));
  }

  /** `bytes` of an exact length (DH secrets, nonces). */
  fixed(len: number, what: string): Uint8Array {
    const start = this.pos;
    const b = this.bytes(what);
    if (b.length !== len) {
      this.pos = start;
      this.fail(`${what} of ${len} bytes`);
    }
    return b;
  }

  /** A DER SPKI public key (Crypto.hs: `StrEncoding APublicAuthKey` = base64url of `encodePubKey`). */
  key(what = "public key"): Uint8Array {
    const start = this.pos;
    const der = this.bytes(what);
    try {
      decodePubKey(der);
    } catch {
      this.pos = start;
      this.fail(what);
    }
    return der;
  }

  /**
   * Encoding/String.hs:`StrEncoding X.CertificateChain`: comma-separated base64url DER, each
   * decoded as a certificate (`X.decodeCertificateChain`), which the reference's parser requires.
   */
  certChain(what = "certificate"): Uint8Array[] {
    const out: Uint8Array[] = [];
    do {
      const start = this.pos;
      const der = this.bytes(what);
      try {
        parseCertificate(der);
      } catch (e) {
        if (!(e instanceof CertificateError)) throw e;
        this.pos = start;
        this.fail(`${what} (${e.message})`);
      }
      out.push(der);
    } while (this.lit(","));
    return out;
  }

  /** Comma-separated keys (`StrEncoding (NonEmpty a)`: `sepBy1'`). */
  keys(what = "public keys"): Uint8Array[] {
    const out = [this.key(what)];
    while (this.lit(",")) out.push(this.key(what));
    return out;
  }

  /** `A.signed A.decimal` (Int64, SystemTime seconds, SystemDate). */
  int(what = "integer"): number {
    const m = /^-?[0-9]+/.exec(this.s.slice(this.pos, this.pos + 24));
    if (m === null) this.fail(what);
    const n = Number(m[0]);
    if (!Number.isSafeInteger(n)) this.fail(what);
    this.pos += m[0].length;
    return n;
  }

  /** `Encoding Bool`: T or F. */
  bool(what = "T or F"): boolean {
    if (this.lit("T")) return true;
    if (this.lit("F")) return false;
    return this.fail(what);
  }

  /** One of the given single characters (`smpP` of a one-letter tag). */
  char<T extends string>(allowed: readonly T[], what: string): T {
    const c = this.s[this.pos] as T;
    if (!allowed.includes(c)) this.fail(what);
    this.pos++;
    return c;
  }

  rest(): string {
    const r = this.s.slice(this.pos);
    this.pos = this.s.length;
    return r;
  }

  /** `parseAll`: the whole line must be consumed. */
  end(): void {
    if (!this.atEnd()) this.fail("end of line");
  }
}

/** Encoding/String.hs:`strEncode` of a ByteString. */
export const b64 = (b: Uint8Array): string => base64url(b);

/** `strEncode` of a list / NonEmpty: comma-separated. */
export const b64List = (bs: readonly Uint8Array[]): string => bs.map(base64url).join(",");

