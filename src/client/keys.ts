/**
 * Key pairs a client makes for queues (Crypto.hs:generateAuthKeyPair, generateKeyPair): the
 * private half stays here, the public half goes into NEW / KEY / SKEY / NKEY as SPKI.
 */
import { DhPrivateKey } from "../crypto/dh.ts";
import { publicKey, type PublicKey } from "../crypto/keys.ts";
import { generateEd25519, generateEd448, SignPrivateKey } from "../crypto/sign.ts";
import type { AuthKey } from "./authorize.ts";

export type AuthAlg = "ed25519" | "ed448" | "x25519";

export function generateAuthKey(alg: AuthAlg = "ed25519"): AuthKey {
  switch (alg) {
    case "ed25519":
      return new SignPrivateKey("ed25519", generateEd25519().privateRaw);
    case "ed448":
      return new SignPrivateKey("ed448", generateEd448().privateRaw);
    case "x25519":
      return DhPrivateKey.generate();
  }
}

/** The public key that goes on the wire for an authorization key. */
export function authPublicKey(k: AuthKey): PublicKey {
  return k instanceof DhPrivateKey ? publicKey("x25519", k.publicRaw) : publicKey(k.alg, k.publicRaw);
}

export function dhPublicKey(k: DhPrivateKey): PublicKey {
  return publicKey("x25519", k.publicRaw);
}
