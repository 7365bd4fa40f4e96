import { z } from 'zod';
import type { Accumulator, AggregateFactory } from './types.js';
import { VigieError } from '../../src/errors.js';

export const fn = 'stddev';

export const schema = z
  .strictObject({
    name: z.string().min(1).describe('Key of this aggregate in the window result `values`. Unique within a pipeline.'),
    fn: z.literal(fn).describe('Aggregate function: `stddev`.'),
    field: z
      .string()
      .min(1)
      .describe('Payload field. Values that are not finite numbers (strings, null, NaN, missing) are ignored.'),
    sample: z
      .boolean()
      .default(false)
      .describe(
        'false: population standard deviation (divides by n). true: sample standard deviation (divides by n - 1; ' +
          'null until the window holds two values).',
      ),
  })
  .meta({
    description:
      'Standard deviation of the finite numeric values of `field` in the window; null when there is none. ' +
      "Computed with Welford's algorithm, so it stays accurate for values with a large common offset " +
      '(e.g. timestamps, 1e9 + small variations).',
    examples: [
      { name: 'latency_sd', fn: 'stddev', field: 'latency_ms' },
      { name: 'amount_sd', fn: 'stddev', field: 'amount', sample: true },
    ],
  });

export type StddevConfig = z.infer<typeof schema>;

const snapshotSchema = z.strictObject({
  n: z.number().int().nonnegative(),
  mean: z.number(),
  m2: z.number().nonnegative(),
});

class Stddev implements Accumulator {
  // Welford: running mean and sum of squared deviations (m2). The textbook sum-of-squares formula
  // cancels catastrophically when the spread is small relative to the values.
  n = 0;
  mean = 0;
  m2 = 0;

  constructor(private readonly sample: boolean) {}

  add(value: unknown, _time: number, _seq: number): void {
    if (typeof value !== 'number' || !Number.isFinite(value)) return;
    this.n++;
    const d = value - this.mean;
    this.mean += d / this.n;
    this.m2 += d * (value - this.mean);
  }

  /** Chan, Golub & LeVeque's pairwise update: exact for the combined set, up to rounding. */
  merge(other: Accumulator): void {
    if (!(other instanceof Stddev)) throw new TypeError(`stddev: cannot merge a ${other.constructor.name}`);
    if (other.n === 0) return;
    if (this.n === 0) {
      this.n = other.n;
      this.mean = other.mean;
      this.m2 = other.m2;
      return;
    }
    const n = this.n + other.n;
    const d = other.mean - this.mean;
    this.mean += d * (other.n / n);
    this.m2 += other.m2 + d * d * ((this.n * other.n) / n);
    this.n = n;
  }

  result(): number | null {
    const denominator = this.sample ? this.n - 1 : this.n;
    if (denominator <= 0) return null;
    // m2 cannot go negative: each update adds a product of two same-signed terms.
    return Math.sqrt(this.m2 / denominator);
  }

  snapshot(): { n: number; mean: number; m2: number } {
    return { n: this.n, mean: this.mean, m2: this.m2 };
  }
}

/**
 * Standard deviation (population or sample) of a numeric field over a window.
 *
 * @example
 * { name: latency_sd, fn: stddev, field: latency_ms, sample: false }
 */
export function create(spec: StddevConfig): AggregateFactory {
  const { name, field, sample } = spec;
  return Object.freeze({
    name,
    fn,
    field,
    create: (): Accumulator => new Stddev(sample),
    restore(snapshot: unknown): Accumulator {
      const parsed = snapshotSchema.safeParse(snapshot);
      if (!parsed.success) {
        throw new VigieError('VIGIE_ERR_SNAPSHOT', `invalid stddev snapshot for aggregate "${name}": ${z.prettifyError(parsed.error)}`);
      }
      const acc = new Stddev(sample);
      acc.n = parsed.data.n;
      acc.mean = parsed.data.mean;
      acc.m2 = parsed.data.m2;
      return acc;
    },
  });
}
