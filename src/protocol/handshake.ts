/**
 * Handshake messages (Transport.hs:SMPServerHandshake, SMPClientHandshake, SMPServerHandshakeResponse).
 * Each is the unpadded payload of one unencrypted block; parsing ignores trailing bytes (`parseOnly`).
 * Both directions are here: the server sends the server hello and reads the client hello, the client
 * library does the opposite.
 */
import { Reader, ParseError } from "../encoding/reader.ts";
import type { Writer } from "../encoding/writer.ts";
import { decodePubKey, type PublicKey } from "../crypto/keys.ts";
import { encodeCertChainPubKey, parseCertChainPubKey, type CertChainPubKey } from "./cert-chain.ts";
import { encodeTransportError, parseTransportError, type TransportError } from "./errors.ts";
import type { ServiceRole } from "./credentials.ts";
import {
  authCmdsSMPVersion,
  encodeVersionRange,
  parseVersionRange,
  proxyServerHandshakeSMPVersion,
  serviceCertsSMPVersion,
  type Version,
  type VersionRange,
} from "./versions.ts";

export interface ServerHello {
  readonly versionRange: VersionRange;
  readonly sessionId: Uint8Array;
  /** TLS chain + per-connection X25519 key signed by the TLS key; only sent when max(versionRange) ≥ 7. */
  readonly certKey: CertChainPubKey | null;
}

export interface ClientService {
  readonly role: ServiceRole;
  readonly certKey: CertChainPubKey;
}

export interface ClientHello {
  readonly version: Version;
  readonly keyHash: Uint8Array;
  /** X25519 key for the session secret (v ≥ 7, optional). */
  readonly authPubKey: PublicKey | null;
  /** v ≥ 14; false below. */
  readonly proxyServer: boolean;
  /** v ≥ 16; null below. */
  readonly clientService: ClientService | null;
}

export type ServerHandshakeResponse =
  | { readonly type: "R"; readonly serviceId: Uint8Array }
  | { readonly type: "E"; readonly err: TransportError };

/** `versionRange ‖ short(sessionId) [‖ CertChainPubKey]`. */
export function encodeServerHello(w: Writer, h: ServerHello): void {
  encodeVersionRange(w, h.versionRange);
  w.short(h.sessionId);
  if (h.versionRange.max >= authCmdsSMPVersion && h.certKey !== null) encodeCertChainPubKey(w, h.certKey);
}

/** The key is `optional` in the reference parser: a malformed one reads as absent. */
export function parseServerHello(r: Reader): ServerHello {
  const versionRange = parseVersionRange(r);
  const sessionId = r.short().slice();
  let certKey: CertChainPubKey | null = null;
  if (versionRange.max >= authCmdsSMPVersion) {
    const save = r.pos;
    try {
      certKey = parseCertChainPubKey(r);
    } catch (e) {
      if (!(e instanceof ParseError)) throw e;
      r.pos = save;
    }
  }
  return { versionRange, sessionId, certKey };
}

function encodeRole(w: Writer, role: ServiceRole): void {
  w.byte(role.charCodeAt(0));
}

export function parseServiceRole(r: Reader): ServiceRole {
  const b = r.byte();
  if (b === 0x4d) return "M";
  if (b === 0x4e) return "N";
  if (b === 0x50) return "P";
  throw new ParseError("bad SMPServiceRole");
}

export function encodeServiceRole(w: Writer, role: ServiceRole): void {
  encodeRole(w, role);
}

/** `Word16 v ‖ short(keyHash) [‖ short(X25519 key)] [‖ Bool proxyServer] [‖ Maybe(role ‖ CertChainPubKey)]`. */
export function encodeClientHello(w: Writer, h: ClientHello): void {
  w.word16(h.version).short(h.keyHash);
  if (h.version >= authCmdsSMPVersion && h.authPubKey !== null) w.short(h.authPubKey.der);
  if (h.version >= proxyServerHandshakeSMPVersion) w.bool(h.proxyServer);
  if (h.version >= serviceCertsSMPVersion) {
    w.maybe(h.clientService !== null);
    if (h.clientService !== null) {
      encodeRole(w, h.clientService.role);
      encodeCertChainPubKey(w, h.clientService.certKey);
    }
  }
}

/**
 * Server side. The optional key backtracks (attoparsec `optional`): if the next bytes are not a short X25519
 * SPKI the hello simply has no key (e.g. a v14 hello starting with the 'F' of proxyServer).
 * Throws ParseError (→ HANDSHAKE PARSE: the server closes the connection without answering).
 */
export function parseClientHello(r: Reader): ClientHello {
  const version = r.word16();
  const keyHash = r.short().slice();
  let authPubKey: PublicKey | null = null;
  if (version >= authCmdsSMPVersion) {
    const save = r.pos;
    try {
      const k = decodePubKey(r.short());
      if (k.alg !== "x25519") throw new ParseError("not X25519");
      authPubKey = k;
    } catch {
      r.pos = save;
    }
  }
  const proxyServer = version >= proxyServerHandshakeSMPVersion ? r.bool() : false;
  let clientService: ClientService | null = null;
  if (version >= serviceCertsSMPVersion && r.maybe()) {
    const role = parseServiceRole(r);
    clientService = { role, certKey: parseCertChainPubKey(r) };
  }
  return { version, keyHash, authPubKey, proxyServer, clientService };
}

/** `'R' short(serviceId)` | `'E' TransportError` (no length prefix). */
export function encodeServerHandshakeResponse(w: Writer, resp: ServerHandshakeResponse): void {
  if (resp.type === "R") w.byte(0x52).short(resp.serviceId);
  else {
    w.byte(0x45);
    encodeTransportError(w, resp.err);
  }
}

export function parseServerHandshakeResponse(r: Reader): ServerHandshakeResponse {
  const b = r.byte();
  if (b === 0x52) return { type: "R", serviceId: r.short().slice() };
  if (b === 0x45) return { type: "E", err: parseTransportError(r) };
  throw new ParseError("bad SMPServerHandshakeResponse");
}
