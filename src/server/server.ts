/**
 * The SMP server's shared state (the `Env` of env.ts) and the per-connection loop
 * (Server.hs:runClientTransport, receive, client, send): read a block, parse and verify its
 * transmissions, run the commands in order, commit the store, then write the responses — so
 * nothing is confirmed to a client before it is durable.
 */
import { Reader } from "../encoding/reader.ts";
import { SignPrivateKey } from "../crypto/sign.ts";
import { decodePrivKey } from "../crypto/keys.ts";
import { BatchCursor } from "../protocol/batch.ts";
import { errMsg, type BrokerMsg } from "../protocol/broker-messages.ts";
import { ERR, type ErrorType, type TransportError } from "../protocol/errors.ts";
import type { ServiceRole } from "../protocol/credentials.ts";
import { commandParty } from "../protocol/credentials.ts";
import type { CommandTag } from "../protocol/commands.ts";
import { parseTransmission, type ReceivedTransmission } from "../protocol/transmission.ts";
import { supportedServerSMPRelayVRange } from "../protocol/versions.ts";
import { BlockTransport } from "../transport/block.ts";
import type { ServerAuth, SmpHandle } from "../transport/handle.ts";
import { serverHandshake, type ServerHandshakeConfig } from "../transport/server-handshake.ts";
import type { TransportStream } from "../transport/stream.ts";
import type { Store } from "../store/store.ts";
import { StoreError, type QueueRec } from "../store/types.ts";
import { log } from "../util/log.ts";
import { processCommand } from "./commands.ts";
import { Client, fail, type Env, type Subscribers } from "./env.ts";
import { ClusterSubscribers } from "./cluster-subscribers.ts";
import { randomId } from "./ids.ts";
import type { ServerOptions } from "./options.ts";
import { ServerStats } from "./stats.ts";
import { ServerSubscribers } from "./subscribers.ts";
import { dummyVerify, verifyTransmission } from "./verify.ts";
import type { NamesService } from "./names/service.ts";
import { NamesStats } from "./names/stats.ts";
import type { ProxyAgent } from "./proxy/agent.ts";

const EMPTY = new Uint8Array(0);

export class SmpServer implements Env {
  readonly stats = new ServerStats();
  readonly clients = new Set<Client>();
  /** Several nodes on one store (issue 18): who holds what across nodes (cluster-subscribers.ts); null on SQLite. */
  readonly cluster: ClusterSubscribers | null;
  /** Who is subscribed to each queue and each service (subscribers.ts, or the cluster's). */
  readonly subscribers: Subscribers;
  readonly handshake: ServerHandshakeConfig;
  /** Connections with queued transmissions, written after the next commit. */
  private readonly dirty = new Set<Client>();
  private flushScheduled = false;
  private readonly reader = new Reader(EMPTY);
  private readonly cursor = new BatchCursor();
  active = true;
  readonly namesStats = new NamesStats();
  /** The names role (RSLV), when configured. */
  names: NamesService | undefined;
  /** The proxy role's connections to destination routers, created by the first PRXY. */
  proxy: ProxyAgent | undefined;

  constructor(
    readonly options: ServerOptions,
    readonly store: Store,
  ) {
    this.cluster = store.cluster === undefined ? null : new ClusterSubscribers(this, store.cluster);
    this.subscribers = this.cluster ?? new ServerSubscribers(this.stats, (target, entityId, msg) => this.push(target, entityId, msg));
    const c = options.credentials;
    const signKey = decodePrivKey(c.serverKeyPkcs8);
    if (signKey.alg !== "ed25519" && signKey.alg !== "ed448") throw new Error("server.key must be an Ed25519 or Ed448 key");
    this.handshake = {
      chainDer: c.chainDer,
      signKey: new SignPrivateKey(signKey.alg, signKey.raw),
      keyHash: c.fingerprint,
      versionRange: supportedServerSMPRelayVRange,
      getService: (role, chain, certHash) => this.getService(role, chain, certHash),
    };
  }

  private async getService(role: ServiceRole, chain: readonly Uint8Array[], certHash: Uint8Array): Promise<Uint8Array | TransportError> {
    for (let i = 0; i < 3; i++) {
      const r = await this.store.services.getCreateService({ serviceId: randomId(), role, certChain: chain, certHash, createdAt: Math.floor(Date.now() / 1000) });
      if (r === "SERVICE") return { type: "HANDSHAKE", err: "BAD_SERVICE" };
      if (r !== "DUPLICATE") {
        await this.store.flush();
        return r;
      }
    }
    return { type: "HANDSHAKE", err: "BAD_SERVICE" };
  }

