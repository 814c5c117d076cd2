/**
 * What the benchmark reads about another process from /proc (Linux only): CPU time of all its
 * threads (schedstat, nanoseconds — /proc/<pid>/stat only has 10 ms ticks), CPU time of the GC
 * helper threads, and resident memory.
 */
import { readdirSync, readFileSync } from "node:fs";

function read(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null; // the thread or process has gone
  }
}

export interface ThreadCpu {
  /** Nanoseconds on CPU, all threads. */
  readonly totalNs: number;
  /** Nanoseconds on CPU of JavaScriptCore's parallel GC marking threads ("HeapHelper"). */
  readonly gcHelperNs: number;
  /** Nanoseconds on CPU of the main (JavaScript) thread. */
  readonly mainNs: number;
  /** Nanoseconds the main thread was runnable but waited for a CPU (schedstat's second field). */
  readonly mainWaitNs: number;
}

/** Per-thread CPU from /proc/<pid>/task/<tid>/schedstat (first field: ns on CPU). */
export function threadCpu(pid: number): ThreadCpu {
  let totalNs = 0;
  let gcHelperNs = 0;
  let mainNs = 0;
  let mainWaitNs = 0;
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return { totalNs, gcHelperNs, mainNs, mainWaitNs };
  }
  for (const tid of tids) {
    const s = read(`/proc/${pid}/task/${tid}/schedstat`);
    if (s === null) continue;
    const ns = Number(s.split(" ")[0]);
    totalNs += ns;
    if (Number(tid) === pid) {
      mainNs = ns;
      mainWaitNs = Number(s.split(" ")[1]);
    } else if ((read(`/proc/${pid}/task/${tid}/comm`) ?? "").startsWith("HeapHelper")) gcHelperNs += ns;
  }
  return { totalNs, gcHelperNs, mainNs, mainWaitNs };
}

export interface Memory {
  /** VmRSS, KiB. */
  readonly rssKb: number;
  /** RssAnon (heap, stacks), KiB. */
  readonly anonKb: number;
  /** RssFile (mapped executable pages), KiB. */
  readonly fileKb: number;
}

export function memory(pid: number): Memory {
  const s = read(`/proc/${pid}/status`) ?? "";
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(s);
    return m === null ? 0 : Number(m[1]);
  };
  return { rssKb: field("VmRSS"), anonKb: field("RssAnon"), fileKb: field("RssFile") };
}

/** Open file descriptors of a process (sockets included). */
export function fdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

export function cpuModel(): string {
  const s = read("/proc/cpuinfo") ?? "";
  return /^model name\s*:\s*(.+)$/m.exec(s)?.[1]?.trim() ?? "unknown";
}

/** Raises this process's open-file limit (children inherit it); best effort. */
export function raiseFdLimit(n: number): void {
  for (const limit of [`${n}:${n}`, `${n}`]) {
    const r = Bun.spawnSync(["prlimit", `--pid=${process.pid}`, `--nofile=${limit}`], { stderr: "ignore", stdout: "ignore" });
    if (r.exitCode === 0) return;
  }
}

export function currentFdLimit(): number {
  const s = read(`/proc/${process.pid}/limits`) ?? "";
  const m = /^Max open files\s+(\d+)/m.exec(s);
  return m === null ? 0 : Number(m[1]);
}

/** Busy CPU time of the whole machine (all cores, every process), ns, from /proc/stat. */
export function machineBusyNs(): number {
  const s = read("/proc/stat") ?? "";
  const f = (s.split("\n")[0] ?? "").trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal …, in USER_HZ (100/s) ticks
  const busy = (f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0);
  return busy * 1e7;
}

/** CPU time, ns, of the given processes (all threads). */
export function processesCpuNs(pids: number[]): number {
  let n = 0;
  for (const p of pids) n += threadCpu(p).totalNs;
  return n;
}
