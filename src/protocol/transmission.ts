/**
 * One transmission (Protocol.hs:transmissionP, tDecodeServer, tEncode, encodeTransmissionForAuth):
 *
 *   short(authorization) [Maybe(short serviceSig)] [short(sessionId)] short(corrId) short(entityId) command
 *
 * The service-signature slot exists iff `serviceAuth` (v ≥ 16) and the authorization is non-empty; the
 * session id is on the wire only without `implySessId` (v6). What is signed is always
 * `authorized = short(sessionId) ‖ short(corrId) ‖ short(entityId) ‖ command`.
 */
import { Reader, ParseError } from "../encoding/reader.ts";
import type { Writer } from "../encoding/writer.ts";
import { bytesEqual, concat } from "../encoding/bytes.ts";
import { ERR, ProtocolError, type ErrorType } from "./errors.ts";
import { parseCommand, encodeCommand, type Command } from "./commands.ts";
import { checkCredentials } from "./credentials.ts";
import { checkBrokerMsgEntity, encodeBrokerMsg, parseBrokerMsg, type BrokerMsg } from "./broker-messages.ts";
import { authCmdsSMPVersion, serviceCertsSMPVersion, type Version } from "./versions.ts";

/** The negotiated per-connection parameters that shape transmissions (Transport.hs:THandleParams). */
export interface TransmissionParams {
  readonly version: Version;
  /** tls-unique of the connection (or of the proxy↔relay connection for forwarded commands). */
  readonly sessionId: Uint8Array;
  /** v ≥ 7: the session id is not sent but still authorized. */
  readonly implySessId: boolean;
  /** v ≥ 16: authorized transmissions carry a service-signature slot. */
  readonly serviceAuth: boolean;
}

export function transmissionParams(version: Version, sessionId: Uint8Array): TransmissionParams {
  return {
    version,
    sessionId,
    implySessId: version >= authCmdsSMPVersion,
    serviceAuth: version >= serviceCertsSMPVersion,
  };
}

/** Params for a command forwarded through a proxy: fwdVersion as sent, the connection's implySessId (Transport.hs:smpTHParamsSetVersion). */
export function withVersion(p: TransmissionParams, version: Version): TransmissionParams {
  return { version, sessionId: p.sessionId, implySessId: p.implySessId, serviceAuth: version >= serviceCertsSMPVersion };
}

/** What the authorization bytes are, by length (Protocol.hs:decodeTAuthBytes). */
export type AuthKind = "none" | "ed25519" | "ed448" | "authenticator";

export const CB_AUTHENTICATOR_SIZE = 80;
export const ED25519_SIG_SIZE = 64;
export const ED448_SIG_SIZE = 114;

const EMPTY = new Uint8Array(0);

/**
 * A transmission as received by the server. When `error` is set the server answers `ERR error` with this
 * `corrId`/`entityId` (which the reference empties for BLOCK and SESSION) and `command` is null.
 */
export interface ReceivedTransmission {
  authKind: AuthKind;
  /** Owned copy (outlives the block); empty when authKind = "none". */
  auth: Uint8Array;
  /** Owned copy of the 64-byte Ed25519 service signature, if the slot carried one. */
  serviceSig: Uint8Array | null;
  /** Views into the block. */
  corrId: Uint8Array;
  entityId: Uint8Array;
  /**
   * `short(sessionId) ‖ short(corrId) ‖ short(entityId) ‖ command` as ONE contiguous view, or null when there is
   * no authorization to verify. At v ≥ 7 the session-id prefix is written into the block over the already
   * parsed authorization fields (copied out first), so no transmission-sized copy is made.
   */
  authorized: Uint8Array | null;
  command: Command | null;
  error: ErrorType | null;
  /** Where this transmission's consumed header starts in the block: room for `prefixAuthorized`. */
  headerStart: number;
}

