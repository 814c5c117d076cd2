/**
 * Service subscriptions (SMP v16+, count and IdsHash from v19): a client with a long-term
 * certificate (notification server, chat relay, bot) has its queues associated with its service
 * id and subscribes all of them with one SUBS / NSUBS (Server.hs:sharedSubscribeQueue,
 * sharedSubscribeService, subscribeServiceMessages, serverThread CSClient/CSService,
 * clientDisconnected updateServiceSubs; Env/STM.hs:ServerSubscribers).
 *
 * State: per side (recipient queues of messaging services, notifiers of notifier services) the
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
import { bytesEqual } from "../encoding/bytes.ts";
import { errMsg, MSG_, type BrokerMsg } from "../protocol/broker-messages.ts";
import { ERR, type ErrorType } from "../protocol/errors.ts";
import type { ReceivedTransmission } from "../protocol/transmission.ts";
import { emptyIdsHash, xorQueueId } from "../store/idsHash.ts";
import { StoreError, type QueueRec, type ServiceParty, type StoredMessage } from "../store/types.ts";
import { log } from "../util/log.ts";
import type { Client } from "./client.ts";
import { idKey } from "./ids.ts";
import { encryptMsg } from "./message-encryption.ts";
import type { SmpServer } from "./server.ts";
import type { ServiceStats } from "./stats.ts";

const EMPTY = new Uint8Array(0);
/** Queues (or pending notifiers) read per store call when a service subscribes. */
const PAGE = 500;

/** Count and IdsHash of a set of queues (Protocol.hs: `(Int64, IdsHash)`). */
export interface ServiceSubs {
  count: number;
  readonly idsHash: Uint8Array;
}

export function newServiceSubs(): ServiceSubs {
  return { count: 0, idsHash: emptyIdsHash() };
}

/** `addServiceSubs` / `subtractServiceSubs` for one queue: XOR makes both the same hash step. */
function changeOne(s: ServiceSubs, queueId: Uint8Array, by: 1 | -1): void {
  s.count += by;
  xorQueueId(s.idsHash, queueId);
}

function changeBy(s: ServiceSubs, count: number, idsHash: Uint8Array, sign: 1 | -1): void {
  s.count += sign * count;
  for (let i = 0; i < s.idsHash.length; i++) s.idsHash[i]! ^= idsHash[i]!;
}

/** One side of service subscriptions (Env/STM.hs:ServerSubscribers serviceSubscribers, totalServiceSubs). */
export class ServiceSubscribers {
  /** The connection subscribed for each service, by service id key. */
  readonly clients = new Map<string, Client>();
  /** Subscriptions of all subscribed services together (the `service_subs_total` metric). */
  readonly total: ServiceSubs = newServiceSubs();

  constructor(readonly party: ServiceParty) {}

  subscriber(serviceId: Uint8Array): Client | undefined {
    return this.clients.get(idKey(serviceId));
  }
}

export class ServiceSubscriptions {
  readonly rcv = new ServiceSubscribers("rcv");
  readonly ntf = new ServiceSubscribers("ntf");

  side(party: ServiceParty): ServiceSubscribers {
    return party === "rcv" ? this.rcv : this.ntf;
  }
}

function statsOf(srv: SmpServer, party: ServiceParty): ServiceStats {
  return party === "rcv" ? srv.stats.rcvServices : srv.stats.ntfServices;
}

function sameId(a: Uint8Array | null, b: Uint8Array | null): boolean {
  return a === null || b === null ? a === b : bytesEqual(a, b);
}

function nowSec(): number {
  return Math.floor(Date.now() / 1000);
}

function msgOf(q: QueueRec, m: StoredMessage): BrokerMsg {
  return { tag: "MSG", msgId: m.msgId, body: encryptMsg(q.rcvDhSecret, m) };
}

// ---- serverThread: who holds what ----

/**
 * `upsertSubscribedClient` + `cancelServiceSubs`: `c` becomes the service's connection; a
 * previous connection of the same service gets ENDS with what it held and loses it.
 */
function setServiceSubscriber(srv: SmpServer, party: ServiceParty, serviceId: Uint8Array, c: Client): void {
  const side = srv.services.side(party);
  const key = idKey(serviceId);
  const prev = side.clients.get(key);
  side.clients.set(key, c);
  if (prev === undefined || prev === c || !prev.connected) return;
  const held = prev.serviceSubs;
  prev.serviceSubs = newServiceSubs();
  prev.serviceSubscribed = false;
  changeBy(side.total, held.count, held.idsHash, -1);
  // Its delivery subscriptions go with it (the reference clears the whole map here).
  if (party === "rcv") prev.subs.clear();
  statsOf(srv, party).subEnd++;
  srv.push(prev, serviceId, { tag: "ENDS", count: held.count, idsHash: held.idsHash });
}

