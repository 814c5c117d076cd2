// Fixed keys of the reference vectors, by label (vectors/README.md: `keys`).
import { hex, loadVectors } from "../vectors.ts";

export interface VectorKey {
  algorithm: string;
  privateRaw: Uint8Array;
  publicRaw: Uint8Array;
  publicSpki: Uint8Array;
  privatePkcs8: Uint8Array;
}

export function vectorKey(label: string): VectorKey {
  const k = (loadVectors("crypto.json").keys as any[]).find((x) => x.label === label);
  if (!k) throw new Error("no vector key " + label);
  return {
    algorithm: k.algorithm,
    privateRaw: hex(k.private_raw),
    publicRaw: hex(k.public_raw),
    publicSpki: hex(k.public_spki_der),
    privatePkcs8: hex(k.private_pkcs8_der),
  };
}
