/**
 * The store the server programs against: one object per concern (as the reference splits
 * QueueStore, MsgStore and NtfStore), all on one backend, plus durability and housekeeping.
 *
 * Why every operation returns a Promise: the bun:sqlite backend is synchronous, but a
 * PostgreSQL backend (the reference's `server_postgres`) can only answer asynchronously, and
 * the server must not change when the backend does. The SQLite implementation runs each
 * operation to completion before returning an already-resolved Promise, so the cost on the hot
 * path is one microtask hop per call (tens of ns, next to µs for the SQL and far more for the
 * signature check), and every operation stays atomic even when connections interleave at
 * `await` points — the same guarantee STM transactions give the reference.
 *
 * Atomicity across concerns: an operation that touches several concerns is ONE call on the
 * concern that owns it, and the backend makes it one transaction (SQLite: one connection and
 * one write bracket, `sqlite/connection.ts`). They are:
 *  - `queues.deleteQueue` / `queues.expireInactiveQueues`: the queue, its messages, its
 *    pending notifications, its services' counts and hashes;
 *  - `queues.createQueue`, `queues.setQueueNotifier`, `queues.deleteQueueNotifier`: the queue
 *    record, the notifications of a replaced/removed notifier, the services' counts and hashes;
 *  - `services.setQueueService`: the queue's association and both services' counts and hashes;
 *  - `messages.writeMsg`: checks the queue still exists in the same step as it writes.
 * The server never composes two calls into one atomic step; SEND's other writes (deleting a
 * secured queue's link, expiring old messages, `ntfs.addNtf`) are separate steps, each atomic,
 * all committed before the response (`flush`).
 *
 * Durability is a separate step, `flush()`: see its comment. Expected protocol outcomes
 * (AUTH, QUOTA, DUPLICATE …) are returned as string constants, never thrown; only storage
 * failures throw (`StoreError`).
 */
import type { StoreCluster } from "./cluster.ts";
import type { MessageStore } from "./message-store.ts";
import type { NtfStore } from "./ntf-store.ts";
import type { QueueStore } from "./queue-store.ts";
import type { ServiceStore } from "./service-store.ts";
import type { StoreStats } from "./types.ts";

export interface Store {
  readonly queues: QueueStore;
  readonly messages: MessageStore;
  readonly ntfs: NtfStore;
  readonly services: ServiceStore;

  /**
   * Resolves once everything the store has done so far is durable (committed; fsynced per
   * the backend's setting). The server calls it after processing a batch of commands and
   * BEFORE writing their responses: the writes of one event-loop turn share one commit (group
   * commit). Rejects with `StoreError` if that commit failed; then every write since the
   * previous commit is undone, and responses computed from them must not be sent as success.
   * Resolves immediately when nothing is pending.
   */
  flush(): Promise<void>;
  /** Commits pending writes and closes. */
  close(): Promise<void>;
  /** Entity and message counts, kept incrementally (never a scan). */
  stats(): Promise<StoreStats>;
  /** Small named blobs kept with the data (e.g. the server's stats backup). */
  getBlob(name: string): Promise<Uint8Array | null>;
  putBlob(name: string, value: Uint8Array | null): Promise<void>;
  /** Present when several server processes may share this store (PostgreSQL): see cluster.ts. */
  readonly cluster?: StoreCluster;
}