/**
 * `endServiceSub`: the service's connection stops serving this queue (END when it moved to
 * another subscriber, DELD when deleted); `actor` (the connection causing it) is not told.
 */
function endServiceQueue(
  srv: SmpServer,
  party: ServiceParty,
  serviceId: Uint8Array,
  queueId: Uint8Array,
  msg: BrokerMsg,
  actor: Client | null,
): void {
  const side = srv.services.side(party);
  const target = side.subscriber(serviceId);
  if (target === undefined || !target.connected) return;
  changeOne(target.serviceSubs, queueId, -1);
  changeOne(side.total, queueId, -1);
  if (party === "rcv") target.subs.delete(idKey(queueId));
  if (target !== actor) srv.push(target, queueId, msg);
}

/**
 * serverThread `CSClient qId prevServiceId (Just serviceId)`: the queue is now served by `c` for
 * its service. An individual subscriber and another service's connection get END.
 */
function addServiceQueue(srv: SmpServer, party: ServiceParty, c: Client, serviceId: Uint8Array, queueId: Uint8Array, prevServiceId: Uint8Array | null): void {
  const side = srv.services.side(party);
  changeOne(c.serviceSubs, queueId, 1);
  changeOne(side.total, queueId, 1);
  const key = idKey(queueId);
  if (party === "rcv") {
    const prev = srv.subscribers.get(key);
    if (prev !== undefined) {
      srv.subscribers.delete(key);
      if (prev !== c && prev.connected) {
        prev.subs.delete(key);
        srv.stats.qSubEnd++;
        srv.push(prev, queueId, MSG_.END);
      }
    }
  } else {
    const prev = srv.ntfSubscribers.get(key);
    if (prev !== undefined) {
      srv.ntfSubscribers.delete(key);
      if (prev !== c && prev.connected) {
        prev.ntfSubs.delete(key);
        srv.push(prev, queueId, MSG_.END);
      }
    }
  }
  setServiceSubscriber(srv, party, serviceId, c);
  if (prevServiceId !== null && !sameId(prevServiceId, serviceId)) endServiceQueue(srv, party, prevServiceId, queueId, MSG_.END, c);
}

// ---- queue association (prepareBatchSubs + sharedSubscribeQueue) ----

/**
 * Associates the queue with `c`'s service if it is not yet, and counts it for `c`. False when
 * the store refused (the queue is gone).
 */
