/**
 * `smp-server import` / `export` / `backup` on a reference installation built from the reference's
 * own formats (test/fixtures/reference-data.ts spells out every line from simplexmq's encoders;
 * reference-ini.ts renders Init.hs:iniFileContent; reference-identity.ts runs the reference's
 * openssl steps). The imported state is shown with the client library against a running server.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, chownSync, copyFileSync, existsSync, statSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadCredentials } from "../../../src/cli/certs.ts";
import { loadConfig } from "../../../src/cli/config.ts";
import { convertReferenceIni } from "../../../src/cli/import/ini.ts";
import { main, type MainContext } from "../../../src/cli/main.ts";
import { toServerOptions } from "../../../src/cli/server-options.ts";
import { SMPClient, SMPError } from "../../../src/client/index.ts";
import { decryptMsgBody } from "../../../src/client/msg-body.ts";
import { DB_FILE, startServer, type RunningServer } from "../../../src/server/index.ts";
import { openPostgresStore } from "../../../src/store/postgres/open.ts";
import { openSqliteStore } from "../../../src/store/sqlite/open.ts";
import { exportPostgresToSqlite } from "../../../src/store/transfer.ts";
import type { BrokerMsg } from "../../../src/protocol/broker-messages.ts";
import { checksums, hasOpenssl, makeReferenceCertificates, referenceFingerprint } from "../../fixtures/reference-identity.ts";
import { iniFileContent } from "../../fixtures/reference-ini.ts";
import { created } from "../../store/helpers.ts";
import { dropTestSchemas, testPostgresUri, testSchemaName } from "../../store/postgres.ts";
import { tempDirs } from "../../fixtures/temp-dirs.ts";
import { lines, makeReferenceData, refMessage, u, writeJournalQueue, writeReferenceData, type ReferenceData } from "../../fixtures/reference-data.ts";

const tempDir = tempDirs("smp-import-");

interface Run {
  code: number | undefined;
  out: string;
  err: string;
}

async function cli(args: string[]): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const ctx: MainContext = { pathEnv: { env: {}, isRoot: false, home: tempDir() }, stdinIsTTY: false, out: (l) => out.push(l), err: (l) => err.push(l) };
  const code = await main(args, ctx);
  return { code, out: out.join("\n"), err: err.join("\n") };
}

interface Installation {
  refCfg: string;
  refData: string;
  cfg: string;
  data: string;
  flags: string[];
}

function installation(d: ReferenceData, alg: "ED25519" | "ED448" = "ED25519", ini?: (text: string) => string): Installation {
  const base = tempDir();
  const refCfg = join(base, "etc-opt-simplex");
  const refData = join(base, "var-opt-simplex");
  mkdirSync(refCfg);
  makeReferenceCertificates(refCfg, alg, "smp.example.com");
  const text = iniFileContent({ cfgPath: refCfg, logPath: refData, enableStoreLog: true, logStats: false, host: "smp.example.com", disableWeb: true });
  writeFileSync(join(refCfg, "smp-server.ini"), ini === undefined ? text : ini(text));
  writeReferenceData(refData, d);
  const cfg = join(base, "cfg");
  const data = join(base, "data");
  return { refCfg, refData, cfg, data, flags: ["--from-config-dir", refCfg, "--from-data-dir", refData, "--config-dir", cfg, "--data-dir", data] };
}

/** The server as `start` would run it from the imported configuration, on an ephemeral port. */
async function startImported(i: Installation): Promise<RunningServer> {
  const cfg = loadConfig(join(i.cfg, "smp-server.toml"));
  const o = toServerOptions(cfg, loadCredentials(i.cfg), { dataDir: i.data, logLevel: "error" });
  return startServer({ ...o, transport: { ...o.transport, ports: [0], bindHost: "127.0.0.1" } });
}

/**
 * The server on the imported state and a client of the address the reference printed (its
 * fingerprint, unchanged); `connect` opens more clients.
 */
async function withImportedServer(
  i: Installation,
  f: (c: SMPClient, server: RunningServer, connect: () => Promise<SMPClient>) => Promise<void>,
): Promise<void> {
  const server = await startImported(i);
  const clients: SMPClient[] = [];
  const connect = async () => {
    const c = await SMPClient.connect({ server: `smp://${referenceFingerprint(i.refCfg)}@127.0.0.1:${server.ports[0]}` });
    clients.push(c);
    return c;
  };
  try {
    await f(await connect(), server, connect);
  } finally {
    for (const c of clients) c.close();
    await server.close();
  }
}

