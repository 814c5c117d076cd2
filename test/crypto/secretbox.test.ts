import { describe, expect, test } from "bun:test";
import {
  cbDecrypt,
  cbDecryptNoPad,
  cbEncrypt,
  cbEncryptNoPad,
  openBlock,
  openInto,
  sbDecrypt,
  sbDecryptNoPad,
  sbEncrypt,
  sbEncryptNoPad,
  sealBlock,
} from "../../src/crypto/secretbox.ts";
import { CryptoError, pad } from "../../src/crypto/pad.ts";
import { hex, loadVectors, toHex } from "../vectors.ts";

// crypto.json: Crypto.hs:cbEncrypt / cbEncryptNoPad (keyed by the raw DH secret) and
// sbEncrypt / sbEncryptNoPad (keyed by a 32-byte symmetric key). Output = tag(16) || ciphertext.
const c = loadVectors("crypto.json");

describe("secretbox (Crypto.hs:cryptoBox)", () => {
  test("sbEncrypt matches the reference and decrypts back", () => {
    const v = c.sbEncrypt;
    const ct = sbEncrypt(hex(v.key), hex(v.nonce), hex(v.msg), v.paddedLen);
    expect(toHex(ct)).toBe(v.output);
    expect(toHex(sbDecrypt(hex(v.key), hex(v.nonce), hex(v.output))!)).toBe(v.msg);
  });

  test("sbEncryptNoPad matches the reference and decrypts back", () => {
    const v = c.sbEncryptNoPad;
    expect(toHex(sbEncryptNoPad(hex(v.key), hex(v.nonce), hex(v.msg)))).toBe(v.output);
    expect(toHex(sbDecryptNoPad(hex(v.key), hex(v.nonce), hex(v.output))!)).toBe(v.msg);
  });

  test("cbEncrypt matches the reference (output_len = 16 + paddedLen) and decrypts back", () => {
    const v = c.cbEncrypt;
    const ct = cbEncrypt(hex(v.shared_secret), hex(v.nonce), hex(v.msg), v.paddedLen);
    expect(ct.length).toBe(v.output_len);
    expect(toHex(ct)).toBe(v.output);
    expect(toHex(cbDecrypt(hex(v.shared_secret), hex(v.nonce), ct)!)).toBe(v.msg);
  });

  test("cbEncryptNoPad matches the reference and decrypts back", () => {
    const v = c.cbEncryptNoPad;
    expect(toHex(cbEncryptNoPad(hex(v.shared_secret), hex(v.nonce), hex(v.msg)))).toBe(v.output);
    expect(toHex(cbDecryptNoPad(hex(v.shared_secret), hex(v.nonce), hex(v.output))!)).toBe(v.msg);
  });

  test("any flipped bit in tag or ciphertext → null (Crypto.hs:sbDecryptNoPad_)", () => {
    const v = c.sbEncrypt;
    const ct = hex(v.output);
    for (const i of [0, 15, 16, 40, ct.length - 1]) {
      const bad = ct.slice();
      bad[i]! ^= 1;
      expect(sbDecrypt(hex(v.key), hex(v.nonce), bad)).toBeNull();
    }
    const wrongKey = hex(v.key);
    wrongKey[0]! ^= 1;
    expect(sbDecrypt(wrongKey, hex(v.nonce), ct)).toBeNull();
  });

  test("packets shorter than the tag → null; exactly the tag = empty message", () => {
    const v = c.sbEncryptNoPad;
    expect(sbDecryptNoPad(hex(v.key), hex(v.nonce), new Uint8Array(15))).toBeNull();
    const empty = sbEncryptNoPad(hex(v.key), hex(v.nonce), new Uint8Array(0));
    expect(empty.length).toBe(16);
    expect(sbDecryptNoPad(hex(v.key), hex(v.nonce), empty)!.length).toBe(0);
  });

  test("valid tag but bad padding → sbDecrypt null, sbDecryptNoPad ok", () => {
    const v = c.sbEncryptNoPad;
    const ct = sbEncryptNoPad(hex(v.key), hex(v.nonce), hex("ffff00"));
    expect(sbDecrypt(hex(v.key), hex(v.nonce), ct)).toBeNull();
    expect(toHex(sbDecryptNoPad(hex(v.key), hex(v.nonce), ct)!)).toBe("ffff00");
  });

  test("message too large for paddedLen → CryptoError", () => {
    const v = c.sbEncrypt;
    expect(() => sbEncrypt(hex(v.key), hex(v.nonce), new Uint8Array(63), 64)).toThrow(CryptoError);
  });

  test("lengths around the 32-byte first keystream block and 64-byte Salsa blocks round-trip", () => {
    const v = c.sbEncryptNoPad;
    for (const n of [1, 31, 32, 33, 63, 64, 95, 96, 97, 1000]) {
      const msg = new Uint8Array(n).map((_, i) => (i * 7 + n) & 0xff);
      const ct = sbEncryptNoPad(hex(v.key), hex(v.nonce), msg);
      expect(toHex(sbDecryptNoPad(hex(v.key), hex(v.nonce), ct)!)).toBe(toHex(msg));
    }
  });

  test("the 32-byte-head split is consistent with the reference stream (prefix property)", () => {
    // XSalsa20 is a stream cipher: a longer message's ciphertext starts with the shorter one's.
    const v = c.sbEncryptNoPad;
    const short = hex(v.output).subarray(16);
    const long = sbEncryptNoPad(hex(v.key), hex(v.nonce), new Uint8Array([...hex(v.msg), ...new Uint8Array(200)]));
    expect(toHex(long.subarray(16, 16 + short.length))).toBe(toHex(short));
  });
});

