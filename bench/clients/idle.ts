/**
 * Idle-connection worker: opens N SMP connections (TLS + SMP handshake, v20 with block encryption)
 * with at most CONCURRENCY handshakes at a time, reports, then holds them until stdin closes.
 *
 *   bun bench/clients/idle.ts ADDRESS N CONCURRENCY
 */
import { SMPClient } from "../../src/client/client.ts";
import { commands, emit, fail } from "../lib/child.ts";

const [address, nArg, concArg] = process.argv.slice(2);
const N = Number(nArg);
const CONCURRENCY = Number(concArg);
const clients: SMPClient[] = [];
const t0 = performance.now();
let next = 0;
try {
  await Promise.all(
    Array.from({ length: Math.min(CONCURRENCY, N) }, async () => {
      while (next < N) {
        next++;
        clients.push(await SMPClient.connect({ server: address!, connectTimeoutMs: 60_000 }));
      }
    }),
  );
} catch (e) {
  fail(e);
}
emit({ ready: true, opened: clients.length, seconds: (performance.now() - t0) / 1000 });
for await (const _ of commands()) {
  // hold the connections until stdin closes
}
for (const c of clients) c.close();
process.exit(0);
