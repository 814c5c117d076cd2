// Queue record operations, mirrored from QueueStore/STM.hs (functions cited per test).
import { describe, expect, test } from "bun:test";
import { describeEachStore } from "./backends.ts";
import { created, newQueue, randomId, spki } from "./helpers.ts";

describeEachStore((stores) => {
  describe("createQueue / lookups (QueueStore/STM.hs:addQueue_, getQueue_)", () => {
    test("a created queue is found by each of its ids, with every field", async () => {
      const s = await stores.open();
      const nq = newQueue({
        queueMode: "C",
        senderKey: spki("snd-auth-ed25519"),
        link: { linkId: randomId(), fixed: randomId(100), user: randomId(300) },
        notifier: { notifierId: randomId(), notifierKey: spki("ntf-auth-ed25519"), rcvNtfDhSecret: randomId(32), serviceId: null },
        recipientKeys: [spki("rcv-auth-ed25519"), spki("rcv-auth2-ed25519")],
      });
      const q = await created(s, nq);
      for (const got of [
        await s.queues.getQueueByRecipientId(nq.recipientId),
        await s.queues.getQueueBySenderId(nq.senderId),
        await s.queues.getQueueByLinkId(nq.link!.linkId),
        await s.queues.getQueueByNotifierId(nq.notifier!.notifierId),
      ]) {
        expect(got).not.toBeNull();
        expect(got!.key).toBe(q.key);
        expect(got!.recipientId).toEqual(nq.recipientId);
        expect(got!.recipientKeys).toEqual([...nq.recipientKeys]);
        expect(got!.rcvDhSecret).toEqual(nq.rcvDhSecret);
        expect(got!.senderKey).toEqual(nq.senderKey);
        expect(got!.queueMode).toBe("C");
        expect(got!.link).toEqual(nq.link);
        expect(got!.notifier).toEqual(nq.notifier);
        expect(got!.status).toBe("active");
        expect(got!.updatedAt).toBe(nq.updatedAt);
      }
      expect(await s.queues.getQueueBySenderId(nq.recipientId)).toBeNull();
      expect(await s.queues.getQueueByRecipientId(randomId())).toBeNull();
      const batch = await s.queues.getQueues("rcv", [nq.recipientId, randomId(), nq.recipientId]);
      expect(batch.map((x) => x?.key ?? null)).toEqual([q.key, null, q.key]);
      expect((await s.queues.getQueues("ntf", [nq.notifier!.notifierId]))[0]!.key).toBe(q.key);
    });

    test("getQueues of a whole block (255 ids): each answer in the place of its id, repeats and missing ids included, both parties", async () => {
      const s = await stores.open();
      const qs = [];
      for (let i = 0; i < 100; i++) {
        const nq = newQueue({ notifier: { notifierId: randomId(), notifierKey: spki("ntf-auth-ed25519"), rcvNtfDhSecret: randomId(32), serviceId: null } });
        qs.push({ nq, q: await created(s, nq) });
      }
      // every third id missing, the rest in a shuffled order with repeats
      const want: (number | null)[] = [];
      const rids: Uint8Array[] = [];
      const nids: Uint8Array[] = [];
      for (let i = 0; i < 255; i++) {
        const k = (i * 37) % 100;
        if (i % 3 === 2) {
          want.push(null);
          rids.push(randomId());
          nids.push(randomId());
        } else {
          want.push(qs[k]!.q.key);
          rids.push(qs[k]!.nq.recipientId);
          nids.push(qs[k]!.nq.notifier!.notifierId);
        }
      }
      const byRid = await s.queues.getQueues("rcv", rids);
      expect(byRid.map((q) => q?.key ?? null)).toEqual(want);
      expect(byRid.map((q) => q?.recipientId ?? null)).toEqual(want.map((k, i) => (k === null ? null : rids[i]!)));
      expect((await s.queues.getQueues("ntf", nids)).map((q) => q?.key ?? null)).toEqual(want);
      // a recipient id is not a notifier id
      expect((await s.queues.getQueues("ntf", rids.slice(0, 2))).every((q) => q === null)).toBe(true);
      expect(await s.queues.getQueues("rcv", [])).toEqual([]);
    });

    test("any id already used in its namespace → DUPLICATE, and nothing is stored", async () => {
      const s = await stores.open();
      const a = newQueue({
        link: { linkId: randomId(), fixed: randomId(10), user: randomId(10) },
        notifier: { notifierId: randomId(), notifierKey: spki("ntf-auth-ed25519"), rcvNtfDhSecret: randomId(32), serviceId: null },
      });
      await created(s, a);
      const clashes = [
        newQueue({ recipientId: a.recipientId }),
        newQueue({ senderId: a.senderId }),
        newQueue({ link: { linkId: a.link!.linkId, fixed: randomId(10), user: randomId(10) } }),
        newQueue({ notifier: { ...a.notifier!, rcvNtfDhSecret: randomId(32) } }),
      ];
      for (const c of clashes) {
        expect(await s.queues.createQueue(c)).toBe("DUPLICATE");
        expect((await s.stats()).queueCount).toBe(1);
      }
      expect(await s.queues.getQueueBySenderId(clashes[0]!.senderId)).toBeNull();
      // hasId checks each namespace separately: a sender id equal to another queue's recipient id is fine.
      expect(await s.queues.createQueue(newQueue({ senderId: a.recipientId }))).not.toBe("DUPLICATE");
      expect((await s.stats()).queueCount).toBe(2);
      expect((await s.stats()).notifierCount).toBe(1);
    });
  });

  describe("secureQueue (KEY/SKEY) — QueueStore/STM.hs:secureQueue", () => {
    test("sets once; the same key again is OK; a different key is AUTH and does not replace", async () => {
      const s = await stores.open();
      const q = await created(s);
      const k1 = spki("snd-auth-ed25519");
      const k2 = spki("snd-auth-x25519");
      expect(await s.queues.secureQueue(q, k1)).toBe("OK");
      expect(await s.queues.secureQueue(q, k1)).toBe("OK");
      expect(await s.queues.secureQueue(q, k2)).toBe("AUTH");
      expect((await s.queues.getQueueByRecipientId(q.recipientId))!.senderKey).toEqual(k1);
    });
  });

  describe("updateRecipientKeys (RKEY) — QueueStore/STM.hs:updateKeys", () => {
    test("replaces the whole key list", async () => {
      const s = await stores.open();
      const q = await created(s);
      const keys = [spki("rcv-auth2-ed25519"), spki("rcv-auth-x25519")];
      expect(await s.queues.updateRecipientKeys(q, keys)).toBe("OK");
      expect((await s.queues.getQueueByRecipientId(q.recipientId))!.recipientKeys).toEqual(keys);
    });
  });

  describe("setQueueLink / deleteQueueLink (LSET/LDEL) — QueueStore/STM.hs:addQueueLinkData, deleteQueueLinkData", () => {
    test("the LSET rules", async () => {
      const s = await stores.open();
      const q = await created(s);
      const other = await created(s);
      const linkId = randomId();
      const fixed = randomId(50);
      expect(await s.queues.setQueueLink(q, { linkId, fixed, user: randomId(20) })).toBe("OK");
      // same id + same fixed part: user data may change
      const user2 = randomId(40);
      expect(await s.queues.setQueueLink(q, { linkId, fixed, user: user2 })).toBe("OK");
      expect((await s.queues.getQueueByLinkId(linkId))!.link!.user).toEqual(user2);
      // same id, different fixed part
      expect(await s.queues.setQueueLink(q, { linkId, fixed: randomId(50), user: user2 })).toBe("AUTH");
      // a different link id while one is set
      expect(await s.queues.setQueueLink(q, { linkId: randomId(), fixed, user: user2 })).toBe("AUTH");
      // a link id that belongs to another queue
      expect(await s.queues.setQueueLink(other, { linkId, fixed, user: user2 })).toBe("AUTH");
      expect((await s.queues.getQueueByLinkId(linkId))!.key).toBe(q.key);
      // after LDEL a new link can be set, and the old id is free
      expect(await s.queues.deleteQueueLink(q)).toBe("OK");
      expect(await s.queues.deleteQueueLink(q)).toBe("OK");
      expect(await s.queues.getQueueByLinkId(linkId)).toBeNull();
      expect(await s.queues.setQueueLink(other, { linkId, fixed, user: user2 })).toBe("OK");
      expect((await s.queues.getQueueByLinkId(linkId))!.key).toBe(other.key);
    });
  });

  describe("notifier (NKEY/NDEL) — QueueStore/STM.hs:addQueueNotifier, deleteQueueNotifier", () => {
    test("set, replace (returns the old one), DUPLICATE id, delete", async () => {
      const s = await stores.open();
      const q = await created(s);
      const other = await created(s);
      const n1 = { notifierId: randomId(), notifierKey: spki("ntf-auth-ed25519"), rcvNtfDhSecret: randomId(32), serviceId: null };
      const n2 = { ...n1, notifierId: randomId() };
      expect(await s.queues.setQueueNotifier(q, n1)).toEqual({ prev: null });
      expect(await s.queues.setQueueNotifier(other, { ...n1, rcvNtfDhSecret: randomId(32) })).toBe("DUPLICATE");
      expect(await s.queues.setQueueNotifier(q, n2)).toEqual({ prev: n1 });
      expect(await s.queues.getQueueByNotifierId(n1.notifierId)).toBeNull();
      expect((await s.queues.getQueueByNotifierId(n2.notifierId))!.key).toBe(q.key);
      expect((await s.stats()).notifierCount).toBe(1);
      expect(await s.queues.deleteQueueNotifier(q)).toEqual({ prev: n2, ntfCount: 0 });
      expect(await s.queues.deleteQueueNotifier(q)).toEqual({ prev: null, ntfCount: 0 });
      expect((await s.stats()).notifierCount).toBe(0);
    });
  });

  describe("status and time — QueueStore/STM.hs:suspendQueue, blockQueue, unblockQueue, updateQueueTime", () => {
    test("OFF, blocked with info, unblock", async () => {
      const s = await stores.open();
      const q = await created(s);
      expect(await s.queues.suspendQueue(q)).toBe("OK");
      expect((await s.queues.getQueueByRecipientId(q.recipientId))!.status).toBe("off");
      const info = new TextEncoder().encode("reason=spam");
      expect(await s.queues.blockQueue(q, info)).toBe("OK");
      let r = (await s.queues.getQueueByRecipientId(q.recipientId))!;
      expect(r.status).toBe("blocked");
      expect(r.blockingInfo).toEqual(info);
      expect(await s.queues.unblockQueue(q)).toBe("OK");
      r = (await s.queues.getQueueByRecipientId(q.recipientId))!;
      expect(r.status).toBe("active");
      expect(r.blockingInfo).toBeNull();
    });

    test("updateQueueTime stores a new date; a ref whose recipient id is not the row's changes nothing (AUTH)", async () => {
      const s = await stores.open();
      const q = await created(s, newQueue({ link: { linkId: randomId(), fixed: randomId(10), user: randomId(10) } }));
      expect(await s.queues.updateQueueTime(q, 86400 * 19_001)).toBe("OK");
      expect((await s.queues.getQueueByRecipientId(q.recipientId))!.updatedAt).toBe(86400 * 19_001);
      expect(await s.queues.updateQueueTime(q, 86400 * 19_001)).toBe("OK");
      const before = await s.queues.getQueueByRecipientId(q.recipientId);
      const stale = { ...q, recipientId: randomId() };
      expect(await s.queues.updateQueueTime(stale, 86400 * 19_002)).toBe("AUTH");
      expect(await s.queues.suspendQueue(stale)).toBe("AUTH");
      expect(await s.queues.blockQueue(stale, new TextEncoder().encode("reason=spam"))).toBe("AUTH");
      expect(await s.queues.unblockQueue(stale)).toBe("AUTH");
      expect(await s.queues.updateRecipientKeys(stale, [spki("rcv-auth2-ed25519")])).toBe("AUTH");
      expect(await s.queues.deleteQueueLink(stale)).toBe("AUTH");
      expect(await s.queues.getQueueByRecipientId(q.recipientId)).toEqual(before);
    });
  });

  describe("deleteQueue (DEL) — MsgStore/STM.hs:deleteQueueSize, QueueStore/STM.hs:deleteStoreQueue", () => {
    test("removes the record, messages, notifier and notifications; a stale record then answers AUTH", async () => {
      const s = await stores.open();
      const nId = randomId();
      const q = await created(
        s,
        newQueue({
          link: { linkId: randomId(), fixed: randomId(10), user: randomId(10) },
          notifier: { notifierId: nId, notifierKey: spki("ntf-auth-ed25519"), rcvNtfDhSecret: randomId(32), serviceId: null },
        }),
      );
      const keep = await created(s);
      for (let i = 0; i < 3; i++) await s.messages.writeMsg(q, { msgId: randomId(), tsMs: 1000 + i, notification: true, body: randomId(10) });
      await s.messages.writeMsg(keep, { msgId: randomId(), tsMs: 1, notification: false, body: randomId(10) });
      await s.ntfs.addNtf(nId, { msgId: randomId(), tsMs: 1, nonce: randomId(), encMeta: randomId(144) });
      const d = await s.queues.deleteQueue(q);
      expect(d).not.toBe("AUTH");
      if (d === "AUTH") return;
      expect(d.queue.key).toBe(q.key);
      expect(d.msgCount).toBe(3);
      expect(d.ntfCount).toBe(1);
      expect(await s.queues.getQueueByRecipientId(q.recipientId)).toBeNull();
      expect(await s.queues.getQueueBySenderId(q.senderId)).toBeNull();
      expect(await s.queues.getQueueByLinkId(q.link!.linkId)).toBeNull();
      expect(await s.queues.getQueueByNotifierId(nId)).toBeNull();
      expect(await s.messages.peekMsg(q)).toBeNull();
      expect(await s.queues.deleteQueue(q)).toBe("AUTH");
      expect(await s.queues.secureQueue(q, spki("snd-auth-ed25519"))).toBe("AUTH");
      expect(await s.messages.writeMsg(q, { msgId: randomId(), tsMs: 1, notification: false, body: randomId(1) })).toBe("AUTH");
      expect(await s.queues.suspendQueue(q)).toBe("AUTH");
      expect(await s.ntfs.takeNtfs([nId])).toEqual([]);
      expect(await s.stats()).toMatchObject({ queueCount: 1, notifierCount: 0, messageCount: 1, ntfCount: 0 });
      // the ids are free again
      expect(await s.queues.createQueue(newQueue({ recipientId: q.recipientId, senderId: q.senderId }))).not.toBe("DUPLICATE");
    });
  });

  describe("expireInactiveQueues (opt-in; the reference never expires queues)", () => {
    test("deletes queues not updated since the date, in bounded batches", async () => {
      const s = await stores.open();
      const old = [];
      for (let i = 0; i < 5; i++) old.push(await created(s, newQueue({ updatedAt: 86400 * (10 + i) })));
      const fresh = await created(s, newQueue({ updatedAt: 86400 * 100 }));
      const never = await created(s, newQueue({ updatedAt: null }));
      const first = await s.queues.expireInactiveQueues(86400 * 50, 3);
      expect(first.deleted.length).toBe(3);
      expect(first.done).toBe(false);
      const second = await s.queues.expireInactiveQueues(86400 * 50, 3);
      expect(second.deleted.length).toBe(2);
      expect(second.done).toBe(true);
      expect([...first.deleted, ...second.deleted].map((d) => d.queue.key).sort()).toEqual(old.map((q) => q.key).sort());
      expect(await s.queues.getQueueByRecipientId(fresh.recipientId)).not.toBeNull();
      expect(await s.queues.getQueueByRecipientId(never.recipientId)).not.toBeNull();
      expect((await s.stats()).queueCount).toBe(2);
    });
  });

  describe("blobs", () => {
    test("put, replace, delete", async () => {
      const s = await stores.open();
      expect(await s.getBlob("stats")).toBeNull();
      await s.putBlob("stats", new Uint8Array([1, 2]));
      await s.putBlob("stats", new Uint8Array([3]));
      expect(await s.getBlob("stats")).toEqual(new Uint8Array([3]));
      await s.putBlob("stats", null);
      expect(await s.getBlob("stats")).toBeNull();
    });
  });
});
