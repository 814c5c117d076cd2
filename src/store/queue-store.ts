/**
 * Queue records (QueueStore/Types.hs:`QueueStoreClass`, QueueStore/STM.hs): creation, the four
 * id lookups, and every change to a queue's own record. Deleting a queue (`deleteQueue`,
 * `expireInactiveQueues`) also removes its messages, its pending notifications and its service
 * links in the same atomic step: a backend implements them across its concerns (one
 * transaction), the server sees one call.
 *
 * Expected outcomes (AUTH, DUPLICATE) are returned, never thrown; storage failures throw
 * `StoreError`. `QueueRef.key` is the backend's private row id: pass back what the store gave.
 */
import type { Auth, DeletedQueue, NewQueue, NtfCreds, Ok, QueueLink, QueueRec, QueueRef, ServiceParty } from "./types.ts";

export interface QueueStore {
  /** `addQueue_`: any of recipientId / senderId / linkId / notifierId already used → DUPLICATE. */
  createQueue(q: NewQueue): Promise<QueueRec | "DUPLICATE">;
  getQueueByRecipientId(id: Uint8Array): Promise<QueueRec | null>;
  getQueueBySenderId(id: Uint8Array): Promise<QueueRec | null>;
  getQueueByLinkId(id: Uint8Array): Promise<QueueRec | null>;
  getQueueByNotifierId(id: Uint8Array): Promise<QueueRec | null>;
  /**
   * `getQueues_` (SUB/NSUB batches): results in the order of `ids` (null where none; an id may
   * repeat). The server calls it once for a block made only of SUBs (up to 255 ids): a backend
   * should answer with one query per call, not one per id (SQLite: `IN (…)` of 64 ids).
   */
  getQueues(party: ServiceParty, ids: readonly Uint8Array[]): Promise<(QueueRec | null)[]>;
  /** `secureQueue` (KEY/SKEY/LKEY): same key again → OK, a different existing key → AUTH. */
  secureQueue(q: QueueRef, senderKey: Uint8Array): Promise<Ok | Auth>;
  /** `updateKeys` (RKEY). */
  updateRecipientKeys(q: QueueRef, keys: readonly Uint8Array[]): Promise<Ok | Auth>;
  /**
   * `addQueueLinkData` (LSET): AUTH if the queue has another link id, or the same id with a
   * different fixed part, or the link id belongs to another queue. (The "secured messaging
   * queue" rule is checked by the server on the record it holds.)
   */
  setQueueLink(q: QueueRef, link: QueueLink): Promise<Ok | Auth>;
  /** `deleteQueueLinkData` (LDEL, and SEND to a secured messaging queue): OK also when none. */
  deleteQueueLink(q: QueueRef): Promise<Ok | Auth>;
  /**
   * `addQueueNotifier` (NKEY): notifier id used by any queue → DUPLICATE (retry with a new id).
   * Replaces an existing notifier (its pending notifications are dropped, atomically);
   * returns the old one.
   */
  setQueueNotifier(q: QueueRef, creds: NtfCreds): Promise<{ readonly prev: NtfCreds | null } | "DUPLICATE" | Auth>;
  /** `deleteQueueNotifier` (NDEL): removes it and, atomically, its pending notifications; returns it (null if none). */
  deleteQueueNotifier(q: QueueRef): Promise<{ readonly prev: NtfCreds | null; readonly ntfCount: number } | Auth>;
  /** `suspendQueue` (OFF). */
  suspendQueue(q: QueueRef): Promise<Ok | Auth>;
  /** `blockQueue` (control port). */
  blockQueue(q: QueueRef, blockingInfo: Uint8Array): Promise<Ok | Auth>;
  unblockQueue(q: QueueRef): Promise<Ok | Auth>;
  /** `updateQueueTime`: writes only when `date` differs from the stored one. */
  updateQueueTime(q: QueueRef, date: number): Promise<Ok | Auth>;
  /**
   * `deleteQueueSize` (DEL): the queue, its messages, notifier, notifications and service
   * links, in one atomic step.
   */
  deleteQueue(q: QueueRef): Promise<DeletedQueue | Auth>;
  /**
   * Deletes queues whose `updatedAt` is older than `beforeDate` (never done by the reference;
   * opt-in), at most `budget` per call, each as `deleteQueue` does. Returns the deleted records
   * so the server can end subscriptions.
   */
  expireInactiveQueues(
    beforeDate: number,
    budget: number,
  ): Promise<{ readonly deleted: DeletedQueue[]; readonly done: boolean }>;
}
