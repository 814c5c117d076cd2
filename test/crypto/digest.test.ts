import { describe, expect, test } from "bun:test";
import { md5, sha256, sha3_384, sha512 } from "../../src/crypto/digest.ts";
import { hex, loadVectors, toHex } from "../vectors.ts";

// crypto.json `hashes`: Crypto.hs:sha256Hash, sha512Hash, sha3_384, md5Hash of "abc".
const v = loadVectors("crypto.json").hashes;
const input = hex(v.input);

describe("digests (Crypto.hs)", () => {
  test("sha256", () => expect(toHex(sha256(input))).toBe(v.sha256));
  test("sha512", () => expect(toHex(sha512(input))).toBe(v.sha512));
  test("sha512 into a caller buffer", () => {
    const out = new Uint8Array(64);
    expect(sha512(input, out)).toBe(out);
    expect(toHex(out)).toBe(v.sha512);
  });
  test("sha3_384", () => expect(toHex(sha3_384(input))).toBe(v.sha3_384));
  test("md5", () => expect(toHex(md5(input))).toBe(v.md5));
});
