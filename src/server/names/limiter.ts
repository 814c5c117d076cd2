/**
 * Bounds resolutions in flight. The reference forks one thread per RSLV and blocks the client's command
 * processing once `serverResolverConcurrency` are running (Server.hs:forkCmd). Here RSLV answers come back
 * asynchronously while the command loop carries on, so the bound applies to resolutions alone: at most `limit`
 * run, up to `maxQueued` wait, and the rest are refused at once instead of piling up.
 */

export type Admission = "run" | "busy" | "expired" | "closed";

interface Waiter {
  readonly since: number;
  readonly admit: (a: Admission) => void;
}

export class ConcurrencyLimiter {
  private active = 0;
  private queue: Waiter[] = [];
  private head = 0;
  private closed = false;

  constructor(
    readonly limit: number,
    readonly maxQueued: number,
    /** A waiter older than this is answered "expired" instead of starting late. */
    readonly maxWaitMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get running(): number {
    return this.active;
  }

  get waiting(): number {
    return this.queue.length - this.head;
  }

  /** After "run" the caller owns a slot and must call release() exactly once. */
  acquire(): Promise<Admission> {
    if (this.closed) return Promise.resolve("closed");
    if (this.active < this.limit) {
      this.active++;
      return Promise.resolve("run");
    }
    if (this.waiting >= this.maxQueued) return Promise.resolve("busy");
    return new Promise((admit) => this.queue.push({ since: this.now(), admit }));
  }

  release(): void {
    this.active--;
    const now = this.now();
    while (this.head < this.queue.length) {
      const w = this.queue[this.head]!;
      this.queue[this.head++] = undefined as unknown as Waiter;
      if (now - w.since > this.maxWaitMs) {
        w.admit("expired");
        continue;
      }
      this.active++;
      w.admit("run");
      break;
    }
    // Drop the consumed prefix once it dominates, so the array does not grow without bound.
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  /** Answers every waiter "closed"; later acquire() calls too. */
  close(): void {
    this.closed = true;
    for (let i = this.head; i < this.queue.length; i++) this.queue[i]!.admit("closed");
    this.queue = [];
    this.head = 0;
  }
}
