/**
 * Proxy envelopes (Protocol.hs:FwdTransmission, FwdResponse): what the proxy encrypts for the relay inside
 * RFWD, and what the relay encrypts back inside RRES.
 */
import type { Reader } from "../encoding/reader.ts";
import type { Writer } from "../encoding/writer.ts";
import type { PublicKey } from "../crypto/keys.ts";
import { encodeKey, parseDhKey } from "./commands.ts";
import type { Version } from "./versions.ts";

export interface FwdTransmission {
  /** The client's PFWD corrId: also the nonce of `encTransmission`. */
  readonly fwdCorrId: Uint8Array;
  readonly fwdVersion: Version;
  readonly fwdKey: PublicKey;
  readonly encTransmission: Uint8Array;
}

/** `short(corrId) ‖ Word16 version ‖ short(X25519 key) ‖ Tail`. */
export function encodeFwdTransmission(w: Writer, f: FwdTransmission): void {
  w.short(f.fwdCorrId).word16(f.fwdVersion);
  encodeKey(w, f.fwdKey);
  w.bytes(f.encTransmission);
}

export function parseFwdTransmission(r: Reader): FwdTransmission {
  const fwdCorrId = r.short();
  const fwdVersion = r.word16();
  const fwdKey = parseDhKey(r);
  return { fwdCorrId, fwdVersion, fwdKey, encTransmission: r.tail() };
}

export interface FwdResponse {
  readonly fwdCorrId: Uint8Array;
  readonly encResponse: Uint8Array;
}

/** `short(corrId) ‖ Tail`. */
export function encodeFwdResponse(w: Writer, f: FwdResponse): void {
  w.short(f.fwdCorrId).bytes(f.encResponse);
}

export function parseFwdResponse(r: Reader): FwdResponse {
  const fwdCorrId = r.short();
  return { fwdCorrId, encResponse: r.tail() };
}
