// The control port over real TCP (Server.hs:runCPServer, processCP, controlPortAuth; digest §8.7):
// greeting, roles, every command in both roles, AUTH for unauthorised commands, `error: …` for
// parse errors, and moderation — block (with ERR BLOCKED bytes equal to the reference's vectors
// at every version), unblock, delete, the daily block quota, blocking surviving a restart.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { base64url } from "../../../src/encoding/base64.ts";
import type { Version } from "../../../src/protocol/versions.ts";
import { SMPClient } from "../../../src/client/client.ts";
import { HELP } from "../../../src/server/control/session.ts";
import { MAX_LINE, MAX_PENDING_LINES, MAX_SESSIONS } from "../../../src/server/control/server.ts";
import { loadVectors, toHex } from "../../vectors.ts";
import { setLogLevel } from "../../../src/util/log.ts";
import { startTestServer, type TestServer } from "../harness.ts";
import { CMD, closeAll, connect, err, EVENT_WAIT_MS, RawClient, send, sndKeys, sokNone, sr, OK } from "../helpers.ts";
import { ControlClient } from "./control-client.ts";

const ADMIN = "admin-secret";
const USER = "user-secret";
const control = (quota = 20) => ({ port: 0, adminPassword: ADMIN, userPassword: USER, dailyBlockQueueQuota: quota });

async function session(s: TestServer, password?: string): Promise<ControlClient> {
  const c = await ControlClient.open(s.control!.port);
  expect(await c.greeting()).toEqual(["SMP server control port", "'help' for supported commands"]);
  if (password !== undefined) expect((await c.cmd(`auth ${password}`))[0]).toMatch(/^Current role is CPR(Admin|User)$/);
  return c;
}

const id = (b: Uint8Array) => base64url(b);

let srv: TestServer;
beforeAll(async () => {
  setLogLevel("error");
  // One node under SMP_TEST_NODES: one process's control port, its clients and counters.
  srv = await startTestServer({ control: control(0), nodes: 1 });
});
afterAll(async () => {
  setLogLevel("info"); // the default; other test files in this process expect it
  await srv.stop();
});

