/**
 * Client → server commands (Protocol.hs:Command, encodeProtocol / protocolP for Cmd). The server parses,
 * the client library encodes; both sides per version. Parsing follows Protocol.hs:parseProtocol: the tag is
 * the bytes up to the first SP (unknown → CMD UNKNOWN); parameters must parse completely (else CMD SYNTAX),
 * so a parameterless command must be exactly its tag.
 *
 * Byte fields of a parsed command are VIEWS into the received block, except public keys, which are owned
 * copies (crypto/keys.ts:decodePubKey); copy whatever must outlive the block.
 */
import { Reader, ParseError } from "../encoding/reader.ts";
import type { Writer } from "../encoding/writer.ts";
import { utf8 } from "../encoding/bytes.ts";
import { KeyDecodeError, decodePubKey, isAuthKeyAlg, type PublicKey } from "../crypto/keys.ts";
import { ERR, ProtocolError } from "./errors.ts";
import { tagCode, tagCodeOf } from "./tags.ts";
import { encodeBasicAuth, encodeSMPServer, parseBasicAuth, parseSMPServer, type BasicAuth, type SMPServer } from "./server-address.ts";
import { parseSimplexNameDomain } from "./simplex-name.ts";
import { emptyIdsHash } from "./ids-hash.ts";
import {
  newNtfCredsSMPVersion,
  rcvServiceSMPVersion,
  shortLinksSMPVersion,
  sndAuthKeySMPVersion,
  type Version,
} from "./versions.ts";

export type SubscriptionMode = "S" | "C"; // subscribe | only create
export type QueueMode = "M" | "C"; // messaging | contact

export interface QueueLinkData {
  readonly fixedData: Uint8Array;
  readonly userData: Uint8Array;
}

export type QueueReqData =
  | { readonly mode: "M"; readonly link: { readonly senderId: Uint8Array; readonly data: QueueLinkData } | null }
  | {
      readonly mode: "C";
      readonly link: { readonly linkId: Uint8Array; readonly senderId: Uint8Array; readonly data: QueueLinkData } | null;
    };

export interface NewNtfCreds {
  readonly notifierKey: PublicKey;
  readonly dhKey: PublicKey;
}

export interface NewQueueReq {
  readonly rcvAuthKey: PublicKey;
  readonly rcvDhKey: PublicKey;
  readonly basicAuth: BasicAuth | null;
  readonly subMode: SubscriptionMode;
  /** null before shortLinksSMPVersion on v6..8; v9..14 carry only the mode (link = null). */
  readonly queueReqData: QueueReqData | null;
  readonly ntfCreds: NewNtfCreds | null;
}

export interface MsgFlags {
  readonly notification: boolean;
}

export type Command =
  | { readonly tag: "NEW"; readonly req: NewQueueReq }
  | { readonly tag: "SUB" }
  | { readonly tag: "SUBS"; readonly count: number; readonly idsHash: Uint8Array }
  | { readonly tag: "KEY"; readonly key: PublicKey }
  | { readonly tag: "RKEY"; readonly keys: readonly PublicKey[] }
  | { readonly tag: "LSET"; readonly linkId: Uint8Array; readonly data: QueueLinkData }
  | { readonly tag: "LDEL" }
  | { readonly tag: "NKEY"; readonly notifierKey: PublicKey; readonly dhKey: PublicKey }
  | { readonly tag: "NDEL" }
  | { readonly tag: "GET" }
  | { readonly tag: "ACK"; readonly msgId: Uint8Array }
  | { readonly tag: "OFF" }
  | { readonly tag: "DEL" }
  | { readonly tag: "QUE" }
  | { readonly tag: "SKEY"; readonly key: PublicKey }
  | { readonly tag: "SEND"; readonly flags: MsgFlags; readonly body: Uint8Array }
  | { readonly tag: "PING" }
  | { readonly tag: "LKEY"; readonly key: PublicKey }
  | { readonly tag: "LGET" }
  | { readonly tag: "PRXY"; readonly server: SMPServer; readonly basicAuth: BasicAuth | null }
  | { readonly tag: "PFWD"; readonly fwdVersion: Version; readonly cmdKey: PublicKey; readonly encTransmission: Uint8Array }
  | { readonly tag: "RFWD"; readonly encFwdTransmission: Uint8Array }
  | { readonly tag: "NSUB" }
  | { readonly tag: "NSUBS"; readonly count: number; readonly idsHash: Uint8Array }
  | { readonly tag: "RSLV"; readonly name: string };

