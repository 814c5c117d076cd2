/**
 * One SMP client connection after the handshake (Client.hs:ProtocolClient): sends transmissions,
 * matches responses by corrId to the requests awaiting them (pending-requests.ts), and hands
 * server-initiated transmissions (empty corrId: MSG, END, DELD, NMSG, ENDS, ALLS, pushed ERR) to an
 * event handler or a bounded event queue.
 *
 * Memory is bounded: at most `maxPending` requests wait for a response (further senders wait for a
 * slot), events wait in a queue of `eventQueueSize` (when it is full the receive loop stops reading
 * until the reader catches up), and the block transport buffers a fixed number of blocks.
 */
import { Reader } from "../encoding/reader.ts";
import { Writer } from "../encoding/writer.ts";
import { bytesEqual } from "../encoding/bytes.ts";
import type { Command } from "../protocol/commands.ts";
import type { BrokerMsg } from "../protocol/broker-messages.ts";
import { ERR, type ErrorType } from "../protocol/errors.ts";
import { BatchCursor, BatchPacker } from "../protocol/batch.ts";
import { parseServerTransmission, type TransmissionParams } from "../protocol/transmission.ts";
import { MAX_ENCRYPTED_PAYLOAD, MAX_PLAIN_PAYLOAD } from "../transport/block-codec.ts";
import type { ClientAuth, SmpHandle } from "../transport/handle.ts";
import { TransmissionEncoder, type AuthKey, type ServiceAuth } from "./authorize.ts";
import { SMPClientError, errorTypeText } from "./errors.ts";
import { EventQueue } from "./event-queue.ts";
import { PendingRequests } from "./pending-requests.ts";

/** Something the server sent that is not the answer to a pending request. */
export type ServerEvent =
  /** Server-initiated: MSG, END, DELD, NMSG, ENDS, ALLS, ERR (entityId = the queue / notifier / service). */
  | { readonly type: "event"; readonly entityId: Uint8Array; readonly msg: BrokerMsg }
  /** A response whose request is no longer pending (it timed out), or that was never sent. */
  | {
      readonly type: "late";
      readonly corrId: Uint8Array;
      readonly entityId: Uint8Array;
      readonly msg: BrokerMsg | null;
      readonly error: ErrorType | null;
    }
  /** A block or event transmission that failed to decrypt or parse. */
  | { readonly type: "invalid"; readonly corrId: Uint8Array; readonly entityId: Uint8Array; readonly error: ErrorType };

/** One command of `sendBatch`. */
export interface Request {
  readonly entityId: Uint8Array;
  readonly command: Command;
  /** The entity key that authorizes the command; null/absent = unauthorized. */
  readonly key?: AuthKey | null;
  /** Fixed corrId (also the authenticator nonce); 24 random bytes otherwise. */
  readonly corrId?: Uint8Array;
  readonly timeoutMs?: number;
}

export interface SendOptions {
  readonly corrId?: Uint8Array;
  readonly timeoutMs?: number;
}

export interface ConnectionOptions {
  /** Response timeout (Client.hs:defaultNetworkConfig: 10 s interactive). */
  readonly timeoutMs?: number;
  /** Requests awaiting a response at once; more senders wait for a slot. */
  readonly maxPending?: number;
  /** Events buffered for `nextEvent` / `events()` when there is no `onEvent` handler. */
  readonly eventQueueSize?: number;
  /** Called synchronously for every event (then nothing is queued). It must not throw. */
  readonly onEvent?: (e: ServerEvent) => void;
}

export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_PENDING = 1024;
export const DEFAULT_EVENT_QUEUE_SIZE = 1024;
export const CORR_ID_LEN = 24;

/** Writers start at block size so encoding never grows them on the hot path. */
const BLOCK_WRITER_SIZE = 16384;

const EMPTY = new Uint8Array(0);