describe("roles and replies", () => {
  test("unauthenticated: AUTH for every role-checked command; help and stats-rts answer; parse errors", async () => {
    const c = await session(srv);
    try {
      for (const cmd of ["stats", "clients", "sockets", "threads", "socket-threads", "server-info", "save", "suspend", "resume", "delete AAAA", "status AAAA", "unblock AAAA", "block AAAA reason=spam"])
        expect([cmd, await c.cmd(cmd)]).toEqual([cmd, ["AUTH"]]);
      expect(await c.cmd("")).toEqual([]);
      expect((await c.cmd("stats-rts")).some((l) => l.startsWith("rss: "))).toBe(true);
      expect(await c.cmd("nonsense")).toEqual(["error: Failed reading: bad ControlProtocol command"]);
      expect(await c.cmd("stats now")).toEqual(["error: endOfInput"]);
      expect((await c.cmd("block AAAA reason=rude"))[0]).toStartWith("error: ");
      expect((await c.cmd("delete !!!"))[0]).toStartWith("error: ");
      expect((await c.cmd("auth"))[0]).toStartWith("error: ");
      expect((await c.cmd("\u00ff\u0001\u0002 garbage"))[0]).toStartWith("error: ");
      c.sendRaw("help\n");
      expect(await c.line()).toBe(HELP);
    } finally {
      c.close();
    }
  });

  test("wrong password leaves CPRNone; the role is fixed for the session", async () => {
    const c = await session(srv);
    try {
      expect(await c.cmd("auth wrong")).toEqual(["Current role is CPRNone"]);
      expect(await c.cmd("stats")).toEqual(["AUTH"]);
      expect(await c.cmd(`auth ${USER}`)).toEqual(["Current role is CPRUser"]);
      expect(await c.cmd(`auth ${ADMIN}`)).toEqual(["Current role is CPRUser, start new session to change."]);
      expect(await c.cmd(`auth ${USER}`)).toEqual(["Current role is CPRUser"]);
    } finally {
      c.close();
    }
  });

  test("user role: stats, sockets, server-info, status; admin-only commands answer AUTH", async () => {
    const c = await session(srv, USER);
    try {
      const stats = await c.cmd("stats");
      expect(stats[0]).toMatch(/^fromTime: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? UTC$/);
      for (const k of ["qCreated: ", "other SUB events (auth, duplicate, prohibited): (", "qCount 2: ", "pRelays: requests=", "ntfServiceQueuesCount: "])
        expect(stats.some((l) => l.startsWith(k))).toBe(true);
      expect(stats.some((l) => l.startsWith("ntfCount 2: "))).toBe(false);
      expect(await c.cmd("sockets")).toEqual([`Sockets for port ${srv.port}:`, expect.stringMatching(/^accepted: \d+$/), expect.stringMatching(/^closed: \d+$/), expect.stringMatching(/^active: \d+$/), "leaked: 0"]);
      const info = await c.cmd("server-info");
      expect(info.slice(0, 2)).toEqual(["Threads: 1", expect.stringMatching(/^Clients: \d+$/)]);
      expect(info.some((l) => l.startsWith("SMP subscriptions (via clients)"))).toBe(false);
      for (const cmd of ["clients", "threads", "socket-threads", "save", "suspend", "resume", "delete AAAA"]) expect([cmd, await c.cmd(cmd)]).toEqual([cmd, ["AUTH"]]);
      expect(await c.cmd("status AAAA")).toEqual(["error: AUTH"]);
    } finally {
      c.close();
    }
  });

  test("admin role: clients, stats, threads, socket-threads, server-info, save", async () => {
    const smp = await connect(srv);
    const c = await session(srv, ADMIN);
    try {
      const clients = await c.cmd("clients");
      expect(clients[0]).toBe("clientId,sessionId,connected,createdAt,rcvActiveAt,sndActiveAt,age,subscriptions");
      expect(clients.slice(1).some((l) => l.split(",")[1] === Buffer.from(smp.sessionId).toString("base64"))).toBe(true);
      expect(clients.slice(1).every((l) => l.split(",").length === 8)).toBe(true);
      expect((await c.cmd("stats")).some((l) => l.startsWith("ntfCount 2: "))).toBe(true);
      expect(await c.cmd("threads")).toEqual(["Threads: 1", "1 (ThreadRunning) event loop, all connections"]);
      expect((await c.cmd("socket-threads"))[0]).toStartWith("Not available");
      expect((await c.cmd("server-info")).some((l) => l.startsWith("SMP subscriptions (via clients): "))).toBe(true);
      expect(await c.cmd("save")).toEqual(["saving server state...", "server state saved!"]);
      expect(await srv.server.store.getBlob("server-stats")).not.toBeNull();
    } finally {
      c.close();
      smp.close();
    }
  });

  test("admin server-info: the reference's lines in its order (Server.hs:processCP CPServerInfo), ours mapped onto them", async () => {
    const s = await startTestServer({ control: control(0), nodes: 1 }); // the reference's lines of one process
    const smp = await SMPClient.connect({ server: s.address, timeoutMs: 5000 });
    try {
      await smp.createQueue({ subMode: "S" });
      const got = await smp.createQueue({ subMode: "C" });
      expect(await smp.getMessage(got.rcvId, got.rcvAuthKey)).toBeNull(); // GET: the ProhibitSub mark
      const c = await session(s, ADMIN);
      expect(await c.cmd("server-info")).toEqual([
        "Threads: 1",
        "Clients: 1",
        "Client queues (rcvQ, sndQ, msgQ): (0,0,0)",
        "SMP subscriptions (via clients): 2",
        "SMP subscriptions (by group: NoSub, SubPending, SubThread, ProhibitSub): (1,0,0,1)",
        "SMP subscribed clients (via clients): 1",
        "SMP subscribed clients queues (via clients, rcvQ, sndQ, msgQ): (0,0,0)",
        "Ntf subscriptions (via clients): 0",
        "Ntf subscribed clients (via clients): 0",
        "Ntf subscribed clients queues (via clients, rcvQ, sndQ, msgQ): (0,0,0)",
        "SMP subscriptions: 1",
        "SMP subscribed clients: 1",
        "SMP subscribed clients count 2: 1",
        "Ntf subscriptions: 0",
        "Ntf subscribed clients: 0 []",
        "Ntf subscribed clients count 2: 0 fromList []",
        "Names resolver: off",
      ]);
      c.close();
    } finally {
      smp.close();
      await s.stop();
    }
  });

  test("suspend refuses new SMP connections, resume accepts them again; existing ones go on", async () => {
    const existing = await connect(srv);
    const c = await session(srv, ADMIN);
    try {
      expect(await c.cmd("suspend")).toEqual(["ok, new connections are refused until resume"]);
      await expect(connect(srv)).rejects.toThrow();
      expect(await sr(existing, null, "1", new Uint8Array(0), CMD.PING)).toEqual({ tag: "PONG" });
      expect(await c.cmd("resume")).toEqual(["ok, new connections are accepted"]);
      (await connect(srv)).close();
    } finally {
      srv.admission.suspended = false;
      c.close();
      existing.close();
    }
  });

  test("quit closes the session", async () => {
    const c = await session(srv);
    c.sendRaw("quit\r\n");
    expect(await c.rest()).toEqual([]);
  });
});

