/**
 * Server → client messages (Protocol.hs:BrokerMsg, encodeProtocol / protocolP for BrokerMsg). The server
 * encodes for the client's negotiated version (older clients get the older shapes: IDS variants, SOK → OK
 * below v16, DELD → END below v10, SOKS/ENDS without hash below v19, BLOCKED → AUTH below v12); the client
 * library parses.
 */
import { Reader, ParseError } from "../encoding/reader.ts";
import type { Writer } from "../encoding/writer.ts";
import type { PublicKey } from "../crypto/keys.ts";
import { tagCode, tagCodeOf } from "./tags.ts";
import { encodeErrorType, errorForVersion, parseErrorType, ERR, ProtocolError, type ErrorType } from "./errors.ts";
import {
  encodeKey,
  encodeLinkData,
  encodeQueueMode,
  isMalformed,
  parseDhKey,
  parseLinkData,
  parseQueueMode,
  type QueueLinkData,
  type QueueMode,
} from "./commands.ts";
import { encodeCertChainPubKey, parseCertChainPubKey, type CertChainPubKey } from "./cert-chain.ts";
import { encodeVersionRange, parseVersionRange, type VersionRange } from "./versions.ts";
import { parseQueueInfoJson, queueInfoJson, type QueueInfo } from "./queue-info.ts";
import { emptyIdsHash } from "./ids-hash.ts";
import { fromUtf8, utf8 } from "../encoding/bytes.ts";
import {
  deletedEventSMPVersion,
  newNtfCredsSMPVersion,
  rcvServiceSMPVersion,
  serviceCertsSMPVersion,
  shortLinksSMPVersion,
  sndAuthKeySMPVersion,
  type Version,
} from "./versions.ts";

export interface ServerNtfCreds {
  readonly notifierId: Uint8Array;
  readonly dhKey: PublicKey;
}

/** Protocol.hs:QueueIdsKeys. */
export interface QueueIdsKeys {
  readonly rcvId: Uint8Array;
  readonly sndId: Uint8Array;
  readonly rcvPublicDhKey: PublicKey;
  readonly queueMode: QueueMode | null;
  readonly linkId: Uint8Array | null;
  readonly serviceId: Uint8Array | null;
  readonly serverNtfCreds: ServerNtfCreds | null;
}

export type BrokerMsg =
  | { readonly tag: "IDS"; readonly ids: QueueIdsKeys }
  | { readonly tag: "LNK"; readonly senderId: Uint8Array; readonly data: QueueLinkData }
  | { readonly tag: "SOK"; readonly serviceId: Uint8Array | null }
  | { readonly tag: "SOKS"; readonly count: number; readonly idsHash: Uint8Array }
  | { readonly tag: "MSG"; readonly msgId: Uint8Array; readonly body: Uint8Array }
  | { readonly tag: "ALLS" }
  | { readonly tag: "NID"; readonly notifierId: Uint8Array; readonly dhKey: PublicKey }
  | { readonly tag: "NMSG"; readonly nonce: Uint8Array; readonly encMeta: Uint8Array }
  | { readonly tag: "PKEY"; readonly sessionId: Uint8Array; readonly versionRange: VersionRange; readonly certKey: CertChainPubKey }
  | { readonly tag: "RRES"; readonly encFwdResponse: Uint8Array }
  | { readonly tag: "PRES"; readonly encResponse: Uint8Array }
  | { readonly tag: "END" }
  | { readonly tag: "ENDS"; readonly count: number; readonly idsHash: Uint8Array }
  | { readonly tag: "DELD" }
  | { readonly tag: "INFO"; readonly info: QueueInfo }
  | { readonly tag: "OK" }
  | { readonly tag: "ERR"; readonly err: ErrorType }
  | { readonly tag: "PONG" }
  /** NameRecord JSON bytes as sent (Names/Record.hs); building and validating the record is the names module's job. */
  | { readonly tag: "RNAME"; readonly json: Uint8Array };

export type BrokerMsgTag = BrokerMsg["tag"];

export const MSG_ = Object.freeze({
  OK: Object.freeze({ tag: "OK" }) as BrokerMsg,
  PONG: Object.freeze({ tag: "PONG" }) as BrokerMsg,
  END: Object.freeze({ tag: "END" }) as BrokerMsg,
  DELD: Object.freeze({ tag: "DELD" }) as BrokerMsg,
  ALLS: Object.freeze({ tag: "ALLS" }) as BrokerMsg,
  SOK_NONE: Object.freeze({ tag: "SOK", serviceId: null }) as BrokerMsg,
});

export function errMsg(err: ErrorType): BrokerMsg {
  return { tag: "ERR", err };
}

// ---------------------------------------------------------------------------------------------
// Encoding (server side)

