/**
 * 16384-byte transport blocks (Transport.hs:smpBlockSize, tPutBlock, tGetBlock).
 *
 * Receiving is a two-state machine over incoming chunks: fill the current block, then hand
 * it over. Full blocks wait in a small FIFO; when it is full the stream is paused, so a fast
 * or hostile peer can never make a connection hold more than `maxPending` blocks.
 *
 * Block buffers come from a pool shared by all connections and go back once consumed, so an
 * idle connection holds none (memory per connection matters more than the pool's few MB) and
 * a busy server allocates no block buffers in steady state. Outgoing blocks have a pool of
 * their own: a block goes back only when the stream reports (onWritten) that it no longer
 * references it, so a stream that cannot tell (no `tracksWrites`) never gets one reused.
 */
import type { TransportStream } from "./stream.ts";

export const BLOCK_SIZE = 16384;

/** Spare receive buffers kept for reuse (1 MB): enough for the connections active in one turn. */
const POOL_MAX = 64;
const pool: Uint8Array[] = [];

function takeBuffer(): Uint8Array {
  return pool.pop() ?? new Uint8Array(BLOCK_SIZE);
}

function giveBuffer(b: Uint8Array): void {
  if (pool.length < POOL_MAX) pool.push(b);
}

/** Spare outgoing blocks (1 MB): saves the GC a fresh 16 KB buffer per block sent. */
const OUT_POOL_MAX = 64;
const outPool: Uint8Array[] = [];

/** A BLOCK_SIZE buffer to encode an outgoing block into (contents undefined: overwrite all). */
export function takeOutgoingBlock(): Uint8Array {
  return outPool.pop() ?? new Uint8Array(BLOCK_SIZE);
}

export class BlockTransport {
  private readonly ready: Uint8Array[] = [];
  /** The block being filled; null between blocks. */
  private current: Uint8Array | null = null;
  private fill = 0;
  private waiter: ((b: Uint8Array | null) => void) | null = null;
  private lastTaken: Uint8Array | null = null;
  private paused = false;
  private drainWaiters: (() => void)[] = [];
  /** Written blocks not yet reported by onWritten, oldest first; null = not to be recycled. */
  private readonly unsent: (Uint8Array | null)[] = [];
  private readonly tracksWrites: boolean;
  /** The last write was refused and no drain has come since. */
  private backedUp = false;
  closed = false;
  /**
   * Blocks begun so far: with `partial`, what a periodic check compares to find a block that
   * has not advanced (a peer that sent part of a block and stalled); no clock on the data path.
   */
  blocksStarted = 0;
  /** Bytes received after close or beyond the block stream are ignored. */
  onClose: (() => void) | null = null;

  constructor(
    readonly stream: TransportStream,
    private readonly maxPending = 4,
  ) {
    this.tracksWrites = stream.tracksWrites === true;
    stream.setHandlers({
      onData: (chunk) => this.receive(chunk),
      onDrain: () => this.drained(),
      onClose: () => this.closedByStream(),
      onWritten: (ok) => this.written(ok),
    });
  }

  private written(ok: boolean): void {
    const b = this.unsent.shift();
    if (ok && b != null && outPool.length < OUT_POOL_MAX) outPool.push(b);
  }

  private receive(chunk: Uint8Array): void {
    let off = 0;
    while (off < chunk.length && !this.closed) {
      const n = Math.min(BLOCK_SIZE - this.fill, chunk.length - off);
      let current = this.current;
      if (current === null) {
        current = this.current = takeBuffer();
        this.blocksStarted++;
      }
      current.set(chunk.subarray(off, off + n), this.fill);
      this.fill += n;
      off += n;
      if (this.fill === BLOCK_SIZE) {
        this.fill = 0;
        const full = current;
        this.current = null;
        if (this.waiter !== null) {
          const w = this.waiter;
          this.waiter = null;
          this.recycleTaken();
          this.lastTaken = full;
          w(full);
        } else {
          this.ready.push(full);
          if (this.ready.length >= this.maxPending && !this.paused) {
            this.paused = true;
            this.stream.pause();
          }
        }
      }
    }
  }

  private recycleTaken(): void {
    if (this.lastTaken !== null) {
      giveBuffer(this.lastTaken);
      this.lastTaken = null;
    }
  }

  /**
   * A block has begun and is incomplete, and the peer is free to send the rest (reading is not
   * paused by us).
   */
  get partial(): boolean {
    return this.fill > 0 && !this.paused && !this.closed;
  }

  /**
   * The next raw block, or null once the connection is closed. The returned buffer is the
   * caller's (it may decrypt in place) until the following `readBlock` call, which recycles it.
   */
  readBlock(): Promise<Uint8Array | null> {
    this.recycleTaken();
    const b = this.ready.shift();
    if (b !== undefined) {
      this.lastTaken = b;
      if (this.paused && this.ready.length < this.maxPending) {
        this.paused = false;
        this.stream.resume();
      }
      return Promise.resolve(b);
    }
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  /**
   * Sends one 16384-byte block; false = the stream buffer is above its mark (see `drain`).
   * `recyclable`: the block came from takeOutgoingBlock and nobody else keeps it, so it may go
   * back to the pool once the stream is done with it.
   */
  writeBlock(block: Uint8Array, recyclable = false): boolean {
    if (this.closed) return false;
    // before write(): a stream may report the write's end synchronously
    if (this.tracksWrites) this.unsent.push(recyclable ? block : null);
    const ok = this.stream.write(block);
    if (!ok) this.backedUp = true;
    return ok;
  }

  /** Resolves when the stream can take more (immediately if it is not backed up). */
  drain(): Promise<void> {
    // The drain may already have come between the refused write and this call: no lost wake-up.
    if (this.closed || !this.backedUp) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private drained(): void {
    this.backedUp = false;
    const ws = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of ws) w();
  }

  close(): void {
    if (!this.closed) this.stream.close();
    this.closedByStream();
  }

  private closedByStream(): void {
    if (this.closed) return;
    this.closed = true;
    // Never handed out, so back to the pool (not lastTaken: its reader may still use it).
    for (const b of this.ready) giveBuffer(b);
    this.ready.length = 0;
    // Blocks still in the TLS layer may yet be sent: they are left to the GC, and the reports
    // of those writes still to come find nothing to recycle.
    this.unsent.length = 0;
    if (this.current !== null) giveBuffer(this.current);
    this.current = null;
    this.fill = 0;
    if (this.waiter !== null) {
      const w = this.waiter;
      this.waiter = null;
      w(null);
    }
    this.drained();
    this.onClose?.();
  }
}