describe("moderation", () => {
  const vectors = loadVectors("transmissions.json").versions as { version: number; broker_messages: { name: string; message: string }[] }[];
  const vectorMsg = (v: number, name: string) => vectors.find((x) => x.version === v)!.broker_messages.find((m) => m.name === name)!.message;

  test("block: the subscriber is told, sender and recipient get ERR BLOCKED with the reference's bytes at every version; unblock; status", async () => {
    const [r, s] = [await connect(srv), await connect(srv)];
    const c = await session(srv, USER);
    try {
      const q = await r.createQueue({ authAlg: "ed25519" });
      const rec = await srv.server.store.queues.getQueueBySenderId(q.sndId);
      expect(await c.cmd(`status ${id(q.sndId)}`)).toEqual([`status: EntityActive, updatedAt: Just (RoundedSystemTime {roundedSeconds = ${rec!.updatedAt}}), queueMode: Just QMMessaging`]);
      const blockedBefore = srv.server.stats.qBlocked;
      expect(await c.cmd(`block ${id(q.sndId)} reason=content,notice={"ttl":3600}`)).toEqual([
        'ok, queue blocked: EntityBlocked (BlockingInfo {reason = BRContent, notice = Just (ClientNotice {ttl = Just 3600})})',
      ]);
      expect(srv.server.stats.qBlocked).toBe(blockedBefore + 1);
      // Server.hs:processCP CPBlock writes ERR BLOCKED to the queue's subscriber.
      const pushed = await r.nextEvent(EVENT_WAIT_MS);
      expect(pushed.type === "event" && pushed.msg).toEqual(err({ type: "BLOCKED", info: { reason: "content", notice: { ttl: 3600 } } }));
      expect(await c.cmd(`block ${id(q.sndId)} reason=content,notice={"ttl":3600}`)).toEqual([
        'ok, already inactive: EntityBlocked (BlockingInfo {reason = BRContent, notice = Just (ClientNotice {ttl = Just 3600})})',
      ]);
      expect((await c.cmd(`status ${id(q.sndId)}`))[0]).toStartWith("status: EntityBlocked (BlockingInfo {reason = BRContent");

      const expected = (v: number) => vectorMsg(v, "ERR BLOCKED content, notice ttl=3600");
      for (const v of vectors.map((x) => x.version) as Version[]) {
        const raw = await RawClient.connect(srv.address, v);
        try {
          raw.send([{ key: null, corrId: "s", entityId: q.sndId, cmd: send("hi") }]);
          const [sent] = await raw.recvBlock();
          expect([v, "sender", toHex(sent!.raw)]).toEqual([v, "sender", expected(v)]);
          raw.send([{ key: q.rcvAuthKey, corrId: "r", entityId: q.rcvId, cmd: CMD.GET }]);
          const [got] = await raw.recvBlock();
          expect([v, "recipient", toHex(got!.raw)]).toEqual([v, "recipient", expected(v)]);
        } finally {
          raw.close();
        }
      }

      expect(await c.cmd(`unblock ${id(q.sndId)}`)).toEqual([
        "ok, queue unblocked, reason to block was: BlockingInfo {reason = BRContent, notice = Just (ClientNotice {ttl = Just 3600})}",
      ]);
      expect(await c.cmd(`unblock ${id(q.sndId)}`)).toEqual(["ok, queue was active"]);
      expect(await sr(s, null, "1", q.sndId, send("after"))).toEqual(OK);
      expect(await c.cmd(`block ${id(q.sndId)} reason=spam`)).toEqual(["ok, queue blocked: EntityBlocked (BlockingInfo {reason = BRSpam, notice = Nothing})"]);
      for (const v of [11, 15, 20] as Version[]) {
        const raw = await RawClient.connect(srv.address, v);
        raw.send([{ key: null, corrId: "s", entityId: q.sndId, cmd: send("hi") }]);
        expect([v, toHex((await raw.recvBlock())[0]!.raw)]).toEqual([v, vectorMsg(v, "ERR BLOCKED spam, no notice")]);
        raw.close();
      }
      // OFF then unblock: the reference answers that the queue is inactive.
      expect(await sr(r, q.rcvAuthKey, "2", q.rcvId, CMD.OFF)).toEqual(OK);
      expect(await c.cmd(`unblock ${id(q.sndId)}`)).toEqual(["error, queue is inactive"]);
      expect(await c.cmd(`unblock ${id(new Uint8Array(24))}`)).toEqual(["error: AUTH"]);
    } finally {
      c.close();
      closeAll([r, s]);
    }
  });

  test("block and status by short-link id (Server.hs:getSenderQueue falls back to SSenderLink)", async () => {
    const r = await connect(srv);
    const c = await session(srv, USER);
    try {
      const q = await r.createQueue({ queueMode: "C", linkData: { fixedData: new Uint8Array([1]), userData: new Uint8Array([2]) } });
      expect((await c.cmd(`status ${id(q.linkId!)}`))[0]).toStartWith("status: EntityActive, updatedAt: Just (RoundedSystemTime {roundedSeconds = ");
      expect((await c.cmd(`status ${id(q.linkId!)}`))[0]).toEndWith("queueMode: Just QMContact");
      expect(await c.cmd(`block ${id(q.linkId!)} reason=spam,notice={}`)).toEqual(["ok, queue blocked: EntityBlocked (BlockingInfo {reason = BRSpam, notice = Just (ClientNotice {ttl = Nothing})})"]);
      expect(await sr(r, null, "1", q.linkId!, CMD.LGET)).toEqual(err({ type: "BLOCKED", info: { reason: "spam", notice: { ttl: null } } }));
    } finally {
      c.close();
      r.close();
    }
  });

  test("delete (admin): the queue and its messages go, its subscriber gets DELD", async () => {
    const [r, s] = [await connect(srv), await connect(srv)];
    const c = await session(srv, ADMIN);
    try {
      const q = await r.createQueue({ authAlg: "ed25519", subMode: "C" });
      expect(await sr(s, null, "1", q.sndId, send("one"))).toEqual(OK);
      expect(await sr(s, null, "2", q.sndId, send("two"))).toEqual(OK);
      const other = await connect(srv);
      expect(await sr(other, q.rcvAuthKey, "3", q.rcvId, CMD.SUB)).toEqual(sokNone(20));
      await other.nextEvent(EVENT_WAIT_MS); // the first message
      const before = { ...srv.server.stats };
      expect(await c.cmd(`delete ${id(q.sndId)}`)).toEqual(["ok, 2 messages deleted"]);
      const deld = await other.nextEvent(EVENT_WAIT_MS);
      expect(deld.type === "event" && deld.msg).toEqual({ tag: "DELD" });
      expect(srv.server.stats.qDeletedAll).toBe(before.qDeletedAll + 1);
      expect(srv.server.stats.qDeletedNew).toBe(before.qDeletedNew + 1);
      expect(srv.server.stats.qCount).toBe(before.qCount - 1);
      expect(await sr(s, null, "4", q.sndId, send("three"))).toEqual(err({ type: "AUTH" }));
      expect(await c.cmd(`delete ${id(q.sndId)}`)).toEqual(["error: AUTH"]);
      other.close();
    } finally {
      c.close();
      closeAll([r, s]);
    }
  });
});

