/**
 * What the reference cannot report and an operator of a small board needs: event-loop lag (which
 * includes garbage-collection pauses — JavaScriptCore exposes no GC events to Bun programs),
 * heap and resident memory, open connections and the store's commit times. Appended to the
 * Prometheus text after the reference's metrics, under names of our own (`smp_server_*`), and
 * printed by the control port's `stats-rts`.
 */
import { heapStats } from "bun:jsc";
import { Histogram } from "../stats.ts";

const LAG_SAMPLE_MS = 500;

/** Samples event-loop lag: how late a 500 ms timer fires. */
export class EventLoopMonitor {
  readonly lag = new Histogram([0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]);
  maxLagSeconds = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  private expected = 0;

  start(): void {
    this.expected = performance.now() + LAG_SAMPLE_MS;
    this.timer = setInterval(() => {
      const now = performance.now();
      const lag = Math.max(0, now - this.expected) / 1000;
      this.expected = now + LAG_SAMPLE_MS;
      this.lag.observe(lag);
      if (lag > this.maxLagSeconds) this.maxLagSeconds = lag;
    }, LAG_SAMPLE_MS);
    this.timer.unref?.();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

export interface RuntimeFigures {
  rssBytes: number;
  heapBytes: number;
  heapCapacityBytes: number;
  objectCount: number;
  uptimeSeconds: number;
  openConnections: number;
  clients: number;
  /** The names role's resolver (an optional role degrades instead of stopping SMP). */
  namesResolver: NamesResolverState;
}

export type NamesResolverState = "off" | "up" | "down";

export function runtimeFigures(openConnections: number, clients: number, namesResolver: NamesResolverState): RuntimeFigures {
  const h = heapStats();
  return {
    rssBytes: process.memoryUsage.rss(),
    heapBytes: h.heapSize,
    heapCapacityBytes: h.heapCapacity,
    objectCount: h.objectCount,
    uptimeSeconds: Math.floor(process.uptime()),
    openConnections,
    clients,
    namesResolver,
  };
}

function histogramText(name: string, help: string, h: Histogram): string {
  let out = `# HELP ${name} ${help}\n# TYPE ${name} histogram\n`;
  let cum = 0;
  for (let i = 0; i < h.bounds.length; i++) {
    cum += h.counts[i]!;
    out += `${name}_bucket{le="${h.bounds[i]}"} ${cum}\n`;
  }
  return out + `${name}_bucket{le="+Inf"} ${h.count}\n${name}_sum ${h.sum}\n${name}_count ${h.count}\n\n`;
}

const gauge = (name: string, help: string, v: number) => `# HELP ${name} ${help}\n# TYPE ${name} gauge\n${name} ${v}\n\n`;

/** Our metrics, in standard Prometheus form (no timestamps: the scrape time applies). */
export function runtimeMetricsText(f: RuntimeFigures, loop: EventLoopMonitor, commits: Histogram): string {
  return (
    "\n\n# Runtime (this server; not in the reference)\n# ----\n\n" +
    gauge("process_resident_memory_bytes", "Resident memory size in bytes.", f.rssBytes) +
    gauge("smp_server_heap_bytes", "JavaScript heap in use, bytes.", f.heapBytes) +
    gauge("smp_server_heap_capacity_bytes", "JavaScript heap capacity, bytes.", f.heapCapacityBytes) +
    gauge("smp_server_heap_objects", "Live JavaScript objects.", f.objectCount) +
    gauge("smp_server_uptime_seconds", "Seconds since the process started.", f.uptimeSeconds) +
    gauge("smp_server_open_connections", "Open SMP connections, counted from TCP accept (TLS setup and SMP handshake included).", f.openConnections) +
    gauge("smp_server_clients", "Connections past the SMP handshake.", f.clients) +
    (f.namesResolver === "off" ? "" : gauge("smp_server_names_resolver_down", "1 while the names role's resolver cannot be reached (RSLV answers ERR NAME RESOLVER; messaging is unaffected).", f.namesResolver === "down" ? 1 : 0)) +
    histogramText("smp_server_event_loop_lag_seconds", "How late a 500 ms timer fired (includes GC pauses).", loop.lag) +
    histogramText("smp_server_store_commit_seconds", "Time of the store's group commits before responses are written.", commits).slice(0, -1)
  );
}

/** `stats-rts`: the same figures as `name: value` lines. */
export function runtimeLines(f: RuntimeFigures, loop: EventLoopMonitor, commits: Histogram): string[] {
  const mean = (h: Histogram) => (h.count === 0 ? 0 : h.sum / h.count);
  return [
    `rss: ${f.rssBytes}`,
    `heapSize: ${f.heapBytes}`,
    `heapCapacity: ${f.heapCapacityBytes}`,
    `objectCount: ${f.objectCount}`,
    `uptimeSeconds: ${f.uptimeSeconds}`,
    `openConnections: ${f.openConnections}`,
    `clients: ${f.clients}`,
    `namesResolver: ${f.namesResolver}`,
    `eventLoopLagMaxSeconds: ${loop.maxLagSeconds}`,
    `eventLoopLagMeanSeconds: ${mean(loop.lag)}`,
    `storeCommits: ${commits.count}`,
    `storeCommitMeanSeconds: ${mean(commits)}`,
    "gc: not exposed by the runtime (pauses show as event-loop lag)",
  ];
}
