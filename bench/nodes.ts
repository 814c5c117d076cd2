/**
 * Several nodes (issue 18): messages/s and CPU per message with 1, 2, … real node processes on
 * one PostgreSQL schema, each node on its own port (as separate machines would be), the load
 * generator's connections spread over them (bench/clients/load.ts with several addresses: pair i
 * sends through node i and receives through node i + 1, so with 2+ nodes every message crosses
 * nodes). SEND signed, MSG acknowledged, 16 KB bodies, as `npm run bench`'s pipelined shape.
 *
 * The generator's latency (SEND → the recipient's MSG) under that load is given as p50/p99.
 *
 * Then, the load stopped, a latency phase (bench/clients/latency.ts): one message at a time
 * (SEND, wait for the MSG, ACK), --rounds rounds on each path, the paths taking turns: recipient
 * on the SAME node as the sender (node 1 → node 1) and, with 2+ nodes, on ANOTHER node
 * (node 1 → node 2). Delivery latency (SEND → MSG) p50/p90/p99 for each, and what crossing nodes
 * adds at p50 (`cross_added_p50_ms`; issue 18's target: ≤ 10 ms on loopback).
 *
 *   bun bench/nodes.ts [--nodes 1,2] [--source] [--seconds 10] [--warmup 3] [--clients 1]
 *                      [--pairs 4] [--queues 8] [--window 2] [--body 16048] [--rounds 300]
 *
 * CPU is read from /proc for every process involved, per message delivered:
 *  - nodes: all threads of every node process (`cpu_us_per_msg_N`);
 *  - generator: the load workers' own CPU (`gen_cpu_us_per_msg_N`), shown apart — on this machine
 *    it shares the cores with the nodes;
 *  - PostgreSQL: the backends serving the nodes' connections (found from the nodes' sockets and
 *    pg_stat_activity, `pg_cpu_us_per_msg_N`), and all postgres processes (WAL writer,
 *    checkpointer … and any other user of the same cluster).
 * Needs SMP_BENCH_PG_URI or SMP_TEST_PG_URI (scripts/pg-test-cluster.sh). Prints a table on
 * stderr and one BENCH line on stdout.
 */
