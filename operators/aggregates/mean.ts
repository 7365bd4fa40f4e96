import { z } from 'zod';
import type { Accumulator, AggregateFactory } from './types.js';
import { VigieError } from '../../src/errors.js';

export const fn = 'mean';

export const schema = z
  .strictObject({
    name: z.string().min(1).describe('Key of this aggregate in the window result `values`. Unique within a pipeline.'),
    fn: z.literal(fn).describe('Aggregate function: `mean`.'),
    field: z
      .string()
      .min(1)
      .describe('Payload field to average. Values that are not finite numbers (strings, null, NaN, missing) are ignored.'),
  })
  .meta({
    description: 'Arithmetic mean of the finite numeric values of `field` in the window; null when there is none.',
    examples: [{ name: 'avg_latency', fn: 'mean', field: 'latency_ms' }],
  });

export type MeanConfig = z.infer<typeof schema>;

const anyNumber = z.custom<number>((v) => typeof v === 'number', 'expected a number');
const snapshotSchema = z.strictObject({ n: z.number().int().nonnegative(), sum: anyNumber, comp: anyNumber });

class Mean implements Accumulator {
  // Count + compensated (Neumaier) sum rather than a running Welford mean: no division per add,
  // an error that does not grow with n, and a merge that is just two additions.
  n = 0;
  sum = 0;
  comp = 0;

  add(value: unknown, _time: number, _seq: number): void {
    if (typeof value === 'number' && Number.isFinite(value)) {
      this.n++;
      this.accumulate(value);
    }
  }

  private accumulate(x: number): void {
    const t = this.sum + x;
    this.comp += Math.abs(this.sum) >= Math.abs(x) ? this.sum - t + x : x - t + this.sum;
    this.sum = t;
  }

  merge(other: Accumulator): void {
    if (!(other instanceof Mean)) throw new TypeError(`mean: cannot merge a ${other.constructor.name}`);
    this.n += other.n;
    this.accumulate(other.sum);
    this.comp += other.comp;
  }

  result(): number | null {
    if (this.n === 0) return null;
    // Past overflow the compensation is NaN; the (infinite) sum still says what happened.
    return (Number.isFinite(this.sum) ? this.sum + this.comp : this.sum) / this.n;
  }

  snapshot(): { n: number; sum: number; comp: number } {
    return { n: this.n, sum: this.sum, comp: this.comp };
  }
}

/**
 * Mean of a numeric field over a window.
 *
 * @example
 * { name: avg_latency, fn: mean, field: latency_ms }
 */
export function create(spec: MeanConfig): AggregateFactory {
  const { name, field } = spec;
  return Object.freeze({
    name,
    fn,
    field,
    create: (): Accumulator => new Mean(),
    restore(snapshot: unknown): Accumulator {
      const parsed = snapshotSchema.safeParse(snapshot);
      if (!parsed.success) {
        throw new VigieError('VIGIE_ERR_SNAPSHOT', `invalid mean snapshot for aggregate "${name}": ${z.prettifyError(parsed.error)}`);
      }
      const acc = new Mean();
      acc.n = parsed.data.n;
      acc.sum = parsed.data.sum;
      acc.comp = parsed.data.comp;
      return acc;
    },
  });
}
