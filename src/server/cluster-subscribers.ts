/**
 * Subscribers of a node of a cluster (issue 18): several server processes on one PostgreSQL
 * store behave for clients as one server. Each node keeps its own connections' subscriptions
 * in a `ServerSubscribers` (all local bookkeeping and events stay there); this adds what
 * crosses nodes, through the store's bus (store/postgres/bus.ts):
 *
 * - Ownership: each SUB/NSUB, and each service subscription, is claimed in the store; the claim
 *   returns an epoch, and the node that held it before is told ("taken") and ends its subscriber
 *   with END (ENDS for a service) — unless its own claim is newer. Claims are recorded per queue
 *   here (`Claim`) with their epoch, released when the subscription ends on this node.
 * - Delivery: a SEND that finds no subscriber here (`available`) is announced to the node
 *   holding the queue or its service, which peeks and delivers if its Sub has nothing in flight.
 *   A SUB's own peek runs before its claim is committed; so once both are done, the queue is
 *   looked at once more (`recheck`): a message sent meanwhile on a node that did not yet see the
 *   claim is found then. A service connection's SUB (or NEW) that makes it its service's holder
 *   answers only once that claim is committed (`recorded`, services.ts): a SEND to another queue
 *   of the service whose lookup missed the claim began before the answer, so it is ordered before
 *   the SUB, and its message waits for SUBS as on one server (Server.hs:subscribeQueueAndDeliver
 *   delivers the SUBbed queue's message only); a SEND whose lookup ran later finds the claim.
 * - Deletion (DEL, NDEL, the control port) and moves to/from a service: "ended" to the holders
 *   (a holder of a claim told of a move from no service confirms it first: it may be newer);
 *   blocking: "blocked" to the queue's subscriber.
 * - Lost events: every sweep interval (`ServerOptions.clusterSweepMs`, 10 s) a bounded sweep
 *   confirms a slice of this node's claims against the store (one that another node took while
 *   its "taken" was lost ends here with END; one whose queue was deleted or moved to a service
 *   while its "ended" was lost ends with DELD or END), looks for pending messages of those with
 *   nothing in flight, and goes through one page of one service's queues; after the bus reports
 *   that events may have been lost (`resync`), all claims are confirmed and every subscription
 *   and service swept. A service's queues are swept for every pending message only on a
 *   connection that did SUBS (which delivers them all); on one that only SUBbed queues, for
 *   messages written since it became the service's holder — those a SEND would have delivered.
 */
import { idKey, sameId } from "../encoding/bytes.ts";
import { Reader } from "../encoding/reader.ts";
import { Writer } from "../encoding/writer.ts";
import { MSG_, type BrokerMsg } from "../protocol/broker-messages.ts";
import { encodeBlockingInfo, parseBlockingInfo, type BlockingInfo } from "../protocol/errors.ts";
import type { ClusterEvent, ClusterListener, StoreCluster } from "../store/cluster.ts";
import type { ServiceParty } from "../store/types.ts";
import { log } from "../util/log.ts";
import { setDelivered, type Client, type Env, type ServiceSubs, type Sub, type Subscribers } from "./env.ts";
import { msgOf } from "./message-encryption.ts";
import { ServerSubscribers } from "./subscribers.ts";

/** How often a slice of the subscriptions is swept for messages whose event was lost (default). */
const SWEEP_MS = 10_000;
/** Subscriptions looked at per sweep tick, and per page of a full resync (one query each). */
const SWEEP_SLICE = 500;
/** A resync that failed (the store is down) is tried again after this. */
const RESYNC_RETRY_MS = 2000;

/**
 * This node's claim of one subscription: kept per subscription, so small — the id is its key
 * (`idKey`, latin1, the same string the local maps hold), turned back into bytes on cold paths.
 */
