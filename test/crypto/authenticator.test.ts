import { describe, expect, test } from "bun:test";
import {
  AUTHENTICATOR_LEN,
  cbAuthenticate,
  cbAuthenticateWithSecret,
  cbVerify,
  cbVerifyWithSecret,
} from "../../src/crypto/authenticator.ts";
import { DhPrivateKey, x25519 } from "../../src/crypto/dh.ts";
import { sha512 } from "../../src/crypto/digest.ts";
import { hex, loadVectors, toHex } from "../vectors.ts";
import { vectorKey } from "./keys-fixture.ts";

// crypto.json `cbAuthenticate`: Crypto.hs:cbAuthenticate k pk nonce msg (k = peer public,
// pk = own private) = cbEncryptNoPad(dh'(k, pk), nonce, sha512(msg)), 80 bytes.
const v = loadVectors("crypto.json").cbAuthenticate;
const serverSession = vectorKey(v.k_public);
const client = vectorKey(v.pk_private);
const nonce = hex(v.nonce);
const msg = hex(v.msg);

describe("crypto_box authenticators (Crypto.hs:cbAuthenticate / cbVerify)", () => {
  test("sha512(msg) as in the vector", () => expect(toHex(sha512(msg))).toBe(v.sha512_msg));

  test("client side: cbAuthenticate(serverSessionPub, clientPriv) = vector", () => {
    const auth = cbAuthenticate(serverSession.publicRaw, client.privateRaw, nonce, msg);
    expect(auth.length).toBe(AUTHENTICATOR_LEN);
    expect(toHex(auth)).toBe(v.output);
  });

  test("server side verifies with (clientPub, serverSessionPriv), also with a precomputed secret", () => {
    const auth = hex(v.output);
    expect(cbVerify(client.publicRaw, serverSession.privateRaw, nonce, auth, msg)).toBe(true);
    expect(cbVerify(client.publicRaw, new DhPrivateKey(serverSession.privateRaw), nonce, auth, msg)).toBe(true);
    const secret = x25519(client.publicRaw, serverSession.privateRaw);
    expect(cbVerifyWithSecret(secret, nonce, auth, msg)).toBe(true);
    expect(toHex(cbAuthenticateWithSecret(secret, nonce, msg))).toBe(v.output);
  });

  test("wrong message, nonce, key or tampered authenticator → false", () => {
    const auth = hex(v.output);
    const secret = x25519(client.publicRaw, serverSession.privateRaw);
    expect(cbVerifyWithSecret(secret, nonce, auth, hex("00"))).toBe(false);
    const otherNonce = nonce.slice();
    otherNonce[23]! ^= 1;
    expect(cbVerifyWithSecret(secret, otherNonce, auth, msg)).toBe(false);
    const other = vectorKey("snd-auth-x25519");
    expect(cbVerify(other.publicRaw, serverSession.privateRaw, nonce, auth, msg)).toBe(false);
    for (const i of [0, 16, 79]) {
      const bad = auth.slice();
      bad[i]! ^= 1;
      expect(cbVerifyWithSecret(secret, nonce, bad, msg)).toBe(false);
    }
  });

  test("wrong authenticator length → false, no exception", () => {
    const secret = x25519(client.publicRaw, serverSession.privateRaw);
    expect(cbVerifyWithSecret(secret, nonce, hex(v.output).subarray(0, 79), msg)).toBe(false);
    expect(cbVerify(client.publicRaw, serverSession.privateRaw, nonce, new Uint8Array(64), msg)).toBe(false);
  });
});
