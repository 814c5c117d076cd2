/**
 * Latency histogram with logarithmic buckets (2 % wide from 10 µs), so worker processes can send
 * theirs to the parent as a small array and percentiles of the merged data stay accurate to 2 %.
 */
const BASE_MS = 0.01;
const GROWTH = 1.02;
const BUCKETS = 1000; // up to ~4 000 s
const LOG_GROWTH = Math.log(GROWTH);

export class Histogram {
  readonly counts: number[];
  total = 0;

  constructor(counts?: number[]) {
    this.counts = counts ?? new Array<number>(BUCKETS).fill(0);
    for (const c of this.counts) this.total += c;
  }

  add(ms: number): void {
    const i = ms <= BASE_MS ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(ms / BASE_MS) / LOG_GROWTH));
    this.counts[i]!++;
    this.total++;
  }

  merge(o: Histogram): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i]! += o.counts[i]!;
    this.total += o.total;
  }

  /** Upper bound of the bucket holding the p-th percentile, ms. */
  percentile(p: number): number {
    if (this.total === 0) return NaN;
    const rank = Math.ceil((this.total * p) / 100);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return BASE_MS * GROWTH ** i;
    }
    return Infinity;
  }
}
