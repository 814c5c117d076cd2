/**
 * The reference's log formats, record by record. Expected lines are written out from the
 * reference's encoders (cited per case), never produced by the code under test.
 */
import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { journalQueueDir, parseQueueState, readJournalQueue } from "../../../src/cli/import/journal.ts";
import { parseMessage } from "../../../src/cli/import/message.ts";
import { parseMsgLogRecord } from "../../../src/cli/import/msg-log.ts";
import { parseNtfLogRecord } from "../../../src/cli/import/ntf-log.ts";
import { encodeCreate, encodeNewService, encodeQueue, parseStoreLogRecord, type StoreLogRecord } from "../../../src/cli/import/store-log.ts";
import { Cursor, FormatError } from "../../../src/cli/import/str.ts";
import { children, readElement, tlv } from "../../../src/crypto/x509/der.ts";
import { authPublicKey, generateAuthKey } from "../../../src/client/index.ts";
import type { NewQueue } from "../../../src/store/types.ts";
import { u } from "../../fixtures/reference-data.ts";
import { tempDirs } from "../../fixtures/temp-dirs.ts";
import { hex, loadVectors } from "../../vectors.ts";

const rnd = (n: number) => new Uint8Array(randomBytes(n));
const key = () => authPublicKey(generateAuthKey("ed25519")).der;
const utf8 = (s: string) => new TextEncoder().encode(s);

const rid = rnd(24), sid = rnd(24), nid = rnd(24), lid = rnd(24), srv = rnd(24);
const rk1 = key(), rk2 = key(), sk = key(), nk = key();
const rdh = rnd(32), ndh = rnd(32), fixed = rnd(40), user = rnd(30);
const REF_CERTS = loadVectors("handshake.json").fixtures;
const tempDir = tempDirs("smp-journal-");

const base: NewQueue = {
  recipientId: rid,
  recipientKeys: [rk1],
  rcvDhSecret: rdh,
  senderId: sid,
  senderKey: null,
  queueMode: null,
  link: null,
  notifier: null,
  status: "active",
  blockingInfo: null,
  updatedAt: null,
  rcvServiceId: null,
};
const head = `CREATE rid=${u(rid)} rk=${u(rk1)} rdh=${u(rdh)} sid=${u(sid)} sk=`;
const create = (line: string): NewQueue => (parseStoreLogRecord(line) as Extract<StoreLogRecord, { tag: "CREATE" }>).queue;

