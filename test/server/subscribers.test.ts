/**
 * The Subscribers contract (src/server/env.ts) on its in-memory implementation: who holds each
 * queue and service, and which event each connection that loses one is sent (Server.hs:serverThread
 * CSClient / CSDeleted / CSService; Env/STM.hs:ServerSubscribers). A multi-node implementation
 * must pass the same cases.
 */
import { describe, expect, test } from "bun:test";
import { MSG_, type BrokerMsg } from "../../src/protocol/broker-messages.ts";
import { queueIdsHash } from "../../src/protocol/ids-hash.ts";
import type { ServerAuth, SmpHandle } from "../../src/transport/handle.ts";
import { Client, type ServiceSubs } from "../../src/server/env.ts";
import { idKey } from "../../src/encoding/bytes.ts";
import { ServerStats } from "../../src/server/stats.ts";
import { ServerSubscribers } from "../../src/server/subscribers.ts";

const id = (n: number) => new Uint8Array(24).fill(n);

function client(service?: { role: "M" | "N"; serviceId: Uint8Array }): Client {
  const handle = { auth: { peerService: service ?? null }, params: { version: 19 } } as unknown as SmpHandle<ServerAuth>;
  return new Client(handle);
}

function setup() {
  const stats = new ServerStats();
  const events: { to: Client; entityId: Uint8Array; msg: BrokerMsg }[] = [];
  const subs = new ServerSubscribers(stats, (to, entityId, msg) => events.push({ to, entityId, msg }));
  return { stats, events, subs };
}

const sameSubs = (s: ServiceSubs, ids: Uint8Array[]) => expect({ count: s.count, idsHash: [...s.idsHash] }).toEqual({ count: ids.length, idsHash: [...queueIdsHash(ids)] });

describe("queue subscribers (SUB / NSUB)", () => {
  test("a second connection takes the queue over: the first gets END and loses its Sub", () => {
    const { stats, events, subs } = setup();
    const [a, b] = [client(), client()];
    const q = id(1);
    expect(subs.subscribe("rcv", q, a)).toBe(true);
    // The subscriber's record on the connection is the implementation's to make (env.ts contract).
    const sub = a.subs.get(idKey(q));
    expect(sub).toEqual({ kind: "server", delivered: null });
    sub!.delivered = { msgId: id(9), ts: 1 };
    expect(subs.subscribe("rcv", q, a)).toBe(false);
    expect(a.subs.get(idKey(q))).toBe(sub!); // kept, with what it delivered
    expect(subs.subscribe("rcv", q, b)).toBe(true);
    expect(events).toEqual([{ to: a, entityId: q, msg: MSG_.END }]);
    expect(a.subs.size).toBe(0);
    expect(b.subs.get(idKey(q))).toEqual({ kind: "server", delivered: null });
    expect(stats.qSubEnd).toBe(1);
    expect(subs.deliverTo("rcv", idKey(q), null)).toBe(b);
  });

  test("notifiers: the connection records what it holds; their END counts too (Server.hs:sendPendingEvtsThread)", () => {
    const { stats, events, subs } = setup();
    const [a, b] = [client(), client()];
    const n = id(2);
    subs.subscribe("ntf", n, a);
    expect(a.ntfSubs.size).toBe(1);
    subs.subscribe("ntf", n, b);
    expect(events).toEqual([{ to: a, entityId: n, msg: MSG_.END }]);
    expect([a.ntfSubs.size, b.ntfSubs.size, stats.qSubEnd]).toEqual([0, 1, 1]);
  });

  test("end: DELD to the subscriber, nothing to the connection that deleted it", () => {
    const { events, subs } = setup();
    const [a, b] = [client(), client()];
    const [q1, q2] = [id(3), id(4)];
    subs.subscribe("rcv", q1, a);
    subs.subscribe("ntf", q2, a);
    subs.end("rcv", q1, null, MSG_.DELD, b);
    subs.end("ntf", q2, null, MSG_.DELD, a);
    expect(events).toEqual([{ to: a, entityId: q1, msg: MSG_.DELD }]);
    expect([a.subs.size, a.ntfSubs.size]).toEqual([0, 0]);
    expect(subs.anySubscribed("rcv") || subs.anySubscribed("ntf")).toBe(false);
  });

  test("end by the subscriber itself: no event, and its own record goes too (GET's mark included)", () => {
    const { events, subs } = setup();
    const [a, b] = [client(), client()];
    const [q1, q2] = [id(6), id(7)];
    subs.subscribe("rcv", q1, a);
    b.subs.set(idKey(q2), { kind: "prohibit", delivered: null }); // GET: the handlers' own mark
    subs.end("rcv", q1, null, MSG_.DELD, a);
    subs.end("rcv", q2, null, MSG_.DELD, b);
    expect(events).toEqual([]);
    expect([a.subs.size, b.subs.size]).toEqual([0, 0]);
    expect(subs.anySubscribed("rcv")).toBe(false);
  });

  test("a closed connection is no delivery target", () => {
    const { subs } = setup();
    const a = client();
    const q = id(5);
    subs.subscribe("rcv", q, a);
    a.connected = false;
    expect(subs.deliverTo("rcv", idKey(q), null)).toBeUndefined();
  });
});

