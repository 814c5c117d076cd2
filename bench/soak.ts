/**
 * Soak: the server (its own process, `bun src/cli/main.ts` or the compiled binary with --binary)
 * beside hostile and careless peers for a configurable time, while one normal client keeps doing
 * SEND → MSG → ACK round trips. Every report interval it prints the normal client's latency
 * p50/p99 over that interval, the server's RSS and CPU, and what the peers did — so a regression
 * in availability (latency growing, memory creeping, CPU spinning) shows in the trend.
 *
 * Peers (all on 127.0.0.1):
 *   slow     SMP connections that send each PING block dribbled at --slow-rate bytes/s;
 *   stalled  half bare TCP connections that never start TLS, half SMP connections that send half
 *            a block and stop; each reconnects when the server closes it (TLS setup timeout 60 s,
 *            partial_block_timeout);
 *   churn    loops of connect → NEW → SEND → DEL → close, --churn of them in parallel.
 *
 *   bun bench/soak.ts [--duration 600] [--report 60] [--slow 20] [--slow-rate 1024] [--stalled 50]
 *                     [--churn 2] [--rate 10] [--ulimit 0] [--binary]
 *
 * --ulimit N runs the server under `ulimit -n N`: with more stalled peers than that (e.g. --ulimit 256
 * --stalled 300) it is out of descriptors, and the CPU column shows whether it sleeps or spins on a
 * failing accept() (a spin is ~100 % of one core; test/server/availability.test.ts checks the state).
 *
 * --duration and --report are seconds; --rate is normal round trips per second. Not a test: no
 * thresholds, only numbers. Linux only (/proc).
 */
import { SMPClient } from "../src/client/client.ts";
import { TransmissionEncoder } from "../src/client/authorize.ts";
import { generateAuthKey } from "../src/client/keys.ts";
import type { ServerEvent } from "../src/client/connection.ts";
import { connectTLSStream } from "../src/client/tls-stream.ts";
import { pad } from "../src/crypto/pad.ts";
import { utf8 } from "../src/encoding/bytes.ts";
import { Writer } from "../src/encoding/writer.ts";
import { BatchPacker } from "../src/protocol/batch.ts";
import type { BrokerMsg } from "../src/protocol/broker-messages.ts";
import { parseServerStr } from "../src/protocol/server-address.ts";
import { supportedClientSMPRelayVRange } from "../src/protocol/versions.ts";
import { BLOCK_SIZE, BlockTransport } from "../src/transport/block.ts";
import { clientHandshake } from "../src/transport/client-handshake.ts";
import type { ClientAuth, SmpHandle } from "../src/transport/handle.ts";
import { Histogram } from "./lib/histogram.ts";
import { memory, threadCpu } from "./lib/proc.ts";
import { ensureBinary, initServer, removeServerDirs, ROOT, ServerProcess } from "./lib/server.ts";
import { flag, numberArg } from "./lib/args.ts";

const DURATION_S = numberArg("duration", 600);
const REPORT_S = numberArg("report", 60);
const SLOW = numberArg("slow", 20);
const SLOW_RATE = numberArg("slow-rate", 1024);
const STALLED = numberArg("stalled", 50);
const CHURN = numberArg("churn", 2);
const RATE = numberArg("rate", 10);
const ULIMIT = numberArg("ulimit", 0);

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
let running = true;
const counts = { slowBlocks: 0, slowClosed: 0, stalledOpened: 0, stalledClosed: 0, churnCycles: 0, churnErrors: 0, normalErrors: 0 };

// ---------------------------------------------------------------- the server

const command = flag("binary") ? [ensureBinary("x64", (s) => console.log(s))] : [process.execPath, `${ROOT}/src/cli/main.ts`];
const spec = initServer(command, 10_000);
const server = await ServerProcess.start(spec, { gcLog: false, ...(ULIMIT > 0 && { ulimitFiles: ULIMIT }) });
const addr = parseServerStr(spec.address).server;
console.log(`server pid ${server.pid} on port ${spec.port}; ${DURATION_S} s, report every ${REPORT_S} s`);
console.log(`peers: ${SLOW} slow (${SLOW_RATE} B/s), ${STALLED} stalled, ${CHURN} churning; normal client ${RATE} round trips/s`);

// ---------------------------------------------------------------- raw SMP connections (slow, stalled)

/** An SMP session without block encryption, so a block can be written in pieces. */
async function rawSession(): Promise<SmpHandle<ClientAuth>> {
  const stream = await connectTLSStream("127.0.0.1", spec.port, { keyHash: addr.keyHash, timeoutMs: 30_000 });
  return clientHandshake(new BlockTransport(stream), { keyHash: addr.keyHash, versionRange: supportedClientSMPRelayVRange, proxyServer: false, agreeSecret: false });
}

function pingBlock(h: SmpHandle<ClientAuth>, n: number): Uint8Array {
  const enc = new TransmissionEncoder(h.params, h.auth?.peerServerPubKey ?? null, null);
  const w = new Writer(17000);
  enc.encode(w, utf8(`p${n}`), new Uint8Array(0), { tag: "PING" }, null);
  const packer = new BatchPacker();
  packer.add(w.view_());
  return pad(packer.payload(), BLOCK_SIZE);
}

