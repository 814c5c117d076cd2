// The server's MSG body and NMSG metadata encryption against messages.json: bytes computed by
// the reference's own encodeRcvMsgBody + cbEncryptMaxLenBS (Server.hs:encryptMsg) and
// mkMessageNotification.
import { expect, test } from "bun:test";
import { hex, loadVectors, toHex } from "../vectors.ts";
import { encodeRcvMsgBody, encryptMsg, encryptNtfMeta, RCV_MSG_PADDED_LEN } from "../../src/server/message-encryption.ts";

const V = loadVectors("messages.json");
const secret = hex(V.rcv_dh_secret);

test("MSG body: encodeRcvMsgBody and its encryption (Server.hs:encryptMsg)", () => {
  const m = V.msg;
  expect(RCV_MSG_PADDED_LEN).toBe(Number(m.padded_len));
  const msg = { msgId: hex(m.msg_id), ts: Number(m.msg_ts_seconds), quota: false, notification: m.notification === true, body: hex(m.msg_body) };
  expect(toHex(encodeRcvMsgBody(msg))).toBe(m.encodeRcvMsgBody);
  const enc = encryptMsg(secret, msg);
  expect(enc.length).toBe(Number(m.encrypted_len));
  expect(toHex(enc)).toBe(m.encrypted);
});

test("quota marker body: \"QUOTA \" ‖ Int64 ts", () => {
  const q = V.quota;
  const msg = { msgId: hex(q.msg_id), ts: Number(V.msg.msg_ts_seconds), quota: true, notification: false, body: new Uint8Array(0) };
  expect(toHex(encodeRcvMsgBody(msg))).toBe(q.encodeRcvMsgBody);
  expect(toHex(encryptMsg(secret, msg))).toBe(q.encrypted);
});

test("NMSG metadata (Server.hs:mkMessageNotification)", () => {
  const n = V.nmsg;
  const enc = encryptNtfMeta(hex(n.rcv_ntf_dh_secret), hex(n.nonce), hex(V.msg.msg_id), Number(V.msg.msg_ts_seconds));
  expect(enc.length).toBe(Number(n.encrypted_len));
  expect(toHex(enc)).toBe(n.encrypted);
});
