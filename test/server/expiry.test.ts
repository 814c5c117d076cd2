// tests/ServerTests.hs "Message expiration" (testMsgExpireOnSend, testMsgExpireOnInterval,
// testMsgNOTExpireOnInterval) and "Restore messages (old / v2)" (testRestoreExpireMessages), plus
// notification expiry (Server.hs:expireNtfsThread). Instead of sleeping past a TTL of seconds, the
// clock is moved past a TTL of days (bun:test setSystemTime), and the periodic jobs are run by
// calling the callbacks the server registered with setInterval.
import { afterEach, describe, expect, setSystemTime, spyOn, test } from "bun:test";
import { SMPClient } from "../../src/client/index.ts";
import { startTestServer, TEST_NODES, type TestOptions, type TestServer } from "./harness.ts";
import { CMD, closeAll, connect, createAndSecureQueue, expectNoEvent, nextEvent, nextMsg, queueRec, send, sleep, sndKeys, sr, OK } from "./helpers.ts";

const DAY_MS = 86400_000;
const HOUR_MS = 3600_000;
/** Server.hs:expireMessagesThread (messageExpiration checkInterval 7200 s) and expireNtfsThread (3600 s). */
const MSG_EXPIRY_INTERVAL_MS = 7200_000;
const NTF_EXPIRY_INTERVAL_MS = 3600_000;

afterEach(() => {
  setSystemTime(); // back to the real clock
});

/** A server whose periodic jobs can be run on demand: the setInterval callbacks it registered, by period. */
async function serverWithJobs(o: TestOptions, dataDir?: string): Promise<{ s: TestServer; run: (periodMs: number) => void }> {
  const spy = spyOn(globalThis, "setInterval");
  let s: TestServer;
  let jobs: { fn: () => void; ms: number | undefined }[];
  try {
    s = await startTestServer(o, dataDir);
  } finally {
    jobs = spy.mock.calls.map(([fn, ms]) => ({ fn: fn as () => void, ms }));
    spy.mockRestore();
  }
  return {
    s,
    run(periodMs: number) {
      // One job per node (SMP_TEST_NODES): each node asks whether it leads the job; one does the work.
      const js = jobs.filter((j) => j.ms === periodMs);
      expect(js.length).toBe(TEST_NODES);
      for (const j of js) j.fn();
    },
  };
}

