/**
 * The PostgreSQL schema and its ordered migrations, kept in the operator's `db_schema`. The
 * version lives in the `schema_version` table of that schema, changed in the same transaction
 * as the tables. Same rules as SQLite's (`../sqlite/schema.ts`): append, never edit a shipped
 * migration; backfill any counter a migration introduces; a newer version is refused untouched.
 *
 * The tables mirror the SQLite ones column for column (docs/storage.md), so that
 * `database import|export` is a copy of rows; row ids (`qid`, `seq`) are identities, never reused.
 */
import { COUNTERS } from "../counters.ts";

export interface PgMigration {
  readonly version: number;
  readonly name: string;
  /** Statements, run in order inside the migration transaction. */
  readonly up: readonly string[];
}

export const PG_MIGRATIONS: readonly PgMigration[] = [
  {
    version: 1,
    name: "queues, messages, services, notifications, counters, blobs",
    up: [
      `CREATE TABLE queues (
        qid BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        recipient_id BYTEA NOT NULL,
        recipient_keys BYTEA NOT NULL,
        rcv_dh_secret BYTEA NOT NULL,
        sender_id BYTEA NOT NULL,
        sender_key BYTEA,
        queue_mode TEXT,
        link_id BYTEA,
        link_fixed BYTEA,
        link_user BYTEA,
        notifier_id BYTEA,
        notifier_key BYTEA,
        rcv_ntf_dh_secret BYTEA,
        ntf_service_id BYTEA,
        status SMALLINT NOT NULL DEFAULT 0,
        blocking_info BYTEA,
        updated_at BIGINT,
        rcv_service_id BYTEA
      )`,
      "CREATE UNIQUE INDEX queues_recipient_id ON queues(recipient_id)",
      "CREATE UNIQUE INDEX queues_sender_id ON queues(sender_id)",
      "CREATE UNIQUE INDEX queues_link_id ON queues(link_id)",
      "CREATE UNIQUE INDEX queues_notifier_id ON queues(notifier_id)",
      "CREATE INDEX queues_rcv_service ON queues(rcv_service_id, recipient_id) WHERE rcv_service_id IS NOT NULL",
      "CREATE INDEX queues_ntf_service ON queues(ntf_service_id, notifier_id) WHERE ntf_service_id IS NOT NULL",
      "CREATE INDEX queues_updated_at ON queues(updated_at) WHERE updated_at IS NOT NULL",
      `CREATE TABLE messages (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        qid BIGINT NOT NULL,
        msg_id BYTEA NOT NULL,
        ts_ms BIGINT NOT NULL,
        flags SMALLINT NOT NULL,
        body BYTEA NOT NULL
      )`,
      "CREATE INDEX messages_queue ON messages(qid, seq)",
      // Expiry walks only expired rows; quota markers are excluded because expiry stops at them.
      "CREATE INDEX messages_ts ON messages(ts_ms, seq) WHERE flags & 2 = 0",
      `CREATE TABLE services (
        service_id BYTEA PRIMARY KEY,
        role TEXT NOT NULL,
        cert_chain BYTEA NOT NULL,
        cert_hash BYTEA NOT NULL UNIQUE,
        created_at BIGINT NOT NULL,
        rcv_count BIGINT NOT NULL DEFAULT 0,
        rcv_hash BYTEA NOT NULL DEFAULT '\\x00000000000000000000000000000000',
        ntf_count BIGINT NOT NULL DEFAULT 0,
        ntf_hash BYTEA NOT NULL DEFAULT '\\x00000000000000000000000000000000'
      )`,
      `CREATE TABLE ntfs (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        notifier_id BYTEA NOT NULL,
        msg_id BYTEA NOT NULL,
        ts_ms BIGINT NOT NULL,
        nonce BYTEA NOT NULL,
        enc_meta BYTEA NOT NULL
      )`,
      "CREATE INDEX ntfs_notifier ON ntfs(notifier_id, seq)",
      "CREATE INDEX ntfs_ts ON ntfs(ts_ms, seq)",
      "CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",
      `INSERT INTO counters(name, value) SELECT unnest(ARRAY['${COUNTERS.join("','")}']), 0`,
      "CREATE TABLE blobs (name TEXT PRIMARY KEY, value BYTEA NOT NULL)",
    ],
  },
  {
    // Issue 18 (bus.ts): the nodes sharing this schema and who holds which subscription. Rows
    // only: a node's liveness is its session advisory lock, not a column; nothing here is
    // exported or imported (`database export` copies the server's data, not a cluster's state).
    version: 2,
    name: "cluster: nodes, subscription ownership",
    up: [
      "CREATE TABLE cluster_nodes (node_id TEXT PRIMARY KEY, name TEXT NOT NULL, started_at BIGINT NOT NULL)",
      // Ordering of claims: the later claim of a queue or service has the greater epoch.
      "CREATE SEQUENCE cluster_epoch",
      // party: 0 = recipient queue (SUB) / messaging service (SUBS), 1 = notifier (NSUB) / notifier service (NSUBS).
      // prev_*: who held it before the claim that wrote the row, read by that claim's RETURNING.
      `CREATE TABLE cluster_subs (
        party SMALLINT NOT NULL,
        queue_id BYTEA NOT NULL,
        node_id TEXT NOT NULL,
        epoch BIGINT NOT NULL,
        prev_node TEXT,
        prev_epoch BIGINT,
        PRIMARY KEY (party, queue_id)
      )`,
      "CREATE INDEX cluster_subs_node ON cluster_subs(node_id)",
      `CREATE TABLE cluster_service_subs (
        party SMALLINT NOT NULL,
        service_id BYTEA NOT NULL,
        node_id TEXT NOT NULL,
        epoch BIGINT NOT NULL,
        prev_node TEXT,
        prev_epoch BIGINT,
        PRIMARY KEY (party, service_id)
      )`,
    ],
  },
];

export const PG_SCHEMA_VERSION = PG_MIGRATIONS[PG_MIGRATIONS.length - 1]!.version;
