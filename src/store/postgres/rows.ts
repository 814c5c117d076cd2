/**
 * PostgreSQL rows → the shared row shapes of `../codec.ts`: the client returns BIGINT as a
 * string and BYTEA as a Buffer; the records hold numbers and plain Uint8Arrays.
 */
import { queueFromRow, serviceFromRow, type QueueRow, type ServiceRow } from "../codec.ts";
import type { QueueRec, ServiceRec } from "../types.ts";
import { bytes } from "./connection.ts";

/** A row as the client returns it (BIGINT as string). */
export type PgRow<T> = { [K in keyof T]: T[K] extends number ? number | string : T[K] extends number | null ? number | string | null : T[K] };

export function queueFromPgRow(r: PgRow<QueueRow>): QueueRec {
  return queueFromRow(normalizeQueueRow(r));
}

export function normalizeQueueRow(r: PgRow<QueueRow>): QueueRow {
  return {
    qid: Number(r.qid),
    recipient_id: bytes(r.recipient_id),
    recipient_keys: bytes(r.recipient_keys),
    rcv_dh_secret: bytes(r.rcv_dh_secret),
    sender_id: bytes(r.sender_id),
    sender_key: bytes(r.sender_key),
    queue_mode: r.queue_mode,
    link_id: bytes(r.link_id),
    link_fixed: bytes(r.link_fixed),
    link_user: bytes(r.link_user),
    notifier_id: bytes(r.notifier_id),
    notifier_key: bytes(r.notifier_key),
    rcv_ntf_dh_secret: bytes(r.rcv_ntf_dh_secret),
    ntf_service_id: bytes(r.ntf_service_id),
    status: Number(r.status),
    blocking_info: bytes(r.blocking_info),
    updated_at: r.updated_at === null ? null : Number(r.updated_at),
    rcv_service_id: bytes(r.rcv_service_id),
  };
}

export function serviceFromPgRow(r: PgRow<ServiceRow>): ServiceRec {
  return serviceFromRow({
    service_id: bytes(r.service_id),
    role: r.role,
    cert_chain: bytes(r.cert_chain),
    cert_hash: bytes(r.cert_hash),
    created_at: Number(r.created_at),
  });
}
