/**
 * Sending through a proxy router (Client.hs:connectSMPProxiedRelay, proxySMPCommand) and, for a
 * router acting as that proxy, forwarding to the destination (Client.hs:forwardSMPTransmission).
 * Cold path: one call per proxied command.
 *
 *   client ─PFWD(cbEncrypt(dh(relayKey, cmdKey), corrId, inner block))→ proxy ─RFWD→ relay
 *   client ←PRES(cbEncrypt(…, reverse(corrId), response block))──────── proxy ←RRES─ relay
 */
import { Reader, ParseError } from "../encoding/reader.ts";
import { Writer } from "../encoding/writer.ts";
import { DhPrivateKey, x25519 } from "../crypto/dh.ts";
import { decodePubKey, type PublicKey } from "../crypto/keys.ts";
import { cbDecrypt, cbDecryptNoPad, cbEncrypt, cbEncryptNoPad } from "../crypto/secretbox.ts";
import { reverseNonce } from "../crypto/nonce.ts";
import { verifySignedObject } from "../crypto/signed-object.ts";
import type { Command } from "../protocol/commands.ts";
import type { BrokerMsg } from "../protocol/broker-messages.ts";
import type { CertChainPubKey } from "../protocol/cert-chain.ts";
import { ERR, type ErrorType, type TransportError } from "../protocol/errors.ts";
import { BatchCursor, batch1 } from "../protocol/batch.ts";
import { encodeFwdTransmission, parseFwdResponse } from "../protocol/fwd.ts";
import { parseServerTransmission, withVersion, type TransmissionParams } from "../protocol/transmission.ts";
import {
  compatibleVersion,
  paddedProxiedTLength,
  supportedClientSMPRelayVRange,
  type Version,
  type VersionRange,
} from "../protocol/versions.ts";
import type { BasicAuth } from "../protocol/server-address.ts";
import { chainIdCaCerts, x509Validate } from "../transport/tls/chain-validation.ts";
import { readCertFields } from "../transport/tls/cert-fields.ts";
import { sha256 } from "../crypto/digest.ts";
import { constantTimeEqual } from "../encoding/bytes.ts";
import { TransmissionEncoder, type AuthKey } from "./authorize.ts";
import { SMPClientError, SMPError, errorTypeText } from "./errors.ts";
import { dhPublicKey } from "./keys.ts";

/** A destination router reachable through a proxy connection (Client.hs:ProxiedRelay). */
export interface ProxiedRelay {
  /** tls-unique of the proxy↔relay connection: the session the inner transmission is authorized for. */
  readonly sessionId: Uint8Array;
  readonly version: Version;
  readonly basicAuth: BasicAuth | null;
  /** The relay's per-connection X25519 key, verified against its certificate. */
  readonly serverKey: Uint8Array;
}

/** What went wrong between the client and the proxy itself (Client.hs:ProxyClientError). */
export class ProxyClientError extends Error {
  override name = "ProxyClientError";
  constructor(
    /** PROTOCOL: the proxy answered ERR; UNEXPECTED: a response other than PRES; SYNTAX: the proxy's response failed to parse. */
    readonly kind: "PROTOCOL" | "UNEXPECTED" | "SYNTAX",
    readonly err: ErrorType | null,
    readonly response: BrokerMsg | null = null,
  ) {
    super(`proxy ${kind}${err !== null ? " " + errorTypeText(err) : response !== null ? " " + response.tag : ""}`);
  }
}

function relayTransportError(e: TransportError): SMPError {
  return new SMPError({ type: "PROXY", err: { type: "BROKER", err: { type: "TRANSPORT", err: e } } });
}

/**
 * Checks PKEY the way connectSMPProxiedRelay does: a common version, the relay's identity (its
 * id certificate hashes to the address key hash, the chain validates against its CA) and the
 * session key signed by the leaf.
 */
export function proxiedRelayFromPKEY(
  keyHash: Uint8Array,
  sessionId: Uint8Array,
  vr: VersionRange,
  certKey: CertChainPubKey,
  basicAuth: BasicAuth | null,
  now?: number,
): ProxiedRelay {
  const version = compatibleVersion(supportedClientSMPRelayVRange, vr);
  if (version === null) throw relayTransportError({ type: "VERSION" });
  const identity = relayTransportError({ type: "HANDSHAKE", err: "IDENTITY" });
  const shape = chainIdCaCerts(certKey.certChain);
  if (shape.kind !== "valid" || !constantTimeEqual(sha256(shape.idCert), keyHash)) throw identity;
  if (x509Validate(shape.caCert, certKey.certChain, now) !== null) throw identity;
  let serverKey: Uint8Array;
  try {
    const leafKey = decodePubKey(readCertFields(shape.leafCert).spki);
    const spki = verifySignedObject(certKey.signed ?? certKey.signedPubKey, leafKey);
    const k = spki === null ? null : decodePubKey(spki);
    if (k === null || k.alg !== "x25519") throw identity;
    serverKey = k.raw;
  } catch {
    throw identity;
  }
  return { sessionId: sessionId.slice(), version, basicAuth, serverKey };
}

