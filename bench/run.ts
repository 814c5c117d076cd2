/**
 * The benchmark suite in one run (`npm run bench`, i.e. `bun bench/run.ts`):
 *
 *  1. idle: the server process alone, then holding --idle connections (TLS + SMP handshake):
 *     RSS idle and memory per idle connection;
 *  2. echo: the ceiling — a TLS echo of 16 KB blocks through the same TLS stack (bench/echo-server.ts);
 *  3. load: SMP v20 with encrypted blocks, K senders → K recipients, SEND/MSG/ACK, in two shapes:
 *     "pipelined" (--queues per pair, --window messages in flight per queue, --body bytes) and
 *     "inflight" (one queue per pair, --inflight messages in flight per sender, --size bytes: as
 *     phones send). Messages/s, latency, server CPU per message, RSS and GC share under load;
 *  4. floor: the CPU a delivered message cannot avoid (bench/lib/floor.ts), measured in this
 *     process between the load rounds, for both shapes' sizes: cpu_over_floor = server CPU per
 *     message ÷ floor;
 *  5. rtt: unloaded round trip — one sender, one recipient, one queue, one message at a time,
 *     SEND → MSG → ACK, for a short and a --body message (--rtt-seconds each);
 *  6. subs: one client subscribes --sub-queues queues (created in the store before the server
 *     starts): SUBs/s and server CPU per SUB;
 *  7. store: bench/store.ts figures.
 *
 * The server runs as its own process: dist/smp-server-linux-x64 (built when missing or older
 * than src/), or `bun src/cli/main.ts` with --source. Load comes from worker processes
 * (bench/clients/*.ts) over the real client library. Prints a table, then one BENCH line.
 *
 *   bun bench/run.ts [--source | --source-dir DIR] [--rounds 3] [--seconds 10] [--warmup 3] [--clients 1] [--pairs 4] [--queues 8]
 *                    [--window 2] [--body 16048] [--inflight 1] [--size 15000] [--idle 10000]
 *                    [--store-queues 100000] [--sub-queues 100000] [--rtt-seconds 5]
 *                    [--skip idle,echo,load,inflight,floor,rtt,subs,store] [--no-gc-log] [--memory-store]
 *                    [--profile DIR] [--json FILE] [--store sqlite|postgres]
 *
 * --clients: load worker processes (the pairs are split among them); on a 2-core machine one
 * keeps the server on its own core. --profile DIR: the server runs from source under
 * `bun --cpu-prof` (read the result with bench/profile-top.ts). --memory-store: queues and
 * messages in memory (tells storage cost from the rest). --rounds: echo, the load shapes and the
 * floor run alternately this many times; the table gives medians and the ratio of each round.
 * Defaults take about 4 minutes.
 * --store postgres: the server's queues and messages in PostgreSQL (SMP_BENCH_PG_URI, else
 * SMP_TEST_PG_URI — scripts/pg-test-cluster.sh prints one), in a fresh schema dropped at the end;
 * the store phase (bench/store.ts) then measures the PostgreSQL store too.
 */
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { all, Worker } from "./lib/child.ts";
import { measureFloor, type Floor } from "./lib/floor.ts";
import { createSubQueues } from "./lib/sub-queues.ts";
import { DB_FILE } from "../src/server/index.ts";
import { Histogram } from "./lib/histogram.ts";
import { cpuModel, currentFdLimit, fdCount, machineBusyNs, memory, processesCpuNs, raiseFdLimit, threadCpu, type ThreadCpu } from "./lib/proc.ts";
import { benchSchema, dropBenchSchema } from "./lib/postgres.ts";
import { ensureBinary, initServer, removeServerDirs, ROOT, ServerProcess, type ServerSpec } from "./lib/server.ts";
import { flag, numberArg, stringArg } from "./lib/args.ts";
import { BODY, CLIENTS, PAIRS, QUEUES, SECONDS, WARMUP, WINDOW } from "./lib/load-args.ts";

// ---------------------------------------------------------------- options

