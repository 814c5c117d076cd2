/**
 * Protocol.hs:`StrEncoding Message` — one message as the reference writes it in the message log
 * and in journal files: `<msgId> <ts> flags=<T|F…> <body>` or, for the quota marker
 * (`MessageQuota`), `<msgId> <ts> quota`. `ts` is Unix seconds (`StrEncoding SystemTime`). The
 * parser also takes a message without `flags=` (no flags, `noMsgFlags`) and flags followed by
 * characters up to the space (Protocol.hs:`smpP MsgFlags` reads the Bool, then `takeTill (== ' ')`).
 */
import { b64, Cursor } from "./str.ts";

/** A message or quota marker, with the reference's second-precision time. */
export interface LogMessage {
  readonly msgId: Uint8Array;
  readonly ts: number;
  readonly quota: boolean;
  readonly notification: boolean;
  readonly body: Uint8Array;
}

const EMPTY = new Uint8Array(0);

export function parseMessage(c: Cursor): LogMessage {
  const msgId = c.bytes("message id");
  c.expect(" ");
  const ts = c.int("message time");
  c.expect(" ");
  if (c.lit("quota")) return { msgId, ts, quota: true, notification: false, body: EMPTY };
  let notification = false;
  if (c.lit("flags=")) {
    notification = c.bool("message flags");
    while (!c.atEnd() && c.s[c.pos] !== " ") c.pos++;
    c.expect(" ");
  }
  // An empty body encodes as nothing (`strEncode ""`); the reference could not read it back.
  const body = c.atEnd() ? EMPTY : c.bytes("message body");
  return { msgId, ts, quota: false, notification, body };
}

export function encodeMessage(m: LogMessage): string {
  return m.quota ? `${b64(m.msgId)} ${m.ts} quota` : `${b64(m.msgId)} ${m.ts} flags=${m.notification ? "T" : "F"} ${b64(m.body)}`;
}
