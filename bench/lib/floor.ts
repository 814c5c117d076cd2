/**
 * The floor: the CPU a delivered message cannot avoid on the server, measured in this process
 * with the server's own primitives (SEND → OK, MSG → ACK → OK, SMP v20 with block encryption):
 *  - two Ed25519 verifications: SEND's over its ~body-sized authorized bytes, ACK's over ~120 B;
 *  - six 16 KB XSalsa20-Poly1305 operations: five transport blocks (SEND and ACK in; OK, MSG,
 *    OK out) and the MSG body encrypted for the recipient;
 *  - the TLS records of those five blocks: AES-128-GCM over 16 KB each, in BoringSSL through
 *    node:crypto (the suite the benchmark's Bun clients negotiate; SimpleX apps negotiate
 *    ChaCha20-Poly1305, which node:crypto in Bun does not offer, so it cannot be timed here);
 *  - one message row inserted and deleted in SQLite (WAL, synchronous=NORMAL, the server's
 *    schema), each in its own commit: with one message in flight a SEND and its ACK never
 *    share a group commit.
 * Everything else (socket syscalls, parsing, JavaScript plumbing) is what the server adds.
 */
import { Database } from "bun:sqlite";
import { createCipheriv, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateEd25519, signEd25519, verifyEd25519 } from "../../src/crypto/sign.ts";
import { sealInPlace, TAG_LEN } from "../../src/crypto/secretbox.ts";
import { openSqliteStore } from "../../src/store/sqlite/open.ts";
import { cpuUsPerOp } from "./cpu-time.ts";

export interface Floor {
  /** µs per delivered message, all parts. */
  total: number;
  ed25519: number;
  xsalsa: number;
  tls: number;
  store: number;
}

const BLOCK = 16384;
/** SEND's authorized bytes beyond its body: session id, corrId, entity id, command and flags. */
const SEND_OVERHEAD = 32 + 1 + 24 + 1 + 24 + 8;
const ACK_AUTHORIZED = 32 + 1 + 24 + 1 + 24 + 4 + 1 + 24;

/** Measures the floor for messages of `bodyBytes` (n operations of each kind). */
export async function measureFloor(bodyBytes: number, n = 400): Promise<Floor> {
  const kp = generateEd25519();
  const sendT = randomBytes(bodyBytes + SEND_OVERHEAD);
  const ackT = randomBytes(ACK_AUTHORIZED);
  const sendSig = signEd25519(kp.privateRaw, sendT);
  const ackSig = signEd25519(kp.privateRaw, ackT);
  const ed25519 = cpuUsPerOp(() => {
    if (!verifyEd25519(kp.publicRaw, sendSig, sendT) || !verifyEd25519(kp.publicRaw, ackSig, ackT)) throw new Error("floor: signature");
  }, n);

  const key = randomBytes(32);
  const nonce = randomBytes(24);
  const buf = new Uint8Array(BLOCK);
  const xsalsa = cpuUsPerOp(() => {
    for (let k = 0; k < 6; k++) sealInPlace(key, nonce, buf, TAG_LEN, BLOCK - TAG_LEN);
  }, n);

  const tlsKey = randomBytes(16);
  const iv = randomBytes(12);
  const tls = cpuUsPerOp(() => {
    for (let k = 0; k < 5; k++) {
      const c = createCipheriv("aes-128-gcm", tlsKey, iv);
      c.update(buf);
      c.final();
      c.getAuthTag();
    }
  }, n);

  const store = storeFloor(bodyBytes, n);
  return { total: ed25519 + xsalsa + tls + store, ed25519, xsalsa, tls, store };
}

function storeFloor(bodyBytes: number, n: number): number {
  const dir = mkdtempSync(join(tmpdir(), "smp-floor-"));
  try {
    const path = join(dir, "floor.sqlite");
    // the server's schema, made by the store itself
    void openSqliteStore({ path }).close();
    const db = new Database(path);
    db.run("PRAGMA journal_mode = WAL");
    db.run("PRAGMA synchronous = NORMAL");
    const begin = db.prepare("BEGIN IMMEDIATE");
    const commit = db.prepare("COMMIT");
    const insert = db.prepare("INSERT INTO messages(qid, msg_id, ts_ms, flags, body) VALUES (1, ?, ?, 0, ?)");
    const del = db.prepare("DELETE FROM messages WHERE seq = ?");
    const body = randomBytes(bodyBytes);
    const msgId = randomBytes(24);
    const us = cpuUsPerOp(() => {
      begin.run();
      const seq = insert.run(msgId, Date.now(), body).lastInsertRowid;
      commit.run();
      begin.run();
      del.run(seq);
      commit.run();
    }, n);
    for (const s of [begin, commit, insert, del]) s.finalize();
    db.close();
    return us;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
