/**
 * `smp-server-ntfs.log` (NtfStore.hs:`NtfLogRecord`, `StrEncoding MsgNtf`):
 * `v1 <notifierId> <msgId> <ts> <nonce> <encMeta>`, oldest first per notifier
 * (Server.hs:`saveServerNtfs` reverses the in-memory newest-first list when writing).
 */
import { b64, Cursor } from "./str.ts";

export interface NtfLogRecord {
  readonly notifierId: Uint8Array;
  readonly msgId: Uint8Array;
  /** Unix seconds (`StrEncoding SystemTime`). */
  readonly ts: number;
  readonly nonce: Uint8Array;
  readonly encMeta: Uint8Array;
}

export function parseNtfLogRecord(line: string): NtfLogRecord {
  const c = new Cursor(line);
  c.expect("v1 ");
  const notifierId = c.bytes("notifier id");
  c.expect(" ");
  const msgId = c.bytes("message id");
  c.expect(" ");
  const ts = c.int("notification time");
  c.expect(" ");
  const nonce = c.fixed(24, "nonce");
  c.expect(" ");
  const encMeta = c.bytes("encrypted metadata");
  c.end();
  return { notifierId, msgId, ts, nonce, encMeta };
}

export function encodeNtfLogRecord(r: NtfLogRecord): string {
  return `v1 ${b64(r.notifierId)} ${b64(r.msgId)} ${r.ts} ${b64(r.nonce)} ${b64(r.encMeta)}`;
}
