import { DDSketch } from '@datadog/sketches-js';
import { z } from 'zod';
import type { Accumulator, AggregateFactory } from './types.js';
import { VigieError } from '../../src/errors.js';

export const fn = 'quantile';

export const schema = z
  .strictObject({
    name: z.string().min(1).describe('Key of this aggregate in the window result `values`. Unique within a pipeline.'),
    fn: z.literal(fn).describe('Aggregate function: `quantile`.'),
    field: z
      .string()
      .min(1)
      .describe('Payload field. Values that are not finite numbers (strings, null, NaN, missing) are ignored.'),
    q: z
      .number()
      .min(0)
      .max(1)
      .describe(
        'Quantile to report, in [0, 1]: 0.5 is the median, 0.99 the 99th percentile. The target is the value of ' +
          'rank floor(q * (n - 1)) in sorted order (no interpolation); ranks 0 and n - 1 are exact (the min and max).',
      ),
    relativeAccuracy: z
      .number()
      .gt(0)
      .lt(1)
      .default(0.01)
      .describe(
        'Relative accuracy alpha of the DDSketch: the reported value v is within alpha * |x| of the true quantile x ' +
          '(0.01: within 1%). Memory grows with log(max / min) / alpha buckets (about 460 buckets to cover ' +
          '1 ms to 10 s at 0.01), independently of the number of values.',
      ),
  })
  .meta({
    description:
      'Approximate quantile of the finite numeric values of `field` in the window, from a DDSketch with a relative ' +
      'error guarantee; null when there is none.',
    examples: [
      { name: 'p99_latency', fn: 'quantile', field: 'latency_ms', q: 0.99 },
      { name: 'median_amount', fn: 'quantile', field: 'amount', q: 0.5, relativeAccuracy: 0.02 },
    ],
  });

export type QuantileConfig = z.infer<typeof schema>;

/** Non-empty bins of one DDSketch store, as parallel arrays (keys ascending). */
interface Bins {
  keys: number[];
  counts: number[];
}

interface QuantileSnapshot {
  alpha: number;
  pos: Bins;
  neg: Bins;
  zero: number;
  min: number;
  max: number;
  sum: number;
}

const binsSchema = z
  .strictObject({ keys: z.array(z.number().int()), counts: z.array(z.number().positive()) })
  .refine((b) => b.keys.length === b.counts.length, 'keys and counts must have the same length');
const anyNumber = z.custom<number>((v) => typeof v === 'number', 'expected a number');
const snapshotSchema = z.union([
  z.null(),
  z.strictObject({
    alpha: z.number(),
    pos: binsSchema,
    neg: binsSchema,
    zero: z.number().nonnegative(),
    min: z.number(),
    max: z.number(),
    sum: anyNumber,
  }),
]);

type Store = DDSketch['store'];

function binsOf(store: Store): Bins {
  const keys: number[] = [];
  const counts: number[] = [];
  const bins = store.bins;
  for (let i = 0; i < bins.length; i++) {
    if (bins[i] > 0) {
      keys.push(i + store.offset);
      counts.push(bins[i]);
    }
  }
  return { keys, counts };
}

/**
 * Bin-by-bin copy through the store's own `add(key, weight)`. Bins are copied by key, not re-inserted
 * as representative values, so a restored or merged sketch holds exactly the same bins.
 */
function addBins(into: Store, keys: readonly number[], counts: readonly number[]): void {
  for (let i = 0; i < keys.length; i++) into.add(keys[i], counts[i]);
}

function addStore(into: Store, from: Store): void {
  if (from.count === 0) return;
  const bins = from.bins;
  for (let i = 0; i < bins.length; i++) if (bins[i] > 0) into.add(i + from.offset, bins[i]);
}

class Quantile implements Accumulator {
  readonly sketch: DDSketch;

