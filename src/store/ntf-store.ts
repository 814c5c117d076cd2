/**
 * Pending notifications (NtfStore.hs), kept per notifier id until delivered or expired. The
 * notifications of a notifier that is removed or replaced (NDEL, NKEY, DEL) are dropped by the
 * queue store in the same atomic step.
 */
import type { ExpiryProgress, MsgNtf, NotifierNtf, PendingNotifier } from "./types.ts";

export interface NtfStore {
  /** `storeNtf`. */
  addNtf(notifierId: Uint8Array, ntf: MsgNtf): Promise<void>;
  /**
   * Notifiers with pending notifications and their ntf service, ordered by notifier id, after
   * `after` (exclusive; null = from the start), at most `limit`: page through them.
   */
  pendingNtfNotifiers(after: Uint8Array | null, limit: number): Promise<PendingNotifier[]>;
  /** Removes and returns the pending notifications of these notifiers, oldest first. */
  takeNtfs(notifierIds: readonly Uint8Array[]): Promise<NotifierNtf[]>;
  /** `deleteExpiredNtfs`: bounded by `budget` deletions per call. */
  expireNtfs(oldSec: number, budget: number): Promise<ExpiryProgress>;
}
