/** Fixed-capacity window of the last `cap` values, kept both in arrival order (ring) and sorted. */
export class SortedWindow {
  readonly cap: number;
  private readonly ring: Float64Array;
  private readonly sorted: Float64Array;
  private pos = 0; // next ring slot
  private count = 0; // values held (<= cap)

  constructor(cap: number) {
    this.cap = cap;
    this.ring = new Float64Array(cap);
    this.sorted = new Float64Array(cap);
  }

  get length(): number {
    return this.count;
  }

  /** First index in the sorted part whose value is >= x. */
  private lowerBound(x: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.sorted[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  push(x: number): void {
    const a = this.sorted;
    if (this.count === this.cap) {
      const old = this.ring[this.pos];
      const at = this.lowerBound(old);
      a.copyWithin(at, at + 1, this.count);
      this.count--;
    }
    this.ring[this.pos] = x;
    this.pos = this.pos + 1 === this.cap ? 0 : this.pos + 1;
    const at = this.lowerBound(x);
    a.copyWithin(at + 1, at, this.count);
    a[at] = x;
    this.count++;
  }

  /** Linear-interpolated quantile, p in [0, 1]. */
  quantile(p: number): number {
    const n = this.count;
    if (n === 0) return 0;
    const idx = p * (n - 1);
    const i = Math.floor(idx);
    const f = idx - i;
    return i + 1 < n ? this.sorted[i] * (1 - f) + this.sorted[i + 1] * f : this.sorted[i];
  }

  /**
   * Probability of a value >= v: the larger of the empirical frequency and an exponential tail fitted between
   * the lo and hi quantiles (below the lo quantile: the empirical frequency, counting v itself).
   */
  tail(v: number, lo: number, hi: number): number {
    const n = this.count;
    const ge = n - this.lowerBound(v);
    const u = this.quantile(lo);
    if (v <= u) return (ge + 1) / (n + 1);
    const w = this.quantile(hi);
    const scale = (w - u) / Math.log((1 - lo) / (1 - hi));
    const fitted = scale > 0 ? (1 - lo) * Math.exp(-(v - u) / scale) : 0;
    return Math.max(ge / (n + 1), fitted);
  }

  /** Values in arrival order, oldest first. */
  toArray(): number[] {
    const out: number[] = new Array<number>(this.count);
    const start = this.count === this.cap ? this.pos : 0;
    for (let t = 0; t < this.count; t++) out[t] = this.ring[(start + t) % this.cap];
    return out;
  }

  /** Replaces the content with `values` (arrival order, oldest first). */
  load(values: readonly number[]): void {
    this.count = 0;
    this.pos = 0;
    for (const v of values) this.push(v);
  }
}