const INFLIGHT = numberArg("inflight", 1);
const SIZE = numberArg("size", 15000);
const SUB_QUEUES = numberArg("sub-queues", 100000);
let IDLE = numberArg("idle", 10000);
const STORE_QUEUES = numberArg("store-queues", 100000);
const RTT_SECONDS = numberArg("rtt-seconds", 5);
const RTT_SHORT = 100; // a short message: roughly a chat line
const GC_LOG = !flag("no-gc-log");
const skipArg = stringArg("skip", "");
const skip = new Set(skipArg.split(",").filter((s) => s !== ""));
const jsonOut = stringArg("json", "") || undefined;
const PROFILE = stringArg("profile", "") || undefined;
// Echo and load alternate, ROUNDS times each: this machine's speed drifts by ±15–25 % over minutes,
// so medians of interleaved rounds (and the ratio per round) say more than one long run of each.
const ROUNDS = numberArg("rounds", PROFILE === undefined ? 3 : 1);

const log = (s: string): void => void process.stderr.write(`bench: ${s}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const mb = (kb: number): number => kb / 1024;
const split = (total: number, parts: number): number[] => Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0));

// ---------------------------------------------------------------- results

const R: Record<string, number | string> = {};
const rows: [string, string][] = [];
function row(label: string, value: string): void {
  rows.push([label, value]);
  log(`${label}: ${value}`);
}

// ---------------------------------------------------------------- phases

/** --profile DIR: the server runs from source under Bun's sampling profiler (one file per phase). */
function profiled(spec: ServerSpec): ServerSpec {
  if (PROFILE === undefined) return spec;
  return { ...spec, command: [process.execPath, "--cpu-prof", "--cpu-prof-md", `--cpu-prof-dir=${PROFILE}`, join(ROOT, "src/cli/main.ts")] };
}

async function idlePhase(spec: ServerSpec): Promise<void> {
  const server = await ServerProcess.start(profiled(spec), { gcLog: false });
  try {
    await sleep(2000);
    const idle = memory(server.pid);
    R.rss_idle_mb = mb(idle.rssKb);
    row("RSS idle", `${mb(idle.rssKb).toFixed(1)} MB (anon ${mb(idle.anonKb).toFixed(1)}, file-backed ${mb(idle.fileKb).toFixed(1)})`);
    if (skip.has("idle") || IDLE <= 0) return;

    const before = memory(server.pid);
    const fds0 = fdCount(server.pid);
    const workers = split(IDLE, 2).map((n, i) => Worker.spawn(`idle-${i}`, join(ROOT, "bench/clients/idle.ts"), [spec.address, String(n), "32"]));
    try {
      const t0 = performance.now();
      const rs = await all<{ opened: number; seconds: number }>(workers);
      const opened = rs.reduce((a, r) => a + r.opened, 0);
      const secs = (performance.now() - t0) / 1000;
      row("idle connections opened", `${opened} in ${secs.toFixed(1)} s (${(opened / secs).toFixed(0)} handshakes/s, 2 client processes)`);
      await sleep(3000); // let the server's GC settle
      const after = memory(server.pid);
      const held = fdCount(server.pid) - fds0;
      const kb = (after.rssKb - before.rssKb) / opened;
      R.kb_per_conn = kb;
      R.rss_conns_mb = mb(after.rssKb);
      row(`RSS with ${opened} idle connections`, `${mb(after.rssKb).toFixed(1)} MB (+${mb(after.rssKb - before.rssKb).toFixed(1)} MB, ${held} sockets held): ${kb.toFixed(1)} KB per connection`);
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
    }
  } finally {
    await server.stop();
  }
}

interface EchoRound {
  rate: number;
  cpuUsPerBlock: number;
  serverCpu: number;
}

async function echoRound(): Promise<EchoRound> {
  const echoServer = Worker.spawn("echo-server", join(ROOT, "bench/echo-server.ts"), []);
  const { port } = await echoServer.next<{ port: number }>();
  const workers = split(4, CLIENTS).map((n, i) => Worker.spawn(`echo-${i}`, join(ROOT, "bench/clients/echo.ts"), [String(port), String(Math.max(1, n)), "8"]));
  try {
    await all(workers);
    for (const w of workers) w.send("go");
    await sleep(WARMUP * 1000);
    const cpu0 = threadCpu(echoServer.pid);
    for (const w of workers) w.send("mark");
    await sleep(SECONDS * 1000);
    for (const w of workers) w.send("stop");
    const cpu1 = threadCpu(echoServer.pid);
    const rs = await all<{ echoed: number; seconds: number; cpuMs: number }>(workers);
    const rate = rs.reduce((a, r) => a + r.echoed / r.seconds, 0);
    const echoed = rs.reduce((a, r) => a + r.echoed, 0);
    const r = { rate, cpuUsPerBlock: (cpu1.totalNs - cpu0.totalNs) / 1000 / echoed, serverCpu: (cpu1.totalNs - cpu0.totalNs) / 1e9 / SECONDS };
    log(`echo round: ${rate.toFixed(0)} blocks/s`);
    return r;
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await echoServer.stop();
  }
}

/** A load shape: PAIRS senders → PAIRS recipients, `queues` per pair, `window` in flight per queue. */
interface Shape {
  /** Key suffix in the BENCH line ("" for the pipelined shape, "_1" for one in flight). */
  readonly key: string;
  readonly label: string;
  readonly queues: number;
  readonly window: number;
  readonly body: number;
}

const PIPELINED: Shape = { key: "", label: "pipelined", queues: QUEUES, window: WINDOW, body: BODY };
// One queue per pair: the sender's next SEND leaves when the recipient gets the previous MSG.
const ONE_IN_FLIGHT: Shape = { key: "_1", label: "one in flight", queues: 1, window: INFLIGHT, body: SIZE };

interface LoadRound {
  queues: number;
  rate: number;
  delivered: number;
  hist: Histogram;
  cpuUs: number;
  mainUs: number;
  gcUs: number;
  /** gcUs with the pauses counted at the main thread's running share (see runShare). */
  gcCpuUs: number;
  gcCycles: number;
  gcPauseMs: number;
  gcHelperMs: number;
  wall: number;
  clientCpu: number;
  others: number;
  peak: { rssKb: number; anonKb: number };
}

/**
 * Of the time the main thread was runnable in a window, the share it actually ran (schedstat:
 * on CPU ÷ (on CPU + waiting for a CPU)). logGC's pauses are wall-clock: on a machine shared
 * with other work a pause also holds the time other processes ran, so the GC share is given
 * twice — as logged, and with the pauses counted at this share (their CPU estimate).
 */
function runShare(cpu0: ThreadCpu, cpu1: ThreadCpu): number {
  const ran = cpu1.mainNs - cpu0.mainNs;
  const waited = cpu1.mainWaitNs - cpu0.mainWaitNs;
  return ran + waited > 0 ? ran / (ran + waited) : 1;
}

async function loadRound(spec: ServerSpec, shape: Shape): Promise<LoadRound> {
  const server = await ServerProcess.start(profiled(spec), { gcLog: GC_LOG });
  const pairs = split(PAIRS, CLIENTS);
  const workers = pairs.map((k, i) =>
    Worker.spawn(`load-${i}`, join(ROOT, "bench/clients/load.ts"), [spec.address, String(k), String(shape.queues), String(shape.window), String(shape.body)]),
  );
  try {
    const ready = await all<{ queues: number }>(workers);
    const queues = ready.reduce((a, r) => a + r.queues, 0);
    for (const w of workers) w.send("go");
    await sleep(WARMUP * 1000);
    const ours = [server.pid, process.pid, ...workers.map((w) => w.pid)];
    const busy0 = machineBusyNs() - processesCpuNs(ours);
    const cpu0 = threadCpu(server.pid);
    const gc0 = { ...server.gc };
    const t0 = performance.now();
    for (const w of workers) w.send("mark");
    let peak = memory(server.pid);
    const end = t0 + SECONDS * 1000;
    while (performance.now() < end) {
      await sleep(Math.min(250, end - performance.now()));
      const m = memory(server.pid);
      if (m.rssKb > peak.rssKb) peak = m;
    }
    for (const w of workers) w.send("stop");
    const cpu1 = threadCpu(server.pid);
    const wall = (performance.now() - t0) / 1000;
    const others = (machineBusyNs() - processesCpuNs(ours) - busy0) / 1e9 / wall;
    const gc1 = { ...server.gc };
    const rs = await all<{ delivered: number; seconds: number; hist: number[]; cpuMs: number }>(workers);
    const hist = new Histogram();
    for (const r of rs) hist.merge(new Histogram(r.hist));
    const rate = rs.reduce((a, r) => a + r.delivered / r.seconds, 0);
    log(`load round (${shape.label}): ${rate.toFixed(0)} msgs/s, ${((cpu1.totalNs - cpu0.totalNs) / 1000 / rs.reduce((a, r) => a + r.delivered, 0)).toFixed(0)} µs CPU per message`);
    return {
      queues,
      rate,
      delivered: rs.reduce((a, r) => a + r.delivered, 0),
      hist,
      cpuUs: (cpu1.totalNs - cpu0.totalNs) / 1000,
      mainUs: (cpu1.mainNs - cpu0.mainNs) / 1000,
      gcUs: (gc1.pauseMs - gc0.pauseMs) * 1000 + (cpu1.gcHelperNs - cpu0.gcHelperNs) / 1000,
      gcCpuUs: (gc1.pauseMs - gc0.pauseMs) * 1000 * runShare(cpu0, cpu1) + (cpu1.gcHelperNs - cpu0.gcHelperNs) / 1000,
      gcCycles: gc1.cycles - gc0.cycles,
      gcPauseMs: gc1.pauseMs - gc0.pauseMs,
      gcHelperMs: (cpu1.gcHelperNs - cpu0.gcHelperNs) / 1e6,
      wall,
      clientCpu: rs.reduce((a, r) => a + r.cpuMs / 1000 / r.seconds, 0),
      others,
      peak,
    };
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await server.stop();
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const list = (xs: number[], digits: number): string => xs.map((x) => x.toFixed(digits)).join(", ");

function reportEcho(rounds: EchoRound[]): void {
  const rate = median(rounds.map((r) => r.rate));
  R.echo_blocks_per_s = rate;
  row(
    "echo ceiling (16 KB blocks, TLS)",
    `${rate.toFixed(0)} blocks/s = ${((rate * 16384) / 1e6).toFixed(0)} MB/s each way (median of ${list(rounds.map((r) => r.rate), 0)}); server CPU ${(median(rounds.map((r) => r.serverCpu)) * 100).toFixed(0)} %, ${median(rounds.map((r) => r.cpuUsPerBlock)).toFixed(1)} µs per block`,
  );
}

function reportLoad(shape: Shape, rounds: LoadRound[], floors: Floor[]): void {
  const k = shape.key;
  const hist = new Histogram();
  for (const r of rounds) hist.merge(r.hist);
  const rate = median(rounds.map((r) => r.rate));
  const cpuPerMsg = rounds.map((r) => r.cpuUs / r.delivered);
  const cpuUs = rounds.reduce((a, r) => a + r.cpuUs, 0);
  const gcUs = rounds.reduce((a, r) => a + r.gcUs, 0);
  const gcCpuUs = rounds.reduce((a, r) => a + r.gcCpuUs, 0);
  const wall = rounds.reduce((a, r) => a + r.wall, 0);
  const peak = rounds.reduce((a, r) => (r.peak.rssKb > a.rssKb ? r.peak : a), rounds[0]!.peak);
  const others = Math.max(...rounds.map((r) => r.others));
  R["msgs_per_s" + k] = rate;
  R["p50_ms" + k] = hist.percentile(50);
  R["p99_ms" + k] = hist.percentile(99);
  R["cpu_us_per_msg" + k] = median(cpuPerMsg);
  R["rss_load_mb" + k] = mb(peak.rssKb);
  R["server_cpu" + k] = cpuUs / 1e6 / wall;
  R["gc_share" + k] = GC_LOG ? gcUs / cpuUs : "n/a";
  R["gc_cpu_share" + k] = GC_LOG ? gcCpuUs / cpuUs : "n/a";
  const what =
    shape === ONE_IN_FLIGHT
      ? `${rounds[0]!.queues} queues, each sender ${shape.window} message${shape.window > 1 ? "s" : ""} in flight`
      : `${rounds[0]!.queues} queues × ${shape.window} in flight`;
  row(
    `SMP v20 load, ${shape.label} (${PAIRS} senders → ${PAIRS} recipients, ${what}, ${shape.body} B bodies)`,
    `${rate.toFixed(0)} msgs/s (median of ${list(rounds.map((r) => r.rate), 0)}); latency p50 ${hist.percentile(50).toFixed(2)} ms, p99 ${hist.percentile(99).toFixed(2)} ms`,
  );
  row(
    `  server CPU, ${shape.label}`,
    `${median(cpuPerMsg).toFixed(0)} µs per message (${list(cpuPerMsg, 0)}); ${((100 * cpuUs) / 1e6 / wall).toFixed(0)} % of a core (JS thread ${((100 * rounds.reduce((a, r) => a + r.mainUs, 0)) / 1e6 / wall).toFixed(0)} %)`,
  );
  if (floors.length > 0) {
    const floor = median(floors.map((f) => f.total));
    const part = (f: (x: Floor) => number): string => median(floors.map(f)).toFixed(0);
    R["floor_us_per_msg" + k] = floor;
    R["cpu_over_floor" + k] = median(cpuPerMsg) / floor;
    row(
      `  floor (${shape.body} B), same run`,
      `${floor.toFixed(0)} µs per message (${list(floors.map((f) => f.total), 0)}): Ed25519 ×2 ${part((f) => f.ed25519)}, XSalsa20-Poly1305 16 KB ×6 ${part((f) => f.xsalsa)}, TLS records ×5 ${part((f) => f.tls)}, SQLite insert + delete ${part((f) => f.store)}; server CPU ÷ floor = ${(median(cpuPerMsg) / floor).toFixed(2)}`,
    );
  }
  row(`  load clients (${CLIENTS} process${CLIENTS > 1 ? "es" : ""})`, `${(median(rounds.map((r) => r.clientCpu)) * 100).toFixed(0)} % of a core in total`);
  row(
    "  GC share of server CPU",
    GC_LOG
      ? `${((100 * gcUs) / cpuUs).toFixed(1)} % (${rounds.reduce((a, r) => a + r.gcCycles, 0)} collections, pauses ${rounds.reduce((a, r) => a + r.gcPauseMs, 0).toFixed(0)} ms + marking threads ${rounds.reduce((a, r) => a + r.gcHelperMs, 0).toFixed(0)} ms); ${((100 * gcCpuUs) / cpuUs).toFixed(1)} % with the pauses at the main thread's running share`
      : "not measured (--no-gc-log)",
  );
  R["other_cpu" + k] = others;
  if (others > 0.1) row("  WARNING", `other processes used up to ${(others * 100).toFixed(0)} % of a core during a load window: msgs/s are low (CPU per message is less affected)`);
  row("  RSS under load (peak)", `${mb(peak.rssKb).toFixed(1)} MB (anon ${mb(peak.anonKb).toFixed(1)})`);
}

