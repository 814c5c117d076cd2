/**
 * The SMP `ErrorType` grammar (Protocol.hs:Encoding ErrorType, CommandError, ProxyError, BrokerErrorType,
 * NetworkError, NameErrorType, BlockingInfo; Transport.hs:Encoding TransportError). The server only encodes
 * errors; the parsers are for the client library (and tests). Errors nest (PROXY PROTOCOL <ErrorType>), and
 * the textual details (STORE, NAME RESOLVER) run to the end of the transmission.
 */
import { Reader, ParseError } from "../encoding/reader.ts";
import { Writer } from "../encoding/writer.ts";
import { ascii, utf8 } from "../encoding/bytes.ts";
import { blockedEntitySMPVersion, clientNoticesSMPVersion, type Version } from "./versions.ts";

export type CommandError = "UNKNOWN" | "SYNTAX" | "PROHIBITED" | "NO_AUTH" | "HAS_AUTH" | "NO_ENTITY";
export type HandshakeError = "PARSE" | "IDENTITY" | "BAD_AUTH" | "BAD_SERVICE";

export type TransportError =
  | { readonly type: "BLOCK" }
  | { readonly type: "VERSION" }
  | { readonly type: "LARGE_MSG" }
  | { readonly type: "SESSION" }
  | { readonly type: "NO_AUTH" }
  | { readonly type: "HANDSHAKE"; readonly err: HandshakeError };

/** Parse-only detail of `BROKER NETWORK` (the encoder never emits it, Protocol.hs:Encoding BrokerErrorType). */
export type NetworkError =
  | { readonly type: "CONNECT"; readonly err: string }
  | { readonly type: "TLS"; readonly err: string }
  | { readonly type: "UNKNOWNCA" }
  | { readonly type: "FAILED" }
  | { readonly type: "TIMEOUT" }
  | { readonly type: "SUBSCRIBE"; readonly err: string };

export type BrokerErrorType =
  /** `err` is a Haskell String sent as a short byte string (chars truncated to 8 bits): kept as latin1 text. */
  | { readonly type: "RESPONSE"; readonly err: string }
  | { readonly type: "UNEXPECTED"; readonly err: string }
  | { readonly type: "NETWORK"; readonly err: NetworkError }
  | { readonly type: "TRANSPORT"; readonly err: TransportError }
  | { readonly type: "TIMEOUT" }
  | { readonly type: "HOST" }
  | { readonly type: "NO_SERVICE" };

export type ProxyError =
  | { readonly type: "PROTOCOL"; readonly err: ErrorType }
  | { readonly type: "BROKER"; readonly err: BrokerErrorType }
  | { readonly type: "BASIC_AUTH" }
  | { readonly type: "NO_SESSION" };

export type NameErrorType =
  | { readonly type: "NO_RESOLVER" }
  | { readonly type: "NOT_FOUND" }
  | { readonly type: "RESOLVER"; readonly err: string };

export type BlockingReason = "spam" | "content";

/** Protocol/Types.hs:ClientNotice — `ttl` seconds, null = indefinite. */
export interface ClientNotice {
  readonly ttl: number | null;
}

export interface BlockingInfo {
  readonly reason: BlockingReason;
  readonly notice: ClientNotice | null;
}

export type ErrorType =
  | { readonly type: "BLOCK" }
  | { readonly type: "SESSION" }
  | { readonly type: "CMD"; readonly err: CommandError }
  | { readonly type: "PROXY"; readonly err: ProxyError }
  | { readonly type: "AUTH" }
  | { readonly type: "BLOCKED"; readonly info: BlockingInfo }
  | { readonly type: "SERVICE" }
  | { readonly type: "CRYPTO" }
  | { readonly type: "QUOTA" }
  | { readonly type: "STORE"; readonly err: string }
  | { readonly type: "EXPIRED" }
  | { readonly type: "NO_MSG" }
  | { readonly type: "LARGE_MSG" }
  | { readonly type: "INTERNAL" }
  | { readonly type: "NAME"; readonly err: NameErrorType }
  | { readonly type: "DUPLICATE_" };

