/**
 * Issue 18 with three real node processes on one PostgreSQL schema (each on its own port):
 * notifications, service subscriptions and their takeover across nodes, and kill -9 of a node
 * under load — nothing a sender was told OK about is lost, the killed node's recipient
 * resubscribes on another node and gets every pending message in order.
 */
import { describe, expect, test } from "bun:test";
import { SMPClient, type NotifierCreds } from "../../src/client/client.ts";
import { SMPClientError } from "../../src/client/errors.ts";
import { generateAuthKey } from "../../src/client/keys.ts";
import type { AuthKey } from "../../src/client/authorize.ts";
import type { BrokerMsg } from "../../src/protocol/broker-messages.ts";
import { queueIdsHash } from "../../src/protocol/ids-hash.ts";
import { asMsg, CMD, createAndSecureQueue, decText, expectNoEvent, nextEvent, OK, send, sndKeys, sokNone, sr } from "../server/helpers.ts";
import { connectService, selfSignedServiceCert } from "../server/service-certs.ts";
import { clusterFixture, HAVE_PG, type NodeProcess } from "./harness.ts";

/** Cross-node events: generous for a loaded 2-core machine (an upper bound, never a measurement). */
const CROSS_MS = 15_000;
const TEST_MS = 120_000;
const EMPTY = new Uint8Array(0);

/** The next event of `nc` is the NMSG of notifier `ntf` for message `msgId` (its encrypted metadata names it). */
async function expectNotified(nc: SMPClient, ntf: NotifierCreds, msgId: Uint8Array): Promise<void> {
  const nm = await nextEvent(nc, ntf.notifierId, CROSS_MS);
  if (nm.tag !== "NMSG") throw new Error(`expected NMSG, got ${nm.tag}`);
  expect(SMPClient.decryptNotification(ntf, nm).msgId).toEqual(msgId);
}

if (!HAVE_PG) console.warn("SKIP test/cluster/three-nodes.test.ts: no PostgreSQL (SMP_TEST_PG_URI)");