/** Messages holding views into the received block (copied before they are handed out). */
function hasViews(m: BrokerMsg): boolean {
  switch (m.tag) {
    case "OK":
    case "PONG":
    case "END":
    case "DELD":
    case "ALLS":
    case "ERR":
    case "INFO":
      return false;
    case "SOK":
      return m.serviceId !== null;
    default:
      return true;
  }
}

export function randomCorrId(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(CORR_ID_LEN));
}

export class ClientConnection {
  readonly params: TransmissionParams;
  /** Resolves once the connection is closed and every pending request has been rejected. */
  readonly closed: Promise<void>;

  private readonly encoder: TransmissionEncoder;
  private readonly timeoutMs: number;
  private readonly maxPending: number;
  private readonly maxPayload: number;
  private readonly onEvent: ((e: ServerEvent) => void) | null;
  private readonly queue: EventQueue<ServerEvent>;
  private readonly out = new Writer(BLOCK_WRITER_SIZE);
  private readonly one = new Writer(BLOCK_WRITER_SIZE);
  private readonly packer = new BatchPacker();
  private readonly pending: PendingRequests;
  private slotWaiters: (() => void)[] = [];
  private drainWait: Promise<void> | null = null;
  private isClosed = false;
  private closeReason = "connection closed";
  private resolveClosed!: () => void;

  constructor(
    readonly handle: SmpHandle<ClientAuth | null>,
    options: ConnectionOptions = {},
    service: ServiceAuth | null = null,
  ) {
    this.params = handle.params;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.maxPending = options.maxPending ?? DEFAULT_MAX_PENDING;
    if (!(this.maxPending >= 1)) throw new RangeError("maxPending must be ≥ 1");
    this.pending = new PendingRequests(this.timeoutMs, () => this.slotWaiters.shift()?.());
    this.maxPayload = handle.blockEncryption ? MAX_ENCRYPTED_PAYLOAD : MAX_PLAIN_PAYLOAD;
    this.onEvent = options.onEvent ?? null;
    this.queue = new EventQueue(options.eventQueueSize ?? DEFAULT_EVENT_QUEUE_SIZE);
    this.encoder = new TransmissionEncoder(handle.params, handle.auth?.peerServerPubKey ?? null, service);
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    void this.receiveLoop();
  }

  get version(): number {
    return this.params.version;
  }

  get sessionId(): Uint8Array {
    return this.params.sessionId;
  }

  get isOpen(): boolean {
    return !this.isClosed;
  }

  /** Requests currently awaiting a response. */
  get pendingRequests(): number {
    return this.pending.size;
  }

  // ------------------------------------------------------------------------------------------
  // Sending

  /**
   * Sends one command in its own block (tEncodeBatch1) and resolves with the server's response,
   * `ERR` included. Rejects with SMPClientError on timeout, close, an unparsable response, a
   * response for another entity, or a transmission too large for a block.
   */
  sendCommand(entityId: Uint8Array, cmd: Command, key: AuthKey | null = null, opts?: SendOptions): Promise<BrokerMsg> {
    if (this.isClosed || (this.pending.size < this.maxPending && this.drainWait === null)) {
      return this.sendNow(entityId, cmd, key, opts);
    }
    return this.sendWhenReady(entityId, cmd, key, opts);
  }

  private async sendWhenReady(entityId: Uint8Array, cmd: Command, key: AuthKey | null, opts?: SendOptions): Promise<BrokerMsg> {
    await this.ready();
    return this.sendNow(entityId, cmd, key, opts);
  }

  /** Waits for a free pending slot and a writable stream. */
  private async ready(): Promise<void> {
    for (;;) {
      if (this.isClosed) return;
      if (this.drainWait !== null) await this.drainWait;
      else if (this.pending.size >= this.maxPending) await new Promise<void>((r) => this.slotWaiters.push(r));
      else return;
    }
  }

