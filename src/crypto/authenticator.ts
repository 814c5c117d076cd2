/**
 * crypto_box authenticators (Crypto.hs:cbAuthenticate / cbVerify): the 80-byte
 * `cbEncryptNoPad(dh(peerPub, ownPriv), nonce, SHA512(msg))`, which proves knowledge of an
 * X25519 queue key to the server without a signature.
 */
import { sha512 } from "./digest.ts";
import { x25519, type DhPrivateKey } from "./dh.ts";
import { cbEncryptNoPad, openInto } from "./secretbox.ts";

export const AUTHENTICATOR_LEN = 80;

export function cbAuthenticate(
  peerPublicRaw: Uint8Array,
  ownPrivate: Uint8Array | DhPrivateKey,
  nonce: Uint8Array,
  msg: Uint8Array,
): Uint8Array {
  return cbAuthenticateWithSecret(x25519(peerPublicRaw, ownPrivate), nonce, msg);
}

export function cbVerify(
  peerPublicRaw: Uint8Array,
  ownPrivate: Uint8Array | DhPrivateKey,
  nonce: Uint8Array,
  auth: Uint8Array,
  msg: Uint8Array,
): boolean {
  if (auth.length !== AUTHENTICATOR_LEN) return false;
  return cbVerifyWithSecret(x25519(peerPublicRaw, ownPrivate), nonce, auth, msg);
}

/** cbAuthenticate with the DH secret already computed. */
export function cbAuthenticateWithSecret(dhSecret: Uint8Array, nonce: Uint8Array, msg: Uint8Array): Uint8Array {
  return cbEncryptNoPad(dhSecret, nonce, sha512(msg));
}

// Hot-path scratch (synchronous use only).
const expected = new Uint8Array(64);
const decrypted = new Uint8Array(64);

/** cbVerify with the DH secret already computed; allocation-free, constant-time compare. */
export function cbVerifyWithSecret(dhSecret: Uint8Array, nonce: Uint8Array, auth: Uint8Array, msg: Uint8Array): boolean {
  if (auth.length !== AUTHENTICATOR_LEN || nonce.length !== 24 || dhSecret.length !== 32) return false;
  if (openInto(dhSecret, nonce, auth, decrypted) === null) return false;
  sha512(msg, expected);
  let diff = 0;
  for (let i = 0; i < 64; i++) diff |= expected[i]! ^ decrypted[i]!;
  decrypted.fill(0);
  return diff === 0;
}
