/**
 * Service records and queue ↔ service associations (QueueStore/STM.hs: `getCreateService`,
 * `setQueueService`, `addServiceQueue`/`removeServiceQueue`, `getServiceQueueCountHash`). Each
 * service keeps a count and an `IdsHash` of its queues per side, updated in the same atomic
 * step as the association (and by the queue store when a queue or notifier goes away).
 */
import { IDS_HASH_LENGTH, xorQueueId } from "../protocol/ids-hash.ts";
import { StoreError, type Auth, type Ok, type QueueRec, type QueueRef, type ServiceParty, type ServiceQueuesInfo, type ServiceRec } from "./types.ts";

export interface ServiceStore {
  /**
   * `getCreateService`: the service with this cert hash if its role matches, SERVICE if the
   * role differs, else a new service with `rec.serviceId` (DUPLICATE if that id is taken).
   */
  getCreateService(rec: ServiceRec): Promise<Uint8Array | "SERVICE" | "DUPLICATE">;
  getService(serviceId: Uint8Array): Promise<ServiceRec | null>;
  /** `setQueueService`: associate (or with null dissociate); ntf side without notifier → AUTH. */
  setQueueService(q: QueueRef, party: ServiceParty, serviceId: Uint8Array | null): Promise<Ok | Auth>;
  /** `getServiceQueueCountHash`: null if there is no such service. */
  getServiceQueuesInfo(serviceId: Uint8Array, party: ServiceParty): Promise<ServiceQueuesInfo | null>;
  /**
   * Queues associated with a service, ordered by recipient id (rcv) or notifier id (ntf),
   * after `after` (exclusive; null = from the start), at most `limit`.
   */
  serviceQueues(
    serviceId: Uint8Array,
    party: ServiceParty,
    after: Uint8Array | null,
    limit: number,
  ): Promise<QueueRec[]>;
}

/**
 * The stored IdsHash with `queueId`'s MD5 XORed in (a new array). A stored value that is not 16
 * bytes is damaged data: the reference's `xor_combine` (Agent/Store/Postgres/Migrations/Util.hs:
 * createXorHashFuncs, created and called by `update_aggregates` in
 * Server/QueueStore/Postgres/Migrations.hs:m20250915_queue_ids_hash) raises on unequal
 * lengths, which rolls the whole change back and answers STORE (Postgres.hs:withDB). XORing into
 * the short value instead would store a wrong hash that every later change carries on.
 */
export function serviceIdsHashWith(stored: Uint8Array, queueId: Uint8Array, party: ServiceParty): Uint8Array {
  if (stored.length !== IDS_HASH_LENGTH)
    throw new StoreError("corrupt", `store: a service's ${party} IdsHash is ${stored.length} bytes, not ${IDS_HASH_LENGTH} (changeServiceQueues)`);
  return xorQueueId(Uint8Array.from(stored), queueId);
}
