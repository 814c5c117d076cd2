/**
 * CPU time of the calling thread, and per-operation CPU cost measured with it. On a shared
 * machine wall-clock rates drift with other processes' load; the CPU time a thread spends on
 * an operation drifts far less (only through cache and frequency effects), so microbenchmarks
 * and A/B comparisons here count thread CPU, not elapsed time.
 */
import { readFileSync } from "node:fs";

/** Nanoseconds this thread has run on a CPU (/proc/thread-self/schedstat, first field). */
export function threadCpuNs(): number {
  const s = readFileSync("/proc/thread-self/schedstat", "latin1");
  return Number(s.slice(0, s.indexOf(" ")));
}

/** CPU µs per call of `op` over `n` calls (after `op` has run `n / 10` times to warm up). */
export function cpuUsPerOp(op: (i: number) => void, n: number): number {
  for (let i = 0, w = Math.max(1, n / 10); i < w; i++) op(i);
  const t0 = threadCpuNs();
  for (let i = 0; i < n; i++) op(i);
  return (threadCpuNs() - t0) / 1000 / n;
}

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/**
 * Same-process A/B: every variant runs `n` operations per round, the variants alternating
 * round by round (so drift hits them alike); returns each variant's median CPU µs per op.
 */
export function abCompare(variants: Record<string, (i: number) => void>, n: number, rounds: number): Record<string, { median: number; rounds: number[] }> {
  const names = Object.keys(variants);
  const per: Record<string, number[]> = Object.fromEntries(names.map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) {
    // alternate the order too: the second of a pair must not always inherit the first's caches
    const order = r % 2 === 0 ? names : [...names].reverse();
    for (const k of order) per[k]!.push(cpuUsPerOp(variants[k]!, n));
  }
  return Object.fromEntries(names.map((k) => [k, { median: median(per[k]!), rounds: per[k]! }]));
}

/**
 * `cpuUsPerOp` for an operation that awaits (e.g. a group commit): CPU µs per call, or with
 * `clock = Bun.nanoseconds` elapsed µs (where another process, a database, does the work).
 */
export async function cpuUsPerOpAsync(op: (i: number) => Promise<void>, n: number, clock: () => number = threadCpuNs): Promise<number> {
  for (let i = 0, w = Math.max(1, n / 10); i < w; i++) await op(i);
  const t0 = clock();
  for (let i = 0; i < n; i++) await op(i);
  return (clock() - t0) / 1000 / n;
}

/** `abCompare` for operations that await. */
export async function abCompareAsync(
  variants: Record<string, (i: number) => Promise<void>>,
  n: number,
  rounds: number,
  clock: () => number = threadCpuNs,
): Promise<Record<string, { median: number; rounds: number[] }>> {
  const names = Object.keys(variants);
  const per: Record<string, number[]> = Object.fromEntries(names.map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? names : [...names].reverse();
    for (const k of order) per[k]!.push(await cpuUsPerOpAsync(variants[k]!, n, clock));
  }
  return Object.fromEntries(names.map((k) => [k, { median: median(per[k]!), rounds: per[k]! }]));
}
