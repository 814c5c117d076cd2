/**
 * Functional load for the small-board checks: `pairs` sender/recipient connection pairs share
 * `queues` queues; every queue makes one full round trip through the real client library:
 * NEW (subscribed) → SKEY → SEND (signed) → MSG, whose body the recipient decrypts and checks
 * → ACK. Runs in this process; throws on any wrong answer.
 */
import { SMPClient } from "../../src/client/client.ts";
import type { ServerEvent } from "../../src/client/connection.ts";
import { generateAuthKey } from "../../src/client/keys.ts";
import type { BrokerMsg } from "../../src/protocol/broker-messages.ts";

type Msg = Extract<BrokerMsg, { tag: "MSG" }>;

export interface RoundTripResult {
  readonly queues: number;
  readonly connections: number;
  readonly connectSeconds: number;
  readonly seconds: number;
  /** The connections, still open (the caller measures the server holding them, then closes). */
  readonly clients: SMPClient[];
}

const key = (id: Uint8Array): string => Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString("latin1");

export async function roundTrips(address: string, pairs: number, queues: number, timeoutMs = 60_000): Promise<RoundTripResult> {
  const t0 = performance.now();
  const waiting = new Map<string, (m: Msg) => void>();
  const onEvent = (e: ServerEvent): void => {
    if (e.type === "event" && e.msg.tag === "MSG") waiting.get(key(e.entityId))?.(e.msg);
  };
  const conns = await Promise.all(
    Array.from({ length: pairs }, async () => {
      const opts = { server: address, timeoutMs, connectTimeoutMs: timeoutMs };
      return Promise.all([SMPClient.connect(opts), SMPClient.connect({ ...opts, onEvent })]);
    }),
  );
  const connectSeconds = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  let next = 0;
  await Promise.all(
    conns.map(async ([snd, rcv]) => {
      while (next < queues) {
        const n = next++;
        const q = await rcv.createQueue();
        const sndKey = generateAuthKey("ed25519");
        await snd.secureBySender(q.sndId, sndKey);
        const body = new TextEncoder().encode(`round trip ${n}`);
        const delivered = new Promise<Msg>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`queue ${n}: no MSG within ${timeoutMs} ms`)), timeoutMs);
          waiting.set(key(q.rcvId), (m) => {
            clearTimeout(timer);
            resolve(m);
          });
        });
        await snd.sendMessage(q.sndId, body, { key: sndKey });
        const msg = await delivered;
        waiting.delete(key(q.rcvId));
        const plain = SMPClient.decryptMessage(q, msg);
        if (plain.type !== "message" || new TextDecoder().decode(plain.body) !== `round trip ${n}`) throw new Error(`queue ${n}: wrong message body`);
        if ((await rcv.ack(q.rcvId, q.rcvAuthKey, msg.msgId)) !== null) throw new Error(`queue ${n}: unexpected second message`);
      }
    }),
  );
  return { queues, connections: 2 * pairs, connectSeconds, seconds: (performance.now() - t1) / 1000, clients: conns.flat() };
}
