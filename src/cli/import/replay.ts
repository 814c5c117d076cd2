/**
 * Replays store log records into the store, with the reference's own rules: each record becomes
 * the store operation that mirrors the reference's (StoreLog/ReadWrite.hs:`readQueueStore` calling
 * QueueStore/STM.hs `addQueue_`, `secureQueue`, `addQueueNotifier`, `deleteStoreQueue`,
 * `getCreateService`, `setQueueService` …). The store itself is the replay state, so memory does
 * not grow with the number of queues beyond one id per imported queue. A record the reference
 * would refuse (it logs the error and goes on) is not applied here either, and is counted with
 * its reason.
 *
 * Only queues created by this import are touched: a queue that was in the store before is left
 * as it is, with everything the log says about it (idempotence).
 */
import { bytesEqual, idKey } from "../../encoding/bytes.ts";
import type { Store } from "../../store/store.ts";
import type { NewQueue, QueueRec, ServiceRec } from "../../store/types.ts";
import type { StoreLogRecord } from "./store-log.ts";

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

export class Count {
  imported = 0;
  readonly skipped = new Tally();
}

/** A compact map key for a binary id. */

export class StoreReplay {
  /** Queues this import created and that still exist. */
  readonly created = new Set<string>();
  /** Queues this import created and a later record deleted: their ids stay taken, as in the reference. */
  private readonly deleted = new Set<string>();
  /** Service ids of the log → the id the store uses for that certificate (or null: not imported). */
  private readonly serviceIds = new Map<string, Uint8Array | null>();
  readonly services = new Count();
  readonly queues = new Count();
  /** Records the reference itself would not apply. */
  readonly refused = new Tally();
  /** Records of queues that were in the store before this import (left as they are). */
  readonly leftAlone = new Tally();

  constructor(private readonly store: Store) {}

  async apply(r: StoreLogRecord): Promise<void> {
    if (r.tag === "CREATE") return this.create(r.queue);
    if (r.tag === "NEW_SERVICE") return this.newService(r.service);
    const k = idKey(r.rId);
    if (this.deleted.has(k)) return this.refused.add(`${r.tag} of a deleted queue`);
    if (!this.created.has(k)) {
      if ((await this.store.queues.getQueueByRecipientId(r.rId)) !== null) return this.leftAlone.add(r.tag);
      return this.refused.add(`${r.tag} of a queue that was never created`);
    }
    const q = (await this.store.queues.getQueueByRecipientId(r.rId)) as QueueRec;
    const refuse = (res: string, why: string): void => {
      if (res !== "OK") this.refused.add(why);
    };
    switch (r.tag) {
      case "LINK":
        return refuse(await this.store.queues.setQueueLink(q, { linkId: r.linkId, fixed: r.fixed, user: r.user }), "LINK refused (another link, or its id in use)");
      case "LDELETE":
        await this.store.queues.deleteQueueLink(q);
        return;
      case "SECURE":
        return refuse(await this.store.queues.secureQueue(q, r.key), "SECURE with another sender key");
      case "KEYS":
        await this.store.queues.updateRecipientKeys(q, r.keys);
        return;
      case "NOTIFIER": {
        const creds = { ...r.creds, serviceId: this.service(r.creds.serviceId) };
        const res = await this.store.queues.setQueueNotifier(q, creds);
        return refuse(res === "DUPLICATE" ? res : "OK", "NOTIFIER with a notifier id in use");
      }
      case "SUSPEND":
        await this.store.queues.suspendQueue(q);
        return;
      case "BLOCK":
        await this.store.queues.blockQueue(q, r.info);
        return;
      case "UNBLOCK":
        await this.store.queues.unblockQueue(q);
        return;
      case "DELETE":
        await this.store.queues.deleteQueue(q);
        this.created.delete(k);
        this.deleted.add(k);
        this.queues.imported--;
        return;
      case "NDELETE":
        await this.store.queues.deleteQueueNotifier(q);
        return;
      case "TIME":
        await this.store.queues.updateQueueTime(q, r.date);
        return;
      case "QUEUE_SERVICE":
        return refuse(
          await this.store.services.setQueueService(q, r.party === "R" ? "rcv" : "ntf", this.service(r.serviceId)),
          "QUEUE_SERVICE N of a queue without notifier",
        );
    }
  }

  private service(id: Uint8Array | null): Uint8Array | null {
    if (id === null) return null;
    const mapped = this.serviceIds.get(idKey(id));
    return mapped === undefined ? id : mapped;
  }

  /** QueueStore/STM.hs:`addQueue_`: any id already taken → DUPLICATE. */
  private async create(nq: NewQueue): Promise<void> {
    const k = idKey(nq.recipientId);
    if (this.created.has(k) || this.deleted.has(k)) return this.refused.add("CREATE with an id in use");
    const q: NewQueue = {
      ...nq,
      rcvServiceId: this.service(nq.rcvServiceId),
      notifier: nq.notifier === null ? null : { ...nq.notifier, serviceId: this.service(nq.notifier.serviceId) },
    };
    if ((await this.store.queues.createQueue(q)) !== "DUPLICATE") {
      this.created.add(k);
      this.queues.imported++;
      return;
    }
    const existing = await this.store.queues.getQueueByRecipientId(nq.recipientId);
    if (existing !== null && bytesEqual(existing.senderId, nq.senderId)) this.queues.skipped.add("already in the store");
    else this.queues.skipped.add("an id of it is used by another queue in the store");
  }

  /** QueueStore/STM.hs:`getCreateService`: one service per certificate; the id it returns is the one to use. */
  private async newService(s: ServiceRec): Promise<void> {
    const k = idKey(s.serviceId);
    const count = this.services;
    if ((await this.store.services.getService(s.serviceId)) !== null) {
      count.skipped.add("already in the store");
      this.serviceIds.set(k, s.serviceId);
      return;
    }
    const r = await this.store.services.getCreateService(s);
    if (r === "SERVICE" || r === "DUPLICATE") {
      count.skipped.add(r === "SERVICE" ? "its certificate belongs to a service with another role in the store" : "its id is used by another service in the store");
      this.serviceIds.set(k, null);
      return;
    }
    if (bytesEqual(r, s.serviceId)) count.imported++;
    else count.skipped.add("its certificate belongs to another service in the store (its queues go to that one)");
    this.serviceIds.set(k, r);
  }
}
