// Protocol-level values of primitives.json (smpEncode of each, computed by the reference): our encoders
// produce the same bytes and our parsers read them back.
import { describe, expect, test } from "bun:test";
import { Reader } from "../../src/encoding/reader.ts";
import {
  encodeMsgFlags,
  encodeNewNtfCreds,
  encodeQueueMode,
  encodeQueueReqData,
  encodeSubMode,
  parseMsgFlags,
  parseNewNtfCreds,
  parseQueueMode,
  parseQueueReqData,
  parseSubMode,
  type QueueReqData,
} from "../../src/protocol/commands.ts";
import { encodeSMPServer, parseSMPServer, encodeBasicAuth, parseBasicAuth, type SMPServer } from "../../src/protocol/server-address.ts";
import { encodeBlockingInfo, encodeTransportError, parseBlockingInfo, parseTransportError, type TransportError } from "../../src/protocol/errors.ts";
import { emptyIdsHash, queueIdsHash } from "../../src/protocol/ids-hash.ts";
import { encodeServiceRole, parseServiceRole } from "../../src/protocol/handshake.ts";
import { encodeCertChainPubKey, parseCertChainPubKey } from "../../src/protocol/cert-chain.ts";
import { encodeVersionRange, parseVersionRange, supportedServerSMPRelayVRange } from "../../src/protocol/versions.ts";
import { parseSimplexNameDomain } from "../../src/protocol/simplex-name.ts";
import { loadVectors, hex, toHex, encode, vid, vkey, ascii } from "./helpers.ts";

const P = loadVectors("primitives.json");
const H = loadVectors("handshake.json");
const out = (name: string): string => {
  const v = P.vectors.find((x: any) => x.name === name);
  if (v === undefined) throw new Error(`no vector ${name}`);
  return v.output;
};

function roundTrip<T>(name: string, value: T, enc: (w: any, v: T) => void, parse: (r: Reader) => T) {
  expect(toHex(encode((w) => enc(w, value)))).toBe(out(name));
  const r = new Reader(hex(out(name)));
  const back = parse(r);
  r.expectEnd();
  expect(toHex(encode((w) => enc(w, back)))).toBe(out(name));
  return back;
}

const linkData = { fixedData: vid("fixedData"), userData: vid("userData") };

