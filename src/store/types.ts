/**
 * The store's domain types and the `Store` interface the server programs against
 * (QueueStore.hs:`QueueRec`, `NtfCreds`, `ServiceRec`; MsgStore/Types.hs; NtfStore.hs).
 *
 * Why every operation returns a Promise: the bun:sqlite backend is synchronous, but a
 * PostgreSQL backend (the reference's `server_postgres`) can only answer asynchronously, and
 * the server must not change when the backend does. The SQLite implementation runs each
 * operation to completion before returning an already-resolved Promise, so the cost on the hot
 * path is one microtask hop per call (tens of ns, next to µs for the SQL and far more for the
 * signature check), and every operation stays atomic even when connections interleave at
 * `await` points — the same guarantee STM transactions give the reference.
 *
 * Durability is a separate step, `flush()`: see its comment. Expected protocol outcomes
 * (AUTH, QUOTA, DUPLICATE …) are returned as string constants, never thrown; only storage
 * failures throw (`StoreError`).
 */

export type QueueMode = "M" | "C";

/** `SMPServiceRole` (Transport.hs): messaging, notifier, proxy. */
export type ServiceRole = "M" | "N" | "P";

/** Which kind of service association: the recipient side (SUB) or the notifier side (NSUB). */
export type ServiceParty = "rcv" | "ntf";

/** `queueData` (QueueStore.hs): the link id and the two opaque encrypted blobs (`QueueLinkData`). */
export interface QueueLink {
  readonly linkId: Uint8Array;
  readonly fixed: Uint8Array;
  readonly user: Uint8Array;
}

/** `NtfCreds` (QueueStore.hs). Keys are DER SPKI; the secret is the 32-byte X25519 result. */
export interface NtfCreds {
  readonly notifierId: Uint8Array;
  readonly notifierKey: Uint8Array;
  readonly rcvNtfDhSecret: Uint8Array;
  readonly serviceId: Uint8Array | null;
}

/** `ServerEntityStatus`: `blocked` carries `blockingInfo`. */
export type QueueStatus = "active" | "off" | "blocked";

/** A queue as the server supplies it to `createQueue` (QueueStore.hs:`QueueRec` + its recipient id). */
export interface NewQueue {
  readonly recipientId: Uint8Array;
  /** DER SPKI keys, at least one (`NonEmpty RcvPublicAuthKey`). */
  readonly recipientKeys: readonly Uint8Array[];
  readonly rcvDhSecret: Uint8Array;
  readonly senderId: Uint8Array;
  readonly senderKey: Uint8Array | null;
  readonly queueMode: QueueMode | null;
  readonly link: QueueLink | null;
  readonly notifier: NtfCreds | null;
  readonly status: QueueStatus;
  /**
   * Opaque to the store: the server's encoding of `BlockingInfo` (recommended: its
   * StrEncoding `reason=spam[,notice=…]`, as in the reference store log). Set iff blocked.
   */
  readonly blockingInfo: Uint8Array | null;
  /** `SystemDate`: Unix seconds rounded down to a day, or null. */
  readonly updatedAt: number | null;
  readonly rcvServiceId: Uint8Array | null;
}

/**
 * A stored queue, as lookups return it. It is a snapshot: operations re-read the current
 * state, so passing a stale record back is safe (a deleted queue answers AUTH).
 */
export interface QueueRec extends NewQueue {
  /**
   * Backend-private fast key (SQLite: the never-reused row id). The server passes the record
   * back unchanged; it must not interpret the value.
   */
  readonly key: number;
}

/** What operations on an existing queue need: a record returned by the store. */
export type QueueRef = Pick<QueueRec, "recipientId" | "key">;

/** A message the server asks to store (`Message` in Protocol.hs, before quota handling). */
export interface NewMessage {
  /** 24 random bytes; also the MSG nonce. */
  readonly msgId: Uint8Array;
  /** Receive time in Unix milliseconds (the wire carries `Math.floor(tsMs / 1000)`). */
  readonly tsMs: number;
  /** `MsgFlags.notification`. */
  readonly notification: boolean;
  readonly body: Uint8Array;
}

/**
 * A stored message, or the quota marker (`MessageQuota`): the marker has the id and time of the
 * rejected message, an empty body and `notification` false.
 */
export interface StoredMessage {
  readonly msgId: Uint8Array;
  /** Unix seconds (what MSG and NMSG carry). */
  readonly ts: number;
  readonly tsMs: number;
  readonly quota: boolean;
  readonly notification: boolean;
  readonly body: Uint8Array;
}

/** `ServiceRec` (QueueStore.hs). */
export interface ServiceRec {
  readonly serviceId: Uint8Array;
  readonly role: ServiceRole;
  /** The service's certificate chain, DER, leaf first. */
  readonly certChain: readonly Uint8Array[];
  /** SHA-256 of the leaf certificate (the service identity, one service per hash). */
  readonly certHash: Uint8Array;
  /** `SystemDate` seconds. */
  readonly createdAt: number;
}

/** A pending notification (NtfStore.hs:`MsgNtf`). */
export interface MsgNtf {
  readonly msgId: Uint8Array;
  /** Unix milliseconds; expiry compares seconds as the reference does. */
  readonly tsMs: number;
  readonly nonce: Uint8Array;
  readonly encMeta: Uint8Array;
}

export interface NotifierNtf {
  readonly notifierId: Uint8Array;
  readonly ntf: MsgNtf;
}

/** A notifier that has pending notifications, and the service it is associated with. */
export interface PendingNotifier {
  readonly notifierId: Uint8Array;
  readonly serviceId: Uint8Array | null;
}

