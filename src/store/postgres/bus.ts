/**
 * The event bus between nodes, the node registry and subscription ownership (cluster.ts, BUS
 * members) on PostgreSQL: rows in `cluster_nodes`, `cluster_subs`, `cluster_service_subs`
 * (schema.ts version 2), events by LISTEN/NOTIFY, liveness by a session advisory lock.
 *
 * - Each node listens on its own channel (`smp_<schema hash>_<node id>`: channels are per
 *   database, and tests run many schemas in one), so an event reaches only the node concerned.
 *   Events about a queue are sent by one statement that looks its holder up and notifies it —
 *   `pg_notify` on the holder's channel, grouped per node — so the cost of a SEND whose
 *   subscriber is elsewhere is one array element of that turn's statement.
 * - Events are published after the writes they announce committed — the server publishes once
 *   the store call resolved, and a write here resolves only after its COMMIT (connection.ts) —
 *   never from inside the writer's transaction: that keeps the single writer's transaction free
 *   of the lookup, and "no event precedes durability" holds all the same. A node that crashes
 *   between its COMMIT and the NOTIFY loses the event; the subscriber's node sweeps for pending
 *   messages (cluster-subscribers.ts), so the message is late, never lost.
 * - Claims (SUB, SUBS …) are upserts that take a new epoch from a sequence and keep the previous
 *   holder and epoch in the row, returned to the claimer, which tells that node ("taken"). A
 *   later claim always has the greater epoch (taken under the row lock), so two racing SUBs on
 *   two nodes end with exactly one subscriber: the one whose claim was written last.
 * - Liveness: a node holds a session advisory lock on its own connection while it lives. Any
 *   node that can take another's lock knows it is dead (its connection is gone: crash, kill -9,
 *   network) and removes its rows. A node that loses its own lock connection re-registers and
 *   resyncs (its rows may have been removed meanwhile; `confirm` writes them back).
 * - Lost notifications: Bun's `listen` reconnects by itself; every re-LISTEN (and any failed bus
 *   statement) asks the node's subscribers to resync, as events may have been missed.
 *
 * All work queued in one event-loop turn goes out together: claims in one statement, events in
 * one statement per ~7 KB of payload (the NOTIFY limit is 8000 bytes), releases in one.
 */
import { SQL, type ReservedSQL } from "bun";
import { sha256 } from "../../crypto/digest.ts";
import { base64, fromBase64 } from "../../encoding/base64.ts";
import { hex, idKey } from "../../encoding/bytes.ts";
import { log } from "../../util/log.ts";
import type { ClaimStatus, ClusterBus, ClusterEvent, ClusterListener, ClusterNode, ClusterSub } from "../cluster.ts";
import type { ServiceParty } from "../types.ts";
import type { PgConnection } from "./connection.ts";
import { bytes } from "./connection.ts";
import { quoteIdent } from "./migrate.ts";

/** Rows of a dead node's claims deleted per statement. */
const DEAD_SLICE = 1000;
/** How often the liveness lock is checked and dead nodes are looked for. */
const HEARTBEAT_MS = 5000;
/** Payload per NOTIFY, below PostgreSQL's 8000-byte limit. */
const MAX_PAYLOAD = 7000;
const NONE = new Uint8Array(0);
/** What failed to go out is sent again after this, at most MAX_RETRIES drains in a row. */
const RETRY_MS = 1000;
const MAX_RETRIES = 5;

const partyCode = (p: ServiceParty): number => (p === "rcv" ? 0 : 1);
const partyOf = (n: number): ServiceParty => (n === 0 ? "rcv" : "ntf");

interface PendingClaim {
  readonly party: ServiceParty;
  readonly id: Uint8Array;
  readonly service: boolean;
  readonly resolve: (epoch: number) => void;
  readonly reject: (e: unknown) => void;
}

interface Release {
  readonly party: ServiceParty;
  readonly id: Uint8Array;
  readonly epoch: number;
  readonly service: boolean;
}

