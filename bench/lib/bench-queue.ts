/**
 * Queues for the store benchmarks: ids derived from (tag, index), so no process keeps a list of
 * 100,000 ids, and a plain active messaging queue record around them.
 */
import type { NewQueue } from "../../src/store/types.ts";

/** 24 bytes of SHA-256(tag ‖ index): the same id for the same pair in every process. */
export function benchId(tag: number, i: number): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint32(0, tag);
  v.setUint32(4, i);
  return (Bun.SHA256.hash(b) as Uint8Array).subarray(0, 24);
}

const KEY = new Uint8Array(44).fill(1);
const SECRET = new Uint8Array(32).fill(2);

/** Queue `i` (recipient id benchId(1, i), sender id benchId(2, i)): active, unsecured, no link or notifier. */
export function benchQueue(i: number, recipientKey: Uint8Array = KEY, updatedAt = Math.floor(Date.now() / 86400000) * 86400): NewQueue {
  return {
    recipientId: benchId(1, i),
    recipientKeys: [recipientKey],
    rcvDhSecret: SECRET,
    senderId: benchId(2, i),
    senderKey: null,
    queueMode: "M",
    link: null,
    notifier: null,
    status: "active",
    blockingInfo: null,
    updatedAt,
    rcvServiceId: null,
  };
}