  constructor(
    private readonly q: number,
    readonly alpha: number,
  ) {
    this.sketch = new DDSketch({ relativeAccuracy: alpha });
  }

  add(value: unknown, _time: number, _seq: number): void {
    if (typeof value === 'number' && Number.isFinite(value)) this.sketch.accept(value);
  }

  /**
   * Not DDSketch#merge: in @datadog/sketches-js 2.1.1 it skips the negative-value store (while still adding
   * its count, which shifts every rank), and its range extension mishandles a maximum key of 0 (values
   * near 1). Copying bins through DenseStore#add avoids both and is exact.
   */
  merge(other: Accumulator): void {
    if (!(other instanceof Quantile)) throw new TypeError(`quantile: cannot merge a ${other.constructor.name}`);
    if (other.alpha !== this.alpha) {
      throw new VigieError('VIGIE_ERR_SNAPSHOT', `quantile: cannot merge sketches of relative accuracy ${other.alpha} and ${this.alpha}`);
    }
    const a = this.sketch;
    const b = other.sketch;
    if (b.count === 0) return;
    addStore(a.store, b.store);
    addStore(a.negativeStore, b.negativeStore);
    a.zeroCount += b.zeroCount;
    a.count += b.count;
    a.sum += b.sum;
    if (b.min < a.min) a.min = b.min;
    if (b.max > a.max) a.max = b.max;
  }

  result(): number | null {
    const s = this.sketch;
    if (s.count === 0) return null;
    // The sketch's target is the value of rank floor(q (n - 1)); the two end ranks are known exactly.
    const rank = Math.floor(this.q * (s.count - 1));
    if (rank <= 0) return s.min;
    if (rank >= s.count - 1) return s.max;
    const v = s.getValueAtQuantile(this.q);
    // The true quantile lies in [min, max], so clamping can only move the estimate closer to it.
    return v < s.min ? s.min : v > s.max ? s.max : v;
  }

  snapshot(): QuantileSnapshot | null {
    const s = this.sketch;
    if (s.count === 0) return null;
    return {
      alpha: this.alpha,
      pos: binsOf(s.store),
      neg: binsOf(s.negativeStore),
      zero: s.zeroCount,
      min: s.min,
      max: s.max,
      sum: s.sum,
    };
  }
}

/**
 * Approximate quantile of a numeric field over a window (DDSketch, relative error `relativeAccuracy`).
 *
 * @example
 * { name: p99_latency, fn: quantile, field: latency_ms, q: 0.99, relativeAccuracy: 0.01 }
 */
export function create(spec: QuantileConfig): AggregateFactory {
  const { name, field, q, relativeAccuracy } = spec;
  return Object.freeze({
    name,
    fn,
    field,
    create: (): Accumulator => new Quantile(q, relativeAccuracy),
    restore(snapshot: unknown): Accumulator {
      const parsed = snapshotSchema.safeParse(snapshot);
      if (!parsed.success) {
        throw new VigieError('VIGIE_ERR_SNAPSHOT', `invalid quantile snapshot for aggregate "${name}": ${z.prettifyError(parsed.error)}`);
      }
      const acc = new Quantile(q, relativeAccuracy);
      const data = parsed.data;
      if (data === null) return acc;
      // Bins are only meaningful for the mapping they were built with.
      if (data.alpha !== relativeAccuracy) {
        throw new VigieError(
          'VIGIE_ERR_SNAPSHOT',
          `invalid quantile snapshot for aggregate "${name}": relative accuracy ${data.alpha}, configured ${relativeAccuracy}`,
        );
      }
      const s = acc.sketch;
      addBins(s.store, data.pos.keys, data.pos.counts);
      addBins(s.negativeStore, data.neg.keys, data.neg.counts);
      s.zeroCount = data.zero;
      s.count = s.store.count + s.negativeStore.count + data.zero;
      s.min = data.min;
      s.max = data.max;
      s.sum = data.sum;
      return acc;
    },
  });
}
