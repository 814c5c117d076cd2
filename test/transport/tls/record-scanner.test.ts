/**
 * The handshake scanner on hand-built record streams (RFC 8446 §5.1–5.4 record layout, §4.4.2
 * Certificate, §4.4.4 Finished; RFC 5246 §7.4.2): messages split across records and chunks,
 * secrets arriving after the records, garbage. The end-to-end check against OpenSSL's tls-unique
 * is in server-tls.test.ts.
 */
import { describe, expect, test } from "bun:test";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { gcm } from "@noble/ciphers/aes.js";
import { parseCertificateMessage } from "../../../src/transport/tls/certificate-message.ts";
import { RecordScanner } from "../../../src/transport/tls/record-scanner.ts";
import { expand } from "@noble/hashes/hkdf.js";
import { sha256, sha384 } from "@noble/hashes/sha2.js";
import { concat } from "../../../src/encoding/bytes.ts";

const u24 = (n: number) => Uint8Array.of(n >> 16, (n >> 8) & 0xff, n & 0xff);
const u16 = (n: number) => Uint8Array.of(n >> 8, n & 0xff);
const handshake = (type: number, body: Uint8Array) => concat(Uint8Array.of(type), u24(body.length), body);
const record = (type: number, body: Uint8Array) => concat(Uint8Array.of(type, 3, 3), u16(body.length), body);

const certA = new Uint8Array(300).fill(0xa1);
const certB = new Uint8Array(200).fill(0xb2);

function certificate12(chain: Uint8Array[]): Uint8Array {
  const list = concat(...chain.map((c) => concat(u24(c.length), c)));
  return handshake(11, concat(u24(list.length), list));
}

function certificate13(chain: Uint8Array[]): Uint8Array {
  const list = concat(...chain.map((c) => concat(u24(c.length), c, u16(0))));
  return handshake(11, concat(Uint8Array.of(0), u24(list.length), list));
}

type Aead = "chacha20-poly1305" | "aes-128-gcm" | "aes-256-gcm";

/** RFC 8446 §7.1 HKDF-Expand-Label with noble (independent of the code under test). */
function expandLabel(hash: typeof sha256 | typeof sha384, secret: Uint8Array, label: string, length: number): Uint8Array {
  const l = new TextEncoder().encode("tls13 " + label);
  return expand(hash, secret, concat(u16(length), Uint8Array.of(l.length), l, Uint8Array.of(0)), length);
}

/** Protects handshake messages as a TLS 1.3 sender does with its handshake traffic secret. */
function protect(aead: Aead, secret: Uint8Array, seq: number, inner: Uint8Array, padding = 0): Uint8Array {
  const hash = aead === "aes-256-gcm" ? sha384 : sha256;
  const key = expandLabel(hash, secret, "key", aead === "aes-128-gcm" ? 16 : 32);
  const nonce = expandLabel(hash, secret, "iv", 12);
  nonce[11] ^= seq;
  const plain = concat(inner, Uint8Array.of(22), new Uint8Array(padding));
  const header = Uint8Array.of(23, 3, 3, ...u16(plain.length + 16));
  const sealed = aead === "chacha20-poly1305" ? chacha20poly1305(key, nonce, header).encrypt(plain) : gcm(key, nonce, header).encrypt(plain);
  return concat(header, sealed);
}

function feedInChunks(s: RecordScanner, bytes: Uint8Array, size: number): void {
  for (let i = 0; i < bytes.length; i += size) s.feed(bytes.subarray(i, i + size));
}

describe("Certificate message", () => {
  test("TLS 1.2 and TLS 1.3 layouts", () => {
    expect(parseCertificateMessage(certificate12([certA, certB]).subarray(4), false)).toEqual([certA, certB]);
    expect(parseCertificateMessage(certificate13([certA, certB]).subarray(4), true)).toEqual([certA, certB]);
    expect(parseCertificateMessage(certificate13([]).subarray(4), true)).toEqual([]);
  });
  test("malformed → null", () => {
    const body = certificate12([certA]).subarray(4);
    expect(parseCertificateMessage(body.subarray(0, body.length - 1), false)).toBeNull();
    expect(parseCertificateMessage(body, true)).toBeNull();
    expect(parseCertificateMessage(new Uint8Array(0), false)).toBeNull();
  });
});