export type CommandTag = Command["tag"];

/** Parameterless commands are shared immutable values (no allocation per transmission). */
export const CMD = Object.freeze({
  SUB: Object.freeze({ tag: "SUB" }) as Command,
  LDEL: Object.freeze({ tag: "LDEL" }) as Command,
  NDEL: Object.freeze({ tag: "NDEL" }) as Command,
  GET: Object.freeze({ tag: "GET" }) as Command,
  OFF: Object.freeze({ tag: "OFF" }) as Command,
  DEL: Object.freeze({ tag: "DEL" }) as Command,
  QUE: Object.freeze({ tag: "QUE" }) as Command,
  PING: Object.freeze({ tag: "PING" }) as Command,
  LGET: Object.freeze({ tag: "LGET" }) as Command,
  NSUB: Object.freeze({ tag: "NSUB" }) as Command,
});

// ---------------------------------------------------------------------------------------------
// Field codecs

/** Queue authorization keys: Ed25519, Ed448 or X25519 (Crypto.hs:APublicAuthKey). */
export function parseAuthKey(r: Reader): PublicKey {
  const k = decodePubKey(r.short());
  if (!isAuthKeyAlg(k.alg)) throw new ParseError("not an auth key");
  return k;
}

/** DH keys: X25519 only (Crypto.hs:PublicKey X25519). */
export function parseDhKey(r: Reader): PublicKey {
  const k = decodePubKey(r.short());
  if (k.alg !== "x25519") throw new ParseError("not an X25519 key");
  return k;
}

export function encodeKey(w: Writer, k: PublicKey): void {
  w.short(k.der);
}

export function encodeLinkData(w: Writer, d: QueueLinkData): void {
  w.large(d.fixedData).large(d.userData);
}

export function parseLinkData(r: Reader): QueueLinkData {
  const fixedData = r.large();
  const userData = r.large();
  return { fixedData, userData };
}

export function encodeSubMode(w: Writer, m: SubscriptionMode): void {
  w.byte(m.charCodeAt(0));
}

export function parseSubMode(r: Reader): SubscriptionMode {
  const b = r.byte();
  if (b === 0x53) return "S";
  if (b === 0x43) return "C";
  throw new ParseError("bad SubscriptionMode");
}

export function encodeQueueMode(w: Writer, m: QueueMode): void {
  w.byte(m.charCodeAt(0));
}

export function parseQueueMode(r: Reader): QueueMode {
  const b = r.byte();
  if (b === 0x4d) return "M";
  if (b === 0x43) return "C";
  throw new ParseError("bad QueueMode");
}

/** 'M' Maybe(short sId ‖ link data) | 'C' Maybe(short linkId ‖ short sId ‖ link data) (Protocol.hs:Encoding QueueReqData). */
export function encodeQueueReqData(w: Writer, q: QueueReqData): void {
  w.byte(q.mode.charCodeAt(0));
  w.maybe(q.link !== null);
  if (q.link === null) return;
  if (q.mode === "C") w.short(q.link.linkId);
  w.short(q.link.senderId);
  encodeLinkData(w, q.link.data);
}

export function parseQueueReqData(r: Reader): QueueReqData {
  const mode = parseQueueMode(r);
  if (!r.maybe()) return { mode, link: null };
  if (mode === "C") {
    const linkId = r.short();
    const senderId = r.short();
    return { mode, link: { linkId, senderId, data: parseLinkData(r) } };
  }
  const senderId = r.short();
  return { mode, link: { senderId, data: parseLinkData(r) } };
}

