/**
 * Counters across restarts. The reference writes them to `smp-server-stats.log` on stop and reads
 * them back on start (Server.hs:saveServerStats, restoreServerStats); here they are one named
 * blob in the server's database, written on stop, on the control port's `save`, after each daily
 * line and hourly (so a crash loses at most an hour). Active-queue sets are kept as the reference
 * keeps their hashes, in a second, binary blob (6 bytes a hash) written only on stop, `save` and
 * the daily write: with a million active queues they are megabytes, and the hourly save of the
 * small counters must not stall the event loop (a crash loses at most a day of them). What the reference does not restore starts from zero here too
 * (Stats.hs:StrEncoding ServerStatsData): the services' subOk/subMore/subFewer/subDiff and totals,
 * rcvServicesSubMsg/SubDuplicate; qCount and msgCount are re-read from the store, as
 * restoreServerStats does.
 */
import type { Store } from "../../store/store.ts";
import type { NamesStats } from "../names/index.ts";
import type { ServerStats } from "../stats.ts";
import { COUNTERS, NAMES_FIELDS, PROXY_FIELDS, SERVICE_FIELDS } from "./data.ts";

export const STATS_BLOB = "server-stats";
export const PERIODS_BLOB = "server-stats-periods";
/** 2: the active-queue sets are in PERIODS_BLOB (1 was never released). */
const FORMAT = 2;
const PERIODS_FORMAT = 1;

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
}

const ID_BYTES = 6; // PeriodStats keeps 48 bits of each queue id
const setsOf = (s: ServerStats) => [s.activeQueues, s.activeQueuesNtf].flatMap((p) => [p.day, p.week, p.month]);

/** PERIODS_FORMAT, then six sets (rcv day/week/month, ntf day/week/month): u32 LE count, 6-byte LE ids. */
export function encodePeriods(s: ServerStats): Uint8Array {
  const sets = setsOf(s);
  let size = 1;
  for (const set of sets) size += 4 + set.size * ID_BYTES;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = PERIODS_FORMAT;
  let o = 1;
  for (const set of sets) {
    view.setUint32(o, set.size, true);
    o += 4;
    for (const h of set) {
      view.setUint32(o, h % 0x100000000, true);
      view.setUint16(o + 4, Math.floor(h / 0x100000000), true);
      o += ID_BYTES;
    }
  }
  return out;
}

/** Throws with a reason when the blob is not ours (the sets are then left as they are). */
export function decodePeriods(blob: Uint8Array, s: ServerStats): void {
  if (blob[0] !== PERIODS_FORMAT) throw new Error(`unknown active-queue sets format ${blob[0]}`);
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const read: Set<number>[] = [];
  let o = 1;
  for (let i = 0; i < 6; i++) {
    if (o + 4 > blob.length) throw new Error("active-queue sets cut short");
    const n = view.getUint32(o, true);
    o += 4;
    if (o + n * ID_BYTES > blob.length) throw new Error("active-queue sets cut short");
    const set = new Set<number>();
    for (let k = 0; k < n; k++, o += ID_BYTES) set.add(view.getUint32(o, true) + view.getUint16(o + 4, true) * 0x100000000);
    read.push(set);
  }
  if (o !== blob.length) throw new Error("active-queue sets followed by unknown bytes");
  [s.activeQueues.day, s.activeQueues.week, s.activeQueues.month] = read.slice(0, 3) as [Set<number>, Set<number>, Set<number>];
  [s.activeQueuesNtf.day, s.activeQueuesNtf.week, s.activeQueuesNtf.month] = read.slice(3) as [Set<number>, Set<number>, Set<number>];
}

/** A node of several on one store (ServerOptions.node): what persist needs of it. */
interface StatsNode {
  index: number;
  name: string;
}

/**
 * Each node of several keeps its own counters ("server-stats/<node>"), so that none overwrites
 * another's and each restarts from its own; a single server keeps the reference's one pair.
 */
function blobNames(node: StatsNode | undefined): { stats: string; periods: string } {
  return node === undefined ? { stats: STATS_BLOB, periods: PERIODS_BLOB } : { stats: `${STATS_BLOB}/${node.name}`, periods: `${PERIODS_BLOB}/${node.name}` };
}

/** The counters; with `periods` the active-queue sets too (stop, `save`, the daily write). */
export async function saveStats(store: Store, s: ServerStats, names: NamesStats, periods: boolean, node?: StatsNode): Promise<void> {
  const b = blobNames(node);
  if (periods) await store.putBlob(b.periods, encodePeriods(s));
  await store.putBlob(b.stats, encodeStats(s, names));
  await store.flush();
}

/**
 * Restores saved counters (if any), then takes qCount and msgCount from the store. Node 1 of a
 * server that ran as a single server before takes over the single server's counters (once: they
 * are moved to its own names, so no other node counts them again).
 */
export async function restoreStats(store: Store, s: ServerStats, names: NamesStats, node?: StatsNode): Promise<string | null> {
  const own = blobNames(node);
  if (node?.index === 1 && (await store.getBlob(own.stats)) === null && (await store.getBlob(STATS_BLOB)) !== null) {
    const problem = await restoreFrom(store, s, names, blobNames(undefined));
    await saveStats(store, s, names, true, node);
    await store.putBlob(STATS_BLOB, null);
    await store.putBlob(PERIODS_BLOB, null);
    await store.flush();
    return problem;
  }
  return restoreFrom(store, s, names, own);
}

/**
 * Why this server's counters may start from zero: it has none saved, and is not node 1 taking
 * over a single server's, yet nodes not running now have statistics in the store — a new node, or one
 * renamed (a changed host name, e.g. a new container id, without `[NODES] name`). Null otherwise.
 */
export async function renamedNodeWarning(store: Store, node?: StatsNode): Promise<string | null> {
  if (store.cluster === undefined || (await store.getBlob(blobNames(node).stats)) !== null) return null;
  if (node?.index === 1 && (await store.getBlob(STATS_BLOB)) !== null) return null;
  // Nodes running now are not this one under an old name: a node added to a running cluster is no warning.
  const live = new Set((await store.cluster.nodes()).map((n) => n.name));
  const others = (await store.cluster.nodeStats()).map((r) => r.node).filter((n) => n !== node?.name && !live.has(n));
  if (others.length === 0) return null;
  const self = node === undefined ? "this server (no [NODES] name)" : `node ${node.name}`;
  return `no saved counters for ${self}, but the store has statistics of ${others.join(", ")}: if this is not a new node but a renamed one (a changed host name, e.g. a new container), its counters start from zero; set [NODES] name to keep a machine's name stable`;
}

async function restoreFrom(store: Store, s: ServerStats, names: NamesStats, b: { stats: string; periods: string }): Promise<string | null> {
  let problem: string | null = null;
  const blob = await store.getBlob(b.stats);
  if (blob !== null) {
    try {
      decodeStats(blob, s, names);
    } catch (e) {
      problem = `saved statistics could not be read (${(e as Error).message}); counting starts from zero`;
    }
  }
  const sets = await store.getBlob(b.periods);
  if (sets !== null) {
    try {
      decodePeriods(sets, s);
    } catch (e) {
      problem = `${problem === null ? "" : `${problem}; `}saved active-queue sets could not be read (${(e as Error).message}); they start empty`;
    }
  }
  const st = await store.stats();
  s.qCount = st.queueCount;
  s.msgCount = st.messageCount;
  return problem;
}
