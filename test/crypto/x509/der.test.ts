import { describe, expect, test } from "bun:test";
import { DerError, children, namedBits, oid, oidToString, readElement, smallInteger, time, unsignedInteger } from "../../../src/crypto/x509/der.ts";
import { parseCertificate } from "../../../src/crypto/x509/certificate.ts";
import { hex, loadVectors, toHex } from "../../vectors.ts";

// Certificates made by the reference's openssl commands (Server/CLI.hs:createServerX509_), tests/fixtures/ed25519.
const fixtures = loadVectors("handshake.json").fixtures;
const serverCrt = hex(fixtures.server_crt_der);

describe("DER writer", () => {
  test("keyUsage bits encode like openssl's (digitalSignature, nonRepudiation, keyAgreement)", () => {
    const ku = parseCertificate(serverCrt).extensions.get("2.5.29.15")!;
    expect(toHex(namedBits([0, 1, 4]))).toBe(toHex(ku.value));
  });

  test("OIDs encode like the reference certificates' (multi-byte arcs included)", () => {
    const eku = parseCertificate(serverCrt).extensions.get("2.5.29.37")!; // SEQUENCE { serverAuth }
    const [serverAuth] = children(readElement(eku.value).content);
    expect(toHex(oid("1.3.6.1.5.5.7.3.1"))).toBe(toHex(serverAuth.raw));
    expect(oidToString(serverAuth.content)).toBe("1.3.6.1.5.5.7.3.1");
    expect(toHex(oid("1.2.840.113549"))).toBe("06062a864886f70d");
  });

  test("Time: UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 4.1.2.5)", () => {
    expect(toHex(time(new Date(Date.UTC(2049, 11, 31, 23, 59, 59))))).toBe("170d" + Buffer.from("491231235959Z").toString("hex"));
    expect(toHex(time(new Date(Date.UTC(2050, 0, 1, 0, 0, 0))))).toBe("180f" + Buffer.from("20500101000000Z").toString("hex"));
    expect(() => time(new Date(Date.UTC(10000, 0, 1)))).toThrow(DerError);
  });

  test("INTEGER is minimal and never negative", () => {
    expect(toHex(unsignedInteger(Uint8Array.of(0x80)))).toBe("02020080");
    expect(toHex(unsignedInteger(Uint8Array.of(0, 0, 0x7f)))).toBe("02017f");
    expect(toHex(smallInteger(2))).toBe("020102");
    expect(toHex(smallInteger(0))).toBe("020100");
  });
});

describe("DER reader", () => {
  test("rejects truncation, overruns and non-minimal lengths", () => {
    expect(() => readElement(Uint8Array.of(0x30))).toThrow(DerError);
    expect(() => readElement(Uint8Array.of(0x04, 0x05, 1, 2))).toThrow(DerError);
    expect(() => readElement(Uint8Array.of(0x04, 0x81, 0x05, 1, 2, 3, 4, 5))).toThrow(/non-minimal/);
    expect(() => readElement(Uint8Array.of(0x30, 0x80, 0, 0))).toThrow(DerError);
  });

  test("long-form lengths round-trip", () => {
    const big = new Uint8Array(300).fill(7);
    const e = readElement(Uint8Array.of(0x04, 0x82, 0x01, 0x2c, ...big));
    expect(e.content.length).toBe(300);
    expect(e.end).toBe(304);
  });
});
