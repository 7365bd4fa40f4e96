/**
 * Online logistic regression with feature scaling: the learning part of the `model` detector.
 * Pure and deterministic: the same examples in the same order give the same weights, bit for bit.
 *
 * - Scaling: each feature is standardised with its running mean and variance (Welford), updated with
 *   every scored input (`observe`); a standardised value is clipped to [-CLIP, CLIP] so that one wild
 *   input cannot swing the model.
 * - Learning: one AdaGrad step per example on the log loss with L2 shrinkage; the learning rate of a
 *   weight falls as its squared gradients add up, so early labels count and the model settles.
 * - Sampling: when only a share `r` of the negatives is learnt from, the score is corrected by log(r)
 *   on the log-odds scale, so that the probability stays an estimate for the whole stream.
 */

/** Standardised values are clipped to this many standard deviations. */
export const CLIP = 6;
/** Inputs are clamped to ±this before anything else (no overflow of the statistics). */
export const LIMIT = 1e12;
/** Once this many inputs were seen, one input moves the statistics as if it were at most this many standard deviations out. */
const WINSOR = 100;
/** Among the first inputs, those more than this many robust deviations (MAD) from their median are clipped. */
const FIRST_WINSOR = 10;
const SETTLED = 30;

export interface LearnerOptions {
  features: number;
  learningRate: number;
  l2: number;
  /** Share of the negative examples learnt from (0 < r <= 1). */
  negativeRate: number;
}

export interface LearnerSnapshot {
  n: number;
  /** The first inputs, while fewer than SETTLED were seen. */
  first?: number[];
  mean: number[];
  m2: number[];
  w: number[];
  g2: number[];
  positives: number;
  negatives: number;
}

export class OnlineLogistic {
  /** Inputs observed (scaling statistics). */
  private n = 0;
  private readonly mean: Float64Array;
  private readonly m2: Float64Array;
  /** Weights; the last one is the intercept. */
  readonly w: Float64Array;
  /** Sums of squared gradients (AdaGrad), same layout as `w`. */
  private readonly g2: Float64Array;
  positives = 0;
  negatives = 0;
  private readonly z: Float64Array;
  private readonly offset: number;
  /** The first SETTLED inputs (see settle). */
  private readonly first: Float64Array;

  constructor(private readonly opts: LearnerOptions) {
    const k = opts.features;
    this.mean = new Float64Array(k);
    this.m2 = new Float64Array(k);
    this.w = new Float64Array(k + 1);
    this.g2 = new Float64Array(k + 1);
    this.z = new Float64Array(k);
    this.first = new Float64Array(SETTLED * k);
    this.offset = Math.log(opts.negativeRate);
  }

  /**
   * Add an input to the scaling statistics. One wild input (an amount of 1e308, a count gone mad)
   * must not blind a feature for the rest of the stream: inputs are clamped to ±LIMIT, and once the
   * statistics settled an input counts as at most WINSOR standard deviations from the mean.
   */
  observe(x: ArrayLike<number>): void {
    const n = ++this.n;
    const k = this.opts.features;
    if (n <= SETTLED) for (let i = 0; i < k; i++) this.first[(n - 1) * k + i] = x[i] > LIMIT ? LIMIT : x[i] < -LIMIT ? -LIMIT : x[i];
    for (let i = 0; i < k; i++) {
      let v = x[i] > LIMIT ? LIMIT : x[i] < -LIMIT ? -LIMIT : x[i];
      // A feature that has not varied yet (a flag never raised) is not clipped: its first change must count.
      if (n > SETTLED && this.m2[i] > 0) {
        const bound = WINSOR * Math.sqrt(this.m2[i] / (n - 2));
        const lo = this.mean[i] - bound;
        const hi = this.mean[i] + bound;
        v = v > hi ? hi : v < lo ? lo : v;
      }
      const d = v - this.mean[i];
      this.mean[i] += d / n;
      this.m2[i] += d * (v - this.mean[i]);
    }
    if (n === SETTLED) this.settle();
  }