describe("smp-server-store.log: StoreLog.hs `StrEncoding StoreLogRecord` / `QueueRec`", () => {
  test("CREATE, minimal: `sk=` with Nothing, no queue mode (an old log: the mode stays unknown)", () => {
    expect(create(head)).toEqual(base);
  });

  test("CREATE, legacy ` sndSecure=T|F` (read as QMMessaging / QMContact, StoreLog.hs:toQueueMode)", () => {
    expect(create(`${head}${u(sk)} sndSecure=T`)).toEqual({ ...base, senderKey: sk, queueMode: "M" });
    expect(create(`${head} sndSecure=F`)).toEqual({ ...base, queueMode: "C" });
  });

  test("CREATE with every field, as `strEncode QueueRec` orders them; encodeCreate writes the same line", () => {
    const line =
      `CREATE rid=${u(rid)} rk=${u(rk1)},${u(rk2)} rdh=${u(rdh)} sid=${u(sid)} sk=${u(sk)} queue_mode=C` +
      ` link_id=${u(lid)} queue_data=${u(fixed)} ${u(user)} notifier=${u(nid)} ${u(nk)} ${u(ndh)} nsrv=${u(srv)}` +
      ` updated_at=1733443200 status=blocked,reason=content,notice={"ttl":60} rsrv=${u(srv)}`;
    const q: NewQueue = {
      ...base,
      recipientKeys: [rk1, rk2],
      senderKey: sk,
      queueMode: "C",
      link: { linkId: lid, fixed, user },
      notifier: { notifierId: nid, notifierKey: nk, rcvNtfDhSecret: ndh, serviceId: srv },
      updatedAt: 1733443200,
      status: "blocked",
      blockingInfo: utf8('reason=content,notice={"ttl":60}'),
      rcvServiceId: srv,
    };
    // The reference writes this line but cannot read it back (its notice parser takes the rest of the
    // line); the importer reads it, and export splits it into what the reference reads.
    expect(create(line)).toEqual(q);
    expect(encodeCreate(q)).toBe(line);
    const [c, qs] = encodeQueue(q);
    expect(c).toBe(line.slice(0, line.indexOf(" rsrv=")));
    expect(qs).toBe(`QUEUE_SERVICE ${u(rid)} R ${u(srv)}`);
    expect(encodeQueue({ ...q, blockingInfo: utf8("reason=content") })).toEqual([line.replace(',notice={"ttl":60}', "")]);
    // ServerEntityStatus: `off`; `active` is never written but read.
    expect(create(`${head} queue_mode=M status=off`)).toMatchObject({ status: "off", queueMode: "M" });
    expect(create(`${head} status=active`)).toEqual(base);
    expect(encodeCreate({ ...base, status: "off" })).toBe(`${head} status=off`);
  });

  test("every other record: `strEncode (Tag_, rId, …)`", () => {
    const r = u(rid);
    expect(parseStoreLogRecord(`LINK ${r} ${u(lid)} ${u(fixed)} ${u(user)}`)).toEqual({ tag: "LINK", rId: rid, linkId: lid, fixed, user });
    expect(parseStoreLogRecord(`SECURE ${r} ${u(sk)}`)).toEqual({ tag: "SECURE", rId: rid, key: sk });
    expect(parseStoreLogRecord(`KEYS ${r} ${u(rk1)},${u(rk2)}`)).toEqual({ tag: "KEYS", rId: rid, keys: [rk1, rk2] });
    expect(parseStoreLogRecord(`NOTIFIER ${r} ${u(nid)} ${u(nk)} ${u(ndh)}`)).toEqual({
      tag: "NOTIFIER",
      rId: rid,
      creds: { notifierId: nid, notifierKey: nk, rcvNtfDhSecret: ndh, serviceId: null },
    });
    expect(parseStoreLogRecord(`BLOCK ${r} reason=spam`)).toEqual({ tag: "BLOCK", rId: rid, info: utf8("reason=spam") });
    expect(parseStoreLogRecord(`TIME ${r} 1733443200`)).toEqual({ tag: "TIME", rId: rid, date: 1733443200 });
    for (const tag of ["LDELETE", "SUSPEND", "UNBLOCK", "DELETE", "NDELETE"] as const) expect(parseStoreLogRecord(`${tag} ${r}`)).toEqual({ tag, rId: rid });
    expect(parseStoreLogRecord(`QUEUE_SERVICE ${r} N ${u(srv)}`)).toEqual({ tag: "QUEUE_SERVICE", rId: rid, party: "N", serviceId: srv });
    expect(parseStoreLogRecord(`QUEUE_SERVICE ${r} R `)).toEqual({ tag: "QUEUE_SERVICE", rId: rid, party: "R", serviceId: null });
    // Certificates the reference itself decodes (its test server.crt and ca.crt, handshake vectors).
    const chain = [hex(REF_CERTS.server_crt_der), hex(REF_CERTS.ca_crt_der)], hash = rnd(32);
    const svc = `NEW_SERVICE service_id=${u(srv)} role=N cert=${chain.map(u).join(",")} cert_hash=${u(hash)} created_at=1733443200`;
    const rec = parseStoreLogRecord(svc) as Extract<StoreLogRecord, { tag: "NEW_SERVICE" }>;
    expect(rec.service).toMatchObject({ serviceId: srv, role: "N", certHash: hash, createdAt: 1733443200 });
    expect(rec.service.certChain).toEqual(chain);
    expect(encodeNewService(rec.service)).toBe(svc);
  });

  test("what the reference parser refuses is refused with where and what", () => {
    for (const bad of [
      `CREATE rid=${u(rid)} rk= rdh=${u(rdh)} sid=${u(sid)} sk=`, // empty key list (sepBy1)
      `${head} queue_mode=X`,
      `${head} status=blocked,reason=rude`,
      `SECURE ${u(rid)} ${u(rnd(20))}`, // not a DER SPKI key
      `TIME ${u(rid)} soon`,
      `FROB ${u(rid)}`,
      `SUSPEND ${u(rid)} extra`,
      `NOTIFIER ${u(rid)} ${u(nid)} ${u(nk)} ${u(rnd(31))}`, // a DH secret is 32 bytes
    ])
      expect(() => parseStoreLogRecord(bad)).toThrow(FormatError);
  });

  test("a service's certificate chain is decoded certificate by certificate (String.hs: X.decodeCertificateChain)", () => {
    const ca = u(hex(REF_CERTS.ca_crt_der));
    const svc = (cert: string) => `NEW_SERVICE service_id=${u(srv)} role=M cert=${cert} cert_hash=${u(rnd(32))} created_at=1733443200`;
    const column = ` role=M cert=`.length + `NEW_SERVICE service_id=${u(srv)}`.length + 1;
    expect(() => parseStoreLogRecord(svc(u(rnd(300))))).toThrow(new RegExp(`^expected certificate \\(.+\\) at column ${column}$`));
    // The second of the chain is not a certificate: the column points at it.
    expect(() => parseStoreLogRecord(svc(`${ca},${u(rnd(10))}`))).toThrow(new RegExp(`^expected certificate \\(.+\\) at column ${column + ca.length + 1}$`));
    // Without its signature (SignedExact has three parts).
    const [tbs, alg] = children(readElement(hex(REF_CERTS.ca_crt_der)).content);
    expect(() => parseStoreLogRecord(svc(u(tlv(0x30, tbs!.raw, alg!.raw))))).toThrow("expected certificate (certificate without a signature)");
    // A certificate cut short.
    expect(() => parseStoreLogRecord(svc(u(hex(REF_CERTS.ca_crt_der).subarray(0, 100))))).toThrow(FormatError);
  });
});

