// Services and their queue counts/IdsHash, mirrored from QueueStore/STM.hs and Protocol.hs:IdsHash.
import { describe, expect, test } from "bun:test";
import { hex as toHexStr } from "../../src/encoding/bytes.ts";
import { emptyIdsHash, queueIdsHash } from "../../src/protocol/ids-hash.ts";
import { PostgresStore } from "../../src/store/postgres/open.ts";
import { SqliteStore } from "../../src/store/sqlite/open.ts";
import type { Store } from "../../src/store/store.ts";
import { StoreError, type QueueRec, type ServiceParty, type ServiceRec } from "../../src/store/types.ts";
import { hex, loadVectors } from "../vectors.ts";
import { describeEachStore } from "./backends.ts";
import { created, newQueue, randomId, spki } from "./helpers.ts";

/** Overwrites a service's stored rcv IdsHash behind the store's back (damaged data). */
async function damageRcvIdsHash(s: Store, serviceId: Uint8Array, hash: Uint8Array): Promise<void> {
  if (s instanceof SqliteStore) s.db.run("UPDATE services SET rcv_hash = ? WHERE service_id = ?", [hash, serviceId]);
  else if (s instanceof PostgresStore) await s.conn.write("test", (tx) => tx`UPDATE services SET rcv_hash = ${hash} WHERE service_id = ${serviceId}`);
  else throw new Error("unknown store backend");
}

function service(role: ServiceRec["role"], over: Partial<ServiceRec> = {}): ServiceRec {
  return { serviceId: randomId(), role, certChain: [randomId(300), randomId(200)], certHash: randomId(32), createdAt: 86400 * 20000, ...over };
}

describe("IdsHash — Protocol.hs:queueIdHash, Semigroup/Monoid IdsHash", () => {
  const vectors = loadVectors("primitives.json").vectors as { fn: string; input: unknown; output: string }[];

  test("XOR of MD5 of the ids equals the reference vector", () => {
    const v = vectors.find((x) => x.fn === "Protocol.hs:queueIdsHash / Encoding IdsHash")!;
    const ids = (v.input as string[]).map(hex);
    // the vector is the smpEncoded IdsHash: a 1-byte length (16) then the hash
    expect(toHexStr(queueIdsHash(ids))).toBe(v.output.slice(2));
    expect(v.output.slice(0, 2)).toBe("10");
  });

  test("mempty is 16 zero bytes", () => {
    const v = vectors.find((x) => x.fn === "Protocol.hs:Monoid IdsHash")!;
    expect(toHexStr(emptyIdsHash())).toBe(v.output.slice(2));
  });
});