  /** Runs one connection from the SMP handshake to its end; never throws. */
  async runConnection(stream: TransportStream): Promise<void> {
    const t = new BlockTransport(stream);
    const timer = setTimeout(() => t.close(), this.options.timeouts.handshakeMs);
    let h: Awaited<ReturnType<typeof serverHandshake>>;
    try {
      h = await serverHandshake(t, this.handshake);
    } catch (e) {
      log.debug(`handshake error: ${(e as Error).message}`);
      h = "closed";
    } finally {
      clearTimeout(timer);
    }
    if (typeof h === "string") {
      if (h !== "closed") this.stats.handshakeFailures++;
      t.close();
      return;
    }
    const c = new Client(h);
    this.clients.add(c);
    this.stats.connections++;
    try {
      await this.clientLoop(c, h);
    } catch (e) {
      log.error(`connection ended by an internal error: ${(e as Error).message}`);
    } finally {
      this.disconnected(c);
      h.close();
    }
  }

  private async clientLoop(c: Client, h: SmpHandle<ServerAuth>): Promise<void> {
    for (;;) {
      const payload = await h.readPayload();
      if (payload === null || !this.active) return;
      c.rcvActiveAt = Date.now();
      if (payload === "bad") c.outbox.push(EMPTY, EMPTY, errMsg(ERR.BLOCK));
      else await this.processBlock(c, payload);
      await this.commitAndFlush(c);
      if (c.outbox.backedUp) await h.transport.drain();
    }
  }

  /** Server.hs:receive + client for one block: transmissions run in request order. */
  private async processBlock(c: Client, payload: Uint8Array): Promise<void> {
    const cursor = this.cursor;
    if (!cursor.open(payload)) {
      c.outbox.push(EMPTY, EMPTY, errMsg(ERR.BLOCK));
      return;
    }
    // The cursor and reader are shared by all connections: collect the ranges before awaiting.
    const n = cursor.count;
    const starts = c.transmissionStarts;
    const ends = c.transmissionEnds;
    for (let i = 0; cursor.next(); i++) {
      starts[i] = cursor.start;
      ends[i] = cursor.end;
    }
    // Parsed before any runs (each transmission's parse touches only its own bytes), so that a
    // block of SUBs — how clients resubscribe, ~135 per block — looks its queues up at once. The
    // array is the block's, not the connection's: an idle connection keeps none.
    // Server.hs:receive updateBatchStats: a block of 2+ parsed transmissions of one party counts
    // as a batch of the first one's command.
    const ts = new Array<ReceivedTransmission>(n);
    let first: CommandTag | null = null;
    let parsed = 0;
    let oneParty = true;
    let subs = 0;
    for (let i = 0; i < n; i++) {
      const t = parseTransmission(payload, starts[i]!, ends[i]!, c.handle.params, this.reader);
      ts[i] = t;
      if (t.error !== null) continue;
      const tag = t.command!.tag;
      if (first === null) first = tag;
      else if (oneParty && commandParty(tag) !== commandParty(first)) oneParty = false;
      parsed++;
      if (tag === "SUB") subs++;
    }
    const batch = subs === parsed && subs > 1 ? await this.lookUpSubs(ts, n) : null;
    for (let i = 0; i < n; i++) {
      const t = ts[i]!;
      if (t.error !== null) {
        fail(c, t, t.error);
        continue;
      }
      try {
        await this.processTransmission(c, payload, t, batch === null ? undefined : batch[i]);
      } catch (e) {
        fail(c, t, this.internalError(e));
      }
    }
    if (parsed > 1 && oneParty) this.stats.countBatch(first!);
  }

  /**
   * The queues of a block whose parsed transmissions are all SUBs, in one store call
   * (Server.hs:receive looks up the queues of a batch of one party together, getQueueRecs), by
   * position in the block (transmissions that failed to parse get null and are not looked up).
   * Only SUB blocks here: no command among them changes a queue record, so a record read before
   * the block runs is the one each SUB would have read. Null when the lookup fails: each SUB
   * then looks its queue up (and answers its own error).
   */
  private async lookUpSubs(ts: readonly ReceivedTransmission[], n: number): Promise<(QueueRec | null)[] | null> {
    const ids: Uint8Array[] = [];
    for (let i = 0; i < n; i++) if (ts[i]!.error === null) ids.push(ts[i]!.entityId);
    let found: (QueueRec | null)[];
    try {
      found = await this.store.queues.getQueues("rcv", ids);
      // each SUB then reads its queue's head (subscribeQueue): tell the store, it may batch them
      const qs: QueueRec[] = [];
      for (const q of found) if (q !== null) qs.push(q);
      await this.store.messages.expectPeeks(qs);
    } catch {
      return null;
    }
    if (found.length === n) return found;
    const byPosition = new Array<QueueRec | null>(n).fill(null);
    for (let i = 0, k = 0; i < n; i++) if (ts[i]!.error === null) byPosition[i] = found[k++]!;
    return byPosition;
  }

  private internalError(e: unknown): ErrorType {
    if (e instanceof StoreError) {
      log.error(`store error (${e.kind}): ${e.message}`);
      return { type: "STORE", err: e.kind };
    }
    log.error(`internal error: ${(e as Error)?.stack ?? e}`);
    return ERR.INTERNAL;
  }

  async runTransmission(c: Client, block: Uint8Array, t: ReceivedTransmission): Promise<void> {
    try {
      await this.processTransmission(c, block, t);
    } catch (e) {
      fail(c, t, this.internalError(e));
    }
  }

