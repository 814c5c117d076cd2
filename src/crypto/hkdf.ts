/** HKDF-SHA512 (Crypto.hs:hkdf = extract(salt, ikm) then expand(prk, info, n)). Native: ~10x noble. */
import { hkdfSync } from "node:crypto";

export function hkdf(salt: Uint8Array, ikm: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  return new Uint8Array(hkdfSync("sha512", ikm, salt, info, length));
}
