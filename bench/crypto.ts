/**
 * Crypto throughput on this machine: `bun bench/crypto.ts`. Prints ops/s (median of several
 * runs) for the per-transmission and per-block primitives and the native/noble ratios that
 * justify the choices in src/crypto/ (native Ed25519/X25519/hashes, the WebAssembly SIMD
 * XSalsa20-Poly1305 kernel over noble and libsodium's WebAssembly build).
 * If `libsodium-wrappers` is resolvable (or SODIUM_MODULE points at it) it is measured too; it is
 * not a dependency. Other processes on the machine make single numbers noisy: compare ratios.
 */
import { createPrivateKey, createPublicKey, diffieHellman, verify as nodeVerify } from "node:crypto";
import { ed25519, x25519 as nobleX25519 } from "@noble/curves/ed25519.js";
import { ed448 } from "@noble/curves/ed448.js";
import { xsalsa20poly1305 } from "@noble/ciphers/salsa.js";
import { sha512 as nobleSha512 } from "@noble/hashes/sha2.js";
import { cbVerifyWithSecret, cbAuthenticateWithSecret } from "../src/crypto/authenticator.ts";
import { DhPrivateKey, x25519 } from "../src/crypto/dh.ts";
import { sha512 } from "../src/crypto/digest.ts";
import { ChainState } from "../src/crypto/sbchain.ts";
import { openBlock, sealBlock, secretboxImplementation } from "../src/crypto/secretbox.ts";
import { nobleSealInPlace } from "../src/crypto/secretbox-noble.ts";
import { loadWasmSecretbox } from "../src/crypto/wasm/xsalsa20poly1305.ts";

const wasmSecretbox = loadWasmSecretbox();
import { SignPrivateKey, verifyEd25519 } from "../src/crypto/sign.ts";

const RUNS = 5;
const RUN_MS = 300;

function measure(fn: () => unknown): number {
  const warm = performance.now(); // warm-up: let the JIT reach its top tier
  while (performance.now() - warm < 200) for (let i = 0; i < 20; i++) fn();
  const rates: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    let n = 0;
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < RUN_MS) {
      for (let i = 0; i < 50; i++) fn();
      n += 50;
      t = performance.now();
    }
    rates.push((n * 1000) / (t - t0));
  }
  rates.sort((a, b) => a - b);
  return rates[Math.floor(RUNS / 2)]!;
}

const rows: [string, number][] = [];
function row(name: string, fn: () => unknown): number {
  const r = measure(fn);
  rows.push([name, r]);
  console.log(`${name.padEnd(62)} ${Math.round(r).toLocaleString("en").padStart(12)} ops/s`);
  return r;
}

const msg = crypto.getRandomValues(new Uint8Array(150)); // ~ a SEND transmission's authorized bytes

// Ed25519 verify
const edSigner = new SignPrivateKey("ed25519", crypto.getRandomValues(new Uint8Array(32)));
const edSig = edSigner.sign(msg);
const edPub = edSigner.publicRaw;
const edPubObj = createPublicKey({
  key: Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), edPub]),
  format: "der",
  type: "spki",
});
const edVerifyNative = row("Ed25519 verify  native (src/crypto verifyEd25519)", () => verifyEd25519(edPub, edSig, msg));
row("Ed25519 verify  native, cached KeyObject", () => nodeVerify(null, msg, edPubObj, edSig));
const edVerifyNoble = row("Ed25519 verify  noble", () => ed25519.verify(edSig, msg, edPub));
row("Ed25519 sign    native (SignPrivateKey)", () => edSigner.sign(msg));

// Ed448 (noble only: BoringSSL has none)
const ed448Priv = ed448.utils.randomSecretKey();
const ed448Pub = ed448.getPublicKey(ed448Priv);
const ed448Sig = ed448.sign(msg, ed448Priv);
row("Ed448 verify    noble", () => ed448.verify(ed448Sig, msg, ed448Pub));

