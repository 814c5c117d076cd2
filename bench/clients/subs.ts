/**
 * Subscription worker: one connection subscribes N queues made by bench/lib/sub-queues.ts,
 * batched as the client library packs them (Client.hs:subscribeSMPQueues: as many SUBs per
 * block as fit), and reports how long the server took to answer them all.
 *
 *   bun bench/clients/subs.ts ADDRESS N
 *
 * Emits {ready} once connected and the requests are prepared; on "go" subscribes and emits
 * {subscribed, errors, seconds}.
 */
import { SMPClient } from "../../src/client/client.ts";
import { commands, emit, fail } from "../lib/child.ts";
import { subKey, subRcvId } from "../lib/sub-queues.ts";

const [address, nArg] = process.argv.slice(2);
const N = Number(nArg);
let client: SMPClient;
try {
  client = await SMPClient.connect({ server: address! });
} catch (e) {
  fail(e);
}
const qs = Array.from({ length: N }, (_, i) => ({ rcvId: subRcvId(i), key: subKey }));
emit({ ready: true });
for await (const cmd of commands()) {
  if (cmd !== "go") continue;
  const t0 = performance.now();
  const rs = await client.subscribeMany(qs);
  const seconds = (performance.now() - t0) / 1000;
  const errors = rs.filter((r) => "error" in r).length;
  emit({ subscribed: N - errors, errors, seconds });
}
client.close();
process.exit(0);
