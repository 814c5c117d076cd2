/**
 * Idle RSS of the compiled server alone, the figure of bench/run.ts's idle phase without its
 * 10,000 connections: `bun bench/idle-rss.ts [--runs 3] [--bin PATH]`. Each run initializes fresh
 * temporary directories, starts the binary (rebuilt first when older than src/), waits until it
 * serves and 2 s more, reads /proc and stops it; the median of the runs is the figure.
 */
import { memory, type Memory } from "./lib/proc.ts";
import { ensureBinary, initServer, removeServerDirs, ServerProcess } from "./lib/server.ts";

const argv = process.argv.slice(2);
const arg = (name: string): string | undefined => (argv.indexOf(`--${name}`) >= 0 ? argv[argv.indexOf(`--${name}`) + 1] : undefined);
const runs = Number(arg("runs") ?? 3);
const bin = arg("bin") ?? ensureBinary("x64", (s) => console.error(s));
const mb = (kb: number): string => (kb / 1024).toFixed(1);

const samples: Memory[] = [];
for (let i = 0; i < runs; i++) {
  const spec = initServer([bin], 1000);
  const server = await ServerProcess.start(spec, { gcLog: false });
  try {
    await Bun.sleep(2000);
    const m = memory(server.pid);
    samples.push(m);
    console.log(`run ${i + 1}: RSS ${mb(m.rssKb)} MB (anon ${mb(m.anonKb)}, file-backed ${mb(m.fileKb)})`);
  } finally {
    await server.stop();
    removeServerDirs(spec);
  }
}
const median = samples.sort((a, b) => a.rssKb - b.rssKb)[Math.floor(samples.length / 2)]!;
console.log(`${bin}: median RSS idle ${mb(median.rssKb)} MB (anon ${mb(median.anonKb)}, file-backed ${mb(median.fileKb)}) over ${runs} runs`);
