/**
 * IdsHash (Protocol.hs:IdsHash, queueIdHash, queueIdsHash): XOR of MD5(queue id) over a set of queues, used by
 * SUBS/NSUBS/SOKS/ENDS so client and server can detect drift in service subscriptions. XOR is its own inverse,
 * so adding and removing a queue are the same step: the store keeps it per service incrementally instead of
 * re-hashing a service's queues.
 */
import { md5 } from "../crypto/digest.ts";

export const IDS_HASH_LENGTH = 16;

/** `mempty`: 16 zero bytes (also what SUBS/NSUBS carry below rcvServiceSMPVersion). */
export function emptyIdsHash(): Uint8Array {
  return new Uint8Array(IDS_HASH_LENGTH);
}

/** acc ^= h in place (Semigroup IdsHash zips to the shorter length; both are 16 bytes in practice). */
export function xorIdsHashInto(acc: Uint8Array, h: Uint8Array): Uint8Array {
  const n = Math.min(acc.length, h.length);
  for (let i = 0; i < n; i++) acc[i]! ^= h[i]!;
  return acc;
}

/** `acc <> queueIdHash queueId`, in place: adds a queue to the set, or removes it. */
export function xorQueueId(acc: Uint8Array, queueId: Uint8Array): Uint8Array {
  return xorIdsHashInto(acc, md5(queueId));
}

export function queueIdsHash(ids: Iterable<Uint8Array>): Uint8Array {
  const acc = emptyIdsHash();
  for (const id of ids) xorQueueId(acc, id);
  return acc;
}
