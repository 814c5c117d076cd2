/**
 * Store benchmark: creates N queues (group commits of --batch), then, in a fresh process so
 * RSS reflects only what the store holds, reopens the database and measures lookup latency
 * of getQueueByRecipientId for random ids, then SEND/ACK-like message throughput.
 *
 *   bun bench/store.ts [--queues 1000000] [--batch 5000] [--lookups 100000] [--dir DIR] [--synchronous normal|full]
 *                      [--postgres URI]
 *
 * --postgres URI: the PostgreSQL store, in a fresh schema dropped at the end. Its writes resolve
 * after their commit, so the awaited-one-by-one loops below measure one transaction per write
 * (the worst case: a single client); concurrent clients share commits.
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SQL } from "bun";
import { openPostgresStore } from "../src/store/postgres/open.ts";
import { openSqliteStore } from "../src/store/sqlite/open.ts";
import type { Store } from "../src/store/store.ts";
import { benchId as idOf, benchQueue } from "./lib/bench-queue.ts";
import { flag, stringArg } from "./lib/args.ts";
import { dropBenchSchema } from "./lib/postgres.ts";

const N = Number(stringArg("queues", "1000000"));
const BATCH = Number(stringArg("batch", "5000"));
const LOOKUPS = Number(stringArg("lookups", "100000"));
const SYNC = stringArg("synchronous", "normal") as "normal" | "full";
const PHASE = stringArg("phase", "create");
const PG_URI = stringArg("postgres", "");

/** `path` is the SQLite file, or with --postgres the schema name. */
async function openStore(path: string): Promise<Store> {
  if (PG_URI === "") return openSqliteStore({ path, synchronous: SYNC });
  return openPostgresStore({ uri: PG_URI, schema: path, createSchema: true });
}

async function pgSize(schema: string): Promise<number> {
  const sql = new SQL(PG_URI, { max: 1 });
  try {
    const r = await sql`SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::int8 AS n FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ${schema} AND c.relkind = 'r'`;
    return Number(r[0].n);
  } finally {
    await sql.close();
  }
}

const KEY = new Uint8Array(44).fill(1);
const queue = (i: number) => benchQueue(i, KEY);

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
  const s = await openStore(path);
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
  console.log(`DB size: ${mb(PG_URI === "" ? dbSize(path) : await pgSize(path))}`);
}

async function lookup(path: string): Promise<void> {
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  const s = await openStore(path);
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
  await lookup(stringArg("path", ""));
} else {
  const own = !flag("dir");
  const dir = own ? mkdtempSync(join(tmpdir(), "smp-bench-")) : stringArg("dir", "");
  const path = PG_URI === "" ? join(dir, "smp.db") : `bench_store_${process.pid}`;
  try {
    await create(path);
    const pg = PG_URI === "" ? [] : ["--postgres", PG_URI];
    const child = Bun.spawn(
      [process.execPath, import.meta.path, "--phase", "lookup", "--path", path, "--queues", String(N), "--lookups", String(LOOKUPS), "--synchronous", SYNC, ...pg],
      { stdout: "inherit", stderr: "inherit" },
    );
    if ((await child.exited) !== 0) process.exitCode = 1;
  } finally {
    if (own) rmSync(dir, { recursive: true, force: true });
    if (PG_URI !== "") {
      await dropBenchSchema({ uri: PG_URI, schema: path });
    }
  }
}
