import { describe, expect, test } from "bun:test";
import { x25519 as nobleX25519 } from "@noble/curves/ed25519.js";
import { DhPrivateKey, generateX25519, x25519, x25519PublicKey } from "../../src/crypto/dh.ts";
import { hex, loadVectors, toHex } from "../vectors.ts";
import { vectorKey } from "./keys-fixture.ts";

const c = loadVectors("crypto.json");

describe("X25519 (Crypto.hs:dh')", () => {
  test("dh_x25519 vector: dh'(srv-queue-dh public, rcv-dh private)", () => {
    const v = c.dh_x25519;
    const pub = vectorKey(v.public).publicRaw;
    const priv = vectorKey(v.private).privateRaw;
    expect(toHex(x25519(pub, priv))).toBe(v.shared_secret);
    expect(toHex(x25519(pub, new DhPrivateKey(priv)))).toBe(v.shared_secret);
  });

  test("both sides agree (swap roles of the vector keys)", () => {
    const v = c.dh_x25519;
    const a = vectorKey(v.public);
    const b = vectorKey(v.private);
    expect(toHex(x25519(b.publicRaw, a.privateRaw))).toBe(v.shared_secret);
  });

  test("sbcInit's dh_secret = dh'(client-session public, server-session private)", () => {
    const server = vectorKey("server-session-x25519");
    const client = vectorKey("client-session-x25519");
    expect(toHex(x25519(client.publicRaw, server.privateRaw))).toBe(c.sbcInit.dh_secret);
  });

  test("public key derivation matches the vector keys", () => {
    for (const label of ["rcv-dh-x25519", "server-session-x25519", "rcv-auth-x25519"]) {
      const k = vectorKey(label);
      expect(toHex(x25519PublicKey(k.privateRaw))).toBe(toHex(k.publicRaw));
      expect(toHex(new DhPrivateKey(k.privateRaw).publicRaw)).toBe(toHex(k.publicRaw));
    }
  });

  test("generated pairs are consistent with noble and agree with each other", () => {
    const a = generateX25519();
    const b = generateX25519();
    expect(toHex(nobleX25519.getPublicKey(a.privateRaw))).toBe(toHex(a.publicRaw));
    expect(toHex(x25519(b.publicRaw, a.privateRaw))).toBe(toHex(x25519(a.publicRaw, b.privateRaw)));
    expect(toHex(x25519(b.publicRaw, a.privateRaw))).toBe(toHex(nobleX25519.getSharedSecret(a.privateRaw, b.publicRaw)));
  });

  test("a low-order peer key gives the all-zero secret (as cryptonite), not an exception", () => {
    const priv = vectorKey("rcv-dh-x25519").privateRaw;
    expect(toHex(x25519(new Uint8Array(32), priv))).toBe("00".repeat(32));
  });

  test("wrong key lengths throw RangeError", () => {
    expect(() => x25519(new Uint8Array(31), new Uint8Array(32))).toThrow(RangeError);
    expect(() => x25519(new Uint8Array(32), new Uint8Array(33))).toThrow(RangeError);
  });
});