describe("daily block quota (Server.hs:processCP CPBlock; 0 = unlimited, negative = none)", () => {
  for (const [quota, allowed] of [[2, 2], [0, 3], [-1, 0]] as const) {
    test(`daily_block_queue_quota = ${quota}`, async () => {
      const s = await startTestServer({ control: control(quota) });
      const r = await connect(s);
      const c = await session(s, USER);
      try {
        for (let i = 0; i < 3; i++) {
          const q = await r.createQueue({ subMode: "C" });
          const reply = await c.cmd(`block ${id(q.sndId)} reason=spam`);
          if (i < allowed) expect(reply).toEqual(["ok, queue blocked: EntityBlocked (BlockingInfo {reason = BRSpam, notice = Nothing})"]);
          else expect(reply).toEqual([`error: reached limit of ${quota} queues blocked daily`]);
        }
        // The quota is daily: the midnight step resets it.
        await s.monitor.writeDaily(new Date());
        if (quota > 0) expect(await c.cmd(`block ${id((await r.createQueue({ subMode: "C" })).sndId)} reason=spam`)).toEqual(["ok, queue blocked: EntityBlocked (BlockingInfo {reason = BRSpam, notice = Nothing})"]);
      } finally {
        c.close();
        r.close();
        await s.stop();
      }
    });
  }
});

