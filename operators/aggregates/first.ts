import { z } from 'zod';
import type { Accumulator, AggregateFactory } from './types.js';
import { VigieError } from '../../src/errors.js';

export const fn = 'first';

export const schema = z
  .strictObject({
    name: z.string().min(1).describe('Key of this aggregate in the window result `values`. Unique within a pipeline.'),
    fn: z.literal(fn).describe('Aggregate function: `first`.'),
    field: z
      .string()
      .min(1)
      .describe(
        'Payload field. Strings, finite numbers and booleans are kept (booleans are reported as "true"/"false"); ' +
          'missing, null, NaN and structured values are ignored.',
      ),
  })
  .meta({
    description:
      'Value of `field` in the earliest event of the window by event time (ties broken by arrival order), ' +
      'whatever order events arrived in; null when no event carries a usable value.',
    examples: [{ name: 'first_status', fn: 'first', field: 'status' }],
  });

export type FirstConfig = z.infer<typeof schema>;

type Scalar = number | string | boolean;

const snapshotSchema = z.union([
  z.null(),
  z.strictObject({ time: z.number(), seq: z.number(), value: z.union([z.number(), z.string(), z.boolean()]) }),
]);

class First implements Accumulator {
  // undefined marks "nothing kept yet"; values are primitives, so keeping one allocates nothing.
  value: Scalar | undefined = undefined;
  time = 0;
  seq = 0;

  add(value: unknown, time: number, seq: number): void {
    // Scalars only: they are what a result can carry, and keeping one never pins an object in memory.
    if (typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) {
      this.offer(value, time, seq);
    }
  }

  private offer(value: Scalar, time: number, seq: number): void {
    if (this.value === undefined || time < this.time || (time === this.time && seq < this.seq)) {
      this.value = value;
      this.time = time;
      this.seq = seq;
    }
  }

  merge(other: Accumulator): void {
    if (!(other instanceof First)) throw new TypeError(`first: cannot merge a ${other.constructor.name}`);
    if (other.value !== undefined) this.offer(other.value, other.time, other.seq);
  }

  result(): number | string | null {
    const v = this.value;
    if (v === undefined) return null;
    return typeof v === 'boolean' ? (v ? 'true' : 'false') : v;
  }

  snapshot(): { time: number; seq: number; value: Scalar } | null {
    return this.value === undefined ? null : { time: this.time, seq: this.seq, value: this.value };
  }
}

/**
 * Value of a field in the earliest event of a window.
 *
 * @example
 * { name: first_status, fn: first, field: status }
 */
export function create(spec: FirstConfig): AggregateFactory {
  const { name, field } = spec;
  return Object.freeze({
    name,
    fn,
    field,
    create: (): Accumulator => new First(),
    restore(snapshot: unknown): Accumulator {
      const parsed = snapshotSchema.safeParse(snapshot);
      if (!parsed.success) {
        throw new VigieError('VIGIE_ERR_SNAPSHOT', `invalid first snapshot for aggregate "${name}": ${z.prettifyError(parsed.error)}`);
      }
      const acc = new First();
      if (parsed.data !== null) {
        acc.value = parsed.data.value;
        acc.time = parsed.data.time;
        acc.seq = parsed.data.seq;
      }
      return acc;
    },
  });
}
