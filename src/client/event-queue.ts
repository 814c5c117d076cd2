/**
 * A bounded FIFO between the receive loop (the only producer) and whoever reads server events.
 * When it is full the receive loop waits for space before reading the next block, so a slow
 * reader slows the server down (backpressure) instead of growing memory — as the reference
 * client's TBQueue does (Client.hs:msgQ).
 */
export class EventQueue<T> {
  private readonly ring: (T | undefined)[];
  private head = 0;
  private size = 0;
  private takers: ((v: T | undefined) => void)[] = [];
  private spaceWaiter: (() => void) | null = null;
  private closed = false;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError("event queue capacity must be ≥ 1");
    this.ring = new Array(capacity);
  }

  get length(): number {
    return this.size;
  }

  get full(): boolean {
    return this.size >= this.capacity;
  }

  /** Adds an item (a waiting reader gets it directly); false when full — await `space()` and retry. */
  push(item: T): boolean {
    if (this.closed) return true; // nobody will read it
    const t = this.takers.shift();
    if (t !== undefined) {
      t(item);
      return true;
    }
    if (this.size >= this.capacity) return false;
    this.ring[(this.head + this.size) % this.capacity] = item;
    this.size++;
    return true;
  }

  /** Resolves once an item can be pushed (or the queue is closed). */
  space(): Promise<void> {
    if (this.closed || this.size < this.capacity) return Promise.resolve();
    return new Promise((resolve) => {
      this.spaceWaiter = resolve;
    });
  }

  /** The next item; undefined once the queue is closed and drained. */
  take(): Promise<T | undefined> {
    if (this.size > 0) return Promise.resolve(this.shift());
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => this.takers.push(resolve));
  }

  /** As `take`, but gives up after `ms` ("timeout") without losing an item that comes later. */
  takeWithin(ms: number): Promise<T | undefined | "timeout"> {
    if (this.size > 0) return Promise.resolve(this.shift());
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const taker = (v: T | undefined) => {
        clearTimeout(timer);
        resolve(v);
      };
      const timer = setTimeout(() => {
        const i = this.takers.indexOf(taker);
        if (i >= 0) this.takers.splice(i, 1);
        resolve("timeout");
      }, ms);
      this.takers.push(taker);
    });
  }

  /** The next item if one is queued, without waiting. */
  poll(): T | undefined {
    return this.size > 0 ? this.shift() : undefined;
  }

  private shift(): T {
    const item = this.ring[this.head] as T;
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.size--;
    const w = this.spaceWaiter;
    if (w !== null) {
      this.spaceWaiter = null;
      w();
    }
    return item;
  }

  /** No more items will come; readers drain what is queued, then get undefined. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const ts = this.takers;
    this.takers = [];
    for (const t of ts) t(undefined);
    const w = this.spaceWaiter;
    this.spaceWaiter = null;
    w?.();
  }
}
