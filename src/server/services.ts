/**
 * Service subscriptions (SMP v16+, count and IdsHash from v19): a client with a long-term
 * certificate (notification server, chat relay, bot) has its queues associated with its service
 * id and subscribes all of them with one SUBS / NSUBS (Server.hs:sharedSubscribeQueue,
 * sharedSubscribeService, subscribeServiceMessages). Who holds which queue and service, and the
 * events for the connections that lose them (serverThread), are in subscribers.ts.
 *
 * State (subscribers.ts, env.ts): per side (recipient queues of messaging services, notifiers of notifier services) the
 * connection subscribed for each service, and the total over all services; per connection the
 * count and IdsHash of the queues it holds for its service (`Client.serviceSubs`). A service
 * connection keeps one delivery `Sub` per queue in `Client.subs` only once a message was
 * delivered on it, so memory grows with deliveries in flight, not with the service's queues.
 *
 * Where this differs from the reference, deliberately:
 * - Notifier-side counts hash notifier ids everywhere. The reference adds *recipient* ids on a
 *   per-queue NSUB (Server.hs:sharedSubscribeQueue incServiceQueueSubs) while the store and
 *   ENDS removals use notifier ids, so its ENDS hash after per-queue NSUBs is inconsistent
 *   (digest errata 2).
 * - ENDS also clears the connection's "service subscribed" flag, so a SUBS on that connection
 *   subscribes again; the reference would answer it with (0, empty) and not subscribe.
 * - A SUB answered CMD PROHIBITED (GET used on the connection) changes no association; the
 *   reference has already (dis)associated the queue in prepareBatchSubs by then.
 * - Delivery of pending messages after SUBS stops if the connection loses the service
 *   subscription (ENDS) or closes; its ALLS is then not sent.
 * - A DEL of a service queue by the service's own connection also lowers the server total
 *   (the reference lowers only the connection's count there); a DEL by another connection
 *   lowers only the service connection's count (the reference also lowers the deleting
 *   connection's own, which then goes negative).
 * - Blocked queues deliver nothing after SUBS, as they refuse SUB and GET (the reference's
 *   foldRcvServiceMessages does not look at the status).
 */
import { bytesEqual, idKey, sameId } from "../encoding/bytes.ts";
import { errMsg, MSG_ } from "../protocol/broker-messages.ts";
import { ERR, type ErrorType } from "../protocol/errors.ts";
import type { ReceivedTransmission } from "../protocol/transmission.ts";
import { StoreError, type QueueRec, type ServiceParty } from "../store/types.ts";
import { log } from "../util/log.ts";
import { fail, reply, setDelivered, type Client, type Env, type Sub } from "./env.ts";
import { msgOf } from "./message-encryption.ts";
import { ALONE, BREAK_BEFORE } from "./outbox.ts";
import type { ServiceStats } from "./stats.ts";

const EMPTY = new Uint8Array(0);
/** Queues (or pending notifiers) read per store call when a service subscribes. */
const PAGE = 500;

function statsOf(srv: Env, party: ServiceParty): ServiceStats {
  return party === "rcv" ? srv.stats.rcvServices : srv.stats.ntfServices;
}

// ---- queue association (prepareBatchSubs + sharedSubscribeQueue) ----

/**
 * Associates the queue with `c`'s service if it is not yet, and counts it for `c`. False when
 * the store refused (the queue is gone).
 */
async function associate(srv: Env, party: ServiceParty, c: Client, q: QueueRec, queueId: Uint8Array, current: Uint8Array | null): Promise<boolean> {
  const serviceId = c.serviceId!;
  const st = statsOf(srv, party);
  const hadSubs = c.serviceSubs.count !== 0;
  if (sameId(current, serviceId)) {
    // Already associated (a retried SUB/NSUB): counted when the connection holds nothing yet,
    // as the reference decides it.
    if (!hadSubs) {
      srv.subscribers.subscribeServiceQueue(party, queueId, c, current);
      st.subCount++;
      st.subQueues++;
    }
    st.assocDuplicate++;
    return true;
  }
  if ((await srv.store.services.setQueueService(q, party, serviceId)) !== "OK") return false;
  srv.subscribers.subscribeServiceQueue(party, queueId, c, current);
  if (!hadSubs) st.subCount++;
  st.subQueues++;
  if (current === null) st.assocNew++;
  else st.assocUpdated++;
  return true;
}

/**
 * SUB or NSUB from a connection that is not the queue's service: the association is removed
 * and the service's connection gets END (the caller then subscribes `c` individually).
 */
