/**
 * Column encodings of values that are lists, and row → record mapping. The list formats are
 * this store's own (not wire formats): keys as `Large` (Word16 length) items, certificates
 * with a Word32 length because a DER certificate is not bounded by 64 KiB.
 */
import { bytesEqual } from "../encoding/bytes.ts";
import { Reader, Writer } from "../encoding/index.ts";
import type { ServiceRole } from "../protocol/credentials.ts";
import { StoreError, type NtfCreds, type QueueLink, type QueueRec, type QueueStatus, type ServiceRec } from "./types.ts";

export function encodeKeys(keys: readonly Uint8Array[]): Uint8Array {
  if (keys.length === 0) throw new StoreError("internal", "a queue needs at least one recipient key");
  const w = new Writer(64 * keys.length);
  for (const k of keys) {
    if (k.length > 0xffff) throw new StoreError("internal", "key too long");
    w.large(k);
  }
  return w.toBytes();
}

export function decodeKeys(b: Uint8Array): Uint8Array[] {
  const r = new Reader(b);
  const keys: Uint8Array[] = [];
  while (!r.atEnd()) keys.push(r.large().slice());
  return keys;
}

export function encodeCertChain(chain: readonly Uint8Array[]): Uint8Array {
  const w = new Writer(1024);
  for (const c of chain) w.word32(c.length).bytes(c);
  return w.toBytes();
}

export function decodeCertChain(b: Uint8Array): Uint8Array[] {
  const r = new Reader(b);
  const chain: Uint8Array[] = [];
  while (!r.atEnd()) chain.push(r.take(r.word32()).slice());
  return chain;
}

/** `messages.flags` bits, the same in both backends. */
export const F_NTF = 1;
export const F_QUOTA = 2;

export const STATUS_ACTIVE = 0;
export const STATUS_OFF = 1;
export const STATUS_BLOCKED = 2;

export function statusCode(s: QueueStatus): number {
  return s === "active" ? STATUS_ACTIVE : s === "off" ? STATUS_OFF : STATUS_BLOCKED;
}

function statusOf(code: number): QueueStatus {
  return code === STATUS_ACTIVE ? "active" : code === STATUS_OFF ? "off" : "blocked";
}

/** The column list every queue SELECT uses, in `QueueRow` order. */
export const QUEUE_COLUMNS =
  "qid, recipient_id, recipient_keys, rcv_dh_secret, sender_id, sender_key, queue_mode, link_id, link_fixed, link_user, " +
  "notifier_id, notifier_key, rcv_ntf_dh_secret, ntf_service_id, status, blocking_info, updated_at, rcv_service_id";

export interface QueueRow {
  qid: number;
  recipient_id: Uint8Array;
  recipient_keys: Uint8Array;
  rcv_dh_secret: Uint8Array;
  sender_id: Uint8Array;
  sender_key: Uint8Array | null;
  queue_mode: string | null;
  link_id: Uint8Array | null;
  link_fixed: Uint8Array | null;
  link_user: Uint8Array | null;
  notifier_id: Uint8Array | null;
  notifier_key: Uint8Array | null;
  rcv_ntf_dh_secret: Uint8Array | null;
  ntf_service_id: Uint8Array | null;
  status: number;
  blocking_info: Uint8Array | null;
  updated_at: number | null;
  rcv_service_id: Uint8Array | null;
}

export function notifierOf(r: QueueRow): NtfCreds | null {
  if (r.notifier_id === null) return null;
  return {
    notifierId: r.notifier_id,
    notifierKey: r.notifier_key!,
    rcvNtfDhSecret: r.rcv_ntf_dh_secret!,
    serviceId: r.ntf_service_id,
  };
}

/**
 * QueueStore/STM.hs:`addQueueLinkData`: a queue that has a link keeps it; only the same link id
 * with the same fixed part may be set again (the user part may change).
 */
export function linkConflicts(r: QueueRow, link: QueueLink): boolean {
  return r.link_id !== null && !(bytesEqual(r.link_id, link.linkId) && bytesEqual(r.link_fixed!, link.fixed));
}

export function queueFromRow(r: QueueRow): QueueRec {
  return {
    key: r.qid,
    recipientId: r.recipient_id,
    recipientKeys: decodeKeys(r.recipient_keys),
    rcvDhSecret: r.rcv_dh_secret,
    senderId: r.sender_id,
    senderKey: r.sender_key,
    queueMode: r.queue_mode === "M" || r.queue_mode === "C" ? r.queue_mode : null,
    link: r.link_id === null ? null : { linkId: r.link_id, fixed: r.link_fixed!, user: r.link_user! },
    notifier: notifierOf(r),
    status: statusOf(r.status),
    blockingInfo: r.blocking_info,
    updatedAt: r.updated_at,
    rcvServiceId: r.rcv_service_id,
  };
}

export interface ServiceRow {
  service_id: Uint8Array;
  role: string;
  cert_chain: Uint8Array;
  cert_hash: Uint8Array;
  created_at: number;
}

export function serviceFromRow(r: ServiceRow): ServiceRec {
  return {
    serviceId: r.service_id,
    role: r.role as ServiceRole,
    certChain: decodeCertChain(r.cert_chain),
    certHash: r.cert_hash,
    createdAt: r.created_at,
  };
}
