import { createRequire } from 'node:module';
import { z } from 'zod';
import type { Accumulator, AggregateFactory } from './types.js';

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

/** The part of hyperloglog32's API used here (the package ships no types). */
interface HyperLogLog {
  count(): number;
  state(): Buffer;
  merge(other: Buffer): void;
}

// hyperloglog32 is CommonJS without type declarations: load it through require and give it the type above.
const createHyperLogLog = createRequire(import.meta.url)('hyperloglog32') as (precision: number) => HyperLogLog;

const snapshotSchema = z.union([
  z.strictObject({ set: z.array(z.string()) }),
  z.strictObject({ hll: z.instanceof(Uint8Array), p: z.number().int() }),
]);

/**
 * MurmurHash3 x86_32 (seed 0) of the string's UTF-16LE bytes, read straight from the char codes.
 *
 * Why not hyperloglog32's own `add`: in 1.0.0 its rank loop never runs (`hash & 0` is always 0), so every
 * touched register is set to 1 and the estimate saturates near 1.44 * 2^p (23 634 for 1M values at p = 14).
 * We hash and set registers ourselves and use the package for its register array, estimator and merge.
 */
function hash32(s: string): number {
  const len = s.length;
  let h = 0;
  let i = 0;
  for (; i + 1 < len; i += 2) {
    let k = s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  if (i < len) {
    let k = s.charCodeAt(i);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= len * 2;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

class Distinct implements Accumulator {
  // Exactly one of the two is set. Values are kept as type-prefixed strings, so a Set tells 1 from "1".
  set: Set<string> | null = new Set();
  hll: HyperLogLog | null = null;
  // hyperloglog32 keeps running totals that only its own add/merge update; after we write registers
  // directly they are stale until refreshed (see estimate()).
  stale = false;

  constructor(
    readonly exactLimit: number,
    readonly precision: number,
  ) {}

  add(value: unknown, _time: number, _seq: number): void {
    // One string per counted event is the price of a key that works for both the Set and the hash.
    let key: string;
    if (typeof value === 'string') key = 's:' + value;
    else if (typeof value === 'number') {
      if (!Number.isFinite(value)) return;
      key = 'n:' + value;
    } else if (typeof value === 'boolean') key = value ? 'b:true' : 'b:false';
    else return;
    this.addKey(key);
  }

  addKey(key: string): void {
    const set = this.set;
    if (set === null) {
      this.insert(key);
      return;
    }
    set.add(key);
    if (set.size > this.exactLimit) this.promote();
  }

  /** Switch to the sketch: every value seen so far goes into it, so nothing is lost. */
  promote(): void {
    const hll = createHyperLogLog(this.precision);
    this.hll = hll;
    const set = this.set;
    this.set = null;
    if (set !== null) for (const key of set) this.insert(key);
  }

  /** HyperLogLog register update: the top p bits pick the register, it keeps the max leading-zero rank of the rest. */
  insert(key: string): void {
    const hash = hash32(key);
    const p = this.precision;
    const rest = hash << p;
    const rank = rest === 0 ? 33 - p : Math.clz32(rest) + 1;
    const registers = (this.hll as HyperLogLog).state();
    const index = hash >>> (32 - p);
    if (rank > registers[index]) {
      registers[index] = rank;
      this.stale = true;
    }
  }

  merge(other: Accumulator): void {
    if (!(other instanceof Distinct)) throw new TypeError(`distinct: cannot merge a ${other.constructor.name}`);
    if (other.set !== null) {
      for (const key of other.set) this.addKey(key);
      return;
    }
    if (other.precision !== this.precision) {
      throw new Error(`distinct: cannot merge sketches of precision ${other.precision} and ${this.precision}`);
    }
    if (this.hll === null) this.promote();
    // Register-wise max; the package recomputes its running totals, so ours are fresh afterwards.
    (this.hll as HyperLogLog).merge((other.hll as HyperLogLog).state());
    this.stale = false;
  }

  result(): number {
    if (this.set !== null) return this.set.size;
    return this.estimate();
  }

  private estimate(): number {
    const hll = this.hll as HyperLogLog;
    if (this.stale) {
      // Merging the registers into themselves changes none of them but makes the package recompute its
      // totals: O(2^p), paid once per result rather than on every add.
      hll.merge(hll.state());
      this.stale = false;
    }
    return hll.count();
  }

  snapshot(): { set: string[] } | { hll: Uint8Array; p: number } {
    if (this.set !== null) return { set: [...this.set] };
    // A copy: the live registers keep changing after the snapshot is taken.
    return { hll: new Uint8Array((this.hll as HyperLogLog).state()), p: this.precision };
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
        throw new Error(`invalid distinct snapshot for aggregate "${name}": ${z.prettifyError(parsed.error)}`);
      }
      const acc = new Distinct(exactLimit, precision);
      const data = parsed.data;
      if ('set' in data) {
        // addKey rather than a bulk copy: a snapshot taken under a larger exactLimit promotes here.
        for (const key of data.set) acc.addKey(key);
        return acc;
      }
      if (data.p !== precision || data.hll.length !== 2 ** precision) {
        throw new Error(
          `invalid distinct snapshot for aggregate "${name}": sketch of precision ${data.p} ` +
            `(${data.hll.length} registers), configured precision is ${precision}`,
        );
      }
      acc.promote();
      // The package only accepts a Buffer here (a plain Uint8Array is taken for another sketch object).
      (acc.hll as HyperLogLog).merge(Buffer.from(data.hll));
      return acc;
    },
  });
}