async function slowPeer(): Promise<void> {
  while (running) {
    try {
      const h = await rawSession();
      let n = 0;
      const chunk = Math.max(1, Math.floor(SLOW_RATE / 10));
      while (running && !h.transport.closed) {
        const block = pingBlock(h, n++);
        for (let off = 0; off < block.length && running && !h.transport.closed; off += chunk) {
          h.transport.stream.write(block.subarray(off, Math.min(block.length, off + chunk)));
          await sleep(100);
        }
        if (h.transport.closed) break;
        if ((await h.readPayload()) === null) break;
        counts.slowBlocks++;
      }
      h.close();
      if (running) counts.slowClosed++;
    } catch {
      await sleep(1000);
    }
  }
}

async function stalledPeer(i: number): Promise<void> {
  while (running) {
    try {
      counts.stalledOpened++;
      if (i % 2 === 0) {
        // Never starts TLS: held until the server's TLS setup timeout.
        await new Promise<void>((resolve) => {
          void Bun.connect({ hostname: "127.0.0.1", port: spec.port, socket: { data() {}, close: () => resolve(), error: () => resolve() } }).catch(() => resolve());
        });
      } else {
        // Half a block, then silence: held until partial_block_timeout.
        const h = await rawSession();
        h.transport.stream.write(pingBlock(h, 0).subarray(0, BLOCK_SIZE / 2));
        await h.readPayload();
      }
      counts.stalledClosed++;
    } catch {
      await sleep(1000);
    }
  }
}

// ---------------------------------------------------------------- churn

async function churnPeer(): Promise<void> {
  while (running) {
    let c: SMPClient | null = null;
    try {
      c = await SMPClient.connect({ server: spec.address, timeoutMs: 30_000 });
      const q = await c.createQueue();
      const k = generateAuthKey("ed25519");
      await c.secureBySender(q.sndId, k);
      await c.sendMessage(q.sndId, utf8("churn"), { key: k });
      await c.deleteQueue(q.rcvId, q.rcvAuthKey);
      counts.churnCycles++;
    } catch {
      counts.churnErrors++;
      await sleep(500);
    } finally {
      c?.close();
    }
  }
}

// ---------------------------------------------------------------- the normal client

type Msg = Extract<BrokerMsg, { tag: "MSG" }>;
let hist = new Histogram();
async function normalClient(): Promise<void> {
  let deliver: ((m: Msg) => void) | null = null;
  const onEvent = (e: ServerEvent) => {
    if (e.type === "event" && e.msg.tag === "MSG") deliver?.(e.msg);
  };
  const rcv = await SMPClient.connect({ server: spec.address, timeoutMs: 30_000, onEvent });
  const snd = await SMPClient.connect({ server: spec.address, timeoutMs: 30_000 });
  const q = await rcv.createQueue();
  const k = generateAuthKey("ed25519");
  await snd.secureBySender(q.sndId, k);
  const period = 1000 / RATE;
  let n = 0;
  while (running) {
    const t0 = performance.now();
    try {
      const got = new Promise<Msg>((resolve) => (deliver = resolve));
      await snd.sendMessage(q.sndId, utf8(`normal ${n++}`), { key: k });
      const m = await got;
      await rcv.ack(q.rcvId, q.rcvAuthKey, m.msgId);
      hist.add(performance.now() - t0);
    } catch {
      counts.normalErrors++;
    }
    const left = period - (performance.now() - t0);
    if (left > 0) await sleep(left);
  }
  rcv.close();
  snd.close();
}

// ---------------------------------------------------------------- run and report

const peers: Promise<void>[] = [];
for (let i = 0; i < SLOW; i++) peers.push(slowPeer());
for (let i = 0; i < STALLED; i++) peers.push(stalledPeer(i));
for (let i = 0; i < CHURN; i++) peers.push(churnPeer());
const normal = normalClient();

const t0 = performance.now();
let lastCpu = threadCpu(server.pid).totalNs;
let lastT = t0;
console.log("minute  rtt p50 ms  rtt p99 ms  round trips  server RSS MB  server CPU %  slow blocks/closed  stalled opened/closed  churn cycles/errors  normal errors");
for (let k = 1; performance.now() - t0 < DURATION_S * 1000; k++) {
  await sleep(Math.min(REPORT_S * 1000, DURATION_S * 1000 - (performance.now() - t0)));
  const now = performance.now();
  const cpu = threadCpu(server.pid).totalNs;
  const cpuPct = ((cpu - lastCpu) / 1e6 / (now - lastT)) * 100;
  lastCpu = cpu;
  lastT = now;
  const h = hist;
  hist = new Histogram();
  const rss = memory(server.pid).rssKb / 1024;
  console.log(
    `${((now - t0) / 60000).toFixed(1).padStart(6)}  ${h.percentile(50).toFixed(2).padStart(10)}  ${h.percentile(99).toFixed(2).padStart(10)}  ${String(h.total).padStart(11)}  ` +
      `${rss.toFixed(1).padStart(13)}  ${cpuPct.toFixed(1).padStart(12)}  ${`${counts.slowBlocks}/${counts.slowClosed}`.padStart(18)}  ` +
      `${`${counts.stalledOpened}/${counts.stalledClosed}`.padStart(21)}  ${`${counts.churnCycles}/${counts.churnErrors}`.padStart(19)}  ${String(counts.normalErrors).padStart(13)}`,
  );
}
running = false;
const code = await server.stop();
await Promise.race([Promise.all([...peers, normal]), sleep(5000)]);
removeServerDirs(spec);
console.log(`server exited with ${code}`);
process.exit(0);
