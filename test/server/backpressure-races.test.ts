// Regressions found in review: events for a connection that stopped reading must stay bounded
// (Server.hs:deliverNtfsThread keeps notifications while the send queue is full), and a SUB
// racing a SEND into the empty queue delivers the message once (at most one unacknowledged
// message per subscription, Server.hs:tryDeliverMessage / subscribeQueueAndDeliver).
import { expect, test } from "bun:test";
import { startTestServer } from "./harness.ts";
import { SMPClient } from "../../src/client/client.ts";
import { MAX_REFUSED_BLOCKS } from "../../src/server/outbox.ts";

test("notifications for a subscriber that stopped reading are kept, not buffered without bound", async () => {
  const s = await startTestServer({ store: { msgQueueQuota: 1000 } });
  try {
    const R = await SMPClient.connect({ server: s.address });
    const S = await SMPClient.connect({ server: s.address });
    const N = await SMPClient.connect({ server: s.address });
    const q = await R.createQueue({ subMode: "C" });
    const n = await R.enableNotifications(q.rcvId, q.rcvAuthKey);
    await N.subscribeNotifications(n.notifierId, n.notifierKey);
    const nc = [...s.server.clients].find((c) => c.ntfSubs.size > 0)!;
    let writes = 0;
    const orig = nc.handle.writePayload.bind(nc.handle);
    nc.handle.writePayload = (p: Uint8Array) => {
      writes++;
      return orig(p);
    };
    N.handle.transport.stream.pause(); // N never reads again
    const body = new Uint8Array(100);
    for (let round = 0; round < 30; round++) {
      for (let i = 0; i < 100; i++) await S.sendMessage(q.sndId, body, { notification: true });
      for (let i = 0; i < 100; i++) {
        const m = await R.getMessage(q.rcvId, q.rcvAuthKey);
        await R.ack(q.rcvId, q.rcvAuthKey, m!.msgId);
      }
    }
    // Without the bound this wrote ~3000 blocks (~47 MiB) into a connection nobody reads. Allowed:
    // what the TLS and socket buffers accept before refusing (a few dozen blocks), then the cap.
    expect(writes).toBeLessThanOrEqual(MAX_REFUSED_BLOCKS + 64);
    const stats = await s.server.store.stats();
    // Nothing more was written once N backed up, so it was never disconnected for refusing blocks,
    // and what it did not get is kept for when it reads again.
    expect(nc.connected).toBe(true);
    expect(stats.ntfCount).toBeGreaterThan(0);
    for (const c of [R, S, N]) c.close();
  } finally {
    await s.stop();
  }
}, 120_000);

test("SUB racing a SEND into the empty queue delivers the message once", async () => {
  const s = await startTestServer();
  try {
    const events: string[] = [];
    const A = await SMPClient.connect({ server: s.address, onEvent: (e) => void (e.type === "event" && events.push(e.msg.tag)) });
    const S = await SMPClient.connect({ server: s.address });
    const q = await A.createQueue({ subMode: "C" });
    const store = s.server.store;
    const peek = store.messages.peekMsg.bind(store.messages);
    // Drive the interleaving instead of widening it with sleeps: SUB has registered the
    // subscription and is reading the queue head when the SEND arrives, is stored and is pushed to
    // the new subscriber; only then does SUB's read of the head go on (and finds that message).
    let entered!: () => void;
    const subPeeking = new Promise<void>((r) => (entered = r));
    let release!: () => void;
    const sendDone = new Promise<void>((r) => (release = r));
    let held = false;
    let headSeenBySub: Awaited<ReturnType<typeof peek>> | undefined;
    store.messages.peekMsg = async (ref) => {
      if (held) return peek(ref);
      held = true;
      entered();
      await sendDone;
      headSeenBySub = await peek(ref);
      return headSeenBySub;
    };
    const sub = A.subscribe(q.rcvId, q.rcvAuthKey);
    await subPeeking;
    await S.sendMessage(q.sndId, new TextEncoder().encode("hi"));
    release();
    await sub;
    // The race happened: SUB's read of the head ran after the SEND stored the message.
    expect(headSeenBySub).not.toBeNull();
    expect(headSeenBySub).toBeDefined();
    // Anything the server pushed to A before answering this PING has arrived by now.
    await A.ping();
    expect(events.filter((t) => t === "MSG").length).toBe(1);
    A.close();
    S.close();
  } finally {
    await s.stop();
  }
});
