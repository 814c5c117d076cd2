// Queue records for store benchmarks: ids derived from an index (nothing to keep in memory for a
// million queues) and one recipient key for all of them.
import type { NewQueue } from "../../src/store/types.ts";

/** A 24-byte id from (tag, index): tag 1 = recipient ids, 2 = sender ids. */
export function idOf(tag: number, i: number): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint32(0, tag);
  v.setUint32(4, i);
  return (Bun.SHA256.hash(b) as Uint8Array).subarray(0, 24);
}

const SECRET = new Uint8Array(32).fill(2);

export function benchQueue(i: number, recipientKey: Uint8Array, updatedAt = 20000 * 86400): NewQueue {
  return {
    recipientId: idOf(1, i),
    recipientKeys: [recipientKey],
    rcvDhSecret: SECRET,
    senderId: idOf(2, i),
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
