/**
 * What a client request can fail with (Client.hs:ProtocolClientError): the server's `ERR` is an
 * `SMPError`; everything else — no answer in time, connection gone, an answer that is not what the
 * command expects or does not parse, a transmission that cannot be sent — is an `SMPClientError`.
 */
import type { BrokerMsg } from "../protocol/broker-messages.ts";
import { encodeErrorType, type ErrorType } from "../protocol/errors.ts";
import { Writer } from "../encoding/writer.ts";
import { ascii } from "../encoding/bytes.ts";

/** The error text exactly as the server sent it after `ERR ` (e.g. `CMD SYNTAX`). */
export function errorTypeText(e: ErrorType): string {
  const w = new Writer(64);
  encodeErrorType(w, e);
  return ascii(w.view_());
}

/** The server answered `ERR <err>` (PCEProtocolError). */
export class SMPError extends Error {
  override name = "SMPError";
  constructor(readonly err: ErrorType) {
    super(`SMP ERR ${errorTypeText(err)}`);
  }
}

export type ClientErrorKind =
  /** No response within the request timeout (PCEResponseTimeout). */
  | "timeout"
  /** The connection closed before the response arrived (or the client was closed). */
  | "closed"
  /** A well-formed response of the wrong kind or for another entity (PCEUnexpectedResponse). */
  | "unexpected"
  /** A response that failed to parse (PCEResponseError); `responseError` says how. */
  | "bad-response"
  /** The transmission does not fit a block (TELargeMsg). */
  | "large-msg"
  /** X25519 authorization needs the server's session key, which this connection lacks (TENoServerAuth). */
  | "no-server-auth"
  /** A body or envelope failed to decrypt (PCECryptoError). */
  | "crypto"
  /** The negotiated version or session cannot carry the command (e.g. PRXY below v8, SUBS outside a service session). */
  | "unsupported"
  /** TLS, server identity or handshake failure while connecting. */
  | "connect";

export class SMPClientError extends Error {
  override name = "SMPClientError";
  constructor(
    readonly kind: ClientErrorKind,
    message: string,
    /** The response, for "unexpected". */
    readonly response: BrokerMsg | null = null,
    /** The parse error, for "bad-response". */
    readonly responseError: ErrorType | null = null,
  ) {
    super(message);
  }
}

export function unexpected(m: BrokerMsg): SMPClientError {
  return new SMPClientError("unexpected", `unexpected response ${m.tag}`, m);
}
