import { z } from 'zod';
import type { Accumulator, AggregateFactory } from './types.js';
import { VigieError } from '../../src/errors.js';

export const fn = 'max';

export const schema = z
  .strictObject({
    name: z.string().min(1).describe('Key of this aggregate in the window result `values`. Unique within a pipeline.'),
    fn: z.literal(fn).describe('Aggregate function: `max`.'),
    field: z
      .string()
      .min(1)
      .describe('Payload field. Values that are not finite numbers (strings, null, NaN, missing) are ignored.'),
  })
  .meta({
    description: 'Largest finite numeric value of `field` in the window; null when there is none.',
    examples: [{ name: 'max_latency', fn: 'max', field: 'latency_ms' }],
  });

export type MaxConfig = z.infer<typeof schema>;

const snapshotSchema = z.strictObject({ value: z.number().nullable() });

class Max implements Accumulator {
  // -Infinity doubles as "nothing added": only finite values are stored, so no separate flag to maintain.
  value = -Infinity;

  add(value: unknown, _time: number, _seq: number): void {
    if (typeof value === 'number' && Number.isFinite(value) && value > this.value) this.value = value;
  }

  merge(other: Accumulator): void {
    if (!(other instanceof Max)) throw new TypeError(`max: cannot merge a ${other.constructor.name}`);
    if (other.value > this.value) this.value = other.value;
  }

  result(): number | null {
    return this.value === -Infinity ? null : this.value;
  }

  snapshot(): { value: number | null } {
    return { value: this.result() };
  }
}

/**
 * Largest value of a numeric field over a window.
 *
 * @example
 * { name: max_latency, fn: max, field: latency_ms }
 */
export function create(spec: MaxConfig): AggregateFactory {
  const { name, field } = spec;
  return Object.freeze({
    name,
    fn,
    field,
    create: (): Accumulator => new Max(),
    restore(snapshot: unknown): Accumulator {
      const parsed = snapshotSchema.safeParse(snapshot);
      if (!parsed.success) {
        throw new VigieError('VIGIE_ERR_SNAPSHOT', `invalid max snapshot for aggregate "${name}": ${z.prettifyError(parsed.error)}`);
      }
      const acc = new Max();
      acc.value = parsed.data.value ?? -Infinity;
      return acc;
    },
  });
}
