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

export interface LearnerOptions {
  features: number;
  learningRate: number;
  l2: number;
  /** Share of the negative examples learnt from (0 < r <= 1). */
  negativeRate: number;
}

export interface LearnerSnapshot {
  n: number;
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

  constructor(private readonly opts: LearnerOptions) {
    const k = opts.features;
    this.mean = new Float64Array(k);
    this.m2 = new Float64Array(k);
    this.w = new Float64Array(k + 1);
    this.g2 = new Float64Array(k + 1);
    this.z = new Float64Array(k);
    this.offset = Math.log(opts.negativeRate);
  }

  /** Add an input to the scaling statistics. */
  observe(x: ArrayLike<number>): void {
    const n = ++this.n;
    const k = this.opts.features;
    for (let i = 0; i < k; i++) {
      const d = x[i] - this.mean[i];
      this.mean[i] += d / n;
      this.m2[i] += d * (x[i] - this.mean[i]);
    }
  }

  /** Standardise `x` (from index `off` on) into `out` with the current statistics. */
  scale(x: ArrayLike<number>, out: Float64Array, off = 0): Float64Array {
    const k = this.opts.features;
    for (let i = 0; i < k; i++) {
      const sd = this.n > 1 ? Math.sqrt(this.m2[i] / (this.n - 1)) : 0;
      const v = sd > 0 ? (x[off + i] - this.mean[i]) / sd : 0;
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
    return { n: this.n, mean: [...this.mean], m2: [...this.m2], w: [...this.w], g2: [...this.g2], positives: this.positives, negatives: this.negatives };
  }

  /** Restore a snapshot taken with the same number of features; false (and nothing changed) otherwise. */
  restore(s: LearnerSnapshot): boolean {
    const k = this.opts.features;
    if (s.mean?.length !== k || s.w?.length !== k + 1) return false;
    this.n = s.n;
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
