/**
 * What the statistics cost one message on the hot path (`bun bench/counting.ts`): the counting a
 * SEND and its ACK do (Server.hs:sendMessage, acknowledgeMsg updateStats) — plain counters, the
 * active-queue period sets and the ACK time buckets — over 10 000 queues, in ns per message.
 * Compare with the server's CPU per message (`npm run bench`, cpu_us_per_msg: hundreds of µs).
 */
import { ServerStats } from "../src/server/stats.ts";

const QUEUES = 10_000;
const MESSAGES = 5_000_000;
const ids = Array.from({ length: QUEUES }, () => crypto.getRandomValues(new Uint8Array(24)));
const s = new ServerStats();

function run(n: number): number {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const id = ids[i % QUEUES]!;
    // SEND
    s.msgSent++;
    s.msgCount++;
    s.activeQueues.add(id);
    // ACK
    s.msgRecv++;
    s.msgCount--;
    s.activeQueues.add(id);
    s.msgRecvAckTimes.add(i & 7);
  }
  return ((performance.now() - t0) * 1e6) / n;
}

run(200_000); // warm-up
const ns = run(MESSAGES);
console.log(`counting per message (SEND + ACK): ${ns.toFixed(1)} ns over ${QUEUES} queues`);
console.log(`BENCH counting_ns_per_msg=${ns.toFixed(1)}`);