interface Claim {
  readonly key: string;
  readonly c: Client;
  /** 0 until the store answered. */
  epoch: number;
  /** While pending: the newest epoch another node's claim replaced (its "taken"); -1 = none. */
  takenUpTo: number;
  /** Ended here while pending: released once the epoch is known. */
  released: boolean;
  /**
   * Pending messages are looked for once the claim is visible: a SUB's claim once the SUB has
   * read the queue (`headRead`; no recheck may deliver before); a service's only when it is
   * claimed again after the store failed it (the SUB or SUBS answered without waiting longer).
   */
  read: boolean;
  /**
   * Service claims: when (Unix ms) the connection became the service's holder here. Compared with
   * messages' send-time stamps, not their commits: a message stamped before it and committed
   * after, whose event was lost, waits for SUBS (docs/storage.md, "A lost notification").
   */
  readonly since: number;
  /** The store failed to record it: the resync claims it again. */
  failed: boolean;
  /** A move's "ended" came while the claim was pending: it is confirmed once answered, not ended. */
  moved?: boolean;
  /** Another node's newer claim came before the SUB read the queue: END follows the SOK (`headRead`). */
  lostUnread?: boolean;
  /** Service claims: what waits for the store's answer (`recorded`). */
  readonly wait: ServiceWait | null;
}

/** A service claim's answer, awaited by SUB/SUBS/NEW of its connection. */
interface ServiceWait {
  /** Resolves when the store answered or failed. */
  readonly done: Promise<void>;
  /** SUBs or NEWs of the connection that wait for the claim and have not answered yet. */
  answering: number;
  /** Another node's newer claim was seen while some were answering: ENDS follows their answers. */
  lost: boolean;
}

/**
 * A delivery Sub that counts the deliveries made on it. A delivery decided outside the
 * connection's own commands (`deliverPending`) checks that none happened while it read the store:
 * a message delivered and acknowledged meanwhile leaves `delivered` null, as it was. Only cluster
 * nodes pay for the accessor; one server's Subs are plain objects.
 */
class CountedSub implements Sub {
  readonly kind = "server";
  sent = 0;
  private current: Sub["delivered"] = null;

  get delivered(): Sub["delivered"] {
    return this.current;
  }

  set delivered(d: Sub["delivered"]) {
    if (d !== null) this.sent++;
    this.current = d;
  }
}

/** Deliveries made on a Sub so far (-1: a Sub this node did not make, e.g. GET's mark). */
function sentOn(sub: Sub): number {
  return sub instanceof CountedSub ? sub.sent : -1;
}

function idOf(cl: Claim): Uint8Array {
  return new Uint8Array(Buffer.from(cl.key, "latin1"));
}

export class ClusterSubscribers implements Subscribers, ClusterListener {
  private readonly local: ServerSubscribers;
  /** Queue claims (SUB, NSUB) per side, by queue id key. */
  private readonly queues = [new Map<string, Claim>(), new Map<string, Claim>()] as const;
  /** Service claims (SUBS, NSUBS, a service's first queue) per side, by service id key. */
  private readonly services = [new Map<string, Claim>(), new Map<string, Claim>()] as const;
  private sweepTimer: ReturnType<typeof setInterval> | null = null;
  private sweepCursor: Generator<[0 | 1, string, Claim]> | null = null;
  private toRecheck: Claim[] = [];
  private recheckBatch: Promise<void> | null = null;
  /** Claims not yet answered, with what their answer starts (`settled`). */
  private readonly pending = new Set<Promise<unknown>>();
  private serviceCursor: Iterator<Claim> | null = null;
  /** The service whose queues the sweep is going through, and where it is. */
  private serviceSweep: { readonly cl: Claim; readonly after: Uint8Array | null } | null = null;
  /**
   * Per connection, the SUB/NSUB/NEW claims the store has not answered yet, and who waits for
   * them: the connection's answers leave only once its subscriptions are recorded (`recordedFor`).
   */
  private readonly unrecorded = new Map<Client, { n: number; readonly done: Promise<void>; readonly resolve: () => void }>();
  private resyncing = false;
  private resyncAgain = false;
  private stopped = false;
  /** Sweep ticks and resyncs completed (tests wait for them). */
  sweeps = 0;
  resyncs = 0;

