/**
 * Several PostgreSQL stores on one schema (nodes, issue 18), the store alone: every queue has a
 * sender writing on the first store and a recipient ACKing on the last, as a SEND on node A and
 * the subscriber on node B would; the recipient learns of a message from the SEND's OK_EMPTY or
 * the ACK's next, as the server does. Prints messages/s end to end and, per store, commits, the
 * operations that found a queue's row locked by the other store (LockBusy → it waited in the next
 * transaction) and the transactions rolled back and retried.
 *
 *   bun bench/store-nodes.ts --postgres URI [--stores 2] [--queues 200] [--inflight 4] [--seconds 5] [--max-ops 1000]
 */
import { SQL } from "bun";
import { openPostgresStore, type PostgresStore } from "../src/store/postgres/open.ts";
import type { QueueRec, StoredMessage } from "../src/store/types.ts";
import { benchQueue } from "./lib/bench-queue.ts";
import { stringArg } from "./lib/args.ts";
import { dropBenchSchema } from "./lib/postgres.ts";

const URI = stringArg("postgres", "");
if (URI === "") throw new Error("--postgres URI is required");
const STORES = Number(stringArg("stores", "2"));
const QUEUES = Number(stringArg("queues", "200"));
const INFLIGHT = Number(stringArg("inflight", "4"));
const SECONDS = Number(stringArg("seconds", "5"));
const MAX_OPS = Number(stringArg("max-ops", "1000"));

const schema = `bench_nodes_${process.pid}`;
const stores: PostgresStore[] = [];
for (let i = 0; i < STORES; i++)
  stores.push(await openPostgresStore({ uri: URI, schema, createSchema: i === 0, maxOpsPerCommit: MAX_OPS, msgQueueQuota: 1_000_000 }));
const sender = stores[0]!;
const recipient = stores[stores.length - 1]!;
const body = new Uint8Array(1000).fill(7);

const queues: QueueRec[] = [];
for (let i = 0; i < QUEUES; i++) {
  const r = await sender.queues.createQueue(benchQueue(i));
  if (r === "DUPLICATE") throw new Error("duplicate");
  queues.push(r);
}

let running = true;
let acked = 0;
let sent = 0;

/** One queue: a sender keeping INFLIGHT writes going, a recipient delivering and ACKing one at a time. */
async function flow(q: QueueRec): Promise<void> {
  let current: StoredMessage | null = null;
  let chain: Promise<void> = Promise.resolve();
  const deliver = () => {
    chain = chain.then(async () => {
      if (current !== null) return;
      current = await recipient.messages.peekMsg(q);
      while (current !== null) {
        const r: { next: StoredMessage | null } = await recipient.messages.tryDelPeekMsg(q, current.msgId);
        acked++;
        current = r.next;
      }
    });
  };
  const send = async () => {
    while (running) {
      const r = await sender.messages.writeMsg(q, { msgId: crypto.getRandomValues(new Uint8Array(24)), tsMs: Date.now(), notification: false, body });
      sent++;
      if (r === "OK_EMPTY") deliver();
    }
  };
  await Promise.all(Array.from({ length: INFLIGHT }, send));
  await chain;
}

const t0 = performance.now();
const flows = Promise.all(queues.map(flow));
await Bun.sleep(SECONDS * 1000);
running = false;
await flows;
// Until the last message sent is ACKed: every message both written and deleted.
const secs = (performance.now() - t0) / 1000;
console.log(
  `${STORES} store(s), ${QUEUES} queues × ${INFLIGHT} in flight, max ${MAX_OPS} ops/commit: ${(acked / secs).toFixed(0)} msgs/s SENT+ACKed (${sent} sent, ${acked} acked, ${secs.toFixed(1)} s)`,
);
for (const [i, s] of stores.entries())
  console.log(`  store ${i}: ${s.conn.commits} commits, ${s.conn.lockBusy} ops found a row locked (waited next), ${s.conn.retries} retried transactions`);
for (const s of stores) await s.close();
const sql = new SQL(URI, { max: 1 });
const [{ n: left }] = await sql.unsafe(`SELECT count(*)::int AS n FROM "${schema}".messages`);
await sql.close();
await dropBenchSchema({ uri: URI, schema });
if (left !== 0) throw new Error(`${left} messages left behind: a recipient missed them`);
