// Server → client messages of transmissions.json (all 9 versions): our server-side encoder reproduces the
// reference bytes (Protocol.hs:encodeProtocol for BrokerMsg, encodeTransmission, tEncode Nothing,
// tEncodeBatch1) and the client-side parser reads them back (Protocol.hs:tDecodeClient).
import { describe, expect, test } from "bun:test";
import { Reader } from "../../src/encoding/reader.ts";
import { Writer } from "../../src/encoding/writer.ts";
import { BatchCursor, batch1 } from "../../src/protocol/batch.ts";
import { encodeResponse, parseServerTransmission, transmissionParams } from "../../src/protocol/transmission.ts";
import { encodeBrokerMsg, parseBrokerMsg, type BrokerMsg } from "../../src/protocol/broker-messages.ts";
import { ERR, type ErrorType } from "../../src/protocol/errors.ts";
import { queueIdsHash } from "../../src/protocol/ids-hash.ts";
import { TX, V20, hex, toHex, encode, vid, vkey, ascii, loadVectors } from "./helpers.ts";

const sid = hex(TX.session_id);

describe("broker messages: encode and parse every vector", () => {
  for (const vv of TX.versions) {
    const p = transmissionParams(vv.version, sid);
    for (const m of vv.broker_messages) {
      test(`v${vv.version} ${m.name}`, () => {
        const block = hex(m.block_payload);
        const cur = new BatchCursor();
        expect(cur.open(block)).toBe(true);
        cur.next();
        const got = parseServerTransmission(block, cur.start, cur.end, p, new Reader(block));
        expect(got.error).toBeNull();
        expect(toHex(got.corrId)).toBe(m.corr_id);
        expect(toHex(got.entityId)).toBe(m.entity_id);
        const msg = got.msg!;
        expect(toHex(encode((w) => encodeBrokerMsg(w, msg, vv.version)))).toBe(m.message);
        const t = encode((w) => encodeResponse(w, p, got.corrId, got.entityId, msg));
        expect(toHex(t)).toBe(m.transmission);
        expect(toHex(batch1(t))).toBe(m.block_payload);
      });
    }
  }
});

describe("broker messages: version downgrades (the v20 value encoded for each older client)", () => {
  // SOK → OK below v16, DELD → END below v10, SOKS/ENDS hash only from v19, IDS shapes,
  // BLOCKED → AUTH below v12 and without notice below v18 (Protocol.hs:encodeProtocol for BrokerMsg).
  const v20 = new Map<string, BrokerMsg>();
  for (const m of V20.broker_messages) v20.set(m.name, parseBrokerMsg(new Reader(hex(m.message)), 20));
  for (const vv of TX.versions) {
    for (const m of vv.broker_messages) {
      test(`v${vv.version} ${m.name}`, () => {
        expect(toHex(encode((w) => encodeBrokerMsg(w, v20.get(m.name)!, vv.version)))).toBe(m.message);
      });
    }
  }
});