describeEachStore((stores) => {
  describe("getCreateService — QueueStore/STM.hs:getCreateService", () => {
    test("same cert hash + role → existing id; other role → SERVICE; new hash with a taken id → DUPLICATE", async () => {
      const s = await stores.open();
      const m = service("M");
      expect(await s.services.getCreateService(m)).toEqual(m.serviceId);
      expect(await s.services.getCreateService({ ...m, serviceId: randomId() })).toEqual(m.serviceId);
      expect(await s.services.getCreateService({ ...m, role: "N", serviceId: randomId() })).toBe("SERVICE");
      expect(await s.services.getCreateService(service("N", { serviceId: m.serviceId }))).toBe("DUPLICATE");
      const n = service("N");
      expect(await s.services.getCreateService(n)).toEqual(n.serviceId);
      expect(await s.services.getCreateService(service("P"))).not.toBe("DUPLICATE");
      expect(await s.services.getService(m.serviceId)).toEqual(m);
      expect(await s.services.getService(randomId())).toBeNull();
      const st = await s.stats();
      expect(st.rcvServiceCount).toBe(1);
      expect(st.ntfServiceCount).toBe(1);
    });
  });

  describe("service associations — QueueStore/STM.hs:setQueueService, addServiceQueue, removeServiceQueue", () => {
    test("ntf association needs a notifier; unknown service info is null", async () => {
      const s = await stores.open();
      const n = service("N");
      await s.services.getCreateService(n);
      const q = await created(s);
      expect(await s.services.setQueueService(q, "ntf", n.serviceId)).toBe("AUTH");
      expect(await s.services.getServiceQueuesInfo(randomId(), "rcv")).toBeNull();
      expect(await s.services.getServiceQueuesInfo(n.serviceId, "ntf")).toEqual({ count: 0, idsHash: emptyIdsHash() });
    });

    test("incrementally kept count and IdsHash equal the ones recomputed from the associated queues", async () => {
      const s = await stores.open();
      const svcM = [service("M"), service("M")];
      const svcN = [service("N"), service("N")];
      for (const x of [...svcM, ...svcN]) await s.services.getCreateService(x);

      // model: which service each queue is associated with, per party
      const rcvOf = new Map<number, Uint8Array | null>();
      const ntfOf = new Map<number, Uint8Array | null>();
      const live = new Map<number, QueueRec>();
      let seed = 12345;
      const rnd = (n: number) => {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        return seed % n;
      };
      const pick = <T>(xs: T[]) => xs[rnd(xs.length)]!;
      const ntfCreds = (serviceId: Uint8Array | null) => ({
        notifierId: randomId(),
        notifierKey: spki("ntf-auth-ed25519"),
        rcvNtfDhSecret: randomId(32),
        serviceId,
      });

      for (let i = 0; i < 40; i++) {
        const rcv = rnd(3) === 0 ? pick(svcM).serviceId : null;
        const ntf = rnd(2) === 0 ? ntfCreds(rnd(2) === 0 ? pick(svcN).serviceId : null) : null;
        const q = await created(s, newQueue({ rcvServiceId: rcv, notifier: ntf }));
        live.set(q.key, q);
        rcvOf.set(q.key, rcv);
        ntfOf.set(q.key, ntf?.serviceId ?? null);
      }
      for (let step = 0; step < 300; step++) {
        const q = pick([...live.values()]);
        const cur = (await s.queues.getQueueByRecipientId(q.recipientId))!;
        switch (rnd(6)) {
          case 0:
          case 1: {
            const to = rnd(3) === 0 ? null : pick(svcM).serviceId;
            expect(await s.services.setQueueService(q, "rcv", to)).toBe("OK");
            rcvOf.set(q.key, to);
            break;
          }
          case 2: {
            const to = rnd(3) === 0 ? null : pick(svcN).serviceId;
            expect(await s.services.setQueueService(q, "ntf", to)).toBe(cur.notifier ? "OK" : "AUTH");
            if (cur.notifier) ntfOf.set(q.key, to);
            break;
          }
          case 3: {
            // NKEY: a new notifier without service (Server.hs:addQueueNotifier_) replaces the old one
            expect(await s.queues.setQueueNotifier(q, ntfCreds(null))).toHaveProperty("prev");
            ntfOf.set(q.key, null);
            break;
          }
          case 4: {
            expect(await s.queues.deleteQueueNotifier(q)).toHaveProperty("prev");
            ntfOf.set(q.key, null);
            break;
          }
          case 5: {
            if (live.size < 10) break;
            expect(await s.queues.deleteQueue(q)).toHaveProperty("queue");
            live.delete(q.key);
            rcvOf.delete(q.key);
            ntfOf.delete(q.key);
            break;
          }
        }
      }

      const check = async (party: ServiceParty, svc: ServiceRec) => {
        const model = [...(party === "rcv" ? rcvOf : ntfOf).entries()].filter(
          ([, sid]) => sid !== null && toHexStr(sid) === toHexStr(svc.serviceId),
        );
        // recompute from the stored queues (paging through them)
        const stored: QueueRec[] = [];
        let after: Uint8Array | null = null;
        for (;;) {
          const page = await s.services.serviceQueues(svc.serviceId, party, after, 7);
          if (page.length === 0) break;
          stored.push(...page);
          after = party === "rcv" ? page[page.length - 1]!.recipientId : page[page.length - 1]!.notifier!.notifierId;
        }
        expect(stored.map((q) => q.key).sort()).toEqual(model.map(([k]) => k).sort());
        const ids = stored.map((q) => (party === "rcv" ? q.recipientId : q.notifier!.notifierId));
        const info = (await s.services.getServiceQueuesInfo(svc.serviceId, party))!;
        expect(info.count).toBe(ids.length);
        expect(toHexStr(info.idsHash)).toBe(toHexStr(queueIdsHash(ids)));
        return ids.length;
      };
      let rcvTotal = 0;
      let ntfTotal = 0;
      for (const x of svcM) rcvTotal += await check("rcv", x);
      for (const x of svcN) ntfTotal += await check("ntf", x);
      expect(rcvTotal).toBeGreaterThan(0);
      expect(ntfTotal).toBeGreaterThan(0);
      const st = await s.stats();
      expect(st.rcvServiceQueuesCount).toBe(rcvTotal);
      expect(st.ntfServiceQueuesCount).toBe(ntfTotal);
      // what a restart loads (the persisted counters) equals what was counted in memory
      const before = await s.stats();
      expect(await (await stores.reopen(s)).stats()).toEqual(before);
    });

    // Postgres/Migrations.hs:createXorHashFuncs (`xor_combine` raises on unequal lengths, so
    // `update_aggregates` fails the statement) and Postgres.hs:withDB (rolled back, STORE).
    test("a stored IdsHash that is not 16 bytes fails the change with a StoreError and changes nothing", async () => {
      const s = await stores.open();
      const m = service("M");
      await s.services.getCreateService(m);
      const q1 = await created(s);
      expect(await s.services.setQueueService(q1, "rcv", m.serviceId)).toBe("OK");
      const short = queueIdsHash([q1.recipientId]).subarray(0, 8);
      await damageRcvIdsHash(s, m.serviceId, short);
      const q2 = await created(s);
      const err = await s.services.setQueueService(q2, "rcv", m.serviceId).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).kind).toBe("corrupt");
      expect((err as StoreError).message).toContain("rcv IdsHash is 8 bytes, not 16");
      // the same check guards a queue created with its service (createQueue → changeServiceQueues)
      await expect(created(s, newQueue({ rcvServiceId: m.serviceId }))).rejects.toBeInstanceOf(StoreError);
      // rolled back: neither queue joined the service, the count is unchanged
      const page = await s.services.serviceQueues(m.serviceId, "rcv", null, 10);
      expect(page.map((q) => toHexStr(q.recipientId))).toEqual([toHexStr(q1.recipientId)]);
      expect((await s.services.getServiceQueuesInfo(m.serviceId, "rcv"))!.count).toBe(1);
    });
  });
});