describe("primitives.json protocol values", () => {
  test("MsgFlags", () => {
    roundTrip("MsgFlags notification=T", { notification: true }, encodeMsgFlags, parseMsgFlags);
    roundTrip("MsgFlags notification=F", { notification: false }, encodeMsgFlags, parseMsgFlags);
  });
  test("SubscriptionMode, QueueMode", () => {
    roundTrip("SubscriptionMode SMSubscribe", "S" as const, encodeSubMode, parseSubMode);
    roundTrip("SubscriptionMode SMOnlyCreate", "C" as const, encodeSubMode, parseSubMode);
    roundTrip("QueueMode QMMessaging", "M" as const, encodeQueueMode, parseQueueMode);
    roundTrip("QueueMode QMContact", "C" as const, encodeQueueMode, parseQueueMode);
  });
  test("QueueReqData: all four shapes", () => {
    const shapes: [string, QueueReqData][] = [
      ["QueueReqData QRMessaging Nothing", { mode: "M", link: null }],
      ["QueueReqData QRMessaging (sndId, (fixedData, userData))", { mode: "M", link: { senderId: vid("sndId"), data: linkData } }],
      ["QueueReqData QRContact Nothing", { mode: "C", link: null }],
      [
        "QueueReqData QRContact (linkId, (sndId, (fixedData, userData)))",
        { mode: "C", link: { linkId: vid("linkId"), senderId: vid("sndId"), data: linkData } },
      ],
    ];
    for (const [name, q] of shapes) roundTrip(name, q, encodeQueueReqData, parseQueueReqData);
  });
  test("NewNtfCreds, ServerNtfCreds", () => {
    roundTrip("NewNtfCreds", { notifierKey: vkey("ntf-auth-ed25519"), dhKey: vkey("rcv-ntf-dh-x25519") }, encodeNewNtfCreds, parseNewNtfCreds);
    const sn = encode((w) => w.short(vid("ntfId")).short(vkey("srv-ntf-dh-x25519").der));
    expect(toHex(sn)).toBe(out("ServerNtfCreds"));
  });
  test("SMPServer (PRXY) and BasicAuth", () => {
    const keyHash = hex(H.fixtures.key_hash_sha256_ca);
    const s1: SMPServer = { hosts: ["smp.example.com"], port: "5223", keyHash };
    const s2: SMPServer = { hosts: ["smp.example.com", "1.2.3.4"], port: "", keyHash };
    const b1 = roundTrip("SMPServer smp.example.com:5223", s1, encodeSMPServer, parseSMPServer);
    expect(b1).toEqual(s1);
    expect(roundTrip("SMPServer two hosts, empty port", s2, encodeSMPServer, parseSMPServer)).toEqual(s2);
    roundTrip("BasicAuth", ascii("server-password"), encodeBasicAuth, parseBasicAuth);
  });
  test("BlockingInfo", () => {
    roundTrip("BlockingInfo spam", { reason: "spam" as const, notice: null }, encodeBlockingInfo, parseBlockingInfo);
    roundTrip("BlockingInfo content + notice", { reason: "content" as const, notice: { ttl: 3600 } }, encodeBlockingInfo, parseBlockingInfo);
  });
  test("SimplexNameDomain", () => {
    const r = new Reader(hex(out("SimplexNameDomain alice.simplex")));
    expect(parseSimplexNameDomain(r)).toBe("alice.simplex");
    expect(r.atEnd()).toBe(true);
  });
  test("IdsHash: XOR of MD5s and mempty", () => {
    const h = queueIdsHash([vid("rcvId"), vid("sndId"), vid("ntfId")]);
    expect(toHex(encode((w) => w.short(h)))).toBe(out("IdsHash = queueIdsHash [rcvId, sndId, ntfId] (XOR of MD5s, short-prefixed)"));
    expect(toHex(encode((w) => w.short(emptyIdsHash())))).toBe(out("IdsHash mempty (16 zero bytes)"));
  });
  test("SMPServiceRole", () => {
    roundTrip("SMPServiceRole M", "M" as const, encodeServiceRole, parseServiceRole);
    roundTrip("SMPServiceRole N", "N" as const, encodeServiceRole, parseServiceRole);
    roundTrip("SMPServiceRole P", "P" as const, encodeServiceRole, parseServiceRole);
  });
  test("every TransportError", () => {
    const all: [string, TransportError][] = [
      ["TEBadBlock", { type: "BLOCK" }],
      ["TEVersion", { type: "VERSION" }],
      ["TELargeMsg", { type: "LARGE_MSG" }],
      ["TEBadSession", { type: "SESSION" }],
      ["TENoServerAuth", { type: "NO_AUTH" }],
      ["TEHandshake {handshakeErr = PARSE}", { type: "HANDSHAKE", err: "PARSE" }],
      ["TEHandshake {handshakeErr = IDENTITY}", { type: "HANDSHAKE", err: "IDENTITY" }],
      ["TEHandshake {handshakeErr = BAD_AUTH}", { type: "HANDSHAKE", err: "BAD_AUTH" }],
      ["TEHandshake {handshakeErr = BAD_SERVICE}", { type: "HANDSHAKE", err: "BAD_SERVICE" }],
    ];
    for (const [n, e] of all) expect(roundTrip(`TransportError ${n}`, e, encodeTransportError, parseTransportError)).toEqual(e);
  });
  test("CertChainPubKey of the server hello", () => {
    const c = { certChain: [hex(H.fixtures.server_crt_der), hex(H.fixtures.ca_crt_der)], signedPubKey: hex(H.signed_server_session_key_der) };
    roundTrip(
      "CertChainPubKey (server hello key: chain [server.crt, ca.crt] + signed server-session-x25519)",
      c,
      encodeCertChainPubKey,
      parseCertChainPubKey,
    );
  });
  test("VersionRange 6..20", () => {
    roundTrip("VersionRange 6..20", supportedServerSMPRelayVRange, encodeVersionRange, parseVersionRange);
  });
});