describe("messages, notifications, journal state", () => {
  const mid = rnd(24), body = rnd(100);
  test("MsgStore.hs `v3 <rId> <Message>`; Protocol.hs `StrEncoding Message` incl. quota and flag forms", () => {
    expect(parseMsgLogRecord(`v3 ${u(rid)} ${u(mid)} 1733443201 flags=T ${u(body)}`)).toEqual({
      rId: rid,
      msg: { msgId: mid, ts: 1733443201, quota: false, notification: true, body },
    });
    expect(parseMsgLogRecord(`v3 ${u(rid)} ${u(mid)} 1733443201 quota`).msg).toMatchObject({ quota: true, ts: 1733443201, body: new Uint8Array(0) });
    // `flags=` is optional (noMsgFlags), and MsgFlags' parser skips characters after the Bool up to the space.
    expect(parseMessage(new Cursor(`${u(mid)} 5 ${u(body)}`))).toMatchObject({ notification: false, body });
    expect(parseMessage(new Cursor(`${u(mid)} 5 flags=TXY ${u(body)}`))).toMatchObject({ notification: true, body });
    expect(() => parseMsgLogRecord(`v2 ${u(rid)} ${u(mid)} 5 quota`)).toThrow(FormatError);
  });

  test("NtfStore.hs `v1 <nId> <msgId> <ts> <nonce> <encMeta>`", () => {
    const nonce = rnd(24), meta = rnd(50);
    expect(parseNtfLogRecord(`v1 ${u(nid)} ${u(mid)} 1733443201 ${u(nonce)} ${u(meta)}`)).toEqual({ notifierId: nid, msgId: mid, ts: 1733443201, nonce, encMeta: meta });
    expect(() => parseNtfLogRecord(`v1 ${u(nid)} ${u(mid)} 1 ${u(rnd(12))} ${u(meta)}`)).toThrow(FormatError);
  });

  test("Journal.hs `StrEncoding MsgQueueState` and `msgQueueDirectory` (pathParts 5)", () => {
    expect(parseQueueState("write=AbCd,3,3,300,300 read=xYz_,1,4,90,400 canWrite=F size=6")).toEqual({
      write: { journalId: "AbCd", msgPos: 3, msgCount: 3, bytePos: 300, byteCount: 300 },
      read: { journalId: "xYz_", msgPos: 1, msgCount: 4, bytePos: 90, byteCount: 400 },
      canWrite: false,
      size: 6,
    });
    const s = u(rid);
    expect(journalQueueDir("/m", rid)).toBe(`/m/${s.slice(0, 2)}/${s.slice(2, 4)}/${s.slice(4, 6)}/${s.slice(6, 8)}/${s.slice(8)}`);
  });
});

test("Journal.hs: one journal for reading and writing, the read position inside it; a `.bak` state wins (readQueueState)", () => {
  const root = tempDir();
  const dir = journalQueueDir(root, rid);
  mkdirSync(dir, { recursive: true });
  const ms = [0, 1, 2].map((k) => `${u(rnd(24))} ${100 + k} flags=F ${u(utf8(`m${k}`))}\n`);
  writeFileSync(join(dir, "messages.J1.log"), ms.join(""));
  const total = ms.join("").length;
  // `strEncode MsgQueueState`: one journal (same id), one message already read.
  const st = (pos: number, bytes: number, size: number) => `write=J1,3,3,${total},${total} read=J1,${pos},3,${bytes},${total} canWrite=T size=${size}\n`;
  const statePath = join(dir, `queue_state.${u(rid)}.log`);
  writeFileSync(statePath, st(1, ms[0]!.length, 2));
  const bodies = () => readJournalQueue(root, rid, () => {}).map((m) => new TextDecoder().decode(m.body));
  expect(bodies()).toEqual(["m1", "m2"]);
  // An interrupted state backup: `<state>.bak` is the state the reference uses.
  writeFileSync(`${statePath}.bak`, st(2, ms[0]!.length + ms[1]!.length, 1));
  expect(bodies()).toEqual(["m2"]);
  // A state that contradicts itself stops the import (Journal.hs:validQueueState).
  writeFileSync(`${statePath}.bak`, st(2, ms[0]!.length, 5));
  expect(bodies).toThrow("inconsistent queue state");
});
