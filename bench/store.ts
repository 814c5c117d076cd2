/**
 * Store benchmark: creates N queues (group commits of --batch), then, in a fresh process so
 * RSS reflects only what the store holds, reopens the database and measures lookup latency
 * of getQueueByRecipientId for random ids, then SEND/ACK-like message throughput.
 *
 *   bun bench/store.ts [--queues 1000000] [--batch 5000] [--lookups 100000] [--dir DIR] [--synchronous normal|full]
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openSqliteStore } from "../src/store/sqlite/open.ts";
import { benchId as idOf, benchQueue as queue } from "./lib/bench-queue.ts";

const args = process.argv.slice(2);
function arg(name: string, def: string): string {
  const i = args.indexOf("--" + name);
  return i >= 0 && i + 1 < args.length ? args[i + 1]! : def;
}
const N = Number(arg("queues", "1000000"));
const BATCH = Number(arg("batch", "5000"));
const LOOKUPS = Number(arg("lookups", "100000"));
const SYNC = arg("synchronous", "normal") as "normal" | "full";
const PHASE = arg("phase", "create");

const mb = (n: number) => (n / 1048576).toFixed(1) + " MiB";
function dbSize(path: string): number {
  let n = 0;
  for (const f of [path, path + "-wal"])
    try {
      n += statSync(f).size;
    } catch {
      // absent
    }
  return n;
}

function pct(xs: Float64Array, p: number): number {
  return xs[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;
}

async function create(path: string): Promise<void> {
  const s = openSqliteStore({ path, synchronous: SYNC });
  const t0 = performance.now();
  for (let i = 0; i < N; ) {
    const end = Math.min(N, i + BATCH);
    for (; i < end; i++) {
      const r = await s.queues.createQueue(queue(i));
      if (r === "DUPLICATE") throw new Error("duplicate id");
    }
    await s.flush();
    if (i % 100000 === 0 && N >= 200000) console.log(`  ${i} queues, ${((i / (performance.now() - t0)) * 1000).toFixed(0)}/s`);
  }
  const secs = (performance.now() - t0) / 1000;
  Bun.gc(true);
  console.log(`created ${N} queues in ${secs.toFixed(1)} s: ${(N / secs).toFixed(0)} queues/s (group commits of ${BATCH}, synchronous=${SYNC})`);
  console.log(`RSS after creating: ${mb(process.memoryUsage().rss)}`);
  await s.close();
  console.log(`DB size: ${mb(dbSize(path))}`);
}

async function lookup(path: string): Promise<void> {
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  const s = openSqliteStore({ path, synchronous: SYNC });
  const st = await s.stats();
  console.log(`reopen: ${(performance.now() - t0).toFixed(1)} ms (queueCount ${st.queueCount}); RSS ${mb(rss0)} → ${mb(process.memoryUsage().rss)}`);

  const lat = new Float64Array(LOOKUPS);
  let found = 0;
  for (let k = 0; k < LOOKUPS; k++) {
    const id = idOf(1, Math.floor(Math.random() * N));
    const a = Bun.nanoseconds();
    const q = await s.queues.getQueueByRecipientId(id);
    lat[k] = (Bun.nanoseconds() - a) / 1000;
    if (q !== null) found++;
  }
  if (found !== LOOKUPS) throw new Error(`only ${found}/${LOOKUPS} found`);
  lat.sort();
  console.log(`getQueueByRecipientId (random, ${LOOKUPS}): p50 ${pct(lat, 50).toFixed(1)} µs, p99 ${pct(lat, 99).toFixed(1)} µs, max ${lat[lat.length - 1]!.toFixed(0)} µs`);
  console.log(`RSS after lookups: ${mb(process.memoryUsage().rss)}`);

  // SEND-like: sender lookup + writeMsg, 100 per group commit; then ACK-like: tryDelPeekMsg.
  const M = Math.min(100000, N);
  const body = new Uint8Array(1000).fill(7);
  const sent: { q: { recipientId: Uint8Array; key: number }; id: Uint8Array }[] = [];
  let t = performance.now();
  for (let k = 0; k < M; ) {
    for (const end = Math.min(M, k + 100); k < end; k++) {
      const q = (await s.queues.getQueueBySenderId(idOf(2, Math.floor(Math.random() * N))))!;
      const msgId = crypto.getRandomValues(new Uint8Array(24));
      await s.messages.writeMsg(q, { msgId, tsMs: Date.now(), notification: false, body });
      if (k % 10 === 0) sent.push({ q, id: msgId });
    }
    await s.flush();
  }
  let secs = (performance.now() - t) / 1000;
  console.log(`SEND (lookup by sender id + 1 KB writeMsg, 100 per commit): ${(M / secs).toFixed(0)}/s`);
  t = performance.now();
  for (let k = 0; k < sent.length; ) {
    for (const end = Math.min(sent.length, k + 100); k < end; k++) await s.messages.tryDelPeekMsg(sent[k]!.q, sent[k]!.id);
    await s.flush();
  }
  secs = (performance.now() - t) / 1000;
  console.log(`ACK (tryDelPeekMsg, 100 per commit): ${(sent.length / secs).toFixed(0)}/s`);
  const e0 = performance.now();
  let expired = 0;
  for (;;) {
    const p = await s.messages.expireMessages(Math.floor(Date.now() / 1000) + 10, 5000);
    expired += p.expired;
    if (p.done) break;
    await s.flush();
  }
  console.log(`expireMessages: ${expired} messages in ${(performance.now() - e0).toFixed(0)} ms`);
  console.log(`RSS at end: ${mb(process.memoryUsage().rss)}`);
  await s.close();
}

if (PHASE === "lookup") {
  await lookup(arg("path", ""));
} else {
  const own = !args.includes("--dir");
  const dir = own ? mkdtempSync(join(tmpdir(), "smp-bench-")) : arg("dir", "");
  const path = join(dir, "smp.db");
  try {
    await create(path);
    const child = Bun.spawn(
      [process.execPath, import.meta.path, "--phase", "lookup", "--path", path, "--queues", String(N), "--lookups", String(LOOKUPS), "--synchronous", SYNC],
      { stdout: "inherit", stderr: "inherit" },
    );
    if ((await child.exited) !== 0) process.exitCode = 1;
  } finally {
    if (own) rmSync(dir, { recursive: true, force: true });
  }
}