describe("transport blocks (in place)", () => {
  const v = c.sbEncrypt;
  const key = hex(v.key);
  const nonce = hex(v.nonce);

  test("sealBlock = sbEncrypt(payload, 16368) in a 16384-byte buffer", () => {
    const payload = new Uint8Array(500).map((_, i) => i & 0xff);
    const block = new Uint8Array(16384);
    expect(sealBlock(key, nonce, payload, block)).toBe(block);
    expect(toHex(block)).toBe(toHex(sbEncrypt(key, nonce, payload, 16368)));
  });

  test("sealBlock with the payload already in the block, then openBlock in place", () => {
    const block = new Uint8Array(16384);
    block.set(hex(v.msg), 18);
    sealBlock(key, nonce, block.subarray(18, 18 + hex(v.msg).length), block);
    expect(toHex(block)).toBe(toHex(sbEncrypt(key, nonce, hex(v.msg), 16368)));
    const payload = openBlock(key, nonce, block, block.subarray(16));
    expect(toHex(payload!)).toBe(v.msg);
  });

  test("openBlock into a separate buffer; reference vector as a 64-byte block", () => {
    const out = new Uint8Array(64);
    expect(toHex(openBlock(key, nonce, hex(v.output), out)!)).toBe(v.msg);
    expect(toHex(openInto(key, nonce, hex(v.output), out)!)).toBe(toHex(pad(hex(v.msg), 64)));
    expect(() => openInto(key, nonce, hex(v.output), new Uint8Array(63))).toThrow(RangeError);
  });

  test("sealBlock refuses a payload over 16366 bytes", () => {
    expect(() => sealBlock(key, nonce, new Uint8Array(16367), new Uint8Array(16384))).toThrow(CryptoError);
    expect(() => sealBlock(key, nonce, new Uint8Array(16366), new Uint8Array(16384))).not.toThrow();
  });

  test("openBlock of a tampered block → null", () => {
    const block = sealBlock(key, nonce, hex(v.msg), new Uint8Array(16384));
    block[10000]! ^= 0x80;
    expect(openBlock(key, nonce, block, new Uint8Array(16368))).toBeNull();
  });
});