describe.skipIf(!HAVE_PG)("three nodes, one PostgreSQL store", () => {
  let a: NodeProcess;
  let b: NodeProcess;
  let c: NodeProcess;
  const { on, keep } = clusterFixture(3, TEST_MS, (n) => ([a, b, c] = n as [NodeProcess, NodeProcess, NodeProcess]));

  test(
    "NMSG across nodes: recipient on A, notifier subscribed on B, sender on C; NSUB on C takes the notifier over with END",
    async () => {
      const [r, n1, s] = [await on(a), await on(b), await on(c)];
      const { sKey, sPub } = sndKeys();
      const q = await createAndSecureQueue(r, sPub);
      const ntf = await r.enableNotifications(q.rcvId, q.rcvAuthKey);
      expect(await n1.subscribeNotifications(ntf.notifierId, ntf.notifierKey)).toBeNull();
      expect(await sr(s, sKey, "1", q.sndId, send("notify me", true))).toEqual(OK);
      const m = asMsg(await nextEvent(r, q.rcvId, CROSS_MS));
      expect(decText(q, m)).toBe("notify me");
      await expectNotified(n1, ntf, m.msgId);
      expect(await sr(r, q.rcvAuthKey, "2", q.rcvId, CMD.ack(m.msgId))).toEqual(OK);

      // A second notifier connection on C: the one on B gets END, notifications follow to C.
      const n2 = await on(c);
      expect(await n2.subscribeNotifications(ntf.notifierId, ntf.notifierKey)).toBeNull();
      expect(await nextEvent(n1, ntf.notifierId, CROSS_MS)).toEqual({ tag: "END" });
      expect(await sr(s, sKey, "3", q.sndId, send("again", true))).toEqual(OK);
      const m2 = asMsg(await nextEvent(r, q.rcvId, CROSS_MS));
      await expectNotified(n2, ntf, m2.msgId);
      await expectNoEvent(n1, 300);
      // A message without the notification flag notifies nobody.
      expect(await sr(r, q.rcvAuthKey, "4", q.rcvId, CMD.ack(m2.msgId))).toEqual(OK);
      expect(await sr(s, sKey, "5", q.sndId, send("quiet", false))).toEqual(OK);
      expect(decText(q, await nextEvent(r, q.rcvId, CROSS_MS))).toBe("quiet");
      await expectNoEvent(n2, 300);
    },
    TEST_MS,
  );

  test(
    "SUBS takeover across nodes: the service's connection on B takes its queues from A with ENDS (count, hash); deliveries move to B",
    async () => {
      const cert = selfSignedServiceCert();
      const h = await on(c);
      const sh1 = keep(await connectService(a.address, cert));
      const serviceId = sh1.serviceId!;
      // Queues created by the service's session are associated with the service (and subscribed).
      const queues: { q: Awaited<ReturnType<SMPClient["createQueue"]>>; sKey: AuthKey }[] = [];
      for (let i = 0; i < 2; i++) {
        const q = await sh1.createQueue();
        const sKey = generateAuthKey("ed25519");
        await h.secureBySender(q.sndId, sKey);
        queues.push({ q, sKey });
      }
      const [q1, q2] = queues as [(typeof queues)[0], (typeof queues)[0]];
      expect(q1.q.serviceId).toEqual(serviceId);
      expect(await sr(h, q1.sKey, "1", q1.q.sndId, send("to A"))).toEqual(OK);
      const onA = asMsg(await nextEvent(sh1, q1.q.rcvId, CROSS_MS));
      expect(decText(q1.q, onA)).toBe("to A");
      expect(await sr(sh1, q1.q.rcvAuthKey, "2", q1.q.rcvId, CMD.ack(onA.msgId))).toEqual(OK);

      const sh2 = keep(await connectService(b.address, cert));
      expect(sh2.serviceId).toEqual(serviceId);
      const idsHash = queueIdsHash([q1.q.rcvId, q2.q.rcvId]);
      expect(await sh2.subscribeService(2, idsHash)).toEqual({ count: 2, idsHash });
      expect(await nextEvent(sh1, serviceId, CROSS_MS)).toEqual({ tag: "ENDS", count: 2, idsHash });
      expect(await nextEvent(sh2, EMPTY, CROSS_MS)).toEqual({ tag: "ALLS" });
      expect(await sr(h, q2.sKey, "3", q2.q.sndId, send("to B"))).toEqual(OK);
      expect(decText(q2.q, await nextEvent(sh2, q2.q.rcvId, CROSS_MS))).toBe("to B");
      await expectNoEvent(sh1, 300);

      // An individual SUB on C takes one queue from the service on B: END to the service's connection.
      const rc = await on(c);
      expect(await rc.subscribe(q1.q.rcvId, q1.q.rcvAuthKey)).toBeNull();
      expect(await nextEvent(sh2, q1.q.rcvId, CROSS_MS)).toEqual({ tag: "END" });
      expect(await sr(h, q1.sKey, "4", q1.q.sndId, send("to C"))).toEqual(OK);
      expect(decText(q1.q, await nextEvent(rc, q1.q.rcvId, CROSS_MS))).toBe("to C");
    },
    TEST_MS,
  );

  test(
    "NSUBS takeover across nodes: the notifier service's connection on C takes over from A with ENDS",
    async () => {
      const cert = selfSignedServiceCert();
      const [r, s] = [await on(b), await on(b)];
      const { sKey, sPub } = sndKeys();
      const q = await createAndSecureQueue(r, sPub);
      const ntf = await r.enableNotifications(q.rcvId, q.rcvAuthKey);
      const nh1 = keep(await connectService(a.address, cert, "N"));
      const serviceId = nh1.serviceId!;
      expect(await nh1.subscribeNotifications(ntf.notifierId, ntf.notifierKey)).toEqual(serviceId);
      const nh2 = keep(await connectService(c.address, cert, "N"));
      const idsHash = queueIdsHash([ntf.notifierId]);
      expect(await nh2.subscribeNtfService(1, idsHash)).toEqual({ count: 1, idsHash });
      expect(await nextEvent(nh1, serviceId, CROSS_MS)).toEqual({ tag: "ENDS", count: 1, idsHash });
      expect(await sr(s, sKey, "1", q.sndId, send("n", true))).toEqual(OK);
      const m = asMsg(await nextEvent(r, q.rcvId, CROSS_MS));
      await expectNotified(nh2, ntf, m.msgId);
      await expectNoEvent(nh1, 300);
    },
    TEST_MS,
  );

  // Last: it kills node C.
  test(
    "kill -9 of a node under load: every message a sender got OK for reaches the recipient, which resubscribes on another node, in order, exactly once after its last ACK",
    async () => {
      const QUEUES = 4; // senders: queues 0, 2 on A, queues 1, 3 on B
      const BEFORE = 15; // messages each queue's recipient takes before the kill
      const AFTER = 25; // messages each sender still gets OK for after the kill
      const BACKLOG = 20; // undelivered messages a sender allows before the kill (BACKLOG + AFTER < the quota of 128)
      const r = await on(c);
      const senders = [await on(a), await on(b)];
      interface Lane {
        readonly q: Awaited<ReturnType<SMPClient["createQueue"]>>;
        readonly sKey: AuthKey;
        readonly snd: SMPClient;
        /** Texts a SEND was answered OK for, in order. */
        readonly acked: string[];
        /** Texts the recipient received, in order (redeliveries included). */
        readonly got: string[];
        sendErrors: string[];
      }
      const lanes: Lane[] = [];
      for (let i = 0; i < QUEUES; i++) {
        const { sKey, sPub } = sndKeys();
        const q = await createAndSecureQueue(r, sPub);
        lanes.push({ q, sKey, snd: senders[i % 2]!, acked: [], got: [], sendErrors: [] });
      }
      const byRcv = (id: Uint8Array): Lane => lanes.find((l) => Buffer.compare(l.q.rcvId, id) === 0)!;

      // Senders: one SEND in flight per queue, continuously, until told to stop.
      let killedAt: number[] | null = null; // acked count of each lane at the kill
      let stopSending = false;
      const sending = lanes.map(async (l, li) => {
        for (let i = 0; !stopSending; i++) {
          // At most BACKLOG undelivered before the kill: the queue quota (128) is never reached.
          while (killedAt === null && l.acked.length - l.got.length >= BACKLOG) await Bun.sleep(5);
          const text = `q${li}-${i}`;
          const resp: BrokerMsg | Error = await sr(l.snd, l.sKey, text, l.q.sndId, send(text)).catch((e: Error) => e);
          if (resp instanceof Error || resp.tag !== "OK") l.sendErrors.push(`${text}: ${resp instanceof Error ? resp.message : JSON.stringify(resp)}`);
          else l.acked.push(text);
          if (l.sendErrors.length > 0) return;
          if (killedAt !== null && l.acked.length >= killedAt[li]! + AFTER) return;
        }
      });

      // The recipient on C: takes and acknowledges every message until its node dies. Each queue's
      // messages are taken on a chain of their own, as a client with several connections does: one
      // loop following a busy queue's ACK → MSG answers would never come back to the other queues.
      const chains = lanes.map(() => Promise.resolve());
      let nodeGone = false;
      let acks = 0; // distinct correlation ids: ACKs of different queues are in flight together
      const takeOnC = async (l: Lane, first: BrokerMsg): Promise<void> => {
        let m: BrokerMsg | null = first;
        while (m !== null && !nodeGone) {
          const msg = asMsg(m);
          l.got.push(decText(l.q, msg));
          const ackd: BrokerMsg | Error = await sr(r, l.q.rcvAuthKey, `a${acks++}`, l.q.rcvId, CMD.ack(msg.msgId)).catch((err: Error) => err);
          if (ackd instanceof Error) nodeGone = true; // the node died mid-ACK: this message stays pending
          else m = ackd.tag === "MSG" ? ackd : null;
        }
      };
      const receiving = (async () => {
        for (;;) {
          let e;
          try {
            e = await r.nextEvent(60_000);
          } catch (err) {
            if (err instanceof SMPClientError && err.kind === "closed") return;
            throw err;
          }
          if (e.type !== "event") continue;
          const li = lanes.indexOf(byRcv(e.entityId));
          const msg = e.msg;
          chains[li] = chains[li]!.then(() => takeOnC(lanes[li]!, msg));
        }
      })();

      // Under load: the kill comes once every queue has delivered BEFORE messages to C.
      const deadline = Date.now() + 60_000; // an upper bound on waiting, for a clear failure instead of a hang
      while (lanes.some((l) => l.got.length < BEFORE)) {
        if (lanes.some((l) => l.sendErrors.length > 0)) break;
        if (Date.now() > deadline) throw new Error(`before the kill, the recipient on C got ${lanes.map((l) => l.got.length).join(", ")} messages (sent OK: ${lanes.map((l) => l.acked.length).join(", ")})`);
        await Bun.sleep(20); // waiting for a count, not a timing assertion
      }
      expect(lanes.flatMap((l) => l.sendErrors.map((e) => `${e} (lane got ${l.got.length})`))).toEqual([]);
      killedAt = lanes.map((l) => l.acked.length);
      await c.kill9();
      await receiving; // the recipient sees its connection close
      await Promise.all(chains);
      await r.closed;
      await Promise.all(sending);
      stopSending = true;
      expect(lanes.flatMap((l) => l.sendErrors)).toEqual([]);

      // Its client reconnects to another node (A) and subscribes again, to every queue at once.
      const r2 = await on(a);
      const gotBefore = lanes.map((l) => l.got.length);
      // Redelivery of the message whose ACK the kill interrupted is allowed: consecutive duplicates collapse.
      const seen = (l: Lane): string[] => l.got.filter((t, i) => i === 0 || l.got[i - 1] !== t);
      let n = 0;
      /** Takes `m` and what each ACK answers, as a client does. */
      const take = async (l: Lane, m: BrokerMsg | null): Promise<void> => {
        while (m !== null) {
          const msg = asMsg(m);
          l.got.push(decText(l.q, msg));
          const next = await sr(r2, l.q.rcvAuthKey, `a${n++}`, l.q.rcvId, CMD.ack(msg.msgId));
          if (next.tag !== "MSG") expect(next as unknown).toEqual(OK);
          m = next.tag === "MSG" ? next : null;
        }
      };
      for (const l of lanes) {
        const sub = await sr(r2, l.q.rcvAuthKey, `sub${n++}`, l.q.rcvId, CMD.SUB);
        if (sub.tag !== "MSG") expect(sub as unknown).toEqual(sokNone(r2.version));
        await take(l, sub.tag === "MSG" ? sub : null);
      }
      while (lanes.some((l) => seen(l).length < l.acked.length)) {
        const e = await r2.nextEvent(CROSS_MS).catch((err: Error) => {
          const missing = lanes.map((l, i) => `lane ${i}: ${seen(l).length} of ${l.acked.length}, next expected ${l.acked[seen(l).length] ?? "-"}`);
          throw new Error(`acknowledged messages missing after resubscribing (${err.message}): ${missing.join("; ")}`);
        });
        if (e.type !== "event") throw new Error(`unexpected ${e.type}`);
        await take(byRcv(e.entityId), e.msg);
      }
      for (const [i, l] of lanes.entries()) {
        expect(l.got.length).toBeGreaterThan(gotBefore[i]!); // there were pending messages to resubscribe for
        expect(seen(l)).toEqual(l.acked); // every acknowledged message, in order, nothing else
      }
      // Nothing more: a further MSG would be a message delivered twice (each was acknowledged).
      const extra = await r2.nextEvent(500).then(
        (e) => (e.type === "event" && e.msg.tag === "MSG" ? `lane ${lanes.indexOf(byRcv(e.entityId))}: ${decText(byRcv(e.entityId).q, e.msg)} again` : JSON.stringify(e.type)),
        (e: SMPClientError) => (e.kind === "timeout" ? null : e.message),
      );
      expect(extra).toBeNull();
    },
    TEST_MS * 2,
  );
});