test("blocking is durable: after a restart the queue is still blocked", async () => {
  const s1 = await startTestServer({ control: control() });
  const dir = s1.dataDir;
  const r = await connect(s1);
  const q = await r.createQueue({ subMode: "C" });
  const c = await session(s1, USER);
  expect(await c.cmd(`block ${id(q.sndId)} reason=content`)).toEqual(["ok, queue blocked: EntityBlocked (BlockingInfo {reason = BRContent, notice = Nothing})"]);
  c.close();
  r.close();
  await s1.stop(true);
  const s2 = await startTestServer({ control: control() }, dir);
  try {
    const s = await connect(s2);
    expect(await sr(s, null, "1", q.sndId, send("x"))).toEqual(err({ type: "BLOCKED", info: { reason: "content", notice: null } }));
    s.close();
    const c2 = await session(s2, USER);
    expect((await c2.cmd(`status ${id(q.sndId)}`))[0]).toStartWith("status: EntityBlocked (BlockingInfo {reason = BRContent, notice = Nothing})");
    c2.close();
  } finally {
    await s2.stop();
  }
});

describe("abuse of the control port never reaches SMP", () => {
  test("a line longer than the limit closes the session", async () => {
    const c = await session(srv);
    c.sendRaw("x".repeat(MAX_LINE + 1));
    expect(await c.rest()).toEqual(["error: line too long"]);
    const smp = await connect(srv);
    expect(await sr(smp, null, "1", new Uint8Array(0), CMD.PING)).toEqual({ tag: "PONG" });
    smp.close();
  });

  test("three wrong passwords close the session", async () => {
    const c = await session(srv);
    expect(await c.cmd("auth a")).toEqual(["Current role is CPRNone"]);
    expect(await c.cmd("auth b")).toEqual(["Current role is CPRNone"]);
    c.sendRaw("auth c\n");
    expect(await c.rest()).toEqual(["Current role is CPRNone", "error: too many failed authentication attempts"]);
  });

  test("more authenticated sessions than the limit are refused; SMP and the existing sessions go on", async () => {
    const open: ControlClient[] = [];
    try {
      for (let i = 0; i < MAX_SESSIONS; i++) open.push(await session(srv, USER));
      const extra = await ControlClient.open(srv.control!.port);
      expect(await extra.rest()).toEqual(["error: too many control port sessions"]);
      const smp = await connect(srv);
      expect(await sr(smp, null, "1", new Uint8Array(0), CMD.PING)).toEqual({ tag: "PONG" });
      smp.close();
      expect(await open[0]!.cmd("stats")).not.toEqual(["AUTH"]);
    } finally {
      for (const c of open) c.close();
    }
    // Places are given back when sessions end.
    await waitUntil(async () => {
      const c = await ControlClient.open(srv.control!.port);
      const first = await c.line();
      c.close();
      return first === "SMP server control port";
    });
  });
});