async function rttPhase(spec: ServerSpec): Promise<void> {
  // not profiled: --profile DIR is for the load phase (bench/profile-top.ts reads every file there)
  const server = await ServerProcess.start(spec, { gcLog: false });
  const worker = Worker.spawn("rtt", join(ROOT, "bench/clients/rtt.ts"), [spec.address, String(RTT_SECONDS), String(RTT_SHORT), String(BODY)]);
  try {
    for (const [size, key] of [[RTT_SHORT, "rtt_p50_ms"], [BODY, "rtt_p50_ms_body"]] as const) {
      const r = await worker.next<{ body: number; samples: number; hist: number[] }>();
      const hist = new Histogram(r.hist);
      R[key] = hist.percentile(50);
      row(
        `unloaded round trip SEND → MSG → ACK, ${size} B body (1 queue, 1 at a time)`,
        `p50 ${hist.percentile(50).toFixed(2)} ms, p99 ${hist.percentile(99).toFixed(2)} ms (${r.samples} in ${RTT_SECONDS} s)`,
      );
    }
  } finally {
    await worker.stop();
    await server.stop();
  }
}

/** One client subscribes SUB_QUEUES queues written into the store before the server starts. */
async function subsPhase(command: string[]): Promise<void> {
  const subSpec = initServer(command, 1000);
  try {
    const t0 = performance.now();
    await createSubQueues(join(subSpec.dataDir, DB_FILE), SUB_QUEUES);
    log(`subs: ${SUB_QUEUES} queues created in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const server = await ServerProcess.start(profiled(subSpec), { gcLog: false });
    const worker = Worker.spawn("subs", join(ROOT, "bench/clients/subs.ts"), [subSpec.address, String(SUB_QUEUES)]);
    try {
      await worker.next();
      const cpu0 = threadCpu(server.pid);
      worker.send("go");
      const r = await worker.next<{ subscribed: number; errors: number; seconds: number }>();
      const cpuUs = (threadCpu(server.pid).totalNs - cpu0.totalNs) / 1000;
      if (r.errors > 0) throw new Error(`subs: ${r.errors} SUBs failed`);
      R.subs_per_s = r.subscribed / r.seconds;
      row(
        `SUB throughput (1 client, ${SUB_QUEUES} queues)`,
        `${(r.subscribed / r.seconds).toFixed(0)} SUBs/s (${r.seconds.toFixed(1)} s); server CPU ${(cpuUs / r.subscribed).toFixed(1)} µs per SUB`,
      );
    } finally {
      await worker.stop();
      await server.stop();
    }
  } finally {
    removeServerDirs(subSpec);
  }
}

async function storePhase(): Promise<void> {
  const backend = pg === undefined ? [] : ["--postgres", pg.uri];
  const p = Bun.spawn([process.execPath, join(ROOT, "bench/store.ts"), "--queues", String(STORE_QUEUES), "--lookups", String(Math.min(100000, STORE_QUEUES)), ...backend], {
    stdout: "pipe",
    stderr: "inherit",
  });
  const out = await new Response(p.stdout).text();
  if ((await p.exited) !== 0) throw new Error("bench/store.ts failed");
  const grab = (re: RegExp): string => re.exec(out)?.[1] ?? "?";
  row(`store: create ${STORE_QUEUES} queues`, `${grab(/: (\d+) queues\/s/)} queues/s; DB ${grab(/DB size: ([\d.]+ MiB)/)}`);
  row("store: queue lookup by id", `p50 ${grab(/p50 ([\d.]+ µs)/)}, p99 ${grab(/p99 ([\d.]+ µs)/)}`);
  row("store: SEND (lookup + 1 KB write) / ACK", `${grab(/SEND[^:]*: (\d+)\/s/)}/s / ${grab(/ACK[^:]*: (\d+)\/s/)}/s`);
  row("store: process RSS after lookups", grab(/RSS after lookups: ([\d.]+ MiB)/));
}

// ---------------------------------------------------------------- main

raiseFdLimit(Math.max(65536, IDLE * 2 + 4096));
if (!skip.has("idle") && currentFdLimit() < IDLE + 2048) {
  const fit = Math.max(0, currentFdLimit() - 2048);
  log(`open-file limit ${currentFdLimit()} is too low for ${IDLE} connections: measuring ${fit} (raise \`ulimit -n\` for the full figure)`);
  IDLE = fit;
}
// --source-dir DIR: the server from another tree's sources (e.g. `git archive main src | tar -x -C DIR`
// with a node_modules link), to compare whole-server figures of two versions run after run
const sourceDir = stringArg("source-dir", "") || undefined;
const source = flag("source") || sourceDir !== undefined;
const command = source ? [process.execPath, join(sourceDir ?? ROOT, "src/cli/main.ts")] : [ensureBinary("x64", log)];
const STORE = stringArg("store", "sqlite");
const pg = STORE === "postgres" ? await benchSchema() : undefined;
const spec = initServer(command, Math.max(20000, IDLE + 1000), !flag("memory-store"), pg);
const t0 = performance.now();
try {
  if (!skip.has("idle")) await idlePhase(spec);
  const echoRounds: EchoRound[] = [];
  const loadRounds: LoadRound[] = [];
  const inflightRounds: LoadRound[] = [];
  const floors: Floor[] = [];
  const floors1: Floor[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    if (!skip.has("echo")) echoRounds.push(await echoRound());
    if (!skip.has("load")) loadRounds.push(await loadRound(spec, PIPELINED));
    if (!skip.has("inflight")) inflightRounds.push(await loadRound(spec, ONE_IN_FLIGHT));
    if (!skip.has("floor")) {
      // between the loads, in this process: the same machine state as the rounds around it
      if (!skip.has("load")) floors.push(await measureFloor(PIPELINED.body));
      if (!skip.has("inflight")) floors1.push(await measureFloor(ONE_IN_FLIGHT.body));
      log(`floor: ${[...floors.slice(-1), ...floors1.slice(-1)].map((f) => f.total.toFixed(0)).join(" / ")} µs per message`);
    }
  }
  if (echoRounds.length > 0) reportEcho(echoRounds);
  if (loadRounds.length > 0) reportLoad(PIPELINED, loadRounds, floors);
  if (inflightRounds.length > 0) reportLoad(ONE_IN_FLIGHT, inflightRounds, floors1);
  if (echoRounds.length > 0 && loadRounds.length > 0) {
    const ratios = loadRounds.map((l, i) => l.rate / echoRounds[i]!.rate);
    row("ratio msgs/s ÷ echo blocks/s, per round", `${list(ratios, 3)} (median ${median(ratios).toFixed(3)})`);
  }
  if (!skip.has("rtt")) await rttPhase(spec);
  if (!skip.has("subs")) await subsPhase(command);
  if (!skip.has("store")) await storePhase();
} finally {
  removeServerDirs(spec);
  if (pg !== undefined) await dropBenchSchema(pg);
}

const fmt = (k: string, digits: number): string => (typeof R[k] === "number" ? (R[k] as number).toFixed(digits) : "n/a");
if (typeof R.msgs_per_s === "number" && typeof R.echo_blocks_per_s === "number") R.ratio = R.msgs_per_s / R.echo_blocks_per_s;

const machine = `${cpus().length} × ${cpuModel()}, Linux, Bun ${Bun.version}; server: ${source || PROFILE !== undefined ? "bun src/cli/main.ts" : "dist/smp-server-linux-x64"}; store: ${STORE}`;
console.log(`\nsmp-server benchmark — ${machine}; ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
const w = Math.max(...rows.map(([l]) => l.length));
for (const [l, v] of rows) console.log(`${l.padEnd(w)}  ${v}`);
console.log(
  `\nBENCH msgs_per_s=${fmt("msgs_per_s", 0)} echo_blocks_per_s=${fmt("echo_blocks_per_s", 0)} ratio=${fmt("ratio", 3)} p50_ms=${fmt("p50_ms", 2)} p99_ms=${fmt("p99_ms", 2)} cpu_us_per_msg=${fmt("cpu_us_per_msg", 0)} floor_us_per_msg=${fmt("floor_us_per_msg", 0)} cpu_over_floor=${fmt("cpu_over_floor", 2)} ` +
    `msgs_per_s_1=${fmt("msgs_per_s_1", 0)} p50_ms_1=${fmt("p50_ms_1", 2)} cpu_us_per_msg_1=${fmt("cpu_us_per_msg_1", 0)} floor_us_per_msg_1=${fmt("floor_us_per_msg_1", 0)} cpu_over_floor_1=${fmt("cpu_over_floor_1", 2)} ` +
    `subs_per_s=${fmt("subs_per_s", 0)} rss_idle_mb=${fmt("rss_idle_mb", 1)} rss_load_mb=${fmt("rss_load_mb", 1)} kb_per_conn=${fmt("kb_per_conn", 1)} rtt_p50_ms=${fmt("rtt_p50_ms", 2)}`,
);
if (jsonOut !== undefined) writeFileSync(jsonOut, JSON.stringify({ machine, results: R, rows }, null, 2));
process.exit(0);
