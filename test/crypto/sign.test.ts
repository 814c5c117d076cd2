import { describe, expect, test } from "bun:test";
import { ed25519 } from "@noble/curves/ed25519.js";
import { publicKey } from "../../src/crypto/keys.ts";
import {
  generateEd25519,
  generateEd448,
  signatureAlg,
  signEd25519,
  signEd448,
  SignPrivateKey,
  verifyEd25519,
  verifyEd448,
  verifySignature,
} from "../../src/crypto/sign.ts";
import { hex, loadVectors, toHex } from "../vectors.ts";
import { vectorKey } from "./keys-fixture.ts";

const c = loadVectors("crypto.json");

describe("signatures (Crypto.hs:sign', verify)", () => {
  test("Ed25519 sign' vector (deterministic, byte for byte)", () => {
    const v = c.sign_ed25519;
    const k = vectorKey(v.key);
    expect(toHex(signEd25519(k.privateRaw, hex(v.msg)))).toBe(v.signature);
    expect(toHex(new SignPrivateKey("ed25519", k.privateRaw).sign(hex(v.msg)))).toBe(v.signature);
    expect(verifyEd25519(k.publicRaw, hex(v.signature), hex(v.msg))).toBe(true);
  });

  test("Ed448 sign' vector (deterministic, byte for byte)", () => {
    const v = c.sign_ed448;
    const k = vectorKey(v.key);
    expect(toHex(signEd448(k.privateRaw, hex(v.msg)))).toBe(v.signature);
    expect(toHex(new SignPrivateKey("ed448", k.privateRaw).sign(hex(v.msg)))).toBe(v.signature);
    expect(verifyEd448(k.publicRaw, hex(v.signature), hex(v.msg))).toBe(true);
  });

  test("SignPrivateKey derives the vector public keys", () => {
    for (const [alg, label] of [
      ["ed25519", "rcv-auth-ed25519"],
      ["ed448", "signer-ed448"],
    ] as const) {
      const k = vectorKey(label);
      expect(toHex(new SignPrivateKey(alg, k.privateRaw).publicRaw)).toBe(toHex(k.publicRaw));
    }
  });

  test("verifySignature: right key, wrong message, wrong key, algorithm mismatch", () => {
    const e = c.sign_ed25519;
    const ek = vectorKey(e.key);
    const ed25519Key = publicKey("ed25519", ek.publicRaw);
    const sig = hex(e.signature);
    const msg = hex(e.msg);
    expect(verifySignature(ed25519Key, sig, msg)).toBe(true);
    expect(verifySignature(ed25519Key, sig, hex("00"))).toBe(false);
    expect(verifySignature(publicKey("ed25519", vectorKey("snd-auth-ed25519").publicRaw), sig, msg)).toBe(false);

    const x = c.sign_ed448;
    const ed448Key = publicKey("ed448", vectorKey(x.key).publicRaw);
    expect(verifySignature(ed448Key, hex(x.signature), hex(x.msg))).toBe(true);
    // Key algorithm ≠ signature algorithm (decided by length) → false, no exception.
    expect(verifySignature(ed448Key, sig, msg)).toBe(false);
    expect(verifySignature(ed25519Key, hex(x.signature), hex(x.msg))).toBe(false);
    // X25519 keys cannot verify; odd signature lengths are no signature at all.
    expect(verifySignature(publicKey("x25519", vectorKey("rcv-auth-x25519").publicRaw), sig, msg)).toBe(false);
    expect(verifySignature(ed25519Key, sig.subarray(0, 63), msg)).toBe(false);
  });

  test("a flipped bit in the signature fails", () => {
    const v = c.sign_ed25519;
    const k = vectorKey(v.key);
    for (const i of [0, 31, 32, 63]) {
      const bad = hex(v.signature);
      bad[i]! ^= 1;
      expect(verifyEd25519(k.publicRaw, bad, hex(v.msg))).toBe(false);
    }
    const bad448 = hex(c.sign_ed448.signature);
    bad448[100]! ^= 1;
    expect(verifyEd448(vectorKey(c.sign_ed448.key).publicRaw, bad448, hex(c.sign_ed448.msg))).toBe(false);
  });

  test("malformed keys verify false instead of throwing", () => {
    const v = c.sign_ed25519;
    expect(verifyEd25519(new Uint8Array(32).fill(0xff), hex(v.signature), hex(v.msg))).toBe(false);
    expect(verifyEd25519(new Uint8Array(31), hex(v.signature), hex(v.msg))).toBe(false);
    expect(verifyEd448(new Uint8Array(57).fill(0xff), hex(c.sign_ed448.signature), hex(c.sign_ed448.msg))).toBe(false);
  });

  test("signatureAlg by length (Crypto.hs:decodeSignature)", () => {
    expect(signatureAlg(new Uint8Array(64))).toBe("ed25519");
    expect(signatureAlg(new Uint8Array(114))).toBe("ed448");
    expect(signatureAlg(new Uint8Array(80))).toBeNull();
  });

  test("generated key pairs sign and verify; Ed25519 agrees with noble", () => {
    const msg = hex("6d7367");
    const a = generateEd25519();
    expect(toHex(ed25519.getPublicKey(a.privateRaw))).toBe(toHex(a.publicRaw));
    expect(verifyEd25519(a.publicRaw, signEd25519(a.privateRaw, msg), msg)).toBe(true);
    const b = generateEd448();
    expect(verifyEd448(b.publicRaw, signEd448(b.privateRaw, msg), msg)).toBe(true);
  });
});
