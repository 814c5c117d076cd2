// Message operations, mirrored from MsgStore/STM.hs and MsgStore/Types.hs (functions cited per test).
import { describe, expect, test } from "bun:test";
import type { Store } from "../../src/store/store.ts";
import type { QueueRec } from "../../src/store/types.ts";
import { describeEachStore } from "./backends.ts";
import { created, newMsg, randomId } from "./helpers.ts";

async function drain(s: Store, q: QueueRec) {
  const out = [];
  for (let m = await s.messages.peekMsg(q); m !== null; ) {
    out.push(m);
    m = (await s.messages.tryDelPeekMsg(q, m.msgId)).next;
  }
  return out;
}

describeEachStore((stores) => {
  describe("expectPeeks — a hint before a block's peekMsg calls, never a different answer", () => {
    test("heads of empty and non-empty queues as without it, writes and deletions in between included", async () => {
      const s = await stores.open();
      const qs: QueueRec[] = [];
      for (let i = 0; i < 150; i++) qs.push(await created(s));
      const m = newMsg();
      const withMsg = new Set([3, 70, 149]);
      for (const i of withMsg) expect(await s.messages.writeMsg(qs[i]!, { ...m, msgId: randomId() })).toBe("OK_EMPTY");
      await s.messages.expectPeeks(qs);
      for (let i = 0; i < 150; i++) expect((await s.messages.peekMsg(qs[i]!)) === null).toBe(!withMsg.has(i));
      // found empty, then written to before its peek: the peek sees the message
      await s.messages.expectPeeks(qs);
      const late = newMsg();
      expect(await s.messages.writeMsg(qs[5]!, late)).toBe("OK_EMPTY");
      expect((await s.messages.peekMsg(qs[5]!))!.msgId).toEqual(late.msgId);
      // found non-empty, then drained before its peek: the peek sees it empty
      const head = (await s.messages.peekMsg(qs[70]!))!;
      await s.messages.expectPeeks([qs[70]!]);
      expect((await s.messages.tryDelPeekMsg(qs[70]!, head.msgId)).next).toBeNull();
      expect(await s.messages.peekMsg(qs[70]!)).toBeNull();
      // a second peek of a queue, and a peek after another block's hint, still answer from the data
      await s.messages.expectPeeks([qs[5]!, qs[6]!]);
      expect(await s.messages.peekMsg(qs[6]!)).toBeNull();
      expect(await s.messages.peekMsg(qs[6]!)).toBeNull();
      expect(await s.messages.writeMsg(qs[6]!, late)).toBe("OK_EMPTY");
      await s.messages.expectPeeks([]);
      expect((await s.messages.peekMsg(qs[6]!))!.msgId).toEqual(late.msgId);
      expect((await s.messages.peekMsg(qs[5]!))!.msgId).toEqual(late.msgId);
    });
  });

  describe("writeMsg quota — MsgStore/STM.hs:writeMsg (tests/ServerTests.hs:testExceedQueueQuota)", () => {
    test("128 accepted, the 129th leaves one marker, QUOTA until fully drained, then writes resume", async () => {
      const s = await stores.open(); // default quota 128 (Server/Env/STM.hs:defaultMsgQueueQuota)
      const q = await created(s);
      const sent = [];
      for (let i = 0; i < 128; i++) {
        const m = newMsg({ notification: i % 2 === 0 });
        sent.push(m);
        expect(await s.messages.writeMsg(q, m)).toBe(i === 0 ? "OK_EMPTY" : "OK");
      }
      const rejected = newMsg({ notification: true });
      expect(await s.messages.writeMsg(q, rejected)).toBe("QUOTA");
      expect(await s.messages.queueSize(q)).toBe(129);
      for (let i = 0; i < 3; i++) expect(await s.messages.writeMsg(q, newMsg())).toBe("QUOTA");
      expect(await s.messages.queueSize(q)).toBe(129); // nothing more stored

      // ACK half: still QUOTA (canWrite stays False until the queue is empty)
      for (let i = 0; i < 64; i++) expect((await s.messages.tryDelMsg(q, sent[i]!.msgId))!.msgId).toEqual(sent[i]!.msgId);
      expect(await s.messages.writeMsg(q, newMsg())).toBe("QUOTA");

      const rest = await drain(s, q);
      expect(rest.length).toBe(65);
      expect(rest.slice(0, 64).map((m) => m.msgId)).toEqual(sent.slice(64).map((m) => m.msgId));
      expect(rest.slice(0, 64).map((m) => m.notification)).toEqual(sent.slice(64).map((m) => m.notification));
      expect(rest.slice(0, 64).map((m) => m.body)).toEqual(sent.slice(64).map((m) => m.body));
      const marker = rest[64]!;
      expect(marker.quota).toBe(true);
      expect(marker.msgId).toEqual(rejected.msgId); // MessageQuota {msgId, msgTs} of the rejected message
      expect(marker.tsMs).toBe(rejected.tsMs);
      expect(marker.ts).toBe(Math.floor(rejected.tsMs / 1000));
      expect(marker.notification).toBe(false);
      expect(marker.body.length).toBe(0);

      expect(await s.messages.queueSize(q)).toBe(0);
      expect(await s.messages.writeMsg(q, newMsg())).toBe("OK_EMPTY");
      expect(await s.messages.writeMsg(q, newMsg())).toBe("OK");
    });

    test("a configured quota applies the same rule", async () => {
      const s = await stores.open({ msgQueueQuota: 2 });
      const q = await created(s);
      expect(await s.messages.writeMsg(q, newMsg())).toBe("OK_EMPTY");
      expect(await s.messages.writeMsg(q, newMsg())).toBe("OK");
      expect(await s.messages.writeMsg(q, newMsg())).toBe("QUOTA");
      expect(await s.messages.queueSize(q)).toBe(3);
      expect((await s.stats()).messageCount).toBe(3);
    });
  });

  describe("ACK — MsgStore/Types.hs:tryDelMsg, tryDelPeekMsg", () => {
    test("a wrong msgId deletes nothing; tryDelPeekMsg then returns the current head", async () => {
      const s = await stores.open();
      const q = await created(s);
      const a = newMsg();
      const b = newMsg();
      await s.messages.writeMsg(q, a);
      await s.messages.writeMsg(q, b);
      expect(await s.messages.tryDelMsg(q, b.msgId)).toBeNull();
      expect(await s.messages.tryDelMsg(q, randomId())).toBeNull();
      const r1 = await s.messages.tryDelPeekMsg(q, randomId());
      expect(r1.deleted).toBeNull();
      expect(r1.next!.msgId).toEqual(a.msgId);
      expect(await s.messages.queueSize(q)).toBe(2);
      const r2 = await s.messages.tryDelPeekMsg(q, a.msgId);
      expect(r2.deleted!.msgId).toEqual(a.msgId);
      expect(r2.next!.msgId).toEqual(b.msgId);
      const r3 = await s.messages.tryDelPeekMsg(q, b.msgId);
      expect(r3.deleted!.msgId).toEqual(b.msgId);
      expect(r3.next).toBeNull();
      expect(await s.messages.tryDelPeekMsg(q, b.msgId)).toEqual({ deleted: null, next: null });
      expect(await s.messages.tryDelMsg(q, b.msgId)).toBeNull();
      expect((await s.stats()).messageCount).toBe(0);
    });

    test("tryDelPeekMsg: `next` carries the full body on both paths; `deleted` keeps id, time and flags", async () => {
      const s = await stores.open();
      const q = await created(s);
      const a = { ...newMsg({ notification: true }), body: crypto.getRandomValues(new Uint8Array(16048)) };
      const b = { ...newMsg(), body: crypto.getRandomValues(new Uint8Array(16048)) };
      await s.messages.writeMsg(q, a);
      await s.messages.writeMsg(q, b);
      const miss = await s.messages.tryDelPeekMsg(q, randomId()); // id mismatch: the head itself, with its body
      expect(miss.next!.body).toEqual(a.body);
      const hit = await s.messages.tryDelPeekMsg(q, a.msgId);
      expect(hit.deleted!.msgId).toEqual(a.msgId);
      expect(hit.deleted!.tsMs).toBe(a.tsMs);
      expect(hit.deleted!.notification).toBe(true); // what the server counts (Server.hs:acknowledgeMsg stats)
      expect(hit.deleted!.quota).toBe(false);
      expect(hit.next!.msgId).toEqual(b.msgId);
      expect(hit.next!.body).toEqual(b.body);
      expect(hit.next!.notification).toBe(false);
    });

    test("messages of different queues do not mix, order is FIFO per queue", async () => {
      const s = await stores.open();
      const q1 = await created(s);
      const q2 = await created(s);
      const m1 = [newMsg(), newMsg(), newMsg()];
      const m2 = [newMsg(), newMsg()];
      for (let i = 0; i < 3; i++) {
        await s.messages.writeMsg(q1, m1[i]!);
        if (m2[i]) await s.messages.writeMsg(q2, m2[i]!);
      }
      expect((await drain(s, q2)).map((m) => m.msgId)).toEqual(m2.map((m) => m.msgId));
      expect((await drain(s, q1)).map((m) => m.msgId)).toEqual(m1.map((m) => m.msgId));
    });
  });

  describe("expiry — MsgStore/Types.hs:deleteExpireMsgs_, MsgStore/STM.hs:expireOldMessages", () => {
    const sec = (s: number) => s * 1000;

    test("deletes from the head while older, stops at the first newer message", async () => {
      const s = await stores.open();
      const q = await created(s);
      // seconds are compared (systemSeconds msgTs < old): 99.999 s is older than 100, 100.0 is not
      await s.messages.writeMsg(q, newMsg({ tsMs: sec(50) }));
      await s.messages.writeMsg(q, newMsg({ tsMs: sec(100) - 1 }));
      const kept = newMsg({ tsMs: sec(100) });
      await s.messages.writeMsg(q, kept);
      await s.messages.writeMsg(q, newMsg({ tsMs: sec(10) })); // older, but behind a newer one: kept
      expect(await s.messages.deleteExpiredMsgs(q, 100)).toBe(2);
      const left = await drain(s, q);
      expect(left.map((m) => m.tsMs)).toEqual([sec(100), sec(10)]);
    });

    test("stops at a quota marker, which is never expired", async () => {
      const s = await stores.open({ msgQueueQuota: 3 });
      const q = await created(s);
      for (let i = 0; i < 3; i++) await s.messages.writeMsg(q, newMsg({ tsMs: sec(10 + i) }));
      expect(await s.messages.writeMsg(q, newMsg({ tsMs: sec(20) }))).toBe("QUOTA");
      expect(await s.messages.deleteExpiredMsgs(q, 1000)).toBe(3);
      const head = await s.messages.peekMsg(q);
      expect(head!.quota).toBe(true);
      expect(await s.messages.deleteExpiredMsgs(q, 1000)).toBe(0);
      expect(await s.messages.queueSize(q)).toBe(1);
      // still over quota until the marker is ACKed
      expect(await s.messages.writeMsg(q, newMsg())).toBe("QUOTA");
      expect((await s.messages.tryDelMsg(q, head!.msgId))!.quota).toBe(true);
      expect(await s.messages.writeMsg(q, newMsg())).toBe("OK_EMPTY");
    });

    test("expireMessages over all queues, bounded work per call, same stop rules", async () => {
      const s = await stores.open({ msgQueueQuota: 4 });
      const queues: QueueRec[] = [];
      for (let i = 0; i < 20; i++) queues.push(await created(s));
      // q0..q9: 3 old + 1 new; q10..q14: 4 old + marker; q15..q19: only new
      for (let i = 0; i < 20; i++) {
        const q = queues[i]!;
        if (i < 10) {
          for (let j = 0; j < 3; j++) await s.messages.writeMsg(q, newMsg({ tsMs: sec(100 + j) }));
          await s.messages.writeMsg(q, newMsg({ tsMs: sec(5000) }));
        } else if (i < 15) {
          for (let j = 0; j < 4; j++) await s.messages.writeMsg(q, newMsg({ tsMs: sec(200 + j) }));
          expect(await s.messages.writeMsg(q, newMsg({ tsMs: sec(300) }))).toBe("QUOTA");
        } else await s.messages.writeMsg(q, newMsg({ tsMs: sec(6000) }));
      }
      const before = (await s.stats()).messageCount;
      expect(before).toBe(10 * 4 + 5 * 5 + 5);
      let expired = 0;
      let calls = 0;
      for (;;) {
        const p = await s.messages.expireMessages(1000, 7);
        calls++;
        expired += p.expired;
        if (p.done) break;
        expect(calls).toBeLessThan(100);
      }
      expect(calls).toBeGreaterThan(3); // the budget split the work
      expect(expired).toBe(10 * 3 + 5 * 4);
      expect((await s.stats()).messageCount).toBe(before - expired);
      for (let i = 0; i < 20; i++) {
        const left = await drain(s, queues[i]!);
        if (i < 10) expect(left.map((m) => m.tsMs)).toEqual([sec(5000)]);
        else if (i < 15) expect(left.map((m) => m.quota)).toEqual([true]);
        else expect(left.length).toBe(1);
      }
      // a second pass finds nothing
      expect(await s.messages.expireMessages(1000, 7)).toEqual({ expired: 0, done: true });
    });
  });
});
