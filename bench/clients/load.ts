/**
 * SMP load worker: K sender connections → K recipient connections, Q queues per pair, each queue
 * kept W messages deep. Every queue is secured by its sender (SKEY), so each SEND is signed and
 * each delivery is acknowledged (ACK) as a real client does: SEND → OK, MSG → ACK → OK (or the
 * next MSG). Latency is from SEND to the recipient receiving that MSG.
 *
 *   bun bench/clients/load.ts ADDRESS PAIRS QUEUES WINDOW BODY_BYTES
 *
 * ADDRESS may list several nodes of one cluster as ADDR1|ADDR2|… (bench/nodes.ts): pair i's
 * sender connects to node i, its recipient to node i + 1 (modulo the count), so with several
 * nodes every message crosses from one node to another and the connections are spread evenly.
 *
 * Commands on stdin: go (start sending), mark (start counting), stop (report and stop sending).
 */
import { SMPClient, type RcvQueue } from "../../src/client/client.ts";
import type { AuthKey } from "../../src/client/authorize.ts";
import type { ServerEvent } from "../../src/client/connection.ts";
import { generateAuthKey } from "../../src/client/keys.ts";
import type { BrokerMsg } from "../../src/protocol/broker-messages.ts";
import { commands, emit, fail } from "../lib/child.ts";
import { Histogram } from "../lib/histogram.ts";

const [addressArg, pairsArg, queuesArg, windowArg, bodyArg] = process.argv.slice(2);
const addresses = addressArg!.split("|");
const PAIRS = Number(pairsArg);
const QUEUES = Number(queuesArg);
const WINDOW = Number(windowArg);
const body = crypto.getRandomValues(new Uint8Array(Number(bodyArg)));

interface Queue {
  readonly rcv: SMPClient;
  readonly snd: SMPClient;
  readonly q: RcvQueue;
  readonly sndKey: AuthKey;
  /** Send times of the messages not yet delivered, oldest first (delivery is in order). */
  readonly sentAt: number[];
}

const byRcvId = new Map<string, Queue>();
const key = (id: Uint8Array): string => Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString("latin1");

let sending = false;
let counting = false;
let delivered = 0;
let hist = new Histogram();
let markAt = 0;
let markCpu = process.cpuUsage();

function onError(e: unknown): void {
  if (sending) fail(e);
}

function send(qu: Queue): void {
  qu.sentAt.push(performance.now());
  qu.snd.sendMessage(qu.q.sndId, body, { key: qu.sndKey }).catch(onError);
}

function onDelivered(qu: Queue, msg: Extract<BrokerMsg, { tag: "MSG" }>): void {
  const sentAt = qu.sentAt.shift();
  if (counting && sentAt !== undefined) {
    delivered++;
    hist.add(performance.now() - sentAt);
  }
  qu.rcv.ack(qu.q.rcvId, qu.q.rcvAuthKey, msg.msgId).then((next) => {
    if (next !== null) onDelivered(qu, next);
  }, onError);
  if (sending) send(qu);
}

function onEvent(e: ServerEvent): void {
  if (e.type !== "event" || e.msg.tag !== "MSG") {
    if (sending) fail(new Error(`unexpected event ${e.type} ${e.type === "event" ? e.msg.tag : ""}`));
    return;
  }
  const qu = byRcvId.get(key(e.entityId));
  if (qu !== undefined) onDelivered(qu, e.msg);
}

async function setup(): Promise<void> {
  await Promise.all(
    Array.from({ length: PAIRS }, async (_, i) => {
      const [snd, rcv] = await Promise.all([
        SMPClient.connect({ server: addresses[i % addresses.length]! }),
        SMPClient.connect({ server: addresses[(i + 1) % addresses.length]!, onEvent }),
      ]);
      for (let i = 0; i < QUEUES; i++) {
        const q = await rcv.createQueue();
        const sndKey = generateAuthKey("ed25519");
        await snd.secureBySender(q.sndId, sndKey);
        byRcvId.set(key(q.rcvId), { rcv, snd, q, sndKey, sentAt: [] });
      }
    }),
  );
}

try {
  await setup();
} catch (e) {
  fail(e);
}
emit({ ready: true, queues: byRcvId.size });

for await (const cmd of commands()) {
  if (cmd === "go") {
    sending = true;
    for (const qu of byRcvId.values()) for (let i = 0; i < WINDOW; i++) send(qu);
  } else if (cmd === "mark") {
    counting = true;
    delivered = 0;
    hist = new Histogram();
    markAt = performance.now();
    markCpu = process.cpuUsage();
  } else if (cmd === "stop") {
    const seconds = (performance.now() - markAt) / 1000;
    const cpu = process.cpuUsage(markCpu);
    counting = false;
    sending = false;
    emit({ delivered, seconds, hist: hist.counts, cpuMs: (cpu.user + cpu.system) / 1000 });
  }
}
process.exit(0);
