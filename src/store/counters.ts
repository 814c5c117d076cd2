/**
 * The store's incremental counters (`StoreStats`), shared by the backends: each keeps one row
 * per name in its `counters` table and adds each operation's deltas in the operation's own
 * transaction; `stats()` answers from memory (SQLite) or from those few rows (PostgreSQL, which
 * other processes update too) — never a COUNT(*) over a large table.
 */
import type { StoreStats } from "./types.ts";

/** Counter rows, in index order. */
export const COUNTERS = [
  "queues",
  "notifiers",
  "messages",
  "ntfs",
  "rcv_services",
  "ntf_services",
  "rcv_service_queues",
  "ntf_service_queues",
] as const;

/** Indexes into `COUNTERS` (same order). */
export const C_QUEUES = 0;
export const C_NOTIFIERS = 1;
export const C_MESSAGES = 2;
export const C_NTFS = 3;
export const C_RCV_SERVICES = 4;
export const C_NTF_SERVICES = 5;
export const C_RCV_SERVICE_QUEUES = 6;
export const C_NTF_SERVICE_QUEUES = 7;

/** `StoreStats` from counter values indexed as `COUNTERS`. */
export function statsOf(value: (c: number) => number): StoreStats {
  return {
    queueCount: value(C_QUEUES),
    notifierCount: value(C_NOTIFIERS),
    messageCount: value(C_MESSAGES),
    ntfCount: value(C_NTFS),
    rcvServiceCount: value(C_RCV_SERVICES),
    ntfServiceCount: value(C_NTF_SERVICES),
    rcvServiceQueuesCount: value(C_RCV_SERVICE_QUEUES),
    ntfServiceQueuesCount: value(C_NTF_SERVICE_QUEUES),
  };
}
