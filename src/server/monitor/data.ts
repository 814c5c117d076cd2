/**
 * One consistent reading of every statistic (Server/Stats.hs:ServerStatsData plus the store's
 * EntityCounts), shared by the daily CSV, the Prometheus text, the control port's `stats` and
 * `smp-server stats`. Reading is cold-path work: the counters themselves stay plain fields.
 */
import type { StoreStats } from "../../store/types.ts";
import type { NamesStats } from "../names/index.ts";
import type { ProxyCounters, ProxyStats } from "../proxy/stats.ts";
import type { ServerStats, ServiceStats, TimeBuckets } from "../stats.ts";

/** The plain counters of ServerStats, by their reference names. */
export const COUNTERS = [
  "qCreated",
  "qSecured",
  "qDeletedAll",
  "qDeletedAllB",
  "qDeletedNew",
  "qDeletedSecured",
  "qBlocked",
  "qSub",
  "qSubAllB",
  "qSubAuth",
  "qSubDuplicate",
  "qSubProhibited",
  "qSubEnd",
  "qSubEndB",
  "ntfCreated",
  "ntfNewCreated",
  "ntfDeleted",
  "ntfDeletedB",
  "ntfSub",
  "ntfSubB",
  "ntfSubAuth",
  "ntfSubDuplicate",
  "msgSent",
  "msgSentAuth",
  "msgSentQuota",
  "msgSentLarge",
  "msgSentBlock",
  "msgRecv",
  "msgRecvGet",
  "msgGet",
  "msgGetNoMsg",
  "msgGetAuth",
  "msgGetDuplicate",
  "msgGetProhibited",
  "msgExpired",
  "msgSentNtf",
  "msgRecvNtf",
  "msgNtfs",
  "msgNtfsB",
  "msgNtfNoSub",
  "msgNtfLost",
  "msgNtfExpired",
  "rcvServicesSubMsg",
  "rcvServicesSubDuplicate",
  "qCount",
  "msgCount",
] as const satisfies readonly (keyof ServerStats)[];

export type Counter = (typeof COUNTERS)[number];

/**
 * Counters the daily job resets (Server.hs:logServerStats atomicSwapIORef … 0). Not reset there:
 * ntfNewCreated, msgSentBlock, the services' counters, rcvServicesSub*, qCount, msgCount.
 */
export const DAILY_RESET: readonly Counter[] = COUNTERS.filter(
  (k) => !["ntfNewCreated", "msgSentBlock", "rcvServicesSubMsg", "rcvServicesSubDuplicate", "qCount", "msgCount"].includes(k),
);

export const PROXY_FIELDS = ["requests", "successes", "errorsConnect", "errorsCompat", "errorsOther"] as const satisfies readonly (keyof ProxyCounters)[];
export const SERVICE_FIELDS = [
  "assocNew",
  "assocDuplicate",
  "assocUpdated",
  "assocRemoved",
  "subCount",
  "subDuplicate",
  "subQueues",
  "subEnd",
  "subOk",
  "subMore",
  "subFewer",
  "subDiff",
  "subMoreTotal",
  "subFewerTotal",
] as const satisfies readonly (keyof ServiceStats)[];
export const NAMES_FIELDS = ["reqs", "succ", "notFound", "resolverErrs", "disabled"] as const satisfies readonly (keyof NamesStats)[];

export type ProxyData = Record<(typeof PROXY_FIELDS)[number], number>;
export type ServiceData = Record<(typeof SERVICE_FIELDS)[number], number>;
export type NamesData = Record<(typeof NAMES_FIELDS)[number], number>;

export interface PeriodCounts {
  day: number;
  week: number;
  month: number;
}

export interface StatsData {
  /** Unix ms of the start of the period the counters cover. */
  fromTime: number;
  counters: Record<Counter, number>;
  activeQueues: PeriodCounts;
  activeQueuesNtf: PeriodCounts;
  pRelays: ProxyData;
  /** For destinations under own_server_domains. */
  pRelaysOwn: ProxyData;
  pMsgFwds: ProxyData;
  pMsgFwdsOwn: ProxyData;
  pMsgFwdsRecv: number;
  rcvServices: ServiceData;
  ntfServices: ServiceData;
  names: NamesData;
  /** Delivery-to-ACK times (msgRecvAckTimes), live: never reset, not persisted (as in the reference). */
  ackTimes: TimeBuckets;
  /** The store's own counts (QueueStore/Types.hs:EntityCounts, "qCount 2" etc.). */
  store: StoreStats;
}

function pick<K extends string>(o: Record<K, number>, keys: readonly K[]): Record<K, number> {
  const r = {} as Record<K, number>;
  for (const k of keys) r[k] = o[k];
  return r;
}

export function readStats(s: ServerStats, names: NamesStats, store: StoreStats): StatsData {
  const p: ProxyStats = s.proxy;
  return {
    fromTime: s.fromTime,
    counters: pick(s as unknown as Record<Counter, number>, COUNTERS),
    activeQueues: { day: s.activeQueues.day.size, week: s.activeQueues.week.size, month: s.activeQueues.month.size },
    activeQueuesNtf: { day: s.activeQueuesNtf.day.size, week: s.activeQueuesNtf.week.size, month: s.activeQueuesNtf.month.size },
    pRelays: pick(p.relays, PROXY_FIELDS),
    pRelaysOwn: pick(p.relaysOwn, PROXY_FIELDS),
    pMsgFwds: pick(p.msgFwds, PROXY_FIELDS),
    pMsgFwdsOwn: pick(p.msgFwdsOwn, PROXY_FIELDS),
    pMsgFwdsRecv: p.msgFwdsRecv,
    rcvServices: pick(s.rcvServices, SERVICE_FIELDS),
    ntfServices: pick(s.ntfServices, SERVICE_FIELDS),
    names: pick(names, NAMES_FIELDS),
    ackTimes: s.msgRecvAckTimes,
    store,
  };
}