export async function dissociateQueue(srv: Env, party: ServiceParty, c: Client, q: QueueRec): Promise<void> {
  const serviceId = party === "rcv" ? q.rcvServiceId : (q.notifier?.serviceId ?? null);
  if (serviceId === null) return;
  const queueId = party === "rcv" ? q.recipientId : q.notifier!.notifierId;
  if ((await srv.store.services.setQueueService(q, party, null)) !== "OK") return;
  statsOf(srv, party).assocRemoved++;
  srv.subscribers.end(party, queueId, serviceId, MSG_.END, c);
}

/**
 * SUB in a messaging-service session (Server.hs:subscribeQueueAndDeliver with a service), after
 * commands.ts has refused it on a GET connection; `sub` is the connection's Sub of `key`, if any.
 */
export async function subscribeServiceQueue(srv: Env, c: Client, t: ReceivedTransmission, q: QueueRec, key: string, sub: Sub | undefined): Promise<void> {
  const hadSubs = c.serviceSubs.count !== 0;
  if (sub !== undefined && sameId(q.rcvServiceId, c.serviceId)) {
    // A delivery is in flight on this connection: deliver the head again, as a duplicate SUB.
    srv.stats.qSubDuplicate++;
    sub.delivered = null;
  } else if (!(await associate(srv, "rcv", c, q, q.recipientId, q.rcvServiceId))) return fail(c, t, ERR.AUTH);
  // With several nodes: answered once this connection is its service's holder for all of them.
  const answering = srv.subscribers.answerOnceRecorded("rcv", c);
  const answered = answering === null ? null : await answering;
  try {
    const head = await srv.store.messages.peekMsg(q);
    reply(c, t, { tag: "SOK", serviceId: c.serviceId });
    if (head === null) return;
    // A SEND may have created the Sub and pushed the head while the peek was pending.
    sub = c.subs.get(key) ?? sub ?? srv.subscribers.serviceDeliverySub(c, key);
    if (sub.delivered !== null) return;
    setDelivered(sub, head.msgId);
    if (!hadSubs) srv.stats.qSub++;
    c.outbox.push(EMPTY, q.recipientId, msgOf(q, head));
  } finally {
    answered?.();
  }
}

/** NSUB in a notifier-service session (Server.hs:subscribeNotifications with a service). */
export async function subscribeServiceNotifier(srv: Env, c: Client, t: ReceivedTransmission, q: QueueRec): Promise<void> {
  const n = q.notifier!;
  if (!(await associate(srv, "ntf", c, q, n.notifierId, n.serviceId))) return fail(c, t, ERR.AUTH);
  reply(c, t, { tag: "SOK", serviceId: c.serviceId });
  // Notifications kept while the service was away follow the SOK.
  await deliverPendingNtfs(srv, c, n.notifierId);
}

/** After NSUB's SOK: the notifications kept for the notifier while nobody was subscribed, oldest first. */
export async function deliverPendingNtfs(srv: Env, c: Client, notifierId: Uint8Array): Promise<void> {
  const pending = await srv.store.ntfs.takeNtfs([notifierId]);
  for (const p of pending) c.outbox.push(EMPTY, notifierId, { tag: "NMSG", nonce: p.ntf.nonce, encMeta: p.ntf.encMeta });
  srv.stats.countNtfsDelivered(pending.length);
}

// ---- SUBS / NSUBS (Server.hs:sharedSubscribeService) ----

export async function subscribeService(srv: Env, c: Client, t: ReceivedTransmission, party: ServiceParty): Promise<void> {
  const serviceId = c.serviceId;
  if (serviceId === null) return fail(c, t, ERR.INTERNAL); // verification refuses it before
  const cmd = t.command as Extract<NonNullable<ReceivedTransmission["command"]>, { tag: "SUBS" | "NSUBS" }>;
  const st = statsOf(srv, party);
  if (c.serviceSubscribed) {
    // Repeated on this connection: what it holds now, nothing delivered again.
    st.subDuplicate++;
    return reply(c, t, { tag: "SOKS", count: c.serviceSubs.count, idsHash: c.serviceSubs.idsHash.slice() });
  }
  const info = await srv.store.services.getServiceQueuesInfo(serviceId, party);
  if (info === null) return fail(c, t, ERR.AUTH);
  srv.subscribers.subscribeService(party, c, info);
  // Drift between what the service expects and what the server has (count -1: pre-v19 clients).
  const diff = info.count - cmd.count;
  if (cmd.count === -1 || (diff === 0 && bytesEqual(cmd.idsHash, info.idsHash))) st.subOk++;
  else if (diff > 0) {
    st.subMore++;
    st.subMoreTotal += diff;
  } else if (diff < 0) {
    st.subFewer++;
    st.subFewerTotal -= diff;
  } else st.subDiff++;
  reply(c, t, { tag: "SOKS", count: info.count, idsHash: info.idsHash.slice() });
  if (party === "rcv") void deliverServiceMessages(srv, c, serviceId);
  else void deliverServiceNtfs(srv, c, serviceId);
}