describe("broker messages built from their fields", () => {
  const msgHex = (name: string, v = 20) => TX.versions.find((x) => x.version === v)!.broker_messages.find((m) => m.name === name)!.message;
  const enc = (m: BrokerMsg, v = 20) => toHex(encode((w) => encodeBrokerMsg(w, m, v)));

  test("IDS messaging+ntf creds at v20, v15, v9, v6", () => {
    const m: BrokerMsg = {
      tag: "IDS",
      ids: {
        rcvId: vid("rcvId"),
        sndId: vid("sndId"),
        rcvPublicDhKey: vkey("srv-queue-dh-x25519"),
        queueMode: "M",
        linkId: null,
        serviceId: null,
        serverNtfCreds: { notifierId: vid("ntfId"), dhKey: vkey("srv-ntf-dh-x25519") },
      },
    };
    for (const v of [20, 15, 9, 6]) expect(enc(m, v)).toBe(msgHex("IDS messaging+ntf creds", v));
  });

  test("SOKS / ENDS with queueIdsHash(rcvId, sndId, ntfId)", () => {
    const idsHash = queueIdsHash([vid("rcvId"), vid("sndId"), vid("ntfId")]);
    for (const v of [20, 16, 6]) {
      expect(enc({ tag: "SOKS", count: 3, idsHash }, v)).toBe(msgHex("SOKS", v));
      expect(enc({ tag: "ENDS", count: 3, idsHash }, v)).toBe(msgHex("ENDS", v));
    }
  });

  test("SOK with service id; DELD; INFO", () => {
    expect(enc({ tag: "SOK", serviceId: vid("serviceId") })).toBe(msgHex("SOK service"));
    expect(enc({ tag: "SOK", serviceId: vid("serviceId") }, 15)).toBe(msgHex("SOK service", 15));
    expect(enc({ tag: "DELD" }, 9)).toBe(msgHex("DELD", 9));
    const info: BrokerMsg = {
      tag: "INFO",
      info: {
        qiSnd: true,
        qiNtf: false,
        qiSub: { qSubThread: "subThread", qDelivered: "abc" },
        qiSize: 2,
        qiMsg: { msgId: "AQID", msgTs: 1700000000, msgType: "message" },
      },
    };
    expect(enc(info)).toBe(msgHex("INFO"));
  });

  test("ERR values", () => {
    const errs: [string, ErrorType][] = [
      ["ERR AUTH", ERR.AUTH],
      ["ERR CMD SYNTAX", ERR.CMD_SYNTAX],
      ["ERR PROXY BROKER RESPONSE", { type: "PROXY", err: { type: "BROKER", err: { type: "RESPONSE", err: "bad response" } } }],
      ["ERR PROXY BROKER UNEXPECTED", { type: "PROXY", err: { type: "BROKER", err: { type: "UNEXPECTED", err: "OK" } } }],
      [
        "ERR PROXY BROKER NETWORK (CONNECT err, encoded without detail)",
        { type: "PROXY", err: { type: "BROKER", err: { type: "NETWORK", err: { type: "CONNECT", err: "refused" } } } },
      ],
      [
        "ERR PROXY BROKER TRANSPORT HANDSHAKE BAD_SERVICE",
        { type: "PROXY", err: { type: "BROKER", err: { type: "TRANSPORT", err: { type: "HANDSHAKE", err: "BAD_SERVICE" } } } },
      ],
      ["ERR PROXY PROTOCOL CMD SYNTAX", { type: "PROXY", err: { type: "PROTOCOL", err: ERR.CMD_SYNTAX } }],
      ["ERR BLOCKED content, notice ttl=3600", { type: "BLOCKED", info: { reason: "content", notice: { ttl: 3600 } } }],
      ["ERR BLOCKED spam, notice ttl=null", { type: "BLOCKED", info: { reason: "spam", notice: { ttl: null } } }],
      ["ERR STORE", { type: "STORE", err: "database error" }],
      ["ERR NAME RESOLVER", { type: "NAME", err: { type: "RESOLVER", err: "rpc failed" } }],
    ];
    for (const [name, err] of errs) {
      for (const v of [20, 16, 11, 6]) expect(enc({ tag: "ERR", err }, v)).toBe(msgHex(name, v));
    }
  });

  test("MSG and NMSG with the real v20 bodies of messages.json", () => {
    const M = loadVectors("messages.json");
    const msg = M.transmissions_v20[0];
    const nmsg = M.transmissions_v20[1];
    const p = transmissionParams(20, sid);
    const t1 = encode((w) =>
      encodeResponse(w, p, new Uint8Array(), hex(msg.entity_id), { tag: "MSG", msgId: hex(M.msg.msg_id), body: hex(M.msg.encrypted) }),
    );
    expect(toHex(t1)).toBe(msg.transmission);
    const t2 = encode((w) =>
      encodeResponse(w, p, new Uint8Array(), hex(nmsg.entity_id), { tag: "NMSG", nonce: hex(M.nmsg.nonce), encMeta: hex(M.nmsg.encrypted) }),
    );
    expect(toHex(t2)).toBe(nmsg.transmission);
  });
});

describe("client-side parse errors (Protocol.hs:tDecodeClient, checkCredentials for BrokerMsg)", () => {
  const p = transmissionParams(20, sid);
  const parse = (t: Uint8Array) => parseServerTransmission(t, 0, t.length, p, new Reader(t));
  const resp = (entity: string, msg: string) => {
    const w = new Writer();
    w.byte(0).short(ascii("abcd")).short(ascii(entity)).ascii(msg);
    return w.toBytes();
  };
  test("unknown tag → CMD UNKNOWN, bad params → CMD SYNTAX", () => {
    expect(parse(resp("q", "NEW")).error).toBe(ERR.CMD_UNKNOWN);
    expect(parse(resp("q", "OK x")).error).toBe(ERR.CMD_SYNTAX);
    expect(parse(resp("q", "ERR NOPE")).error).toBe(ERR.CMD_SYNTAX);
  });
  test("entity shape: PONG must have none, OK must have one", () => {
    expect(parse(resp("q", "PONG")).error).toBe(ERR.CMD_HAS_AUTH);
    expect(parse(resp("", "OK")).error).toBe(ERR.CMD_NO_ENTITY);
    expect(parse(resp("", "PONG")).msg).toEqual({ tag: "PONG" });
  });
  test("NETWORK detail is optional on parse; CMD NO_QUEUE reads as NO_ENTITY", () => {
    const net = parse(resp("q", "ERR PROXY BROKER NETWORK")).msg as any;
    expect(net.err.err.err).toEqual({ type: "NETWORK", err: { type: "FAILED" } });
    const det = parse(resp("q", "ERR PROXY BROKER NETWORK TLS \x03bad")).msg as any;
    expect(det.err.err.err).toEqual({ type: "NETWORK", err: { type: "TLS", err: "bad" } });
    expect((parse(resp("q", "ERR CMD NO_QUEUE")).msg as any).err).toBe(ERR.CMD_NO_ENTITY);
  });
  test("truncated transmission → BLOCK with empty corrId", () => {
    const r = parse(Uint8Array.of(0, 4, 0x61));
    expect(r.error).toBe(ERR.BLOCK);
    expect(r.corrId.length).toBe(0);
  });
});
