import { z } from 'zod';
import type { Accumulator, AggregateFactory } from './types.js';
import { VigieError } from '../../src/errors.js';

export const fn = 'sum';

export const schema = z
  .strictObject({
    name: z.string().min(1).describe('Key of this aggregate in the window result `values`. Unique within a pipeline.'),
    fn: z.literal(fn).describe('Aggregate function: `sum`.'),
    field: z
      .string()
      .min(1)
      .describe('Payload field to add up. Values that are not finite numbers (strings, null, NaN, missing) are ignored.'),
  })
  .meta({
    description: 'Sum of the finite numeric values of `field` in the window. 0 for a window without any.',
    examples: [{ name: 'total_amount', fn: 'sum', field: 'amount' }],
  });

export type SumConfig = z.infer<typeof schema>;

// Any JS number: a sum may legitimately have overflowed to ±Infinity (zod's z.number() rejects it).
const anyNumber = z.custom<number>((v) => typeof v === 'number', 'expected a number');
const snapshotSchema = z.strictObject({ sum: anyNumber, comp: anyNumber });

class Sum implements Accumulator {
  // Neumaier compensated summation: a window can hold millions of values and the error of a naive
  // sum grows with their number; two more flops per add keep it at a few ulps, without allocating.
  sum = 0;
  comp = 0;

  add(value: unknown, _time: number, _seq: number): void {
    if (typeof value === 'number' && Number.isFinite(value)) this.accumulate(value);
  }

  private accumulate(x: number): void {
    const t = this.sum + x;
    this.comp += Math.abs(this.sum) >= Math.abs(x) ? this.sum - t + x : x - t + this.sum;
    this.sum = t;
  }

  merge(other: Accumulator): void {
    if (!(other instanceof Sum)) throw new TypeError(`sum: cannot merge a ${other.constructor.name}`);
    this.accumulate(other.sum);
    this.comp += other.comp;
  }

  result(): number {
    // Once the sum overflows, the compensation is Infinity - Infinity = NaN: report the overflow instead.
    return Number.isFinite(this.sum) ? this.sum + this.comp : this.sum;
  }

  snapshot(): { sum: number; comp: number } {
    return { sum: this.sum, comp: this.comp };
  }
}

/**
 * Sum a numeric field over a window.
 *
 * @example
 * { name: total_amount, fn: sum, field: amount }
 */
export function create(spec: SumConfig): AggregateFactory {
  const { name, field } = spec;
  return Object.freeze({
    name,
    fn,
    field,
    create: (): Accumulator => new Sum(),
    restore(snapshot: unknown): Accumulator {
      const parsed = snapshotSchema.safeParse(snapshot);
      if (!parsed.success) {
        throw new VigieError('VIGIE_ERR_SNAPSHOT', `invalid sum snapshot for aggregate "${name}": ${z.prettifyError(parsed.error)}`);
      }
      const acc = new Sum();
      acc.sum = parsed.data.sum;
      acc.comp = parsed.data.comp;
      return acc;
    },
  });
}
