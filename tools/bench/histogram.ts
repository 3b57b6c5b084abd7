// Latency histogram with fixed log-linear buckets (HDR style): values below
// 64 ns are exact, above that each power of two is split into 32 buckets, so
// a percentile is off by at most 1/32 (3.1 %). Recording is O(1) and
// allocation-free, whatever the number of samples.

const SUB_BITS = 5;
const SUB = 1 << SUB_BITS; // buckets per power of two
const LINEAR = 2 * SUB; // values below this get their own bucket
const MAX_LOG2 = 36; // 2^36 ns = 68.7 s: larger values land in the last bucket
const BUCKETS = LINEAR + (MAX_LOG2 - SUB_BITS - 1) * SUB;

export class LatencyHistogram {
  private readonly counts = new Float64Array(BUCKETS);
  count = 0;
  /** Sum of the samples (ns), for the mean. */
  sum = 0;
  /** Sum of their squares, for the standard deviation (fio's stddev). */
  sumSq = 0;
  min = Infinity;
  max = 0;

  /** One sample, in nanoseconds (negative and fractional parts are dropped). */
  record(ns: number): void {
    const v = ns > 0 ? Math.floor(ns) : 0;
    this.counts[bucketOf(v)]++;
    this.count++;
    this.sum += v;
    this.sumSq += v * v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  mean(): number {
    return this.count ? this.sum / this.count : 0;
  }

  /** Sample standard deviation (n - 1), as fio reports it. */
  stddev(): number {
    if (this.count < 2) return 0;
    const m = this.mean();
    return Math.sqrt(Math.max(0, (this.sumSq - this.count * m * m) / (this.count - 1)));
  }

  /** The smallest value (bucket upper bound) with at least p % of the samples at or below it. */
  percentile(p: number): number {
    if (this.count === 0) return 0;
    if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile ${p}`);
    const target = Math.max(1, Math.ceil((p / 100) * this.count - 1e-9));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= target) return Math.max(this.min, Math.min(upperOf(i), this.max));
    }
    return this.max;
  }

  merge(other: LatencyHistogram): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i] += other.counts[i]!;
    this.count += other.count;
    this.sum += other.sum;
    this.sumSq += other.sumSq;
    this.min = Math.min(this.min, other.min);
    this.max = Math.max(this.max, other.max);
  }
}

export function bucketOf(v: number): number {
  if (v < LINEAR) return v;
  if (v >= 2 ** MAX_LOG2) return BUCKETS - 1;
  const k = v < 2 ** 32 ? 31 - Math.clz32(v) : Math.floor(Math.log2(v));
  const shift = k - SUB_BITS;
  const sub = Math.floor(v / 2 ** shift); // in [SUB, 2*SUB)
  return LINEAR + (k - SUB_BITS - 1) * SUB + (sub - SUB);
}

/** The largest value that falls in bucket i. */
export function upperOf(i: number): number {
  if (i < LINEAR) return i;
  const j = i - LINEAR;
  const k = SUB_BITS + 1 + Math.floor(j / SUB);
  const sub = SUB + (j % SUB);
  return (sub + 1) * 2 ** (k - SUB_BITS) - 1;
}
