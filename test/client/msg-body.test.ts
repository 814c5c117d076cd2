// MSG body and NMSG metadata decryption against messages.json (Server.hs:encryptMsg,
// mkMessageNotification as composed by the reference; read as tests/ServerTests.hs:decryptMsgV3 does).
import { describe, expect, test } from "bun:test";
import { loadVectors, hex, toHex } from "../vectors.ts";
import { x25519 } from "../../src/crypto/dh.ts";
import { Reader } from "../../src/encoding/reader.ts";
import { BatchCursor } from "../../src/protocol/batch.ts";
import { parseServerTransmission, transmissionParams } from "../../src/protocol/transmission.ts";
import { decryptMsgBody, decryptNMsgMeta, parseRcvMsgBody } from "../../src/client/msg-body.ts";
import { SMPClientError } from "../../src/client/errors.ts";

const M = loadVectors("messages.json");
const keyOf = (label: string) => M.keys.find((k: any) => k.label === label);

/** The broker message of the v20 transmission vector whose name starts with `tag`. */
function v20Vector(tag: string) {
  const t = M.transmissions_v20.find((x: any) => x.name.startsWith(tag));
  const block = hex(t.block_payload);
  const cur = new BatchCursor();
  expect(cur.open(block)).toBe(true);
  cur.next();
  const got = parseServerTransmission(block, cur.start, cur.end, transmissionParams(20, new Uint8Array(32)), new Reader(block));
  return got.msg!;
}

describe("MSG bodies", () => {
  test("the recipient's DH secret is dh(server queue key, own rcvDhKey)", () => {
    const s = x25519(hex(keyOf("srv-queue-dh-x25519").public_raw), hex(keyOf("rcv-dh-x25519").private_raw));
    expect(toHex(s)).toBe(M.rcv_dh_secret);
  });

  test("message: timestamp, notification flag and sender body", () => {
    const r = decryptMsgBody(hex(M.rcv_dh_secret), hex(M.msg.msg_id), hex(M.msg.encrypted));
    expect(r.type).toBe("message");
    if (r.type !== "message") return;
    expect(r.ts).toBe(M.msg.msg_ts_seconds);
    expect(r.notification).toBe(M.msg.notification);
    expect(toHex(r.body)).toBe(M.msg.msg_body);
  });

  test("quota marker", () => {
    const r = decryptMsgBody(hex(M.rcv_dh_secret), hex(M.quota.msg_id), hex(M.quota.encrypted));
    expect(r).toEqual({ type: "quota", ts: M.msg.msg_ts_seconds });
  });

  test("the MSG of the v20 transmission vector decrypts", () => {
    const m = v20Vector("MSG");
    if (m.tag !== "MSG") throw new Error(m.tag);
    const r = decryptMsgBody(hex(M.rcv_dh_secret), m.msgId, m.body);
    expect(r.type === "message" && toHex(r.body)).toBe(M.msg.msg_body);
  });

  test("wrong secret or tampered body → crypto error", () => {
    const enc = hex(M.msg.encrypted);
    enc[100] ^= 1;
    expect(() => decryptMsgBody(hex(M.rcv_dh_secret), hex(M.msg.msg_id), enc)).toThrow(SMPClientError);
    expect(() => decryptMsgBody(new Uint8Array(32), hex(M.msg.msg_id), hex(M.msg.encrypted))).toThrow(SMPClientError);
  });

  test("body parser (Protocol.hs:clientRcvMsgBodyP): future flag bytes are skipped, garbage rejected", () => {
    const plain = hex(M.msg.encodeRcvMsgBody);
    // ts(8) 'T' ' ' body → insert extra flag bytes before the SP
    const extended = new Uint8Array([...plain.subarray(0, 9), 0x58, 0x59, ...plain.subarray(9)]);
    const r = parseRcvMsgBody(extended);
    expect(r.type === "message" && toHex(r.body)).toBe(M.msg.msg_body);
    expect(parseRcvMsgBody(hex(M.quota.encodeRcvMsgBody))).toEqual({ type: "quota", ts: M.msg.msg_ts_seconds });
    expect(() => parseRcvMsgBody(plain.subarray(0, 5))).toThrow(SMPClientError);
    expect(() => parseRcvMsgBody(new Uint8Array([...plain.subarray(0, 8), 0x3f, 0x20]))).toThrow(SMPClientError);
  });
});

describe("NMSG metadata", () => {
  test("the notifier's DH secret and the decrypted (msgId, ts)", () => {
    const s = x25519(hex(keyOf("srv-ntf-dh-x25519").public_raw), hex(keyOf("rcv-ntf-dh-x25519").private_raw));
    expect(toHex(s)).toBe(M.nmsg.rcv_ntf_dh_secret);
    const meta = decryptNMsgMeta(s, hex(M.nmsg.nonce), hex(M.nmsg.encrypted));
    expect(toHex(meta.msgId)).toBe(M.msg.msg_id);
    expect(meta.ts).toBe(M.msg.msg_ts_seconds);
  });

  test("the NMSG of the v20 transmission vector decrypts", () => {
    const m = v20Vector("NMSG");
    if (m.tag !== "NMSG") throw new Error(m.tag);
    const meta = decryptNMsgMeta(hex(M.nmsg.rcv_ntf_dh_secret), m.nonce, m.encMeta);
    expect(toHex(meta.msgId)).toBe(M.msg.msg_id);
  });

  test("wrong nonce → crypto error", () => {
    expect(() => decryptNMsgMeta(hex(M.nmsg.rcv_ntf_dh_secret), new Uint8Array(24), hex(M.nmsg.encrypted))).toThrow(SMPClientError);
  });
});
