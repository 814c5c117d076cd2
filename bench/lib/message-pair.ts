/**
 * One sender and one recipient connection around one secured queue, for the benchmarks that
 * time a single conversation: each round trip is SEND (signed) → the recipient's MSG → ACK
 * answered, and the next one starts only then. The two connections may go to different nodes
 * of one cluster (bench/clients/latency.ts) or to the same server (bench/clients/rtt.ts).
 */
import { SMPClient } from "../../src/client/client.ts";
import type { ServerEvent } from "../../src/client/connection.ts";
import { generateAuthKey } from "../../src/client/keys.ts";
import type { BrokerMsg } from "../../src/protocol/broker-messages.ts";

type Msg = Extract<BrokerMsg, { tag: "MSG" }>;

/** Milliseconds from just before the SEND. */
export interface RoundTrip {
  /** Until the recipient received the MSG. */
  readonly delivered: number;
  /** Until the ACK was answered. */
  readonly acked: number;
}

export interface MessagePair {
  roundTrip(body: Uint8Array): Promise<RoundTrip>;
  close(): void;
}

export async function openPair(sndAddress: string, rcvAddress: string): Promise<MessagePair> {
  let onMsg: ((m: Msg) => void) | null = null;
  const onEvent = (e: ServerEvent): void => {
    if (e.type === "event" && e.msg.tag === "MSG") onMsg?.(e.msg);
  };
  const [snd, rcv] = await Promise.all([SMPClient.connect({ server: sndAddress }), SMPClient.connect({ server: rcvAddress, onEvent })]);
  const q = await rcv.createQueue();
  const sndKey = generateAuthKey("ed25519");
  await snd.secureBySender(q.sndId, sndKey);
  return {
    async roundTrip(body: Uint8Array): Promise<RoundTrip> {
      let deliveredAt = 0;
      const delivered = new Promise<Msg>((resolve) => {
        onMsg = (m) => {
          deliveredAt = performance.now();
          resolve(m);
        };
      });
      const t0 = performance.now();
      await snd.sendMessage(q.sndId, body, { key: sndKey });
      const msg = await delivered;
      if ((await rcv.ack(q.rcvId, q.rcvAuthKey, msg.msgId)) !== null) throw new Error("unexpected second message");
      return { delivered: deliveredAt - t0, acked: performance.now() - t0 };
    },
    close(): void {
      snd.close();
      rcv.close();
    },
  };
}
