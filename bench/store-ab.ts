/**
 * Same-process A/B of the store's hot path: this tree's SQLite store against another tree's
 * (`--base DIR`: a checkout or `git archive main src | tar -x -C DIR`), both loaded in this
 * process, each on its own database file, rounds alternating; CPU time of this thread per
 * operation (bench/lib/cpu-time.ts), so other processes' load barely moves the figures.
 *
 *   bun bench/store-ab.ts --base DIR [--rounds 7] [--n 2000] [--size 15000] [--only message,acknext,subs]
 *                         [--commit-every 1] [--postgres URI]
 *
 * --postgres URI: the PostgreSQL stores instead, each in a fresh schema dropped at the end (the
 * database on this machine); CPU µs per operation of this thread PLUS the PostgreSQL backends
 * serving the stores (their /proc/PID/schedstat, found by application_name), since most of the
 * work is there. With --elapsed: elapsed µs instead (round trips included; noisy when loaded).
 *
 * message: one message with one in flight — writeMsg into an empty queue, commit, ACK
 *          (tryDelPeekMsg, nothing next), commit;
 * acknext: the next message already queued when the ACK comes (the ACK answers with it):
 *          writeMsg, commit, tryDelPeekMsg of the previous one, commit;
 * subs:    what a block of 135 SUBs needs from the store: the queue records by recipient id
 *          (getQueues), the hint that their heads come next (expectPeeks) and each queue's head
 *          (peekMsg), per SUB.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { benchId, benchQueue } from "./lib/bench-queue.ts";
import { abCompareAsync, threadCpuNs } from "./lib/cpu-time.ts";
import { SQL } from "bun";
import { openPostgresStore } from "../src/store/postgres/open.ts";
import { openSqliteStore } from "../src/store/sqlite/open.ts";
import type { Store } from "../src/store/store.ts";
import type { QueueRec } from "../src/store/types.ts";
import { flag, stringArg } from "./lib/args.ts";
import { processesCpuNs } from "./lib/proc.ts";
import { dropBenchSchema } from "./lib/postgres.ts";

const BASE = flag("base") ? resolve(stringArg("base", "")) : undefined;
const ROUNDS = Number(stringArg("rounds", "7"));
const N = Number(stringArg("n", "2000"));
const SIZE = Number(stringArg("size", "15000"));
// 1: a commit per SEND and per ACK, as with one message in flight; larger: the statements'
// own cost stands out from the commits' (whose CPU varies most between rounds)
const COMMIT_EVERY = Number(stringArg("commit-every", "1"));
const ONLY = new Set(stringArg("only", "message,acknext,subs").split(","));
const SUB_QUEUES = 20000;
const BATCH = 135;

const PG_URI = stringArg("postgres", "");
const ELAPSED = flag("elapsed");
const APP = `bench_ab_${process.pid}`;
/** The PostgreSQL backends serving the benchmark's stores (filled once they all connected). */
let backends: number[] = [];
const CLOCK = PG_URI === "" ? undefined : ELAPSED ? () => Bun.nanoseconds() : () => threadCpuNs() + processesCpuNs(backends);
const UNIT = PG_URI === "" ? "µs" : ELAPSED ? "µs elapsed" : "CPU µs (this thread + PostgreSQL backends)";

/** `path`: a database file, or with --postgres a schema name. */
type Open = (path: string) => Promise<Store>;
type PgOpen = typeof openPostgresStore;
const pgOpen =
  (f: PgOpen): Open =>
  (schema) =>
    f({ uri: `${PG_URI}${PG_URI.includes("?") ? "&" : "?"}application_name=${APP}`, schema, createSchema: true });
const variants: Record<string, Open> = {
  this: PG_URI === "" ? async (path) => openSqliteStore({ path }) : pgOpen(openPostgresStore),
};
if (BASE !== undefined)
  variants.base =
    PG_URI === ""
      ? async (path) => ((await import(join(BASE, "src/store/sqlite/open.ts"))) as { openSqliteStore: typeof openSqliteStore }).openSqliteStore({ path })
      : pgOpen(((await import(join(BASE, "src/store/postgres/open.ts"))) as { openPostgresStore: PgOpen }).openPostgresStore);
const schemas: string[] = [];

const dir = mkdtempSync(join(tmpdir(), "smp-store-ab-"));
const body = crypto.getRandomValues(new Uint8Array(SIZE));
const id = benchId;
const msgId = (): Uint8Array => crypto.getRandomValues(new Uint8Array(24));

interface Bench {
  store: Store;
  q: QueueRec;
  prev: Uint8Array | null;
}

