/**
 * Keys the server verifies against when there is no real key to use (missing queue, wrong key
 * type), so "no queue", "wrong key" and "wrong key type" take equal time
 * (Server.hs:dummyKeyEd25519 / dummyKeyEd448 / dummyKeyX25519, dummyVerifyCmd).
 */
import { fromBase64 } from "../encoding/base64.ts";
import { decodePubKey, type PublicKey } from "./keys.ts";

export const dummyKeyEd25519: PublicKey = decodePubKey(
  fromBase64("MCowBQYDK2VwAyEA139Oqs4QgpqbAmB0o7rZf6T19ryl7E65k4AYe0kE3Qs="),
);
export const dummyKeyEd448: PublicKey = decodePubKey(
  fromBase64("MEMwBQYDK2VxAzoA6ibQc9XpkSLtwrf7PLvp81qW/etiumckVFImCMRdftcG/XopbOSaq9qyLhrgJWKOLyNrQPNVvpMA"),
);
export const dummyKeyX25519: PublicKey = decodePubKey(
  fromBase64("MCowBQYDK2VuAyEA4JGSMYht18H4mas/jHeBwfcM7jLwNYJNOAhi2/g4RXg="),
);
