// Pending notifications, mirrored from NtfStore.hs and Server.hs:deliverNtfsThread.
import { describe, expect, test } from "bun:test";
import { bytesEqual } from "../../src/encoding/bytes.ts";
import type { MsgNtf } from "../../src/store/types.ts";
import { describeEachStore } from "./backends.ts";
import { created, newQueue, randomId, spki } from "./helpers.ts";

function ntf(tsMs: number): MsgNtf {
  return { msgId: randomId(), tsMs, nonce: randomId(), encMeta: randomId(144) };
}

function notifier(serviceId: Uint8Array | null = null) {
  return { notifierId: randomId(), notifierKey: spki("ntf-auth-ed25519"), rcvNtfDhSecret: randomId(32), serviceId };
}

function cmp(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

describeEachStore((stores) => {
  describe("notifications — NtfStore.hs:storeNtf, deleteNtfs, deleteExpiredNtfs", () => {
    test("takeNtfs returns the notifiers' notifications oldest first and removes them", async () => {
      const s = await stores.open();
      const n1 = notifier();
      const n2 = notifier();
      await created(s, newQueue({ notifier: n1 }));
      await created(s, newQueue({ notifier: n2 }));
      const a = ntf(1000);
      const b = ntf(2000);
      const c = ntf(3000);
      await s.ntfs.addNtf(n1.notifierId, a);
      await s.ntfs.addNtf(n2.notifierId, b);
      await s.ntfs.addNtf(n1.notifierId, c);
      expect((await s.stats()).ntfCount).toBe(3);
      const got = await s.ntfs.takeNtfs([n2.notifierId, n1.notifierId]);
      expect(got.map((x) => x.ntf)).toEqual([a, b, c]);
      expect(got.map((x) => x.notifierId)).toEqual([n1.notifierId, n2.notifierId, n1.notifierId]);
      expect(await s.ntfs.takeNtfs([n1.notifierId, n2.notifierId])).toEqual([]);
      expect((await s.stats()).ntfCount).toBe(0);
    });

    test("pendingNtfNotifiers pages through notifiers with pending notifications, with their service", async () => {
      const s = await stores.open();
      const svc = randomId();
      const ns = [];
      for (let i = 0; i < 7; i++) {
        const n = notifier(i % 2 === 0 ? svc : null);
        ns.push(n);
        await created(s, newQueue({ notifier: n }));
        if (i !== 3) {
          await s.ntfs.addNtf(n.notifierId, ntf(i));
          await s.ntfs.addNtf(n.notifierId, ntf(i + 10));
        }
      }
      const seen = [];
      let after: Uint8Array | null = null;
      for (;;) {
        const page = await s.ntfs.pendingNtfNotifiers(after, 2);
        if (page.length === 0) break;
        expect(page.length).toBeLessThanOrEqual(2);
        seen.push(...page);
        after = page[page.length - 1]!.notifierId;
      }
      const expected = ns.filter((_, i) => i !== 3).sort((x, y) => cmp(x.notifierId, y.notifierId));
      expect(seen.map((p) => p.notifierId)).toEqual(expected.map((n) => n.notifierId));
      for (const p of seen) {
        const n = ns.find((x) => bytesEqual(x.notifierId, p.notifierId))!;
        expect(p.serviceId).toEqual(n.serviceId);
      }
    });

    test("NDEL and notifier replacement drop the pending notifications", async () => {
      const s = await stores.open();
      const n1 = notifier();
      const q = await created(s, newQueue({ notifier: n1 }));
      await s.ntfs.addNtf(n1.notifierId, ntf(1));
      await s.ntfs.addNtf(n1.notifierId, ntf(2));
      const n2 = notifier();
      expect(await s.queues.setQueueNotifier(q, n2)).toEqual({ prev: n1 });
      expect(await s.ntfs.takeNtfs([n1.notifierId])).toEqual([]);
      await s.ntfs.addNtf(n2.notifierId, ntf(3));
      expect(await s.queues.deleteQueueNotifier(q)).toEqual({ prev: n2, ntfCount: 1 });
      expect(await s.ntfs.takeNtfs([n2.notifierId])).toEqual([]);
      expect((await s.stats()).ntfCount).toBe(0);
    });

    test("expireNtfs deletes those older than the cutoff (seconds), bounded per call", async () => {
      const s = await stores.open();
      const n = notifier();
      await created(s, newQueue({ notifier: n }));
      for (let i = 0; i < 5; i++) await s.ntfs.addNtf(n.notifierId, ntf(i * 1000)); // 0..4 s
      const fresh = ntf(10_000);
      await s.ntfs.addNtf(n.notifierId, fresh);
      const p1 = await s.ntfs.expireNtfs(5, 3);
      expect(p1).toEqual({ expired: 3, done: false });
      const p2 = await s.ntfs.expireNtfs(5, 3);
      expect(p2).toEqual({ expired: 2, done: true });
      expect((await s.ntfs.takeNtfs([n.notifierId])).map((x) => x.ntf)).toEqual([fresh]);
    });
  });
});
