/**
 * The recipient's side of what the server encrypts for it:
 * - MSG bodies (Server.hs:encryptMsg; Protocol.hs:encodeRcvMsgBody / clientRcvMsgBodyP; as
 *   tests/ServerTests.hs:decryptMsgV3 reads them): crypto_box with the queue's rcvDhSecret and
 *   nonce = msgId, holding `Int64 ts ‖ flags ‖ SP ‖ body`, or the quota marker `"QUOTA" SP Int64 ts`;
 * - NMSG metadata (Server.hs:mkMessageNotification; Protocol.hs:Encoding NMsgMeta): crypto_box with
 *   the notifier's rcvNtfDhSecret and the NMSG nonce, holding `short(msgId) ‖ Int64 ts [‖ Tail]`.
 */
import { Reader, ParseError } from "../encoding/reader.ts";
import { cbDecrypt } from "../crypto/secretbox.ts";
import { cbNonce } from "../crypto/nonce.ts";
import { ERR } from "../protocol/errors.ts";
import { SMPClientError } from "./errors.ts";

export type RcvMsgBody =
  /** A sender's message: `body` is still end-to-end encrypted by the sender. */
  | { readonly type: "message"; readonly ts: number; readonly notification: boolean; readonly body: Uint8Array }
  /** The marker left when the queue hit its quota; ACK it like a message. */
  | { readonly type: "quota"; readonly ts: number };

export interface NMsgMeta {
  readonly msgId: Uint8Array;
  readonly ts: number;
}

const QUOTA = [0x51, 0x55, 0x4f, 0x54, 0x41]; // "QUOTA"

function badBody(what: string): SMPClientError {
  return new SMPClientError("bad-response", `bad ${what}`, null, ERR.CMD_SYNTAX);
}

function decrypt(secret: Uint8Array, nonce: Uint8Array, enc: Uint8Array, what: string): Uint8Array {
  const plain = cbDecrypt(secret, cbNonce(nonce), enc);
  if (plain === null) throw new SMPClientError("crypto", `${what} failed to decrypt`);
  return plain;
}

function quotaTs(b: Uint8Array): number | null {
  if (b.length !== QUOTA.length + 9) return null;
  for (let i = 0; i < QUOTA.length; i++) if (b[i] !== QUOTA[i]) return null;
  const r = new Reader(b, QUOTA.length);
  r.space();
  return r.int64();
}

/** Parses a decrypted MSG body (clientRcvMsgBodyP: the quota form first, then the message form). */
export function parseRcvMsgBody(b: Uint8Array): RcvMsgBody {
  const q = quotaTs(b);
  if (q !== null) return { type: "quota", ts: q };
  try {
    const r = new Reader(b);
    const ts = r.int64();
    const notification = r.bool();
    r.token(); // flag bytes a newer sender may add before the SP (Encoding MsgFlags)
    r.space();
    return { type: "message", ts, notification, body: r.tail() };
  } catch (e) {
    if (e instanceof ParseError) throw badBody("message body");
    throw e;
  }
}

/** Decrypts and parses the body of `MSG msgId encBody` with the queue's rcvDhSecret. */
export function decryptMsgBody(rcvDhSecret: Uint8Array, msgId: Uint8Array, encBody: Uint8Array): RcvMsgBody {
  return parseRcvMsgBody(decrypt(rcvDhSecret, msgId, encBody, "message body"));
}

/** Decrypts and parses `NMSG nonce encMeta` with the notifier's rcvNtfDhSecret. */
export function decryptNMsgMeta(rcvNtfDhSecret: Uint8Array, nonce: Uint8Array, encMeta: Uint8Array): NMsgMeta {
  const plain = decrypt(rcvNtfDhSecret, nonce, encMeta, "notification metadata");
  try {
    const r = new Reader(plain);
    const msgId = r.short();
    const ts = r.int64();
    return { msgId, ts }; // anything after is a Tail for future fields
  } catch (e) {
    if (e instanceof ParseError) throw badBody("notification metadata");
    throw e;
  }
}