/** An event for one node, known without a lookup ("taken" to the claim's previous holder). */
interface Direct {
  readonly channel: string;
  readonly line: string;
}

interface ClaimRow {
  party: number;
  id: Uint8Array;
  epoch: string;
  prev_node: string | null;
  prev_epoch: string | null;
}

/** An event as a payload line: its kind, party and ids (base64), and what the kind adds. */
export function encodeEvent(e: ClusterEvent): string {
  const p = e.party === "rcv" ? "r" : "n";
  switch (e.kind) {
    case "available":
      return `a ${p} ${base64(e.queueId)} ${e.serviceId === null ? "-" : base64(e.serviceId)}`;
    case "taken":
      return `t ${p} ${base64(e.queueId)} ${e.prevEpoch}`;
    case "serviceTaken":
      return `s ${p} ${base64(e.serviceId)} ${e.prevEpoch}`;
    case "ended":
      return `e ${p} ${base64(e.queueId)} ${e.serviceId === null ? "-" : base64(e.serviceId)} ${e.deleted ? "d" : "m"}`;
    case "blocked":
      return `b ${p} ${base64(e.queueId)} ${base64(e.info)}`;
  }
}

/** A payload line back as an event; null when it is not one (never from our own nodes). */
export function decodeEvent(line: string): ClusterEvent | null {
  const f = line.split(" ");
  if (f.length < 4 || (f[1] !== "r" && f[1] !== "n")) return null;
  const party: ServiceParty = f[1] === "r" ? "rcv" : "ntf";
  const id = fromBase64(f[2]!);
  const sid = (): Uint8Array | null => (f[3] === "-" ? null : fromBase64(f[3]!));
  switch (f[0]) {
    case "a":
      return { kind: "available", party, queueId: id, serviceId: sid() };
    case "t":
      return { kind: "taken", party, queueId: id, prevEpoch: Number(f[3]) };
    case "s":
      return { kind: "serviceTaken", party, serviceId: id, prevEpoch: Number(f[3]) };
    case "e":
      return { kind: "ended", party, queueId: id, serviceId: sid(), deleted: f[4] === "d" };
    case "b":
      return party === "rcv" ? { kind: "blocked", party, queueId: id, info: fromBase64(f[3]!) } : null;
  }
  return null;
}

