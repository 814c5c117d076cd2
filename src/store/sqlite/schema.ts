/**
 * Schema and ordered migrations. The version lives in `PRAGMA user_version` (in the database
 * header, so it changes in the same transaction as the tables). A database whose version is
 * newer than `SCHEMA_VERSION` was written by a newer server: it is refused, never touched.
 *
 * Rules for adding a migration: append (never edit a shipped one), keep it idempotent per
 * version (it runs inside the migration transaction), and backfill any incremental counter it
 * introduces from the existing rows.
 */
import type { Database } from "bun:sqlite";

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly up: (db: Database) => void;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "queues, messages, services",
    up(db) {
      db.run(`
        CREATE TABLE queues (
          qid INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: it is the handle given to the server
          recipient_id BLOB NOT NULL,
          recipient_keys BLOB NOT NULL,          -- Word16-length-prefixed DER SPKI keys
          rcv_dh_secret BLOB NOT NULL,
          sender_id BLOB NOT NULL,
          sender_key BLOB,
          queue_mode TEXT,                       -- 'M' | 'C' | NULL
          link_id BLOB,
          link_fixed BLOB,
          link_user BLOB,
          notifier_id BLOB,
          notifier_key BLOB,
          rcv_ntf_dh_secret BLOB,
          ntf_service_id BLOB,
          status INTEGER NOT NULL DEFAULT 0,     -- 0 active, 1 off, 2 blocked
          blocking_info BLOB,
          updated_at INTEGER,
          rcv_service_id BLOB
          -- No per-queue message counters here: they would turn every SEND/ACK into a write of a
          -- random queue page. Size and quota state are derived from the queue's messages.
        )`);
      db.run("CREATE UNIQUE INDEX queues_recipient_id ON queues(recipient_id)");
      db.run("CREATE UNIQUE INDEX queues_sender_id ON queues(sender_id)");
      db.run("CREATE UNIQUE INDEX queues_link_id ON queues(link_id) WHERE link_id IS NOT NULL");
      db.run("CREATE UNIQUE INDEX queues_notifier_id ON queues(notifier_id) WHERE notifier_id IS NOT NULL");
      db.run(
        "CREATE INDEX queues_rcv_service ON queues(rcv_service_id, recipient_id) WHERE rcv_service_id IS NOT NULL",
      );
      db.run(
        "CREATE INDEX queues_ntf_service ON queues(ntf_service_id, notifier_id) WHERE ntf_service_id IS NOT NULL",
      );
      db.run(`
        CREATE TABLE messages (
          seq INTEGER PRIMARY KEY,               -- always above every live row: the queue order
          qid INTEGER NOT NULL,
          msg_id BLOB NOT NULL,
          ts_ms INTEGER NOT NULL,
          flags INTEGER NOT NULL,                -- 1 notification, 2 quota marker
          body BLOB NOT NULL
        )`);
      db.run("CREATE INDEX messages_queue ON messages(qid, seq)");
      db.run(`
        CREATE TABLE services (
          service_id BLOB PRIMARY KEY,
          role TEXT NOT NULL,
          cert_chain BLOB NOT NULL,              -- Word32-length-prefixed DER certificates
          cert_hash BLOB NOT NULL UNIQUE,
          created_at INTEGER NOT NULL,
          rcv_count INTEGER NOT NULL DEFAULT 0,
          rcv_hash BLOB NOT NULL DEFAULT x'00000000000000000000000000000000',
          ntf_count INTEGER NOT NULL DEFAULT 0,
          ntf_hash BLOB NOT NULL DEFAULT x'00000000000000000000000000000000'
        ) WITHOUT ROWID`);
      db.run("CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID");
      const ins = db.prepare("INSERT INTO counters(name, value) VALUES (?, 0)");
      for (const n of [
        "queues",
        "notifiers",
        "messages",
        "rcv_services",
        "ntf_services",
        "rcv_service_queues",
        "ntf_service_queues",
      ])
        ins.run(n);
    },
  },
  {
    version: 2,
    name: "notifications, expiry indexes, blobs",
    up(db) {
      db.run(`
        CREATE TABLE ntfs (
          seq INTEGER PRIMARY KEY,
          notifier_id BLOB NOT NULL,
          msg_id BLOB NOT NULL,
          ts_ms INTEGER NOT NULL,
          nonce BLOB NOT NULL,
          enc_meta BLOB NOT NULL
        )`);
      db.run("CREATE INDEX ntfs_notifier ON ntfs(notifier_id, seq)");
      db.run("CREATE INDEX ntfs_ts ON ntfs(ts_ms)");
      // Message expiry walks only expired rows; quota markers are excluded because expiry stops at them.
      db.run("CREATE INDEX messages_ts ON messages(ts_ms) WHERE flags & 2 = 0");
      db.run("CREATE INDEX queues_updated_at ON queues(updated_at) WHERE updated_at IS NOT NULL");
      db.run("CREATE TABLE blobs (name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID");
      db.run("INSERT INTO counters(name, value) VALUES ('ntfs', 0)");
    },
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