function stillSubscribed(srv: Env, party: ServiceParty, c: Client, serviceId: Uint8Array): boolean {
  return c.connected && srv.subscribers.serviceSubscriber(party, serviceId) === c;
}

/** Lets the outbox flush (and the socket drain) between pages, so memory stays bounded. */
async function pause(c: Client): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  if (c.outbox.backedUp && c.connected) await c.handle.transport.drain();
}

function storeErr(e: unknown): ErrorType {
  if (e instanceof StoreError) return { type: "STORE", err: e.kind };
  log.error(`service subscription: ${(e as Error)?.message ?? e}`);
  return ERR.INTERNAL;
}

/**
 * Server.hs:subscribeServiceMessages deliverServiceMessages: the head message of every
 * associated queue that has no delivery in flight on this connection, then ALLS.
 */
async function deliverServiceMessages(srv: Env, c: Client, serviceId: Uint8Array): Promise<void> {
  let after: Uint8Array | null = null;
  let queues = 0;
  let delivered = 0;
  let duplicates = 0;
  try {
    await srv.subscribers.recorded("rcv", c);
    for (;;) {
      const page = await srv.store.services.serviceQueues(serviceId, "rcv", after, PAGE);
      for (const q of page) {
        if (!stillSubscribed(srv, "rcv", c, serviceId)) return;
        queues++;
        if (q.status === "blocked") continue;
        const head = await srv.store.messages.peekMsg(q);
        if (head === null) continue;
        const key = idKey(q.recipientId);
        // A Sub here means a message went out since SUBS (tryDeliverMessage): nothing to add.
        if (c.subs.has(key)) {
          duplicates++;
          continue;
        }
        setDelivered(srv.subscribers.serviceDeliverySub(c, key), head.msgId);
        delivered++;
        srv.push(c, q.recipientId, msgOf(q, head), ALONE);
      }
      if (page.length < PAGE) break;
      after = page[page.length - 1]!.recipientId;
      await pause(c);
    }
  } catch (e) {
    if (c.connected) srv.push(c, EMPTY, errMsg(storeErr(e)), ALONE);
    return;
  } finally {
    srv.stats.rcvServicesSubMsg += delivered;
    srv.stats.rcvServicesSubDuplicate += duplicates;
  }
  if (!stillSubscribed(srv, "rcv", c, serviceId)) return;
  if (queues !== c.serviceSubs.count) log.debug(`service subscribed with ${queues} queues, ${c.serviceSubs.count} counted`);
  srv.push(c, EMPTY, MSG_.ALLS, ALONE);
}

/**
 * Notifications kept for the service's notifiers while it was away (Server.hs:deliverNtfsThread
 * delivers them to the service's connection); paged over pending notifiers only.
 */
async function deliverServiceNtfs(srv: Env, c: Client, serviceId: Uint8Array): Promise<void> {
  let after: Uint8Array | null = null;
  try {
    await srv.subscribers.recorded("ntf", c);
    for (;;) {
      const page = await srv.store.ntfs.pendingNtfNotifiers(after, PAGE);
      const ids: Uint8Array[] = [];
      for (const p of page) if (sameId(p.serviceId, serviceId)) ids.push(p.notifierId);
      if (ids.length > 0) {
        if (!stillSubscribed(srv, "ntf", c, serviceId)) return;
        // Batched as the reference's delivery thread sends them, never with the SOKS before them.
        const taken = await srv.store.ntfs.takeNtfs(ids);
        let breaks = BREAK_BEFORE;
        for (const p of taken) {
          srv.push(c, p.notifierId, { tag: "NMSG", nonce: p.ntf.nonce, encMeta: p.ntf.encMeta }, breaks);
          breaks = 0;
        }
        srv.stats.countNtfsDelivered(taken.length);
      }
      if (page.length < PAGE) return;
      after = page[page.length - 1]!.notifierId;
      await pause(c);
    }
  } catch (e) {
    if (c.connected) srv.push(c, EMPTY, errMsg(storeErr(e)), ALONE);
  }
}
