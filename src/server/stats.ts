/**
 * Server counters (Server/Stats.hs:ServerStats), kept in memory as plain number fields and
 * updated where the reference updates them; never computed by scanning the store. The daily
 * statistics job reads and resets them (monitor/daily.ts), the store keeps them across restarts
 * (monitor/persist.ts).
 */
import { ProxyStats } from "./proxy/stats.ts";

export class ServerStats {
  fromTime = Date.now();
  qCreated = 0;
  qSecured = 0;
  qDeletedAll = 0;
  /** Blocks whose transmissions were all DEL (Server.hs:receive updateBatchStats). */
  qDeletedAllB = 0;
  /** Deleted before the sender secured the queue, and after (Server.hs:updateDeletedStats). */
  qDeletedNew = 0;
  qDeletedSecured = 0;
  /** Queues blocked through the control port today (daily_block_queue_quota). */
  qBlocked = 0;
  /**
   * New subscriptions that delivered a pending message at once, as Stats.hs says ("only includes
   * subscriptions when there were pending messages"; Server.hs:subscribeQueueAndDeliver counts it
   * in `deliver` when there is a message, unless the SUB was a duplicate). A SUB of an empty queue
   * is not counted.
   */
  qSub = 0;
  qSubAllB = 0;
  qSubAuth = 0;
  qSubDuplicate = 0;
  qSubProhibited = 0;
  /** END and DELD sent to subscribers of queues and notifiers (Server.hs:sendPendingEvtsThread). */
  qSubEnd = 0;
  qSubEndB = 0;
  ntfCreated = 0;
  /** Notifier credentials created with the queue (NEW with ntf credentials). */
  ntfNewCreated = 0;
  ntfDeleted = 0;
  ntfDeletedB = 0;
  ntfSub = 0;
  ntfSubB = 0;
  ntfSubAuth = 0;
  ntfSubDuplicate = 0;
  msgSent = 0;
  msgSentAuth = 0;
  msgSentQuota = 0;
  msgSentLarge = 0;
  msgSentBlock = 0;
  msgRecv = 0;
  readonly msgRecvAckTimes = new TimeBuckets();
  msgRecvGet = 0;
  msgGet = 0;
  msgGetNoMsg = 0;
  msgGetAuth = 0;
  msgGetDuplicate = 0;
  msgGetProhibited = 0;
  msgExpired = 0;
  readonly activeQueues = new PeriodStats();
  msgSentNtf = 0;
  msgRecvNtf = 0;
  readonly activeQueuesNtf = new PeriodStats();
  msgNtfs = 0;
  msgNtfsB = 0;
  /** Kept for a notifier nobody is subscribed to (declared, never incremented by the reference). */
  msgNtfNoSub = 0;
  msgNtfLost = 0;
  msgNtfExpired = 0;
  /** Connections closed at accept: at the connection bound, over the per-address bound (ours). */
  connRefusedMax = 0;
  connRefusedPerAddress = 0;
  /** Connections closed because a block began and stalled (ours). */
  partialBlockTimeouts = 0;
  /** Messaging services (SUB/SUBS), and notifier services (NSUB/NSUBS). */
  readonly rcvServices = new ServiceStats();
  readonly ntfServices = new ServiceStats();
  /** Messages delivered after SUBS, and queues skipped because a delivery was already in flight. */
  rcvServicesSubMsg = 0;
  rcvServicesSubDuplicate = 0;
  /** Stored queues and messages, kept incrementally from the store's figures at start-up. */
  qCount = 0;
  msgCount = 0;
  /** PRXY/PFWD/RFWD (the proxy agent counts into these). */
  readonly proxy = new ProxyStats();
  /** Ours: connections past the SMP handshake, and failed handshakes. */
  connections = 0;
  handshakeFailures = 0;
  /** Ours: time of the store's group commits (Server: commitAndFlush), seconds. */
  readonly commitTimes = new Histogram([0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]);

  countBatch(tag: string): void {
    if (tag === "SUB") this.qSubAllB++;
    else if (tag === "DEL") this.qDeletedAllB++;
    else if (tag === "NDEL") this.ntfDeletedB++;
    else if (tag === "NSUB") this.ntfSubB++;
  }

  /** END or DELD to a subscriber: each is its own batch here (Server.hs:sendPendingEvtsThread counts both). */
  countEnd(): void {
    this.qSubEnd++;
    this.qSubEndB++;
  }

  /** NMSGs delivered to one connection in one go (Server.hs:deliverNtfsThread: up to 80 per batch). */
  countNtfsDelivered(n: number): void {
    if (n === 0) return;
    this.msgNtfs += n;
    this.msgNtfsB += Math.floor(n / 80) + 1;
  }
}