function failed(error: ErrorType, corrId: Uint8Array, entityId: Uint8Array): ReceivedTransmission {
  return {
    authKind: "none",
    auth: EMPTY,
    serviceSig: null,
    corrId,
    entityId,
    authorized: null,
    command: null,
    error,
    headerStart: 0,
  };
}

function authKindOf(len: number): AuthKind | null {
  switch (len) {
    case 0:
      return "none";
    case ED25519_SIG_SIZE:
      return "ed25519";
    case ED448_SIG_SIZE:
      return "ed448";
    case CB_AUTHENTICATOR_SIZE:
      return "authenticator";
    default:
      return null;
  }
}

/**
 * Server side: parse the transmission at `buf[start..end)` (one `Large` item of a batch), decide the error the
 * reference would answer (BLOCK / SESSION / CMD …) and parse the command. The header bytes of the transmission
 * may be overwritten (see `authorized`), so the block must not be parsed twice.
 */
export function parseTransmission(buf: Uint8Array, start: number, end: number, p: TransmissionParams, r: Reader): ReceivedTransmission {
  r.reset(buf, start, end);
  let authLen: number;
  let authStart: number;
  let serviceSig: Uint8Array | null = null;
  let corrId: Uint8Array;
  let entityId: Uint8Array;
  let bodyStart: number;
  let sessOk = true;
  try {
    authLen = r.byte();
    authStart = r.pos;
    r.take(authLen);
    if (p.serviceAuth && authLen > 0 && r.maybe()) {
      // Maybe (Signature Ed25519): a present signature must be exactly 64 bytes, else the transmission is unparsable.
      const s = r.short();
      if (s.length !== ED25519_SIG_SIZE) throw new ParseError("bad service signature");
      serviceSig = s.slice();
    }
    bodyStart = r.pos;
    if (!p.implySessId) sessOk = bytesEqual(r.short(), p.sessionId);
    corrId = r.short();
    entityId = r.short();
  } catch {
    return failed(ERR.BLOCK, EMPTY, EMPTY);
  }
  if (!sessOk) return failed(ERR.SESSION, corrId, EMPTY);
  const authKind = authKindOf(authLen);
  if (authKind === null) return failed(ERR.BLOCK, corrId, EMPTY);

  let command: Command;
  try {
    command = parseCommand(r, p.version);
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
    return failed(e.error, corrId, entityId);
  }
  const credErr = checkCredentials(command, authKind !== "none", entityId);
  if (credErr !== null) return failed(credErr, corrId, entityId);

  let auth = EMPTY;
  let authorized: Uint8Array | null = null;
  if (authKind !== "none") {
    auth = buf.slice(authStart, authStart + authLen);
    if (!p.implySessId) {
      authorized = buf.subarray(bodyStart, end);
    } else {
      const sid = p.sessionId;
      const at = bodyStart - 1 - sid.length;
      if (at >= start) {
        buf[at] = sid.length;
        buf.set(sid, at + 1);
        authorized = buf.subarray(at, end);
      } else {
        authorized = concat(Uint8Array.of(sid.length), sid, buf.subarray(bodyStart, end));
      }
    }
  }
  return { authKind, auth, serviceSig, corrId, entityId, authorized, command, error: null, headerStart: start };
}

/**
 * `prefix ‖ authorized` as one view (the queue-key authorization of a service-signed command covers
 * `certFingerprint ‖ authorized`, Server.hs:verifyQueueTransmission). Written in place when the consumed
 * header has room (always, for a transmission that carried a service signature); copied otherwise.
 */
export function prefixAuthorized(buf: Uint8Array, t: ReceivedTransmission, prefix: Uint8Array): Uint8Array {
  const a = t.authorized;
  if (a === null) throw new Error("transmission has no authorized bytes");
  const off = a.byteOffset - buf.byteOffset;
  const sameBuffer = a.buffer === buf.buffer && off >= 0 && off + a.length <= buf.length;
  if (sameBuffer && off - prefix.length >= t.headerStart) {
    buf.set(prefix, off - prefix.length);
    return buf.subarray(off - prefix.length, off + a.length);
  }
  return concat(prefix, a);
}

