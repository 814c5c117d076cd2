/**
 * Just enough DER (X.690) to write and read the certificates this server generates:
 * a writer of definite-length TLVs and a reader that walks them. Cold path (init/cert only),
 * so the writer favours clarity over avoiding copies.
 */
import { concat } from "../../encoding/bytes.ts";

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

export class DerError extends Error {
  override name = "DerError";
}

function lengthBytes(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return [0x80 | out.length, ...out];
}

/** One TLV with the given (single-byte) tag. */
export function tlv(tag: number, ...content: Uint8Array[]): Uint8Array {
  const body = concat(...content);
  const len = lengthBytes(body.length);
  const out = new Uint8Array(1 + len.length + body.length);
  out[0] = tag;
  out.set(len, 1);
  out.set(body, 1 + len.length);
  return out;
}

export const sequence = (...items: Uint8Array[]): Uint8Array => tlv(TAG.SEQUENCE, ...items);
export const set = (...items: Uint8Array[]): Uint8Array => tlv(TAG.SET, ...items);
export const octetString = (b: Uint8Array): Uint8Array => tlv(TAG.OCTET_STRING, b);
export const utf8String = (s: string): Uint8Array => tlv(TAG.UTF8_STRING, new TextEncoder().encode(s));
export const boolean = (v: boolean): Uint8Array => tlv(TAG.BOOLEAN, Uint8Array.of(v ? 0xff : 0x00));

/** Context-specific constructed tag `[n]` (EXPLICIT wrapping). */
export const explicit = (n: number, ...content: Uint8Array[]): Uint8Array => tlv(0xa0 | n, ...content);
/** Context-specific primitive tag `[n]` (IMPLICIT over a primitive type). */
export const implicitPrimitive = (n: number, content: Uint8Array): Uint8Array => tlv(0x80 | n, content);

/** BIT STRING with `unusedBits` padding bits in the last byte. */
export function bitString(bytes: Uint8Array, unusedBits = 0): Uint8Array {
  return tlv(TAG.BIT_STRING, Uint8Array.of(unusedBits), bytes);
}

/**
 * Named-bit BIT STRING (e.g. keyUsage): DER requires trailing zero bits to be dropped (X.690 11.2.2),
 * so the unused-bit count depends on the highest bit set.
 */
export function namedBits(bits: readonly number[]): Uint8Array {
  if (bits.length === 0) return bitString(new Uint8Array(0));
  const top = Math.max(...bits);
  const bytes = new Uint8Array((top >> 3) + 1);
  for (const b of bits) bytes[b >> 3] |= 0x80 >> (b & 7);
  return bitString(bytes, 7 - (top & 7));
}

/** INTEGER from a non-negative big-endian magnitude (a 0x00 is prepended when the top bit is set). */
export function unsignedInteger(magnitude: Uint8Array): Uint8Array {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  const m = magnitude.subarray(i);
  return (m[0] ?? 0) & 0x80 ? tlv(TAG.INTEGER, Uint8Array.of(0), m) : tlv(TAG.INTEGER, m.length ? m : Uint8Array.of(0));
}

export function smallInteger(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) throw new DerError("smallInteger out of range");
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return unsignedInteger(Uint8Array.from(bytes.length ? bytes : [0]));
}

/** OBJECT IDENTIFIER from dotted form. */
export function oid(dotted: string): Uint8Array {
  const arcs = dotted.split(".").map((s) => Number(s));
  if (arcs.length < 2 || arcs.some((a) => !Number.isSafeInteger(a) || a < 0)) throw new DerError(`bad OID ${dotted}`);
  const out: number[] = [arcs[0] * 40 + arcs[1]];
  for (const arc of arcs.slice(2)) {
    const base128: number[] = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) base128.unshift(0x80 | (v & 0x7f));
    out.push(...base128);
  }
  return tlv(TAG.OID, Uint8Array.from(out));
}

const pad2 = (n: number): string => String(n).padStart(2, "0");

/**
 * X.509 Time: UTCTime through 2049, GeneralizedTime from 2050 on (RFC 5280 4.1.2.5); seconds
 * precision, always `Z`.
 */
export function time(d: Date): Uint8Array {
  const y = d.getUTCFullYear();
  if (y < 1950 || y > 9999) throw new DerError(`year ${y} cannot be encoded in a certificate`);
  const rest =
    pad2(d.getUTCMonth() + 1) + pad2(d.getUTCDate()) + pad2(d.getUTCHours()) + pad2(d.getUTCMinutes()) + pad2(d.getUTCSeconds()) + "Z";
  const enc = new TextEncoder();
  return y < 2050 ? tlv(TAG.UTC_TIME, enc.encode(pad2(y % 100) + rest)) : tlv(TAG.GENERALIZED_TIME, enc.encode(String(y) + rest));
}

/** A decoded TLV: `start..end` spans the whole element, `content` is the value bytes. */
export interface Element {
  tag: number;
  start: number;
  end: number;
  content: Uint8Array;
  /** The full encoding (tag, length and content). */
  raw: Uint8Array;
}

/** Reads one TLV at `offset` of `buf`; rejects indefinite and non-minimal lengths and overruns. */
export function readElement(buf: Uint8Array, offset = 0): Element {
  if (offset + 2 > buf.length) throw new DerError("truncated DER");
  const tag = buf[offset];
  if ((tag & 0x1f) === 0x1f) throw new DerError("multi-byte tags are not supported");
  let p = offset + 1;
  const first = buf[p++];
  let len: number;
  if (first < 0x80) len = first;
  else {
    const n = first & 0x7f;
    if (n === 0 || n > 4) throw new DerError("unsupported DER length");
    if (p + n > buf.length) throw new DerError("truncated DER length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p++];
    if (len < 0x80 || buf[p - n] === 0) throw new DerError("non-minimal DER length");
  }
  const end = p + len;
  if (end > buf.length) throw new DerError("DER element overruns its container");
  return { tag, start: offset, end, content: buf.subarray(p, end), raw: buf.subarray(offset, end) };
}

/** The elements inside a constructed element's content. */
export function children(content: Uint8Array): Element[] {
  const out: Element[] = [];
  for (let off = 0; off < content.length; ) {
    const e = readElement(content, off);
    out.push(e);
    off = e.end;
  }
  return out;
}

/** Dotted form of an OID element's content. */
export function oidToString(content: Uint8Array): string {
  if (content.length === 0) throw new DerError("empty OID");
  const arcs: number[] = [];
  let v = 0;
  for (let i = 0; i < content.length; i++) {
    v = v * 128 + (content[i] & 0x7f);
    if ((content[i] & 0x80) === 0) {
      arcs.push(v);
      v = 0;
    }
  }
  const first = arcs.shift()!;
  const a0 = first < 80 ? Math.floor(first / 40) : 2;
  return [a0, first - a0 * 40, ...arcs].join(".");
}
