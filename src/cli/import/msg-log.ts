/**
 * `smp-server-messages.log` (MsgStore.hs:`MsgLogRecord`): `v3 <rId> <message>` per line, the
 * messages of each queue in queue order (Server.hs:`exportMessages`, read by `importMessages`).
 */
import type { LogMessage } from "./message.ts";
import { encodeMessage, parseMessage } from "./message.ts";
import { b64, Cursor } from "./str.ts";

export interface MsgLogRecord {
  readonly rId: Uint8Array;
  readonly msg: LogMessage;
}

export function parseMsgLogRecord(line: string): MsgLogRecord {
  const c = new Cursor(line);
  c.expect("v3 ");
  const rId = c.bytes("recipient id");
  c.expect(" ");
  const msg = parseMessage(c);
  c.end();
  return { rId, msg };
}

export function encodeMsgLogRecord(rId: Uint8Array, msg: LogMessage): string {
  return `v3 ${b64(rId)} ${encodeMessage(msg)}`;
}