import { SQL } from "bun";
import { cpSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { flag, numberArg, stringArg } from "./lib/args.ts";
import { BODY, CLIENTS, PAIRS, QUEUES, SECONDS, WARMUP, WINDOW } from "./lib/load-args.ts";
import { all, Worker } from "./lib/child.ts";
import { Histogram } from "./lib/histogram.ts";
import { benchSchema, dropBenchSchema, type BenchPostgres } from "./lib/postgres.ts";
import { cpuModel, machineBusyNs, processesCpuNs } from "./lib/proc.ts";
import { ensureBinary, freePort, initServer, removeServerDirs, ROOT, ServerProcess, type ServerSpec } from "./lib/server.ts";

const NODES = stringArg("nodes", "1,2").split(",").map(Number);
/** Rounds of the latency phase, on each path. */
const ROUNDS = numberArg("rounds", 300);

const log = (s: string): void => void process.stderr.write(`bench: ${s}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const split = (total: number, parts: number): number[] => Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0));

/** Node i > 1: a copy of node 1's configuration (same identity) on its own port and data directory. */
function nodeSpec(first: ServerSpec, i: number): ServerSpec {
  if (i === 1) return first;
  const configDir = `${first.configDir}-${i}`;
  cpSync(first.configDir, configDir, { recursive: true });
  const port = freePort();
  const file = join(configDir, "smp-server.toml");
  writeFileSync(file, readFileSync(file, "utf8").replace(/^port = .*$/m, `port = [${port}]`));
  return { ...first, configDir, dataDir: `${first.dataDir}-${i}`, port, address: first.address.replace(/:\d+$/, `:${port}`) };
}

/** Names each "machine" where the configuration has [NODES] (the control port shows it). */
function nameMachine(spec: ServerSpec, i: number): void {
  const file = join(spec.configDir, "smp-server.toml");
  writeFileSync(file, readFileSync(file, "utf8").replace(/^\[NODES\]\n/m, `[NODES]\nname = "machine${i}"\n`));
}

/** Local ports of the TCP connections `pids` hold to `port` (/proc/<pid>/fd socket inodes ↔ /proc/net/tcp*). */
function localPortsTo(pids: number[], port: number): Set<number> {
  const inodes = new Set<string>();
  for (const pid of pids) {
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m !== null) inodes.add(m[1]!);
      } catch {
        // closed meanwhile
      }
    }
  }
  const out = new Set<number>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const local = parseInt(f[1]!.split(":")[1]!, 16);
      const remote = parseInt(f[2]!.split(":")[1]!, 16);
      if (remote === port && inodes.has(f[9]!)) out.add(local);
    }
  }
  return out;
}

/** PostgreSQL backend pids serving the nodes' connections. */
async function backendsOf(pg: BenchPostgres, nodePids: number[]): Promise<number[]> {
  const pgPort = Number(new URL(pg.uri).port || 5432);
  const ports = localPortsTo(nodePids, pgPort);
  const sql = new SQL(pg.uri, { max: 1 });
  try {
    const rows = (await sql`SELECT pid, client_port FROM pg_stat_activity WHERE client_port IS NOT NULL`) as { pid: number; client_port: number }[];
    return rows.filter((r) => ports.has(r.client_port)).map((r) => r.pid);
  } finally {
    await sql.close();
  }
}

/** Every process named "postgres" (the cluster's postmaster, backends and auxiliary processes). */
function postgresPids(): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, "utf8").trim() === "postgres") out.push(Number(d));
    } catch {
      // gone
    }
  }
  return out;
}

/** Delivery latency percentiles, ms. */
interface Latency {
  p50: number;
  p90: number;
  p99: number;
  /** p50 of the whole round trip (until the ACK is answered). */
  ackedP50: number;
}

const latency = (delivered: Histogram, acked: Histogram): Latency => ({
  p50: delivered.percentile(50),
  p90: delivered.percentile(90),
  p99: delivered.percentile(99),
  ackedP50: acked.percentile(50),
});

/** One message at a time on each path, node 1 → node 1 and, with 2+ nodes, node 1 → node 2. */
async function latencyPhase(specs: ServerSpec[]): Promise<{ same: Latency; cross: Latency | null }> {
  const paths = [specs[0]!.address, specs[0]!.address];
  if (specs.length > 1) paths.push(specs[0]!.address, specs[1]!.address);
  const w = Worker.spawn("latency", join(ROOT, "bench/clients/latency.ts"), [String(ROUNDS), String(BODY), ...paths]);
  try {
    const r = await w.next<{ delivered: number[][]; acked: number[][] }>();
    const at = (i: number): Latency => latency(new Histogram(r.delivered[i]), new Histogram(r.acked[i]));
    return { same: at(0), cross: specs.length > 1 ? at(1) : null };
  } finally {
    await w.stop();
  }
}

interface Result {
  nodes: number;
  rate: number;
  delivered: number;
  /** µs per delivered message. */
  nodeUs: number;
  genUs: number;
  pgBackendUs: number;
  pgAllUs: number;
  /** Cores busy, on average over the window: nodes, generator, PostgreSQL (all), other processes. */
  nodeCores: number;
  genCores: number;
  pgCores: number;
  otherCores: number;
  backends: number;
  /** The generator's SEND → MSG latency under the load, ms. */
  loadP50: number;
  loadP99: number;
  same: Latency;
  cross: Latency | null;
}

async function run(command: string[], n: number): Promise<Result> {
  const pg = await benchSchema();
  const first = initServer(command, 1000, true, pg);
  const specs = Array.from({ length: n }, (_, i) => nodeSpec(first, i + 1));
  specs.forEach(nameMachine);
  const servers: ServerProcess[] = [];
  let workers: Worker[] = [];
  try {
    // Node 1 alone first (it creates the tables), then the others.
    servers.push(await ServerProcess.start(specs[0]!, { gcLog: false }));
    servers.push(...(await Promise.all(specs.slice(1).map((s) => ServerProcess.start(s, { gcLog: false })))));
    const addresses = specs.map((s) => s.address).join("|");
    workers = split(PAIRS, CLIENTS).map((k, i) =>
      Worker.spawn(`load-${i}`, join(ROOT, "bench/clients/load.ts"), [addresses, String(k), String(QUEUES), String(WINDOW), String(BODY)]),
    );
    await all(workers);
    for (const w of workers) w.send("go");
    await sleep(WARMUP * 1000);
    const nodePids = servers.map((s) => s.pid);
    const backends = await backendsOf(pg, nodePids);
    const pgAll = postgresPids();
    const ours = [process.pid, ...nodePids, ...workers.map((w) => w.pid), ...pgAll];
    const busy0 = machineBusyNs() - processesCpuNs(ours);
    const node0 = processesCpuNs(nodePids);
    const back0 = processesCpuNs(backends);
    const pg0 = processesCpuNs(pgAll);
    const t0 = performance.now();
    for (const w of workers) w.send("mark");
    await sleep(SECONDS * 1000);
    for (const w of workers) w.send("stop");
    const wall = (performance.now() - t0) / 1000;
    const nodeNs = processesCpuNs(nodePids) - node0;
    const backNs = processesCpuNs(backends) - back0;
    const pgNs = processesCpuNs(pgAll) - pg0;
    const otherNs = machineBusyNs() - processesCpuNs(ours) - busy0;
    const rs = await all<{ delivered: number; seconds: number; cpuMs: number; hist: number[] }>(workers);
    const delivered = rs.reduce((a, r) => a + r.delivered, 0);
    const loadHist = new Histogram();
    for (const r of rs) loadHist.merge(new Histogram(r.hist));
    // The latency phase runs on idle nodes: the load's queues may still hold messages in flight.
    await Promise.all(workers.map((w) => w.stop()));
    workers = [];
    await sleep(1000); // the nodes finish delivering what was in flight
    const { same, cross } = await latencyPhase(specs);
    const genNs = rs.reduce((a, r) => a + r.cpuMs * 1e6, 0);
    const per = (ns: number): number => ns / 1000 / Math.max(1, delivered);
    return {
      nodes: n,
      rate: rs.reduce((a, r) => a + r.delivered / r.seconds, 0),
      delivered,
      nodeUs: per(nodeNs),
      genUs: per(genNs),
      pgBackendUs: per(backNs),
      pgAllUs: per(pgNs),
      nodeCores: nodeNs / 1e9 / wall,
      genCores: genNs / 1e9 / wall,
      pgCores: pgNs / 1e9 / wall,
      otherCores: Math.max(0, otherNs) / 1e9 / wall,
      backends: backends.length,
      loadP50: loadHist.percentile(50),
      loadP99: loadHist.percentile(99),
      same,
      cross,
    };
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await Promise.all(servers.map((s) => s.stop()));
    for (const s of specs) removeServerDirs(s);
    await dropBenchSchema(pg);
  }
}

const command = flag("source") ? [process.execPath, join(ROOT, "src/cli/main.ts")] : [ensureBinary("x64", log)];
log(
  `${cpus().length} × ${cpuModel()}; load average ${loadavg()
    .map((x) => x.toFixed(2))
    .join(" ")}; ${PAIRS} pairs × ${QUEUES} queues × ${WINDOW} in flight, ${BODY} B bodies, ${CLIENTS} generator process(es); ${WARMUP} s warm-up, ${SECONDS} s measured per node count; then ${ROUNDS} rounds one message at a time per latency path`,
);
const ms = (l: Latency): string => `p50 ${l.p50.toFixed(2)} ms, p90 ${l.p90.toFixed(2)} ms, p99 ${l.p99.toFixed(2)} ms (round trip with the ACK: p50 ${l.ackedP50.toFixed(2)} ms)`;
const results: Result[] = [];
for (const n of NODES) {
  const r = await run(command, n);
  results.push(r);
  log(
    `${n} node${n > 1 ? "s" : ""}: ${r.rate.toFixed(0)} msgs/s; CPU per message: nodes ${r.nodeUs.toFixed(0)} µs, generator ${r.genUs.toFixed(0)} µs, ` +
      `PostgreSQL backends of the nodes ${r.pgBackendUs.toFixed(0)} µs (${r.backends} backends), all postgres processes ${r.pgAllUs.toFixed(0)} µs; ` +
      `cores busy: nodes ${r.nodeCores.toFixed(2)}, generator ${r.genCores.toFixed(2)}, postgres ${r.pgCores.toFixed(2)}, other processes ${r.otherCores.toFixed(2)}; ` +
      `latency under this load SEND → MSG p50 ${r.loadP50.toFixed(2)} ms, p99 ${r.loadP99.toFixed(2)} ms`,
  );
  log(`  one message at a time, SEND → MSG, recipient on the same node: ${ms(r.same)}`);
  if (r.cross !== null) log(`  one message at a time, SEND → MSG, recipient on another node: ${ms(r.cross)}; added at p50 ${(r.cross.p50 - r.same.p50).toFixed(2)} ms`);
  log(`  load average now ${loadavg()[0]!.toFixed(2)}`);
}
const firstCross = results.find((r) => r.cross !== null);
const f = (x: number, d: number): string => x.toFixed(d);
console.log(
  "BENCH nodes " +
    results
      .map((r) =>
        [
          `msgs_per_s_${r.nodes}=${f(r.rate, 0)}`,
          `cpu_us_per_msg_${r.nodes}=${f(r.nodeUs, 0)}`,
          `gen_cpu_us_per_msg_${r.nodes}=${f(r.genUs, 0)}`,
          `pg_cpu_us_per_msg_${r.nodes}=${f(r.pgBackendUs, 0)}`,
          `pg_all_cpu_us_per_msg_${r.nodes}=${f(r.pgAllUs, 0)}`,
          `other_cores_${r.nodes}=${f(r.otherCores, 2)}`,
          `load_p50_ms_${r.nodes}=${f(r.loadP50, 2)}`,
          `load_p99_ms_${r.nodes}=${f(r.loadP99, 2)}`,
          `same_p50_ms_${r.nodes}=${f(r.same.p50, 2)}`,
          `same_p90_ms_${r.nodes}=${f(r.same.p90, 2)}`,
          `same_p99_ms_${r.nodes}=${f(r.same.p99, 2)}`,
          ...(r.cross === null
            ? []
            : [
                `cross_p50_ms_${r.nodes}=${f(r.cross.p50, 2)}`,
                `cross_p90_ms_${r.nodes}=${f(r.cross.p90, 2)}`,
                `cross_p99_ms_${r.nodes}=${f(r.cross.p99, 2)}`,
                `cross_added_p50_ms_${r.nodes}=${f(r.cross.p50 - r.same.p50, 2)}`,
              ]),
        ].join(" "),
      )
      .join(" ") +
    // the first multi-node run's figure, under a fixed name for trend tracking
    (firstCross === undefined ? "" : ` cross_added_p50_ms=${f(firstCross.cross!.p50 - firstCross.same.p50, 2)}`),
);
