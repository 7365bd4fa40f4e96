import { z } from 'zod';
import type { Accumulator, AggregateFactory } from './types.js';
import { VigieError } from '../../src/errors.js';

export const fn = 'count';

export const schema = z
  .strictObject({
    name: z.string().min(1).describe('Key of this aggregate in the window result `values`. Unique within a pipeline.'),
    fn: z.literal(fn).describe('Aggregate function: `count`.'),
    field: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Payload field. When given, only events where the field is present and not null are counted ' +
          '(like SQL `COUNT(field)`). When omitted, every event of the window is counted.',
      ),
  })
  .meta({
    description: 'Number of events in the window (or of events carrying `field`). 0 for an empty window.',
    examples: [
      { name: 'events', fn: 'count' },
      { name: 'logins_with_user', fn: 'count', field: 'user' },
    ],
  });

export type CountConfig = z.infer<typeof schema>;

const snapshotSchema = z.strictObject({ n: z.number().int().nonnegative() });

/** Counts every add. The no-field case gets its own class so `add` carries no per-event branch on config. */
class Count implements Accumulator {
  n = 0;

  add(_value: unknown, _time: number, _seq: number): void {
    this.n++;
  }

  merge(other: Accumulator): void {
    if (!(other instanceof Count)) throw new TypeError(`count: cannot merge a ${other.constructor.name}`);
    this.n += other.n;
  }

  result(): number {
    return this.n;
  }

  snapshot(): { n: number } {
    return { n: this.n };
  }
}

/** Counts adds whose value is present: missing and null mean "no value", as in SQL. */
class CountPresent extends Count {
  override add(value: unknown, _time: number, _seq: number): void {
    if (value !== undefined && value !== null) this.n++;
  }
}

/**
 * Count events in a window, or the events carrying a field.
 *
 * @example
 * { name: events, fn: count }
 */
export function create(spec: CountConfig): AggregateFactory {
  const { name, field } = spec;
  const make = field === undefined ? () => new Count() : () => new CountPresent();
  return Object.freeze({
    name,
    fn,
    field,
    create: make,
    restore(snapshot: unknown): Accumulator {
      const parsed = snapshotSchema.safeParse(snapshot);
      if (!parsed.success) {
        throw new VigieError('VIGIE_ERR_SNAPSHOT', `invalid count snapshot for aggregate "${name}": ${z.prettifyError(parsed.error)}`);
      }
      const acc = make();
      acc.n = parsed.data.n;
      return acc;
    },
  });
}
