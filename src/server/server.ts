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
import { StoreError, type QueueRec, type ServiceParty } from "../store/types.ts";
import { log } from "../util/log.ts";
import { processCommand } from "./commands.ts";
import { Client, fail, type Env } from "./env.ts";
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
  /** Who is subscribed to each queue and each service (subscribers.ts). */
  readonly subscribers = new ServerSubscribers(this.stats, (target, entityId, msg) => this.push(target, entityId, msg));
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
    // Server.hs:receive updateBatchStats: a block of 2+ parsed transmissions of one party counts
    // as a batch of the first one's command.
    let first: CommandTag | null = null;
    let parsed = 0;
    let oneParty = true;
    // Transmissions are parsed once (parsing may overwrite header bytes); a block's first ones may
    // already be parsed to see whether it is a block of SUBs.
    const ahead = n > 1 ? this.subscriptionBlock(c, payload, n) : null;
    // Awaited only for a block of SUBs: any other keeps its timing (no extra turn before it runs).
    const prefetched = ahead !== null && ahead.party !== null ? await this.store.queues.getQueues(ahead.party, ahead.ts.map(entityIdOf)) : null;
    for (let i = 0; i < n; i++) {
      const t = ahead !== null && i < ahead.ts.length ? ahead.ts[i]! : parseTransmission(payload, starts[i]!, ends[i]!, c.handle.params, this.reader);
      if (t.error !== null) {
        fail(c, t, t.error);
        continue;
      }
      const tag = t.command!.tag;
      if (first === null) first = tag;
      else if (oneParty && commandParty(tag) !== commandParty(first)) oneParty = false;
      parsed++;
      try {
        await this.processTransmission(c, payload, t, prefetched !== null ? prefetched[i] : undefined);
      } catch (e) {
        fail(c, t, this.internalError(e));
      }
    }
    if (parsed > 1 && oneParty) this.stats.countBatch(first!);
  }

  /**
   * A block made only of SUBs (or only of NSUBs) — Client.hs:subscribeSMPQueues packs ~135 per
   * block — has its queues looked up in one store call (`getQueues`: one query on PostgreSQL),
   * not one per transmission (the reference's production lesson); nothing else in the block can
   * change those queues before they are used. Returns the transmissions parsed to find out
   * (all of them with the party to look up, or up to the first that is not such a SUB, null).
   */
  private subscriptionBlock(c: Client, payload: Uint8Array, n: number): { readonly ts: ReceivedTransmission[]; readonly party: ServiceParty | null } {
    const starts = c.transmissionStarts;
    const ends = c.transmissionEnds;
    const ts: ReceivedTransmission[] = [];
    let tag: CommandTag | null = null;
    for (let i = 0; i < n; i++) {
      const t = parseTransmission(payload, starts[i]!, ends[i]!, c.handle.params, this.reader);
      ts.push(t);
      const tt = t.error === null ? t.command!.tag : null;
      if ((tt !== "SUB" && tt !== "NSUB") || (tag !== null && tt !== tag)) return { ts, party: null };
      tag = tt;
    }
    return { ts, party: tag === "SUB" ? "rcv" : "ntf" };
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

  /** `prefetched`: the queue already looked up with its block (`subscriptionBlock`). */
  private async processTransmission(c: Client, block: Uint8Array, t: ReceivedTransmission, prefetched?: QueueRec | null): Promise<void> {
    const cmd = t.command!;
    let q: QueueRec | null = null;
    switch (prefetched !== undefined ? "prefetched" : commandParty(cmd.tag)) {
      case "prefetched":
        q = prefetched!;
        break;
      case "Recipient":
        q = await this.store.queues.getQueueByRecipientId(t.entityId);
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
    if (c !== null && c.connected) {
      c.outbox.flush();
      c.sndActiveAt = Date.now();
    }
    // Flushing one outbox can queue for another (a forwarded answer): loop until none is left.
    while (this.dirty.size > 0) {
      const ds = [...this.dirty];
      this.dirty.clear();
      for (const d of ds) {
        if (d.connected) {
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

const entityIdOf = (t: ReceivedTransmission): Uint8Array => t.entityId;
