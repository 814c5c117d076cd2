import { describe, expect, test } from "bun:test";
import { hsalsa, xsalsa20poly1305 } from "@noble/ciphers/salsa.js";
import { nobleOpenInto, nobleSealInPlace } from "../../src/crypto/secretbox-noble.ts";
import { secretboxImplementation } from "../../src/crypto/secretbox.ts";
import { loadWasmSecretbox } from "../../src/crypto/wasm/xsalsa20poly1305.ts";
import { kernelModule } from "../../src/crypto/wasm/xsalsa20poly1305-kernel.ts";
import { KERNEL_WASM_BASE64 } from "../../src/crypto/wasm/xsalsa20poly1305-wasm.ts";
import { hex, loadVectors, toHex } from "../vectors.ts";

// The WebAssembly SIMD kernel (src/crypto/wasm) and the noble fallback (secretbox-noble.ts) must
// produce the reference's bytes (crypto.json, Crypto.hs:cbEncrypt/sbEncrypt) and agree with each
// other and with noble's standard NaCl secretbox on every length class the kernel treats
// differently: below one Salsa20 block, partial and whole 192-byte (3-block) chunks, the 16 KB
// transport block, and messages longer than the kernel's initial memory.
const c = loadVectors("crypto.json");
const wasmSecretbox = loadWasmSecretbox();
const wasm = wasmSecretbox!;

type Impl = {
  seal: (key: Uint8Array, nonce: Uint8Array, buf: Uint8Array, at: number, len: number) => void;
  open: (key: Uint8Array, nonce: Uint8Array, packet: Uint8Array, out: Uint8Array) => Uint8Array | null;
};
const impls: Record<string, Impl> = {
  wasm: { seal: (k, n, b, a, l) => wasm.sealInPlace(k, n, b, a, l), open: (k, n, p, o) => wasm.openInto(k, n, p, o) },
  noble: { seal: nobleSealInPlace, open: nobleOpenInto },
};

function seal(impl: Impl, key: Uint8Array, nonce: Uint8Array, msg: Uint8Array): Uint8Array {
  const out = new Uint8Array(16 + msg.length);
  out.set(msg, 16);
  impl.seal(key, nonce, out, 16, msg.length);
  return out;
}

function padded(msg: Uint8Array, len: number): Uint8Array {
  const p = new Uint8Array(len).fill(0x23);
  p[0] = msg.length >> 8;
  p[1] = msg.length & 0xff;
  p.set(msg, 2);
  return p;
}

const LENGTHS = [0, 1, 15, 16, 17, 31, 32, 33, 47, 48, 49, 63, 64, 65, 79, 80, 81, 96, 112, 127, 128, 129, 143, 144, 159, 160, 161, 191, 192, 193, 223, 224, 225, 255, 256, 257, 383, 384, 385, 480, 511, 512, 513, 1000, 4095, 4096, 4097, 4160, 4175, 16352, 16353, 16368, 16384, 70000];

