/**
 * Summary of a .cpuprofile written by `bun --cpu-prof` (e.g. by `bench/run.ts --profile DIR`):
 * the functions with the most samples, self and inclusive, by sample count (not by the time
 * deltas, which include idle waits).
 *
 *   bun bench/profile-top.ts FILE.cpuprofile [N=30]
 */
import { readFileSync } from "node:fs";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
const prof = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as { nodes: Node[]; samples: number[] };
const N = Number(process.argv[3] ?? 30);
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const name = (n: Node): string => {
  const f = n.callFrame;
  const file = f.url.replace(/^.*\/(node_modules\/|src\/)/, "$1");
  return `${f.functionName || "(anonymous)"} ${file}${f.lineNumber >= 0 && file ? ":" + (f.lineNumber + 1) : ""}`;
};
const self = new Map<string, number>();
const total = new Map<string, number>();
let idle = 0;
for (const id of prof.samples) {
  const n = byId.get(id)!;
  if (n.callFrame.functionName === "(idle)" || n.callFrame.functionName === "(program)" && !n.children?.length) idle++;
  self.set(name(n), (self.get(name(n)) ?? 0) + 1);
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const k = name(byId.get(cur)!);
    if (!seen.has(k)) {
      seen.add(k);
      total.set(k, (total.get(k) ?? 0) + 1);
    }
  }
}
const all = prof.samples.length;
const pct = (x: number): string => ((100 * x) / all).toFixed(1).padStart(5) + "%";
console.log(`${all} samples\n\nself`);
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, N)) console.log(`${pct(v)}  ${k}`);
console.log("\ninclusive");
for (const [k, v] of [...total].sort((a, b) => b[1] - a[1]).slice(0, N)) console.log(`${pct(v)}  ${k}`);
