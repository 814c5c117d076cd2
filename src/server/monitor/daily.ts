/**
 * The daily statistics line of `smp-server-stats.daily.log` (Server.hs:logServerStats): 101
 * comma-separated columns, no header (the reference writes none; its dashboards read by position),
 * written at 00:00 UTC, after which most counters start again from zero.
 */
import type { ServerStats, PeriodStats } from "../stats.ts";
import type { NamesStats } from "../names/index.ts";
import type { ProxyCounters } from "../proxy/stats.ts";
import type { StoreStats } from "../../store/types.ts";
import { DAILY_RESET, NAMES_FIELDS, PROXY_FIELDS, type Counter, type StatsData } from "./data.ts";

export const DAILY_FILE = "smp-server-stats.daily.log";
/** Server/Main.hs:serverConfig logStatsStartTime (seconds after 00:00 UTC) and logStatsInterval. */
export const LOG_STATS_START_SEC = 0;
const LOG_STATS_INTERVAL_SEC = 86400;

/** `periodStatCounts`: week and month counts only on the day they restart (Monday, the 1st), else "". */
export interface DailyPeriods {
  day: string;
  week: string;
  month: string;
}

interface Row {
  d: StatsData;
  p: DailyPeriods;
  pNtf: DailyPeriods;
}

type Column = readonly [name: string, value: (r: Row) => string | number];

const counter = (k: Counter): Column => [k, (r) => r.d.counters[k]];
const storeCount = (k: keyof StoreStats, name: string = k): Column => [name, (r) => r.d.store[k]];
const constant = (name: string): Column => [name, () => "0"];
const proxy = (k: "pRelays" | "pRelaysOwn" | "pMsgFwds" | "pMsgFwdsOwn"): Column[] => PROXY_FIELDS.map((f) => [`${k}.${f}`, (r) => r.d[k][f]]);
const services = (k: "rcvServices" | "ntfServices"): Column[] =>
  (["assocNew", "assocDuplicate", "assocUpdated", "assocRemoved", "subCount", "subDuplicate", "subQueues", "subEnd"] as const).map((f) => [`${k}.${f}`, (r) => r.d[k][f]]);
const period = (name: string, sel: (r: Row) => DailyPeriods, f: keyof DailyPeriods): Column => [name, (r) => sel(r)[f]];

/** The reference's columns in order, named after its variables ("(0)": a removed statistic, always 0). */
const COLUMNS: readonly Column[] = [
  ["date", (r) => new Date(r.d.fromTime).toISOString().slice(0, 10)],
  counter("qCreated"),
  counter("qSecured"),
  counter("qDeletedAll"),
  counter("msgSent"),
  counter("msgRecv"),
  period("dayMsgQueues", (r) => r.p, "day"),
  period("weekMsgQueues", (r) => r.p, "week"),
  period("monthMsgQueues", (r) => r.p, "month"),
  counter("msgSentNtf"),
  counter("msgRecvNtf"),
  period("dayCountNtf", (r) => r.pNtf, "day"),
  period("weekCountNtf", (r) => r.pNtf, "week"),
  period("monthCountNtf", (r) => r.pNtf, "month"),
  counter("qCount"),
  counter("msgCount"),
  counter("msgExpired"),
  counter("qDeletedNew"),
  counter("qDeletedSecured"),
  ...proxy("pRelays"),
  ...proxy("pRelaysOwn"),
  ...proxy("pMsgFwds"),
  ...proxy("pMsgFwdsOwn"),
  ["pMsgFwdsRecv", (r) => r.d.pMsgFwdsRecv],
  ...(["qSub", "qSubAuth", "qSubDuplicate", "qSubProhibited", "msgSentAuth", "msgSentQuota", "msgSentLarge", "msgNtfs", "msgNtfNoSub", "msgNtfLost"] as const).map(counter),
  constant("qSubNoMsg(0)"),
  ...(["msgRecvGet", "msgGet", "msgGetNoMsg", "msgGetAuth", "msgGetDuplicate", "msgGetProhibited"] as const).map(counter),
  constant("daySubQueues(0)"),
  constant("weekSubQueues(0)"),
  constant("monthSubQueues(0)"),
  storeCount("queueCount"),
  ...(["ntfCreated", "ntfDeleted", "ntfSub", "ntfSubAuth", "ntfSubDuplicate"] as const).map(counter),
  storeCount("notifierCount"),
  ...(["qDeletedAllB", "qSubAllB", "qSubEnd", "qSubEndB", "ntfDeletedB", "ntfSubB", "msgNtfsB", "msgNtfExpired"] as const).map(counter),
  storeCount("ntfCount"),
  storeCount("rcvServiceCount"),
  storeCount("ntfServiceCount"),
  storeCount("rcvServiceQueuesCount"),
  storeCount("ntfServiceQueuesCount"),
  ...services("rcvServices"),
  ...services("ntfServices"),
  ...NAMES_FIELDS.map((f): Column => [`rslvStats.${f}`, (r) => r.d.names[f]]),
];

export const DAILY_COLUMNS: readonly string[] = COLUMNS.map(([name]) => name);

/** The CSV line (without "\n") for data read just before the reset (Server.hs:logServerStats). */
export function dailyLine(d: StatsData, p: DailyPeriods, pNtf: DailyPeriods): string {
  const row: Row = { d, p, pNtf };
  return COLUMNS.map(([, value]) => value(row)).join(",");
}

/** Stats.hs:periodStatCounts — `now` is the time of the write (the first moment of the new day). */
export function rollPeriods(ps: PeriodStats, now: Date): DailyPeriods {
  const weekday = now.getUTCDay(); // 0 = Sunday; mondayStartWeek's day 1 is Monday
  const r: DailyPeriods = { day: String(ps.day.size), week: "", month: "" };
  ps.day = new Set();
  if (weekday === 1) {
    r.week = String(ps.week.size);
    ps.week = new Set();
  }
  if (now.getUTCDate() === 1) {
    r.month = String(ps.month.size);
    ps.month = new Set();
  }
  return r;
}

function resetProxy(p: ProxyCounters): void {
  for (const f of PROXY_FIELDS) p[f] = 0;
}

/** The resets of Server.hs:logServerStats (also qBlocked, "not logged, only reset"). */
export function resetDaily(s: ServerStats, names: NamesStats, now: Date): void {
  s.fromTime = now.getTime();
  const counters = s as unknown as Record<string, number>;
  for (const k of DAILY_RESET) counters[k] = 0;
  resetProxy(s.proxy.relays);
  resetProxy(s.proxy.msgFwds);
  resetProxy(s.proxy.relaysOwn);
  resetProxy(s.proxy.msgFwdsOwn);
  s.proxy.msgFwdsRecv = 0;
  for (const f of NAMES_FIELDS) names[f] = 0;
}

/** Milliseconds from `nowMs` to the next daily write (Server.hs:logServerStats initialDelay). */
export function msUntilDailyWrite(nowMs: number, startAtSec = LOG_STATS_START_SEC): number {
  const day = LOG_STATS_INTERVAL_SEC * 1000;
  const sinceMidnight = nowMs % day;
  let delay = startAtSec * 1000 - sinceMidnight;
  if (delay <= 0) delay += day;
  return delay;
}