  constructor(
    private readonly srv: Env,
    private readonly cluster: StoreCluster,
  ) {
    this.local = new ServerSubscribers(
      srv.stats,
      (target, entityId, msg) => srv.push(target, entityId, msg),
      () => new CountedSub(),
    );
  }

  /** Joins the cluster as `name` (shown by the control port) and starts the sweep. */
  async start(name: string): Promise<void> {
    await this.cluster.join(name, this);
    this.sweepTimer = setInterval(() => void this.sweep(), this.srv.options.clusterSweepMs ?? SWEEP_MS);
    this.sweepTimer.unref?.();
  }

  stop(): void {
    this.stopped = true;
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer);
  }

  // ---------------------------------------------------------------- Subscribers

  subscribe(party: ServiceParty, queueId: Uint8Array, c: Client, key = idKey(queueId)): boolean {
    if (!this.local.subscribe(party, queueId, c, key)) return false;
    let u = this.unrecorded.get(c);
    if (u === undefined) {
      let resolve = (): void => {};
      const done = new Promise<void>((r) => (resolve = r));
      u = { n: 0, done, resolve };
      this.unrecorded.set(c, u);
    }
    u.n++;
    const recorded = (): void => {
      if (--u.n > 0) return;
      this.unrecorded.delete(c);
      u.resolve();
    };
    this.claim(party, queueId, key, c, false, false, 0, recorded);
    return true;
  }

  /**
   * Resolves once the subscriptions `c`'s commands made (SUB, NSUB, NEW) are recorded where other
   * nodes see them; null when none is pending. Their answers confirm them, so, like the store's
   * writes, they leave the server only after that (server.ts:commitAndFlush): a SUB on another
   * node that the client sends after its SOK then claims the queue later, and wins it (END here).
   */
  recordedFor(c: Client): Promise<void> | null {
    return this.unrecorded.get(c)?.done ?? null;
  }

  subscribeServiceQueue(party: ServiceParty, queueId: Uint8Array, c: Client, prevServiceId: Uint8Array | null): void {
    const serviceId = c.serviceId!;
    const wasHolder = this.local.serviceSubscriber(party, serviceId) === c;
    this.local.subscribeServiceQueue(party, queueId, c, prevServiceId);
    const key = idKey(queueId);
    this.forget(party, key, false);
    // Served by the service now: an individual subscriber or another service elsewhere loses it.
    if (!sameId(prevServiceId, serviceId))
      this.cluster.publish({ kind: "ended", party, queueId, serviceId: prevServiceId, deleted: false });
    // The SUB or NEW answers once the claim is visible (`recorded`); nothing else is looked at.
    if (!wasHolder) this.claim(party, serviceId, idKey(serviceId), c, true);
  }

  subscribeService(party: ServiceParty, c: Client, subs: ServiceSubs): void {
    const serviceId = c.serviceId!;
    const wasHolder = this.local.serviceSubscriber(party, serviceId) === c;
    this.local.subscribeService(party, c, subs);
    if (!wasHolder) this.claim(party, serviceId, idKey(serviceId), c, true);
  }

  end(party: ServiceParty, queueId: Uint8Array, serviceId: Uint8Array | null, event: BrokerMsg, actor: Client | null): void {
    this.local.end(party, queueId, serviceId, event, actor);
    this.forget(party, idKey(queueId), false);
    this.cluster.publish({ kind: "ended", party, queueId, serviceId, deleted: event.tag === "DELD" });
  }

  deliverTo(party: ServiceParty, key: string, serviceId: Uint8Array | null): Client | undefined {
    return this.local.deliverTo(party, key, serviceId);
  }

  serviceDeliverySub(c: Client, key: string): Sub {
    return this.local.serviceDeliverySub(c, key);
  }

  serviceSubscriber(party: ServiceParty, serviceId: Uint8Array): Client | undefined {
    return this.local.serviceSubscriber(party, serviceId);
  }

  totalServiceSubs(party: ServiceParty): ServiceSubs {
    return this.local.totalServiceSubs(party);
  }

  counts(party: ServiceParty): { queues: number; clients: number; services: number } {
    return this.local.counts(party);
  }

  anySubscribed(party: ServiceParty): boolean {
    return this.local.anySubscribed(party);
  }

  disconnected(c: Client): void {
    for (const k of c.subs.keys()) this.releaseIfHeld(0, k, c);
    for (const k of c.ntfSubs) this.releaseIfHeld(1, k, c);
    const s = c.handle.auth.peerService;
    if (s !== null && (s.role === "M" || s.role === "N")) this.releaseIfHeld(s.role === "M" ? 0 : 1, idKey(s.serviceId), c, true);
    this.local.disconnected(c);
  }

  /**
   * The recheck of a SUB's claim waits for both the claim (committed) and the SUB's own read: a
   * recheck that delivered before the SUB's read returned would send the MSG apart from (even
   * ahead of) its SOK, and the SUB's read alone may miss what another node sent meanwhile.
   */
  headRead(key: string, c: Client): void {
    const cl = this.queues[0].get(key);
    if (cl === undefined || cl.c !== c || cl.read) return;
    cl.read = true;
    if (cl.lostUnread === true) return this.lose("rcv", key, cl, false);
    if (cl.epoch !== 0) this.queueRecheck(cl);
  }

  available(party: ServiceParty, queueId: Uint8Array, serviceId: Uint8Array | null): void {
    this.cluster.publish({ kind: "available", party, queueId, serviceId });
  }

  blocked(recipientId: Uint8Array, info: BlockingInfo): void {
    if (this.local.deliverTo("rcv", idKey(recipientId), null) !== undefined) return this.local.blocked(recipientId, info);
    const w = new Writer();
    encodeBlockingInfo(w, info);
    this.cluster.publish({ kind: "blocked", party: "rcv", queueId: recipientId, info: w.toBytes() });
  }

  recorded(party: ServiceParty, c: Client): Promise<void> | null {
    return this.heldService(party, c)?.wait?.done ?? null;
  }

  answerOnceRecorded(party: ServiceParty, c: Client): Promise<() => void> | null {
    const cl = this.heldService(party, c);
    if (cl === undefined || cl.wait === null) return null;
    const w = cl.wait;
    w.answering++;
    return w.done.then(() => () => {
      if (--w.answering > 0 || !w.lost) return;
      w.lost = false;
      if (this.services[side(party)].get(cl.key) === cl) this.lose(party, cl.key, cl, true);
    });
  }

  private heldService(party: ServiceParty, c: Client): Claim | undefined {
    const sid = c.serviceId;
    const cl = sid === null ? undefined : this.services[side(party)].get(idKey(sid));
    return cl?.c === c ? cl : undefined;
  }

  // ---------------------------------------------------------------- claims

  /**
   * `read`: the subscription's own read of the queue is done (see `headRead`); for a service, its
   * queues are to be swept once claimed (a claim made again). `since`: see `Claim.since`.
   */
  private claim(
    party: ServiceParty,
    id: Uint8Array,
    key: string,
    c: Client,
    service: boolean,
    read = false,
    since = service ? Date.now() : 0,
    recorded: (() => void) | null = null,
  ): void {
    const map = (service ? this.services : this.queues)[side(party)];
    let resolve = (): void => {};
    const wait = service ? { done: new Promise<void>((r) => (resolve = r)), answering: 0, lost: false } : null;
    const cl: Claim = { key, c, epoch: 0, takenUpTo: -1, released: false, read, since, failed: false, wait };
    map.set(key, cl);
    const answered = this.cluster.claim(party, id, service).then(
      async (epoch) => {
        cl.epoch = epoch;
        resolve();
        recorded?.();
        if (cl.released) return this.cluster.release(party, id, epoch, service);
        if (map.get(key) !== cl) return;
        if (cl.takenUpTo >= epoch) return this.lose(party, key, cl, service);
        if (cl.moved === true) {
          cl.moved = false;
          return this.movedToService(party, id);
        }
        if (party !== "rcv" || !cl.read) return;
        if (!service) return this.queueRecheck(cl);
        try {
          await this.sweepService(cl);
        } catch (e) {
          log.warn(`cluster: looking for pending messages failed: ${(e as Error).message}`);
        }
      },
      () => {
        // The bus asks for a resync, which claims it again.
        cl.failed = true;
        resolve();
        recorded?.();
      },
    );
    this.pending.add(answered);
    void answered.finally(() => this.pending.delete(answered));
  }

  /**
   * Resolves once every claim made so far is answered and the look at the queue it started is
   * done (tests wait for it before making an event go missing on purpose).
   */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  /** The subscription of `key` ended here (END, DELD, moved to a service): its claim is released. */
  private forget(party: ServiceParty, key: string, service: boolean): void {
    const map = (service ? this.services : this.queues)[side(party)];
    const cl = map.get(key);
    if (cl === undefined) return;
    map.delete(key);
    if (cl.epoch === 0) cl.released = true;
    else this.cluster.release(party, idOf(cl), cl.epoch, service);
  }

  private releaseIfHeld(s: 0 | 1, key: string, c: Client, service = false): void {
    const cl = (service ? this.services : this.queues)[s].get(key);
    if (cl !== undefined && cl.c === c) this.forget(s === 0 ? "rcv" : "ntf", key, service);
  }

  /**
   * Another node's newer claim: this node's subscriber loses the queue (END) or the service
   * (ENDS) — for a service, once the SUBs and NEWs waiting for the claim have answered.
   */
  private lose(party: ServiceParty, key: string, cl: Claim, service: boolean): void {
    if (cl.wait !== null && cl.wait.answering > 0) {
      cl.wait.lost = true;
      return;
    }
    // The SUB's SOK is not queued yet: END after it.
    if (!service && party === "rcv" && !cl.read) {
      cl.lostUnread = true;
      return;
    }
    const map = (service ? this.services : this.queues)[side(party)];
    if (map.get(key) === cl) map.delete(key);
    if (service) this.local.dropService(party, idOf(cl));
    else this.local.end(party, idOf(cl), null, MSG_.END, null);
  }

  // ---------------------------------------------------------------- events

  event(e: ClusterEvent): void {
    switch (e.kind) {
      case "available":
        if (e.party === "rcv") void this.deliverPending(e.queueId, e.serviceId);
        else void this.deliverNtfs(e.queueId, e.serviceId);
        return;
      case "taken":
      case "serviceTaken": {
        const service = e.kind === "serviceTaken";
        const id = service ? e.serviceId : e.queueId;
        const key = idKey(id);
        const cl = (service ? this.services : this.queues)[side(e.party)].get(key);
        if (cl === undefined) return;
        if (cl.epoch === 0) cl.takenUpTo = Math.max(cl.takenUpTo, e.prevEpoch);
        else if (cl.epoch <= e.prevEpoch) this.lose(e.party, key, cl, service);
        return;
      }
      case "ended":
        if (!e.deleted && e.serviceId === null) return this.movedToService(e.party, e.queueId);
        return this.ended(e.party, e.queueId, e.serviceId, e.deleted);
      case "blocked": {
        let info: BlockingInfo;
        try {
          info = parseBlockingInfo(new Reader(e.info));
        } catch {
          return;
        }
        this.local.blocked(e.queueId, info);
      }
    }
  }

  /** The queue's subscriptions here end (DEL, NDEL, moved to a service): DELD or END, and its claim goes. */
  private ended(party: ServiceParty, queueId: Uint8Array, serviceId: Uint8Array | null, deleted: boolean): void {
    this.local.end(party, queueId, serviceId, deleted ? MSG_.DELD : MSG_.END, null);
    this.forget(party, idKey(queueId), false);
  }

  /**
   * The queue was moved to a service: its subscriber here ends unless the store says the claim is
   * still this node's — a SUB here may have taken the queue back from the service after the move
   * (bus.ts deletes a moved queue's claims only while a service serves it; this covers a claim
   * that statement deleted all the same). `confirm` writes such a claim back.
   */
  private movedToService(party: ServiceParty, queueId: Uint8Array): void {
    const key = idKey(queueId);
    const cl = this.queues[side(party)].get(key);
    if (cl === undefined) return this.ended(party, queueId, null, false);
    // A newer SUB here whose claim is not answered yet may have taken the queue back from the
    // service after the move: judged when its claim is answered.
    if (cl.epoch === 0) {
      cl.moved = true;
      return;
    }
    void this.confirmed(party, [[key, cl]], false).then(
      // Not before the SUB's own read of the queue (headRead rechecks then): MSG never precedes SOK.
      (kept) => (party === "rcv" ? this.recheck(kept.filter((k) => k.read)) : undefined),
      (e) => log.warn(`cluster: confirming a subscription failed (the sweep confirms it again): ${(e as Error).message}`),
    );
  }

  /**
   * A message may be waiting in a queue served here: the head goes to its subscriber (or its
   * service's connection) if nothing is in flight on its Sub — tryDeliverMessage on this node.
   */
  private async deliverPending(queueId: Uint8Array, serviceId: Uint8Array | null): Promise<void> {
    const key = idKey(queueId);
    const target = this.local.deliverTo("rcv", key, serviceId);
    const sub = target?.subs.get(key);
    if (target === undefined || sub === undefined || !free(sub)) return;
    const sent = sentOn(sub);
    try {
      // An ACK frees the Sub before its deletion commits: the head is read after that commit.
      await this.srv.store.flush();
      const q = await this.srv.store.queues.getQueueByRecipientId(queueId);
      if (q === null || q.status === "blocked") return;
      const head = await this.srv.store.messages.peekMsg(q);
      // The connection's own commands, a SEND or another event may have delivered meanwhile
      // (and the message read here may have been acknowledged since).
      if (head === null || !target.connected || target.subs.get(key) !== sub || !free(sub) || sentOn(sub) !== sent) return;
      setDelivered(sub, head.msgId);
      this.srv.push(target, q.recipientId, msgOf(q, head));
    } catch (e) {
      // Found again by the sweep.
      log.warn(`cluster: delivery of an announced message failed: ${(e as Error).message}`);
    }
  }

  /** Notifications kept for a notifier subscribed here (Server.hs:deliverNtfsThread for one). */
  private async deliverNtfs(notifierId: Uint8Array, serviceId: Uint8Array | null): Promise<void> {
    const target = this.local.deliverTo("ntf", idKey(notifierId), serviceId);
    // A connection that is not reading gets them from the periodic delivery (jobs.ts).
    if (target === undefined || target.outbox.backedUp) return;
    try {
      const taken = await this.srv.store.ntfs.takeNtfs([notifierId]);
      for (const n of taken) this.srv.push(target, n.notifierId, { tag: "NMSG", nonce: n.ntf.nonce, encMeta: n.ntf.encMeta });
      this.srv.stats.countNtfsDelivered(taken.length);
    } catch (e) {
      log.warn(`cluster: delivery of announced notifications failed: ${(e as Error).message}`);
    }
  }

  /** The claims answered in one turn are rechecked with one query. */
  private queueRecheck(cl: Claim): Promise<void> {
    this.toRecheck.push(cl);
    this.recheckBatch ??= new Promise<void>((resolve) =>
      setImmediate(() => {
        const cls = this.toRecheck;
        this.toRecheck = [];
        this.recheckBatch = null;
        void this.recheck(cls).then(resolve);
      }),
    );
    return this.recheckBatch;
  }

  /**
   * The queues of these claims, once written: one deleted meanwhile ends here with DELD (its DEL's
   * "ended" may have looked for holders before the claim was there); one with a message gets it if
   * its Sub has nothing in flight.
   */
  private async recheck(claims: readonly Claim[]): Promise<void> {
    const ids: Uint8Array[] = [];
    // Not before the SUB's own read (its SOK): headRead rechecks then.
    for (const cl of claims) if (cl.read && cl.c.connected && this.queues[0].get(cl.key) === cl) ids.push(idOf(cl));
    if (ids.length === 0) return;
    try {
      const found = await this.cluster.recheckQueues(ids);
      const asked = found.gone.length === 0 ? null : new Set(claims);
      for (const id of found.gone) {
        const cl = this.queues[0].get(idKey(id));
        // Still the claim that was looked at (not a newer SUB's, whose own recheck judges it).
        if (cl !== undefined && asked!.has(cl)) this.ended("rcv", id, null, true);
      }
      for (const id of found.withMessages) await this.deliverPending(id, null);
    } catch (e) {
      log.warn(`cluster: looking for pending messages failed: ${(e as Error).message}`);
    }
  }

  /** A slice of this node's recipient subscriptions, round-robin: messages whose event was lost. */
  private async sweep(): Promise<void> {
    if (this.stopped || this.resyncing) return;
    const slice: [[string, Claim][], [string, Claim][]] = [[], []];
    this.sweepCursor ??= this.allQueueClaims();
    for (let n = 0; n < SWEEP_SLICE; ) {
      const r = this.sweepCursor.next();
      if (r.done === true) {
        this.sweepCursor = null;
        break;
      }
      const [s, k, cl] = r.value;
      if (cl.epoch === 0) continue;
      slice[s].push([k, cl]);
      n++;
    }
    try {
      await this.recheck(await this.confirmed("rcv", slice[0], false));
      await this.confirmed("ntf", slice[1], false);
      await this.sweepServices();
    } catch (e) {
      log.warn(`cluster: sweeping subscriptions failed: ${(e as Error).message}`);
    }
    this.sweeps++;
  }

  /** Every queue claim, recipients then notifiers; a live iteration (claims come and go meanwhile). */
  private *allQueueClaims(): Generator<[0 | 1, string, Claim]> {
    for (const s of [0, 1] as const) for (const [k, cl] of this.queues[s]) yield [s, k, cl];
  }

  /**
   * The claims among these that are still this node's; the others end here as the lost event
   * would have ended them: END for a "taken" (its sender failed to send it, or this node missed
   * it) or a move to a service, DELD for a deletion ("ended").
   */
  private async confirmed(party: ServiceParty, claims: readonly [string, Claim][], service: boolean): Promise<Claim[]> {
    const map = (service ? this.services : this.queues)[side(party)];
    const found = await this.cluster.confirm(
      claims.map(([, cl]) => ({ party, id: idOf(cl), epoch: cl.epoch })),
      service,
    );
    const kept: Claim[] = [];
    claims.forEach(([k, cl], j) => {
      if (map.get(k) !== cl) return;
      const st = found[j];
      if (st === "mine") kept.push(cl);
      else if (st === "taken") this.lose(party, k, cl, service);
      else this.ended(party, idOf(cl), null, st === "deleted");
    });
    return kept;
  }

  resync(): void {
    if (this.stopped) return;
    if (this.resyncing) {
      this.resyncAgain = true;
      return;
    }
    this.resyncing = true;
    void this.runResync().then((ok) => {
      this.resyncing = false;
      if (ok) this.resyncs++;
      if (!ok) setTimeout(() => this.resync(), RESYNC_RETRY_MS).unref?.();
      else if (this.resyncAgain) {
        this.resyncAgain = false;
        this.resync();
      }
    });
  }

  /** Confirms every claim (one lost meanwhile ends here), claims again what failed, sweeps everything. */
  private async runResync(): Promise<boolean> {
    try {
      for (const service of [false, true]) {
        for (const s of [0, 1] as const) {
          const party: ServiceParty = s === 0 ? "rcv" : "ntf";
          const map = (service ? this.services : this.queues)[s];
          const all = [...map.entries()];
          for (let i = 0; i < all.length; i += SWEEP_SLICE) {
            const page = all.slice(i, i + SWEEP_SLICE);
            const known: [string, Claim][] = [];
            for (const [k, cl] of page) {
              if (cl.epoch !== 0) known.push([k, cl]);
              // A claim the store failed to record: made again (it is a SUB that was accepted).
              else if (cl.failed && map.get(k) === cl && !cl.released) this.claim(party, idOf(cl), k, cl.c, service, true, cl.since);
            }
            const kept = await this.confirmed(party, known, service);
            if (!service && party === "rcv") await this.recheck(kept);
            if (service && party === "rcv") for (const cl of kept) await this.sweepService(cl);
          }
        }
      }
      return true;
    } catch (e) {
      log.warn(`cluster: resynchronising subscriptions failed: ${(e as Error).message}`);
      return false;
    }
  }

  /**
   * The queues of a service served here: those with a message and nothing in flight get it — all
   * of them on a connection that did SUBS; on one that only SUBbed queues, those whose message
   * was written since it became the holder (an older one waits for SUBS, as on one server).
   */
  private async sweepService(cl: Claim): Promise<void> {
    for (let after: Uint8Array | null = null; ; ) {
      after = await this.sweepServicePage(cl, after);
      if (after === null) return;
    }
  }

  /** One page of a service's queues (after `after`); the next page's start, or null at the end. */
  private async sweepServicePage(cl: Claim, after: Uint8Array | null): Promise<Uint8Array | null> {
    if (!cl.c.connected) return null;
    const serviceId = idOf(cl);
    const page = await this.srv.store.services.serviceQueues(serviceId, "rcv", after, SWEEP_SLICE);
    const ids: Uint8Array[] = [];
    for (const q of page) if (free(cl.c.subs.get(idKey(q.recipientId)))) ids.push(q.recipientId);
    for (const id of await this.cluster.withMessages(ids, cl.c.serviceSubscribed ? 0 : cl.since)) await this.deliverPending(id, serviceId);
    return page.length < SWEEP_SLICE ? null : page[page.length - 1]!.recipientId;
  }

  /**
   * The periodic sweep's share for services: one page of one messaging service's queues per
   * tick, services in turn, so a large service is covered over many ticks at a bounded cost.
   */
  private async sweepServices(): Promise<void> {
    let at = this.serviceSweep;
    if (at === null) {
      this.serviceCursor ??= this.services[0].values();
      const r = this.serviceCursor.next();
      if (r.done === true) {
        this.serviceCursor = null;
        return;
      }
      if (r.value.epoch === 0) return;
      at = { cl: r.value, after: null };
    }
    const next = this.services[0].get(at.cl.key) === at.cl ? await this.sweepServicePage(at.cl, at.after) : null;
    this.serviceSweep = next === null ? null : { cl: at.cl, after: next };
  }
}

function side(party: ServiceParty): 0 | 1 {
  return party === "rcv" ? 0 : 1;
}

/** A delivery Sub with nothing awaiting its ACK (a service connection has none before its first delivery). */
function free(sub: Sub | undefined): boolean {
  return sub === undefined ? true : sub.kind === "server" && sub.delivered === null;
}