/** Shared immutable instances, so the hot path never allocates an error value. */
export const ERR = Object.freeze({
  BLOCK: Object.freeze({ type: "BLOCK" }) as ErrorType,
  SESSION: Object.freeze({ type: "SESSION" }) as ErrorType,
  AUTH: Object.freeze({ type: "AUTH" }) as ErrorType,
  SERVICE: Object.freeze({ type: "SERVICE" }) as ErrorType,
  CRYPTO: Object.freeze({ type: "CRYPTO" }) as ErrorType,
  QUOTA: Object.freeze({ type: "QUOTA" }) as ErrorType,
  EXPIRED: Object.freeze({ type: "EXPIRED" }) as ErrorType,
  NO_MSG: Object.freeze({ type: "NO_MSG" }) as ErrorType,
  LARGE_MSG: Object.freeze({ type: "LARGE_MSG" }) as ErrorType,
  INTERNAL: Object.freeze({ type: "INTERNAL" }) as ErrorType,
  DUPLICATE_: Object.freeze({ type: "DUPLICATE_" }) as ErrorType,
  CMD_UNKNOWN: Object.freeze({ type: "CMD", err: "UNKNOWN" }) as ErrorType,
  CMD_SYNTAX: Object.freeze({ type: "CMD", err: "SYNTAX" }) as ErrorType,
  CMD_PROHIBITED: Object.freeze({ type: "CMD", err: "PROHIBITED" }) as ErrorType,
  CMD_NO_AUTH: Object.freeze({ type: "CMD", err: "NO_AUTH" }) as ErrorType,
  CMD_HAS_AUTH: Object.freeze({ type: "CMD", err: "HAS_AUTH" }) as ErrorType,
  CMD_NO_ENTITY: Object.freeze({ type: "CMD", err: "NO_ENTITY" }) as ErrorType,
  NAME_NO_RESOLVER: Object.freeze({ type: "NAME", err: Object.freeze({ type: "NO_RESOLVER" }) }) as ErrorType,
  NAME_NOT_FOUND: Object.freeze({ type: "NAME", err: Object.freeze({ type: "NOT_FOUND" }) }) as ErrorType,
});

const CMD_ERRORS: Record<CommandError, ErrorType> = {
  UNKNOWN: ERR.CMD_UNKNOWN,
  SYNTAX: ERR.CMD_SYNTAX,
  PROHIBITED: ERR.CMD_PROHIBITED,
  NO_AUTH: ERR.CMD_NO_AUTH,
  HAS_AUTH: ERR.CMD_HAS_AUTH,
  NO_ENTITY: ERR.CMD_NO_ENTITY,
};

export function cmdError(e: CommandError): ErrorType {
  return CMD_ERRORS[e];
}

/**
 * A request that must be answered with `ERR <error>` (parse failures, credential-shape violations).
 * Thrown only on malformed input, never on the normal path.
 */