/** The PFWD command for one proxied command, and what is needed to open its PRES. */
export interface ProxiedCommand {
  readonly corrId: Uint8Array;
  readonly cmd: Command;
  readonly cmdSecret: Uint8Array;
  readonly relayParams: TransmissionParams;
}

export interface ProxiedCommandOptions {
  /** Fixed PFWD corrId = nonce (tests); random otherwise. */
  readonly corrId?: Uint8Array;
  /** Fixed per-command X25519 key (tests); random otherwise. */
  readonly cmdKey?: DhPrivateKey;
}

/**
 * proxySMPCommand's encoding: the inner transmission authorized for the relay session at the
 * relay version (no service signature), batched alone, padded and encrypted for the relay.
 */
export function buildProxiedCommand(
  proxyParams: TransmissionParams,
  relay: ProxiedRelay,
  key: AuthKey | null,
  entityId: Uint8Array,
  command: Command,
  corrId: Uint8Array,
  cmdKey: DhPrivateKey = DhPrivateKey.generate(),
): ProxiedCommand {
  const relayParams = withVersion({ ...proxyParams, sessionId: relay.sessionId }, relay.version);
  const cmdSecret = x25519(relay.serverKey, cmdKey);
  const w = new Writer(16384);
  new TransmissionEncoder(relayParams, relay.serverKey, null).encode(w, corrId, entityId, command, key);
  if (w.pos + 2 > 16365) throw new SMPClientError("large-msg", "proxied transmission does not fit a block");
  const inner = batch1(w.view_());
  if (inner.length + 2 > paddedProxiedTLength) throw new SMPClientError("large-msg", "proxied transmission does not fit the padded envelope");
  const encTransmission = cbEncrypt(cmdSecret, corrId, inner, paddedProxiedTLength);
  const cmd: Command = { tag: "PFWD", fwdVersion: relay.version, cmdKey: dhPublicKey(cmdKey), encTransmission };
  return { corrId, cmd, cmdSecret, relayParams };
}

/**
 * Opens PRES: the relay's response must be one transmission. The relay's ERR is thrown as
 * SMPError (the proxy is transparent for it); its other answers are returned.
 */
export function openProxiedResponse(pc: ProxiedCommand, encResponse: Uint8Array): BrokerMsg {
  const block = cbDecrypt(pc.cmdSecret, reverseNonce(pc.corrId), encResponse);
  if (block === null) throw new SMPClientError("crypto", "proxied response failed to decrypt");
  const cursor = new BatchCursor();
  if (!cursor.open(block) || cursor.count !== 1) throw new SMPClientError("bad-response", "proxied response is not one transmission", null, ERR.BLOCK);
  cursor.next();
  const t = parseServerTransmission(block, cursor.start, cursor.end, pc.relayParams, new Reader(block));
  if (t.msg === null) {
    const err = t.error ?? ERR.BLOCK;
    throw new SMPClientError("bad-response", `bad proxied response: ${errorTypeText(err)}`, null, err);
  }
  if (t.msg.tag === "ERR") throw new SMPError(t.msg.err);
  return t.msg;
}

/** The RFWD a proxy sends for a client's PFWD, encrypted with the proxy↔relay session secret. */
export function buildForward(
  sessSecret: Uint8Array,
  nonce: Uint8Array,
  fwd: { fwdCorrId: Uint8Array; fwdVersion: Version; fwdKey: PublicKey; encTransmission: Uint8Array },
): Command {
  const w = new Writer(16384);
  encodeFwdTransmission(w, fwd);
  return { tag: "RFWD", encFwdTransmission: cbEncryptNoPad(sessSecret, nonce, w.view_()) };
}

/** Opens RRES: the encrypted response for the client (to pass on in PRES). */
export function openForwardResponse(sessSecret: Uint8Array, nonce: Uint8Array, encFwdResponse: Uint8Array): Uint8Array {
  const plain = cbDecryptNoPad(sessSecret, reverseNonce(nonce), encFwdResponse);
  if (plain === null) throw new SMPClientError("crypto", "forwarded response failed to decrypt");
  try {
    return parseFwdResponse(new Reader(plain)).encResponse;
  } catch (e) {
    if (e instanceof ParseError) throw new SMPClientError("bad-response", "bad forwarded response", null, ERR.BLOCK);
    throw e;
  }
}
