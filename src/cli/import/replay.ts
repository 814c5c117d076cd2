/**
 * Replays store log records into the state they describe, with the reference's own rules
 * (StoreLog/ReadWrite.hs:`readQueueStore` calling QueueStore/STM.hs `addQueue_`, `secureQueue`,
 * `addQueueNotifier`, `deleteStoreQueue`, `getCreateService`, `setQueueService` …). A record the
 * reference would refuse (it logs the error and goes on) is skipped here too, and counted with
 * its reason.
 */
import { bytesEqual, hex } from "../../encoding/bytes.ts";
import type { NewQueue, ServiceRec } from "../../store/types.ts";
import type { StoreLogRecord } from "./store-log.ts";

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
export type QueueState = Mutable<NewQueue>;

export class Tally {
  readonly reasons = new Map<string, number>();
  add(reason: string, n = 1): void {
    if (n > 0) this.reasons.set(reason, (this.reasons.get(reason) ?? 0) + n);
  }
  get total(): number {
    let t = 0;
    for (const n of this.reasons.values()) t += n;
    return t;
  }
}

export class ReplayState {
  /** By hex recipient id; null once deleted (the reference keeps the id taken: `writeTVar qr Nothing`). */
  readonly queues = new Map<string, QueueState | null>();
  readonly senders = new Set<string>();
  readonly notifiers = new Set<string>();
  /** Link ids stay taken after a queue is deleted, as in the reference (`deleteStoreQueue` keeps `links`). */
  readonly links = new Map<string, string>();
  readonly services = new Map<string, ServiceRec>();
  readonly serviceCerts = new Map<string, string>();
  readonly skipped = new Tally();

  apply(r: StoreLogRecord): void {
    if (r.tag === "CREATE") return this.create(r.queue);
    if (r.tag === "NEW_SERVICE") return this.newService(r.service);
    const rk = hex(r.rId);
    const q = this.queues.get(rk);
    if (q === undefined) return this.skipped.add(`${r.tag} of a queue that was never created`);
    if (q === null) return this.skipped.add(`${r.tag} of a deleted queue`);
    switch (r.tag) {
      case "LINK": {
        const k = hex(r.linkId);
        const allowed = q.link === null || (bytesEqual(q.link.linkId, r.linkId) && bytesEqual(q.link.fixed, r.fixed));
        const owner = this.links.get(k);
        if (!allowed || (owner !== undefined && owner !== rk)) return this.skipped.add("LINK refused (another link, or its id in use)");
        q.link = { linkId: r.linkId, fixed: r.fixed, user: r.user };
        this.links.set(k, rk);
        return;
      }
      case "LDELETE":
        if (q.link !== null) this.links.delete(hex(q.link.linkId));
        q.link = null;
        return;
      case "SECURE":
        if (q.senderKey !== null && !bytesEqual(q.senderKey, r.key)) return this.skipped.add("SECURE with another sender key");
        q.senderKey = r.key;
        return;
      case "KEYS":
        q.recipientKeys = r.keys;
        return;
      case "NOTIFIER": {
        const k = hex(r.creds.notifierId);
        if (this.notifiers.has(k)) return this.skipped.add("NOTIFIER with a notifier id in use");
        if (q.notifier !== null) this.notifiers.delete(hex(q.notifier.notifierId));
        q.notifier = r.creds;
        this.notifiers.add(k);
        return;
      }
      case "SUSPEND":
        q.status = "off";
        q.blockingInfo = null;
        return;
      case "BLOCK":
        q.status = "blocked";
        q.blockingInfo = r.info;
        return;
      case "UNBLOCK":
        q.status = "active";
        q.blockingInfo = null;
        return;
      case "DELETE":
        this.senders.delete(hex(q.senderId));
        if (q.notifier !== null) this.notifiers.delete(hex(q.notifier.notifierId));
        this.queues.set(rk, null);
        return;
      case "NDELETE":
        if (q.notifier !== null) this.notifiers.delete(hex(q.notifier.notifierId));
        q.notifier = null;
        return;
      case "TIME":
        q.updatedAt = r.date;
        return;
      case "QUEUE_SERVICE":
        if (r.party === "R") q.rcvServiceId = r.serviceId;
        else if (q.notifier === null) return this.skipped.add("QUEUE_SERVICE N of a queue without notifier");
        else q.notifier = { ...q.notifier, serviceId: r.serviceId };
        return;
    }
  }

  /** QueueStore/STM.hs:`addQueue_`: any id already taken → DUPLICATE. */
  private create(nq: NewQueue): void {
    const rk = hex(nq.recipientId);
    const sk = hex(nq.senderId);
    if (
      this.queues.has(rk) ||
      this.senders.has(sk) ||
      (nq.notifier !== null && this.notifiers.has(hex(nq.notifier.notifierId))) ||
      (nq.link !== null && this.links.has(hex(nq.link.linkId)))
    )
      return this.skipped.add("CREATE with an id in use");
    this.queues.set(rk, { ...nq });
    this.senders.add(sk);
    if (nq.notifier !== null) this.notifiers.add(hex(nq.notifier.notifierId));
    if (nq.link !== null) this.links.set(hex(nq.link.linkId), rk);
  }

  /** QueueStore/STM.hs:`getCreateService`: one service per certificate hash. */
  private newService(s: ServiceRec): void {
    const h = hex(s.certHash);
    const k = hex(s.serviceId);
    if (this.serviceCerts.has(h) || this.services.has(k)) return this.skipped.add("NEW_SERVICE of a known certificate or id");
    this.services.set(k, s);
    this.serviceCerts.set(h, k);
  }

  /** The queues that exist at the end of the log, in the order they were created. */
  *liveQueues(): Generator<QueueState> {
    for (const q of this.queues.values()) if (q !== null) yield q;
  }
}
