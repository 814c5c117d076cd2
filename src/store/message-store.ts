/**
 * Message queues (MsgStore/Types.hs:`MsgStoreClass`, MsgStore/STM.hs): each queue's messages in
 * order, its quota state, expiry. Every operation addresses a queue by the record the queue
 * store returned, and answers AUTH / null for a queue that is gone; the messages of a deleted
 * queue are removed by `QueueStore.deleteQueue` in the same atomic step.
 */
import type { ExpiryProgress, NewMessage, QueueRef, StoredMessage, WriteMsgResult } from "./types.ts";

export interface MessageStore {
  /**
   * `writeMsg` with the queue's quota state (`canWrite`, size): while writable (or empty) the
   * message is stored if size < quota, else a quota marker is stored and the queue stops
   * accepting messages until it is completely drained.
   */
  writeMsg(q: QueueRef, msg: NewMessage): Promise<WriteMsgResult>;
  /** `tryPeekMsg`: the head message or marker. */
  peekMsg(q: QueueRef): Promise<StoredMessage | null>;
  /**
   * The heads of these queues are about to be read one `peekMsg` at a time (a block of SUBs,
   * ~135): a backend may find out about all of them here in one query, so that each `peekMsg`
   * costs less. Only a hint: every `peekMsg` must answer exactly as it would without it, also
   * after writes in between (doing nothing is a valid implementation).
   */
  expectPeeks(qs: readonly QueueRef[]): Promise<void>;
  /** `tryDelMsg` (GET-mode ACK): deletes the head iff its id is `msgId`; returns it. */
  tryDelMsg(q: QueueRef, msgId: Uint8Array): Promise<StoredMessage | null>;
  /**
   * `tryDelPeekMsg` (SUB-mode ACK): if the head has `msgId` it is deleted and the new head
   * returned as `next`; otherwise nothing is deleted and `next` is the current head.
   * `deleted` may come back with an empty body (an implementation need not read it).
   */
  tryDelPeekMsg(
    q: QueueRef,
    msgId: Uint8Array,
  ): Promise<{ readonly deleted: StoredMessage | null; readonly next: StoredMessage | null }>;
  /** `getQueueSize` (QUE): messages incl. a quota marker. */
  queueSize(q: QueueRef): Promise<number>;
  /**
   * `deleteExpiredMsgs`: deletes from the head while the message's seconds < `oldSec`, stopping
   * at the first newer message or at a quota marker (MsgStore/Types.hs:`deleteExpireMsgs_`).
   */
  deleteExpiredMsgs(q: QueueRef, oldSec: number): Promise<number>;
  /** `expireOldMessages` over all queues, doing at most about `budget` rows of work per call. */
  expireMessages(oldSec: number, budget: number): Promise<ExpiryProgress>;
}
