/**
 * Unloaded round trip: one sender, one recipient, one secured queue, one message at a time.
 * Each sample is SEND (signed) → the recipient's MSG → ACK answered, timed from the SEND until
 * the ACK's answer; the next SEND starts only then. This is the latency a single conversation
 * sees, without queueing behind other traffic.
 *
 *   bun bench/clients/rtt.ts ADDRESS SECONDS BODY_BYTES...
 *
 * Emits one JSON line per body size: { body, samples, hist } (hist: Histogram counts, ms).
 */
import { emit, fail } from "../lib/child.ts";
import { Histogram } from "../lib/histogram.ts";
import { openPair } from "../lib/message-pair.ts";

const [address, secondsArg, ...bodyArgs] = process.argv.slice(2);
const SECONDS = Number(secondsArg);

try {
  const pair = await openPair(address!, address!);
  for (const bodyArg of bodyArgs) {
    const body = crypto.getRandomValues(new Uint8Array(Number(bodyArg)));
    for (let i = 0; i < 50; i++) await pair.roundTrip(body); // warm-up: JIT, TLS buffers, SQLite pages
    const hist = new Histogram();
    const end = performance.now() + SECONDS * 1000;
    let samples = 0;
    while (performance.now() < end) {
      hist.add((await pair.roundTrip(body)).acked);
      samples++;
    }
    emit({ body: body.length, samples, hist: hist.counts });
  }
  pair.close();
} catch (e) {
  fail(e);
}
process.exit(0);