function maybeShort(w: Writer, b: Uint8Array | null): void {
  w.maybe(b !== null);
  if (b !== null) w.short(b);
}

function encodeIds(w: Writer, q: QueueIdsKeys, v: Version): void {
  w.ascii("IDS ").short(q.rcvId).short(q.sndId);
  encodeKey(w, q.rcvPublicDhKey);
  if (v >= shortLinksSMPVersion) {
    w.maybe(q.queueMode !== null);
    if (q.queueMode !== null) encodeQueueMode(w, q.queueMode);
    maybeShort(w, q.linkId);
    if (v >= serviceCertsSMPVersion) maybeShort(w, q.serviceId);
    if (v >= newNtfCredsSMPVersion) {
      const n = q.serverNtfCreds;
      w.maybe(n !== null);
      if (n !== null) {
        w.short(n.notifierId);
        encodeKey(w, n.dhKey);
      }
    }
  } else if (v >= sndAuthKeySMPVersion) {
    w.bool(q.queueMode === "M"); // senderCanSecure
  }
}

function encodeServiceResp(w: Writer, tag: string, count: number, idsHash: Uint8Array, v: Version): void {
  w.ascii(tag).space().int64(count);
  if (v >= rcvServiceSMPVersion) w.short(idsHash);
}

/** Protocol.hs:encodeProtocol for BrokerMsg at the client's version v. */
export function encodeBrokerMsg(w: Writer, m: BrokerMsg, v: Version): void {
  switch (m.tag) {
    case "IDS":
      encodeIds(w, m.ids, v);
      return;
    case "LNK":
      w.ascii("LNK ").short(m.senderId);
      encodeLinkData(w, m.data);
      return;
    case "SOK":
      // Below v16 no queue can be associated with a service, so plain OK says the same.
      if (v >= serviceCertsSMPVersion) {
        w.ascii("SOK ");
        maybeShort(w, m.serviceId);
      } else w.ascii("OK");
      return;
    case "SOKS":
    case "ENDS":
      encodeServiceResp(w, m.tag, m.count, m.idsHash, v);
      return;
    case "MSG":
      w.ascii("MSG ").short(m.msgId).bytes(m.body);
      return;
    case "NID":
      w.ascii("NID ").short(m.notifierId);
      encodeKey(w, m.dhKey);
      return;
    case "NMSG":
      if (m.nonce.length !== 24) throw new RangeError("NMSG nonce must be 24 bytes");
      w.ascii("NMSG ").bytes(m.nonce).short(m.encMeta);
      return;
    case "PKEY":
      w.ascii("PKEY ").short(m.sessionId);
      encodeVersionRange(w, m.versionRange);
      encodeCertChainPubKey(w, m.certKey);
      return;
    case "RRES":
      w.ascii("RRES ").bytes(m.encFwdResponse);
      return;
    case "PRES":
      w.ascii("PRES ").bytes(m.encResponse);
      return;
    case "DELD":
      w.ascii(v >= deletedEventSMPVersion ? "DELD" : "END");
      return;
    case "INFO":
      w.ascii("INFO ").bytes(utf8(queueInfoJson(m.info)));
      return;
    case "ERR":
      w.ascii("ERR ");
      encodeErrorType(w, errorForVersion(m.err, v));
      return;
    case "RNAME":
      w.ascii("RNAME ").bytes(m.json);
      return;
    default:
      // ALLS END OK PONG
      w.ascii(m.tag);
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing (client side)

const T = {
  IDS: tagCodeOf("IDS"),
  LNK: tagCodeOf("LNK"),
  SOK: tagCodeOf("SOK"),
  SOKS: tagCodeOf("SOKS"),
  MSG: tagCodeOf("MSG"),
  ALLS: tagCodeOf("ALLS"),
  NID: tagCodeOf("NID"),
  NMSG: tagCodeOf("NMSG"),
  PKEY: tagCodeOf("PKEY"),
  RRES: tagCodeOf("RRES"),
  PRES: tagCodeOf("PRES"),
  END: tagCodeOf("END"),
  ENDS: tagCodeOf("ENDS"),
  DELD: tagCodeOf("DELD"),
  INFO: tagCodeOf("INFO"),
  OK: tagCodeOf("OK"),
  ERR: tagCodeOf("ERR"),
  PONG: tagCodeOf("PONG"),
  RNAME: tagCodeOf("RNAME"),
};

function maybeShortP(r: Reader): Uint8Array | null {
  return r.maybe() ? r.short() : null;
}

function parseIds(r: Reader, v: Version): BrokerMsg {
  r.space();
  const rcvId = r.short();
  const sndId = r.short();
  const rcvPublicDhKey = parseDhKey(r);
  let queueMode: QueueMode | null = null;
  let linkId: Uint8Array | null = null;
  let serviceId: Uint8Array | null = null;
  let serverNtfCreds: ServerNtfCreds | null = null;
  if (v >= shortLinksSMPVersion) {
    if (r.maybe()) queueMode = parseQueueMode(r);
    linkId = maybeShortP(r);
    if (v >= serviceCertsSMPVersion) serviceId = maybeShortP(r);
    if (v >= newNtfCredsSMPVersion && r.maybe()) {
      const notifierId = r.short();
      serverNtfCreds = { notifierId, dhKey: parseDhKey(r) };
    }
  } else if (v >= sndAuthKeySMPVersion) {
    queueMode = r.bool() ? "M" : "C";
  }
  return { tag: "IDS", ids: { rcvId, sndId, rcvPublicDhKey, queueMode, linkId, serviceId, serverNtfCreds } };
}

function parseServiceRespP(r: Reader, v: Version, tag: "SOKS" | "ENDS"): BrokerMsg {
  r.space();
  const count = r.int64();
  const idsHash = v >= rcvServiceSMPVersion ? r.short() : emptyIdsHash();
  return { tag, count, idsHash };
}

function parseMsgParams(r: Reader, code: number, v: Version): BrokerMsg {
  switch (code) {
    case T.IDS:
      return parseIds(r, v);
    case T.LNK: {
      r.space();
      const senderId = r.short();
      return { tag: "LNK", senderId, data: parseLinkData(r) };
    }
    case T.SOK:
      r.space();
      return { tag: "SOK", serviceId: maybeShortP(r) };
    case T.SOKS:
      return parseServiceRespP(r, v, "SOKS");
    case T.ENDS:
      return parseServiceRespP(r, v, "ENDS");
    case T.MSG: {
      r.space();
      const msgId = r.short();
      return { tag: "MSG", msgId, body: r.tail() };
    }
    case T.NID: {
      r.space();
      const notifierId = r.short();
      return { tag: "NID", notifierId, dhKey: parseDhKey(r) };
    }
    case T.NMSG: {
      r.space();
      const nonce = r.take(24);
      return { tag: "NMSG", nonce, encMeta: r.short() };
    }
    case T.PKEY: {
      r.space();
      const sessionId = r.short();
      const versionRange = parseVersionRange(r);
      return { tag: "PKEY", sessionId, versionRange, certKey: parseCertChainPubKey(r) };
    }
    case T.RRES:
      r.space();
      return { tag: "RRES", encFwdResponse: r.tail() };
    case T.PRES:
      r.space();
      return { tag: "PRES", encResponse: r.tail() };
    case T.INFO: {
      r.space();
      let text: string;
      try {
        text = fromUtf8(r.tail());
      } catch {
        throw new ParseError("bad INFO text");
      }
      return { tag: "INFO", info: parseQueueInfoJson(text) };
    }
    case T.ERR:
      r.space();
      return { tag: "ERR", err: parseErrorType(r) };
    case T.RNAME:
      r.space();
      return { tag: "RNAME", json: r.tail() };
    case T.ALLS:
      return MSG_.ALLS;
    case T.END:
      return MSG_.END;
    case T.DELD:
      return MSG_.DELD;
    case T.OK:
      return MSG_.OK;
    case T.PONG:
      return MSG_.PONG;
    default:
      throw new ProtocolError(ERR.CMD_UNKNOWN);
  }
}

/**
 * Parses the broker message filling the rest of `r`. Throws ProtocolError CMD UNKNOWN / CMD SYNTAX,
 * as the reference's parseProtocol does for BrokerMsg.
 */
export function parseBrokerMsg(r: Reader, v: Version): BrokerMsg {
  const start = r.pos;
  let i = start;
  while (i < r.end && r.buf[i] !== 0x20) i++;
  const code = tagCode(r.buf, start, i);
  r.pos = i;
  try {
    const m = parseMsgParams(r, code, v);
    r.expectEnd();
    return m;
  } catch (e) {
    if (isMalformed(e)) throw new ProtocolError(ERR.CMD_SYNTAX);
    throw e;
  }
}

/** Client-side shape check of a response's entity (Protocol.hs:checkCredentials for BrokerMsg). */
export function checkBrokerMsgEntity(m: BrokerMsg, entityId: Uint8Array): ErrorType | null {
  switch (m.tag) {
    case "IDS":
    case "ERR":
      return null;
    case "PONG":
    case "PKEY":
    case "RRES":
    case "ALLS":
    case "RNAME":
      return entityId.length === 0 ? null : ERR.CMD_HAS_AUTH;
    default:
      return entityId.length === 0 ? ERR.CMD_NO_ENTITY : null;
  }
}
