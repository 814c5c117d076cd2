// Versions (Version.hs, Transport.hs constants), server address strings (Protocol.hs:strEncodeServer /
// serverStrP, basicAuth) and the QUE JSON (QueueStore/QueueInfo.hs).
import { describe, expect, test } from "bun:test";
import * as V from "../../src/protocol/versions.ts";
import { isValidBasicAuth, parseHost, parseServerStr, strEncodeServer } from "../../src/protocol/server-address.ts";
import { parseQueueInfoJson, queueInfoJson, utcTimeJson, type QueueInfo } from "../../src/protocol/queue-info.ts";
import { ERR, errorForVersion, errorTypeText, type ErrorType } from "../../src/protocol/errors.ts";
import { loadVectors, hex, ascii } from "./helpers.ts";

describe("versions", () => {
  test("named constants of Transport.hs", () => {
    expect([V.authCmdsSMPVersion, V.sendingProxySMPVersion, V.sndAuthKeySMPVersion, V.deletedEventSMPVersion]).toEqual([7, 8, 9, 10]);
    expect([V.encryptedBlockSMPVersion, V.blockedEntitySMPVersion, V.proxyServerHandshakeSMPVersion, V.shortLinksSMPVersion]).toEqual([11, 12, 14, 15]);
    expect([V.serviceCertsSMPVersion, V.newNtfCredsSMPVersion, V.clientNoticesSMPVersion, V.rcvServiceSMPVersion, V.namesSMPVersion]).toEqual([
      16, 17, 18, 19, 20,
    ]);
    expect(V.supportedServerSMPRelayVRange).toEqual({ min: 6, max: 20 });
    expect(V.legacyServerSMPRelayVRange).toEqual({ min: 6, max: 6 });
    expect(V.proxiedSMPRelayVRange).toEqual({ min: 8, max: 20 });
  });
  test("compatibleVRange / compatibleVRange' / compatibleVersion", () => {
    const r = V.versionRange;
    expect(V.compatibleVRange(r(6, 20), r(8, 30))).toEqual({ min: 8, max: 20 });
    expect(V.compatibleVRange(r(6, 7), r(8, 30))).toBeNull();
    expect(V.compatibleVRangeTo(r(6, 20), 14)).toEqual({ min: 6, max: 14 });
    expect(V.compatibleVRangeTo(r(6, 20), 21)).toBeNull();
    expect(V.compatibleVRangeTo(r(6, 20), 5)).toBeNull();
    expect(V.compatibleVersion(r(6, 20), r(1, 11))).toBe(11);
    expect(() => r(7, 6)).toThrow();
  });
  test("maxMessageLength (Protocol.hs)", () => {
    expect([6, 7, 8, 10, 11, 20].map(V.maxMessageLength)).toEqual([16088, 16088, 16064, 16064, 16048, 16048]);
  });
});

describe("errors below the versions that know them (Protocol.hs:encodeProtocol ERR)", () => {
  const blocked: ErrorType = { type: "BLOCKED", info: { reason: "spam", notice: { ttl: 60 } } };
  test("AUTH below v12, no notice below v18, nested errors untouched", () => {
    expect(errorForVersion(blocked, 11)).toBe(ERR.AUTH);
    expect(errorTypeText(errorForVersion(blocked, 12))).toBe("BLOCKED reason=spam");
    expect(errorTypeText(errorForVersion(blocked, 18))).toBe('BLOCKED reason=spam,notice={"ttl":60}');
    expect(errorForVersion(ERR.QUOTA, 6)).toBe(ERR.QUOTA);
  });
});

