/**
 * Idle RSS of the compiled server alone, the figure of bench/run.ts's idle phase without its
 * 10,000 connections: `bun bench/idle-rss.ts [--runs 3] [--bin PATH] [--host NAME] [--cold]`. Each
 * run initializes fresh temporary directories, starts the binary (rebuilt first when older than
 * src/), waits until it serves and 2 s more, reads /proc and stops it; the median of the runs is
 * the figure.
 *
 * --host sets [TRANSPORT] host, as a real server has (the default `init` leaves it commented out).
 * --cold drops the binary's pages from the page cache before each start (`dd iflag=nocache`), so
 * it starts as after a reboot. Without it the file-backed part depends on how the file sits in
 * the page cache: a just-built binary is in large folios, and the kernel maps more of them
 * around each fault than of one read from disk on demand (~4 MB more on ext4, Linux 6.18); for
 * A/B runs of two binaries --cold puts both in the same state.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { memory, type Memory } from "./lib/proc.ts";
import { ensureBinary, initServer, removeServerDirs, ServerProcess } from "./lib/server.ts";

const argv = process.argv.slice(2);
const arg = (name: string): string | undefined => (argv.indexOf(`--${name}`) >= 0 ? argv[argv.indexOf(`--${name}`) + 1] : undefined);
const runs = Number(arg("runs") ?? 3);
const bin = arg("bin") ?? ensureBinary("x64", (s) => console.error(s));
const host = arg("host");
const cold = argv.includes("--cold");
const mb = (kb: number): string => (kb / 1024).toFixed(1);

const samples: Memory[] = [];
for (let i = 0; i < runs; i++) {
  const spec = initServer([bin], 1000);
  if (host !== undefined) {
    const toml = join(spec.configDir, "smp-server.toml");
    const text = readFileSync(toml, "utf8");
    if (!/^# host = .*$/m.test(text)) throw new Error("smp-server.toml has no host line to set");
    writeFileSync(toml, text.replace(/^# host = .*$/m, `host = ${JSON.stringify(host)}`));
  }
  if (cold && Bun.spawnSync(["dd", `if=${bin}`, "iflag=nocache", "count=0", "status=none"]).exitCode !== 0) throw new Error(`cannot drop ${bin} from the page cache`);
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
console.log(`${bin}${host === undefined ? "" : ` (host ${host})`}${cold ? " (cold)" : ""}: median RSS idle ${mb(median.rssKb)} MB (anon ${mb(median.anonKb)}, file-backed ${mb(median.fileKb)}) over ${runs} runs`);