describe("service subscribers (SUBS / NSUBS)", () => {
  const sid = id(9);
  const other = id(8);

  test("a queue served for a service: its individual subscriber and its previous service's connection get END", () => {
    const { stats, events, subs } = setup();
    const s = client({ role: "M", serviceId: sid });
    const s2 = client({ role: "M", serviceId: other });
    const a = client();
    const [q1, q2] = [id(1), id(2)];
    subs.subscribeServiceQueue("rcv", q2, s2, other);
    subs.subscribe("rcv", q1, a);
    subs.subscribeServiceQueue("rcv", q1, s, null);
    subs.subscribeServiceQueue("rcv", q2, s, other);
    expect(events).toEqual([
      { to: a, entityId: q1, msg: MSG_.END },
      { to: s2, entityId: q2, msg: MSG_.END },
    ]);
    // Both ENDs: the reference counts every event it sends to a connection that lost something.
    expect(stats.qSubEnd).toBe(2);
    sameSubs(s.serviceSubs, [q1, q2]);
    sameSubs(s2.serviceSubs, []);
    sameSubs(subs.totalServiceSubs("rcv"), [q1, q2]);
    expect(subs.serviceSubscriber("rcv", sid)).toBe(s);
    // A message for a service's queue goes to its connection, which gets a delivery Sub.
    const k = idKey(q1);
    expect(subs.deliverTo("rcv", k, sid)).toBe(s);
    expect(s.subs.get(k)).toEqual({ kind: "server", delivered: null });
    expect(subs.serviceDeliverySub(s, k)).toBe(s.subs.get(k)!);
    const k2 = idKey(q2);
    expect(subs.serviceDeliverySub(s, k2)).toEqual({ kind: "server", delivered: null });
    expect(s.subs.get(k2)).toBe(subs.serviceDeliverySub(s, k2));
  });

  test("SUBS on a second connection of the service: the first gets ENDS with what it held", () => {
    const { stats, events, subs } = setup();
    const s1 = client({ role: "M", serviceId: sid });
    const s2 = client({ role: "M", serviceId: sid });
    const qs = [id(1), id(2), id(3)];
    subs.subscribeService("rcv", s1, { count: 2, idsHash: queueIdsHash(qs.slice(0, 2)) });
    subs.subscribeService("rcv", s2, { count: 3, idsHash: queueIdsHash(qs) });
    expect(events).toEqual([{ to: s1, entityId: sid, msg: { tag: "ENDS", count: 2, idsHash: queueIdsHash(qs.slice(0, 2)) } }]);
    expect([s1.serviceSubscribed, s2.serviceSubscribed, stats.rcvServices.subEnd]).toEqual([false, true, 1]);
    sameSubs(s1.serviceSubs, []);
    sameSubs(subs.totalServiceSubs("rcv"), qs);
  });

  test("a deleted service queue: DELD to the service's connection, which stops counting it", () => {
    const { events, subs } = setup();
    const s = client({ role: "N", serviceId: sid });
    const a = client();
    const [n1, n2] = [id(1), id(2)];
    subs.subscribeServiceQueue("ntf", n1, s, null);
    subs.subscribeServiceQueue("ntf", n2, s, null);
    subs.end("ntf", n1, sid, MSG_.DELD, a);
    expect(events).toEqual([{ to: s, entityId: n1, msg: MSG_.DELD }]);
    sameSubs(s.serviceSubs, [n2]);
    sameSubs(subs.totalServiceSubs("ntf"), [n2]);
  });

  test("a disconnected service connection takes its subscriptions out of the total; nobody is told", () => {
    const { events, subs } = setup();
    const s = client({ role: "N", serviceId: sid });
    subs.subscribeService("ntf", s, { count: 1, idsHash: queueIdsHash([id(1)]) });
    subs.subscribe("ntf", id(2), client());
    subs.disconnected(s);
    expect(events).toEqual([]);
    expect(subs.serviceSubscriber("ntf", sid)).toBeUndefined();
    sameSubs(subs.totalServiceSubs("ntf"), []);
    expect(subs.anySubscribed("ntf")).toBe(true);
  });
});