/** Polls a condition on state (not on time); 20 s of polling is far beyond any loaded machine's need. */
async function until(cond: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 4000; i++) {
    if (await cond()) return;
    await sleep(5);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * Runs a periodic job and waits until its store calls report `done`; checks the cut-off it used
 * (now − TTL, in seconds). With several nodes (SMP_TEST_NODES) the node leading the job does it:
 * every node's store is watched, and exactly one must have done the work.
 */
async function runToCompletion(s: TestServer, method: "expireMessages" | "expireNtfs", start: () => void, expectedOldSec: number): Promise<void> {
  const spies = s.nodes.map((n) => (method === "expireMessages" ? spyOn(n.server.store.messages, method) : spyOn(n.server.store.ntfs, method)));
  const flushes = s.nodes.map((n) => spyOn(n.server.store, "flush"));
  try {
    start();
    let worker = -1;
    await until(async () => {
      for (const [i, spy] of spies.entries()) {
        const rs = spy.mock.results;
        if (rs.length > 0 && (await (rs[rs.length - 1]!.value as Promise<{ done: boolean }>)).done) worker = i;
      }
      return worker >= 0;
    }, method);
    expect(spies.filter((spy) => spy.mock.calls.length > 0).length).toBe(1); // once in the cluster
    for (const [oldSec] of spies[worker]!.mock.calls) expect(oldSec).toBe(expectedOldSec);
    // The job commits after its last step (jobs.ts), then counts what it expired: wait for that commit.
    const flush = flushes[worker]!;
    await until(async () => flush.mock.results.length > 0, `${method} commit`);
    await flush.mock.results[flush.mock.results.length - 1]!.value;
  } finally {
    for (const spy of spies) spy.mockRestore();
    for (const flush of flushes) flush.mockRestore();
  }
}

const queueSize = async (s: TestServer, rcvId: Uint8Array) => s.server.store.messages.queueSize(await queueRec(s, rcvId));

describe("ServerTests.hs:testMsgExpireOnSend — messages older than the TTL expire on SEND", () => {
  test("expireMessagesOnSend, TTL 1 day; the clock moves 2 days between the two SENDs", async () => {
    const s = await startTestServer({ store: { expireMessagesOnSend: true, expireMessagesDays: 1 } });
    const sh = await connect(s);
    try {
      const { sKey, sPub } = sndKeys("ed25519");
      const creator = await connect(s);
      const q = await createAndSecureQueue(creator, sPub);
      creator.close();
      expect(await sr(sh, sKey, "1", q.sndId, send("hello (should expire)"))).toEqual(OK);
      setSystemTime(Date.now() + 2 * DAY_MS);
      expect(await sr(sh, sKey, "2", q.sndId, send("hello (should NOT expire)"))).toEqual(OK);
      const rh = await connect(s);
      expect(await sr(rh, q.rcvAuthKey, "3", q.rcvId, CMD.SUB)).toEqual({ tag: "SOK", serviceId: null });
      expect((await nextMsg(rh, q)).text).toBe("hello (should NOT expire)");
      await expectNoEvent(rh);
      expect(s.server.stats.msgExpired).toBe(1);
      rh.close();
    } finally {
      sh.close();
      await s.stop();
    }
  });

  test("without expireMessagesOnSend the old message stays (the generated INI sets it off)", async () => {
    const s = await startTestServer({ store: { expireMessagesOnSend: false, expireMessagesDays: 1 } });
    const sh = await connect(s);
    try {
      const q = await sh.createQueue({ subMode: "C" });
      expect(await sr(sh, null, "1", q.sndId, send("old"))).toEqual(OK);
      setSystemTime(Date.now() + 2 * DAY_MS);
      expect(await sr(sh, null, "2", q.sndId, send("new"))).toEqual(OK);
      expect(await queueSize(s, q.rcvId)).toBe(2);
    } finally {
      sh.close();
      await s.stop();
    }
  });
});

describe("ServerTests.hs:testMsgExpireOnInterval / testMsgNOTExpireOnInterval — the periodic expiry job", () => {
  for (const [name, ageMs, expired] of [
    ["testMsgExpireOnInterval: a message older than the TTL is gone", 2 * DAY_MS, true],
    ["testMsgNOTExpireOnInterval: a younger one is delivered", DAY_MS / 2, false],
  ] as const) {
    test(name, async () => {
      const { s, run } = await serverWithJobs({ store: { expireMessagesDays: 1 } });
      const sh = await connect(s);
      try {
        const { sKey, sPub } = sndKeys("ed25519");
        const creator = await connect(s);
        const q = await createAndSecureQueue(creator, sPub);
        creator.close();
        const text = expired ? "hello (should expire)" : "hello (should NOT expire)";
        expect(await sr(sh, sKey, "1", q.sndId, send(text))).toEqual(OK);
        setSystemTime(Date.now() + ageMs);
        await runToCompletion(s, "expireMessages", () => run(MSG_EXPIRY_INTERVAL_MS), Math.floor(Date.now() / 1000) - 86400);
        expect(await queueSize(s, q.rcvId)).toBe(expired ? 0 : 1);
        const rh = await connect(s);
        expect(await sr(rh, q.rcvAuthKey, "2", q.rcvId, CMD.SUB)).toEqual({ tag: "SOK", serviceId: null });
        if (!expired) expect((await nextMsg(rh, q)).text).toBe(text);
        await expectNoEvent(rh);
        rh.close();
      } finally {
        sh.close();
        await s.stop();
      }
    });
  }

  test("expiry stops at the quota marker (MsgStore/Types.hs:deleteExpireMsgs_)", async () => {
    const { s, run } = await serverWithJobs({ store: { expireMessagesDays: 1, msgQueueQuota: 2 } });
    const sh = await connect(s);
    try {
      const q = await sh.createQueue({ subMode: "C" });
      for (const t of ["1", "2"]) expect(await sr(sh, null, t, q.sndId, send(t))).toEqual(OK);
      expect((await sr(sh, null, "3", q.sndId, send("3"))).tag).toBe("ERR"); // quota marker stored
      setSystemTime(Date.now() + 2 * DAY_MS);
      run(MSG_EXPIRY_INTERVAL_MS);
      await until(async () => (await queueSize(s, q.rcvId)) === 1, "message expiry");
      const m = await sr(sh, q.rcvAuthKey, "4", q.rcvId, CMD.GET);
      expect(SMPClient.decryptMessage(q, m as never).type).toBe("quota");
    } finally {
      sh.close();
      await s.stop();
    }
  });
});

describe("ServerTests.hs:testRestoreExpireMessages — messages kept over restarts, expired on start", () => {
  test("4 messages, 2 of them 3 days older; TTL 21 days keeps all, TTL 2 days drops the old two", async () => {
    const o = { store: { expireMessagesOnStart: true, msgQueueQuota: 4 } };
    const s1 = await startTestServer(o);
    const dir = s1.dataDir;
    const { sKey, sPub } = sndKeys("ed25519");
    let q;
    {
      const h = await connect(s1);
      const h1 = await connect(s1);
      q = await createAndSecureQueue(h1, sPub);
      h1.close();
      expect(await sr(h, sKey, "1", q.sndId, send("hello 1"))).toEqual(OK);
      expect(await sr(h, sKey, "2", q.sndId, send("hello 2"))).toEqual(OK);
      setSystemTime(Date.now() + 3 * DAY_MS);
      expect(await sr(h, sKey, "3", q.sndId, send("hello 3"))).toEqual(OK);
      expect(await sr(h, sKey, "4", q.sndId, send("hello 4"))).toEqual(OK);
      h.close();
      await s1.stop(true);
    }
    const s2 = await startTestServer({ store: { ...o.store, expireMessagesDays: 21 } }, dir);
    await sleep(20);
    expect(await queueSize(s2, q.rcvId)).toBe(4);
    expect(s2.server.stats.msgExpired).toBe(0);
    await s2.stop(true);

    const s3 = await startTestServer({ store: { ...o.store, expireMessagesDays: 2 } }, dir);
    try {
      await until(async () => s3.server.stats.msgExpired === 2, "expiry on start");
      expect(await queueSize(s3, q.rcvId)).toBe(2);
      const h = await connect(s3);
      expect(await sr(h, q.rcvAuthKey, "5", q.rcvId, CMD.SUB)).toEqual({ tag: "SOK", serviceId: null });
      const m3 = await nextMsg(h, q);
      expect(m3.text).toBe("hello 3");
      const m4 = await sr(h, q.rcvAuthKey, "6", q.rcvId, CMD.ack(m3.msgId));
      expect(SMPClient.decryptMessage(q, m4 as never)).toMatchObject({ type: "message" });
      h.close();
    } finally {
      await s3.stop();
    }
  });
});

describe("notification expiry (Server.hs:expireNtfsThread, expire_ntfs_hours = 24 by default)", () => {
  for (const [name, ageMs, kept] of [
    ["a notification kept longer than 24 h is dropped", 25 * HOUR_MS, false],
    ["a younger one is delivered on NSUB", 23 * HOUR_MS, true],
  ] as const) {
    test(name, async () => {
      const { s, run } = await serverWithJobs({});
      expect(s.options.store.expireNtfsHours).toBe(24);
      const [rh, sh, nh] = [await connect(s), await connect(s), await connect(s)];
      try {
        const q = await rh.createQueue({ subMode: "C" });
        const n = await rh.enableNotifications(q.rcvId, q.rcvAuthKey);
        expect(await sr(sh, null, "1", q.sndId, send("hello", true))).toEqual(OK);
        setSystemTime(Date.now() + ageMs);
        await runToCompletion(s, "expireNtfs", () => run(NTF_EXPIRY_INTERVAL_MS), Math.floor(Date.now() / 1000) - 24 * 3600);
        expect(await sr(nh, n.notifierKey, "2", n.notifierId, CMD.NSUB)).toEqual({ tag: "SOK", serviceId: null });
        if (kept) expect((await nextEvent(nh, n.notifierId)).tag).toBe("NMSG");
        await expectNoEvent(nh);
      } finally {
        closeAll([rh, sh, nh]);
        await s.stop();
      }
    });
  }
});
