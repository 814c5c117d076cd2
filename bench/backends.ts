/**
 * The two store backends side by side, through the real server (`npm run bench -- --store …` runs
 * the load benchmark on one backend; this one compares what depends on the number of queues):
 *
 *  1. create N queues (default 1,000,000) through the store API, 1,000 at a time in flight
 *     (SQLite: one group commit per 1,000; PostgreSQL: writes queued together share a COMMIT);
 *  2. restart: `smp-server start` on that store until it accepts connections (time), its RSS;
 *  3. SUB of --subs queues (default 100,000) by ONE client over TLS (Client.hs:subscribeSMPQueues:
 *     ~135 SUBs per block, one batched lookup per block), queues/s, and the server's RSS after.
 *
 *   bun bench/backends.ts [--queues 1000000] [--subs 100000] [--store sqlite,postgres] [--source]
 *
 * PostgreSQL: SMP_BENCH_PG_URI or SMP_TEST_PG_URI (scripts/pg-test-cluster.sh), a fresh schema
 * dropped at the end. Prints a table and one BACKENDS line per backend.
 */
import { join } from "node:path";
import { SMPClient } from "../src/client/client.ts";
import { authPublicKey, generateAuthKey } from "../src/client/keys.ts";
import { DB_FILE } from "../src/server/index.ts";
import { openPostgresStore } from "../src/store/postgres/open.ts";
import { openSqliteStore } from "../src/store/sqlite/open.ts";
import type { Store } from "../src/store/store.ts";
import { benchSchema, dropBenchSchema, type BenchPostgres } from "./lib/postgres.ts";
import { benchId as idOf, benchQueue } from "./lib/bench-queue.ts";
import { memory } from "./lib/proc.ts";
import { ensureBinary, initServer, removeServerDirs, ROOT, ServerProcess } from "./lib/server.ts";
import { flag, stringArg } from "./lib/args.ts";

const N = Number(stringArg("queues", "1000000"));
const SUBS = Math.min(N, Number(stringArg("subs", "100000")));
const BACKENDS = stringArg("store", "sqlite,postgres").split(",");
const log = (s: string) => console.error(`bench: ${s}`);

// One recipient key for every queue, so one client can sign SUB for all of them.
const rcvKey = generateAuthKey("ed25519");
const rcvKeyDer = authPublicKey(rcvKey).der;
const today = Math.floor(Date.now() / 86400000) * 86400;
const queue = (i: number) => benchQueue(i, rcvKeyDer, today);

async function createQueues(s: Store): Promise<number> {
  const t0 = performance.now();
  const inFlight: Promise<unknown>[] = [];
  for (let i = 0; i < N; i++) {
    inFlight.push(s.queues.createQueue(queue(i)));
    if (inFlight.length === 1000) {
      await Promise.all(inFlight);
      await s.flush();
      inFlight.length = 0;
    }
    if ((i + 1) % 100000 === 0) log(`  ${i + 1} queues, ${(((i + 1) / (performance.now() - t0)) * 1000).toFixed(0)}/s`);
  }
  await Promise.all(inFlight);
  await s.flush();
  return N / ((performance.now() - t0) / 1000);
}

interface Row {
  backend: string;
  createPerS: number;
  restartMs: number;
  rssIdleMb: number;
  subPerS: number;
  rssAfterSubMb: number;
}

async function runBackend(backend: string, command: string[]): Promise<Row> {
  const pg: BenchPostgres | undefined = backend === "postgres" ? await benchSchema() : undefined;
  const spec = initServer(command, 1000, true, pg);
  try {
    log(`${backend}: creating ${N} queues`);
    const store = pg !== undefined ? await openPostgresStore({ ...pg, poolSize: 4 }) : openSqliteStore({ path: join(spec.dataDir, DB_FILE) });
    const createPerS = await createQueues(store);
    await store.close();

    log(`${backend}: starting the server on them`);
    const t0 = performance.now();
    const server = await ServerProcess.start(spec, { gcLog: false });
    const restartMs = performance.now() - t0;
    const rssIdleMb = memory(server.pid).rssKb / 1024;
    try {
      log(`${backend}: one client subscribes ${SUBS} queues`);
      const c = await SMPClient.connect({ server: spec.address, timeoutMs: 120_000 });
      const t1 = performance.now();
      const CHUNK = 5000;
      let ok = 0;
      for (let i = 0; i < SUBS; i += CHUNK) {
        const qs = [];
        for (let j = i; j < Math.min(SUBS, i + CHUNK); j++) qs.push({ rcvId: idOf(1, j), key: rcvKey });
        for (const r of await c.subscribeMany(qs)) if (!("error" in r)) ok++;
      }
      const subPerS = SUBS / ((performance.now() - t1) / 1000);
      if (ok !== SUBS) throw new Error(`${backend}: only ${ok}/${SUBS} SUBs succeeded`);
      const rssAfterSubMb = memory(server.pid).rssKb / 1024;
      c.close();
      return { backend, createPerS, restartMs, rssIdleMb, subPerS, rssAfterSubMb };
    } finally {
      await server.stop();
    }
  } finally {
    removeServerDirs(spec);
    if (pg !== undefined) await dropBenchSchema(pg);
  }
}

const command = flag("source") ? [process.execPath, join(ROOT, "src/cli/main.ts")] : [ensureBinary("x64", log)];
const rows: Row[] = [];
for (const b of BACKENDS) rows.push(await runBackend(b, command));

console.log(`\nstore backends — ${N} queues, SUB of ${SUBS} by one client; Bun ${Bun.version}\n`);
console.log("| backend | create (queues/s) | restart to listening | RSS after restart | SUB by one client (queues/s) | RSS after SUB |");
console.log("| --- | --- | --- | --- | --- | --- |");
for (const r of rows)
  console.log(
    `| ${r.backend} | ${r.createPerS.toFixed(0)} | ${r.restartMs.toFixed(0)} ms | ${r.rssIdleMb.toFixed(1)} MiB | ${r.subPerS.toFixed(0)} | ${r.rssAfterSubMb.toFixed(1)} MiB |`,
  );
for (const r of rows)
  console.log(
    `BACKENDS store=${r.backend} queues=${N} create_per_s=${r.createPerS.toFixed(0)} restart_ms=${r.restartMs.toFixed(0)} rss_mb=${r.rssIdleMb.toFixed(1)} sub_per_s=${r.subPerS.toFixed(0)} rss_sub_mb=${r.rssAfterSubMb.toFixed(1)}`,
  );