  private sendNow(entityId: Uint8Array, cmd: Command, key: AuthKey | null, opts?: SendOptions): Promise<BrokerMsg> {
    if (this.isClosed) return Promise.reject(this.closedError());
    const corrId = opts?.corrId ?? randomCorrId();
    const w = this.out.reset();
    try {
      w.byte(1);
      w.word16(0);
      this.encoder.encode(w, corrId, entityId, cmd, key);
    } catch (e) {
      return Promise.reject(e);
    }
    const len = w.pos - 3;
    if (w.pos > this.maxPayload || len > 0xffff) {
      return Promise.reject(new SMPClientError("large-msg", `transmission of ${len} bytes does not fit a block`));
    }
    w.buf[1] = len >> 8;
    w.buf[2] = len & 0xff;
    const p = this.pending.register(corrId, entityId, opts?.timeoutMs);
    this.write(w.view_());
    return p;
  }

  /**
   * Sends several commands packed into as few blocks as the reference allows (Protocol.hs:
   * batchTransmissions_: Σ(2 + len) ≤ 16365 and ≤ 255 per block) and waits for every response.
   * Never rejects: each result is the response (ERR included) or the SMPClientError of that request.
   */
  async sendBatch(reqs: readonly Request[]): Promise<(BrokerMsg | SMPClientError)[]> {
    const results: Promise<BrokerMsg | SMPClientError>[] = new Array(reqs.length);
    const settle = (p: Promise<BrokerMsg>) =>
      p.then(
        (m) => m,
        (e) => (e instanceof SMPClientError ? e : new SMPClientError("closed", String(e))),
      );
    const packer = this.packer;
    packer.reset();
    for (let i = 0; i < reqs.length; i++) {
      const r = reqs[i]!;
      if (this.pending.size >= this.maxPending || this.drainWait !== null) {
        this.flushBatch();
        await this.ready();
      }
      if (this.isClosed) {
        results[i] = Promise.resolve(this.closedError());
        continue;
      }
      const corrId = r.corrId ?? randomCorrId();
      const w = this.one.reset();
      try {
        this.encoder.encode(w, corrId, r.entityId, r.command, r.key ?? null);
      } catch (e) {
        results[i] = Promise.resolve(e instanceof SMPClientError ? e : new SMPClientError("large-msg", String(e)));
        continue;
      }
      let added = packer.add(w.view_());
      if (added === "full") {
        this.flushBatch();
        added = packer.add(w.view_());
      }
      if (added === "too-large") {
        results[i] = Promise.resolve(new SMPClientError("large-msg", `transmission of ${w.pos} bytes does not fit a block`));
        continue;
      }
      results[i] = settle(this.pending.register(corrId, r.entityId, r.timeoutMs));
    }
    this.flushBatch();
    return Promise.all(results);
  }

  private flushBatch(): void {
    if (this.packer.count === 0) return;
    if (!this.isClosed) this.write(this.packer.payload());
    this.packer.reset();
  }

  /** Writes a block payload as it is (fuzzing, malformed-input tests). */
  sendRawPayload(payload: Uint8Array): void {
    if (this.isClosed) throw this.closedError();
    if (payload.length > this.maxPayload) throw new SMPClientError("large-msg", "payload does not fit a block");
    this.write(payload);
  }

  /** Waits for the response to a transmission sent with `sendRawPayload`. */
  expectResponse(corrId: Uint8Array, entityId: Uint8Array, timeoutMs?: number): Promise<BrokerMsg> {
    if (this.isClosed) return Promise.reject(this.closedError());
    if (corrId.length === 0) return Promise.reject(new RangeError("an empty corrId marks server events"));
    return this.pending.register(corrId, entityId, timeoutMs);
  }

  private write(payload: Uint8Array): void {
    if (!this.handle.writePayload(payload) && !this.isClosed && this.drainWait === null) {
      this.drainWait = this.handle.transport.drain().then(() => {
        this.drainWait = null;
      });
    }
  }

  // ------------------------------------------------------------------------------------------
  // Receiving

