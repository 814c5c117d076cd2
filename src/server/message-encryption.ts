/**
 * The body of MSG as the recipient receives it (Server.hs:encryptMsg, Protocol.hs:encodeRcvMsgBody):
 * padded to 16106 and crypto_box-encrypted with the queue's DH secret, the message id as nonce.
 * The same message re-encrypts to the same bytes on every delivery.
 */
import { Writer } from "../encoding/writer.ts";
import { padInto } from "../crypto/pad.ts";
import { cbEncrypt, sealInPlace, TAG_LEN } from "../crypto/secretbox.ts";
import type { BrokerMsg } from "../protocol/broker-messages.ts";

/** MaxRcvMessageLen 16104 + 2 (Protocol.hs), independent of the version. */
export const RCV_MSG_PADDED_LEN = 16106;
/** NMsgMeta padded to 128 (Server.hs:mkMessageNotification). */
export const NTF_META_PADDED_LEN = 128;

export interface MsgToEncrypt {
  readonly msgId: Uint8Array;
  /** Seconds. */
  readonly ts: number;
  readonly quota: boolean;
  readonly notification: boolean;
  readonly body: Uint8Array;
}

const w = new Writer(16384);

export function encodeRcvMsgBody(msg: MsgToEncrypt): Uint8Array {
  w.reset();
  if (msg.quota) w.ascii("QUOTA ").int64(msg.ts);
  else w.int64(msg.ts).bool(msg.notification).space().bytes(msg.body);
  return w.view_();
}

const ENCRYPTED_LEN = TAG_LEN + RCV_MSG_PADDED_LEN;
/**
 * Encrypted MSG bodies the outbox has finished with (`releaseMsgBody`): every delivery needs a
 * 16 KB buffer, and reusing them keeps the garbage collector out of the delivery path.
 */
const pool: Uint8Array[] = [];
const POOL_MAX = 64;

/** Server.hs:encryptMsg. The result may come from the pool: hand it back once it is encoded. */
export function encryptMsg(rcvDhSecret: Uint8Array, msg: MsgToEncrypt): Uint8Array {
  const out = pool.pop() ?? new Uint8Array(ENCRYPTED_LEN);
  padInto(encodeRcvMsgBody(msg), out, TAG_LEN, RCV_MSG_PADDED_LEN);
  sealInPlace(rcvDhSecret, msg.msgId, out, TAG_LEN, RCV_MSG_PADDED_LEN);
  return out;
}

/** MSG of a stored message, encrypted for the queue's recipient. */
export function msgOf(q: { readonly rcvDhSecret: Uint8Array }, m: MsgToEncrypt): BrokerMsg {
  return { tag: "MSG", msgId: m.msgId, body: encryptMsg(q.rcvDhSecret, m) };
}

/** Returns an `encryptMsg` result to the pool; the caller must hold no reference to it after. */
export function releaseMsgBody(body: Uint8Array): void {
  if (body.length === ENCRYPTED_LEN && body.byteOffset === 0 && body.buffer.byteLength === ENCRYPTED_LEN && pool.length < POOL_MAX) pool.push(body);
}

/** NMSG metadata: `short(msgId) ‖ Int64 ts` encrypted for the notifier (NMsgMeta). */
export function encryptNtfMeta(rcvNtfDhSecret: Uint8Array, nonce: Uint8Array, msgId: Uint8Array, ts: number): Uint8Array {
  w.reset();
  w.short(msgId).int64(ts);
  return cbEncrypt(rcvNtfDhSecret, nonce, w.view_(), NTF_META_PADDED_LEN);
}
