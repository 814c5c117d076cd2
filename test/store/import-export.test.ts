// The store methods behind `smp-server import` / `export`: restoreMsg keeps a message or quota
// marker exactly as given; the listings page in id order; discard rolls back everything uncommitted.
import { expect, test } from "bun:test";
import { created, memStore, newMsg, newQueue, randomId } from "./helpers.ts";

test("restoreMsg appends as given, no quota rule: a restored marker makes the queue refuse (MsgStore/STM.hs:writeMsg canWrite)", async () => {
  const s = memStore({ msgQueueQuota: 4 });
  const q = await created(s);
  const m1 = newMsg({ tsMs: 1_000_000 });
  const marker = { ...newMsg({ tsMs: 2_000_000 }), quota: true };
  expect(await s.restoreMsg(q, { ...m1, quota: false })).toBe("OK");
  expect(await s.restoreMsg(q, marker)).toBe("OK");
  const all = await s.queueMessages(q);
  expect(all.map((m) => [m.msgId, m.tsMs, m.quota, m.body.length])).toEqual([
    [m1.msgId, 1_000_000, false, m1.body.length],
    [marker.msgId, 2_000_000, true, 0],
  ]);
  // One message and the marker in a queue of quota 4: only the marker explains this QUOTA.
  expect(await s.writeMsg(q, newMsg())).toBe("QUOTA");
  expect((await s.stats()).messageCount).toBe(2);
  expect(await s.restoreMsg({ ...q, recipientId: randomId() }, { ...m1, quota: false })).toBe("AUTH");
  await s.close();
});

test("allQueues pages by recipient id; notifierNtfs leaves the notifications in place; allServices", async () => {
  const s = memStore();
  const qs = [];
  for (let i = 0; i < 5; i++) qs.push(await created(s, newQueue()));
  const ids = qs.map((q) => Buffer.from(q.recipientId).toString("hex")).sort();
  const p1 = await s.allQueues(null, 3);
  const p2 = await s.allQueues(p1[2]!.recipientId, 3);
  expect([...p1, ...p2].map((q) => Buffer.from(q.recipientId).toString("hex"))).toEqual(ids);
  const nId = randomId();
  const ntf = { msgId: randomId(), tsMs: 5000, nonce: randomId(24), encMeta: randomId(10) };
  await s.addNtf(nId, ntf);
  expect(await s.notifierNtfs(nId)).toEqual([ntf]);
  expect(await s.notifierNtfs(nId)).toEqual([ntf]);
  const svc = { serviceId: randomId(), role: "N" as const, certChain: [randomId(100)], certHash: randomId(32), createdAt: 86400 };
  await s.getCreateService(svc);
  expect(await s.allServices()).toEqual([svc]);
  await s.close();
});

test("discard rolls back every write since the last commit, counters included", async () => {
  const s = memStore({ maxOpsPerCommit: Number.MAX_SAFE_INTEGER });
  const kept = await created(s);
  await s.flush();
  const q = await created(s);
  await s.restoreMsg(q, { ...newMsg(), quota: false });
  await s.restoreMsg(kept, { ...newMsg(), quota: false });
  s.discard();
  expect(await s.getQueueByRecipientId(q.recipientId)).toBeNull();
  expect(await s.queueMessages(kept)).toEqual([]);
  expect(await s.stats()).toMatchObject({ queueCount: 1, messageCount: 0 });
  await s.close();
});