describe("TLS 1.3 handshake records", () => {
  const secret32 = new Uint8Array(32).map((_, i) => i + 1);
  const secret48 = new Uint8Array(48).map((_, i) => 200 - i);
  const verifyData32 = new Uint8Array(32).fill(0x5f);

  for (const [aead, secret] of [
    ["chacha20-poly1305", secret32],
    ["aes-128-gcm", secret32],
    ["aes-256-gcm", secret48],
  ] as const) {
    test(`${aead}: Certificate and Finished found, fed byte by byte, secret given late`, () => {
      const verifyData = new Uint8Array(secret.length).fill(0x77);
      const messages = concat(certificate13([certA, certB]), handshake(15, new Uint8Array(68)), handshake(20, verifyData));
      // split the flight across two records mid-message, second record padded
      const cut = 100;
      const stream = concat(
        record(22, handshake(1, new Uint8Array(200))), // ClientHello in clear
        record(20, Uint8Array.of(1)), // compatibility ChangeCipherSpec
        protect(aead, secret, 0, messages.subarray(0, cut)),
        protect(aead, secret, 1, messages.subarray(cut), 33),
        protect(aead, secret, 2, new Uint8Array(10)), // beyond the Finished: never looked at
      );
      const s = new RecordScanner({ certificate: true, finished: true });
      feedInChunks(s, stream, 1);
      expect(s.finished).toBeNull(); // no secret yet: records held
      s.setSecret(secret);
      expect(s.failed).toBeNull();
      expect(s.certificates).toEqual([certA, certB]);
      expect(s.finished).toEqual(verifyData);
      expect(s.done).toBe(true);
    });
  }

  test("secret known before the records; server flight (certificate only) stops at Certificate", () => {
    const flight = concat(handshake(8, u16(0)), certificate13([certA]), handshake(15, new Uint8Array(68)), handshake(20, verifyData32));
    const s = new RecordScanner({ certificate: true, finished: false });
    s.feed(record(22, handshake(2, new Uint8Array(90)))); // ServerHello
    s.setSecret(secret32);
    feedInChunks(s, protect("chacha20-poly1305", secret32, 0, flight), 7);
    expect(s.certificates).toEqual([certA]);
    expect(s.finished).toBeNull();
    expect(s.done).toBe(true);
  });

  test("wrong secret → failed, nothing captured", () => {
    const s = new RecordScanner({ certificate: true, finished: true });
    s.feed(protect("chacha20-poly1305", secret32, 0, handshake(20, verifyData32)));
    s.setSecret(new Uint8Array(32));
    expect(s.failed).toMatch(/decrypt/);
    expect(s.finished).toBeNull();
  });
});

describe("TLS 1.2 records", () => {
  test("Certificate in clear, split across records and chunks; encrypted Finished after CCS ignored", () => {
    const msgs = concat(handshake(1, new Uint8Array(150)), certificate12([certA, certB]), handshake(16, new Uint8Array(33)));
    const stream = concat(
      record(22, msgs.subarray(0, 400)),
      record(22, msgs.subarray(400)),
      record(20, Uint8Array.of(1)),
      record(22, new Uint8Array(40).fill(9)), // encrypted Finished: opaque to us
    );
    const s = new RecordScanner({ certificate: true, finished: true });
    feedInChunks(s, stream, 13);
    expect(s.certificates).toEqual([certA, certB]);
    expect(s.finished).toBeNull();
    expect(s.failed).toBeNull();
  });
});

describe("bad input never throws and ends the scan", () => {
  test("not TLS", () => {
    const s = new RecordScanner({ certificate: true, finished: true });
    s.feed(new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n"));
    expect(s.failed).toBe("not a TLS record");
    expect(s.done).toBe(true);
  });

  test("oversized record length", () => {
    const s = new RecordScanner({ certificate: true, finished: true });
    s.feed(Uint8Array.of(22, 3, 3, 0xff, 0xff));
    expect(s.failed).toBe("not a TLS record");
  });

  test("handshake message announcing 16 MB", () => {
    const s = new RecordScanner({ certificate: true, finished: true });
    s.feed(record(22, Uint8Array.of(11, 0xff, 0xff, 0xff)));
    expect(s.failed).toBe("handshake message too large");
  });

  test("unbounded encrypted records before the secret", () => {
    const s = new RecordScanner({ certificate: true, finished: true });
    const r = record(23, new Uint8Array(16000));
    for (let i = 0; i < 10 && !s.done; i++) s.feed(r);
    expect(s.failed).toMatch(/too many records/);
  });

  test("random bytes", () => {
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) >> 16) & 0xff;
    for (let k = 0; k < 200; k++) {
      const s = new RecordScanner({ certificate: true, finished: true });
      const junk = Uint8Array.from({ length: 600 }, rnd);
      junk[0] = 22;
      junk[1] = 3;
      expect(() => {
        s.feed(junk);
        s.setSecret(new Uint8Array(32));
      }).not.toThrow();
    }
  });
});
