// A block of SUBs is looked up with one store call (the reference's production lesson: one
// query per ~135 SUBs, not one per queue); results are the same as one by one — unknown ids get
// AUTH, known ones OK — and a block mixing SUB with other commands still looks up one by one.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { SMPClient, type RcvQueue } from "../../src/client/client.ts";
import { generateAuthKey } from "../../src/client/keys.ts";
import type { QueueStore } from "../../src/store/queue-store.ts";
import { startTestServer, type TestServer } from "./harness.ts";
import { CMD } from "./helpers.ts";

let srv: TestServer;
let c: SMPClient;
const calls = { getQueues: 0, getQueuesIds: 0, byRecipientId: 0 };

beforeAll(async () => {
  srv = await startTestServer();
  // Count the lookups the server makes, on whichever backend the tests run.
  const qs = srv.server.store.queues as QueueStore;
  const getQueues = qs.getQueues.bind(qs);
  const byRid = qs.getQueueByRecipientId.bind(qs);
  qs.getQueues = (party, ids) => {
    calls.getQueues++;
    calls.getQueuesIds += ids.length;
    return getQueues(party, ids);
  };
  qs.getQueueByRecipientId = (id) => {
    calls.byRecipientId++;
    return byRid(id);
  };
  c = await SMPClient.connect({ server: srv.address, timeoutMs: 10_000 });
});

afterAll(async () => {
  c.close();
  await srv.stop();
});

test("a block of SUBs: one getQueues for the block, no per-queue lookup; unknown ids → AUTH", async () => {
  const queues: RcvQueue[] = [];
  for (let i = 0; i < 20; i++) queues.push(await c.createQueue({ subMode: "C" }));
  const unknown = { rcvId: crypto.getRandomValues(new Uint8Array(24)), key: generateAuthKey("ed25519") };
  const req = [...queues.map((q) => ({ rcvId: q.rcvId, key: q.rcvAuthKey })), unknown];
  calls.getQueues = calls.getQueuesIds = calls.byRecipientId = 0;
  const rs = await c.subscribeMany(req);
  expect(rs.filter((r) => "error" in r).map((r) => r.entityId)).toEqual([unknown.rcvId]);
  expect(String((rs[20] as { error: unknown }).error)).toContain("AUTH");
  // 21 SUBs fit in one block (Client.hs:subscribeSMPQueues packs ~135).
  expect(calls).toEqual({ getQueues: 1, getQueuesIds: 21, byRecipientId: 0 });
});

test("a single SUB, and a block mixing SUB with other commands, look up one by one", async () => {
  const q = await c.createQueue({ subMode: "C" });
  calls.getQueues = calls.getQueuesIds = calls.byRecipientId = 0;
  expect(await c.subscribe(q.rcvId, q.rcvAuthKey)).toBeNull();
  expect(calls).toEqual({ getQueues: 0, getQueuesIds: 0, byRecipientId: 1 });
  const q2 = await c.createQueue({ subMode: "C" });
  calls.byRecipientId = 0;
  const rs = await c.sendBatch([
    { entityId: q2.rcvId, command: CMD.SUB, key: q2.rcvAuthKey },
    { entityId: q2.rcvId, command: CMD.QUE, key: q2.rcvAuthKey },
  ]);
  expect(rs.map((r) => ("tag" in r ? r.tag : String(r)))).toEqual(["SOK", "INFO"]);
  expect(calls).toEqual({ getQueues: 0, getQueuesIds: 0, byRecipientId: 2 });
});