async function open(name: string, open: Open): Promise<Bench> {
  const schema = `bench_ab_${process.pid}_${name}`;
  if (PG_URI !== "") schemas.push(schema);
  const store = await open(PG_URI === "" ? join(dir, `${name}.sqlite`) : schema);
  let q: QueueRec | null = null;
  for (let i = 0; i < SUB_QUEUES; i++) {
    const r = await store.queues.createQueue(benchQueue(i));
    if (r === "DUPLICATE") throw new Error("duplicate");
    q ??= r;
  }
  await store.flush();
  return { store, q: q!, prev: null };
}

const benches: Record<string, Bench> = {};
for (const [name, o] of Object.entries(variants)) benches[name] = await open(name, o);
if (PG_URI !== "") {
  const sql = new SQL(PG_URI, { max: 1 });
  backends = ((await sql`SELECT pid FROM pg_stat_activity WHERE application_name = ${APP}`) as { pid: number }[]).map((r) => r.pid);
  await sql.close();
  console.log(`${backends.length} PostgreSQL backends measured`);
}

function report(what: string, r: Record<string, { median: number; rounds: number[] }>): void {
  const line = Object.entries(r)
    .map(([k, v]) => `${k} ${v.median.toFixed(2)} ${UNIT} (${v.rounds.map((x) => x.toFixed(1)).join(" ")})`)
    .join("; ");
  const gain = r.base !== undefined ? `  → ${((100 * (r.this!.median - r.base.median)) / r.base.median).toFixed(1)} %` : "";
  console.log(`${what}: ${line}${gain}`);
}

try {
  if (ONLY.has("message")) {
    const ops = Object.fromEntries(
      Object.entries(benches).map(([k, b]) => [
        k,
        async (i: number) => {
          const m = msgId();
          if ((await b.store.messages.writeMsg(b.q, { msgId: m, tsMs: Date.now(), notification: false, body })) !== "OK_EMPTY") throw new Error("not empty");
          if (i % COMMIT_EVERY === 0) await b.store.flush();
          const r = await b.store.messages.tryDelPeekMsg(b.q, m);
          if (r.deleted === null || r.next !== null) throw new Error("ack");
          if (i % COMMIT_EVERY === 0) await b.store.flush();
        },
      ]),
    );
    report("message (SEND into an empty queue + ACK), per message", await abCompareAsync(ops, N, ROUNDS, CLOCK));
  }
  if (ONLY.has("acknext")) {
    const ops = Object.fromEntries(
      Object.entries(benches).map(([k, b]) => [
        k,
        async (i: number) => {
          const m = msgId();
          await b.store.messages.writeMsg(b.q, { msgId: m, tsMs: Date.now(), notification: false, body });
          if (i % COMMIT_EVERY === 0) await b.store.flush();
          if (b.prev !== null) {
            const r = await b.store.messages.tryDelPeekMsg(b.q, b.prev);
            if (r.next === null || r.next.body.length !== SIZE) throw new Error("acknext");
            if (i % COMMIT_EVERY === 0) await b.store.flush();
          }
          b.prev = m;
        },
      ]),
    );
    report("message, next one queued before the ACK (ACK answers with it), per message", await abCompareAsync(ops, N, ROUNDS, CLOCK));
  }
  if (ONLY.has("subs")) {
    const ops = Object.fromEntries(
      Object.entries(benches).map(([k, b]) => [
        k,
        async (i: number) => {
          const ids: Uint8Array[] = new Array(BATCH);
          const start = 1 + ((i * BATCH) % (SUB_QUEUES - BATCH - 1));
          for (let j = 0; j < BATCH; j++) ids[j] = id(1, start + j);
          const qs = await b.store.queues.getQueues("rcv", ids);
          // as the server does for a block of SUBs (a base tree may not have expectPeeks yet)
          const found = qs.filter((q) => q !== null);
          if ("expectPeeks" in b.store.messages) await b.store.messages.expectPeeks(found);
          for (const q of qs) if (q === null || (await b.store.messages.peekMsg(q)) !== null) throw new Error("subs");
        },
      ]),
    );
    const r = await abCompareAsync(ops, Math.max(10, N / 20), ROUNDS, CLOCK);
    for (const v of Object.values(r)) {
      v.median /= BATCH;
      v.rounds = v.rounds.map((x) => x / BATCH);
    }
    report(`subs (records of a block of ${BATCH} + each head), per SUB`, r);
  }
} finally {
  for (const b of Object.values(benches)) await b.store.close();
  rmSync(dir, { recursive: true, force: true });
  for (const schema of schemas) await dropBenchSchema({ uri: PG_URI, schema });
}