// X25519
const a = DhPrivateKey.generate();
const b = DhPrivateKey.generate();
const dhNative = row("X25519          native (src/crypto x25519, DhPrivateKey)", () => x25519(b.publicRaw, a));
const dhNoble = row("X25519          noble", () => nobleX25519.getSharedSecret(a.raw, b.publicRaw));
const aObj = createPrivateKey({ key: Buffer.concat([Buffer.from("302e020100300506032b656e04220420", "hex"), a.raw]), format: "der", type: "pkcs8" });
row("X25519          native, private KeyObject from raw each time", () =>
  diffieHellman({ privateKey: aObj, publicKey: createPublicKey({ key: Buffer.concat([Buffer.from("302a300506032b656e032100", "hex"), b.publicRaw]), format: "der", type: "spki" }) }),
);
row("X25519 keygen   native (DhPrivateKey.generate)", () => DhPrivateKey.generate());

// Authenticator (per X25519-authorized transmission, DH secret precomputed)
const secret = x25519(b.publicRaw, a);
const nonce = crypto.getRandomValues(new Uint8Array(24));
const auth = cbAuthenticateWithSecret(secret, nonce, msg);
row("cbVerify (precomputed secret, 150 B)", () => cbVerifyWithSecret(secret, nonce, auth, msg));
row("SHA-512 150 B   native", () => sha512(msg));
row("SHA-512 150 B   noble", () => nobleSha512(msg));

// 16 KB transport blocks: the implementation in use, then each candidate on the same input
const key = crypto.getRandomValues(new Uint8Array(32));
const payload = crypto.getRandomValues(new Uint8Array(16000));
const block = new Uint8Array(16384);
const out = new Uint8Array(16368);
const seal = row(`sealBlock 16384 B (src/crypto, ${secretboxImplementation()}, in place)`, () => sealBlock(key, nonce, payload, block));
sealBlock(key, nonce, payload, block);
row(`openBlock 16384 B (src/crypto, ${secretboxImplementation()}, into buffer)`, () => openBlock(key, nonce, block, out));
const padded = new Uint8Array(16368);
const sealedBuf = new Uint8Array(16384);
const wasmSeal = wasmSecretbox === null ? 0 : row("XSalsa20-Poly1305 16368 B  WebAssembly SIMD kernel (src/crypto/wasm)", () => wasmSecretbox!.sealInPlace(key, nonce, sealedBuf, 16, 16368));
const nobleSeal = row("XSalsa20-Poly1305 16368 B  noble salsa20 + poly1305, in place", () => nobleSealInPlace(key, nonce, sealedBuf, 16, 16368));
row("XSalsa20-Poly1305 16368 B  noble xsalsa20poly1305.encrypt (allocating)", () => xsalsa20poly1305(key, nonce).encrypt(padded));

let sodiumSeal = 0;
try {
  const mod = process.env.SODIUM_MODULE ?? "libsodium-wrappers";
  const sodium: any = (await import(mod)).default;
  await sodium.ready;
  sodiumSeal = row("XSalsa20-Poly1305 16368 B  libsodium-wrappers (WebAssembly) crypto_secretbox_easy", () =>
    sodium.crypto_secretbox_easy(padded, nonce, key),
  );
} catch {
  console.log("(libsodium-wrappers not installed: skipped; SODIUM_MODULE=/path/to/libsodium-wrappers to measure it)");
}

// HKDF chain step
const chain = new ChainState(crypto.getRandomValues(new Uint8Array(32)));
const hkdfStep = row("sbcHkdf chain step (ChainState.advance)", () => chain.advance());

console.log("\nratios");
console.log(`  Ed25519 verify native/noble      ${(edVerifyNative / edVerifyNoble).toFixed(1)}x`);
console.log(`  X25519 native/noble              ${(dhNative / dhNoble).toFixed(1)}x`);
console.log(`  HKDF step's share of a block     ${((100 * seal) / (seal + hkdfStep)).toFixed(1)}%`);
console.log(`  block throughput (seal)          ${((seal * 16384) / 1e6).toFixed(0)} MB/s`);
if (wasmSeal) console.log(`  WebAssembly kernel / noble       ${(wasmSeal / nobleSeal).toFixed(1)}x`);
if (sodiumSeal) console.log(`  libsodium (wasm) / noble         ${(sodiumSeal / nobleSeal).toFixed(1)}x`);
if (sodiumSeal && wasmSeal) console.log(`  WebAssembly kernel / libsodium   ${(wasmSeal / sodiumSeal).toFixed(1)}x`);
