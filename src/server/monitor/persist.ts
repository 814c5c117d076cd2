/**
 * Counters across restarts. The reference writes them to `smp-server-stats.log` on stop and reads
 * them back on start (Server.hs:saveServerStats, restoreServerStats); here they are one named
 * blob in the server's database, written on stop, on the control port's `save`, after each daily
 * line and hourly (so a crash loses at most an hour). Active-queue sets are kept as the reference
 * keeps their hashes. What the reference does not restore starts from zero here too
 * (Stats.hs:StrEncoding ServerStatsData): the services' subOk/subMore/subFewer/subDiff and totals,
 * rcvServicesSubMsg/SubDuplicate; qCount and msgCount are re-read from the store, as
 * restoreServerStats does.
 */
import type { Store } from "../../store/store.ts";
import type { NamesStats } from "../names/index.ts";
import type { PeriodStats, ServerStats } from "../stats.ts";
import { COUNTERS, NAMES_FIELDS, PROXY_FIELDS, SERVICE_FIELDS } from "./data.ts";

export const STATS_BLOB = "server-stats";
const FORMAT = 1;

/** Stats.hs:StrEncoding ServiceStatsData: the fields it writes and reads back. */
const SERVICE_SAVED = SERVICE_FIELDS.slice(0, 8);
const NOT_RESTORED = new Set<string>(["qCount", "msgCount", "rcvServicesSubMsg", "rcvServicesSubDuplicate"]);
const COUNTERS_SAVED = COUNTERS.filter((k) => !NOT_RESTORED.has(k));

type Numbers = Record<string, number>;

function numbers(o: object, keys: readonly string[]): Numbers {
  const r: Numbers = {};
  for (const k of keys) r[k] = (o as Numbers)[k]!;
  return r;
}

function assign(target: object, saved: unknown, keys: readonly string[]): void {
  if (typeof saved !== "object" || saved === null) return;
  const t = target as Numbers;
  for (const k of keys) {
    const v = (saved as Numbers)[k];
    if (typeof v === "number" && Number.isFinite(v)) t[k] = v;
  }
}

const periods = (p: PeriodStats) => ({ day: [...p.day], week: [...p.week], month: [...p.month] });

function restorePeriods(p: PeriodStats, saved: unknown): void {
  if (typeof saved !== "object" || saved === null) return;
  const s = saved as Record<string, unknown>;
  const set = (v: unknown) => new Set(Array.isArray(v) ? v.filter((x): x is number => typeof x === "number") : []);
  p.day = set(s.day);
  p.week = set(s.week);
  p.month = set(s.month);
}

export function encodeStats(s: ServerStats, names: NamesStats): Uint8Array {
  const data = {
    format: FORMAT,
    fromTime: s.fromTime,
    counters: numbers(s, COUNTERS_SAVED),
    relays: numbers(s.proxy.relays, PROXY_FIELDS),
    msgFwds: numbers(s.proxy.msgFwds, PROXY_FIELDS),
    relaysOwn: numbers(s.proxy.relaysOwn, PROXY_FIELDS),
    msgFwdsOwn: numbers(s.proxy.msgFwdsOwn, PROXY_FIELDS),
    msgFwdsRecv: s.proxy.msgFwdsRecv,
    rcvServices: numbers(s.rcvServices, SERVICE_SAVED),
    ntfServices: numbers(s.ntfServices, SERVICE_SAVED),
    names: numbers(names, NAMES_FIELDS),
    activeQueues: periods(s.activeQueues),
    activeQueuesNtf: periods(s.activeQueuesNtf),
  };
  return new TextEncoder().encode(JSON.stringify(data));
}

/** Throws with a reason when the blob is not ours; the caller starts from zero and says so. */
export function decodeStats(blob: Uint8Array, s: ServerStats, names: NamesStats): void {
  const d = JSON.parse(new TextDecoder().decode(blob)) as Record<string, unknown>;
  if (d.format !== FORMAT) throw new Error(`unknown statistics format ${JSON.stringify(d.format)}`);
  if (typeof d.fromTime === "number") s.fromTime = d.fromTime;
  assign(s, d.counters, COUNTERS_SAVED);
  assign(s.proxy.relays, d.relays, PROXY_FIELDS);
  assign(s.proxy.msgFwds, d.msgFwds, PROXY_FIELDS);
  assign(s.proxy.relaysOwn, d.relaysOwn, PROXY_FIELDS);
  assign(s.proxy.msgFwdsOwn, d.msgFwdsOwn, PROXY_FIELDS);
  if (typeof d.msgFwdsRecv === "number") s.proxy.msgFwdsRecv = d.msgFwdsRecv;
  assign(s.rcvServices, d.rcvServices, SERVICE_SAVED);
  assign(s.ntfServices, d.ntfServices, SERVICE_SAVED);
  assign(names, d.names, NAMES_FIELDS);
  restorePeriods(s.activeQueues, d.activeQueues);
  restorePeriods(s.activeQueuesNtf, d.activeQueuesNtf);
}

export async function saveStats(store: Store, s: ServerStats, names: NamesStats): Promise<void> {
  await store.putBlob(STATS_BLOB, encodeStats(s, names));
  await store.flush();
}

/** Restores saved counters (if any), then takes qCount and msgCount from the store. */
export async function restoreStats(store: Store, s: ServerStats, names: NamesStats): Promise<string | null> {
  let problem: string | null = null;
  const blob = await store.getBlob(STATS_BLOB);
  if (blob !== null) {
    try {
      decodeStats(blob, s, names);
    } catch (e) {
      problem = `saved statistics could not be read (${(e as Error).message}); counting starts from zero`;
    }
  }
  const st = await store.stats();
  s.qCount = st.queueCount;
  s.msgCount = st.messageCount;
  return problem;
}
