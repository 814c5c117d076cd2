/**
 * Service records and queue ↔ service associations (QueueStore/STM.hs: `getCreateService`,
 * `setQueueService`, `addServiceQueue`/`removeServiceQueue`, `getServiceQueueCountHash`). Each
 * service keeps a count and an `IdsHash` of its queues per side, updated in the same atomic
 * step as the association (and by the queue store when a queue or notifier goes away).
 */
import type { Auth, Ok, QueueRec, QueueRef, ServiceParty, ServiceQueuesInfo, ServiceRec } from "./types.ts";

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
