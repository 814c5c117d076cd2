/**
 * `IdsHash` (Protocol.hs:`queueIdHash`, `Semigroup IdsHash`): XOR of MD5 of queue ids. XOR is
 * its own inverse, so adding and removing a queue are the same step, which is what lets the
 * store keep it incrementally instead of re-hashing a service's queues.
 */
import { md5 } from "../crypto/digest.ts";

export const IDS_HASH_LENGTH = 16;

/** `mempty`: 16 zero bytes. */
export function emptyIdsHash(): Uint8Array {
  return new Uint8Array(IDS_HASH_LENGTH);
}

/** `acc <> queueIdHash id`, in place. */
export function xorQueueId(acc: Uint8Array, queueId: Uint8Array): Uint8Array {
  const h = md5(queueId);
  for (let i = 0; i < IDS_HASH_LENGTH; i++) acc[i] ^= h[i]!;
  return acc;
}

/** `queueIdsHash`: the hash of a whole set, for checks and migrations. */
export function queueIdsHash(ids: Iterable<Uint8Array>): Uint8Array {
  const acc = emptyIdsHash();
  for (const id of ids) xorQueueId(acc, id);
  return acc;
}