/**
 * Server/Stats.hs:ServiceStats. `subDuplicate` (repeated SUBS/NSUBS on a connection) and
 * `subEnd` (ENDS sent) exist in the reference but are never incremented there; we count them.
 */
export class ServiceStats {
  assocNew = 0;
  assocDuplicate = 0;
  assocUpdated = 0;
  assocRemoved = 0;
  subCount = 0;
  subDuplicate = 0;
  subQueues = 0;
  subEnd = 0;
  /** SUBS/NSUBS whose expected count and hash matched the server's. */
  subOk = 0;
  /** The server had more queues than expected (and by how many in total). */
  subMore = 0;
  subMoreTotal = 0;
  subFewer = 0;
  subFewerTotal = 0;
  /** Same count, different hash. */
  subDiff = 0;
}

/**
 * Server/Stats.hs:PeriodStats: the queues active today, this week and this month, as sets of id
 * hashes (the reference's `hash` of the id; ours: 48 bits of the random id, which is already
 * uniformly distributed). Day ⊆ week ⊆ month between resets, so a queue already seen today
 * costs one lookup.
 */
export class PeriodStats {
  day = new Set<number>();
  week = new Set<number>();
  month = new Set<number>();

  /** Stats.hs:updatePeriodStats. */
  add(id: Uint8Array): void {
    const h = id[0]! + id[1]! * 0x100 + id[2]! * 0x10000 + id[3]! * 0x1000000 + id[4]! * 0x100000000 + id[5]! * 0x10000000000;
    if (this.day.has(h)) return;
    this.day.add(h);
    this.week.add(h);
    this.month.add(h);
  }
}

/**
 * Stats.hs:TimeBuckets for delivery-to-ACK times: seconds up to 5, then rounded up to 5 s up to
 * 30, 10 s up to 60, 30 s up to 180, then minutes (updateTimeBuckets). Counts live in a fixed
 * array indexed by bucket (no allocation per ACK); buckets beyond a day share the last slot's map.
 */
export class TimeBuckets {
  sumTime = 0;
  maxTime = 0;
  readonly counts = new Float64Array(BUCKET_SLOTS);
  readonly beyond = new Map<number, number>();

  add(seconds: number): void {
    const t = seconds < 0 ? 0 : seconds;
    this.sumTime += t;
    if (t > this.maxTime) this.maxTime = t;
    const b = bucketOf(t);
    const i = slotOf(b);
    if (i < BUCKET_SLOTS) this.counts[i]!++;
    else this.beyond.set(b, (this.beyond.get(b) ?? 0) + 1);
  }

  /** Bucket upper bound (seconds) → count, ascending, non-empty buckets only. */
  entries(): [number, number][] {
    const out: [number, number][] = [];
    for (let i = 0; i < BUCKET_SLOTS; i++) if (this.counts[i]! > 0) out.push([boundOf(i), this.counts[i]!]);
    for (const [b, n] of [...this.beyond].sort((x, y) => x[0] - y[0])) out.push([b, n]);
    return out;
  }

  reset(): void {
    this.sumTime = 0;
    this.maxTime = 0;
    this.counts.fill(0);
    this.beyond.clear();
  }
}

const roundUp = (t: number, m: number) => Math.ceil(t / m) * m;

/** Stats.hs:updateTimeBuckets `seconds`. */
export function bucketOf(t: number): number {
  if (t <= 5) return t;
  if (t <= 30) return roundUp(t, 5);
  if (t <= 60) return roundUp(t, 10);
  if (t <= 180) return roundUp(t, 30);
  return roundUp(t, 60);
}

// Slots: 0..5 (6), 10..30 by 5 (5), 40..60 by 10 (3), 90..180 by 30 (4), then 240.. by 60 up to a day.
const BUCKET_SLOTS = 18 + (86400 - 240) / 60 + 1;

function slotOf(b: number): number {
  if (b <= 5) return b;
  if (b <= 30) return 6 + b / 5 - 2;
  if (b <= 60) return 11 + b / 10 - 4;
  if (b <= 180) return 14 + b / 30 - 3;
  return 18 + (b - 240) / 60;
}

function boundOf(i: number): number {
  if (i <= 5) return i;
  if (i < 11) return (i - 6 + 2) * 5;
  if (i < 14) return (i - 11 + 4) * 10;
  if (i < 18) return (i - 14 + 3) * 30;
  return (i - 18) * 60 + 240;
}

/** A Prometheus histogram with fixed upper bounds (ours: commit and event-loop times). */
export class Histogram {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(v: number): void {
    this.sum += v;
    this.count++;
    const b = this.bounds;
    for (let i = 0; i < b.length; i++) {
      if (v <= b[i]!) {
        this.counts[i]!++;
        return;
      }
    }
  }
}
