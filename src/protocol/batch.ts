/**
 * Block payload = `count(1..255) ‖ Large(transmission) × count` (Protocol.hs:tParse, batchTransmissions_,
 * tEncodeBatch1). The whole payload must parse (exactly `count` items, nothing after them), else the block is
 * answered with a single `ERR BLOCK`.
 */

/** 16384 − 2 (pad length) − 1 (count) − 16 (block encryption tag): the Σ(2 + len) budget of one block. */
export const BATCH_PAYLOAD_BUDGET = 16384 - 19;
export const MAX_BATCH_COUNT = 255;

/**
 * Walks the transmissions of a received block payload without allocating. `open` validates the framing
 * first; then `next()` moves `start`/`end` over each transmission in order.
 */
export class BatchCursor {
  buf: Uint8Array = new Uint8Array(0);
  count = 0;
  /** Current transmission range (valid after `next()` returned true). */
  start = 0;
  end = 0;
  private pos = 0;
  private limit = 0;

  /** False if the payload is not `NonEmpty Large` consuming everything (→ one ERR BLOCK). */
  open(buf: Uint8Array, start = 0, end = buf.length): boolean {
    this.buf = buf;
    this.count = 0;
    if (end - start < 1) return false;
    const n = buf[start]!;
    if (n === 0) return false;
    let p = start + 1;
    for (let i = 0; i < n; i++) {
      if (p + 2 > end) return false;
      p += 2 + ((buf[p]! << 8) | buf[p + 1]!);
      if (p > end) return false;
    }
    if (p !== end) return false;
    this.count = n;
    this.pos = start + 1;
    this.limit = end;
    return true;
  }

  next(): boolean {
    if (this.pos >= this.limit) return false;
    const b = this.buf;
    const len = (b[this.pos]! << 8) | b[this.pos + 1]!;
    this.start = this.pos + 2;
    this.end = this.start + len;
    this.pos = this.end;
    return true;
  }
}

export type PackResult = "added" | "full" | "too-large";

/**
 * Server side: fills one block payload with encoded transmissions while Σ(2 + len) ≤ 16365 and count < 255.
 * "full": flush `payload()` and `reset()`, then add again; "too-large": the transmission can never fit a block
 * (the reference drops it with TELargeMsg).
 */
export class BatchPacker {
  private readonly buf = new Uint8Array(1 + BATCH_PAYLOAD_BUDGET);
  private pos = 1;
  private n = 0;

  constructor(private readonly budget = BATCH_PAYLOAD_BUDGET) {}

  get count(): number {
    return this.n;
  }

  reset(): void {
    this.pos = 1;
    this.n = 0;
  }

  add(t: Uint8Array): PackResult {
    const need = 2 + t.length;
    if (need > this.budget) return "too-large";
    if (this.n >= MAX_BATCH_COUNT || this.pos - 1 + need > this.budget) return "full";
    const b = this.buf;
    b[this.pos] = t.length >> 8;
    b[this.pos + 1] = t.length & 0xff;
    b.set(t, this.pos + 2);
    this.pos += need;
    this.n++;
    return "added";
  }

  /** `count ‖ Large(t)…` (a view, valid until the next add/reset); empty if nothing was added. */
  payload(): Uint8Array {
    if (this.n === 0) return this.buf.subarray(0, 0);
    this.buf[0] = this.n;
    return this.buf.subarray(0, this.pos);
  }
}

/** Cold path: the block payloads for a list of transmissions, in order; oversize ones are reported and skipped. */
export function batchTransmissions(ts: readonly Uint8Array[]): { payloads: Uint8Array[]; tooLarge: number[] } {
  const packer = new BatchPacker();
  const payloads: Uint8Array[] = [];
  const tooLarge: number[] = [];
  ts.forEach((t, i) => {
    let r = packer.add(t);
    if (r === "full") {
      payloads.push(packer.payload().slice());
      packer.reset();
      r = packer.add(t);
    }
    if (r === "too-large") tooLarge.push(i);
  });
  if (packer.count > 0) payloads.push(packer.payload().slice());
  return { payloads, tooLarge };
}

/** `tEncodeBatch1`: a payload holding exactly one transmission. */
export function batch1(t: Uint8Array): Uint8Array {
  if (t.length > 0xffff) throw new RangeError("transmission too long");
  const out = new Uint8Array(3 + t.length);
  out[0] = 1;
  out[1] = t.length >> 8;
  out[2] = t.length & 0xff;
  out.set(t, 3);
  return out;
}