/** Count and `IdsHash` (16 bytes, XOR of MD5 of the ids) of a service's queues. */
export interface ServiceQueuesInfo {
  readonly count: number;
  readonly idsHash: Uint8Array;
}

/** QueueStore/Types.hs:`EntityCounts` plus message and notification totals, all kept incrementally. */
export interface StoreStats {
  readonly queueCount: number;
  readonly notifierCount: number;
  readonly messageCount: number;
  readonly ntfCount: number;
  readonly rcvServiceCount: number;
  readonly ntfServiceCount: number;
  readonly rcvServiceQueuesCount: number;
  readonly ntfServiceQueuesCount: number;
}

/** Result of a bounded-work expiry call: call again (after yielding) until `done`. */
export interface ExpiryProgress {
  readonly expired: number;
  readonly done: boolean;
}

export type Ok = "OK";
export type Auth = "AUTH";

/** `writeMsg` outcome (MsgStore/STM.hs:`writeMsg`): OK_EMPTY = stored into an empty queue (push it). */
export type WriteMsgResult = "OK" | "OK_EMPTY" | "QUOTA" | "AUTH";

export interface DeletedQueue {
  readonly queue: QueueRec;
  /** Messages removed with it (incl. a quota marker). */
  readonly msgCount: number;
  /** Pending notifications removed with it. */
  readonly ntfCount: number;
}

export type StoreErrorKind =
  /** Disk (or quota) full: nothing was written; earlier committed data is intact. */
  | "full"
  /** The database or its directory is read-only. */
  | "readonly"
  /** I/O error reported by the OS. */
  | "io"
  /** Database file damaged or not a database. */
  | "corrupt"
  /** Locked by another process for longer than the busy timeout. */
  | "busy"
  /** Schema newer than this build, or unknown. */
  | "schema"
  | "internal";

/** Storage failure. The server answers `ERR STORE` (never revealing the message to clients). */
export class StoreError extends Error {
  override name = "StoreError";
  constructor(
    readonly kind: StoreErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface Store {
  // ---- durability ----

  /**
   * Resolves once everything the store has done so far is durable (committed; fsynced per
   * the `synchronous` setting). The server calls it after processing a batch of commands and
   * BEFORE writing their responses: the writes of one event-loop turn share one commit (group
   * commit). Rejects with `StoreError` if that commit failed; then every write since the
   * previous commit is undone, and responses computed from them must not be sent as success.
   * Resolves immediately when nothing is pending.
   */
  flush(): Promise<void>;
  /** Commits pending writes and closes. */
  close(): Promise<void>;

  // ---- queues (QueueStore/STM.hs) ----

  /** `addQueue_`: any of recipientId / senderId / linkId / notifierId already used → DUPLICATE. */
  createQueue(q: NewQueue): Promise<QueueRec | "DUPLICATE">;
  getQueueByRecipientId(id: Uint8Array): Promise<QueueRec | null>;
  getQueueBySenderId(id: Uint8Array): Promise<QueueRec | null>;
  getQueueByLinkId(id: Uint8Array): Promise<QueueRec | null>;
  getQueueByNotifierId(id: Uint8Array): Promise<QueueRec | null>;
  /** `getQueues_` (SUB/NSUB batches): results in the order of `ids`. */
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
   * Replaces an existing notifier (its pending notifications are dropped); returns the old one.
   */
  setQueueNotifier(q: QueueRef, creds: NtfCreds): Promise<{ readonly prev: NtfCreds | null } | "DUPLICATE" | Auth>;
  /** `deleteQueueNotifier` (NDEL): removes it and its pending notifications; returns it (null if none). */
  deleteQueueNotifier(q: QueueRef): Promise<{ readonly prev: NtfCreds | null; readonly ntfCount: number } | Auth>;
  /** `suspendQueue` (OFF). */
  suspendQueue(q: QueueRef): Promise<Ok | Auth>;
  /** `blockQueue` (control port). */
  blockQueue(q: QueueRef, blockingInfo: Uint8Array): Promise<Ok | Auth>;
  unblockQueue(q: QueueRef): Promise<Ok | Auth>;
  /** `updateQueueTime`: writes only when `date` differs from the stored one. */
  updateQueueTime(q: QueueRef, date: number): Promise<Ok | Auth>;
  /** `deleteQueueSize` (DEL): the queue, its messages, notifier, notifications and service links. */
  deleteQueue(q: QueueRef): Promise<DeletedQueue | Auth>;

  // ---- messages (MsgStore/STM.hs, MsgStore/Types.hs) ----

  /**
   * `writeMsg` with the queue's quota state (`canWrite`, size): while writable (or empty) the
   * message is stored if size < quota, else a quota marker is stored and the queue stops
   * accepting messages until it is completely drained.
   */
  writeMsg(q: QueueRef, msg: NewMessage): Promise<WriteMsgResult>;
  /** `tryPeekMsg`: the head message or marker. */
  peekMsg(q: QueueRef): Promise<StoredMessage | null>;
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

  // ---- notifications (NtfStore.hs) ----

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

  // ---- services (QueueStore/STM.hs) ----

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

  // ---- housekeeping ----

  stats(): Promise<StoreStats>;
  /**
   * Deletes queues whose `updatedAt` is older than `beforeDate` (never done by the reference;
   * opt-in), at most `budget` per call. Returns the deleted records so the server can end
   * subscriptions.
   */
  expireInactiveQueues(
    beforeDate: number,
    budget: number,
  ): Promise<{ readonly deleted: DeletedQueue[]; readonly done: boolean }>;
  /** Small named blobs kept with the data (e.g. the server's stats backup). */
  getBlob(name: string): Promise<Uint8Array | null>;
  putBlob(name: string, value: Uint8Array | null): Promise<void>;
}