export class ProtocolError extends Error {
  override name = "ProtocolError";
  constructor(readonly error: ErrorType) {
    super(`SMP error ${errorTypeText(error)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Encoding

export function encodeTransportError(w: Writer, e: TransportError): void {
  w.ascii(e.type);
  if (e.type === "HANDSHAKE") w.space().ascii(e.err);
}

function encodeBrokerError(w: Writer, e: BrokerErrorType): void {
  switch (e.type) {
    case "RESPONSE":
    case "UNEXPECTED":
      w.ascii(e.type).space().short(latin1Bytes(e.err));
      return;
    case "TRANSPORT":
      w.ascii("TRANSPORT ");
      encodeTransportError(w, e.err);
      return;
    // The reference always drops the network detail ("TODO once all upgrade").
    default:
      w.ascii(e.type);
  }
}

function encodeProxyError(w: Writer, e: ProxyError): void {
  switch (e.type) {
    case "PROTOCOL":
      w.ascii("PROTOCOL ");
      encodeErrorType(w, e.err);
      return;
    case "BROKER":
      w.ascii("BROKER ");
      encodeBrokerError(w, e.err);
      return;
    default:
      w.ascii(e.type);
  }
}

/** `reason=spam|content[,notice=<json>]`, no length prefix (Protocol.hs:StrEncoding BlockingInfo). */
export function encodeBlockingInfo(w: Writer, info: BlockingInfo): void {
  w.ascii("reason=").ascii(info.reason);
  if (info.notice !== null) w.ascii(",notice=").bytes(utf8(clientNoticeJson(info.notice)));
}

/** aeson with omitNothingFields: `{"ttl":N}` or `{}`. */
function clientNoticeJson(n: ClientNotice): string {
  return n.ttl === null ? "{}" : `{"ttl":${n.ttl}}`;
}

/** `smpEncode ErrorType` exactly as it appears after `ERR `; no version rules here (see `errorForVersion`). */
export function encodeErrorType(w: Writer, e: ErrorType): void {
  switch (e.type) {
    case "CMD":
      w.ascii("CMD ").ascii(e.err);
      return;
    case "PROXY":
      w.ascii("PROXY ");
      encodeProxyError(w, e.err);
      return;
    case "BLOCKED":
      w.ascii("BLOCKED ");
      encodeBlockingInfo(w, e.info);
      return;
    case "STORE":
      w.ascii("STORE ").bytes(utf8(e.err));
      return;
    case "NAME":
      w.ascii("NAME ").ascii(e.err.type);
      if (e.err.type === "RESOLVER") w.space().bytes(utf8(e.err.err));
      return;
    default:
      w.ascii(e.type);
  }
}

/**
 * What a client at version v may receive in a top-level `ERR` (Protocol.hs:encodeProtocol ERR):
 * BLOCKED is AUTH before blockedEntitySMPVersion and loses its notice before clientNoticesSMPVersion.
 */
export function errorForVersion(e: ErrorType, v: Version): ErrorType {
  if (e.type !== "BLOCKED") return e;
  if (v < blockedEntitySMPVersion) return ERR.AUTH;
  if (v < clientNoticesSMPVersion && e.info.notice !== null) {
    return { type: "BLOCKED", info: { reason: e.info.reason, notice: null } };
  }
  return e;
}

// ---------------------------------------------------------------------------------------------
// Parsing (client side). Each parser consumes the rest of the reader, as the reference parses
// errors with `parseAll` at the end of a transmission.

const SP = 0x20;

function word(r: Reader): string {
  return ascii(r.token());
}

function restUtf8Lenient(r: Reader): string {
  // safeDecodeUtf8: invalid sequences become U+FFFD instead of failing.
  return new TextDecoder("utf-8", { fatal: false }).decode(r.tail());
}

export function parseTransportError(r: Reader): TransportError {
  const w = word(r);
  switch (w) {
    case "BLOCK":
    case "VERSION":
    case "LARGE_MSG":
    case "SESSION":
    case "NO_AUTH":
      return { type: w };
    case "HANDSHAKE": {
      r.space();
      // parseRead1: the word up to SP or LF, read as a HandshakeError constructor.
      const start = r.pos;
      while (r.pos < r.end && r.buf[r.pos] !== SP && r.buf[r.pos] !== 0x0a) r.pos++;
      const h = ascii(r.buf.subarray(start, r.pos));
      if (h === "PARSE" || h === "IDENTITY" || h === "BAD_AUTH" || h === "BAD_SERVICE") return { type: "HANDSHAKE", err: h };
      throw new ParseError("bad HandshakeError");
    }
    default:
      throw new ParseError("bad TransportError");
  }
}

function parseNetworkError(r: Reader): NetworkError {
  const w = word(r);
  switch (w) {
    case "CONNECT":
    case "TLS":
    case "SUBSCRIBE":
      r.space();
      return { type: w, err: ascii(r.short()) };
    case "UNKNOWNCA":
    case "FAILED":
    case "TIMEOUT":
      return { type: w };
    default:
      throw new ParseError("bad NetworkError");
  }
}

function parseBrokerError(r: Reader): BrokerErrorType {
  const w = word(r);
  switch (w) {
    case "RESPONSE":
    case "UNEXPECTED":
      r.space();
      return { type: w, err: ascii(r.short()) };
    case "TRANSPORT":
      r.space();
      return { type: "TRANSPORT", err: parseTransportError(r) };
    case "NETWORK": {
      // `_smpP <|> pure NEFailedError`: a detail is optional and backtracks on failure.
      const save = r.pos;
      try {
        r.space();
        return { type: "NETWORK", err: parseNetworkError(r) };
      } catch (e) {
        if (!(e instanceof ParseError)) throw e;
        r.pos = save;
        return { type: "NETWORK", err: { type: "FAILED" } };
      }
    }
    case "TIMEOUT":
    case "HOST":
    case "NO_SERVICE":
      return { type: w };
    default:
      throw new ParseError("bad BrokerErrorType");
  }
}

function parseProxyError(r: Reader): ProxyError {
  const w = word(r);
  switch (w) {
    case "PROTOCOL":
      r.space();
      return { type: "PROTOCOL", err: parseErrorType(r) };
    case "BROKER":
      r.space();
      return { type: "BROKER", err: parseBrokerError(r) };
    case "BASIC_AUTH":
    case "NO_SESSION":
      return { type: w };
    default:
      throw new ParseError("bad ProxyError");
  }
}

function parseCommandError(r: Reader): CommandError {
  const w = word(r);
  switch (w) {
    case "UNKNOWN":
    case "SYNTAX":
    case "PROHIBITED":
    case "NO_AUTH":
    case "HAS_AUTH":
    case "NO_ENTITY":
      return w;
    case "NO_QUEUE": // accepted for backward compatibility (Protocol.hs:Encoding CommandError)
      return "NO_ENTITY";
    default:
      throw new ParseError("bad CommandError");
  }
}

const REASON = utf8("reason=");
const NOTICE = utf8(",notice=");

function startsWithAt(r: Reader, lit: Uint8Array): boolean {
  if (r.remaining < lit.length) return false;
  for (let i = 0; i < lit.length; i++) if (r.buf[r.pos + i] !== lit[i]) return false;
  return true;
}

/** Parses BlockingInfo to the end of the reader (its notice JSON is `takeByteString`). */
export function parseBlockingInfo(r: Reader): BlockingInfo {
  if (!startsWithAt(r, REASON)) throw new ParseError("bad BlockingInfo");
  r.pos += REASON.length;
  let reason: BlockingReason;
  if (startsWithAt(r, utf8("spam"))) {
    reason = "spam";
    r.pos += 4;
  } else if (startsWithAt(r, utf8("content"))) {
    reason = "content";
    r.pos += 7;
  } else throw new ParseError("bad BlockingReason");
  let notice: ClientNotice | null = null;
  if (startsWithAt(r, NOTICE)) {
    r.pos += NOTICE.length;
    notice = parseClientNoticeJson(r.tail());
  }
  return { reason, notice };
}

function parseClientNoticeJson(b: Uint8Array): ClientNotice {
  let j: unknown;
  try {
    j = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(b));
  } catch {
    throw new ParseError("bad ClientNotice JSON");
  }
  if (typeof j !== "object" || j === null || Array.isArray(j)) throw new ParseError("bad ClientNotice");
  const ttl = (j as { ttl?: unknown }).ttl;
  if (ttl === undefined || ttl === null) return { ttl: null };
  if (typeof ttl !== "number" || !Number.isSafeInteger(ttl)) throw new ParseError("bad ClientNotice ttl");
  return { ttl };
}

/** Parses an ErrorType that runs to the end of the reader (`ERR` payload). */
export function parseErrorType(r: Reader): ErrorType {
  const w = word(r);
  switch (w) {
    case "BLOCK":
      return ERR.BLOCK;
    case "SESSION":
      return ERR.SESSION;
    case "CMD":
      r.space();
      return cmdError(parseCommandError(r));
    case "PROXY":
      r.space();
      return { type: "PROXY", err: parseProxyError(r) };
    case "AUTH":
      return ERR.AUTH;
    case "BLOCKED":
      r.space();
      return { type: "BLOCKED", info: parseBlockingInfo(r) };
    case "SERVICE":
      return ERR.SERVICE;
    case "CRYPTO":
      return ERR.CRYPTO;
    case "QUOTA":
      return ERR.QUOTA;
    case "STORE":
      r.space();
      return { type: "STORE", err: restUtf8Lenient(r) };
    case "EXPIRED":
      return ERR.EXPIRED;
    case "NO_MSG":
      return ERR.NO_MSG;
    case "LARGE_MSG":
      return ERR.LARGE_MSG;
    case "INTERNAL":
      return ERR.INTERNAL;
    case "NAME": {
      r.space();
      const n = word(r);
      if (n === "NO_RESOLVER") return ERR.NAME_NO_RESOLVER;
      if (n === "NOT_FOUND") return ERR.NAME_NOT_FOUND;
      if (n === "RESOLVER") {
        r.space();
        return { type: "NAME", err: { type: "RESOLVER", err: restUtf8Lenient(r) } };
      }
      throw new ParseError("bad NameErrorType");
    }
    case "DUPLICATE_":
      return ERR.DUPLICATE_;
    default:
      throw new ParseError("bad ErrorType");
  }
}

// ---------------------------------------------------------------------------------------------

function latin1Bytes(s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i) & 0xff;
  return b;
}

/** The error as text (logs, exception messages): the wire form without version rules. */
export function errorTypeText(e: ErrorType): string {
  const w = new Writer(64);
  encodeErrorType(w, e);
  return ascii(w.view_());
}
