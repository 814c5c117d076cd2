// The durability contract at server level: once the server has answered a command (IDS, OK to
// SEND, the answer to ACK) its effect survives kill -9 of the process. A server process runs under
// concurrent senders and recipients that record every answer; it is killed at a random moment and
// restarted on the same data directory, then the queues are drained and compared with the record.
// Disk full: the server answers ERR STORE, keeps running, and what it
// acknowledged survives.
import { afterEach, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SMPClient, type RcvQueue } from "../../src/client/client.ts";
import { SMPClientError, SMPError } from "../../src/client/errors.ts";
import { decryptMsgBody } from "../../src/client/msg-body.ts";
import type { ServerEvent } from "../../src/client/connection.ts";
import { fromUtf8, utf8 } from "../../src/encoding/bytes.ts";
import type { BrokerMsg } from "../../src/protocol/broker-messages.ts";
import { spawnServer, type ServerProcess } from "../fixtures/spawn-server.ts";
import { TEST_STORE } from "./harness.ts";

type Msg = Extract<BrokerMsg, { tag: "MSG" }>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) {
    try {
      await f();
    } catch {
      // best effort
    }
  }
});

async function start(dir: string, o: Parameters<typeof spawnServer>[1] = {}): Promise<ServerProcess> {
  const s = await spawnServer(dir, o);
  cleanup.push(() => s.kill9());
  return s;
}

async function connect(s: ServerProcess, onEvent?: (e: ServerEvent) => void): Promise<SMPClient> {
  const c = await SMPClient.connect({ server: s.address, timeoutMs: 10_000, onEvent });
  cleanup.push(() => c.close());
  return c;
}

/**
 * A sender's text, or `QUOTA:<msgId>` for the marker the server appends when a SEND finds the
 * queue full (MsgStore/STM.hs:writeMsg): a real message of the queue, delivered and ACKed like
 * any other, identified by its own msgId.
 */
function bodyText(q: RcvQueue, m: Msg): string {
  const b = decryptMsgBody(q.rcvDhSecret, m.msgId, m.body);
  return b.type === "message" ? fromUtf8(b.body) : `QUOTA:${Buffer.from(m.msgId).toString("hex")}`;
}
const isQuotaMarker = (t: string) => t.startsWith("QUOTA:");

/** GET + ACK until empty: every message left in the queue, in order. */
async function drain(c: SMPClient, q: RcvQueue): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const m = await c.getMessage(q.rcvId, q.rcvAuthKey);
    if (m === null) return out;
    out.push(bodyText(q, m));
    await c.ack(q.rcvId, q.rcvAuthKey, m.msgId);
  }
}

