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
import { SMPClient } from "../../src/client/client.ts";
import type { ServerEvent } from "../../src/client/connection.ts";
import { generateAuthKey } from "../../src/client/keys.ts";
import type { BrokerMsg } from "../../src/protocol/broker-messages.ts";
import { emit, fail } from "../lib/child.ts";
import { Histogram } from "../lib/histogram.ts";

type Msg = Extract<BrokerMsg, { tag: "MSG" }>;

const [address, secondsArg, ...bodyArgs] = process.argv.slice(2);
const SECONDS = Number(secondsArg);

let onMsg: ((m: Msg) => void) | null = null;
const onEvent = (e: ServerEvent): void => {
  if (e.type === "event" && e.msg.tag === "MSG") onMsg?.(e.msg);
};

try {
  const [snd, rcv] = await Promise.all([SMPClient.connect({ server: address! }), SMPClient.connect({ server: address!, onEvent })]);
  const q = await rcv.createQueue();
  const sndKey = generateAuthKey("ed25519");
  await snd.secureBySender(q.sndId, sndKey);
  const roundTrip = async (body: Uint8Array): Promise<void> => {
    const delivered = new Promise<Msg>((resolve) => (onMsg = resolve));
    await snd.sendMessage(q.sndId, body, { key: sndKey });
    const msg = await delivered;
    if ((await rcv.ack(q.rcvId, q.rcvAuthKey, msg.msgId)) !== null) throw new Error("unexpected second message");
  };
  for (const bodyArg of bodyArgs) {
    const body = crypto.getRandomValues(new Uint8Array(Number(bodyArg)));
    for (let i = 0; i < 50; i++) await roundTrip(body); // warm-up: JIT, TLS buffers, SQLite pages
    const hist = new Histogram();
    const end = performance.now() + SECONDS * 1000;
    let samples = 0;
    while (performance.now() < end) {
      const t0 = performance.now();
      await roundTrip(body);
      hist.add(performance.now() - t0);
      samples++;
    }
    emit({ body: body.length, samples, hist: hist.counts });
  }
  snd.close();
  rcv.close();
} catch (e) {
  fail(e);
}
process.exit(0);
