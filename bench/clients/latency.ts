/**
 * Delivery latency along several paths through a cluster, one message at a time: each path is a
 * sender connected to one node and a recipient connected to the same or another node, one
 * secured queue; a round is SEND → MSG → ACK answered, and the next starts only then. The paths
 * take turns round by round, so a burst of other work on the shared machine falls on all of them
 * alike and the difference between paths is what crossing nodes adds.
 *
 *   bun bench/clients/latency.ts ROUNDS BODY_BYTES SND_ADDR RCV_ADDR [SND_ADDR RCV_ADDR …]
 *
 * Emits one JSON line: { rounds, delivered: [hist…], acked: [hist…] }, one Histogram (counts, ms)
 * per path: `delivered` from the SEND until the recipient has the MSG, `acked` until the ACK's answer.
 */
import { emit, fail } from "../lib/child.ts";
import { Histogram } from "../lib/histogram.ts";
import { openPair } from "../lib/message-pair.ts";

const [roundsArg, bodyArg, ...addresses] = process.argv.slice(2);
const ROUNDS = Number(roundsArg);
const WARMUP_ROUNDS = 30; // JIT, TLS buffers, the nodes' prepared statements

try {
  const body = crypto.getRandomValues(new Uint8Array(Number(bodyArg)));
  const pairs = [];
  for (let i = 0; i + 1 < addresses.length; i += 2) pairs.push(await openPair(addresses[i]!, addresses[i + 1]!));
  const delivered = pairs.map(() => new Histogram());
  const acked = pairs.map(() => new Histogram());
  for (let r = -WARMUP_ROUNDS; r < ROUNDS; r++) {
    for (let p = 0; p < pairs.length; p++) {
      const t = await pairs[p]!.roundTrip(body);
      if (r < 0) continue;
      delivered[p]!.add(t.delivered);
      acked[p]!.add(t.acked);
    }
  }
  for (const pair of pairs) pair.close();
  emit({ rounds: ROUNDS, delivered: delivered.map((h) => h.counts), acked: acked.map((h) => h.counts) });
} catch (e) {
  fail(e);
}
process.exit(0);
