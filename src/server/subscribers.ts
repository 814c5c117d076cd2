/**
 * Subscribers of one server process, in memory (Server/Env/STM.hs:ServerSubscribers for both
 * sides, and what Server.hs:serverThread does with CSClient / CSDeleted / CSService events).
 * Connections hold their side of each subscription (`Client.subs`, `ntfSubs`, `serviceSubs`),
 * written here only, as the contract says; the maps here say which connection holds each queue
 * and each service. Events for the
 * connections that lose something go out through `push`, committed before they are written.
 */
import { idKey, sameId } from "../encoding/bytes.ts";
import { errMsg, MSG_, type BrokerMsg } from "../protocol/broker-messages.ts";
import type { BlockingInfo } from "../protocol/errors.ts";
import { md5 } from "../crypto/digest.ts";
import { xorIdsHashInto } from "../protocol/ids-hash.ts";
import type { ServiceParty } from "../store/types.ts";
import { newServiceSubs, type Client, type ServiceSubs, type Sub, type Subscribers } from "./env.ts";
import type { ServerStats, ServiceStats } from "./stats.ts";

/**
 * `addServiceSubs` / `subtractServiceSubs` for one queue, on the connection's and the server's
 * totals (XOR makes both the same hash step; the queue id is hashed once).
 */
function changeOne(conn: ServiceSubs, total: ServiceSubs, queueId: Uint8Array, by: 1 | -1): void {
  const h = md5(queueId);
  conn.count += by;
  xorIdsHashInto(conn.idsHash, h);
  total.count += by;
  xorIdsHashInto(total.idsHash, h);
}

function changeBy(s: ServiceSubs, count: number, idsHash: Uint8Array, sign: 1 | -1): void {
  s.count += sign * count;
  for (let i = 0; i < s.idsHash.length; i++) s.idsHash[i]! ^= idsHash[i]!;
}

/** One side (Env/STM.hs:ServerSubscribers): queueSubscribers, serviceSubscribers, totalServiceSubs. */
class Side {
  /** The connection subscribed to each queue (SUB / NSUB), by queue id key. */
  readonly queues = new Map<string, Client>();
  /** The connection subscribed for each service, by service id key. */
  readonly services = new Map<string, Client>();
  readonly total: ServiceSubs = newServiceSubs();

  constructor(readonly stats: ServiceStats) {}
}

export class ServerSubscribers implements Subscribers {
  private readonly rcv: Side;
  private readonly ntf: Side;

  constructor(
    private readonly stats: ServerStats,
    private readonly push: (target: Client, entityId: Uint8Array, msg: BrokerMsg) => void,
    /** The Subs it creates (cluster-subscribers.ts counts the deliveries on its own). */
    private readonly newSub: () => Sub = () => ({ kind: "server", delivered: null }),
  ) {
    this.rcv = new Side(stats.rcvServices);
    this.ntf = new Side(stats.ntfServices);
  }

  /**
   * END, DELD or ENDS to a connection that loses a subscription. Server.hs:sendPendingEvtsThread
   * counts every one of them, on both sides, in qSubEnd (each sent at once here: one batch each).
   */
  private tell(target: Client, entityId: Uint8Array, msg: BrokerMsg): void {
    this.push(target, entityId, msg);
    this.stats.countEnd();
  }

  private side(party: ServiceParty): Side {
    return party === "rcv" ? this.rcv : this.ntf;
  }

  subscribe(party: ServiceParty, queueId: Uint8Array, c: Client, key = idKey(queueId)): boolean {
    const side = this.side(party);
    const prev = side.queues.get(key);
    if (party === "ntf") c.ntfSubs.add(key);
    else if (!c.subs.has(key)) c.subs.set(key, this.newSub());
    if (prev === c) return false;
    side.queues.set(key, c);
    if (prev !== undefined) this.lose(party, prev, key, queueId, MSG_.END);
    return true;
  }

  /** An individual subscriber loses the queue. */
  private lose(party: ServiceParty, prev: Client, key: string, queueId: Uint8Array, event: BrokerMsg): void {
    if (party === "rcv") prev.subs.delete(key);
    else prev.ntfSubs.delete(key);
    this.tell(prev, queueId, event);
  }

  subscribeServiceQueue(party: ServiceParty, queueId: Uint8Array, c: Client, prevServiceId: Uint8Array | null): void {
    const serviceId = c.serviceId!;
    const side = this.side(party);
    changeOne(c.serviceSubs, side.total, queueId, 1);
    const key = idKey(queueId);
    const prev = side.queues.get(key);
    if (prev !== undefined) {
      side.queues.delete(key);
      if (prev !== c && prev.connected) this.lose(party, prev, key, queueId, MSG_.END);
    }
    this.setServiceSubscriber(side, serviceId, c);
    if (prevServiceId !== null && !sameId(prevServiceId, serviceId)) this.endServiceQueue(party, prevServiceId, queueId, MSG_.END, c);
  }

  subscribeService(party: ServiceParty, c: Client, subs: ServiceSubs): void {
    const side = this.side(party);
    c.serviceSubscribed = true;
    // The store's set replaces what the connection held: the total changes by the difference.
    const held = c.serviceSubs;
    changeBy(side.total, held.count, held.idsHash, -1);
    changeBy(side.total, subs.count, subs.idsHash, 1);
    c.serviceSubs = { count: subs.count, idsHash: subs.idsHash.slice() };
    this.setServiceSubscriber(side, c.serviceId!, c);
  }