describe("kill -9 under load", () => {
  test("acknowledged sends are delivered exactly once more, acknowledged ACKs never again, every IDS queue exists", async () => {
    const dir = mkdtempSync(join(tmpdir(), "smp-kill-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    // A small quota, so queues fill up and the quota marker path runs too (it did on a busy machine).
    const quota = { store: { msgQueueQuota: 16 } };
    const srv = await start(dir, quota);

    const QUEUES = 12;
    const setup = await connect(srv);
    const queues: RcvQueue[] = [];
    for (let i = 0; i < QUEUES; i++) queues.push(await setup.createQueue({ subMode: "C" }));
    setup.close();

    /** Per queue: bodies the server answered OK to; bodies ACKed (sent) and ACKs it answered. */
    const sentOk = queues.map(() => new Set<string>());
    const ackSent = queues.map(() => new Set<string>());
    const acked = queues.map(() => new Set<string>());
    const idsQueues: RcvQueue[] = [...queues];
    let stop = false;
    const errors: string[] = [];
    const transient = (e: unknown) => e instanceof SMPClientError || (e instanceof SMPError && e.err.type === "QUOTA");

    // Recipients: each subscribes to half of the queues and ACKs every MSG it gets.
    let subscribed = 0; // recipients done subscribing: the kill waits for both (a SUB it cut would fail the run)
    const recipient = async (part: number) => {
      const mine = queues.map((q, i) => ({ q, i })).filter(({ i }) => i % 2 === part);
      const chains = new Map<string, Promise<void>>();
      const handle = async (q: RcvQueue, i: number, first: Msg) => {
        let m: Msg | null = first;
        while (m !== null && !stop) {
          const text = bodyText(q, m);
          if (Math.random() < 0.3) await sleep(2); // slower than the senders: queues fill up
          ackSent[i]!.add(text);
          const next: Msg | null = await c.ack(q.rcvId, q.rcvAuthKey, m.msgId);
          acked[i]!.add(text); // the server answered this ACK
          m = next;
        }
      };
      const c: SMPClient = await connect(srv, (e) => {
        if (e.type !== "event" || e.msg.tag !== "MSG") return;
        const at = mine.find(({ q }) => Buffer.compare(Buffer.from(q.rcvId), Buffer.from(e.entityId)) === 0);
        if (at === undefined) return;
        const key = String(at.i);
        const prev = chains.get(key) ?? Promise.resolve();
        chains.set(key, prev.then(() => handle(at.q, at.i, e.msg as Msg)).catch((err) => void (transient(err) || errors.push(String(err)))));
      });
      for (const { q } of mine) await c.subscribe(q.rcvId, q.rcvAuthKey);
      subscribed++;
      while (!stop && c.isOpen) await sleep(20);
    };

    // Senders: each sends numbered messages round-robin over the queues, 4 in flight per
    // connection (one per lane, so the messages of one lane to one queue stay in order).
    const sender = async (s: number) => {
      const c = await connect(srv);
      await Promise.all([0, 1, 2, 3].map((lane) => senderLane(c, s, lane)));
    };
    const senderLane = async (c: SMPClient, s: number, lane: number) => {
      for (let seq = 0; !stop && c.isOpen; seq++) {
        const i = (seq * 7 + s * 4 + lane) % QUEUES;
        const text = `s${s}${lane}-${seq}`;
        try {
          await c.sendMessage(queues[i]!.sndId, utf8(text));
          sentOk[i]!.add(text);
        } catch (e) {
          if (!transient(e)) errors.push(String(e));
          if (!c.isOpen) return;
          if (e instanceof SMPError) await sleep(5); // QUOTA: let the recipients catch up
        }
      }
    };

    // A creator: queues made during the run (IDS answered = must exist after the restart).
    const creator = async () => {
      const c = await connect(srv);
      while (!stop && c.isOpen) {
        try {
          idsQueues.push(await c.createQueue({ subMode: "C" }));
        } catch (e) {
          if (!transient(e)) errors.push(String(e));
        }
      }
    };

    const work = [recipient(0), recipient(1), sender(0), sender(1), sender(2), sender(3), creator()];
    // Kill once enough was acknowledged to be worth checking (a count, not a time: a loaded machine
    // only takes longer), then at a random moment after that.
    const total = (sets: Set<string>[]) => sets.reduce((a, x) => a + x.size, 0);
    while ((total(sentOk) <= 30 || total(acked) <= 10 || subscribed < 2) && errors.length === 0) await sleep(20);
    await sleep(Math.floor(Math.random() * 1500));
    await srv.kill9();
    stop = true;
    await Promise.all(work);
    expect(errors).toEqual([]);

    const totalSent = total(sentOk);
    const totalAcked = total(acked);
    expect(totalSent).toBeGreaterThan(30);
    expect(totalAcked).toBeGreaterThan(10);

    // Restart on the same data directory.
    const t0 = performance.now();
    const srv2 = await start(dir, quota);
    const restartMs = performance.now() - t0;
    const c = await connect(srv2);

    // Every queue the server answered IDS for still exists (SUB would be AUTH otherwise).
    const subs = await c.subscribeMany(idsQueues.map((q) => ({ rcvId: q.rcvId, key: q.rcvAuthKey })));
    expect(subs.filter((r) => r.error !== undefined).map((r) => String(r.error))).toEqual([]);
    c.close();

    const r = await connect(srv2);
    let redelivered = 0;
    let quotaMarkers = 0;
    for (let i = 0; i < QUEUES; i++) {
      const q = queues[i]!;
      const after = await drain(r, q);
      const count = new Map<string, number>();
      for (const t of after) count.set(t, (count.get(t) ?? 0) + 1);
      // Nothing appears twice, nothing that was never sent. A full queue legitimately ends with
      // one quota marker: nothing is written after it until the queue is drained (STM.hs:writeMsg).
      for (const [t, n] of count) {
        expect(n).toBe(1);
        expect(t).toMatch(/^(s\d\d-\d+|QUOTA:[0-9a-f]{48})$/);
      }
      const markers = after.filter(isQuotaMarker);
      expect(markers.length).toBeLessThanOrEqual(1);
      expect(after.findIndex(isQuotaMarker)).toBe(markers.length === 0 ? -1 : after.length - 1);
      // Acknowledged to the sender and never ACKed by the recipient: delivered exactly once more.
      // (An ACK sent without an answer before the kill may or may not have been applied.)
      const neverAcked = [...sentOk[i]!].filter((t) => !ackSent[i]!.has(t));
      expect(neverAcked.filter((t) => count.get(t) !== 1)).toEqual([]);
      // Acknowledged as received: never delivered again.
      for (const t of acked[i]!) expect(count.has(t)).toBe(false);
      // Per sender lane, the queue still holds the messages in the order they were sent.
      const seqs = new Map<string, number>();
      for (const t of after.filter((x) => !isQuotaMarker(x))) {
        const [s, n] = t.split("-") as [string, string];
        expect(Number(n)).toBeGreaterThan(seqs.get(s) ?? -1);
        seqs.set(s, Number(n));
      }
      redelivered += after.length;
      quotaMarkers += markers.length;
    }
    console.log(
      `kill -9: ${totalSent} sends acknowledged, ${totalAcked} ACKs acknowledged, ${idsQueues.length} queues; ` +
        `after restart (${restartMs.toFixed(0)} ms): ${redelivered} messages delivered (${quotaMarkers} quota markers), all queues present`,
    );
  }, 30_000);
});

/** A small disk to fill needs a tmpfs mount (root / CAP_SYS_ADMIN); without it the test is reported as skipped. */
function canMountTmpfs(): boolean {
  const probe = mkdtempSync(join(tmpdir(), "smp-mount-probe-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", probe], { stdio: "ignore" });
    execFileSync("umount", [probe], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

// A full disk under the SQLite file (a tmpfs in the data directory); PostgreSQL's disk is not the
// server's (its `disk_full` maps to StoreError("full") like SQLite's, src/store/postgres/errors.ts).
describe("disk full", () => {
  test.skipIf(!canMountTmpfs() || TEST_STORE === "postgres")("the server answers ERR STORE, keeps running, and acknowledged messages survive", async () => {
    const dir = mkdtempSync(join(tmpdir(), "smp-full-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const mnt = join(dir, "data");
    mkdirSync(mnt);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=3m", "tmpfs", mnt], { stdio: "ignore" });
    cleanup.push(() => execFileSync("umount", ["-l", mnt], { stdio: "ignore" }));
    const srv = await start(mnt, { store: { msgQueueQuota: 100_000 } });
    const c = await connect(srv);
    const q = await c.createQueue({ subMode: "C" });
    const acknowledged: string[] = [];
    let failure: unknown = null;
    const big = "x".repeat(12_000);
    for (let i = 0; i < 2000 && failure === null; i++) {
      const text = `${i}:${big}`;
      try {
        await c.sendMessage(q.sndId, utf8(text));
        acknowledged.push(text);
      } catch (e) {
        failure = e;
      }
    }
    // ERR STORE whether the write or its commit failed: the connection is not dropped.
    expect(failure).toBeInstanceOf(SMPError);
    expect((failure as SMPError).err.type).toBe("STORE");
    expect(acknowledged.length).toBeGreaterThan(20);

    // Still running: a new connection is served (PING needs no disk).
    const c2 = await connect(srv);
    await c2.ping();
    expect((await srv.mem()).failures).toBe(0);

    // Make room, kill -9, restart on the same directory: everything acknowledged is there, in order.
    execFileSync("mount", ["-o", "remount,size=64m", mnt], { stdio: "ignore" });
    await srv.kill9();
    const srv2 = await start(mnt);
    const r = await connect(srv2);
    const after = await drain(r, q);
    expect(after.slice(0, acknowledged.length)).toEqual(acknowledged);
    // At most the one write in flight when the disk filled may also have made it.
    expect(after.length - acknowledged.length).toBeLessThanOrEqual(1);
    console.log(`disk full: ${acknowledged.length} messages acknowledged before ERR STORE; all delivered after restart`);
  }, 30_000);
});