async function associate(srv: SmpServer, party: ServiceParty, c: Client, q: QueueRec, queueId: Uint8Array, current: Uint8Array | null): Promise<boolean> {
  const serviceId = c.serviceId!;
  const st = statsOf(srv, party);
  const hadSubs = c.serviceSubs.count !== 0;
  if (sameId(current, serviceId)) {
    // Already associated (a retried SUB/NSUB): counted when the connection holds nothing yet,
    // as the reference decides it.
    if (!hadSubs) {
      addServiceQueue(srv, party, c, serviceId, queueId, current);
      st.subCount++;
      st.subQueues++;
    }
    st.assocDuplicate++;
    return true;
  }
  if ((await srv.store.setQueueService(q, party, serviceId)) !== "OK") return false;
  addServiceQueue(srv, party, c, serviceId, queueId, current);
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
export async function dissociateQueue(srv: SmpServer, party: ServiceParty, c: Client, q: QueueRec): Promise<void> {
  const serviceId = party === "rcv" ? q.rcvServiceId : (q.notifier?.serviceId ?? null);
  if (serviceId === null) return;
  const queueId = party === "rcv" ? q.recipientId : q.notifier!.notifierId;
  if ((await srv.store.setQueueService(q, party, null)) !== "OK") return;
  statsOf(srv, party).assocRemoved++;
  endServiceQueue(srv, party, serviceId, queueId, MSG_.END, c);
}

/** SUB in a messaging-service session (Server.hs:subscribeQueueAndDeliver with a service). */
export async function subscribeServiceQueue(srv: SmpServer, c: Client, t: ReceivedTransmission, q: QueueRec): Promise<void> {
  const key = idKey(q.recipientId);
  let sub = c.subs.get(key);
  if (sub !== undefined && sub.kind === "prohibit") {
    srv.stats.qSubProhibited++;
    c.outbox.push(t.corrId, t.entityId, errMsg(ERR.CMD_PROHIBITED));
    return;
  }
  const hadSubs = c.serviceSubs.count !== 0;
  if (sub !== undefined && sameId(q.rcvServiceId, c.serviceId)) {
    // A delivery is in flight on this connection: deliver the head again, as a duplicate SUB.
    srv.stats.qSubDuplicate++;
    sub.delivered = null;
  } else if (!(await associate(srv, "rcv", c, q, q.recipientId, q.rcvServiceId))) {
    c.outbox.push(t.corrId, t.entityId, errMsg(ERR.AUTH));
    return;
  }
  const head = await srv.store.peekMsg(q);
  c.outbox.push(t.corrId, t.entityId, { tag: "SOK", serviceId: c.serviceId });
  if (head === null) return;
  // A SEND may have created the Sub and pushed the head while the peek was pending.
  sub = c.subs.get(key) ?? sub;
  if (sub !== undefined && sub.delivered !== null) return;
  if (sub === undefined) {
    sub = { kind: "server", delivered: null };
    c.subs.set(key, sub);
  }
  sub.delivered = { msgId: head.msgId, ts: nowSec() };
  if (!hadSubs) srv.stats.qSub++;
  c.outbox.push(EMPTY, q.recipientId, msgOf(q, head));
}

/** NSUB in a notifier-service session (Server.hs:subscribeNotifications with a service). */
export async function subscribeServiceNotifier(srv: SmpServer, c: Client, t: ReceivedTransmission, q: QueueRec): Promise<void> {
  const n = q.notifier!;
  if (!(await associate(srv, "ntf", c, q, n.notifierId, n.serviceId))) {
    c.outbox.push(t.corrId, t.entityId, errMsg(ERR.AUTH));
    return;
  }
  c.outbox.push(t.corrId, t.entityId, { tag: "SOK", serviceId: c.serviceId });
  // Notifications kept while the service was away follow the SOK, oldest first.
  for (const p of await srv.store.takeNtfs([n.notifierId])) {
    srv.stats.msgNtfs++;
    c.outbox.push(EMPTY, n.notifierId, { tag: "NMSG", nonce: p.ntf.nonce, encMeta: p.ntf.encMeta });
  }
}

/** NEW with subscription in a service session (Server.hs:subscribeNewQueue): counted, no Sub yet. */
export function subscribeNewServiceQueue(srv: SmpServer, c: Client, recipientId: Uint8Array): void {
  const serviceId = c.serviceId!;
  addServiceQueue(srv, "rcv", c, serviceId, recipientId, serviceId);
}

// ---- deliveries and deletions ----

/**
 * The connection a new message of `q` goes to (Server.hs:tryDeliverMessage getSubscribed): the
 * queue's subscriber, or its service's connection, which gets a delivery Sub on first use.
 * `key` is idKey(q.recipientId).
 */
export function deliveryTarget(srv: SmpServer, q: QueueRec, key: string): Client | undefined {
  if (q.rcvServiceId === null) {
    const c = srv.subscribers.get(key);
    return c !== undefined && c.connected ? c : undefined;
  }
  const c = srv.services.rcv.subscriber(q.rcvServiceId);
  if (c === undefined || !c.connected) return undefined;
  if (!c.subs.has(key)) c.subs.set(key, { kind: "server", delivered: null });
  return c;
}

/** The connection an NMSG for this notifier goes to now, if any. */
export function notifierTarget(srv: SmpServer, notifierId: Uint8Array, serviceId: Uint8Array | null): Client | undefined {
  const c = serviceId === null ? srv.ntfSubscribers.get(idKey(notifierId)) : srv.services.ntf.subscriber(serviceId);
  return c !== undefined && c.connected ? c : undefined;
}

/**
 * A service-associated queue (rcv) or notifier (ntf) was deleted or replaced by `actor`: the
 * service's connection gets DELD and stops counting it (serverThread CSDeleted).
 */
export function serviceQueueDeleted(srv: SmpServer, party: ServiceParty, serviceId: Uint8Array | null, queueId: Uint8Array, actor: Client | null): void {
  if (serviceId !== null) endServiceQueue(srv, party, serviceId, queueId, MSG_.DELD, actor);
}

// ---- SUBS / NSUBS (Server.hs:sharedSubscribeService) ----

export async function subscribeService(srv: SmpServer, c: Client, t: ReceivedTransmission, party: ServiceParty): Promise<void> {
  const reply = (m: BrokerMsg) => c.outbox.push(t.corrId, t.entityId, m);
  const serviceId = c.serviceId;
  if (serviceId === null) return reply(errMsg(ERR.INTERNAL)); // verification refuses it before
  const cmd = t.command as Extract<NonNullable<ReceivedTransmission["command"]>, { tag: "SUBS" | "NSUBS" }>;
  const st = statsOf(srv, party);
  if (c.serviceSubscribed) {
    // Repeated on this connection: what it holds now, nothing delivered again.
    st.subDuplicate++;
    return reply({ tag: "SOKS", count: c.serviceSubs.count, idsHash: c.serviceSubs.idsHash.slice() });
  }
  const info = await srv.store.getServiceQueuesInfo(serviceId, party);
  if (info === null) return reply(errMsg(ERR.AUTH));
  c.serviceSubscribed = true;
  const side = srv.services.side(party);
  // The store's set replaces what the connection held: the total changes by the difference.
  const held = c.serviceSubs;
  changeBy(side.total, held.count, held.idsHash, -1);
  changeBy(side.total, info.count, info.idsHash, 1);
  c.serviceSubs = { count: info.count, idsHash: info.idsHash.slice() };
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
  setServiceSubscriber(srv, party, serviceId, c);
  reply({ tag: "SOKS", count: info.count, idsHash: info.idsHash.slice() });
  if (party === "rcv") void deliverServiceMessages(srv, c, serviceId);
  else void deliverServiceNtfs(srv, c, serviceId);
}

function stillSubscribed(srv: SmpServer, party: ServiceParty, c: Client, serviceId: Uint8Array): boolean {
  return c.connected && srv.services.side(party).subscriber(serviceId) === c;
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
async function deliverServiceMessages(srv: SmpServer, c: Client, serviceId: Uint8Array): Promise<void> {
  let after: Uint8Array | null = null;
  let queues = 0;
  let delivered = 0;
  let duplicates = 0;
  try {
    for (;;) {
      const page = await srv.store.serviceQueues(serviceId, "rcv", after, PAGE);
      for (const q of page) {
        if (!stillSubscribed(srv, "rcv", c, serviceId)) return;
        queues++;
        if (q.status === "blocked") continue;
        const head = await srv.store.peekMsg(q);
        if (head === null) continue;
        const key = idKey(q.recipientId);
        // A Sub here means a message went out since SUBS (tryDeliverMessage): nothing to add.
        if (c.subs.has(key)) {
          duplicates++;
          continue;
        }
        c.subs.set(key, { kind: "server", delivered: { msgId: head.msgId, ts: nowSec() } });
        delivered++;
        srv.push(c, q.recipientId, msgOf(q, head));
      }
      if (page.length < PAGE) break;
      after = page[page.length - 1]!.recipientId;
      await pause(c);
    }
  } catch (e) {
    if (c.connected) srv.push(c, EMPTY, errMsg(storeErr(e)));
    return;
  } finally {
    srv.stats.rcvServicesSubMsg += delivered;
    srv.stats.rcvServicesSubDuplicate += duplicates;
  }
  if (!stillSubscribed(srv, "rcv", c, serviceId)) return;
  if (queues !== c.serviceSubs.count) log.debug(`service subscribed with ${queues} queues, ${c.serviceSubs.count} counted`);
  srv.push(c, EMPTY, MSG_.ALLS);
}

/**
 * Notifications kept for the service's notifiers while it was away (Server.hs:deliverNtfsThread
 * delivers them to the service's connection); paged over pending notifiers only.
 */
async function deliverServiceNtfs(srv: SmpServer, c: Client, serviceId: Uint8Array): Promise<void> {
  let after: Uint8Array | null = null;
  try {
    for (;;) {
      const page = await srv.store.pendingNtfNotifiers(after, PAGE);
      const ids: Uint8Array[] = [];
      for (const p of page) if (sameId(p.serviceId, serviceId)) ids.push(p.notifierId);
      if (ids.length > 0) {
        if (!stillSubscribed(srv, "ntf", c, serviceId)) return;
        for (const p of await srv.store.takeNtfs(ids)) {
          srv.stats.msgNtfs++;
          srv.push(c, p.notifierId, { tag: "NMSG", nonce: p.ntf.nonce, encMeta: p.ntf.encMeta });
        }
      }
      if (page.length < PAGE) return;
      after = page[page.length - 1]!.notifierId;
      await pause(c);
    }
  } catch (e) {
    if (c.connected) srv.push(c, EMPTY, errMsg(storeErr(e)));
  }
}

/** Server.hs:clientDisconnected updateServiceSubs. */
export function serviceDisconnected(srv: SmpServer, c: Client): void {
  const s = c.handle.auth.peerService;
  if (s === null || (s.role !== "M" && s.role !== "N")) return;
  const side = srv.services.side(s.role === "M" ? "rcv" : "ntf");
  const key = idKey(s.serviceId);
  if (side.clients.get(key) === c) side.clients.delete(key);
  changeBy(side.total, c.serviceSubs.count, c.serviceSubs.idsHash, -1);
  c.serviceSubs = newServiceSubs();
}