  /**
   * `upsertSubscribedClient` + `cancelServiceSubs`: `c` becomes the service's connection; a
   * previous connection of the same service gets ENDS with what it held and loses it.
   */
  private setServiceSubscriber(side: Side, serviceId: Uint8Array, c: Client): void {
    const key = idKey(serviceId);
    const prev = side.services.get(key);
    side.services.set(key, c);
    if (prev !== undefined && prev !== c && prev.connected) this.endService(side, serviceId, prev);
  }

  /** The connection of another node took the service (cluster-subscribers.ts): this one's gets ENDS. */
  dropService(party: ServiceParty, serviceId: Uint8Array): void {
    const side = this.side(party);
    const key = idKey(serviceId);
    const prev = side.services.get(key);
    if (prev === undefined) return;
    side.services.delete(key);
    if (prev.connected) this.endService(side, serviceId, prev);
  }

  private endService(side: Side, serviceId: Uint8Array, prev: Client): void {
    const held = prev.serviceSubs;
    prev.serviceSubs = newServiceSubs();
    prev.serviceSubscribed = false;
    changeBy(side.total, held.count, held.idsHash, -1);
    // Its delivery subscriptions go with it (the reference clears the whole map here).
    if (side === this.rcv) prev.subs.clear();
    side.stats.subEnd++;
    this.tell(prev, serviceId, { tag: "ENDS", count: held.count, idsHash: held.idsHash });
  }

  end(party: ServiceParty, queueId: Uint8Array, serviceId: Uint8Array | null, event: BrokerMsg, actor: Client | null): void {
    const side = this.side(party);
    const key = idKey(queueId);
    if (actor !== null) {
      if (party === "rcv") actor.subs.delete(key);
      else actor.ntfSubs.delete(key);
    }
    const holder = side.queues.get(key);
    if (holder !== undefined) {
      side.queues.delete(key);
      // Server.hs:serverThread checkAnotherClient: the connection that caused it gets no event.
      if (holder !== actor) this.lose(party, holder, key, queueId, event);
    }
    if (serviceId !== null) this.endServiceQueue(party, serviceId, queueId, event, actor);
  }

  /** `endServiceSub`: the service's connection stops serving this queue. */
  private endServiceQueue(party: ServiceParty, serviceId: Uint8Array, queueId: Uint8Array, event: BrokerMsg, actor: Client | null): void {
    const side = this.side(party);
    const target = side.services.get(idKey(serviceId));
    if (target === undefined || !target.connected) return;
    changeOne(target.serviceSubs, side.total, queueId, -1);
    if (party === "rcv") target.subs.delete(idKey(queueId));
    if (target !== actor) this.tell(target, queueId, event);
  }

  deliverTo(party: ServiceParty, key: string, serviceId: Uint8Array | null): Client | undefined {
    const side = this.side(party);
    const c = serviceId === null ? side.queues.get(key) : side.services.get(idKey(serviceId));
    if (c === undefined || !c.connected) return undefined;
    if (serviceId !== null && party === "rcv") this.serviceDeliverySub(c, key);
    return c;
  }

  serviceDeliverySub(c: Client, key: string): Sub {
    let sub = c.subs.get(key);
    if (sub === undefined) {
      sub = this.newSub();
      c.subs.set(key, sub);
    }
    return sub;
  }

  serviceSubscriber(party: ServiceParty, serviceId: Uint8Array): Client | undefined {
    return this.side(party).services.get(idKey(serviceId));
  }

  totalServiceSubs(party: ServiceParty): ServiceSubs {
    return this.side(party).total;
  }

  counts(party: ServiceParty): { queues: number; clients: number; services: number } {
    const side = this.side(party);
    return { queues: side.queues.size, clients: new Set(side.queues.values()).size, services: side.services.size };
  }

  anySubscribed(party: ServiceParty): boolean {
    const side = this.side(party);
    return side.queues.size > 0 || side.services.size > 0;
  }

  available(_party: ServiceParty, _queueId: Uint8Array, _serviceId: Uint8Array | null): void {}

  headRead(_key: string, _c: Client): void {}

  blocked(recipientId: Uint8Array, info: BlockingInfo): void {
    const sub = this.deliverTo("rcv", idKey(recipientId), null);
    if (sub !== undefined) this.push(sub, recipientId, errMsg({ type: "BLOCKED", info }));
  }

  recorded(_party: ServiceParty, _c: Client): Promise<void> | null {
    return null;
  }

  answerOnceRecorded(_party: ServiceParty, _c: Client): Promise<() => void> | null {
    return null;
  }

  disconnected(c: Client): void {
    for (const k of c.subs.keys()) if (this.rcv.queues.get(k) === c) this.rcv.queues.delete(k);
    for (const k of c.ntfSubs) if (this.ntf.queues.get(k) === c) this.ntf.queues.delete(k);
    c.subs.clear();
    c.ntfSubs.clear();
    // Server.hs:clientDisconnected updateServiceSubs.
    const s = c.handle.auth.peerService;
    if (s === null || (s.role !== "M" && s.role !== "N")) return;
    const side = s.role === "M" ? this.rcv : this.ntf;
    const key = idKey(s.serviceId);
    if (side.services.get(key) === c) side.services.delete(key);
    changeBy(side.total, c.serviceSubs.count, c.serviceSubs.idsHash, -1);
    c.serviceSubs = newServiceSubs();
  }
}
