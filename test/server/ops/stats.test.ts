// Statistics end to end: traffic through a real server moves each counter by the amount the
// reference would count (Server.hs: the incStat points cited in src/server), seen in the daily CSV
// line, in the Prometheus text scraped over HTTP (parsed by a strict exposition-format parser) and
// after a restart.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { generateAuthKey } from "../../../src/client/index.ts";
import { ERR } from "../../../src/protocol/errors.ts";
import { DAILY_COLUMNS, DAILY_FILE } from "../../../src/server/monitor/daily.ts";
import { METRICS_FILE } from "../../../src/server/monitor/index.ts";
import { METRICS_CONTENT_TYPE } from "../../../src/server/monitor/http.ts";
import { setLogLevel } from "../../../src/util/log.ts";
import { startTestServer, type TestServer } from "../harness.ts";
import { CMD, closeAll, connect, err, EVENT_WAIT_MS, nextMsg, RawClient, send, sndKeys, sokNone, sr, OK } from "../helpers.ts";
import { parsePrometheus, sample, type PromFamily } from "./prom-parser.ts";
import { ControlClient } from "./control-client.ts";
import { base64url } from "../../../src/encoding/base64.ts";

const monitor = { logStats: true, version: "test", http: { host: "127.0.0.1", port: 0 } };
const control = { port: 0, userPassword: "u", dailyBlockQueueQuota: 20 };
// A small quota so that QUOTA is reached with three messages. One node under SMP_TEST_NODES: these
// are one process's counters, daily CSV and metrics (each node has its own; the cluster totals are
// test/server/ops/nodes.test.ts's).
const options = { monitor, control, store: { msgQueueQuota: 2 }, nodes: 1 };