/** Splits payload lines into groups of at most MAX_PAYLOAD bytes (ids are base64: 1 char = 1 byte). */
function chunks<T>(items: readonly T[], size: (t: T) => number): T[][] {
  const out: T[][] = [];
  let cur: T[] = [];
  let n = 0;
  for (const it of items) {
    const s = size(it) + 1;
    if (cur.length > 0 && n + s > MAX_PAYLOAD) {
      out.push(cur);
      cur = [];
      n = 0;
    }
    cur.push(it);
    n += s;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

export class PgClusterBus implements ClusterBus {
  /** Random per process start: a restarted node is a new node (its old rows are a dead node's). */
  readonly nodeId = hex(crypto.getRandomValues(new Uint8Array(8)));
  private readonly prefix: string;
  /** The bus's own connections: the LISTEN connection and the liveness lock's. */
  private readonly own: SQL;
  private lockConn: ReservedSQL | null = null;
  private subscription: SQL.ListenSubscription | null = null;
  private listener: ClusterListener | null = null;
  private name = "";
  private claims: PendingClaim[] = [];
  private releases: Release[] = [];
  private events: ClusterEvent[] = [];
  private direct: Direct[] = [];
  /** Drains in a row that had a failed statement. */
  private failures = 0;
  private scheduled = false;
  private running: Promise<void> | null = null;
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  private closed = false;
  /** Closed and drained: nothing runs on the pool any more. */
  private left = false;

  constructor(
    private readonly conn: PgConnection,
    uri: string,
  ) {
    const h = hex(sha256(new TextEncoder().encode(conn.schema)).subarray(0, 6));
    this.prefix = `smp_${h}_`;
    this.own = new SQL(uri, {
      max: 3,
      connection: { search_path: quoteIdent(conn.schema), application_name: `smp-node-${this.nodeId}` },
      connectionTimeout: 10,
    });
  }

  private lockKey(nodeId: string): string {
    return `smp-node ${this.conn.schema} ${nodeId}`;
  }

  async join(name: string, listener: ClusterListener): Promise<void> {
    if (this.listener !== null) throw new Error("cluster: join called twice");
    this.name = name;
    this.listener = listener;
    await this.register();
    let first = true;
    this.subscription = await this.own.listen(
      this.prefix + this.nodeId,
      (payload) => this.receive(payload),
      () => {
        // Re-LISTEN after a lost connection: what was sent meanwhile is gone.
        if (first) first = false;
        else if (!this.closed) {
          log.warn("cluster: event connection re-established; resynchronising subscriptions");
          this.listener?.resync();
        }
      },
    );
    await this.removeDeadNodes();
    this.heartbeat = setInterval(() => void this.beat(), HEARTBEAT_MS);
    this.heartbeat.unref?.();
  }

  /** Takes this node's liveness lock and (re)writes its registry row. */
  private async register(): Promise<void> {
    const c = await this.own.reserve();
    try {
      await c`SELECT pg_advisory_lock(hashtextextended(${this.lockKey(this.nodeId)}, 0))`;
      await c`INSERT INTO cluster_nodes(node_id, name, started_at) VALUES (${this.nodeId}, ${this.name}, ${Math.floor(Date.now() / 1000)})
        ON CONFLICT (node_id) DO NOTHING`;
    } catch (e) {
      c.release();
      throw e;
    }
    this.lockConn = c;
  }

  private async beat(): Promise<void> {
    if (this.closed) return;
    try {
      if (this.lockConn === null) {
        await this.register();
        // Another node may have taken this one for dead and removed its claims.
        this.listener?.resync();
      } else await this.lockConn`SELECT 1`;
      await this.removeDeadNodes();
    } catch (e) {
      log.warn(`cluster: liveness check failed: ${(e as Error).message}`);
      const c = this.lockConn;
      this.lockConn = null;
      c?.release();
    }
  }

  /** Nodes whose liveness lock is free are gone: their rows go (other nodes' clients resubscribe). */
  private async removeDeadNodes(): Promise<void> {
    const c = this.lockConn;
    if (c === null) return;
    const rows = (await c`SELECT node_id FROM cluster_nodes WHERE node_id <> ${this.nodeId}`) as { node_id: string }[];
    for (const { node_id } of rows) {
      const key = this.lockKey(node_id);
      const r = await c`SELECT pg_try_advisory_lock(hashtextextended(${key}, 0)) AS free`;
      if (!r[0].free) continue;
      try {
        // In slices: a claim of one of these rows (its client resubscribing here) waits for the
        // statement holding it, and SUB answers wait for their claims (server.ts commitAndFlush).
        for (const table of ["cluster_subs", "cluster_service_subs"]) {
          let deleted: number;
          do {
            const sql = `DELETE FROM ${table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM ${table} WHERE node_id = $1 LIMIT ${DEAD_SLICE}))`;
            deleted = (await c.unsafe(sql, [node_id])).count as number;
          } while (deleted === DEAD_SLICE);
        }
        await c`DELETE FROM cluster_nodes WHERE node_id = ${node_id}`;
        log.info(`cluster: node ${node_id} is gone; its subscriptions are released`);
      } finally {
        await c`SELECT pg_advisory_unlock(hashtextextended(${key}, 0))`;
      }
    }
  }

  private receive(payload: string): void {
    const l = this.listener;
    if (l === null) return;
    for (const line of payload.split("\n")) {
      let e: ClusterEvent | null = null;
      try {
        e = decodeEvent(line);
      } catch {
        e = null;
      }
      if (e === null) log.warn("cluster: an event that is not one was ignored");
      else l.event(e);
    }
  }

  // ---------------------------------------------------------------- queued work

  claim(party: ServiceParty, id: Uint8Array, service: boolean): Promise<number> {
    if (this.closed) return Promise.reject(new Error("cluster: closed"));
    return new Promise((resolve, reject) => {
      this.claims.push({ party, id, service, resolve, reject });
      this.schedule();
    });
  }

  release(party: ServiceParty, id: Uint8Array, epoch: number, service: boolean): void {
    if (this.closed) return;
    this.releases.push({ party, id, epoch, service });
    this.schedule();
  }

  publish(e: ClusterEvent): void {
    if (this.closed) return;
    this.events.push(e);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.running === null && !this.left) this.running = this.drain();
    });
  }

  private async drain(): Promise<void> {
    while (this.claims.length > 0 || this.releases.length > 0 || this.events.length > 0 || this.direct.length > 0) {
      const claims = this.claims;
      const releases = this.releases;
      const events = this.events;
      const direct = this.direct;
      this.claims = [];
      this.releases = [];
      this.events = [];
      this.direct = [];
      let failure: unknown = null;
      const step = async (f: () => Promise<void>): Promise<boolean> => {
        try {
          await f();
          return true;
        } catch (e) {
          failure ??= e;
          return false;
        }
      };
      // Each step apart: a claim that failed is claimed again by the resync; what else failed is
      // sent again a little later (a few times: the sweep and the resync cover the rest).
      if (!(await step(() => this.runClaims(claims, direct)))) for (const c of claims) c.reject(failure);
      const retry = { events: [] as ClusterEvent[], direct: [] as Direct[], releases: [] as Release[] };
      if (!(await step(() => this.runEvents(events)))) retry.events = events;
      if (!(await step(() => this.notifyDirect(direct)))) retry.direct = direct;
      if (!(await step(() => this.runReleases(releases)))) retry.releases = releases;
      if (failure === null) {
        this.failures = 0;
        continue;
      }
      this.failures++;
      log.warn(`cluster: bus statement failed (${(failure as Error).message}); resynchronising subscriptions`);
      if (this.failures <= MAX_RETRIES)
        setTimeout(() => {
          if (this.left) return;
          this.events.push(...retry.events);
          this.direct.push(...retry.direct);
          this.releases.push(...retry.releases);
          this.schedule();
        }, RETRY_MS).unref?.();
      this.listener?.resync();
    }
    this.running = null;
  }

  private async runClaims(claims: readonly PendingClaim[], direct: Direct[]): Promise<void> {
    if (claims.length === 0) return;
    const sql = this.conn.sql;
    for (const service of [false, true]) {
      // One row per subscription: a second upsert of a row in one statement is an error.
      const byKey = new Map<string, PendingClaim[]>();
      for (const c of claims) {
        if (c.service !== service) continue;
        const k = partyCode(c.party) + idKey(c.id);
        const l = byKey.get(k);
        if (l === undefined) byKey.set(k, [c]);
        else l.push(c);
      }
      if (byKey.size === 0) continue;
      const parties: number[] = [];
      const ids: Uint8Array[] = [];
      for (const l of byKey.values()) {
        parties.push(partyCode(l[0]!.party));
        ids.push(l[0]!.id);
      }
      const rows = (service
        ? await sql`INSERT INTO cluster_service_subs AS s (party, service_id, node_id, epoch)
            SELECT p, q, ${this.nodeId}, nextval('cluster_epoch') FROM unnest(${parties}::int2[], ${ids}::bytea[]) AS t(p, q)
            ON CONFLICT (party, service_id) DO UPDATE SET prev_node = s.node_id, prev_epoch = s.epoch, node_id = excluded.node_id, epoch = nextval('cluster_epoch')
            RETURNING party, service_id AS id, epoch, prev_node, prev_epoch`
        : await sql`INSERT INTO cluster_subs AS s (party, queue_id, node_id, epoch)
            SELECT p, q, ${this.nodeId}, nextval('cluster_epoch') FROM unnest(${parties}::int2[], ${ids}::bytea[]) AS t(p, q)
            ON CONFLICT (party, queue_id) DO UPDATE SET prev_node = s.node_id, prev_epoch = s.epoch, node_id = excluded.node_id, epoch = nextval('cluster_epoch')
            RETURNING party, queue_id AS id, epoch, prev_node, prev_epoch`) as ClaimRow[];
      for (const r of rows) {
        const party = partyOf(r.party);
        const id = bytes(r.id);
        const epoch = Number(r.epoch);
        if (r.prev_node !== null && r.prev_node !== this.nodeId) {
          const prevEpoch = Number(r.prev_epoch);
          const e: ClusterEvent = service ? { kind: "serviceTaken", party, serviceId: id, prevEpoch } : { kind: "taken", party, queueId: id, prevEpoch };
          direct.push({ channel: this.prefix + r.prev_node, line: encodeEvent(e) });
        }
        for (const c of byKey.get(r.party + idKey(id)) ?? []) c.resolve(epoch);
      }
    }
  }

  /**
   * Events about a queue, to the nodes holding it or its service (one statement per payload's
   * worth). An "ended" queue's claims by other nodes are over (this node's own go by `release`):
   * the statement deletes them and tells exactly the nodes whose rows it deleted, so a claim
   * committed meanwhile is either deleted and told, or kept (and judged by its node's `confirm`).
   * A queue that was moved to a service (not deleted) loses its claims only while a service
   * still serves it, as `confirm` judges them: a SUB on another node may have taken it back
   * from the service since the move was written, and its claim, newer, stays.
   */
  private async runEvents(events: readonly ClusterEvent[]): Promise<void> {
    if (events.length === 0) return;
    const sql = this.conn.sql;
    const lines = events.map((e) => ({ e, line: encodeEvent(e) }));
    for (const group of chunks(lines, (l) => l.line.length)) {
      const parties: number[] = [];
      const ids: Uint8Array[] = [];
      const sids: Uint8Array[] = [];
      const text: string[] = [];
      const ended: boolean[] = [];
      const deleted: boolean[] = [];
      for (const { e, line } of group) {
        parties.push(partyCode(e.party));
        ids.push(e.kind === "serviceTaken" ? e.serviceId : e.queueId);
        sids.push(e.kind === "available" || e.kind === "ended" ? (e.serviceId ?? NONE) : NONE);
        text.push(line);
        ended.push(e.kind === "ended");
        deleted.push(e.kind === "ended" && e.deleted);
      }
      await sql`WITH t AS (
          SELECT * FROM unnest(${parties}::int2[], ${ids}::bytea[], ${sids}::bytea[], ${text}::text[], ${ended}::bool[], ${deleted}::bool[]) WITH ORDINALITY AS t(party, qid, sid, ev, ended, deleted, i)),
        gone AS (
          DELETE FROM cluster_subs s USING t WHERE t.ended AND s.party = t.party AND s.queue_id = t.qid AND s.node_id <> ${this.nodeId}
            AND (t.deleted
              OR (t.party = 0 AND EXISTS (SELECT 1 FROM queues x WHERE x.recipient_id = t.qid AND x.rcv_service_id IS NOT NULL))
              OR (t.party = 1 AND EXISTS (SELECT 1 FROM queues x WHERE x.notifier_id = t.qid AND x.ntf_service_id IS NOT NULL)))
          RETURNING s.party, s.queue_id, s.node_id),
        o AS (
          SELECT t.i, t.ev, g.node_id FROM t JOIN gone g ON g.party = t.party AND g.queue_id = t.qid WHERE t.ended
          UNION
          SELECT t.i, t.ev, s.node_id FROM t JOIN cluster_subs s ON s.party = t.party AND s.queue_id = t.qid WHERE NOT t.ended
          UNION
          SELECT t.i, t.ev, v.node_id FROM t JOIN cluster_service_subs v ON length(t.sid) > 0 AND v.party = t.party AND v.service_id = t.sid)
        SELECT pg_notify(${this.prefix} || o.node_id, string_agg(o.ev, E'\n' ORDER BY o.i))
        FROM o WHERE o.node_id <> ${this.nodeId}
        GROUP BY o.node_id`;
    }
  }

  private async notifyDirect(direct: readonly Direct[]): Promise<void> {
    for (const group of chunks(direct, (d) => d.line.length)) {
      await this.conn.sql`SELECT pg_notify(c, string_agg(p, E'\n'))
        FROM unnest(${group.map((d) => d.channel)}::text[], ${group.map((d) => d.line)}::text[]) AS t(c, p) GROUP BY c`;
    }
  }

  private async runReleases(releases: readonly Release[]): Promise<void> {
    for (const service of [false, true]) {
      const rs = releases.filter((r) => r.service === service);
      if (rs.length === 0) continue;
      const p = rs.map((r) => partyCode(r.party));
      const q = rs.map((r) => r.id);
      const e = rs.map((r) => r.epoch);
      if (service)
        await this.conn.sql`DELETE FROM cluster_service_subs s USING unnest(${p}::int2[], ${q}::bytea[], ${e}::int8[]) AS t(p, q, e)
          WHERE s.party = t.p AND s.service_id = t.q AND s.node_id = ${this.nodeId} AND s.epoch = t.e`;
      else
        await this.conn.sql`DELETE FROM cluster_subs s USING unnest(${p}::int2[], ${q}::bytea[], ${e}::int8[]) AS t(p, q, e)
          WHERE s.party = t.p AND s.queue_id = t.q AND s.node_id = ${this.nodeId} AND s.epoch = t.e`;
    }
  }

  // ---------------------------------------------------------------- reads

  async confirm(claims: readonly ClusterSub[], service: boolean): Promise<ClaimStatus[]> {
    if (claims.length === 0) return [];
    const p = claims.map((c) => partyCode(c.party));
    const q = claims.map((c) => c.id);
    const e = claims.map((c) => c.epoch);
    const sql = this.conn.sql;
    if (service) {
      const rows = (await sql`WITH t AS (SELECT * FROM unnest(${p}::int2[], ${q}::bytea[], ${e}::int8[]) WITH ORDINALITY AS t(p, q, e, i)),
          ins AS (INSERT INTO cluster_service_subs(party, service_id, node_id, epoch) SELECT p, q, ${this.nodeId}, e FROM t
            ON CONFLICT DO NOTHING RETURNING party, service_id AS q)
          SELECT (ins.q IS NOT NULL OR EXISTS (SELECT 1 FROM cluster_service_subs s
            WHERE s.party = t.p AND s.service_id = t.q AND s.node_id = ${this.nodeId} AND s.epoch = t.e)) AS mine
          FROM t LEFT JOIN ins ON ins.party = t.p AND ins.q = t.q ORDER BY t.i`) as { mine: boolean }[];
      return rows.map((r) => (r.mine ? "mine" : "taken"));
    }
    // The queue's state first (st: null = gone, 1 = subscribed on its own, 2 = served by a
    // service): only a claim of a queue that is still there on its own is recorded again.
    const rows = (await sql`WITH t AS (SELECT * FROM unnest(${p}::int2[], ${q}::bytea[], ${e}::int8[]) WITH ORDINALITY AS t(p, q, e, i)),
        k AS (SELECT t.*, CASE WHEN t.p = 0
            THEN (SELECT CASE WHEN x.rcv_service_id IS NULL THEN 1 ELSE 2 END FROM queues x WHERE x.recipient_id = t.q)
            ELSE (SELECT CASE WHEN x.ntf_service_id IS NULL THEN 1 ELSE 2 END FROM queues x WHERE x.notifier_id = t.q) END AS st FROM t),
        ins AS (INSERT INTO cluster_subs(party, queue_id, node_id, epoch) SELECT p, q, ${this.nodeId}, e FROM k WHERE st = 1
          ON CONFLICT DO NOTHING RETURNING party, queue_id AS q)
        SELECT k.st, (ins.q IS NOT NULL OR EXISTS (SELECT 1 FROM cluster_subs s
          WHERE s.party = k.p AND s.queue_id = k.q AND s.node_id = ${this.nodeId} AND s.epoch = k.e)) AS mine
        FROM k LEFT JOIN ins ON ins.party = k.p AND ins.q = k.q ORDER BY k.i`) as { st: number | null; mine: boolean }[];
    return rows.map((r) => (r.st === null ? "deleted" : r.st === 2 ? "moved" : r.mine ? "mine" : "taken"));
  }

  async withMessages(recipientIds: readonly Uint8Array[], sinceMs: number): Promise<Uint8Array[]> {
    if (recipientIds.length === 0) return [];
    const rows = (await this.conn.sql`SELECT q.recipient_id FROM queues q
      WHERE q.recipient_id = ANY(${recipientIds as Uint8Array[]}::bytea[])
        AND (SELECT m.ts_ms FROM messages m WHERE m.qid = q.qid ORDER BY m.seq LIMIT 1) >= ${sinceMs}`) as {
      recipient_id: Uint8Array;
    }[];
    return rows.map((r) => bytes(r.recipient_id));
  }

  async recheckQueues(recipientIds: readonly Uint8Array[]): Promise<{ readonly gone: Uint8Array[]; readonly withMessages: Uint8Array[] }> {
    const gone: Uint8Array[] = [];
    const withMessages: Uint8Array[] = [];
    if (recipientIds.length === 0) return { gone, withMessages };
    const rows = (await this.conn.sql`SELECT t.q AS id, x.qid IS NULL AS gone,
        (x.qid IS NOT NULL AND EXISTS (SELECT 1 FROM messages m WHERE m.qid = x.qid)) AS has
      FROM unnest(${recipientIds as Uint8Array[]}::bytea[]) AS t(q) LEFT JOIN queues x ON x.recipient_id = t.q`) as {
      id: Uint8Array;
      gone: boolean;
      has: boolean;
    }[];
    for (const r of rows) {
      if (r.gone) gone.push(bytes(r.id));
      else if (r.has) withMessages.push(bytes(r.id));
    }
    return { gone, withMessages };
  }

  async nodes(): Promise<ClusterNode[]> {
    const rows = (await this.conn.sql`SELECT node_id, name, started_at FROM cluster_nodes ORDER BY started_at, node_id`) as {
      node_id: string;
      name: string;
      started_at: string;
    }[];
    return rows.map((r) => ({ nodeId: r.node_id, name: r.name, startedAt: Number(r.started_at) }));
  }

  /**
   * Leaves the cluster: what is queued goes out, then this node's claims and registry row are
   * removed and its lock is released. Called by the store's close, before its pool closes.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    await this.running;
    // What was queued before the close still goes out (a DEL's "ended" to other nodes' subscribers).
    if (this.claims.length > 0 || this.releases.length > 0 || this.events.length > 0 || this.direct.length > 0) await (this.running = this.drain());
    this.left = true;
    if (this.listener !== null) {
      try {
        await this.conn.sql`DELETE FROM cluster_subs WHERE node_id = ${this.nodeId}`;
        await this.conn.sql`DELETE FROM cluster_service_subs WHERE node_id = ${this.nodeId}`;
        await this.conn.sql`DELETE FROM cluster_nodes WHERE node_id = ${this.nodeId}`;
      } catch (e) {
        // Released by the next node that finds this one's lock free.
        log.warn(`cluster: leaving the cluster: ${(e as Error).message}`);
      }
    }
    await this.subscription?.unlisten().catch(() => {});
    this.lockConn?.release();
    this.lockConn = null;
    await this.own.close({ timeout: 1 });
  }
}
