import { z } from 'zod';
import { HyperLogLog } from './hll.js';
import type { Accumulator, AggregateFactory } from './types.js';
import { VigieError } from '../../src/errors.js';

export const fn = 'distinct';

export const schema = z
  .strictObject({
    name: z.string().min(1).describe('Key of this aggregate in the window result `values`. Unique within a pipeline.'),
    fn: z.literal(fn).describe('Aggregate function: `distinct`.'),
    field: z
      .string()
      .min(1)
      .describe(
        'Payload field whose distinct values are counted. Strings, finite numbers and booleans are counted, ' +
          'each type apart (the number 1 and the string "1" are two values); missing, null, NaN and structured values are ignored.',
      ),
    exactLimit: z
      .number()
      .int()
      .min(0)
      .max(1_000_000)
      .default(1000)
      .describe(
        'Up to this many distinct values the count is exact (the values are kept in a set). One more switches the ' +
          'window to a HyperLogLog sketch of fixed size: the count becomes an estimate and memory stops growing.',
      ),
    precision: z
      .number()
      .int()
      .min(4)
      .max(16)
      .default(14)
      .describe(
        'HyperLogLog precision p: the sketch has 2^p one-byte registers and a relative standard error of ' +
          '1.04 / sqrt(2^p): 0.81% at 14 (16 KiB per window), 1.63% at 12 (4 KiB), 3.25% at 10 (1 KiB). ' +
          'Only used once a window exceeds `exactLimit`.',
      ),
  })
  .meta({
    description:
      'Number of distinct values of `field` in the window: exact up to `exactLimit`, then a HyperLogLog estimate ' +
      '(relative standard error 1.04 / sqrt(2^precision)). 0 for an empty window.',
    examples: [
      { name: 'distinct_users', fn: 'distinct', field: 'user' },
      { name: 'distinct_ips', fn: 'distinct', field: 'ip', exactLimit: 100, precision: 12 },
    ],
  });

export type DistinctConfig = z.infer<typeof schema>;

/** A value counted by `distinct`: the raw payload value, kept as is in exact mode. */
type Scalar = string | number | boolean;

const snapshotSchema = z.union([
  // z.number() rejects NaN and infinities, which add() never keeps.
  z.strictObject({ set: z.array(z.union([z.string(), z.number(), z.boolean()])) }),
  z.strictObject({ hll: z.instanceof(Uint8Array), p: z.number().int() }),
]);

/**
 * The string hashed into the sketch: type-prefixed, so 1, "1" and true stay three values there too.
 * Only built when a value reaches the sketch, never in exact mode.
 */
function typedKey(value: Scalar): string {
  if (typeof value === 'string') return 's:' + value;
  if (typeof value === 'number') return 'n:' + value;
  return value ? 'b:true' : 'b:false';
}

/**
 * Up to this many values are kept in a plain array searched linearly. Most windows of a keyed
 * aggregation hold a handful of values, and a small array costs a fraction of a Set to create and fill
 * (a Set allocates its hash table up front); past this size the Set's O(1) lookup wins.
 */
const SMALL = 16;

class Distinct implements Accumulator {
  // Exactly one of the three holds the values: `small` (a few), then `set`, then the sketch `hll`.
  // Raw values: `includes` and a Set both use SameValueZero, which tells 1 from "1", so the hot path
  // builds no key strings.
  small: Scalar[] | null = [];
  set: Set<Scalar> | null = null;
  hll: HyperLogLog | null = null;

  constructor(
    readonly exactLimit: number,
    readonly precision: number,
  ) {}

  add(value: unknown, _time: number, _seq: number): void {
    if (typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) {
      this.addValue(value);
    }
  }

