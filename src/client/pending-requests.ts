/**
 * The requests of one client connection that await a response (Client.hs:ProtocolClient
 * sentCommands), keyed by corrId, each with a deadline. One timer serves them all: it is armed
 * for the earliest deadline, and a request past its deadline is rejected with "timeout" — its
 * response, if it comes later, is no longer found here (the connection reports it as "late").
 */
import { bytesEqual } from "../encoding/bytes.ts";
import type { BrokerMsg } from "../protocol/broker-messages.ts";
import { SMPClientError } from "./errors.ts";

export interface PendingRequest {
  readonly corrId: Uint8Array;
  /** The entity the response must be for. */
  readonly entityId: Uint8Array;
  readonly deadline: number;
  readonly resolve: (m: BrokerMsg) => void;
  readonly reject: (e: Error) => void;
  /** Next request whose corrId has the same map key. */
  next: PendingRequest | null;
}

/** Map key of a corrId: its first 6 bytes (random, so collisions are rare; they chain). */
function corrKey(c: Uint8Array): number {
  const n = c.length < 6 ? c.length : 6;
  let k = 0;
  for (let i = 0; i < n; i++) k = k * 256 + c[i]!;
  return k;
}

export class PendingRequests {
  private readonly byKey = new Map<number, PendingRequest>();
  private count = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private timerAt = Infinity;
  /** Deadlines this close together share one timer firing instead of re-arming for each. */
  private readonly timerSlack: number;

  constructor(
    private readonly defaultTimeoutMs: number,
    /** Called each time a request leaves (answered, taken or timed out): a slot is free. */
    private readonly onRelease: () => void = () => {},
  ) {
    this.timerSlack = Math.min(250, Math.max(2, Math.floor(defaultTimeoutMs / 20)));
  }

  /** Requests awaiting a response. */
  get size(): number {
    return this.count;
  }

  /**
   * A promise settled by whoever takes the request, or rejected with "timeout" after `timeoutMs`
   * (the default when absent). A corrId that is already pending is refused (RangeError).
   */
  register(corrId: Uint8Array, entityId: Uint8Array, timeoutMs?: number): Promise<BrokerMsg> {
    const key = corrKey(corrId);
    const head = this.byKey.get(key) ?? null;
    for (let q = head; q !== null; q = q.next) {
      if (bytesEqual(q.corrId, corrId)) return Promise.reject(new RangeError("a request with this corrId is already pending"));
    }
    const deadline = Date.now() + (timeoutMs ?? this.defaultTimeoutMs);
    return new Promise<BrokerMsg>((resolve, reject) => {
      this.byKey.set(key, { corrId, entityId, deadline, resolve, reject, next: head });
      this.count++;
      if (deadline < this.timerAt) this.armTimer(deadline);
    });
  }

  /** Removes and returns the request with this corrId; the caller settles it. Null if none is pending. */
  take(corrId: Uint8Array): PendingRequest | null {
    const key = corrKey(corrId);
    let prev: PendingRequest | null = null;
    for (let q = this.byKey.get(key) ?? null; q !== null; prev = q, q = q.next) {
      if (!bytesEqual(q.corrId, corrId)) continue;
      this.unlink(key, prev, q);
      return q;
    }
    return null;
  }

  /** Rejects every pending request with `err` and stops the timer (the connection closed). */
  rejectAll(err: Error): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
    const heads = [...this.byKey.values()];
    this.byKey.clear();
    this.count = 0;
    for (const head of heads) for (let q: PendingRequest | null = head; q !== null; q = q.next) q.reject(err);
  }

  private unlink(key: number, prev: PendingRequest | null, q: PendingRequest): void {
    if (prev !== null) prev.next = q.next;
    else if (q.next !== null) this.byKey.set(key, q.next);
    else this.byKey.delete(key);
    this.count--;
    this.onRelease();
  }

  private armTimer(at: number): void {
    if (this.timer !== null) clearTimeout(this.timer);
    const when = Math.max(at, Date.now() + this.timerSlack);
    this.timerAt = when;
    this.timer = setTimeout(() => this.expire(), when - Date.now());
  }

  /** Rejects every request past its deadline, then re-arms for the earliest remaining one. */
  private expire(): void {
    this.timer = null;
    this.timerAt = Infinity;
    const now = Date.now();
    let earliest = Infinity;
    for (const [key, head] of this.byKey) {
      let prev: PendingRequest | null = null;
      for (let q: PendingRequest | null = head; q !== null; ) {
        const next: PendingRequest | null = q.next;
        if (q.deadline <= now) {
          this.unlink(key, prev, q);
          q.reject(new SMPClientError("timeout", "no response in time"));
        } else {
          if (q.deadline < earliest) earliest = q.deadline;
          prev = q;
        }
        q = next;
      }
    }
    if (earliest !== Infinity) this.armTimer(earliest);
  }
}
