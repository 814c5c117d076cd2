/**
 * A connection's outgoing transmissions, written as batched blocks when the server flushes
 * (after the store has committed what the responses confirm). A flush is synchronous and the
 * block encoder copies the packed payload, so one Writer and one BatchPacker serve every
 * connection: a flush allocates nothing beyond the block itself, and an idle connection holds
 * no encoding buffers.
 */
import { Writer } from "../encoding/writer.ts";
import { BatchPacker } from "../protocol/batch.ts";
import type { BrokerMsg } from "../protocol/broker-messages.ts";
import { encodeResponse } from "../protocol/transmission.ts";
import type { ServerAuth, SmpHandle } from "../transport/handle.ts";
import { log } from "../util/log.ts";
import { releaseMsgBody } from "./message-encryption.ts";

const w = new Writer(17000);
const packer = new BatchPacker();

/**
 * Block boundaries a transmission needs (Server.hs:sendMsg writes each transmission of the
 * delivery queue as a block of its own; the response queue's batches never share a block with
 * it): BREAK_BEFORE starts a new block, ALONE also ends it.
 */
export const BREAK_BEFORE = 1;
export const ALONE = 3;
const BREAK_AFTER = 2;

/** 256 × 16 KB = 4 MB buffered for a peer that does not read, then it is disconnected. */
export const MAX_REFUSED_BLOCKS = 256;

export class Outbox {
  // Parallel arrays: no per-response object.
  private corrIds: Uint8Array[] = [];
  private entityIds: Uint8Array[] = [];
  private msgs: BrokerMsg[] = [];
  private breaks: number[] = [];
  /** The stream refused more bytes at the last flush: the reader should wait for drain. */
  backedUp = false;
  /**
   * Blocks written since the stream last accepted one: what a peer that stopped reading makes
   * the server hold. Past MAX_REFUSED_BLOCKS the connection is closed (Server.hs bounds this
   * with its send queue, tbqSize).
   */
  private refusedBlocks = 0;

  constructor(private readonly handle: SmpHandle<ServerAuth>) {}

  get size(): number {
    return this.msgs.length;
  }

  /** Blocks written and not yet taken by the stream (a peer that does not read). */
  get waitingBlocks(): number {
    return this.refusedBlocks;
  }

  /**
   * Queues a transmission. The ids must stay unchanged until the next flush: views into the
   * block being processed are fine, since the connection flushes before it reads the next one.
   */
  push(corrId: Uint8Array, entityId: Uint8Array, msg: BrokerMsg, breaks = 0): void {
    this.corrIds.push(corrId);
    this.entityIds.push(entityId);
    this.msgs.push(msg);
    this.breaks.push(breaks);
  }

  /**
   * The commit these transmissions report on failed: each answer becomes `err` (its command did
   * not happen, and the client may retry it); server-initiated ones (no corrId) are dropped.
   * Returns true when one was dropped: the connection's state (a delivery awaiting ACK, a
   * subscription ended) then no longer matches what its client knows.
   */
  failAll(err: BrokerMsg): boolean {
    const n = this.msgs.length;
    let k = 0;
    let dropped = false;
    for (let i = 0; i < n; i++) {
      const msg = this.msgs[i]!;
      if (msg.tag === "MSG") releaseMsgBody(msg.body);
      if (this.corrIds[i]!.length === 0) {
        dropped = true;
        continue;
      }
      this.corrIds[k] = this.corrIds[i]!;
      this.entityIds[k] = this.entityIds[i]!;
      this.msgs[k] = err;
      this.breaks[k] = this.breaks[i]!;
      k++;
    }
    this.corrIds.length = k;
    this.entityIds.length = k;
    this.msgs.length = k;
    this.breaks.length = k;
    return dropped;
  }

  /** Encodes everything queued into as few blocks as the batching limits allow and writes them. */
  flush(): void {
    const n = this.msgs.length;
    if (n === 0) return;
    const p = this.handle.params;
    let ok = true;
    packer.reset();
    try {
      for (let i = 0; i < n; i++) {
        w.reset();
        encodeResponse(w, p, this.corrIds[i]!, this.entityIds[i]!, this.msgs[i]!);
        const t = w.view_();
        const breaks = this.breaks[i]!;
        if ((breaks & BREAK_BEFORE) !== 0 && packer.count > 0) {
          ok = this.write(packer.payload()) && ok;
          packer.reset();
        }
        let r = packer.add(t);
        if (r === "full") {
          ok = this.write(packer.payload()) && ok;
          packer.reset();
          r = packer.add(t);
        }
        if (r === "too-large") log.warn("response too large for a block: dropped (TELargeMsg)");
        if ((breaks & BREAK_AFTER) !== 0 && packer.count > 0) {
          ok = this.write(packer.payload()) && ok;
          packer.reset();
        }
      }
      if (packer.count > 0) {
        ok = this.write(packer.payload()) && ok;
        packer.reset();
      }
    } finally {
      // Whatever happened, these transmissions are done with: a MSG body goes back to the pool
      // (message-encryption.ts) only now, so no queued transmission can point at a reused one.
      for (let i = 0; i < n; i++) {
        const msg = this.msgs[i]!;
        if (msg.tag === "MSG") releaseMsgBody(msg.body);
      }
      this.corrIds.length = 0;
      this.entityIds.length = 0;
      this.msgs.length = 0;
      this.breaks.length = 0;
    }
    this.backedUp = !ok;
  }

  private write(payload: Uint8Array): boolean {
    const ok = this.handle.writePayload(payload);
    if (ok) this.refusedBlocks = 0;
    else if (++this.refusedBlocks > MAX_REFUSED_BLOCKS) {
      log.debug("closing a connection that does not read its responses");
      this.handle.close();
    }
    return ok;
  }
}
