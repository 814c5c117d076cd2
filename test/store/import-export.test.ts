// The SQLite store's methods behind `smp-server import` / `export` (they work on the SQLite file):
// restoreMsg keeps a message or quota marker exactly as given; the listings page in id order and
// leave everything in place; discard makes the import one transaction.
import { afterEach, describe, expect, test } from "bun:test";
import { openSqliteStore, type SqliteStore } from "../../src/store/sqlite/open.ts";
import { created, newMsg, newQueue, randomId } from "./helpers.ts";

const live: SqliteStore[] = [];
afterEach(async () => {
  for (const s of live.splice(0)) await s.close();
});
function open(o: { msgQueueQuota?: number } = {}): SqliteStore {
  const s = openSqliteStore({ path: ":memory:", ...o });
  live.push(s);
  return s;
}

describe("import / export", () => {
  test("restoreMsg appends as given, no quota rule: a restored marker makes the queue refuse (MsgStore/STM.hs:writeMsg canWrite)", async () => {
    const s = open({ msgQueueQuota: 4 });
    const q = await created(s);
    const m1 = newMsg({ tsMs: 1_000_000 });
    const marker = { ...newMsg({ tsMs: 2_000_000 }), quota: true };
    expect(await s.messages.restoreMsg(q, { ...m1, quota: false })).toBe("OK");
    expect(await s.messages.restoreMsg(q, marker)).toBe("OK");
    const all = await s.messages.queueMessages(q);
    expect(all.map((m) => [m.msgId, m.tsMs, m.quota, m.body.length])).toEqual([
      [m1.msgId, 1_000_000, false, m1.body.length],
      [marker.msgId, 2_000_000, true, 0],
    ]);
    // One message and the marker in a queue of quota 4: only the marker explains this QUOTA.
    expect(await s.messages.writeMsg(q, newMsg())).toBe("QUOTA");
    expect((await s.stats()).messageCount).toBe(2);
    expect(await s.messages.restoreMsg({ ...q, recipientId: randomId() }, { ...m1, quota: false })).toBe("AUTH");
  });

  test("a restored message is seen by peekMsg after expectPeeks found the queue empty (the hint never changes an answer)", async () => {
    const s = open();
    const q = await created(s);
    await s.messages.expectPeeks([q]);
    const m = newMsg();
    await s.messages.restoreMsg(q, { ...m, quota: false });
    expect((await s.messages.peekMsg(q))?.msgId).toEqual(m.msgId);
  });

  test("allQueues pages by recipient id; notifierNtfs leaves the notifications in place; allServices", async () => {
    const s = open();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(Buffer.from((await created(s, newQueue())).recipientId).toString("hex"));
    const p1 = await s.queues.allQueues(null, 3);
    const p2 = await s.queues.allQueues(p1[2]!.recipientId, 3);
    expect([...p1, ...p2].map((q) => Buffer.from(q.recipientId).toString("hex"))).toEqual(ids.sort());
    const nId = randomId();
    const ntf = { msgId: randomId(), tsMs: 5000, nonce: randomId(24), encMeta: randomId(10) };
    await s.ntfs.addNtf(nId, ntf);
    expect(await s.ntfs.notifierNtfs(nId)).toEqual([ntf]);
    expect(await s.ntfs.notifierNtfs(nId)).toEqual([ntf]);
    const svc = { serviceId: randomId(), role: "N" as const, certChain: [randomId(100)], certHash: randomId(32), createdAt: 86400 };
    await s.services.getCreateService(svc);
    expect(await s.services.allServices()).toEqual([svc]);
  });
});

test("discard rolls back every write since the last commit, counters included", async () => {
  const s = openSqliteStore({ path: ":memory:", maxOpsPerCommit: Number.MAX_SAFE_INTEGER });
  const kept = await created(s);
  await s.flush();
  const q = await created(s);
  await s.messages.restoreMsg(q, { ...newMsg(), quota: false });
  await s.messages.restoreMsg(kept, { ...newMsg(), quota: false });
  s.discard();
  expect(await s.queues.getQueueByRecipientId(q.recipientId)).toBeNull();
  expect(await s.messages.queueMessages(kept)).toEqual([]);
  expect(await s.stats()).toMatchObject({ queueCount: 1, messageCount: 0 });
  await s.close();
});