describe("XSalsa20-Poly1305 implementations", () => {
  test("the WebAssembly SIMD kernel is available and in use here", () => {
    expect(wasmSecretbox).not.toBeNull();
    expect(secretboxImplementation()).toBe("wasm-simd");
  });

  test("the shipped kernel bytes are what the generator emits (regenerate: bun src/crypto/wasm/xsalsa20poly1305-kernel.ts)", () => {
    const generated = kernelModule();
    expect(WebAssembly.validate(generated as Uint8Array<ArrayBuffer>)).toBe(true);
    expect(Buffer.from(generated).toString("base64")).toBe(KERNEL_WASM_BASE64);
  });

  for (const [name, impl] of Object.entries(impls)) {
    test(`${name}: reference vectors (sbEncrypt, sbEncryptNoPad, cbEncrypt, cbEncryptNoPad)`, () => {
      const sb = c.sbEncrypt;
      expect(toHex(seal(impl, hex(sb.key), hex(sb.nonce), padded(hex(sb.msg), sb.paddedLen)))).toBe(sb.output);
      const sbn = c.sbEncryptNoPad;
      expect(toHex(seal(impl, hex(sbn.key), hex(sbn.nonce), hex(sbn.msg)))).toBe(sbn.output);
      const cb = c.cbEncrypt;
      expect(toHex(seal(impl, hex(cb.shared_secret), hex(cb.nonce), padded(hex(cb.msg), cb.paddedLen)))).toBe(cb.output);
      const cbn = c.cbEncryptNoPad;
      const packet = hex(cbn.output);
      expect(toHex(impl.open(hex(cbn.shared_secret), hex(cbn.nonce), packet, new Uint8Array(packet.length))!)).toBe(cbn.msg);
    });
  }

  test("wasm and noble agree on every length class, and each opens the other's output", () => {
    for (const len of LENGTHS) {
      const key = crypto.getRandomValues(new Uint8Array(32));
      const nonce = crypto.getRandomValues(new Uint8Array(24));
      const msg = new Uint8Array(len);
      for (let i = 0; i < len; i += 65536) crypto.getRandomValues(msg.subarray(i, Math.min(len, i + 65536)));
      const a = seal(impls.wasm!, key, nonce, msg);
      const b = seal(impls.noble!, key, nonce, msg);
      expect(toHex(a)).toBe(toHex(b));
      expect(impls.wasm!.open(key, nonce, b, new Uint8Array(len))).toEqual(msg);
      expect(impls.noble!.open(key, nonce, a, new Uint8Array(len))).toEqual(msg);
    }
  });

  test("crypto_box keyed by the raw secret equals NaCl secretbox keyed by HSalsa20(secret, 0) (noble's xsalsa20poly1305)", () => {
    const sigma = new Uint32Array([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]);
    for (const len of [0, 100, 16368, 70000]) {
      const secret = crypto.getRandomValues(new Uint8Array(32));
      const nonce = crypto.getRandomValues(new Uint8Array(24));
      const msg = new Uint8Array(len).map((_, i) => (i * 7 + len) & 0xff);
      const k = new Uint32Array(8);
      hsalsa(sigma, new Uint32Array(secret.buffer.slice(0)), new Uint32Array(4), k);
      const expected = xsalsa20poly1305(new Uint8Array(k.buffer), nonce).encrypt(msg);
      expect(toHex(seal(impls.wasm!, secret, nonce, msg))).toBe(toHex(expected));
    }
  });

  test("open rejects a changed tag, ciphertext byte or nonce and leaves the output untouched", () => {
    const key = crypto.getRandomValues(new Uint8Array(32));
    const nonce = crypto.getRandomValues(new Uint8Array(24));
    const msg = crypto.getRandomValues(new Uint8Array(16368));
    const good = seal(impls.wasm!, key, nonce, msg);
    for (const at of [0, 15, 16, 300, good.length - 1]) {
      const bad = good.slice();
      bad[at]! ^= 1;
      const out = new Uint8Array(msg.length).fill(7);
      expect(wasm.openInto(key, nonce, bad, out)).toBeNull();
      expect(out.every((b) => b === 7)).toBe(true);
    }
    const otherNonce = nonce.slice();
    otherNonce[23]! ^= 0x80;
    expect(wasm.openInto(key, otherNonce, good, new Uint8Array(msg.length))).toBeNull();
    expect(wasm.openInto(key, nonce, good.subarray(0, 15), new Uint8Array(0))).toBeNull();
  });

  test("no secret stays in the kernel's memory after seal, open and a failed open", () => {
    // Everything below the message area: key, nonce, subkeys, tags, Poly1305 tail, keystream,
    // Poly1305 powers and the Poly1305 key. What is left is at most the message itself.
    const kernel = loadWasmSecretbox()!;
    const mem = (): Uint8Array => (kernel as unknown as { mem: Uint8Array }).mem;
    const key = crypto.getRandomValues(new Uint8Array(32));
    const nonce = crypto.getRandomValues(new Uint8Array(24));
    for (const len of [10, 100, 1000, 16368]) {
      const msg = crypto.getRandomValues(new Uint8Array(len));
      const packet = new Uint8Array(16 + len);
      packet.set(msg, 16);
      kernel.sealInPlace(key, nonce, packet, 16, len);
      expect(mem().subarray(0, 1056).every((b) => b === 0)).toBe(true);
      expect(kernel.openInto(key, nonce, packet, new Uint8Array(len))).toEqual(msg);
      expect(mem().subarray(0, 1056).every((b) => b === 0)).toBe(true);
      packet[0]! ^= 1;
      expect(kernel.openInto(key, nonce, packet, new Uint8Array(len))).toBeNull();
      expect(mem().subarray(0, 1056).every((b) => b === 0)).toBe(true);
    }
  });

  test("opens in place (out = packet after the tag) and rejects wrong key and nonce sizes", () => {
    const key = crypto.getRandomValues(new Uint8Array(32));
    const nonce = crypto.getRandomValues(new Uint8Array(24));
    const msg = crypto.getRandomValues(new Uint8Array(5000));
    const packet = seal(impls.wasm!, key, nonce, msg);
    expect(wasm.openInto(key, nonce, packet, packet.subarray(16))).toEqual(msg);
    expect(() => wasm.sealInPlace(key.subarray(0, 31), nonce, new Uint8Array(64), 16, 48)).toThrow(RangeError);
    expect(() => wasm.sealInPlace(key, nonce.subarray(0, 23), new Uint8Array(64), 16, 48)).toThrow(RangeError);
    expect(() => wasm.sealInPlace(key, nonce, new Uint8Array(64), 8, 48)).toThrow(RangeError);
  });
});
