import { z } from 'zod';
import type { VEvent } from '../src/types.js';
import { formatNumber, isoTime } from './alert.js';
import { positiveDurationSchema } from '../src/time/duration.js';
import { evidenceRef } from '../src/types.js';
import { KeyedEventCore, commonFields, directedStrength, matchSchema, numberField, plural } from './common.js';
import type { DetectorContext, DetectorCore, Emit } from './types.js';
import { VigieError } from '../src/errors.js';

export const type = 'outlier';

/** MAD / 0.6745 estimates the standard deviation of normal data. */
const MAD_TO_SD = 0.6745;
/** Mean absolute deviation * 1.253314 (sqrt(pi / 2)) estimates the standard deviation of normal data. */
const MEAN_AD_TO_SD = 1.253314;

/**
 * Outlier: a numeric field far from the key's own history: a payment far above what this customer
 * usually pays, a withdrawal far below its usual size. Each value is judged against the key's history
 * *before* it is added, then added (outliers included).
 * Example: `{ name: amount-outlier, type: outlier, field: amount, history: 50, value: 5 }`
 *
 * - `mad` (default): robust z-score z = (x - median) / scale over the key's last `history` values, with
 *   scale = MAD / 0.6745 (i.e. z = 0.6745 (x - median) / MAD). When the MAD is 0 (more than half the
 *   history is one value), scale = mean absolute deviation from the median * 1.253314. When that is 0
 *   too (a constant history), there is no spread to measure a distance with: the event is not judged
 *   (no signal, no score) unless `minScale` gives a floor. `minScale` floors the scale in every case.
 * - `ewma`: z = (x - mean) / sd with an exponentially weighted mean and variance (weight `alpha` for the
 *   newest value; the first values are averaged evenly, weight 1/n, until 1/n falls below `alpha`, so the
 *   early estimates are not biased towards the first value).
 * - Warm-up: no judgement before the key has `minHistory` values. The bound: z >= value (`up`),
 *   z <= -value (`down`), |z| >= value (`both`).
 */
export const schema = z.strictObject({
  ...commonFields,
  type: z.literal(type),
  field: z.string().min(1).describe('Numeric field judged (events without a finite number in it are ignored).'),
  method: z
    .enum(['mad', 'ewma'])
    .default('mad')
    .describe('`mad`: robust z-score against the median and median absolute deviation of the last `history` values; `ewma`: z-score against an exponentially weighted mean and variance.'),
  transform: z
    .enum(['none', 'log'])
    .default('none')
    .describe('`log`: judge the logarithm of the value (amounts, durations: skewed and multiplicative, where "ten times the usual" is the question); values <= 0 are then ignored.'),
  history: z.number().int().min(3).default(50).describe('`mad`: how many of the key\'s most recent values the median and MAD are computed over.'),
  alpha: z.number().gt(0).lt(1).default(0.1).describe('`ewma`: weight of the newest value in the moving mean and variance (0 < alpha < 1).'),
  minHistory: z.number().int().min(2).default(10).describe('Warm-up: values of the key needed before its events are judged (with `mad`, at most `history`).'),
  direction: z
    .enum(['up', 'down', 'both'])
    .default('up')
    .describe('`up`: signal values far above the usual; `down`: far below; `both`: either.'),
  value: z.number().finite().positive().default(5).describe('Bound on |z|: how many (robust) standard deviations from the usual value make an outlier.'),
  minScale: z
    .number()
    .finite()
    .min(0)
    .default(0)
    .describe('Least scale (standard deviation, in the field\'s unit) distances are measured against, e.g. 1 for amounts: lets a key with a constant history be judged.'),
  match: matchSchema.optional().describe('Judge (and learn from) only events matching these conditions.'),
  forgetAfter: positiveDurationSchema.default(2_592_000_000).describe('Forget the history of a key idle for this long (event time); it starts a new warm-up.'),
}).superRefine((c, ctx) => {
  if (c.method === 'mad' && c.minHistory > c.history) {
    ctx.addIssue({
      code: 'custom',
      path: ['minHistory'],
      message: `minHistory (${c.minHistory}) is larger than history (${c.history}), so no event would ever be judged: lower minHistory to at most ${c.history}, or raise history`,
    });
  }
});

export type Config = z.infer<typeof schema>;

interface KeyState {
  /** Time of the key's last judged event. */
  last: number;
  /** Values seen (`ewma`; `mad` uses `values.length`). */
  n: number;
  /** `mad`: ring buffer of the last `history` values; `pos` is the oldest once full. */
  values: number[];
  pos: number;
  /** `mad`: the same values in ascending order, kept in step with `values` (not saved: rebuilt on restore). */
  sorted: number[];
  /** `ewma`: moving mean and variance. */
  mean: number;
  variance: number;
}

type KeySnap = [number, number, number, number[], number, number];

/** Time of a key's last judged event (its state is forgotten `forgetAfter` later). */
const lastSeen = (st: KeyState): number => st.last;