describe("server address strings", () => {
  const keyHash = hex(loadVectors("handshake.json").fixtures.key_hash_sha256_ca);
  test("round trip with auth, hosts and port", () => {
    const s = strEncodeServer({ hosts: ["smp.example.com", "1.2.3.4"], port: "5223", keyHash }, ascii("pass"));
    expect(s).toBe("smp://evk6yvqIaOtOVWfFhXQTdQRtlKeDy_4MXsJDYh2agys=:pass@smp.example.com,1.2.3.4:5223");
    const back = parseServerStr(s);
    expect(back.scheme).toBe("smp");
    expect(back.server).toEqual({ hosts: ["smp.example.com", "1.2.3.4"], port: "5223", keyHash });
    expect(back.auth).toEqual(ascii("pass"));
    expect(strEncodeServer(back.server, back.auth)).toBe(s);
  });
  test("onion and bracketed IPv6 hosts, default port", () => {
    const s = parseServerStr("smp://evk6yvqIaOtOVWfFhXQTdQRtlKeDy_4MXsJDYh2agys=@abc123.onion,[::1]");
    expect(s.server.hosts).toEqual(["abc123.onion", "::1"]);
    expect(s.server.port).toBe("");
    expect(s.auth).toBeNull();
  });
  test("malformed addresses are rejected", () => {
    for (const bad of ["smp:/x@h", "http://AAAA@h", "smp://@h", "smp://AAAA", "smp://AAAA@h:5223x", "smp://AAAA:@h", "smp://AAAA:a/b@h"]) {
      expect(() => parseServerStr(bad)).toThrow();
    }
  });
  test("hosts in PRXY must parse whole (Transport/Client.hs:strP TransportHost)", () => {
    expect(parseHost("1.2.3.4")).toBe("1.2.3.4");
    expect(parseHost("smp.example.com")).toBe("smp.example.com");
    expect(parseHost("2001:db8::1")).toBe("2001:db8::1");
    for (const bad of ["", "1.2.3.4:80", "a b", "x.onion.onion", "EXAMPLE.onion", "[::1]x"]) expect(() => parseHost(bad)).toThrow();
  });
  test("BasicAuth characters (Protocol.hs:basicAuth)", () => {
    expect(isValidBasicAuth(ascii("server-password!~"))).toBe(true);
    for (const bad of ["a b", "a@b", "a:b", "a/b", "a\tb", "a\x7fb", "a\xa0b", "a\xadb"]) expect(isValidBasicAuth(ascii(bad))).toBe(false);
    expect(isValidBasicAuth(ascii("\xe9t\xe9"))).toBe(true);
  });
});

describe("QUE → INFO JSON", () => {
  test("field order, omitted Nothing fields", () => {
    const q: QueueInfo = { qiSnd: false, qiNtf: true, qiSub: null, qiSize: 0, qiMsg: null };
    expect(queueInfoJson(q)).toBe('{"qiSnd":false,"qiNtf":true,"qiSize":0}');
    const q2: QueueInfo = { ...q, qiSub: { qSubThread: "noSub", qDelivered: null }, qiMsg: { msgId: "AQID", msgTs: 1700000000.5, msgType: "quota" } };
    expect(queueInfoJson(q2)).toBe(
      '{"qiSnd":false,"qiNtf":true,"qiSub":{"qSubThread":"noSub"},"qiSize":0,"qiMsg":{"msgId":"AQID","msgTs":"2023-11-14T22:13:20.5Z","msgType":"quota"}}',
    );
    expect(parseQueueInfoJson(queueInfoJson(q2))).toEqual(q2);
  });
  test("UTCTime as aeson prints it", () => {
    expect(utcTimeJson(1700000000)).toBe("2023-11-14T22:13:20Z");
    expect(utcTimeJson(1700000000.12)).toBe("2023-11-14T22:13:20.12Z");
    // Millisecond times (the metrics' header lines): every millisecond kept, none invented.
    expect(utcTimeJson(1700000000001 / 1000)).toBe("2023-11-14T22:13:20.001Z");
    expect(utcTimeJson(1700000000999 / 1000)).toBe("2023-11-14T22:13:20.999Z");
  });
  test("malformed INFO JSON is rejected", () => {
    for (const bad of ["{", "[]", '{"qiSnd":1,"qiNtf":true,"qiSize":0}', '{"qiSnd":true,"qiNtf":true}', '{"qiSnd":true,"qiNtf":true,"qiSize":0,"qiSub":{"qSubThread":"x"}}']) {
      expect(() => parseQueueInfoJson(bad)).toThrow();
    }
  });
});
