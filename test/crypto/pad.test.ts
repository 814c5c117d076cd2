import { describe, expect, test } from "bun:test";
import { CryptoError, pad, padInto, unPad } from "../../src/crypto/pad.ts";
import { hex, loadVectors, toHex } from "../vectors.ts";

// primitives.json `Crypto.hs:pad` vectors, including the failing case (empty output).
const vectors = (loadVectors("primitives.json").vectors as any[]).filter((v) => v.fn === "Crypto.hs:pad");

describe("pad / unPad (Crypto.hs)", () => {
  test("vectors are present", () => expect(vectors.length).toBe(4));
  for (const v of vectors) {
    test(v.name, () => {
      const msg = hex(v.input.msg);
      if (v.output === "") {
        expect(() => pad(msg, v.input.paddedLen)).toThrow(CryptoError);
      } else {
        const padded = pad(msg, v.input.paddedLen);
        expect(toHex(padded)).toBe(v.output);
        expect(toHex(unPad(padded)!)).toBe(v.input.msg);
      }
    });
  }

  test("padInto writes at an offset and leaves the rest of the buffer alone", () => {
    const buf = new Uint8Array(20).fill(0xee);
    padInto(hex("68656c6c6f"), buf, 2, 16);
    expect(toHex(buf)).toBe("eeee" + "000568656c6c6f232323232323232323" + "eeee");
  });

  test("padInto with the message already in place (no copy needed)", () => {
    const buf = new Uint8Array(16);
    buf.set(hex("616263"), 2);
    padInto(buf.subarray(2, 5), buf, 0, 16);
    expect(toHex(buf)).toBe(toHex(pad(hex("616263"), 16)));
  });

  test("pad rejects messages over 65533 bytes (Crypto.hs:maxMsgLen)", () => {
    expect(() => pad(new Uint8Array(65534), 70000)).toThrow(CryptoError);
    expect(pad(new Uint8Array(65533), 65535).length).toBe(65535);
  });

  test("unPad: too short or length prefix beyond the data → null; pad bytes not checked", () => {
    expect(unPad(new Uint8Array(0))).toBeNull();
    expect(unPad(hex("00"))).toBeNull();
    expect(unPad(hex("0004616263"))).toBeNull();
    expect(toHex(unPad(hex("0002616263"))!)).toBe("6162");
    expect(toHex(unPad(hex("0000"))!)).toBe("");
  });
});