export function encodeNewNtfCreds(w: Writer, c: NewNtfCreds): void {
  encodeKey(w, c.notifierKey);
  encodeKey(w, c.dhKey);
}

export function parseNewNtfCreds(r: Reader): NewNtfCreds {
  const notifierKey = parseAuthKey(r);
  const dhKey = parseDhKey(r);
  return { notifierKey, dhKey };
}

export function encodeMsgFlags(w: Writer, f: MsgFlags): void {
  w.bool(f.notification);
}

/** The notification Bool, then any further flag bytes up to the next SP are skipped (future flags). */
export function parseMsgFlags(r: Reader): MsgFlags {
  const notification = r.bool();
  while (r.pos < r.end && r.buf[r.pos] !== 0x20) r.pos++;
  return notification ? FLAGS_T : FLAGS_F;
}

const FLAGS_T: MsgFlags = Object.freeze({ notification: true });
const FLAGS_F: MsgFlags = Object.freeze({ notification: false });

// ---------------------------------------------------------------------------------------------
// Parsing

const T = {
  NEW: tagCodeOf("NEW"),
  SUB: tagCodeOf("SUB"),
  SUBS: tagCodeOf("SUBS"),
  KEY: tagCodeOf("KEY"),
  RKEY: tagCodeOf("RKEY"),
  LSET: tagCodeOf("LSET"),
  LDEL: tagCodeOf("LDEL"),
  NKEY: tagCodeOf("NKEY"),
  NDEL: tagCodeOf("NDEL"),
  GET: tagCodeOf("GET"),
  ACK: tagCodeOf("ACK"),
  OFF: tagCodeOf("OFF"),
  DEL: tagCodeOf("DEL"),
  QUE: tagCodeOf("QUE"),
  SKEY: tagCodeOf("SKEY"),
  SEND: tagCodeOf("SEND"),
  PING: tagCodeOf("PING"),
  LKEY: tagCodeOf("LKEY"),
  LGET: tagCodeOf("LGET"),
  PRXY: tagCodeOf("PRXY"),
  PFWD: tagCodeOf("PFWD"),
  RFWD: tagCodeOf("RFWD"),
  NSUB: tagCodeOf("NSUB"),
  NSUBS: tagCodeOf("NSUBS"),
  RSLV: tagCodeOf("RSLV"),
};

/** A parameterless command: nothing may follow the tag. */
function bare(r: Reader, c: Command): Command {
  r.expectEnd();
  return c;
}

function parseNew(r: Reader, v: Version): Command {
  r.space();
  const rcvAuthKey = parseAuthKey(r);
  const rcvDhKey = parseDhKey(r);
  let basicAuth: BasicAuth | null = null;
  let queueReqData: QueueReqData | null = null;
  let ntfCreds: NewNtfCreds | null = null;
  let subMode: SubscriptionMode;
  if (v >= sndAuthKeySMPVersion) {
    if (r.maybe()) basicAuth = parseBasicAuth(r);
    subMode = parseSubMode(r);
    if (v >= shortLinksSMPVersion) {
      if (r.maybe()) queueReqData = parseQueueReqData(r);
      if (v >= newNtfCredsSMPVersion && r.maybe()) ntfCreds = parseNewNtfCreds(r);
    } else {
      // v9..14 carry only "sender can secure": T = messaging queue, F = contact queue.
      queueReqData = r.bool() ? { mode: "M", link: null } : { mode: "C", link: null };
    }
  } else {
    // v6..8: optional 'A' short(basicAuth) before the subscription mode.
    if (r.peek() === 0x41) {
      r.pos++;
      basicAuth = parseBasicAuth(r);
    }
    subMode = parseSubMode(r);
  }
  r.expectEnd();
  return { tag: "NEW", req: { rcvAuthKey, rcvDhKey, basicAuth, subMode, queueReqData, ntfCreds } };
}

