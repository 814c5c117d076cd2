/**
 * The stand-in for a 256 MB board: the native x64 binary in a memory cgroup limited to 256 MB,
 * serving 100 connections and 1,000 queues (each: NEW → SKEY → SEND → MSG → ACK, as
 * bench/arm64-qemu.ts), must stay up with RSS ≤ 64 MB. RSS is sampled every 100 ms throughout.
 *
 *   bun bench/cgroup.ts [--limit-mb 256] [--max-rss-mb 64] [--queues 1000] [--connections 100]
 *
 * The server runs from a fresh copy of the binary, so the executable's pages it reads are charged
 * to the cgroup as on a board (a binary already in the host's page cache would be charged to
 * whoever read it first). RSS counts those clean, shared pages too, while the kernel can drop
 * them under pressure: `--limit-mb 64` shows whether the server lives within 64 MB all in.
 *
 * Needs a writable memory cgroup: v1 (/sys/fs/cgroup/memory) or v2 (/sys/fs/cgroup with the memory
 * controller), usually root. Exits 1 if the RSS bound is exceeded, the server dies, or a round trip fails.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { roundTrips } from "./lib/roundtrips.ts";
import { memory } from "./lib/proc.ts";
import { ensureBinary, initServer, removeServerDirs, ServerProcess } from "./lib/server.ts";

const argv = process.argv.slice(2);
const opt = (name: string, def: number): number => (argv.indexOf("--" + name) >= 0 ? Number(argv[argv.indexOf("--" + name) + 1]) : def);
const LIMIT_MB = opt("limit-mb", 256);
const MAX_RSS_MB = opt("max-rss-mb", 64);
const QUEUES = opt("queues", 1000);
const CONNECTIONS = opt("connections", 100);
const log = (s: string): void => console.log(`cgroup: ${s}`);

interface Group {
  readonly dir: string;
  readonly v2: boolean;
  read(file: string): string;
}

function createGroup(): Group {
  const name = `smp-bench-${process.pid}`;
  const v1 = "/sys/fs/cgroup/memory";
  const v2 = !existsSync(v1) && existsSync("/sys/fs/cgroup/cgroup.controllers");
  const dir = v2 ? join("/sys/fs/cgroup", name) : join(v1, name);
  mkdirSync(dir);
  const limit = String(LIMIT_MB * 1024 * 1024);
  writeFileSync(join(dir, v2 ? "memory.max" : "memory.limit_in_bytes"), limit);
  if (v2) writeFileSync(join(dir, "memory.swap.max"), "0");
  return { dir, v2, read: (f) => readFileSync(join(dir, f), "utf8").trim() };
}

let group: Group;
try {
  group = createGroup();
} catch (e) {
  log(`cannot create a memory cgroup (${(e as Error).message}): run as root on a host with the memory controller`);
  process.exit(1);
}
log(`${group.dir}: limit ${LIMIT_MB} MB (cgroup ${group.v2 ? "v2" : "v1"})`);

const binDir = mkdtempSync(join(tmpdir(), "smp-cgroup-bin-"));
const bin = join(binDir, "smp-server");
// O_DIRECT: the copy must not sit in the page cache charged to this process (or the server's
// reads of it would be free); plain copy where the file system refuses O_DIRECT.
const src = ensureBinary("x64", log);
if (Bun.spawnSync(["dd", `if=${src}`, `of=${bin}`, "bs=1M", "oflag=direct"], { stderr: "ignore" }).exitCode !== 0) copyFileSync(src, bin);
Bun.spawnSync(["chmod", "755", bin]);
// The shell joins the cgroup, then becomes the server (same pid), so the server runs inside from its first byte.
const command = ["sh", "-c", `echo $$ > ${group.dir}/cgroup.procs && exec "$@"`, "sh", bin];
const spec = initServer(command, 1000);
let server: ServerProcess | null = null;
let failed = false;
let peakKb = 0;
let peakAnonKb = 0;
const sampler = setInterval(() => {
  if (server === null) return;
  const m = memory(server.pid);
  peakKb = Math.max(peakKb, m.rssKb);
  peakAnonKb = Math.max(peakAnonKb, m.anonKb);
}, 100);
try {
  server = await ServerProcess.start(spec, { gcLog: false });
  const inGroup = readFileSync(`/proc/${server.pid}/cgroup`, "utf8").includes(group.dir.replace(/^\/sys\/fs\/cgroup(\/memory)?/, ""));
  if (!inGroup) throw new Error("the server is not in the cgroup");
  log(`idle: RSS ${(memory(server.pid).rssKb / 1024).toFixed(1)} MB`);
  const r = await roundTrips(spec.address, CONNECTIONS / 2, QUEUES);
  log(`${r.connections} connections; ${r.queues} queues, each NEW → SKEY → SEND → MSG → ACK in ${r.seconds.toFixed(1)} s`);
  await Bun.sleep(1000);
  const held = memory(server.pid);
  log(`holding ${r.connections} connections and ${r.queues} queues: RSS ${(held.rssKb / 1024).toFixed(1)} MB (anon ${(held.anonKb / 1024).toFixed(1)}, file-backed ${(held.fileKb / 1024).toFixed(1)})`);
  for (const c of r.clients) c.close();
  if (server.proc.exitCode !== null) throw new Error(`the server exited (${server.proc.exitCode})`);
  const maxUsage = group.v2 ? group.read("memory.peak") : group.read("memory.max_usage_in_bytes");
  const failcnt = group.v2 ? (/^max (\d+)/m.exec(group.read("memory.events"))?.[1] ?? "?") : group.read("memory.failcnt");
  const ooms = group.v2 ? (/^oom_kill (\d+)/m.exec(group.read("memory.events"))?.[1] ?? "?") : (/^oom_kill (\d+)/m.exec(group.read("memory.oom_control"))?.[1] ?? "?");
  log(`cgroup peak usage ${(Number(maxUsage) / 1048576).toFixed(1)} MB (the executable's and the database's page cache included), limit hits ${failcnt}, OOM kills ${ooms}`);
  log(`server RSS peak ${(peakKb / 1024).toFixed(1)} MB, of it private (anon) at most ${(peakAnonKb / 1024).toFixed(1)} MB (limit for this check: RSS ${MAX_RSS_MB} MB)`);
  if (peakKb > MAX_RSS_MB * 1024) failed = true;
} catch (e) {
  failed = true;
  log(`FAILED: ${(e as Error).message}`);
} finally {
  clearInterval(sampler);
  if (server !== null && server.proc.exitCode === null) await server.stop();
  removeServerDirs(spec);
  rmSync(binDir, { recursive: true, force: true });
  try {
    rmdirSync(group.dir);
  } catch {
    // a process may linger for a moment; the empty group is harmless
  }
}
log(failed ? "FAIL" : "PASS");
process.exit(failed ? 1 : 0);
