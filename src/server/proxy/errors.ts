/**
 * What the proxy tells its client when its own connection to the destination fails
 * (Client.hs:smpProxyError over ProtocolClientError): the client library's errors mapped to the
 * ErrorType the reference would send.
 */
import { SMPClientError, SMPError, errorTypeText } from "../../client/errors.ts";
import { HandshakeError } from "../../transport/client-handshake.ts";
import type { BrokerMsg } from "../../protocol/broker-messages.ts";
import { ERR, type BrokerErrorType, type ErrorType, type TransportError } from "../../protocol/errors.ts";

export const broker = (err: BrokerErrorType): ErrorType => ({ type: "PROXY", err: { type: "BROKER", err } });
export const transportErr = (err: TransportError): ErrorType => broker({ type: "TRANSPORT", err });

export const PROXY_NETWORK = broker({ type: "NETWORK", err: { type: "FAILED" } });
export const PROXY_TIMEOUT = broker({ type: "TIMEOUT" });
export const PROXY_HOST = broker({ type: "HOST" });
export const PROXY_VERSION = transportErr({ type: "VERSION" });
export const PROXY_NO_AUTH = transportErr({ type: "NO_AUTH" });
export const PROXY_NO_SESSION: ErrorType = { type: "PROXY", err: { type: "NO_SESSION" } };
export const PROXY_BASIC_AUTH: ErrorType = { type: "PROXY", err: { type: "BASIC_AUTH" } };

/**
 * Client.hs:unexpectedResponse keeps the first 32 characters of Haskell's `show`. Only
 * constructors without fields show as their bare name; others are approximated by the tag.
 */
function shown(m: BrokerMsg | null, wrapped: boolean): string {
  const s = (wrapped ? "Right " : "") + (m === null ? "" : m.tag);
  return s.slice(0, 32);
}

/** Client.hs:smpProxyError, for an error thrown by the proxy's client of the destination. */
export function proxyError(e: unknown): ErrorType {
  // PCEProtocolError: the destination answered ERR.
  if (e instanceof SMPError) return { type: "PROXY", err: { type: "PROTOCOL", err: e.err } };
  // PCETransportError from the SMP handshake.
  if (e instanceof HandshakeError) return transportErr(e.transportError);
  if (e instanceof SMPClientError) {
    switch (e.kind) {
      case "timeout":
        return PROXY_TIMEOUT;
      // The reference keeps waiting for a response on a dead connection until it times out.
      case "closed":
        return PROXY_TIMEOUT;
      case "connect":
        return PROXY_NETWORK;
      case "unexpected":
        // A response for another entity is shown as `Right <msg>` (Client.hs:processMsg).
        return broker({ type: "UNEXPECTED", err: shown(e.response, e.message.includes("another entity")) });
      case "bad-response":
        return broker({ type: "RESPONSE", err: errorTypeText(e.responseError ?? ERR.BLOCK) });
      case "large-msg":
        return transportErr({ type: "LARGE_MSG" });
      case "no-server-auth":
        return PROXY_NO_AUTH;
      case "crypto":
        return ERR.CRYPTO;
      case "unsupported":
        return PROXY_VERSION;
    }
  }
  // Client.hs:clientHandlers: anything else thrown while connecting is a network error.
  return PROXY_NETWORK;
}