function parseServiceSubs(r: Reader, v: Version, tag: "SUBS" | "NSUBS"): Command {
  if (v < rcvServiceSMPVersion) {
    r.expectEnd();
    return { tag, count: -1, idsHash: emptyIdsHash() };
  }
  r.space();
  const count = r.int64();
  const idsHash = r.short();
  r.expectEnd();
  return { tag, count, idsHash };
}

function parseParams(r: Reader, code: number, v: Version): Command {
  switch (code) {
    case T.NEW:
      return parseNew(r, v);
    case T.SUB:
      return bare(r, CMD.SUB);
    case T.SUBS:
      return parseServiceSubs(r, v, "SUBS");
    case T.KEY: {
      r.space();
      const key = parseAuthKey(r);
      r.expectEnd();
      return { tag: "KEY", key };
    }
    case T.RKEY: {
      r.space();
      const n = r.byte();
      if (n === 0) throw new ParseError("empty list");
      const keys: PublicKey[] = [];
      for (let i = 0; i < n; i++) keys.push(parseAuthKey(r));
      r.expectEnd();
      return { tag: "RKEY", keys };
    }
    case T.LSET: {
      r.space();
      const linkId = r.short();
      const data = parseLinkData(r);
      r.expectEnd();
      return { tag: "LSET", linkId, data };
    }
    case T.LDEL:
      return bare(r, CMD.LDEL);
    case T.NKEY: {
      r.space();
      const notifierKey = parseAuthKey(r);
      const dhKey = parseDhKey(r);
      r.expectEnd();
      return { tag: "NKEY", notifierKey, dhKey };
    }
    case T.NDEL:
      return bare(r, CMD.NDEL);
    case T.GET:
      return bare(r, CMD.GET);
    case T.ACK: {
      r.space();
      const msgId = r.short();
      r.expectEnd();
      return { tag: "ACK", msgId };
    }
    case T.OFF:
      return bare(r, CMD.OFF);
    case T.DEL:
      return bare(r, CMD.DEL);
    case T.QUE:
      return bare(r, CMD.QUE);
    case T.SKEY: {
      r.space();
      const key = parseAuthKey(r);
      r.expectEnd();
      return { tag: "SKEY", key };
    }
    case T.SEND: {
      r.space();
      const flags = parseMsgFlags(r);
      r.space();
      return { tag: "SEND", flags, body: r.tail() };
    }
    case T.PING:
      return bare(r, CMD.PING);
    case T.LKEY: {
      r.space();
      const key = parseAuthKey(r);
      r.expectEnd();
      return { tag: "LKEY", key };
    }
    case T.LGET:
      return bare(r, CMD.LGET);
    case T.PRXY: {
      r.space();
      const server = parseSMPServer(r);
      const basicAuth = r.maybe() ? parseBasicAuth(r) : null;
      r.expectEnd();
      return { tag: "PRXY", server, basicAuth };
    }
    case T.PFWD: {
      r.space();
      const fwdVersion = r.word16();
      const cmdKey = parseDhKey(r);
      return { tag: "PFWD", fwdVersion, cmdKey, encTransmission: r.tail() };
    }
    case T.RFWD:
      r.space();
      return { tag: "RFWD", encFwdTransmission: r.tail() };
    case T.NSUB:
      return bare(r, CMD.NSUB);
    case T.NSUBS:
      return parseServiceSubs(r, v, "NSUBS");
    case T.RSLV: {
      r.space();
      const name = parseSimplexNameDomain(r);
      r.tail(); // everything after the name token is ignored (`<* A.takeByteString`)
      return { tag: "RSLV", name };
    }
    default:
      throw new ProtocolError(ERR.CMD_UNKNOWN);
  }
}

/**
 * Parses the command that fills the rest of `r` (from `r.pos` to `r.end`).
 * Throws ProtocolError with CMD UNKNOWN (unknown tag) or CMD SYNTAX (bad parameters, trailing bytes, bad keys).
 */