/** Everything in the database, keyed by ids (not by row numbers), for state comparisons. */
async function dump(dataDir: string): Promise<unknown> {
  const store = openSqliteStore({ path: join(dataDir, DB_FILE) });
  try {
    const queues = [];
    for (const q of await store.queues.allQueues(null, 100000)) {
      const { key: _key, ...rest } = q;
      const notifierNtfs = q.notifier === null ? [] : await store.ntfs.notifierNtfs(q.notifier.notifierId);
      queues.push({ ...rest, messages: await store.messages.queueMessages(q), notifierNtfs });
    }
    return { services: await store.services.allServices(), queues, stats: await store.stats() };
  } finally {
    await store.close();
  }
}

/** The dump of a database that holds nothing. */
async function emptyDump(): Promise<unknown> {
  const dir = tempDir();
  await openSqliteStore({ path: join(dir, DB_FILE) }).close();
  return dump(dir);
}

async function nextMsg(c: SMPClient): Promise<Extract<BrokerMsg, { tag: "MSG" }>> {
  for (;;) {
    const e = await c.nextEvent();
    if (e.type === "event" && e.msg.tag === "MSG") return e.msg;
  }
}

/** Times at the reference's precision (whole seconds): what its files carry. */
function seconds(state: unknown): unknown {
  return JSON.parse(JSON.stringify(state, (k, v) => (k === "tsMs" ? Math.floor(v / 1000) : v)));
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const errOf = async (p: Promise<unknown>): Promise<unknown> => p.then(() => null, (e: unknown) => (e instanceof SMPError ? e.err : e));

describe.skipIf(!hasOpenssl)("import of a reference installation (memory message store)", () => {
  const d = makeReferenceData();
  let i: Installation;
  let first: Run;
  let refBefore: Record<string, string>;

  beforeAll(async () => {
    i = installation(d);
    refBefore = { ...checksums(i.refCfg), ...checksums(i.refData) };
    first = await cli(["import", ...i.flags]);
  });

  test("imports everything, prints the counts and why anything was skipped, and leaves the reference untouched", () => {
    expect(first.err).toBe("");
    expect(first.code).toBe(0);
    expect(first.out).toContain(`store log records: ${d.storeLog.length}, ${d.refusedRecords} not applied`);
    expect(first.out).toContain("1 SECURE with another sender key");
    expect(first.out).toContain("1 TIME of a deleted queue");
    expect(first.out).toContain("1 SUSPEND of a queue that was never created");
    expect(first.out).toContain("  services: 1 imported\n");
    expect(first.out).toContain("  queues: 13 imported\n");
    expect(first.out).toContain("  messages: 7 imported, 1 skipped (1 its queue is not in the store log)");
    expect(first.out).toContain("  notifications: 2 imported, 1 skipped (1 its notifier is not in the store log)");
    expect({ ...checksums(i.refCfg), ...checksums(i.refData) }).toEqual(refBefore);
  });

  test("the server on the imported state: same fingerprint, messages in order, secured SEND, links, notifications, blocks", async () => {
    const q = d.q;
    await withImportedServer(i, async (c, server, connect) => {
      // SUB delivers the imported messages in order, with their ids, times and flags.
      await c.subscribe(q.msg!.rcvId, q.msg!.rcvKey);
      let m = await nextMsg(c);
      for (const [k, want] of d.messages.msg!.entries()) {
        expect(m.msgId).toEqual(want.msgId);
        const body = decryptMsgBody(q.msg!.rcvDhSecret, m.msgId, m.body);
        expect(body).toEqual({ type: "message", ts: want.ts, notification: want.notification, body: want.body });
        const next = await c.ack(q.msg!.rcvId, q.msg!.rcvKey, m.msgId);
        if (k < d.messages.msg!.length - 1) m = next!;
        else expect(next).toBeNull();
      }

      // Legacy `sndSecure=T` + SECURE: the sender's key works, no key does not.
      expect(await errOf(c.sendMessage(q.legacy!.sndId, new TextEncoder().encode("hello")))).toEqual({ type: "AUTH" });
      await c.sendMessage(q.legacy!.sndId, new TextEncoder().encode("after import"), { key: q.legacy!.sndKey });
      const g1 = (await c.getMessage(q.legacy!.rcvId, q.legacy!.rcvKey))!;
      expect(decryptMsgBody(q.legacy!.rcvDhSecret, g1.msgId, g1.body)).toMatchObject({ type: "message", body: d.messages.legacy![0]!.body });
      await c.ack(q.legacy!.rcvId, q.legacy!.rcvKey, g1.msgId);
      const g2 = (await c.getMessage(q.legacy!.rcvId, q.legacy!.rcvKey))!;
      expect(text((decryptMsgBody(q.legacy!.rcvDhSecret, g2.msgId, g2.body) as { body: Uint8Array }).body)).toBe("after import");

      // Link data: LINK replaced the user part; LDELETE removed the other queue's link.
      expect(await c.getQueueLink(q.contact!.linkId)).toEqual({ senderId: q.contact!.sndId, data: { fixedData: d.linkFixed, userData: d.linkUser2 } });
      expect(await errOf(c.getQueueLink(q.ldeleted!.linkId))).toEqual({ type: "AUTH" });

      // The quota marker came over as a marker: the queue refuses messages until drained.
      expect(await errOf(c.sendMessage(q.quota!.sndId, new TextEncoder().encode("x"), { key: q.quota!.sndKey }))).toEqual({ type: "QUOTA" });

      // Blocked stays blocked, with the reason and notice; UNBLOCK and SUSPEND replayed.
      expect(await errOf(c.subscribe(q.blocked!.rcvId, q.blocked!.rcvKey))).toEqual({ type: "BLOCKED", info: { reason: "spam", notice: { ttl: 86400 } } });
      expect(await errOf(c.subscribe(q.blockedCreate!.rcvId, q.blockedCreate!.rcvKey))).toEqual({ type: "BLOCKED", info: { reason: "content", notice: null } });
      expect(await c.subscribe(q.unblocked!.rcvId, q.unblocked!.rcvKey)).toBeNull();
      expect(await errOf(c.sendMessage(q.off!.sndId, new TextEncoder().encode("x"), { key: q.off!.sndKey }))).toEqual({ type: "AUTH" });

      // KEYS replaced the recipient keys; DELETE removed the queue.
      expect(await c.subscribe(q.rekeyed!.rcvId, q.rekeyed!.rcvKey)).toBeNull();
      expect(await errOf(c.subscribe(q.deleted!.rcvId, q.deleted!.rcvKey))).toEqual({ type: "AUTH" });

      // The notifier and its pending notifications; NDELETE removed the other notifier.
      const nc = await connect();
      expect(await nc.subscribeNotifications(q.ntf!.notifierId, q.ntf!.notifierKey)).toBeNull();
      for (const want of d.ntfs) {
        let e;
        do e = await nc.nextEvent();
        while (!(e.type === "event" && e.msg.tag === "NMSG"));
        expect(e.entityId).toEqual(q.ntf!.notifierId);
        expect(e.msg).toMatchObject({ nonce: want.nonce, encMeta: want.encMeta });
      }
      expect(await errOf(nc.subscribeNotifications(q.ndeleted!.notifierId, q.ndeleted!.notifierKey))).toEqual({ type: "AUTH" });

      // Services and their associations (count and ids hash kept by the store).
      const info = await server.server.store.services.getServiceQueuesInfo(d.serviceId, "rcv");
      expect(info?.count).toBe(1);
      expect((await server.server.store.services.getServiceQueuesInfo(d.serviceId, "ntf"))?.count).toBe(1);
      expect((await server.server.store.services.getService(d.serviceId))?.certHash).toEqual(d.serviceCertHash);
    });
  });

  test("a second import changes nothing and says why", async () => {
    const before = await dump(i.data);
    const cfgBefore = checksums(i.cfg);
    const again = await cli(["import", ...i.flags]);
    expect(again.err).toBe("");
    expect(again.code).toBe(0);
    expect(await dump(i.data)).toEqual(before);
    expect(checksums(i.cfg)).toEqual(cfgBefore);
    expect(again.out).toMatch(/this store log was imported at \d{4}-\d\d-\d\dT[0-9:.]+Z: nothing to do/);
    expect(again.out).toContain("already holds the conversion of");
  });

  test("a newer store log of the same server: only what is new comes in; queues already here are left as they are", async () => {
    const before = await dump(i.data);
    const extra = makeReferenceData().storeLog[1]!; // a queue this store does not have
    const log = join(i.refData, "smp-server-store.log");
    const original = readFileSync(log);
    try {
      writeFileSync(log, lines([...d.storeLog, extra]));
      const r = await cli(["import", ...i.flags]);
      expect(r.code).toBe(0);
      expect(r.out).toContain("  services: 0 imported, 1 skipped (1 already in the store)");
      expect(r.out).toContain("  queues: 1 imported, 13 skipped (13 already in the store)");
      expect(r.out).toContain("store log records of queues already in the store, left as they are: 16 (3 SECURE; 1 TIME; 1 LINK; 1 NOTIFIER; 2 BLOCK; 1 UNBLOCK; 1 SUSPEND; 1 KEYS; 1 NDELETE; 1 LDELETE; 3 QUEUE_SERVICE)");
      expect(r.out).toContain("  messages: 0 imported, 8 skipped (7 its queue was already in the store; 1 its queue is not in the store log)");
      expect(r.out).toContain("  notifications: 0 imported, 3 skipped (2 its queue was already in the store; 1 its notifier is not in the store log)");
      const after = (await dump(i.data)) as { queues: { recipientId: unknown }[] };
      const old = before as { queues: { recipientId: unknown }[] };
      expect(after.queues.length).toBe(old.queues.length + 1);
      expect(after.queues.filter((q) => old.queues.some((o) => JSON.stringify(o) === JSON.stringify(q))).length).toBe(old.queues.length);
    } finally {
      writeFileSync(log, original);
    }
  });

  test("export writes the reference's own lines, and importing them gives the same state", async () => {
    // Right after an import (nothing delivered yet), the exported lines are the reference's lines.
    const fresh = installation(d);
    expect((await cli(["import", ...fresh.flags])).code).toBe(0);
    const out1 = join(tempDir(), "exported");
    const ex = await cli(["export", "--config-dir", fresh.cfg, "--data-dir", fresh.data, "--to-dir", out1]);
    expect(ex.err).toBe("");
    expect(ex.out).toContain("Exported 1 services and 13 queues");
    const read = (f: string) => readFileSync(join(out1, f), "utf8").split("\n").filter((l) => l !== "");
    const storeLog = read("smp-server-store.log");
    // StoreLog.hs:writeQueueStore: services first, then one CREATE per queue; `msg` was never changed after its CREATE.
    expect(storeLog[0]).toBe(d.storeLog[0]!);
    expect(storeLog).toContain(d.storeLog[1]!);
    const deletedRid = u(d.q.deleted!.rcvId);
    expect(read("smp-server-messages.log").sort()).toEqual(d.messagesLog.filter((l) => !l.includes(deletedRid)).sort());
    expect(read("smp-server-ntfs.log")).toEqual(d.ntfsLog.slice(0, 2));

    // export → import round trip from the state the server left (seconds: the reference's precision).
    const out2 = join(tempDir(), "exported");
    expect((await cli(["export", "--config-dir", i.cfg, "--data-dir", i.data, "--to-dir", out2])).code).toBe(0);
    const data2 = join(tempDir(), "data");
    const back = await cli(["import", "--from-config-dir", i.refCfg, "--from-data-dir", out2, "--config-dir", i.cfg, "--data-dir", data2]);
    expect(back.code).toBe(0);
    expect(seconds(await dump(data2))).toEqual(seconds(await dump(i.data)));

    // Never replaces files.
    const again = await cli(["export", "--config-dir", i.cfg, "--data-dir", i.data, "--to-dir", out2]);
    expect(again.code).toBe(1);
    expect(again.err).toContain(`${join(out2, "smp-server-store.log")}`);
    expect(again.err).toContain("nothing was replaced");
  });

  test("backup FILE while the server runs: a consistent database with the same state; never over an existing file", async () => {
    const server = await startImported(i);
    try {
      const file = join(tempDir(), "backup.sqlite");
      const b = await cli(["backup", file, "--config-dir", i.cfg, "--data-dir", i.data]);
      expect(b.err).toBe("");
      expect(b.code).toBe(0);
      const copy = join(tempDir(), "copy");
      mkdirSync(copy);
      copyFileSync(file, join(copy, DB_FILE));
      expect(await dump(copy)).toEqual(await dump(i.data));
      const again = await cli(["backup", file, "--config-dir", i.cfg, "--data-dir", i.data]);
      expect(again.code).toBe(1);
      expect(again.err).toContain(`${file} already exists`);
      expect((await cli(["backup", "--config-dir", i.cfg, "--data-dir", i.data])).err).toContain("backup needs the FILE");
      // Options may come before FILE too; a second word is refused.
      const file2 = join(tempDir(), "b2.sqlite");
      expect((await cli(["backup", "--config-dir", i.cfg, "--data-dir", i.data, file2])).code).toBe(0);
      expect(existsSync(file2)).toBe(true);
      expect((await cli(["backup", join(tempDir(), "x"), "extra", "--data-dir", i.data])).err).toContain("unexpected argument: extra");
      // export reads one snapshot too, beside the running server.
      expect((await cli(["export", "--config-dir", i.cfg, "--data-dir", i.data, "--to-dir", join(tempDir(), "x")])).code).toBe(0);
    } finally {
      await server.close();
    }
  });
});

test("import without a reference installation says so and writes nothing", async () => {
  const base = tempDir();
  const r = await cli(["import", "--from-config-dir", join(base, "no-etc"), "--from-data-dir", join(base, "no-var"), "--config-dir", join(base, "cfg"), "--data-dir", join(base, "data")]);
  expect(r.code).toBe(1);
  expect(r.err).toContain(`neither ${join(base, "no-etc")} nor ${join(base, "no-var")} exists`);
  expect(existsSync(join(base, "cfg")) || existsSync(join(base, "data"))).toBe(false);
});

describe.skipIf(!hasOpenssl)("import: dry run, damaged files", () => {
  test("--dry-run prints the same counts and writes nothing", async () => {
    const d = makeReferenceData();
    const i = installation(d);
    const before = { ...checksums(i.refCfg), ...checksums(i.refData) };
    const r = await cli(["import", ...i.flags, "--dry-run"]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toContain("  queues: 13 to import\n");
    expect(r.out).toContain("  messages: 7 to import, 1 skipped");
    expect(r.out).toContain("would be");
    expect(existsSync(i.cfg)).toBe(false);
    expect(existsSync(i.data)).toBe(false);
    expect({ ...checksums(i.refCfg), ...checksums(i.refData) }).toEqual(before);
  });

  test("a corrupt line inside a log stops the import naming file and line; nothing is written", async () => {
    const d = makeReferenceData();
    const i = installation(d);
    const bad = [...d.storeLog];
    bad.splice(5, 0, "CREATE rid=!!! rk=");
    writeFileSync(join(i.refData, "smp-server-store.log"), lines(bad));
    const r = await cli(["import", ...i.flags]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`corrupt record in ${join(i.refData, "smp-server-store.log")}, line 6:`);
    expect(r.err).toContain("Nothing was imported.");
    expect(await dump(i.data)).toEqual(await emptyDump());
    expect(existsSync(join(i.cfg, "smp-server.toml"))).toBe(false);

    // The same in the message log: the queues read before it are not kept either.
    writeFileSync(join(i.refData, "smp-server-store.log"), lines(d.storeLog));
    const msgs = [...d.messagesLog];
    msgs.splice(2, 0, `v3 ${u(d.q.msg!.rcvId)} not-a-message`);
    writeFileSync(join(i.refData, "smp-server-messages.log"), lines(msgs));
    const r2 = await cli(["import", ...i.flags]);
    expect(r2.code).toBe(1);
    expect(r2.err).toContain(`corrupt record in ${join(i.refData, "smp-server-messages.log")}, line 3:`);
    expect(await dump(i.data)).toEqual(await emptyDump());

    // A service whose certificate chain does not decode (the reference's parser refuses the line too).
    writeFileSync(join(i.refData, "smp-server-messages.log"), lines(d.messagesLog));
    const svc = d.storeLog[0]!.replace(/ cert=[^ ]+/, ` cert=${u(new Uint8Array(300).fill(0x30))}`);
    writeFileSync(join(i.refData, "smp-server-store.log"), lines([svc, ...d.storeLog.slice(1)]));
    const r3 = await cli(["import", ...i.flags]);
    expect(r3.code).toBe(1);
    expect(r3.err).toContain(`corrupt record in ${join(i.refData, "smp-server-store.log")}, line 1: expected certificate (`);
    expect(await dump(i.data)).toEqual(await emptyDump());
  });

  test("a torn last line (the reference's crash artefact) needs --skip-warnings, then is reported and skipped", async () => {
    const d = makeReferenceData();
    const i = installation(d);
    const path = join(i.refData, "smp-server-messages.log");
    appendFileSync(path, d.messagesLog[0]!.slice(0, 40)); // no newline: the write was cut short
    const r = await cli(["import", ...i.flags]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`corrupt last record in ${path}, line ${d.messagesLog.length + 1}`);
    expect(r.err).toContain("--skip-warnings");
    const ok = await cli(["import", ...i.flags, "--skip-warnings"]);
    expect(ok.code).toBe(0);
    expect(ok.out).toContain(`skipped the corrupt last record in ${path}, line ${d.messagesLog.length + 1}`);
    expect(ok.out).toContain("  messages: 7 imported, 2 skipped (1 its queue is not in the store log; 1 corrupt last line)");
  });
});

describe.skipIf(!hasOpenssl)("import of a journal message store with an Ed448 identity", () => {
  test("messages from the read and write journals in order; journals of unknown queues skipped; same address", async () => {
    const d = makeReferenceData();
    // The operator's INI says store_messages = journal (Server/Main.hs:readStoreType); no message log.
    const i = installation(d, "ED448", (t) => t.replace("store_messages = memory", "store_messages = journal"));
    rmSync(join(i.refData, "smp-server-messages.log"));
    const t = d.now - 600;
    const msgs = [0, 1, 2, 3, 4].map((k) => refMessage(t + k, k === 2, `journal ${k}`));
    writeJournalQueue(i.refData, d.q.msg!.rcvId, msgs, 3, 1);
    writeJournalQueue(i.refData, new Uint8Array(24).fill(7), [refMessage(t, false, "orphan"), refMessage(t, false, "orphan 2")], 1, 0);
    const before = { ...checksums(i.refCfg), ...checksums(i.refData) };
    const r = await cli(["import", ...i.flags]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toContain(`read: ${join(i.refData, "messages")}/`);
    expect(r.out).toContain("  messages: 4 imported, 2 skipped (2 its queue is not in the store log)");
    expect(r.out).toContain("torn last state line, using the previous one");
    expect(r.out).toContain("new Ed25519 online certificate");
    expect({ ...checksums(i.refCfg), ...checksums(i.refData) }).toEqual(before);

    await withImportedServer(i, async (c) => {
      const q = d.q.msg!;
      await c.subscribe(q.rcvId, q.rcvKey);
      let m: Extract<BrokerMsg, { tag: "MSG" }> | null = await nextMsg(c);
      const got: string[] = [];
      while (m !== null) {
        const b = decryptMsgBody(q.rcvDhSecret, m.msgId, m.body) as { body: Uint8Array; notification: boolean };
        got.push(`${text(b.body)}${b.notification ? " (ntf)" : ""}`);
        m = await c.ack(q.rcvId, q.rcvKey, m.msgId);
      }
      expect(got).toEqual(["journal 1", "journal 2 (ntf)", "journal 3", "journal 4"]);
    });
  });

  test("an interrupted compaction: the store log's `.start` file is the state (StoreLog.hs:readWriteStoreLog)", async () => {
    const d = makeReferenceData();
    const i = installation(d);
    const log = join(i.refData, "smp-server-store.log");
    copyFileSync(log, `${log}.start`);
    writeFileSync(log, lines(d.storeLog.slice(0, 2))); // the compacted file was cut short
    const r = await cli(["import", ...i.flags]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`read: ${log}.start (the reference was stopped while compacting its log`);
    expect(r.out).toContain("  queues: 13 imported\n");
  });

  test("both a message log and a journal, and no INI to say which is current: refused, as the reference refuses to start", async () => {
    const d = makeReferenceData();
    const i = installation(d);
    rmSync(join(i.refCfg, "smp-server.ini"));
    writeJournalQueue(i.refData, d.q.msg!.rcvId, [refMessage(d.now, false, "j")], 1, 0);
    const r = await cli(["import", ...i.flags]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`both ${join(i.refData, "smp-server-messages.log")} and ${join(i.refData, "messages")} exist`);
  });
});

describe.skipIf(!hasOpenssl)("import in place (the reference's directories are ours, as with the defaults as root)", () => {
  test("adds its own files beside the reference's and changes none of them; the server runs there", async () => {
    const d = makeReferenceData();
    const i = installation(d);
    const before = { ...checksums(i.refCfg), ...checksums(i.refData) };
    const r = await cli(["import", "--from-config-dir", i.refCfg, "--from-data-dir", i.refData, "--config-dir", i.refCfg, "--data-dir", i.refData]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const after = { ...checksums(i.refCfg), ...checksums(i.refData) };
    for (const [f, sum] of Object.entries(before)) expect([f, after[f]]).toEqual([f, sum]);
    expect(Object.keys(after).filter((f) => !(f in before)).sort()).toEqual(["smp-server.sqlite", "smp-server.toml"]);
    await withImportedServer({ ...i, cfg: i.refCfg, data: i.refData }, async (c) => {
      const m = (await c.getMessage(d.q.msg!.rcvId, d.q.msg!.rcvKey))!;
      expect(m.msgId).toEqual(d.messages.msg![0]!.msgId);
    });
  });
});

const isRoot = process.getuid?.() === 0;
describe.skipIf(!hasOpenssl || !isRoot)("import as root", () => {
  test("the files it creates belong to the reference's user (its unit runs the server as User=smp), keys included", async () => {
    const i = installation(makeReferenceData(), "ED448");
    for (const p of [i.refCfg, i.refData, ...["ca.key", "ca.crt", "server.key", "server.crt", "fingerprint"].map((f) => join(i.refCfg, f))]) chownSync(p, 4321, 4322);
    // In place, as with the defaults: the new Ed25519 key beside the reference's Ed448 pair must be readable by the server's user.
    const r = await cli(["import", "--from-config-dir", i.refCfg, "--from-data-dir", i.refData, "--config-dir", i.refCfg, "--data-dir", i.refData]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    for (const p of [join(i.refData, DB_FILE), join(i.refCfg, "smp-server.toml"), join(i.refCfg, "server-ed25519.key"), join(i.refCfg, "server-ed25519.crt")])
      expect([p, statSync(p).uid, statSync(p).gid]).toEqual([p, 4321, 4322]);
    expect(r.out).toContain(`owner 4321:4322 (as ${i.refData}): ${join(i.refData, DB_FILE)}`);
    // And into directories of its own: those are created for that user too.
    const j = installation(makeReferenceData());
    chownSync(j.refCfg, 4321, 4322);
    chownSync(j.refData, 4321, 4322);
    expect((await cli(["import", ...j.flags])).code).toBe(0);
    for (const p of [j.data, join(j.data, DB_FILE), j.cfg, join(j.cfg, "smp-server.toml"), join(j.cfg, "server.key")]) expect([p, statSync(p).uid]).toEqual([p, 4321]);
  });
});

describe.skipIf(!hasOpenssl)("import with the CA key offline (Ed448 online certificate)", () => {
  test("the data comes in, the exit status says the identity is not done; after `cert --ca-key` elsewhere, a second import completes it", async () => {
    const d = makeReferenceData();
    const i = installation(d, "ED448");
    const vault = tempDir();
    copyFileSync(join(i.refCfg, "ca.key"), join(vault, "ca.key"));
    rmSync(join(i.refCfg, "ca.key"));
    const r = await cli(["import", ...i.flags]);
    expect(r.code).toBe(1);
    expect(r.out).toContain("  queues: 13 imported\n");
    expect(r.out).toContain("smp-server cert --ca-key /path/to/ca.key --config-dir .");
    expect(r.err).toContain("Import incomplete: the data and the configuration are imported");
    const state = await dump(i.data);

    // Where the CA key lives (the printed command), then the two files copied back.
    const work = tempDir();
    for (const f of ["ca.crt", "server.crt"]) copyFileSync(join(i.refCfg, f), join(work, f));
    expect((await cli(["cert", "--ca-key", join(vault, "ca.key"), "--config-dir", work])).code).toBe(0);
    for (const f of ["server-ed25519.crt", "server-ed25519.key"]) copyFileSync(join(work, f), join(i.cfg, f));
    const again = await cli(["import", ...i.flags]);
    expect(again.err).toBe("");
    expect(again.code).toBe(0);
    expect(await dump(i.data)).toEqual(state);
    await withImportedServer(i, async (c) => {
      await c.ping();
    });
  });
});

describe.skipIf(!hasOpenssl)("import into directories of another server", () => {
  test("refused before any data is written (the identity check comes first)", async () => {
    const d = makeReferenceData();
    const i = installation(d);
    const other = installation(makeReferenceData());
    // The target already belongs to another imported server.
    expect((await cli(["import", ...other.flags])).code).toBe(0);
    const before = await dump(other.data);
    const r = await cli(["import", "--from-config-dir", i.refCfg, "--from-data-dir", i.refData, "--config-dir", other.cfg, "--data-dir", other.data]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("holds another server identity");
    expect(await dump(other.data)).toEqual(before);
  });
});

// Issue 17: a reference store log straight into PostgreSQL — through a temporary SQLite file, then
// the rules of `database import` (src/store/transfer.ts).
const pgUri = testPostgresUri();
describe.skipIf(!hasOpenssl || pgUri === null)("import into PostgreSQL", () => {
  const uri = pgUri ?? "";
  const schemas: string[] = [];
  const schema = (): string => {
    const sc = testSchemaName();
    schemas.push(sc);
    return sc;
  };
  afterAll(() => dropTestSchemas(uri, schemas));
  // The schema's state, seen through a copy into SQLite (transfer.test.ts shows the copy is exact).
  const pgDump = async (sc: string): Promise<unknown> => {
    const dir = tempDir();
    await exportPostgresToSqlite({ uri, schema: sc }, join(dir, DB_FILE));
    return dump(dir);
  };

  test("--database: the same state as a SQLite import, the configuration selects it, the server starts on it; a second run changes nothing", async () => {
    const d = makeReferenceData();
    const i = installation(d);
    const sc = schema();
    const r = await cli(["import", ...i.flags, "--database", uri, "--schema", sc]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toContain("  queues: 13 imported\n");
    expect(r.out).toMatch(new RegExp(`copied into PostgreSQL .*, schema ${sc}: queues \\d+, messages 7, ntfs 2, services 1`));
    // The temporary SQLite file (in the data directory, not a RAM-backed /tmp) is gone.
    expect(readdirSync(i.data)).toEqual([]);
    const cfg = loadConfig(join(i.cfg, "smp-server.toml"));
    expect(cfg.storeLog.postgres).toMatchObject({ connection: uri, schema: sc });

    // The same reference files imported into SQLite give the same state.
    const j = installation(d);
    expect((await cli(["import", ...j.flags])).code).toBe(0);
    const state = await pgDump(sc);
    expect(state).toEqual(await dump(j.data));

    const server = await startImported(i);
    await server.close();

    // The configuration now selects PostgreSQL: a second run (without --database) leaves it all
    // alone, also after the server wrote to the schema (the store log's mark, as in SQLite).
    const cfgBefore = checksums(i.cfg);
    const again = await cli(["import", ...i.flags]);
    expect(again.err).toBe("");
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/this store log was imported at \d{4}-\d\d-\d\dT[0-9:.]+Z: nothing to do \(the schema is left as it is\)/);
    expect(await pgDump(sc)).toEqual(state);
    expect(checksums(i.cfg)).toEqual(cfgBefore);
  });

  test("a schema holding other data is refused untouched, and nothing else is written", async () => {
    const sc = schema();
    const s = await openPostgresStore({ uri, schema: sc, poolSize: 2, createSchema: true });
    await created(s);
    await s.close();
    const before = await pgDump(sc);
    const i = installation(makeReferenceData());
    const r = await cli(["import", ...i.flags, "--database", uri, "--schema", sc]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`schema ${sc}`);
    expect(r.err).toContain("is not empty and differs from the source");
    expect(r.err).toContain("Nothing was imported.");
    expect(await pgDump(sc)).toEqual(before);
    expect(existsSync(i.cfg)).toBe(false);
    expect(readdirSync(i.data)).toEqual([]);
  });

  test("--database with an existing configuration that keeps SQLite is refused before anything is written", async () => {
    const i = installation(makeReferenceData());
    mkdirSync(i.cfg, { recursive: true });
    const iniPath = join(i.refCfg, "smp-server.ini");
    writeFileSync(join(i.cfg, "smp-server.toml"), convertReferenceIni(readFileSync(iniPath, "utf8"), iniPath).toml);
    const r = await cli(["import", ...i.flags, "--database", uri, "--schema", schema()]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("keeps the store in SQLite (no db_connection)");
    expect(existsSync(i.data)).toBe(false);
  });
});