/** What a value is judged against. */
interface Judgement {
  z: number;
  expected: number;
  scale: number;
  /** How the scale was obtained (for explanations). */
  basis: 'mad' | 'mean-ad' | 'sd' | 'floor';
  count: number;
}

function medianOfSorted(a: readonly number[]): number {
  const m = a.length >> 1;
  return a.length % 2 === 1 ? a[m] : (a[m - 1] + a[m]) / 2;
}

const ascending = (a: number, b: number): number => a - b;

/** First index of `a` (ascending) whose value is not below `x`. */
function lowerBound(a: readonly number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index of `a` (ascending) whose value is above `x`. */
function upperBound(a: readonly number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Replace `out` (one occurrence) by `x` in the ascending `a`, moving the values between their places by
 * one (no sort, no allocation).
 */
function replaceSorted(a: number[], out: number, x: number): void {
  let i = lowerBound(a, out);
  if (x > out) {
    for (; i + 1 < a.length && a[i + 1] < x; i++) a[i] = a[i + 1];
  } else {
    for (; i > 0 && a[i - 1] > x; i--) a[i] = a[i - 1];
  }
  a[i] = x;
}

/** Insert `x` in the ascending `a`. */
function insertSorted(a: number[], x: number): void {
  let i = a.length;
  a.push(x);
  for (; i > 0 && a[i - 1] > x; i--) a[i] = a[i - 1];
  a[i] = x;
}

/**
 * The absolute deviations |v - center| of an ascending list come in ascending order by merging two runs:
 * those of the values below `center` grow leftwards from where it falls, those of the others rightwards.
 * A cursor over that merge: `next()` gives the next smallest deviation, without building the list.
 */
class Deviations {
  private i = 0;
  private j = 0;
  private a: readonly number[] = [];
  private center = 0;

  reset(a: readonly number[], center: number): void {
    this.a = a;
    this.center = center;
    this.j = lowerBound(a, center);
    this.i = this.j - 1;
  }

  next(): number {
    const { a, center, i, j } = this;
    if (j >= a.length || (i >= 0 && Math.abs(a[i] - center) <= Math.abs(a[j] - center))) {
      this.i = i - 1;
      return Math.abs(a[i] - center);
    }
    this.j = j + 1;
    return Math.abs(a[j] - center);
  }
}

const deviations = new Deviations();

/** Median of the absolute deviations from `center` of an ascending list (the MAD when `center` is its median). */
function medianDeviation(a: readonly number[], center: number): number {
  const m = a.length >> 1;
  deviations.reset(a, center);
  let below = 0;
  for (let k = 0; k < m; k++) below = deviations.next();
  const at = deviations.next();
  return a.length % 2 === 1 ? at : (below + at) / 2;
}

/** Sum of the absolute deviations from `center`, added smallest first (as over the sorted deviations). */
function sumDeviations(a: readonly number[], center: number): number {
  deviations.reset(a, center);
  let sum = 0;
  for (let k = 0; k < a.length; k++) sum += deviations.next();
  return sum;
}

export class OutlierCore extends KeyedEventCore<KeyState, Config> implements DetectorCore {

  add(key: string, e: VEvent, emit: Emit): void {
    const cfg = this.cfg;
    if (!this.matches(e.payload)) return;
    const x = numberField(e, cfg.field);
    if (x === undefined) return;
    const log = cfg.transform === 'log';
    if (log && !(x > 0)) return;
    const v = log ? Math.log(x) : x;
    const t = e.time;
    let st = this.state.touch(key);
    // A key idle for longer than forgetAfter is what `advance` drops: start it afresh here too, so that
    // the outcome does not depend on how often the watermark moved in between.
    if (st === undefined || st.last < t - cfg.forgetAfter) {
      st = { last: t, n: 0, values: [], pos: 0, sorted: [], mean: 0, variance: 0 };
      this.state.set(key, st);
    }
    st.last = t;
    const j = this.judge(st, v);
    this.learn(st, v);
    if (j === undefined) return;
    const { z, scale } = j;
    // Reported in the field's unit: on a log scale the usual value is the geometric one.
    const expected = log ? Math.exp(j.expected) : j.expected;
    const anomalous = cfg.direction === 'up' ? z >= cfg.value : cfg.direction === 'down' ? z <= -cfg.value : Math.abs(z) >= cfg.value;
    // The score follows the direction judged: with `up`, an unusually small value scores below a usual one.
    const directed = cfg.direction === 'up' ? z : cfg.direction === 'down' ? -z : Math.abs(z);
    emit.judged(key, t, x, directed, directedStrength(cfg.direction, z, cfg.value), anomalous);
    if (!anomalous) return;
    const ref = evidenceRef(e);
    const sign = z >= 0 ? 1 : -1;
    const robust = cfg.method === 'mad' ? 'robust standard deviations' : 'standard deviations';
    const basis =
      cfg.method === 'mad'
        ? `median of its last ${plural(j.count, 'value')}`
        : `exponentially weighted mean of ${plural(j.count, 'value')}, alpha ${formatNumber(cfg.alpha)}`;
    const scaleText =
      j.basis === 'floor'
        ? `scale floored at minScale ${formatNumber(scale)}`
        : j.basis === 'mean-ad'
          ? `scale ${formatNumber(scale)} from the mean absolute deviation, the MAD being 0`
          : `scale ${formatNumber(scale)}`;
    emit.signal({
      key,
      time: t,
      identity: `event:${ref}`,
      revision: 0,
      window: null,
      observed: x,
      threshold: log ? Math.exp(j.expected + sign * cfg.value * scale) : expected + sign * cfg.value * scale,
      score: Number((Math.abs(z) / cfg.value).toFixed(6)),
      explanation:
        `${cfg.name}: ${cfg.field} ${formatNumber(x)} for ${this.ctx.keyLabel} ${key} at ${isoTime(t)} is ${Math.abs(z).toFixed(1)} ${robust}${log ? ' (log scale)' : ''} ` +
        `${sign > 0 ? 'above' : 'below'} its usual ${formatNumber(expected)} (${basis}; ${scaleText}; bound ${formatNumber(cfg.value)}).`,
      evidence: [ref],
      details: { method: cfg.method, transform: cfg.transform, z, expected, scale, history: j.count, direction: cfg.direction },
    });
  }

  /** The value against the key's history as it is (undefined in warm-up or without spread). */
  private judge(st: KeyState, x: number): Judgement | undefined {
    const cfg = this.cfg;
    let expected: number;
    let scale: number;
    let basis: Judgement['basis'];
    let count: number;
    if (cfg.method === 'mad') {
      count = st.values.length;
      if (count < cfg.minHistory) return undefined;
      // The sorted copy is kept in step with the ring buffer: no sort per event.
      const sorted = st.sorted;
      expected = medianOfSorted(sorted);
      const mad = medianDeviation(sorted, expected);
      if (mad > 0) {
        scale = mad / MAD_TO_SD;
        basis = 'mad';
      } else {
        scale = (sumDeviations(sorted, expected) / count) * MEAN_AD_TO_SD;
        basis = 'mean-ad';
      }
    } else {
      count = st.n;
      if (count < cfg.minHistory) return undefined;
      expected = st.mean;
      scale = Math.sqrt(st.variance);
      basis = 'sd';
    }
    if (scale < cfg.minScale) {
      scale = cfg.minScale;
      basis = 'floor';
    }
    if (!(scale > 0)) return undefined;
    return { z: (x - expected) / scale, expected, scale, basis, count };
  }

  private learn(st: KeyState, x: number): void {
    if (this.cfg.method === 'mad') {
      if (st.values.length < this.cfg.history) {
        st.values.push(x);
        insertSorted(st.sorted, x);
      } else {
        replaceSorted(st.sorted, st.values[st.pos], x);
        st.values[st.pos] = x;
        st.pos = (st.pos + 1) % this.cfg.history;
      }
      return;
    }
    // Weight 1/n while it exceeds alpha: the plain mean and (population) variance of the first values.
    const a = Math.max(this.cfg.alpha, 1 / (st.n + 1));
    const diff = x - st.mean;
    const incr = a * diff;
    st.mean += incr;
    st.variance = (1 - a) * (st.variance + diff * incr);
    st.n++;
  }

  advance(w: number): void {
    const horizon = w - this.cfg.forgetAfter;
    this.state.expireBefore(lastSeen, horizon);
  }


  protected encode(s: KeyState): KeySnap {
    return [s.last, s.n, s.pos, s.values.slice(), s.mean, s.variance];
  }

  protected decode(v: unknown): KeyState {
    const s = v as KeySnap;
    if (!Array.isArray(s) || s.length !== 6 || !Array.isArray(s[3]) || s.some((x, i) => i !== 3 && typeof x !== 'number')) {
      throw new VigieError('VIGIE_ERR_SNAPSHOT', `${this.perKey.what}: bad snapshot entry`);
    }
    const [last, n, pos, values, mean, variance] = s;
    if (!Number.isInteger(pos) || pos < 0 || (pos > 0 && pos >= values.length)) throw new VigieError('VIGIE_ERR_SNAPSHOT', `${this.perKey.what}: bad snapshot entry`);
    const h = this.cfg.history;
    if (values.length === h || (pos === 0 && values.length < h)) return { last, n, pos, values: values.slice(), sorted: values.slice().sort(ascending), mean, variance };
    // `history` changed since the checkpoint: the values oldest first, the most recent `history` of them.
    const ordered = [...values.slice(pos), ...values.slice(0, pos)].slice(-h);
    return { last, n, pos: 0, values: ordered, sorted: ordered.slice().sort(ascending), mean, variance };
  }
}

export function create(config: Config, ctx: DetectorContext): DetectorCore {
  return new OutlierCore(config, ctx);
}