export function parseCommand(r: Reader, v: Version): Command {
  const start = r.pos;
  const tagEnd = tagEndOf(r);
  const code = tagCode(r.buf, start, tagEnd);
  r.pos = tagEnd;
  try {
    return parseParams(r, code, v);
  } catch (e) {
    if (isMalformed(e)) throw new ProtocolError(ERR.CMD_SYNTAX);
    throw e;
  }
}

/** Errors that mean "these bytes do not parse" (anything else is a bug and must surface). */
export function isMalformed(e: unknown): boolean {
  return e instanceof ParseError || e instanceof KeyDecodeError;
}

function tagEndOf(r: Reader): number {
  const b = r.buf;
  let i = r.pos;
  while (i < r.end && b[i] !== 0x20) i++;
  return i;
}

// ---------------------------------------------------------------------------------------------
// Encoding (client side)

/** Protocol.hs:encodeProtocol for Command; fields the version cannot carry are dropped, as the reference does. */
export function encodeCommand(w: Writer, c: Command, v: Version): void {
  switch (c.tag) {
    case "NEW": {
      const q = c.req;
      w.ascii("NEW ");
      encodeKey(w, q.rcvAuthKey);
      encodeKey(w, q.rcvDhKey);
      if (v >= sndAuthKeySMPVersion) {
        w.maybe(q.basicAuth !== null);
        if (q.basicAuth !== null) encodeBasicAuth(w, q.basicAuth);
        encodeSubMode(w, q.subMode);
        if (v >= shortLinksSMPVersion) {
          w.maybe(q.queueReqData !== null);
          if (q.queueReqData !== null) encodeQueueReqData(w, q.queueReqData);
          if (v >= newNtfCredsSMPVersion) {
            w.maybe(q.ntfCreds !== null);
            if (q.ntfCreds !== null) encodeNewNtfCreds(w, q.ntfCreds);
          }
        } else {
          w.bool(q.queueReqData !== null && q.queueReqData.mode === "M");
        }
      } else {
        if (q.basicAuth !== null) {
          w.byte(0x41);
          encodeBasicAuth(w, q.basicAuth);
        }
        encodeSubMode(w, q.subMode);
      }
      return;
    }
    case "SUBS":
    case "NSUBS":
      w.ascii(c.tag);
      if (v >= rcvServiceSMPVersion) w.space().int64(c.count).short(c.idsHash);
      return;
    case "KEY":
    case "SKEY":
    case "LKEY":
      w.ascii(c.tag).space();
      encodeKey(w, c.key);
      return;
    case "RKEY":
      if (c.keys.length < 1 || c.keys.length > 255) throw new RangeError("RKEY needs 1..255 keys");
      w.ascii("RKEY ").byte(c.keys.length);
      for (const k of c.keys) encodeKey(w, k);
      return;
    case "LSET":
      w.ascii("LSET ").short(c.linkId);
      encodeLinkData(w, c.data);
      return;
    case "NKEY":
      w.ascii("NKEY ");
      encodeKey(w, c.notifierKey);
      encodeKey(w, c.dhKey);
      return;
    case "ACK":
      w.ascii("ACK ").short(c.msgId);
      return;
    case "SEND":
      w.ascii("SEND ");
      encodeMsgFlags(w, c.flags);
      w.space().bytes(c.body);
      return;
    case "PRXY":
      w.ascii("PRXY ");
      encodeSMPServer(w, c.server);
      w.maybe(c.basicAuth !== null);
      if (c.basicAuth !== null) encodeBasicAuth(w, c.basicAuth);
      return;
    case "PFWD":
      w.ascii("PFWD ").word16(c.fwdVersion);
      encodeKey(w, c.cmdKey);
      w.bytes(c.encTransmission);
      return;
    case "RFWD":
      w.ascii("RFWD ").bytes(c.encFwdTransmission);
      return;
    case "RSLV":
      w.ascii("RSLV ").bytes(utf8(c.name));
      return;
    default:
      // SUB LDEL NDEL GET OFF DEL QUE PING LGET NSUB
      w.ascii(c.tag);
  }
}
