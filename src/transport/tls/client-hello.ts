/**
 * Reads enough of a TLS ClientHello to tell whether it carries SNI (RFC 6066 server_name), the
 * one bit a port shared by SMP and the web site decides on (Server.hs:smpServer.runServer: a
 * client that sends SNI gets the HTTPS site, one that does not gets SMP; SMP clients never send
 * SNI, Client.hs:defaultSMPClientConfig useSNI = False).
 *
 * The hello is gathered from handshake records as they arrive (it may span records and TCP
 * segments); anything that is not a well-formed hello is "no SNI", so the SMP TLS stack sees the
 * same bytes it always did and rejects them itself — except a hello cut into more records than a
 * browser ever uses, which is refused outright (it only serves to make the gathering expensive).
 */
import { CT_HANDSHAKE, RECORD_HEADER } from "./record-scanner.ts";

const HS_CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
const NAME_TYPE_HOST = 0;
/** A ClientHello is a few KB at most (post-quantum key shares included); beyond this it is not one we serve. */
export const MAX_CLIENT_HELLO = 32 * 1024;

/**
 * Browsers send the hello in one record, two with large post-quantum key shares; a hello cut into
 * more pieces than this is not a browser's, and tiny records only make the gathering cost more.
 */
export const MAX_HELLO_RECORDS = 16;

/** "refuse": the hello came in more than MAX_HELLO_RECORDS records; the connection is closed. */
export type HelloVerdict = "more" | "sni" | "no-sni" | "refuse";

/**
 * Gathers a ClientHello as bytes arrive, each byte read once: the received bytes are kept in a
 * buffer grown by doubling (they are handed on unchanged whatever the verdict), records are parsed
 * from where the last read stopped, and their handshake payloads are copied once into the hello.
 */
export class HelloReader {
  private buf = new Uint8Array(0);
  private length = 0;
  /** Start of the first record not yet parsed. */
  private at = 0;
  private records = 0;
  /** The handshake message header until the hello's length is known, then the whole message. */
  private hs = new Uint8Array(4);
  private hsLen = 0;
  private helloLen = -1;
  private verdict: HelloVerdict = "more";
  /** Bytes copied or examined so far: bounded by a small multiple of the bytes received. */
  work = 0;

  /** Every byte received so far, in order. */
  get bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }

  push(chunk: Uint8Array): HelloVerdict {
    if (this.verdict !== "more") return this.verdict;
    this.append(chunk);
    this.verdict = this.parse();
    return this.verdict;
  }

  private append(chunk: Uint8Array): void {
    const need = this.length + chunk.length;
    if (need > this.buf.length) {
      const grown = new Uint8Array(Math.max(need, 2 * this.buf.length, 512));
      grown.set(this.buf.subarray(0, this.length));
      this.work += this.length;
      this.buf = grown;
    }
    this.buf.set(chunk, this.length);
    this.work += chunk.length;
    this.length = need;
  }

  private parse(): HelloVerdict {
    const b = this.buf;
    for (;;) {
      if (this.length - this.at < RECORD_HEADER) return "more";
      const at = this.at;
      if (b[at] !== CT_HANDSHAKE || b[at + 1] !== 3) return "no-sni";
      const len = (b[at + 3] << 8) | b[at + 4];
      if (len === 0) return "no-sni";
      if (this.length - at - RECORD_HEADER < len) return "more";
      if (++this.records > MAX_HELLO_RECORDS) return "refuse";
      this.work += RECORD_HEADER;
      this.at = at + RECORD_HEADER + len;
      if (!this.gather(at + RECORD_HEADER, this.at)) return "no-sni";
      if (this.helloLen >= 0 && this.hsLen === this.hs.length) {
        this.work += this.helloLen;
        return helloHasSni(this.hs.subarray(4)) ? "sni" : "no-sni";
      }
    }
  }

  /** Copies one record's payload into the handshake message; false when it is not a ClientHello we serve. */
  private gather(from: number, to: number): boolean {
    for (let p = from; p < to && this.hsLen < this.hs.length; ) {
      const n = Math.min(this.hs.length - this.hsLen, to - p);
      this.hs.set(this.buf.subarray(p, p + n), this.hsLen);
      this.hsLen += n;
      this.work += n;
      p += n;
      if (this.helloLen < 0 && this.hsLen === 4) {
        if (this.hs[0] !== HS_CLIENT_HELLO) return false;
        this.helloLen = (this.hs[1] << 16) | (this.hs[2] << 8) | this.hs[3];
        if (this.helloLen + 4 > MAX_CLIENT_HELLO) return false;
        const whole = new Uint8Array(this.helloLen + 4);
        whole.set(this.hs);
        this.hs = whole;
      }
    }
    return true;
  }
}

/**
 * Looks at the bytes received so far: "more" while the hello is incomplete, then whether it
 * names a server. Pure, so the caller can keep its buffer as it likes.
 */
export function sniVerdict(bytes: Uint8Array): HelloVerdict {
  return new HelloReader().push(bytes);
}

/** RFC 8446 §4.1.2 ClientHello body; true when a server_name extension names a host. */
export function helloHasSni(b: Uint8Array): boolean {
  let at = 2 + 32; // legacy_version, random
  const skip = (lenBytes: number): boolean => {
    if (at + lenBytes > b.length) return false;
    let n = 0;
    for (let i = 0; i < lenBytes; i++) n = (n << 8) | b[at + i];
    at += lenBytes + n;
    return at <= b.length;
  };
  if (!skip(1) || !skip(2) || !skip(1)) return false; // session id, cipher suites, compression
  if (at + 2 > b.length) return false; // no extensions
  const end = at + 2 + ((b[at] << 8) | b[at + 1]);
  at += 2;
  if (end > b.length) return false;
  while (at + 4 <= end) {
    const type = (b[at] << 8) | b[at + 1];
    const len = (b[at + 2] << 8) | b[at + 3];
    const body = at + 4;
    at = body + len;
    if (at > end) return false;
    if (type !== EXT_SERVER_NAME) continue;
    // ServerNameList: u16 length, then (u8 name_type, u16 length, name)*
    if (len < 2) return false;
    const listEnd = body + 2 + ((b[body] << 8) | b[body + 1]);
    if (listEnd > at) return false;
    for (let p = body + 2; p + 3 <= listEnd; ) {
      const nameLen = (b[p + 1] << 8) | b[p + 2];
      if (b[p] === NAME_TYPE_HOST && nameLen > 0 && p + 3 + nameLen <= listEnd) return true;
      p += 3 + nameLen;
    }
    return false;
  }
  return false;
}