  /** Count a value already known to be a string, a finite number or a boolean. */
  addValue(value: Scalar): void {
    const small = this.small;
    if (small !== null) {
      if (small.includes(value)) return;
      small.push(value);
      if (small.length > this.exactLimit) this.promote();
      else if (small.length > SMALL) {
        this.set = new Set(small);
        this.small = null;
      }
      return;
    }
    const set = this.set;
    if (set === null) {
      (this.hll as HyperLogLog).addString(typedKey(value));
      return;
    }
    set.add(value);
    if (set.size > this.exactLimit) this.promote();
  }

  /** The exact values, when exact. */
  private values(): Iterable<Scalar> | null {
    return this.small ?? this.set;
  }

  /** Switch to the sketch: every value seen so far goes into it, so nothing is lost. */
  promote(): void {
    const hll = new HyperLogLog(this.precision);
    const values = this.values();
    if (values !== null) for (const value of values) hll.addString(typedKey(value));
    this.hll = hll;
    this.set = null;
    this.small = null;
  }

  merge(other: Accumulator): void {
    if (!(other instanceof Distinct)) throw new TypeError(`distinct: cannot merge a ${other.constructor.name}`);
    const values = other.values();
    if (values !== null) {
      for (const value of values) this.addValue(value);
      return;
    }
    if (other.precision !== this.precision) {
      throw new VigieError('VIGIE_ERR_SNAPSHOT', `distinct: cannot merge sketches of precision ${other.precision} and ${this.precision}`);
    }
    if (this.hll === null) this.promote();
    (this.hll as HyperLogLog).merge(other.hll as HyperLogLog);
  }

  result(): number {
    if (this.small !== null) return this.small.length;
    if (this.set !== null) return this.set.size;
    // A count: the estimate is rounded (linear counting gives e.g. 1.00003 for one value).
    return Math.round((this.hll as HyperLogLog).estimate());
  }

  snapshot(): { set: Scalar[] } | { hll: Uint8Array; p: number } {
    // Raw values: msgpack keeps strings, numbers and booleans apart, so the types survive a checkpoint.
    const values = this.values();
    if (values !== null) return { set: [...values] };
    // registers() is a copy: the live registers keep changing after the snapshot is taken.
    return { hll: (this.hll as HyperLogLog).registers(), p: this.precision };
  }
}

/**
 * Count distinct values of a field over a window: exact up to a bound, then a HyperLogLog estimate.
 *
 * @example
 * { name: distinct_users, fn: distinct, field: user, exactLimit: 1000, precision: 14 }
 */
export function create(spec: DistinctConfig): AggregateFactory {
  const { name, field, exactLimit, precision } = spec;
  return Object.freeze({
    name,
    fn,
    field,
    create: (): Accumulator => new Distinct(exactLimit, precision),
    restore(snapshot: unknown): Accumulator {
      const parsed = snapshotSchema.safeParse(snapshot);
      if (!parsed.success) {
        throw new VigieError('VIGIE_ERR_SNAPSHOT', `invalid distinct snapshot for aggregate "${name}": ${z.prettifyError(parsed.error)}`);
      }
      const acc = new Distinct(exactLimit, precision);
      const data = parsed.data;
      if ('set' in data) {
        // addValue rather than a bulk copy: a snapshot taken under a larger exactLimit promotes here.
        for (const value of data.set) acc.addValue(value);
        return acc;
      }
      if (data.p !== precision || data.hll.length !== 2 ** precision) {
        throw new VigieError(
          'VIGIE_ERR_SNAPSHOT',
          `invalid distinct snapshot for aggregate "${name}": sketch of precision ${data.p} ` +
            `(${data.hll.length} registers), configured precision is ${precision}`,
        );
      }
      try {
        acc.hll = HyperLogLog.fromRegisters(precision, data.hll);
      } catch (err) {
        throw new VigieError('VIGIE_ERR_SNAPSHOT', `invalid distinct snapshot for aggregate "${name}": ${(err as Error).message}`, { cause: err });
      }
      acc.set = null;
      acc.small = null;
      return acc;
    },
  });
}
