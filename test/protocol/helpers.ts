// Shared fixtures for the protocol tests: reference vectors (test/fixtures/vectors) and small builders.
import { loadVectors, hex, toHex } from "../vectors.ts";
import { Writer } from "../../src/encoding/writer.ts";
import { publicKey, type KeyAlg, type PublicKey } from "../../src/crypto/keys.ts";

export { hex, toHex, loadVectors };

export interface CommandVector {
  name: string;
  auth_key: string | null;
  authenticator: string;
  authorized: string;
  block_payload: string;
  command: string;
  corr_id: string;
  entity_id: string;
  service_signature: string | null;
  service_signed: boolean;
  signed_bytes: string;
  to_send: string;
  transmission: string;
}

export interface BrokerVector {
  name: string;
  block_payload: string;
  corr_id: string;
  entity_id: string;
  message: string;
  transmission: string;
}

export interface VersionVectors {
  version: number;
  params: { implySessId: boolean; serviceAuth: boolean; session_id: string };
  commands: CommandVector[];
  broker_messages: BrokerVector[];
  batched_block_client: { block_payload: string; transmissions: string[] };
  batched_block_server: { block_payload: string; transmissions: string[] };
}

export const TX = loadVectors("transmissions.json") as {
  ids: Record<string, string>;
  keys: { label: string; algorithm: string; public_raw: string; public_spki_der: string }[];
  session_id: string;
  versions: VersionVectors[];
};

const ALG: Record<string, KeyAlg> = { Ed25519: "ed25519", Ed448: "ed448", X25519: "x25519", X448: "x448" };

/** A fixed public key of the vectors by label (e.g. "rcv-auth-ed25519"). */
export function vkey(label: string): PublicKey {
  const k = TX.keys.find((x) => x.label === label);
  if (k === undefined) throw new Error(`no key ${label}`);
  return publicKey(ALG[k.algorithm]!, hex(k.public_raw));
}

export function vid(name: string): Uint8Array {
  return hex(TX.ids[name]!);
}

export function encode(f: (w: Writer) => void): Uint8Array {
  const w = new Writer(64);
  f(w);
  return w.toBytes();
}

export function ascii(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s, "latin1"));
}

export const V20 = TX.versions.find((v) => v.version === 20)!;