// ---------------------------------------------------------------------------------------------
// Client side: the authorized bytes and the transmission to send

/** `tForAuth` (what the queue key signs) and `tToSend` (what follows the authorization fields). */
export interface TransmissionForAuth {
  readonly authorized: Uint8Array;
  readonly toSend: Uint8Array;
}

/** Protocol.hs:encodeTransmissionForAuth. */
export function encodeTransmissionForAuth(p: TransmissionParams, w: Writer, corrId: Uint8Array, entityId: Uint8Array, cmd: Command): TransmissionForAuth {
  w.reset();
  w.short(p.sessionId).short(corrId).short(entityId);
  encodeCommand(w, cmd, p.version);
  const authorized = w.toBytes();
  const toSend = p.implySessId ? authorized.subarray(1 + p.sessionId.length) : authorized;
  return { authorized, toSend };
}

/**
 * Protocol.hs:tEncode: `short(auth)`, then with serviceAuth and a non-empty auth the `Maybe` service
 * signature, then `toSend`. `auth` empty = unauthorized (no service-signature slot).
 */
export function encodeTransmission(w: Writer, p: TransmissionParams, auth: Uint8Array, serviceSig: Uint8Array | null, toSend: Uint8Array): void {
  w.short(auth);
  if (p.serviceAuth && auth.length > 0) {
    w.maybe(serviceSig !== null);
    if (serviceSig !== null) w.short(serviceSig);
  }
  w.bytes(toSend);
}

// ---------------------------------------------------------------------------------------------
// Server side: responses (never authorized, so never a service-signature slot, Server.hs:tSend)

/** `00 [short(sessionId)] short(corrId) short(entityId) message` (Protocol.hs:encodeTransmission + tEncode Nothing). */
export function encodeResponse(w: Writer, p: TransmissionParams, corrId: Uint8Array, entityId: Uint8Array, m: BrokerMsg): void {
  w.byte(0);
  if (!p.implySessId) w.short(p.sessionId);
  w.short(corrId).short(entityId);
  encodeBrokerMsg(w, m, p.version);
}

// ---------------------------------------------------------------------------------------------
// Client side: parsing a server transmission (Protocol.hs:tDecodeClient)

export interface ClientReceived {
  readonly corrId: Uint8Array;
  readonly entityId: Uint8Array;
  /** Null when `error` is set. */
  readonly msg: BrokerMsg | null;
  /** BLOCK (unparsable), SESSION (v6 session id mismatch), CMD … (bad message or entity shape). */
  readonly error: ErrorType | null;
}

/** Client side: one server transmission at `buf[start..end)`. */
export function parseServerTransmission(buf: Uint8Array, start: number, end: number, p: TransmissionParams, r: Reader): ClientReceived {
  r.reset(buf, start, end);
  let corrId: Uint8Array;
  let entityId: Uint8Array;
  let sessOk = true;
  try {
    const authLen = r.byte();
    r.take(authLen);
    if (p.serviceAuth && authLen > 0 && r.maybe()) r.short();
    if (!p.implySessId) sessOk = bytesEqual(r.short(), p.sessionId);
    corrId = r.short();
    entityId = r.short();
  } catch {
    return { corrId: EMPTY, entityId: EMPTY, msg: null, error: ERR.BLOCK };
  }
  if (!sessOk) return { corrId, entityId: EMPTY, msg: null, error: ERR.SESSION };
  let msg: BrokerMsg;
  try {
    msg = parseBrokerMsg(r, p.version);
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
    return { corrId, entityId, msg: null, error: e.error };
  }
  const err = checkBrokerMsgEntity(msg, entityId);
  return err === null ? { corrId, entityId, msg, error: null } : { corrId, entityId, msg: null, error: err };
}
