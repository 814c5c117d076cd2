// Several PostgreSQL stores on ONE schema, as several server processes (nodes, issue 18) use it:
// every operation must give the outcome one server gives, whatever the interleaving of the
// stores' group transactions (row locks, LockBusy, retries: src/store/postgres/connection.ts).
// Outcomes are checked against the tables (count(*), a recomputed IdsHash), never timings.
import { SQL } from "bun";
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { bytesEqual, hex as toHex } from "../../src/encoding/bytes.ts";
import { queueIdsHash } from "../../src/protocol/ids-hash.ts";
import { openPostgresStore, type PostgresStore } from "../../src/store/postgres/open.ts";
import { StoreError, type QueueRec, type ServiceRec, type StoredMessage, type WriteMsgResult } from "../../src/store/types.ts";
import { created, newMsg, newQueue, randomId } from "./helpers.ts";
import { dropTestSchemas, testPostgresUri, testSchemaName } from "./postgres.ts";

const uri = testPostgresUri();

(uri === null ? describe.skip : describe)("postgres: several stores on one schema (nodes)", () => {
  const pgUri = uri ?? "";
  const schemas: string[] = [];
  const live: PostgresStore[] = [];
  const admin = new SQL(pgUri, { max: 2 });
  afterEach(async () => {
    for (const s of live.splice(0)) await s.close();
  });
  afterAll(async () => {
    await admin.close();
    await dropTestSchemas(pgUri, schemas);
  });

  /** `n` stores on one fresh schema, as `n` nodes open it. */
  async function nodes(n: number, msgQueueQuota = 128): Promise<{ schema: string; stores: PostgresStore[] }> {
    const schema = testSchemaName();
    schemas.push(schema);
    const stores: PostgresStore[] = [];
    for (let i = 0; i < n; i++) {
      const s = await openPostgresStore({ uri: pgUri, schema, poolSize: 3, createSchema: i === 0, msgQueueQuota });
      live.push(s);
      stores.push(s);
    }
    return { schema, stores };
  }

  const q = (schema: string, text: string) => admin.unsafe(text.replaceAll("$S", `"${schema}"`));

  async function messageRows(schema: string, qid: number): Promise<{ msg_id: Uint8Array; flags: number }[]> {
    return (await q(schema, `SELECT msg_id, flags FROM $S.messages WHERE qid = ${qid} ORDER BY seq`)) as { msg_id: Uint8Array; flags: number }[];
  }

  test("SENDs to one queue from three stores: exactly the quota accepted, one marker, one OK_EMPTY, each store's order kept", async () => {
    const quota = 40;
    const { schema, stores } = await nodes(3, quota);
    const queue = await created(stores[0]!);
    const perStore = 30;
    const sent = stores.map(() => [] as Uint8Array[]);
    // Each store's writes are queued at once, so they form group transactions that interleave.
    const results = await Promise.all(
      stores.map((s, i) =>
        Promise.all(
          Array.from({ length: perStore }, () => {
            const m = newMsg();
            sent[i]!.push(m.msgId);
            return s.messages.writeMsg(queue, m).then((r) => ({ r, id: m.msgId }));
          }),
        ),
      ),
    );
    const all = results.flat();
    const count = (r: WriteMsgResult) => all.filter((x) => x.r === r).length;
    expect(count("OK_EMPTY")).toBe(1);
    expect(count("OK") + count("OK_EMPTY")).toBe(quota);
    expect(count("QUOTA")).toBe(stores.length * perStore - quota);
    const rows = await messageRows(schema, queue.key);
    expect(rows.length).toBe(quota + 1);
    expect(rows.filter((r) => (r.flags & 2) !== 0).length).toBe(1);
    expect(rows[rows.length - 1]!.flags & 2).toBe(2);
    // Accepted ⇔ stored as a message, once; the marker carries one rejected id.
    const accepted = all.filter((x) => x.r !== "QUOTA").map((x) => toHex(x.id));
    expect(rows.slice(0, quota).map((r) => toHex(r.msg_id)).sort()).toEqual(accepted.sort());
    // A store's own writes are stored in the order it made them.
    const order = rows.map((r) => toHex(r.msg_id));
    for (const ids of sent) {
      const pos = ids.map((id) => order.indexOf(toHex(id))).filter((p) => p >= 0 && p < quota);
      expect(pos).toEqual([...pos].sort((a, b) => a - b));
    }
    // The first accepted is the one that answered OK_EMPTY.
    expect(order[0]).toBe(toHex(all.find((x) => x.r === "OK_EMPTY")!.id));
  });

  test("SENDs from two stores while a third ACKs: every accepted message is delivered once, in order, none left behind", async () => {
    const { stores } = await nodes(3, 10_000);
    const [a, b, rcv] = stores as [PostgresStore, PostgresStore, PostgresStore];
    const queue = await created(a);
    // The recipient's node, as the server drives it: it delivers the head it learns of (a SEND's
    // OK_EMPTY, or an ACK's next) and ACKs it; one action at a time, as one subscription is.
    const delivered: string[] = [];
    let current: StoredMessage | null = null;
    let chain: Promise<void> = Promise.resolve();
    const problems: string[] = [];
    const ackLoop = async () => {
      while (current !== null) {
        delivered.push(toHex(current.msgId));
        const { deleted, next } = await rcv.messages.tryDelPeekMsg(queue, current.msgId);
        if (deleted === null || !bytesEqual(deleted.msgId, current.msgId)) problems.push(`ACK of ${toHex(current.msgId)} deleted nothing`);
        current = next;
      }
    };
    const notify = () => {
      chain = chain.then(async () => {
        if (current !== null) return; // delivering: the ACK's `next` will find it
        current = await rcv.messages.peekMsg(queue);
        await ackLoop();
      });
    };
    const accepted = new Map<PostgresStore, string[]>([
      [a, []],
      [b, []],
    ]);
    const burst = (s: PostgresStore, n: number) =>
      Promise.all(
        Array.from({ length: n }, async () => {
          const m = newMsg();
          const r = await s.messages.writeMsg(queue, m);
          if (r === "QUOTA" || r === "AUTH") throw new Error(r);
          if (r === "OK_EMPTY") notify();
          return toHex(m.msgId);
        }),
      ).then((ids) => accepted.get(s)!.push(...ids));
    for (let round = 0; round < 40; round++) await Promise.all([burst(a, 1 + (round % 5)), burst(b, 1 + ((round * 3) % 7))]);
    await chain;
    expect(problems).toEqual([]);
    const all = [...accepted.values()].flat();
    expect(delivered.length).toBe(all.length);
    expect(new Set(delivered).size).toBe(all.length);
    expect([...delivered].sort()).toEqual([...all].sort());
    for (const ids of accepted.values()) {
      const pos = ids.map((id) => delivered.indexOf(id));
      expect(pos).toEqual([...pos].sort((x, y) => x - y));
    }
    // Nothing pending that the recipient's node does not know about.
    expect(await rcv.messages.queueSize(queue)).toBe(0);
  });

  test("the same new id or key from two stores at once: exactly one wins, as on one server", async () => {
    const { stores } = await nodes(2);
    const [a, b] = stores as [PostgresStore, PostgresStore];
    for (let round = 0; round < 10; round++) {
      // NEW with the same recipient id: one queue, one DUPLICATE.
      const nq = newQueue();
      const made = await Promise.all([a.queues.createQueue(nq), b.queues.createQueue({ ...nq, senderId: randomId() })]);
      expect(made.filter((r) => r === "DUPLICATE").length).toBe(1);
      const queue = made.find((r) => r !== "DUPLICATE") as QueueRec;
      // KEY with two different keys: one OK, one AUTH.
      const keys = await Promise.all([a.queues.secureQueue(queue, randomId(44)), b.queues.secureQueue(queue, randomId(44))]);
      expect(keys.sort()).toEqual(["AUTH", "OK"]);
      // One notifier id (or link id) for two queues: one gets it.
      const other = await created(b);
      const notifierId = randomId();
      const creds = () => ({ notifierId, notifierKey: randomId(44), rcvNtfDhSecret: randomId(32), serviceId: null });
      const ntf = await Promise.all([a.queues.setQueueNotifier(queue, creds()), b.queues.setQueueNotifier(other, creds())]);
      expect(ntf.filter((r) => r === "DUPLICATE").length).toBe(1);
      const link = { linkId: randomId(), fixed: randomId(10), user: randomId(10) };
      const links = await Promise.all([a.queues.setQueueLink(queue, link), b.queues.setQueueLink(other, link)]);
      expect(links.sort()).toEqual(["AUTH", "OK"]);
    }
  });

  test("DEL while another store SENDs, expiry while another ACKs: no orphan message, each message removed once", async () => {
    const { schema, stores } = await nodes(2);
    const [a, b] = stores as [PostgresStore, PostgresStore];
    const doomed = await created(a);
    const sends = Array.from({ length: 40 }, () => b.messages.writeMsg(doomed, newMsg()));
    const del = await a.queues.deleteQueue(doomed);
    const results = await Promise.all(sends);
    if (del === "AUTH") throw new Error("the queue was there");
    // Every SEND either landed before the deletion (and was deleted with the queue) or saw no queue.
    expect(results.filter((r) => r !== "AUTH").length).toBe(del.msgCount);
    expect((await messageRows(schema, doomed.key)).length).toBe(0);

    const queue = await created(a);
    const msgs = Array.from({ length: 30 }, (_, i) => newMsg({ tsMs: 1_000 + i }));
    for (const m of msgs) await a.messages.writeMsg(queue, m);
    // Expiry of everything on one store, ACKs of the head on the other, at once.
    const expiry = (async () => {
      let n = 0;
      for (;;) {
        const p = await a.messages.expireMessages(100, 7);
        n += p.expired;
        if (p.done) return n;
      }
    })();
    let acked = 0;
    for (const m of msgs) if ((await b.messages.tryDelPeekMsg(queue, m.msgId)).deleted !== null) acked++;
    expect((await expiry) + acked).toBe(msgs.length);
    expect((await messageRows(schema, queue.key)).length).toBe(0);
    await expectCountersMatch(schema, stores);
  });

  test("groups locking two queues in opposite orders on two stores all complete", async () => {
    const { schema, stores } = await nodes(2);
    const [a, b] = stores as [PostgresStore, PostgresStore];
    const q1 = await created(a);
    const q2 = await created(a);
    const rounds = 30;
    for (let i = 0; i < rounds; i++) {
      const rs = await Promise.all([
        a.messages.writeMsg(q1, newMsg()),
        a.messages.writeMsg(q2, newMsg()),
        b.messages.writeMsg(q2, newMsg()),
        b.messages.writeMsg(q1, newMsg()),
      ]);
      for (const r of rs) expect(r === "OK" || r === "OK_EMPTY").toBe(true);
    }
    expect((await messageRows(schema, q1.key)).length).toBe(2 * rounds);
    expect((await messageRows(schema, q2.key)).length).toBe(2 * rounds);
  });

  test("a row held by another transaction: the group commits without the operation, which then waits and succeeds", async () => {
    const { schema, stores } = await nodes(1);
    const s = stores[0]!;
    const q1 = await created(s);
    const q2 = await created(s);
    const other = await admin.reserve();
    try {
      await other.unsafe("BEGIN");
      await other.unsafe(`SELECT 1 FROM "${schema}".queues WHERE qid = ${q2.key} FOR UPDATE`);
      const commitsBefore = s.conn.commits;
      const first = s.messages.writeMsg(q1, newMsg());
      const blocked = s.messages.writeMsg(q2, newMsg());
      // The first write commits on its own although the second is queued in the same group.
      expect(await first).toBe("OK_EMPTY");
      expect(s.conn.lockBusy).toBe(1);
      expect(s.conn.commits).toBe(commitsBefore + 1);
      await waitUntil(async () => (await lockWaiters(other)) === 1);
      // The "other node" adds a message while the write waits: the write sees it once it has the row.
      await other.unsafe(`INSERT INTO "${schema}".messages(qid, msg_id, ts_ms, flags, body) VALUES (${q2.key}, '\\x01', 1, 0, '\\x')`);
      await other.unsafe("COMMIT");
      expect(await blocked).toBe("OK");
    } finally {
      other.release();
    }
  });

  test("a deadlock with another transaction rolls the group back and runs it again", async () => {
    const { schema, stores } = await nodes(1);
    const s = stores[0]!;
    // Each waiter checks for a deadlock once, deadlock_timeout (1 s) after it began to wait, and
    // the first to find the cycle is the victim. The other transaction joins half-way through the
    // store's second (by PostgreSQL's own clock of the store's wait), so the store checks first;
    // a loaded machine can still delay one check past the other (a join seen 807 ms after the
    // store began to wait, once): then the other transaction is the victim, this case did not
    // happen, and it is set up again with a new queue and service.
    for (let attempt = 1; ; attempt++) {
      const svc = service("M");
      expect(await s.services.getCreateService(svc)).toEqual(svc.serviceId);
      const queue = await created(s);
      const retriesBefore = s.conn.retries;
      const other = await admin.reserve();
      try {
        await other.unsafe("BEGIN");
        await other.unsafe(`SELECT 1 FROM "${schema}".services FOR UPDATE`);
        // The store tries the queue then the service (held): it waits for both, holding the queue.
        const assoc = s.services.setQueueService(queue, "rcv", svc.serviceId);
        await waitUntil(async () => (await lockWaiters(other)) === 1);
        await Bun.sleep(Math.max(0, 500 - (await waitedMs(other))));
        // The other transaction now wants the queue: a cycle.
        const lost = await other.unsafe(`SELECT 1 FROM "${schema}".queues WHERE qid = ${queue.key} FOR UPDATE`).then(
          () => null,
          (e: unknown) => e,
        );
        if (lost !== null) {
          expect((lost as { errno?: unknown }).errno).toBe("40P01"); // deadlock_detected, in the other transaction
          await other.unsafe("ROLLBACK");
          expect(await assoc).toBe("OK");
          expect(s.conn.retries).toBe(retriesBefore);
          if (attempt < 5) continue;
          throw new Error("PostgreSQL chose the other transaction as the deadlock's victim 5 times");
        }
        // The store was the victim: it runs again once the other transaction has committed.
        await other.unsafe("COMMIT");
        expect(await assoc).toBe("OK");
        expect(s.conn.retries).toBe(retriesBefore + 1);
        expect(await s.services.getServiceQueuesInfo(svc.serviceId, "rcv")).toEqual({ count: 1, idsHash: queueIdsHash([queue.recipientId]) });
        return;
      } finally {
        other.release();
      }
    }
  });

  test("a row held past lock_timeout on every retry: the write fails with StoreError(busy); the store goes on", async () => {
    const schema = testSchemaName();
    schemas.push(schema);
    const s = await openPostgresStore({ uri: pgUri, schema, poolSize: 3, createSchema: true, lockTimeoutMs: 20 });
    live.push(s);
    const queue = await created(s);
    const other = await admin.reserve();
    try {
      await other.unsafe("BEGIN");
      await other.unsafe(`SELECT 1 FROM "${schema}".queues WHERE qid = ${queue.key} FOR UPDATE`);
      const e = await s.messages.writeMsg(queue, newMsg()).then(
        () => null,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(StoreError);
      expect((e as StoreError).kind).toBe("busy");
      expect(s.conn.retries).toBe(4);
      await other.unsafe("COMMIT");
      expect(await s.messages.writeMsg(queue, newMsg())).toBe("OK_EMPTY");
      // The lock timeout stays on the writer's connection: a pool connection has the default.
      expect((await s.conn.sql`SHOW lock_timeout`)[0].lock_timeout).toBe("0");
    } finally {
      other.release();
    }
  });

  test("service associations from three stores: counts and hashes equal a recomputation from the queues", async () => {
    const { schema, stores } = await nodes(3);
    const m = service("M");
    // The same certificate registered by every node at once: one service, its id for all.
    const ids = await Promise.all(stores.map((s, i) => s.services.getCreateService(i === 0 ? m : { ...m, serviceId: randomId() })));
    const winner = ids.find((x) => x instanceof Uint8Array) as Uint8Array;
    for (const id of ids) expect(id).toEqual(winner);
    const m2 = service("M");
    await stores[1]!.services.getCreateService(m2);
    const services = [winner, m2.serviceId];
    const queues: QueueRec[] = [];
    for (let i = 0; i < 60; i++) queues.push(await created(stores[i % 3]!));
    // Rounds of concurrent changes: each store associates, moves, dissociates, creates, deletes.
    for (let round = 0; round < 6; round++) {
      await Promise.all(
        stores.map((s, k) =>
          Promise.all(
            queues.map((qq, i) => {
              const pick = (i + round + k) % 4;
              if (pick === 3) return s.services.setQueueService(qq, "rcv", null);
              return s.services.setQueueService(qq, "rcv", services[pick % 2]!);
            }),
          ),
        ),
      );
      await Promise.all([
        stores[round % 3]!.queues.createQueue(newQueue({ rcvServiceId: services[round % 2]! })),
        stores[(round + 1) % 3]!.queues.deleteQueue(queues[round]!),
      ]);
    }
    for (const id of services) {
      const rows = (await q(schema, `SELECT recipient_id FROM $S.queues WHERE rcv_service_id = '\\x${toHex(id)}'`)) as { recipient_id: Uint8Array }[];
      const info = await stores[2]!.services.getServiceQueuesInfo(id, "rcv");
      expect(info).toEqual({ count: rows.length, idsHash: queueIdsHash(rows.map((r) => new Uint8Array(r.recipient_id))) });
    }
    await expectCountersMatch(schema, stores);
  });

  test("counters equal count(*) after concurrent work on every concern, from any store", async () => {
    const { schema, stores } = await nodes(3, 5);
    const queues: QueueRec[] = [];
    for (let i = 0; i < 12; i++) queues.push(await created(stores[i % 3]!));
    await Promise.all(
      stores.map(async (s, k) => {
        const work: Promise<unknown>[] = [];
        for (const qq of queues) {
          for (let j = 0; j < 3; j++) work.push(s.messages.writeMsg(qq, newMsg()));
          work.push(s.queues.setQueueNotifier(qq, { notifierId: randomId(), notifierKey: randomId(44), rcvNtfDhSecret: randomId(32), serviceId: null }));
          work.push(s.ntfs.addNtf(randomId(), { msgId: randomId(), tsMs: 1, nonce: randomId(24), encMeta: randomId(10) }));
        }
        work.push(s.queues.deleteQueue(queues[k]!));
        work.push(s.queues.deleteQueueNotifier(queues[k + 3]!));
        await Promise.all(work);
        const h = await s.messages.peekMsg(queues[k + 6]!);
        if (h !== null) await s.messages.tryDelPeekMsg(queues[k + 6]!, h.msgId);
      }),
    );
    await expectCountersMatch(schema, stores);
  });

  async function expectCountersMatch(schema: string, stores: PostgresStore[]): Promise<void> {
    const [row] = (await q(
      schema,
      `SELECT (SELECT count(*) FROM $S.queues)::int AS queues,
        (SELECT count(*) FROM $S.queues WHERE notifier_id IS NOT NULL)::int AS notifiers,
        (SELECT count(*) FROM $S.messages)::int AS messages,
        (SELECT count(*) FROM $S.ntfs)::int AS ntfs,
        (SELECT count(*) FROM $S.queues WHERE rcv_service_id IS NOT NULL)::int AS rcv_sq`,
    )) as { queues: number; notifiers: number; messages: number; ntfs: number; rcv_sq: number }[];
    for (const s of stores) {
      const st = await s.stats();
      expect([st.queueCount, st.notifierCount, st.messageCount, st.ntfCount, st.rcvServiceQueuesCount]).toEqual([
        row!.queues,
        row!.notifiers,
        row!.messages,
        row!.ntfs,
        row!.rcv_sq,
      ]);
    }
  }

  /** Connections waiting for a lock that `other` holds (other tests on the cluster do not count). */
  async function lockWaiters(other: SQL): Promise<number> {
    const [{ pid }] = await other`SELECT pg_backend_pid() AS pid`;
    const rs = await admin`SELECT count(*)::int AS n FROM pg_stat_activity WHERE ${pid}::int = ANY(pg_blocking_pids(pid))`;
    return rs[0].n as number;
  }

  /** How long the transactions waiting for `other`'s locks have waited, by PostgreSQL's clock (pg_locks.waitstart). */
  async function waitedMs(other: SQL): Promise<number> {
    const [{ pid }] = await other`SELECT pg_backend_pid() AS pid`;
    const rs = await admin`SELECT coalesce(max(extract(epoch FROM clock_timestamp() - l.waitstart) * 1000), 0)::int AS ms
      FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE NOT l.granted AND ${pid}::int = ANY(pg_blocking_pids(a.pid))`;
    return rs[0].ms as number;
  }
});

function service(role: ServiceRec["role"]): ServiceRec {
  return { serviceId: randomId(), role, certChain: [randomId(300)], certHash: randomId(32), createdAt: 86400 * 20000 };
}

/** Polls `cond` (a condition on the database, not a duration). */
async function waitUntil(cond: () => Promise<boolean>): Promise<void> {
  while (!(await cond())) await Bun.sleep(5);
}
