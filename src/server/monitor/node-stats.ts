/**
 * Statistics of several nodes on one store (issue 18). Each node publishes its own figures as
 * a row of the store (StoreCluster.putNodeStats) every NODE_STATS_INTERVAL_MS and when it stops;
 * any node reads them all for the control port (`server-info`, `stats`) and the metrics. The
 * counters are cumulative, so the cluster's total is the sum over every node that ever
 * published; connections and subscriptions are gauges, summed over live nodes only (published
 * recently and not stopped). Cold path: a few hundred bytes a node every 15 s.
 */
import type { NodeStatsRow, StoreCluster } from "../../store/cluster.ts";
import { log } from "../../util/log.ts";
import { COUNTERS, type Counter, type StatsData } from "./data.ts";

const NODE_STATS_INTERVAL_MS = 15_000;
/** A node that has not published for this long is not live (three missed publications). */
const LIVE_MS = 3 * NODE_STATS_INTERVAL_MS;

/** What a node publishes (JSON). */
export interface NodeFigures {
  index: number;
  count: number;
  /** false once the node stopped (its gauges are then 0). */
  running: boolean;
  clients: number;
  smpSubs: number;
  ntfSubs: number;
  counters: Partial<Record<Counter, number>>;
}

export interface ClusterNode {
  node: string;
  /** Unix seconds of its last publication. */
  updatedAt: number;
  live: boolean;
  /** null: the row could not be read (another version's format). */
  figures: NodeFigures | null;
}

export interface ClusterView {
  nodes: ClusterNode[];
  /** Counters summed over every node. */
  totals: Record<Counter, number>;
  /** Gauges summed over live nodes. */
  clients: number;
  smpSubs: number;
  ntfSubs: number;
}

/** Store-wide figures every node reads the same (not summed). */
const STORE_WIDE = new Set<Counter>(["qCount", "msgCount"]);
const SUMMED: readonly Counter[] = COUNTERS.filter((k) => !STORE_WIDE.has(k));

export function nodeFigures(d: StatsData, node: { index: number; count: number }, live: { clients: number; smpSubs: number; ntfSubs: number } | null): NodeFigures {
  const counters: Partial<Record<Counter, number>> = {};
  for (const k of SUMMED) counters[k] = d.counters[k];
  return { index: node.index, count: node.count, running: live !== null, clients: live?.clients ?? 0, smpSubs: live?.smpSubs ?? 0, ntfSubs: live?.ntfSubs ?? 0, counters };
}

function parse(json: string): NodeFigures | null {
  try {
    const f = JSON.parse(json) as NodeFigures;
    return typeof f === "object" && f !== null && typeof f.counters === "object" && f.counters !== null ? f : null;
  } catch {
    return null;
  }
}

export function clusterView(rows: readonly NodeStatsRow[], nowMs: number): ClusterView {
  const totals = {} as Record<Counter, number>;
  for (const k of SUMMED) totals[k] = 0;
  const view: ClusterView = { nodes: [], totals, clients: 0, smpSubs: 0, ntfSubs: 0 };
  for (const r of rows) {
    const figures = parse(r.json);
    const live = figures !== null && figures.running && nowMs - r.updatedAt * 1000 < LIVE_MS;
    view.nodes.push({ node: r.node, updatedAt: r.updatedAt, live, figures });
    if (figures === null) continue;
    for (const k of SUMMED) {
      const v = figures.counters[k];
      if (typeof v === "number" && Number.isFinite(v)) totals[k] += v;
    }
    if (live) {
      view.clients += figures.clients;
      view.smpSubs += figures.smpSubs;
      view.ntfSubs += figures.ntfSubs;
    }
  }
  return view;
}

/** Publishes this node's figures periodically and once more when it stops. */
export class NodeStatsPublisher {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private failing = false;

  constructor(
    private readonly cluster: StoreCluster,
    private readonly name: string,
    private readonly figures: (running: boolean) => Promise<NodeFigures>,
  ) {}

  start(): void {
    void this.publish(true).finally(() => this.next());
  }

  private next(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.publish(true).finally(() => this.next()), NODE_STATS_INTERVAL_MS);
    this.timer.unref?.();
  }

  async publish(running: boolean): Promise<void> {
    try {
      await this.cluster.putNodeStats(this.name, JSON.stringify(await this.figures(running)));
      if (this.failing) log.info("node statistics are published again");
      this.failing = false;
    } catch (e) {
      // Optional: the cluster's totals lag while the store cannot take them; SMP goes on.
      if (!this.failing) log.warn(`node statistics not published: ${(e as Error).message}`);
      this.failing = true;
    }
  }

  /** The last publication (gauges 0), before the store closes. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.publish(false);
  }
}

/** Ours, after the reference's metrics on a node of several: which node, and the cluster's totals. */
export function clusterMetricsText(node: { name: string; index: number; count: number }, view: ClusterView | null): string {
  const out = [
    "# Cluster (ours)\n# -------\n\n",
    "# HELP simplex_smp_node_info The node that serves these metrics; each node serves its own (configured port + index - 1)\n# TYPE simplex_smp_node_info gauge\n",
    `simplex_smp_node_info{node="${node.name}",index="${node.index}",count="${node.count}"} 1\n\n`,
  ];
  if (view === null) return out.join("") + "# the cluster's figures could not be read from the store\n\n";
  const live = view.nodes.filter((n) => n.live).length;
  out.push(
    "# HELP simplex_smp_cluster_nodes Nodes that published statistics to the store: all, and live ones\n# TYPE simplex_smp_cluster_nodes gauge\n",
    `simplex_smp_cluster_nodes{state="all"} ${view.nodes.length}\nsimplex_smp_cluster_nodes{state="live"} ${live}\n\n`,
    "# HELP simplex_smp_cluster_clients Connected clients on live nodes\n# TYPE simplex_smp_cluster_clients gauge\n",
    `simplex_smp_cluster_clients ${view.clients}\n\n`,
    "# HELP simplex_smp_cluster_subscriptions Subscribed queues on live nodes\n# TYPE simplex_smp_cluster_subscriptions gauge\n",
    `simplex_smp_cluster_subscriptions{side="smp"} ${view.smpSubs}\nsimplex_smp_cluster_subscriptions{side="ntf"} ${view.ntfSubs}\n\n`,
    "# HELP simplex_smp_cluster_counter Counters summed over every node (named as in the control port's stats)\n# TYPE simplex_smp_cluster_counter counter\n",
  );
  for (const k of SUMMED) out.push(`simplex_smp_cluster_counter{counter="${k}"} ${view.totals[k]}\n`);
  out.push("\n");
  return out.join("");
}
