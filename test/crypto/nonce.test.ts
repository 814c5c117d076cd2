import { describe, expect, test } from "bun:test";
import { cbNonce, cbNonceInto, randomNonce, reverseNonce } from "../../src/crypto/nonce.ts";
import { hex, loadVectors, toHex } from "../vectors.ts";

const prims = loadVectors("primitives.json").vectors as any[];
const byFn = (fn: string) => prims.filter((v) => v.fn === fn);

describe("nonces (Crypto.hs)", () => {
  for (const v of byFn("Crypto.hs:cbNonce")) {
    test(v.name, () => expect(toHex(cbNonce(hex(v.input)))).toBe(v.output));
  }
  test("cbNonce of exactly 24 bytes is unchanged", () => {
    const n = hex("847fe0cfdb1d824780a92de2013dff45e9ebed8cee6c4701");
    expect(toHex(cbNonce(n))).toBe(toHex(n));
  });
  test("cbNonceInto overwrites stale bytes in a reused buffer", () => {
    const out = new Uint8Array(24).fill(0xff);
    cbNonceInto(hex("616263"), out);
    expect(toHex(out)).toBe("616263" + "00".repeat(21));
  });
  for (const v of byFn("Crypto.hs:reverseNonce")) {
    test(v.name, () => expect(toHex(reverseNonce(hex(v.input)))).toBe(v.output));
  }
  test("randomNonce: 24 bytes, not repeated", () => {
    const a = randomNonce();
    expect(a.length).toBe(24);
    expect(toHex(a)).not.toBe(toHex(randomNonce()));
  });
});
