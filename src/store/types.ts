/**
 * The store's domain types, shared by the per-concern interfaces (`queue-store.ts`,
 * `message-store.ts`, `ntf-store.ts`, `service-store.ts`, composed in `store.ts`) and by every
 * backend (QueueStore.hs:`QueueRec`, `NtfCreds`, `ServiceRec`; MsgStore/Types.hs; NtfStore.hs).
 * Nothing here is backend-specific: the one backend value a record carries, `QueueRec.key`, is
 * opaque to everyone but the backend that issued it.
 */
import type { QueueMode } from "../protocol/commands.ts";
import type { ServiceRole } from "../protocol/credentials.ts";

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
   * Backend-private fast key (SQLite: the never-reused row id; another backend may use its own
   * row id or a counter). The server passes the record back unchanged and must not interpret,
   * compare across stores, or persist the value; a backend must never reuse one, so a stale
   * record can only miss (AUTH), never address another queue.
   */
  readonly key: number;
}

/** What operations on an existing queue need: a record returned by the store. */
export type QueueRef = Pick<QueueRec, "recipientId" | "key">;

/** A message the server asks to store (`Message` in Protocol.hs, before quota handling). */
/** A message or quota marker as another store held it (`MessageStore.restoreMsg`). */
export interface RestoredMessage extends NewMessage {
  readonly quota: boolean;
}

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
