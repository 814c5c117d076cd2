// A subscribed recipient taking messages as a real client does: the first as an event, each
// next one as the answer to the ACK of the previous (Server.hs:acknowledgeMsg), or as an event
// when it arrives after that ACK was answered OK.
import type { SMPClient } from "../../src/client/client.ts";
import type { BrokerMsg } from "../../src/protocol/broker-messages.ts";
import { asMsg, CMD, decText, nextEvent, sr, type Msg } from "../server/helpers.ts";

interface Queue {
  readonly rcvId: Uint8Array;
  readonly rcvAuthKey: Parameters<typeof sr>[1];
  readonly rcvDhSecret: Uint8Array;
}

/**
 * Receives and acknowledges `n` messages of `q` (the first possibly given: SUB's answer), returns
 * their texts in arrival order. Waits for each event at most `timeoutMs`.
 */
export async function receiveAcking(c: SMPClient, q: Queue, n: number, timeoutMs: number, first?: BrokerMsg): Promise<string[]> {
  const out: string[] = [];
  let m: Msg | null = first === undefined || first.tag !== "MSG" ? null : first;
  let i = 0;
  while (out.length < n) {
    if (m === null) m = asMsg(await nextEvent(c, q.rcvId, timeoutMs));
    out.push(decText(q, m));
    const r = await sr(c, q.rcvAuthKey, `ack${i++}`, q.rcvId, CMD.ack(m.msgId));
    m = r.tag === "MSG" ? r : null;
    if (r.tag !== "MSG" && r.tag !== "OK") throw new Error(`ACK answered ${r.tag}`);
  }
  if (m !== null) throw new Error(`more than ${n} messages: ${decText(q, m)}`);
  return out;
}