describe("sessions that never authenticate cannot lock the operator out", () => {
  test("all places taken by them: a new session takes the place of the oldest, and authenticates", async () => {
    const open: ControlClient[] = [];
    try {
      for (let i = 0; i < MAX_SESSIONS; i++) open.push(await session(srv));
      const admin = await session(srv, ADMIN);
      open.push(admin);
      expect(await open[0]!.rest()).toEqual(["error: too many control port sessions: closing the oldest one not authenticated"]);
      expect(open.slice(1, MAX_SESSIONS).some((c) => c.closed)).toBe(false);
      expect(await admin.cmd("stats")).not.toEqual(["AUTH"]);
      // Now the places hold 7 unauthenticated sessions and the admin: the next takes the second's.
      open.push(await session(srv));
      expect(await open[1]!.rest()).toEqual(["error: too many control port sessions: closing the oldest one not authenticated"]);
      expect(admin.closed).toBe(false);
    } finally {
      for (const c of open) c.close();
    }
  });

  test("a session not authenticated by the deadline is closed; an authenticated one opened earlier stays", async () => {
    const s = await startTestServer({ control: { ...control(0), authDeadlineMs: 1500 } });
    try {
      const authed = await session(s, ADMIN);
      const idle = await session(s);
      expect(await idle.rest()).toEqual(["error: not authenticated within 1.5 s"]);
      expect(authed.closed).toBe(false);
      expect(await authed.cmd("stats")).not.toEqual(["AUTH"]);
      authed.close();
    } finally {
      await s.stop();
    }
  });
});

test("a reply of several MB streams out whole, and the session goes on", async () => {
  const s = await startTestServer({ control: control(0) });
  // 60,000 connections' rows (~6 MB of `clients`) without opening them: entries shaped as the
  // command reads them, removed before the server stops.
  const fakes: unknown[] = [];
  const now = Date.now();
  for (let i = 0; i < 60_000; i++)
    fakes.push({ id: 1_000_000 + i, handle: { params: { sessionId: new Uint8Array(32).fill(i & 255) } }, connected: true, createdAt: now, rcvActiveAt: now, sndActiveAt: now, subs: new Map() });
  const clients = s.server.clients as Set<unknown>;
  for (const f of fakes) clients.add(f);
  try {
    const c = await session(s, ADMIN);
    const rows = await c.cmd("clients");
    expect(rows.length).toBe(60_001);
    expect(rows.reduce((n, l) => n + l.length + 1, 0)).toBeGreaterThan(4 << 20);
    expect(rows.at(-1)!.startsWith(`${1_000_000 + 59_999},`)).toBe(true);
    expect(await c.cmd("help")).toEqual([]);
    c.close();
  } finally {
    for (const f of fakes) clients.delete(f);
    await s.stop();
  }
});

async function waitUntil(f: () => Promise<boolean>): Promise<void> {
  while (!(await f())) await new Promise((r) => setImmediate(r));
}

test("a flood of commands in one write closes the session; SMP goes on", async () => {
  const s = await startTestServer({ control: control() });
  try {
    const c = await session(s);
    // Far more than the limit in one write, so that any split of it on the way still exceeds it.
    c.sendRaw("help\n".repeat(MAX_PENDING_LINES * 16));
    const rest = await c.rest();
    expect(rest.at(-1)).toBe("error: too many commands at once");
    const smp = await connect(s);
    expect(await sr(smp, null, "1", new Uint8Array(0), CMD.PING)).toEqual({ tag: "PONG" });
    smp.close();
  } finally {
    await s.stop();
  }
});
