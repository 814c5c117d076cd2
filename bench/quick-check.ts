/**
 * What the start-up integrity check costs (src/store/sqlite/startup-check.ts:quickCheck): builds a
 * database of N queues (and M messages of 1 KB), then times `PRAGMA quick_check` in a fresh
 * process with a cold page cache of its own, beside `PRAGMA integrity_check` for comparison.
 *
 *   bun bench/quick-check.ts [--queues 1000000] [--messages 100000] [--keep DIR]
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import { quickCheck } from "../src/store/sqlite/startup-check.ts";
import { openSqliteStore } from "../src/store/sqlite/open.ts";
import { benchId as id, benchQueue } from "./lib/bench-queue.ts";
import { stringArg } from "./lib/args.ts";

const args = process.argv.slice(2);
const N = Number(stringArg("queues", "1000000"));
const M = Number(stringArg("messages", "100000"));
const keep = stringArg("keep", "");
const dir = keep || mkdtempSync(join(tmpdir(), "smp-qc-"));
mkdirSync(dir, { recursive: true });
const path = join(dir, `qc-${N}-${M}.sqlite`);

async function build(): Promise<void> {
  const s = openSqliteStore({ path });
  const t0 = performance.now();
  const queues = [];
  for (let i = 0; i < N; i++) {
    const r = await s.queues.createQueue(benchQueue(i, undefined, 20000 * 86400));
    if (r === "DUPLICATE") throw new Error("duplicate id");
    if (i < M) queues.push(r);
    if (i % 5000 === 4999) await s.flush();
  }
  const body = new Uint8Array(1000).fill(7);
  for (let k = 0; k < M; k++) {
    await s.messages.writeMsg(queues[k % queues.length]!, { msgId: id(3, k), tsMs: Date.now(), notification: false, body });
    if (k % 1000 === 999) await s.flush();
  }
  await s.close();
  console.log(`built ${N} queues, ${M} messages in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

if (args[0] === "--measure") {
  const p = args[1]!;
  const t0 = performance.now();
  const r = quickCheck(p);
  const t1 = performance.now();
  const db = new Database(p, { readonly: true });
  const ic = db.query("PRAGMA integrity_check(1)").get() as { integrity_check: string };
  const t2 = performance.now();
  db.close();
  const cpu = process.cpuUsage();
  console.log(`quick_check: ${r ?? "ok"} in ${(t1 - t0).toFixed(0)} ms`);
  console.log(`integrity_check: ${ic.integrity_check} in ${(t2 - t1).toFixed(0)} ms`);
  console.log(`process CPU ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms, RSS ${(process.memoryUsage().rss / 1048576).toFixed(1)} MiB`);
} else {
  try {
    if (!existsSync(path)) await build();
    console.log(`database ${(statSync(path).size / 1048576).toFixed(1)} MiB`);
    const child = Bun.spawn([process.execPath, import.meta.path, "--measure", path], { stdout: "inherit", stderr: "inherit" });
    if ((await child.exited) !== 0) process.exitCode = 1;
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}