  /**
   * After the first SETTLED inputs: their statistics are computed again without the inputs more than
   * FIRST_WINSOR robust deviations (MAD) from their median, so that a wild value among the very first does
   * not stay in the variance for good.
   */
  private settle(): void {
    const k = this.opts.features;
    const col = new Float64Array(SETTLED);
    for (let i = 0; i < k; i++) {
      for (let j = 0; j < SETTLED; j++) col[j] = this.first[j * k + i];
      const sorted = Float64Array.from(col).sort();
      const med = (sorted[(SETTLED - 1) >> 1] + sorted[SETTLED >> 1]) / 2;
      const dev = Float64Array.from(col, (v) => Math.abs(v - med)).sort();
      const mad = (dev[(SETTLED - 1) >> 1] + dev[SETTLED >> 1]) / 2;
      // Mostly constant values (a flag, a count of rare events): their MAD is 0 and nothing is clipped.
      const bound = mad > 0 ? FIRST_WINSOR * 1.4826 * mad : Infinity;
      let m = 0;
      let q = 0;
      let c = 0;
      for (let j = 0; j < SETTLED; j++) {
        const v = Math.min(med + bound, Math.max(med - bound, col[j]));
        c++;
        const d = v - m;
        m += d / c;
        q += d * (v - m);
      }
      this.mean[i] = m;
      this.m2[i] = q;
    }
    this.first.fill(0);
  }

  /** Standardise `x` (from index `off` on) into `out` with the current statistics. */
  scale(x: ArrayLike<number>, out: Float64Array, off = 0): Float64Array {
    const k = this.opts.features;
    for (let i = 0; i < k; i++) {
      const sd = this.n > 1 ? Math.sqrt(this.m2[i] / (this.n - 1)) : 0;
      const raw = x[off + i];
      const xi = raw > LIMIT ? LIMIT : raw < -LIMIT ? -LIMIT : raw;
      const v = sd > 0 ? (xi - this.mean[i]) / sd : 0;
      out[i] = v > CLIP ? CLIP : v < -CLIP ? -CLIP : v;
    }
    return out;
  }

  /** Log-odds of `x` as learnt (before the sampling correction). */
  private logit(z: Float64Array): number {
    const k = this.opts.features;
    let s = this.w[k];
    for (let i = 0; i < k; i++) s += this.w[i] * z[i];
    return s;
  }

  /** Probability that `x` is positive, corrected for negative sampling; `contrib` gets each feature's share of the log-odds. */
  predict(x: ArrayLike<number>, contrib?: Float64Array): number {
    const z = this.scale(x, this.z);
    if (contrib !== undefined) for (let i = 0; i < this.opts.features; i++) contrib[i] = this.w[i] * z[i];
    return sigmoid(this.logit(z) + this.offset);
  }

  /** One learning step on example `x` (its features from index `off` on) with label `y` (1 positive, 0 negative). */
  learn(x: ArrayLike<number>, y: 0 | 1, off = 0): void {
    const z = this.scale(x, this.z, off);
    const p = sigmoid(this.logit(z));
    const g = p - y;
    const k = this.opts.features;
    const lr = this.opts.learningRate;
    const l2 = this.opts.l2;
    for (let i = 0; i <= k; i++) {
      const xi = i === k ? 1 : z[i];
      const gi = g * xi + (i === k ? 0 : l2 * this.w[i]);
      this.g2[i] += gi * gi;
      if (this.g2[i] > 0) this.w[i] -= (lr * gi) / Math.sqrt(this.g2[i]);
    }
    if (y === 1) this.positives++;
    else this.negatives++;
  }

  snapshot(): LearnerSnapshot {
    return {
      n: this.n,
      ...(this.n < SETTLED ? { first: [...this.first.subarray(0, this.n * this.opts.features)] } : {}),
      mean: [...this.mean],
      m2: [...this.m2],
      w: [...this.w],
      g2: [...this.g2],
      positives: this.positives,
      negatives: this.negatives,
    };
  }

  /** Restore a snapshot taken with the same number of features; false (and nothing changed) otherwise. */
  restore(s: LearnerSnapshot): boolean {
    const k = this.opts.features;
    if (s.mean?.length !== k || s.w?.length !== k + 1) return false;
    this.n = s.n;
    this.first.fill(0);
    if (Array.isArray(s.first)) this.first.set(s.first.slice(0, this.first.length));
    this.mean.set(s.mean);
    this.m2.set(s.m2);
    this.w.set(s.w);
    this.g2.set(s.g2);
    this.positives = s.positives;
    this.negatives = s.negatives;
    return true;
  }
}

export function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/** A deterministic number in [0, 1) from a string (FNV-1a): which negatives are learnt from. */
export function unitHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) / 4294967296;
}
