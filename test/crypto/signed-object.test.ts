import { describe, expect, test } from "bun:test";
import { dummyKeyEd25519, dummyKeyEd448, dummyKeyX25519 } from "../../src/crypto/dummy-keys.ts";
import { decodePrivKey, decodePubKey, publicKey } from "../../src/crypto/keys.ts";
import {
  decodeSignedObject,
  SignedObjectError,
  signX509,
  verifySignedObject,
} from "../../src/crypto/signed-object.ts";
import { SignPrivateKey } from "../../src/crypto/sign.ts";
import { fromBase64 } from "../../src/encoding/base64.ts";
import { hex, loadVectors, toHex } from "../vectors.ts";
import { vectorKey } from "./keys-fixture.ts";

// crypto.json `signX509`: Crypto.hs:signX509 key (publicToX509 server-session-x25519), three signers.
const c = loadVectors("crypto.json");
const hs = loadVectors("handshake.json");
const sessionKey = vectorKey("server-session-x25519");

function signer(label: string): SignPrivateKey {
  if (label === "fixtures ed25519/server.key") {
    return new SignPrivateKey("ed25519", hex(hs.fixtures.server_key_ed25519_raw));
  }
  const k = vectorKey(label);
  return new SignPrivateKey(k.algorithm === "Ed448" ? "ed448" : "ed25519", k.privateRaw);
}

describe("signX509 / SignedExact (Crypto.hs, crypton-x509 objectToSignedExactF)", () => {
  test("three signers in the vectors", () => expect(c.signX509.length).toBe(3));

  for (const v of c.signX509 as any[]) {
    test(`signX509 by ${v.signer} matches byte for byte and verifies`, () => {
      const key = signer(v.signer);
      const der = signX509(key, sessionKey.publicSpki);
      expect(toHex(der)).toBe(v.der);
      const pub = publicKey(key.alg, key.publicRaw);
      expect(toHex(verifySignedObject(hex(v.der), pub)!)).toBe(toHex(sessionKey.publicSpki));
    });
  }

  test("the server hello's signed key (handshake.json) is the server.key vector", () => {
    expect(hs.signed_server_session_key_der).toBe(c.signX509[0].der);
  });

  test("decodeSignedObject: signed data is SEQUENCE{SPKI} (46 bytes, digest §1.5)", () => {
    const d = decodeSignedObject(hex(c.signX509[0].der));
    expect(toHex(d.signedData)).toBe("302c" + toHex(sessionKey.publicSpki));
    expect(toHex(d.object)).toBe(toHex(sessionKey.publicSpki));
    expect(d.alg).toBe("ed25519");
    expect(d.signature.length).toBe(64);
    expect(decodeSignedObject(hex(c.signX509[2].der)).alg).toBe("ed448");
    expect(hex(c.signX509[2].der).length).toBe(173);
  });

  test("verification fails for another key, the other algorithm, or a tampered object", () => {
    const der = hex(c.signX509[1].der);
    const signerKey = signer("signer-ed25519");
    expect(verifySignedObject(der, publicKey("ed25519", vectorKey("rcv-auth-ed25519").publicRaw))).toBeNull();
    expect(verifySignedObject(der, publicKey("ed448", signer("signer-ed448").publicRaw))).toBeNull();
    const bad = der.slice();
    bad[20]! ^= 1; // inside the X25519 key
    expect(verifySignedObject(bad, publicKey("ed25519", signerKey.publicRaw))).toBeNull();
  });

  test("malformed DER: truncated, trailing bytes, wrong tags → SignedObjectError / null", () => {
    const der = hex(c.signX509[1].der);
    const key = publicKey("ed25519", signer("signer-ed25519").publicRaw);
    for (const bad of [der.subarray(0, der.length - 1), new Uint8Array([...der, 0]), new Uint8Array(0), hex("3000")]) {
      expect(() => decodeSignedObject(bad)).toThrow(SignedObjectError);
      expect(verifySignedObject(bad, key)).toBeNull();
    }
    const notSeq = der.slice();
    notSeq[0] = 0x31;
    expect(() => decodeSignedObject(notSeq)).toThrow(SignedObjectError);
  });
});

describe("dummy keys (Server.hs:dummyKeyEd25519/Ed448/X25519)", () => {
  test("decode from the reference's base64 SPKI with the right algorithms", () => {
    expect(dummyKeyEd25519.alg).toBe("ed25519");
    expect(dummyKeyEd448.alg).toBe("ed448");
    expect(dummyKeyX25519.alg).toBe("x25519");
    expect(toHex(dummyKeyX25519.der)).toBe(
      toHex(fromBase64("MCowBQYDK2VuAyEA4JGSMYht18H4mas/jHeBwfcM7jLwNYJNOAhi2/g4RXg=")),
    );
  });
});

describe("keys (Crypto.hs:encodePubKey / encodePrivKey)", () => {
  test("every vector key's SPKI and PKCS8 decode to its raw bytes", () => {
    for (const k of c.keys as any[]) {
      const pub = decodePubKey(hex(k.public_spki_der));
      expect(pub.alg).toBe(k.algorithm.toLowerCase());
      expect(toHex(pub.raw)).toBe(k.public_raw);
      const priv = decodePrivKey(hex(k.private_pkcs8_der));
      expect(priv.alg).toBe(pub.alg);
      expect(toHex(priv.raw)).toBe(k.private_raw);
    }
  });
});