async function scrape(s: TestServer): Promise<Map<string, PromFamily>> {
  const res = await fetch(`http://127.0.0.1:${s.monitor.httpPort}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe(METRICS_CONTENT_TYPE);
  return parsePrometheus(await res.text());
}

/**
 * Each counter the traffic below moves: [ServerStats name, delta, daily CSV column, Prometheus
 * series]. Every other reference series must not move.
 */
const EXPECTED: readonly [string, number, string | null, string][] = [
  ["qCreated", 8, "qCreated", "simplex_smp_queues_created"],
  ["qCount", 4, "qCount", "simplex_smp_queues_total1"],
  ["queueCount", 4, "queueCount", "simplex_smp_queues_total2"],
  ["qSecured", 2, "qSecured", "simplex_smp_queues_secured"],
  ["qDeletedAll", 4, "qDeletedAll", 'simplex_smp_queues_deleted{type="all"}'],
  ["qDeletedNew", 3, "qDeletedNew", 'simplex_smp_queues_deleted{type="new"}'],
  ["qDeletedSecured", 1, "qDeletedSecured", 'simplex_smp_queues_deleted{type="secured"}'],
  ["qDeletedAllB", 1, "qDeletedAllB", "simplex_smp_queues_deleted_batch"],
  ["qBlocked", 1, null, "simplex_smp_queues_blocked"],
  ["qSub", 1, "qSub", "simplex_smp_subscribtion_successes"],
  ["qSubAllB", 1, "qSubAllB", "simplex_smp_subscribtion_successes_batch"],
  ["qSubAuth", 1, "qSubAuth", 'simplex_smp_subscribtion_errors{type="auth"}'],
  ["qSubDuplicate", 1, "qSubDuplicate", 'simplex_smp_subscribtion_errors{type="duplicate"}'],
  ["qSubProhibited", 1, "qSubProhibited", 'simplex_smp_subscribtion_errors{type="prohibited"}'],
  ["qSubEnd", 3, "qSubEnd", "simplex_smp_subscribtion_end"],
  ["qSubEndB", 3, "qSubEndB", "simplex_smp_subscribtion_end_batch"],
  ["msgSent", 6, "msgSent", "simplex_smp_messages_sent"],
  ["msgSentNtf", 1, "msgSentNtf", "simplex_smp_messages_notify_sent"],
  ["msgSentAuth", 1, "msgSentAuth", 'simplex_smp_messages_sent_errors{type="auth"}'],
  ["msgSentLarge", 1, "msgSentLarge", 'simplex_smp_messages_sent_errors{type="large"}'],
  ["msgSentQuota", 1, "msgSentQuota", 'simplex_smp_messages_sent_errors{type="quota"}'],
  ["msgSentBlock", 1, null, 'simplex_smp_messages_sent_errors{type="block"}'],
  ["msgRecv", 3, "msgRecv", "simplex_smp_messages_received"],
  ["msgRecvNtf", 1, "msgRecvNtf", "simplex_smp_messages_notify_received"],
  ["msgCount", 3, "msgCount", "simplex_smp_messages_total"],
  ["msgGet", 1, "msgGet", "simplex_smp_messages_notify_get_sent"],
  ["msgRecvGet", 1, "msgRecvGet", "simplex_smp_messages_notify_get_received"],
  ["msgGetNoMsg", 1, "msgGetNoMsg", 'simplex_smp_messages_notify_get_errors{type="nomsg"}'],
  ["msgGetAuth", 1, "msgGetAuth", 'simplex_smp_messages_notify_get_errors{type="auth"}'],
  ["msgGetDuplicate", 1, "msgGetDuplicate", 'simplex_smp_messages_notify_get_errors{type="duplicate"}'],
  ["msgGetProhibited", 1, "msgGetProhibited", 'simplex_smp_messages_notify_get_errors{type="prohibited"}'],
  ["dayMsgQueues", 3, "dayMsgQueues", "simplex_smp_queues_daily"],
  ["weekMsgQueues", 3, null, "simplex_smp_queues_weekly"],
  ["monthMsgQueues", 3, null, "simplex_smp_queues_monthly"],
  ["dayCountNtf", 1, "dayCountNtf", "simplex_smp_queues_notify_daily"],
  ["weekCountNtf", 1, null, "simplex_smp_queues_notify_weekly"],
  ["monthCountNtf", 1, null, "simplex_smp_queues_notify_monthly"],
  ["ntfCreated", 1, "ntfCreated", "simplex_smp_queues_notify_created"],
  ["ntfDeleted", 1, "ntfDeleted", "simplex_smp_queues_notify_deleted"],
  ["ntfSub", 1, "ntfSub", "simplex_smp_subscription_ntf_requests"],
  ["ntfSubAuth", 1, "ntfSubAuth", 'simplex_smp_subscribtion_ntf_errors{type="auth"}'],
  ["ntfSubDuplicate", 1, "ntfSubDuplicate", 'simplex_smp_subscribtion_ntf_errors{type="duplicate"}'],
  ["msgNtfs", 1, "msgNtfs", "simplex_smp_messages_ntf_successes"],
  ["msgNtfsB", 1, "msgNtfsB", "simplex_smp_messages_ntf_successes_batch"],
];

/** Live figures that traffic moves but that are not counters of the day (Info section and ours). */
const LIVE = /^(simplex_smp_(sockets|clients|threads|delivered|delivery|subscribtion_total|subscribtion_clients|subscription_ntf_total|subscription_ntf_clients|info)|smp_server_|process_)/;

const key = (name: string, labels: Record<string, string>) => `${name}${Object.keys(labels).length === 0 ? "" : `{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(",")}}`}`;

function seriesValues(f: Map<string, PromFamily>): Map<string, number> {
  const m = new Map<string, number>();
  for (const fam of f.values()) for (const s of fam.samples) m.set(key(s.name, s.labels), s.value);
  return m;
}

let srv: TestServer;
let before: Map<string, number>;
let after: Map<string, number>;

beforeAll(async () => {
  setLogLevel("error");
  srv = await startTestServer(options);
  before = seriesValues(await scrape(srv));
  await traffic(srv);
  after = seriesValues(await scrape(srv));
});
afterAll(async () => {
  setLogLevel("info"); // the default; other test files in this process expect it
  await srv?.stop();
});

/** The traffic whose counts EXPECTED lists. */
async function traffic(s: TestServer): Promise<void> {
  const [r, snd, r2, ntf] = [await connect(s), await connect(s), await connect(s), await connect(s)];
  try {
    const { sKey, sPub } = sndKeys();
    // NEW ×3 (qCreated 3, qCount 3); q1 subscribed by r (NEW with subMode S: not a SUB).
    const q1 = await r.createQueue();
    const q2 = await r.createQueue({ subMode: "C" });
    const q3 = await r.createQueue({ subMode: "C" });
    expect(await sr(r, q1.rcvAuthKey, "1", q1.rcvId, { tag: "KEY", key: sPub })).toEqual(OK); // qSecured
    const n = await r.enableNotifications(q1.rcvId, q1.rcvAuthKey); // ntfCreated
    expect(await ntf.subscribeNotifications(n.notifierId, n.notifierKey)).toBeNull(); // ntfSub
    expect(await sr(snd, sKey, "2", q1.sndId, send("one"))).toEqual(OK); // msgSent, active day/week/month
    const m1 = await nextMsg(r, q1);
    expect(await sr(snd, sKey, "3", q1.sndId, send("two", true))).toEqual(OK); // msgSent, msgSentNtf, NMSG: msgNtfs, msgNtfsB
    await ntf.nextEvent(EVENT_WAIT_MS);
    const m2 = await r.ack(q1.rcvId, q1.rcvAuthKey, m1.msgId); // msgRecv; the second message follows
    expect(m2).not.toBeNull();
    expect(await r.ack(q1.rcvId, q1.rcvAuthKey, m2!.msgId)).toBeNull(); // msgRecv, msgRecvNtf
    expect(await sr(snd, generateAuthKey("ed25519"), "4", q1.sndId, send("bad key"))).toEqual(err(ERR.AUTH)); // msgSentAuth
    expect(await sr(snd, sKey, "5", q1.sndId, send("-".repeat(16049)))).toEqual(err(ERR.LARGE_MSG)); // msgSentLarge
    expect(await sr(snd, null, "6", q2.sndId, send("kept"))).toEqual(OK); // msgSent; stays: msgCount 1; q2 active too
    // A new subscription without a pending message is not a qSub (Server.hs:subscribeQueueAndDeliver).
    expect(await sr(r2, q1.rcvAuthKey, "7", q1.rcvId, CMD.SUB)).toEqual(sokNone(20)); // END to r: qSubEnd, qSubEndB
    expect((await r.nextEvent(EVENT_WAIT_MS)).type).toBe("event");
    expect(await sr(r2, generateAuthKey("ed25519"), "8", q3.rcvId, CMD.SUB)).toEqual(err(ERR.AUTH)); // qSubAuth
    expect(await sr(r2, q3.rcvAuthKey, "9", q3.rcvId, CMD.GET)).toEqual(OK); // msgGetNoMsg
    expect(await sr(r2, q1.rcvAuthKey, "10", q1.rcvId, CMD.GET)).toEqual(err(ERR.CMD_PROHIBITED)); // msgGetProhibited
    // One block of two SUBs: qSubAllB (Server.hs:receive updateBatchStats); q1 again is a duplicate, q2 new.
    const raw = await RawClient.connect(s.address);
    raw.send([
      { key: q1.rcvAuthKey, corrId: "a", entityId: q1.rcvId, cmd: CMD.SUB },
      { key: q2.rcvAuthKey, corrId: "b", entityId: q2.rcvId, cmd: CMD.SUB },
    ]);
    const got: string[] = [];
    while (got.length < 2) for (const t of await raw.recvBlock()) if (t.corrId !== "") got.push(t.corrId);
    raw.send([{ key: q1.rcvAuthKey, corrId: "c", entityId: q1.rcvId, cmd: CMD.SUB }]); // qSubDuplicate
    while (!(await raw.recvBlock()).some((t) => t.corrId === "c"));
    raw.close();
    // The batch: q2 is new here with its message waiting (qSub), q1 is taken from r2 (END again).
    expect(await sr(r, q3.rcvAuthKey, "11", q3.rcvId, CMD.DEL)).toEqual(OK); // qDeletedAll, qDeletedNew, qCount -1

    // GET mode on q4 (its own connection g): msgGet, a repeated GET before the ACK (msgGetDuplicate),
    // the ACK (msgRecv, msgRecvGet), GET with a wrong key (msgGetAuth), SUB after GET (qSubProhibited).
    const g = await connect(s);
    const q4 = await g.createQueue({ subMode: "C" });
    expect(await sr(snd, null, "12", q4.sndId, send("get me"))).toEqual(OK); // msgSent
    const got1 = await g.getMessage(q4.rcvId, q4.rcvAuthKey);
    const got2 = await g.getMessage(q4.rcvId, q4.rcvAuthKey);
    expect(got2!.msgId).toEqual(got1!.msgId);
    expect(await g.ack(q4.rcvId, q4.rcvAuthKey, got1!.msgId)).toBeNull();
    expect(await sr(g, generateAuthKey("ed25519"), "13", q4.rcvId, CMD.GET)).toEqual(err(ERR.AUTH));
    expect(await sr(g, q4.rcvAuthKey, "14", q4.rcvId, CMD.SUB)).toEqual(err(ERR.CMD_PROHIBITED));
    // QUOTA on q4: two messages fit, the third is refused (msgSent 2, msgSentQuota 1).
    expect(await sr(snd, null, "15", q4.sndId, send("a"))).toEqual(OK);
    expect(await sr(snd, null, "16", q4.sndId, send("b"))).toEqual(OK);
    expect(await sr(snd, null, "17", q4.sndId, send("c"))).toEqual(err(ERR.QUOTA));
    // A secured queue deleted (qDeletedSecured), and two DELs in one block (qDeletedAllB, qDeletedNew 2).
    const q5 = await g.createQueue({ subMode: "C" });
    expect(await sr(g, q5.rcvAuthKey, "18", q5.rcvId, { tag: "KEY", key: sndKeys().sPub })).toEqual(OK);
    expect(await sr(g, q5.rcvAuthKey, "19", q5.rcvId, CMD.DEL)).toEqual(OK);
    const [q6, q7] = [await g.createQueue({ subMode: "C" }), await g.createQueue({ subMode: "C" })];
    const raw2 = await RawClient.connect(s.address);
    raw2.send([
      { key: q6.rcvAuthKey, corrId: "d1", entityId: q6.rcvId, cmd: CMD.DEL },
      { key: q7.rcvAuthKey, corrId: "d2", entityId: q7.rcvId, cmd: CMD.DEL },
    ]);
    const dels: string[] = [];
    while (dels.length < 2) for (const t of await raw2.recvBlock()) dels.push(t.corrId);
    raw2.close();
    // Notifier: NSUB with a wrong key (ntfSubAuth), again on the subscribed connection (ntfSubDuplicate),
    // then NDEL (ntfDeleted; DELD to the notification server: qSubEnd, qSubEndB).
    expect(await sr(ntf, generateAuthKey("ed25519"), "20", n.notifierId, CMD.NSUB)).toEqual(err(ERR.AUTH));
    expect(await ntf.subscribeNotifications(n.notifierId, n.notifierKey)).toBeNull();
    expect(await sr(r2, q1.rcvAuthKey, "21", q1.rcvId, CMD.NDEL)).toEqual(OK);
    const deld = await ntf.nextEvent(EVENT_WAIT_MS);
    expect(deld.type === "event" && deld.msg).toEqual({ tag: "DELD" });
    // Blocked through the control port (qBlocked); SEND to it (msgSentBlock).
    const q8 = await g.createQueue({ subMode: "C" });
    const cc = await ControlClient.open(s.control!.port);
    await cc.greeting();
    expect(await cc.cmd("auth u")).toEqual(["Current role is CPRUser"]);
    expect((await cc.cmd(`block ${base64url(q8.sndId)} reason=spam`))[0]).toStartWith("ok, queue blocked");
    cc.close();
    expect(await sr(snd, null, "22", q8.sndId, send("x"))).toEqual(err({ type: "BLOCKED", info: { reason: "spam", notice: null } }));
    g.close();
  } finally {
    closeAll([r, snd, r2, ntf]);
  }
}

describe("traffic moves each counter by the reference's amount", () => {
  test("Prometheus (GET /metrics, parsed): every listed series moved by its delta, every other reference series stayed", () => {
    const listed = new Map(EXPECTED.map(([, d, , series]) => [series, d]));
    const wrong: string[] = [];
    for (const [series, v] of after) {
      if (LIVE.test(series)) continue;
      const delta = v - (before.get(series) ?? 0);
      const want = listed.get(series) ?? 0;
      if (delta !== want) wrong.push(`${series}: moved ${delta}, expected ${want}`);
    }
    for (const series of listed.keys()) if (!after.has(series)) wrong.push(`${series}: missing`);
    expect(wrong).toEqual([]);
  });
});

/**
 * Server.hs:logServerStats, the values it joins with "," in order (digest §8.6: column 1 the date,
 * 20–39 the four proxy groups, 40 pMsgFwdsRecv, 51 and 58–60 constant "0", 61 queueCount,
 * 77–80 the store's service counts, 81–96 the two service groups, 97–101 the names role).
 */
const REFERENCE_COLUMNS = [
  "date",
  "qCreated",
  "qSecured",
  "qDeletedAll",
  "msgSent",
  "msgRecv",
  "dayMsgQueues",
  "weekMsgQueues",
  "monthMsgQueues",
  "msgSentNtf",
  "msgRecvNtf",
  "dayCountNtf",
  "weekCountNtf",
  "monthCountNtf",
  "qCount",
  "msgCount",
  "msgExpired",
  "qDeletedNew",
  "qDeletedSecured",
  "pRelays.requests",
  "pRelays.successes",
  "pRelays.errorsConnect",
  "pRelays.errorsCompat",
  "pRelays.errorsOther",
  "pRelaysOwn.requests",
  "pRelaysOwn.successes",
  "pRelaysOwn.errorsConnect",
  "pRelaysOwn.errorsCompat",
  "pRelaysOwn.errorsOther",
  "pMsgFwds.requests",
  "pMsgFwds.successes",
  "pMsgFwds.errorsConnect",
  "pMsgFwds.errorsCompat",
  "pMsgFwds.errorsOther",
  "pMsgFwdsOwn.requests",
  "pMsgFwdsOwn.successes",
  "pMsgFwdsOwn.errorsConnect",
  "pMsgFwdsOwn.errorsCompat",
  "pMsgFwdsOwn.errorsOther",
  "pMsgFwdsRecv",
  "qSub",
  "qSubAuth",
  "qSubDuplicate",
  "qSubProhibited",
  "msgSentAuth",
  "msgSentQuota",
  "msgSentLarge",
  "msgNtfs",
  "msgNtfNoSub",
  "msgNtfLost",
  "qSubNoMsg(0)",
  "msgRecvGet",
  "msgGet",
  "msgGetNoMsg",
  "msgGetAuth",
  "msgGetDuplicate",
  "msgGetProhibited",
  "daySubQueues(0)",
  "weekSubQueues(0)",
  "monthSubQueues(0)",
  "queueCount",
  "ntfCreated",
  "ntfDeleted",
  "ntfSub",
  "ntfSubAuth",
  "ntfSubDuplicate",
  "notifierCount",
  "qDeletedAllB",
  "qSubAllB",
  "qSubEnd",
  "qSubEndB",
  "ntfDeletedB",
  "ntfSubB",
  "msgNtfsB",
  "msgNtfExpired",
  "ntfCount",
  "rcvServiceCount",
  "ntfServiceCount",
  "rcvServiceQueuesCount",
  "ntfServiceQueuesCount",
  "rcvServices.assocNew",
  "rcvServices.assocDuplicate",
  "rcvServices.assocUpdated",
  "rcvServices.assocRemoved",
  "rcvServices.subCount",
  "rcvServices.subDuplicate",
  "rcvServices.subQueues",
  "rcvServices.subEnd",
  "ntfServices.assocNew",
  "ntfServices.assocDuplicate",
  "ntfServices.assocUpdated",
  "ntfServices.assocRemoved",
  "ntfServices.subCount",
  "ntfServices.subDuplicate",
  "ntfServices.subQueues",
  "ntfServices.subEnd",
  "rslvStats.reqs",
  "rslvStats.succ",
  "rslvStats.notFound",
  "rslvStats.resolverErrs",
  "rslvStats.disabled",
];

test("the daily CSV's columns are the reference's, in its order", () => {
  expect(REFERENCE_COLUMNS.length).toBe(101);
  expect(DAILY_COLUMNS).toEqual(REFERENCE_COLUMNS);
  expect([REFERENCE_COLUMNS[0], REFERENCE_COLUMNS[19], REFERENCE_COLUMNS[39], REFERENCE_COLUMNS[50], REFERENCE_COLUMNS[60], REFERENCE_COLUMNS[76], REFERENCE_COLUMNS[96]]).toEqual([
    "date",
    "pRelays.requests",
    "pMsgFwdsRecv",
    "qSubNoMsg(0)",
    "queueCount",
    "rcvServiceCount",
    "rslvStats.reqs",
  ]);
});

describe("persistence, daily CSV, metrics file", () => {
  test("restart: every counter of the day comes back (Server.hs:saveServerStats / restoreServerStats; here the database)", async () => {
    const dir = srv.dataDir;
    await srv.stop(true);
    srv = await startTestServer(options, dir);
    const restored = seriesValues(await scrape(srv));
    const differ: string[] = [];
    // msgCount is re-read from the store, which also counts the quota marker of q4 (as the
    // reference's restore and expiry take the store's count).
    const TOTAL = "simplex_smp_messages_total";
    for (const [series, v] of after) if (!LIVE.test(series) && series !== TOTAL && restored.get(series) !== v) differ.push(`${series}: ${v} → ${restored.get(series)}`);
    expect(differ).toEqual([]);
    expect(restored.get(TOTAL)).toBe((await srv.server.store.stats()).messageCount);
    expect(restored.get(TOTAL)).toBe(after.get(TOTAL)! + 1);
  });

  test("the daily line: 101 columns in the reference's order, the counters of the day, then the reset", async () => {
    expect(DAILY_COLUMNS.length).toBe(101);
    const today = new Date(srv.server.stats.fromTime).toISOString().slice(0, 10);
    // 2026-12-07 is a Monday and not the 1st: the week count is written and restarts, the month's is empty.
    const monday = new Date("2026-12-07T00:00:00Z");
    expect(monday.getUTCDay()).toBe(1);
    await srv.monitor.writeDaily(monday);
    const lines = readFileSync(join(srv.dataDir, DAILY_FILE), "utf8").split("\n");
    expect(lines.length).toBe(2);
    expect(lines[1]).toBe("");
    const cols = lines[0]!.split(",");
    expect(cols.length).toBe(101);
    const col = (name: string) => cols[DAILY_COLUMNS.indexOf(name)];
    expect(col("date")).toBe(today);
    // After the restart msgCount is the store's count (with q4's quota marker), see above.
    for (const [, delta, column] of EXPECTED) if (column !== null && column !== "msgCount") expect([column, col(column)]).toEqual([column, String(delta)]);
    expect(col("msgCount")).toBe(String((await srv.server.store.stats()).messageCount));
    expect([col("weekMsgQueues"), col("monthMsgQueues"), col("weekCountNtf"), col("monthCountNtf")]).toEqual(["3", "", "1", ""]);
    // The reference's constant columns (removed statistics).
    for (const c of ["qSubNoMsg(0)", "daySubQueues(0)", "weekSubQueues(0)", "monthSubQueues(0)"]) expect(col(c)).toBe("0");
    const listedCsv = new Set(EXPECTED.map(([, , c]) => c));
    for (const c of DAILY_COLUMNS) if (c !== "date" && !listedCsv.has(c) && !["weekMsgQueues", "monthMsgQueues", "weekCountNtf", "monthCountNtf"].includes(c)) expect([c, col(c)]).toEqual([c, "0"]);

    // Reset for the new day (qCount, msgCount and the store's counts stay); the week restarted.
    const next = await scrape(srv);
    expect(sample(next, "simplex_smp_queues_created")).toBe(0);
    expect(sample(next, "simplex_smp_messages_sent")).toBe(0);
    expect(sample(next, "simplex_smp_queues_total1")).toBe(4);
    expect(sample(next, "simplex_smp_messages_total")).toBe(4);
    expect(sample(next, "simplex_smp_queues_daily")).toBe(0);
    expect(sample(next, "simplex_smp_queues_weekly")).toBe(0);
    expect(sample(next, "simplex_smp_queues_monthly")).toBe(3);
  });

  test("the first of the month restarts the month's count", async () => {
    await srv.monitor.writeDaily(new Date("2027-01-01T00:00:00Z"));
    const last = readFileSync(join(srv.dataDir, DAILY_FILE), "utf8").trimEnd().split("\n").at(-1)!.split(",");
    expect([last[DAILY_COLUMNS.indexOf("weekMsgQueues")], last[DAILY_COLUMNS.indexOf("monthMsgQueues")]]).toEqual(["", "3"]);
    expect(sample(await scrape(srv), "simplex_smp_queues_monthly")).toBe(0);
  });

  test("smp-server-metrics.txt: written atomically every prometheus_interval, parses, same series as /metrics", async () => {
    const s = await startTestServer({ monitor: { logStats: false, version: "test", prometheusIntervalSeconds: 1, http: { host: "127.0.0.1", port: 0 } }, nodes: 1 });
    try {
      const file = join(s.dataDir, METRICS_FILE);
      while (!existsSync(file)) await Bun.sleep(50);
      const fromFile = parsePrometheus(readFileSync(file, "utf8"));
      const fromHttp = await scrape(s);
      expect([...fromFile.keys()].sort()).toEqual([...fromHttp.keys()].sort());
      expect(fromFile.get("simplex_smp_queues_created")!.samples[0]!.timestampMs).toBeGreaterThan(0);
      expect(readdirSync(s.dataDir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
      expect(sample(fromFile, "simplex_smp_info", { version: "test", rts_options: "set SMP_RTS_OPTIONS" })).toBe(1);
    } finally {
      await s.stop();
    }
  });
});