  /** `known`: the queue already looked up for this transmission (a block of SUBs). */
  private async processTransmission(c: Client, block: Uint8Array, t: ReceivedTransmission, known?: QueueRec | null): Promise<void> {
    const cmd = t.command!;
    let q: QueueRec | null = null;
    switch (commandParty(cmd.tag)) {
      case "Recipient":
        q = known !== undefined ? known : await this.store.queues.getQueueByRecipientId(t.entityId);
        break;
      case "Sender":
        q = await this.store.queues.getQueueBySenderId(t.entityId);
        break;
      case "LinkClient":
        q = await this.store.queues.getQueueByLinkId(t.entityId);
        break;
      case "Notifier":
        q = await this.store.queues.getQueueByNotifierId(t.entityId);
        break;
      default:
        return this.verifyAndRun(c, block, t, null);
    }
    if (q === null) {
      // Same work as a real verification, then AUTH (Server.hs:verifyLoadedQueue).
      dummyVerify(c.handle.auth, t);
      this.countAuthError(cmd.tag);
      fail(c, t, ERR.AUTH);
      return;
    }
    return this.verifyAndRun(c, block, t, q);
  }

  private async verifyAndRun(c: Client, block: Uint8Array, t: ReceivedTransmission, q: QueueRec | null): Promise<void> {
    const e = verifyTransmission(c.handle.auth, block, t, q);
    if (e !== null) {
      if (e === ERR.AUTH) this.countAuthError(t.command!.tag);
      fail(c, t, e);
      return;
    }
    await processCommand(this, c, t, q);
  }

  private countAuthError(tag: string): void {
    const s = this.stats;
    if (tag === "SEND") s.msgSentAuth++;
    else if (tag === "SUB") s.qSubAuth++;
    else if (tag === "NSUB") s.ntfSubAuth++;
    else if (tag === "GET") s.msgGetAuth++;
  }

  push(target: Client, entityId: Uint8Array, msg: BrokerMsg, breaks = 0): void {
    this.sendLater(target, EMPTY, entityId, msg, breaks);
  }

  sendLater(target: Client, corrId: Uint8Array, entityId: Uint8Array, msg: BrokerMsg, breaks = 0): void {
    if (!target.connected) return;
    target.outbox.push(corrId, entityId, msg, breaks);
    this.dirty.add(target);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        void this.commitAndFlush(null);
      });
    }
  }

  /**
   * Group commit, then write: the store makes everything of this turn durable once, and only
   * then do the responses that confirm it leave the server.
   */
  private async commitAndFlush(c: Client | null): Promise<void> {
    const t0 = performance.now();
    try {
      await this.store.flush();
      this.stats.commitTimes.observe((performance.now() - t0) / 1000);
    } catch (e) {
      // The commit failed: the writes of this turn are undone, so nothing may be confirmed —
      // including answers held by a connection that is still mid-block (waiting for a proxy
      // slot), whose own flush may come after the store has moved on. Each command is answered
      // with the store error instead (the client sees it failed, rather than a dropped
      // connection); a connection that loses a pushed transmission is closed, so that its
      // client resubscribes rather than wait for a delivery that will not come.
      const err = errMsg(this.internalError(e));
      if (c !== null && c.outbox.failAll(err)) this.failConnection(c);
      for (const d of this.clients) if (d !== c && d.outbox.size > 0 && d.outbox.failAll(err)) this.failConnection(d);
    }
    // With several nodes, the subscriptions this block made are recorded before its answers go
    // (ClusterSubscribers.recordedFor; a single server has nothing to wait for).
    const recorded = c === null || this.cluster === null ? null : this.cluster.recordedFor(c);
    if (recorded !== null) await recorded;
    if (c !== null && c.connected) {
      c.outbox.flush();
      c.sndActiveAt = Date.now();
    }
    // Flushing one outbox can queue for another (a forwarded answer): loop until none is left.
    while (this.dirty.size > 0) {
      const ds = [...this.dirty];
      this.dirty.clear();
      for (const d of ds) {
        // Answers waiting for their subscriptions to be recorded: that connection's own turn flushes them.
        if (d.connected && (this.cluster === null || this.cluster.recordedFor(d) === null)) {
          d.outbox.flush();
          d.sndActiveAt = Date.now();
        }
      }
    }
  }

  /** Drops a connection whose state its client can no longer know (it reconnects and resubscribes). */
  private failConnection(c: Client): void {
    c.connected = false;
    c.handle.close();
  }

  /** Server.hs:clientDisconnected: its subscriptions end. */
  private disconnected(c: Client): void {
    c.connected = false;
    this.clients.delete(c);
    this.dirty.delete(c);
    this.subscribers.disconnected(c);
  }

  /** Closes every connection (server stop). */
  closeAll(): void {
    this.active = false;
    this.names?.close();
    this.proxy?.close();
    for (const c of this.clients) c.handle.close();
  }
}
