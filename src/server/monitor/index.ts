/**
 * Statistics over time (Server.hs:logServerStats, savePrometheusMetrics, saveServerStats): the
 * daily CSV at 00:00 UTC, the Prometheus file every `prometheus_interval` seconds (written to a
 * temporary file and renamed, so readers never see half of it), the optional HTTP endpoint, and
 * the counters' persistence. Everything here is optional: a failure is logged and SMP goes on.
 */
import { appendFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { log } from "../../util/log.ts";
import type { MonitorOptions } from "../options.ts";
import type { SmpServer } from "../server.ts";
import { TimeBuckets } from "../stats.ts";
import { readStats, type StatsData } from "./data.ts";
import { DAILY_FILE, dailyLine, msUntilDailyWrite, resetDaily, rollPeriods } from "./daily.ts";
import type { MetricsHttp } from "./http.ts";
import { clusterMetricsText, clusterView, nodeFigures, NodeStatsPublisher, type ClusterView } from "./node-stats.ts";
import { renamedNodeWarning, restoreStats, saveStats } from "./persist.ts";
import { renderMetrics, type RealTimeData, type SubscriberData } from "./prometheus.ts";
import { EventLoopMonitor, runtimeFigures, runtimeMetricsText, type NamesResolverState, type RuntimeFigures } from "./runtime.ts";

export const METRICS_FILE = "smp-server-metrics.txt";

/**
 * A node's own file when several nodes on this machine share the data directory:
 * "smp-server-metrics.txt" → "smp-server-metrics.node2.txt".
 */
export function nodeFileName(file: string, node: { index: number; count: number } | undefined): string {
  if (node === undefined || node.count <= 1) return file;
  const dot = file.lastIndexOf(".");
  return `${file.slice(0, dot)}.node${node.index}${file.slice(dot)}`;
}
const SAVE_INTERVAL_MS = 3600_000;

/** Per listener port (Transport/Server.hs:SocketStats). */
export class SocketCounters {
  accepted = 0;
  closed = 0;
  /** Known once the listener is bound (port 0 in tests). */
  port = 0;
}

export class Monitor {
  readonly loop = new EventLoopMonitor();
  private readonly timers: (ReturnType<typeof setTimeout> | undefined)[] = [];
  private http: MetricsHttp | null = null;
  private daily: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private publisher: NodeStatsPublisher | null = null;

  constructor(
    private readonly srv: SmpServer,
    private readonly dataDir: string,
    readonly options: MonitorOptions,
    private readonly sockets: readonly SocketCounters[],
    private readonly openConnections: () => number,
  ) {}

  /** Restores the saved counters; call before accepting connections. */
  async restore(): Promise<void> {
    const renamed = await renamedNodeWarning(this.srv.store, this.srv.options.node).catch(() => null);
    if (renamed !== null) log.warn(renamed);
    const problem = await restoreStats(this.srv.store, this.srv.stats, this.srv.namesStats, this.srv.options.node);
    if (problem !== null) log.warn(problem);
  }

  async start(): Promise<void> {
    this.loop.start();
    this.scheduleDaily();
    const o = this.options;
    if (o.logStats) log.info(`server stats log enabled: ${this.file(DAILY_FILE)}`);
    const cluster = this.srv.store.cluster;
    const node = this.srv.options.node;
    if (cluster !== undefined && node !== undefined) {
      this.publisher = new NodeStatsPublisher(cluster, node.name, async (running) => nodeFigures(await this.statsData(), node, running ? this.gauges() : null));
      this.publisher.start();
    }
    if (o.prometheusIntervalSeconds !== undefined) {
      log.info(`Prometheus metrics saved every ${o.prometheusIntervalSeconds} seconds to ${this.file(METRICS_FILE)}`);
      this.every(o.prometheusIntervalSeconds * 1000, () => this.writeMetricsFile());
    }
    // Hourly only the small counters: the active-queue sets are megabytes on a large server.
    this.every(SAVE_INTERVAL_MS, () => this.save(false));
    if (o.http !== undefined) {
      try {
        // Loaded only when configured: an idle server holds only the code it uses.
        const { startMetricsHttp } = await import("./http.ts");
        this.http = startMetricsHttp(o.http, () => this.metricsText());
        log.info(`Prometheus metrics served at http://${o.http.host}:${this.http.port}/metrics`);
      } catch (e) {
        log.error(`Prometheus HTTP endpoint not started (${o.http.host}:${o.http.port}): ${(e as Error).message}; SMP runs without it`);
      }
    }
  }

  /** This node's file in the data directory (nodeFileName). */
  private file(name: string): string {
    return join(this.dataDir, nodeFileName(name, this.srv.options.node));
  }

  private gauges(): { clients: number; smpSubs: number; ntfSubs: number } {
    const s = this.srv.subscribers;
    return { clients: this.srv.clients.size, smpSubs: s.counts("rcv").queues, ntfSubs: s.counts("ntf").queues };
  }

  /** Publishes this node's figures now (control port `save`), when it is a node of several. */
  async publishNodeStats(): Promise<void> {
    await this.publisher?.publish(true);
  }

  /** Every node's last published figures and the totals; null without a cluster (SQLite). */
  async cluster(now = Date.now()): Promise<ClusterView | null> {
    const cluster = this.srv.store.cluster;
    const node = this.srv.options.node;
    if (cluster === undefined || node === undefined) return null;
    // This node's own row as of now, so that its figures and the totals agree.
    const own = { node: node.name, updatedAt: Math.floor(now / 1000), json: JSON.stringify(nodeFigures(await this.statsData(), node, this.gauges())) };
    const rows = (await cluster.nodeStats()).filter((r) => r.node !== node.name);
    return clusterView([...rows, own].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0)), now);
  }

  get httpPort(): number | null {
    return this.http?.port ?? null;
  }

  /** Runs `f` every `ms`, the next run timed from the end of the last one: runs never overlap. */
  private every(ms: number, f: () => Promise<void>): void {
    const slot = this.timers.length;
    const next = () => {
      if (this.stopped) return;
      const t = setTimeout(() => {
        void f()
          .catch((e) => log.error(`statistics: ${(e as Error).message}`))
          .finally(next);
      }, ms);
      t.unref?.();
      this.timers[slot] = t;
    };
    this.timers.push(undefined);
    next();
  }

  private scheduleDaily(): void {
    if (this.stopped) return;
    this.daily = setTimeout(() => {
      this.writeDaily(new Date())
        .catch((e) => log.error(`daily statistics: ${(e as Error).message}`))
        .finally(() => this.scheduleDaily());
    }, msUntilDailyWrite(Date.now()));
    this.daily.unref?.();
  }

  async statsData(): Promise<StatsData> {
    return readStats(this.srv.stats, this.srv.namesStats, await this.srv.store.stats());
  }

  realTime(): RealTimeData {
    const srv = this.srv;
    const now = Math.floor(Date.now() / 1000);
    const times = new TimeBuckets();
    let subs = 0;
    let clients = 0;
    for (const c of srv.clients) {
      let n = 0;
      for (const s of c.subs.values()) {
        if (s.delivered === null) continue;
        n++;
        times.add(now - s.delivered.ts);
      }
      subs += n;
      if (n > 0) clients++;
    }
    const subscribers = (side: "rcv" | "ntf"): SubscriberData => {
      const n = srv.subscribers.counts(side);
      return { subs: n.queues, clients: n.clients, services: n.services, serviceSubs: srv.subscribers.totalServiceSubs(side).count };
    };
    return {
      sockets: this.sockets.map((s) => {
        const active = s.accepted - s.closed;
        return { port: String(s.port), accepted: s.accepted, closed: s.closed, active, leaked: 0 };
      }),
      // One JavaScript thread runs every connection.
      threads: 1,
      clients: srv.clients.size,
      delivered: { subs, clients, times },
      smpSubs: subscribers("rcv"),
      ntfSubs: subscribers("ntf"),
      version: this.options.version,
      rtsOptions: process.env.SMP_RTS_OPTIONS ?? "set SMP_RTS_OPTIONS",
    };
  }

  /** The names role's state, without the heap walk of `runtime()` (control port `server-info`). */
  namesResolver(): NamesResolverState {
    return this.srv.names === undefined ? "off" : this.srv.namesStats.resolverDown === 1 ? "down" : "up";
  }

  runtime(): RuntimeFigures {
    return runtimeFigures(this.openConnections(), this.srv.clients.size, this.namesResolver());
  }

  /** The reference's text followed by ours (file and HTTP alike). */
  async metricsText(now = Date.now()): Promise<string> {
    const text = renderMetrics(await this.statsData(), this.realTime(), now);
    const node = this.srv.options.node;
    const cluster = node === undefined ? "" : clusterMetricsText(node, await this.cluster(now).catch(() => null));
    return text + runtimeMetricsText(this.runtime(), this.loop, this.srv.stats.commitTimes) + cluster;
  }

  async writeMetricsFile(now = Date.now()): Promise<void> {
    const file = this.file(METRICS_FILE);
    const tmp = `${file}.tmp`;
    await writeFile(tmp, await this.metricsText(now), { mode: 0o640 });
    await rename(tmp, file);
  }

  /**
   * The midnight step of Server.hs:logServerStats: the CSV line, then the resets. Without
   * log_stats the reference never resets anything; here the day's block quota (qBlocked) and the
   * active-queue periods still roll, so the quota stays daily and the sets do not grow forever.
   */
  async writeDaily(now: Date): Promise<void> {
    const s = this.srv.stats;
    const data = await this.statsData();
    const p = rollPeriods(s.activeQueues, now);
    const pNtf = rollPeriods(s.activeQueuesNtf, now);
    if (this.options.logStats) {
      resetDaily(s, this.srv.namesStats, now);
      await appendFile(this.file(DAILY_FILE), `${dailyLine(data, p, pNtf)}\n`, { mode: 0o640 });
    } else s.qBlocked = 0;
    await this.save();
  }

  /** The counters, and with `periods` (stop, `save`, the daily write) the active-queue sets. */
  async save(periods = true): Promise<void> {
    if (!this.srv.options.store.persistent) return;
    await saveStats(this.srv.store, this.srv.stats, this.srv.namesStats, periods, this.srv.options.node);
  }

  /** Stops the timers and saves the counters (before the store closes). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.daily);
    for (const t of this.timers) clearTimeout(t);
    this.loop.stop();
    this.http?.stop();
    await this.publisher?.stop();
    try {
      await this.save();
    } catch (e) {
      log.error(`statistics not saved: ${(e as Error).message}`);
    }
  }
}
