/**
 * 16384-byte transport blocks (Transport.hs:smpBlockSize, tPutBlock, tGetBlock).
 *
 * Receiving is a two-state machine over incoming chunks: fill the current block, then hand
 * it over. Full blocks wait in a small FIFO of preallocated buffers; when it is full the
 * stream is paused, so a fast or hostile peer can never make a connection hold more than
 * `maxPending` blocks.
 */
import type { TransportStream } from "./stream.ts";

export const BLOCK_SIZE = 16384;

export class BlockTransport {
  private readonly free: Uint8Array[] = [];
  private readonly ready: Uint8Array[] = [];
  private current: Uint8Array;
  private fill = 0;
  private waiter: ((b: Uint8Array | null) => void) | null = null;
  private lastTaken: Uint8Array | null = null;
  private paused = false;
  private drainWaiters: (() => void)[] = [];
  closed = false;
  /** Bytes received after close or beyond the block stream are ignored. */
  onClose: (() => void) | null = null;

  constructor(
    readonly stream: TransportStream,
    private readonly maxPending = 4,
  ) {
    this.current = new Uint8Array(BLOCK_SIZE);
    stream.setHandlers({
      onData: (chunk) => this.receive(chunk),
      onDrain: () => this.drained(),
      onClose: () => this.closedByStream(),
    });
  }

  private receive(chunk: Uint8Array): void {
    let off = 0;
    while (off < chunk.length && !this.closed) {
      const n = Math.min(BLOCK_SIZE - this.fill, chunk.length - off);
      this.current.set(chunk.subarray(off, off + n), this.fill);
      this.fill += n;
      off += n;
      if (this.fill === BLOCK_SIZE) {
        this.fill = 0;
        const full = this.current;
        this.current = this.free.pop() ?? new Uint8Array(BLOCK_SIZE);
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
      if (this.free.length < this.maxPending) this.free.push(this.lastTaken);
      this.lastTaken = null;
    }
  }

  /**
   * The next raw block, or null once the connection is closed. The returned buffer stays
   * valid until the following `readBlock` call (it is then reused).
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

  /** Sends one 16384-byte block; false = the stream buffer is above its mark (see `drain`). */
  writeBlock(block: Uint8Array): boolean {
    if (this.closed) return false;
    return this.stream.write(block);
  }

  /** Resolves when the stream can take more (immediately if it is not backed up). */
  drain(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private drained(): void {
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
    this.ready.length = 0;
    this.free.length = 0;
    if (this.waiter !== null) {
      const w = this.waiter;
      this.waiter = null;
      w(null);
    }
    this.drained();
    this.onClose?.();
  }
}
