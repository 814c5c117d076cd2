/**
 * IdsHash (Protocol.hs:IdsHash, queueIdHash, queueIdsHash): XOR of MD5(queue id) over a set of queues, used by
 * SUBS/NSUBS/SOKS/ENDS so client and server can detect drift in service subscriptions.
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

export function queueIdsHash(ids: Iterable<Uint8Array>): Uint8Array {
  const acc = emptyIdsHash();
  for (const id of ids) xorIdsHashInto(acc, md5(id));
  return acc;
}