  private async receiveLoop(): Promise<void> {
    const cursor = new BatchCursor();
    const r = new Reader(EMPTY);
    try {
      for (;;) {
        const payload = await this.handle.readPayload();
        if (payload === null) break;
        if (payload === "bad" || !cursor.open(payload)) {
          const wait = this.deliver({ type: "invalid", corrId: EMPTY, entityId: EMPTY, error: ERR.BLOCK });
          if (wait !== null) await wait;
          continue;
        }
        while (cursor.next()) {
          const wait = this.dispatch(payload, cursor.start, cursor.end, r);
          if (wait !== null) await wait;
        }
      }
    } catch (e) {
      this.closeReason = `receive failed: ${e instanceof Error ? e.message : String(e)}`;
    } finally {
      this.shutdown();
    }
  }

  /** Handles one server transmission; returns a promise when the event queue is full. */
  private dispatch(buf: Uint8Array, start: number, end: number, r: Reader): Promise<void> | null {
    let t = parseServerTransmission(buf, start, end, this.params, r);
    if (t.msg !== null && hasViews(t.msg)) {
      // The block buffer is reused for the next block: hand out values backed by their own copy.
      const own = buf.slice(start, end);
      t = parseServerTransmission(own, 0, own.length, this.params, r);
    }
    if (t.corrId.length === 0) {
      const entityId = t.entityId.slice();
      if (t.msg !== null) return this.deliver({ type: "event", entityId, msg: t.msg });
      return this.deliver({ type: "invalid", corrId: EMPTY, entityId, error: t.error ?? ERR.BLOCK });
    }
    const p = this.pending.take(t.corrId);
    if (p === null) {
      return this.deliver({ type: "late", corrId: t.corrId.slice(), entityId: t.entityId.slice(), msg: t.msg, error: t.error });
    }
    if (t.msg === null) {
      const err = t.error ?? ERR.BLOCK;
      p.reject(new SMPClientError("bad-response", `bad response: ${errorTypeText(err)}`, null, err));
    } else if (!bytesEqual(p.entityId, t.entityId)) {
      p.reject(new SMPClientError("unexpected", `response ${t.msg.tag} for another entity`, t.msg));
    } else {
      p.resolve(t.msg);
    }
    return null;
  }

  /** Hands an event to the handler or the queue; a promise when the queue is full (wait before the next). */
  protected emit(e: ServerEvent): Promise<void> | null {
    return this.deliver(e);
  }

  private deliver(e: ServerEvent): Promise<void> | null {
    if (this.onEvent !== null) {
      try {
        this.onEvent(e);
      } catch {
        // The handler's failure must not take the connection down.
      }
      return null;
    }
    if (this.queue.push(e)) return null;
    return this.waitAndPush(e);
  }

  private async waitAndPush(e: ServerEvent): Promise<void> {
    while (!this.queue.push(e)) await this.queue.space();
  }

  /** The next server event; rejects with "timeout" after `timeoutMs`, with "closed" once closed and drained. */
  async nextEvent(timeoutMs: number = this.timeoutMs): Promise<ServerEvent> {
    if (this.onEvent !== null) throw new Error("events go to the onEvent handler");
    const e = await this.queue.takeWithin(timeoutMs);
    if (e === "timeout") throw new SMPClientError("timeout", "no event in time");
    if (e === undefined) throw this.closedError();
    return e;
  }

  /** All server events until the connection closes (single reader). */
  async *events(): AsyncGenerator<ServerEvent, void, undefined> {
    if (this.onEvent !== null) throw new Error("events go to the onEvent handler");
    for (;;) {
      const e = await this.queue.take();
      if (e === undefined) return;
      yield e;
    }
  }

  // ------------------------------------------------------------------------------------------
  // Closing

  /** Closes the stream; pending requests reject with "closed" right away. */
  close(): void {
    if (this.isClosed) return;
    this.closeReason = "client closed";
    this.shutdown();
  }

  private closedError(): SMPClientError {
    return new SMPClientError("closed", this.closeReason);
  }

  private shutdown(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.handle.close();
    this.pending.rejectAll(this.closedError());
    const ws = this.slotWaiters;
    this.slotWaiters = [];
    for (const w of ws) w();
    this.queue.close();
    this.resolveClosed();
  }
}
