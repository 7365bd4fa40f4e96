import fc from 'fast-check';
import { pack, unpack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import * as count from '../../operators/aggregates/count.js';
import * as distinct from '../../operators/aggregates/distinct.js';
import {
  AGGREGATES,
  aggregateSchema,
  buildRegistry,
  createAggregate,
  createAggregates,
  type AggregateConfig,
} from '../../operators/aggregates/index.js';
import * as sum from '../../operators/aggregates/sum.js';
import type { Accumulator, AggregateFactory } from '../../operators/aggregates/types.js';

interface Entry {
  value: unknown;
  time: number;
  seq: number;
}

function factory(config: Record<string, unknown>): AggregateFactory {
  return createAggregate(aggregateSchema.parse(config));
}

function fill(f: AggregateFactory, entries: readonly Entry[]): Accumulator {
  const acc = f.create();
  for (const e of entries) acc.add(e.value, e.time, e.seq);
  return acc;
}

function entriesOf(values: readonly unknown[]): Entry[] {
  return values.map((value, i) => ({ value, time: 1000 + i, seq: i }));
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Relative closeness with an absolute floor, for results computed in a different order. */
function close(a: number | string | null, b: number | string | null, scale: number): boolean {
  if (a === null || b === null || typeof a === 'string' || typeof b === 'string') return a === b;
  return Math.abs(a - b) <= 1e-9 * Math.max(scale, 1);
}

// ---- naive references ----
const naive = {
  sum: (xs: number[]) => xs.reduce((a, b) => a + b, 0),
  min: (xs: number[]) => (xs.length === 0 ? null : Math.min(...xs)),
  max: (xs: number[]) => (xs.length === 0 ? null : Math.max(...xs)),
  mean: (xs: number[]) => (xs.length === 0 ? null : naive.sum(xs) / xs.length),
  stddev(xs: number[], sample = false): number | null {
    const n = xs.length;
    if (n - (sample ? 1 : 0) <= 0) return null;
    const m = naive.sum(xs) / n;
    const ss = xs.reduce((a, x) => a + (x - m) * (x - m), 0);
    return Math.sqrt(ss / (sample ? n - 1 : n));
  },
};

/** Payload-like junk mixed with numbers: aggregates must skip everything that is not a finite number. */
const junk = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.constant(Number.NaN),
  fc.constant(Infinity),
  fc.constant(-Infinity),
  fc.string({ maxLength: 3 }),
  fc.boolean(),
  fc.constant({}),
  fc.constant([1]),
);
const smallInt = fc.integer({ min: -1000, max: 1000 });
const double = fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true });
const mixedValues = fc.array(fc.oneof(smallInt, double, junk), { maxLength: 60 });

/** Entries with unique seq and colliding times, in any arrival order. */
const entriesArb = fc
  .array(fc.record({ value: fc.oneof(smallInt, double, junk, fc.string({ maxLength: 2 })), time: fc.integer({ min: 0, max: 20 }) }), {
    maxLength: 60,
  })
  .map((rows) => rows.map((r, i) => ({ value: r.value, time: r.time, seq: i })));

describe('count', () => {
  it('counts every event without a field, present values with one', () => {
    const values = [1, undefined, null, 'x', 0, false, undefined];
    expect(fill(factory({ name: 'c', fn: 'count' }), entriesOf(values)).result()).toBe(7);
    expect(fill(factory({ name: 'c', fn: 'count', field: 'f' }), entriesOf(values)).result()).toBe(4);
    expect(factory({ name: 'c', fn: 'count' }).create().result()).toBe(0);
    expect(factory({ name: 'c', fn: 'count' }).field).toBeUndefined();
    expect(factory({ name: 'c', fn: 'count', field: 'f' }).field).toBe('f');
  });
});

describe('numeric aggregates vs naive computation', () => {
  it('sum, min, max, mean, stddev match a naive computation and ignore non-numbers', () => {
    fc.assert(
      fc.property(mixedValues, (values) => {
        const xs = values.filter(isNum);
        const entries = entriesOf(values);
        const scale = xs.reduce((a, x) => a + Math.abs(x), 0);
        const r = (config: Record<string, unknown>) => fill(factory(config), entries).result();
        expect(close(r({ name: 's', fn: 'sum', field: 'f' }), naive.sum(xs), scale)).toBe(true);
        expect(r({ name: 'a', fn: 'min', field: 'f' })).toBe(naive.min(xs));
        expect(r({ name: 'b', fn: 'max', field: 'f' })).toBe(naive.max(xs));
        expect(close(r({ name: 'm', fn: 'mean', field: 'f' }), naive.mean(xs), scale)).toBe(true);
        expect(close(r({ name: 'd', fn: 'stddev', field: 'f' }), naive.stddev(xs), scale)).toBe(true);
        expect(close(r({ name: 'd', fn: 'stddev', field: 'f', sample: true }), naive.stddev(xs, true), scale)).toBe(true);
      }),
    );
  });

  it('empty: sum and count are 0, the others null', () => {
    const empty: Record<string, number | null> = {
      count: 0,
      sum: 0,
      min: null,
      max: null,
      mean: null,
      stddev: null,
      distinct: 0,
      first: null,
      last: null,
      quantile: null,
    };
    for (const [fn, expected] of Object.entries(empty)) {
      const config = { name: 'x', fn, field: 'f', ...(fn === 'quantile' ? { q: 0.5 } : {}) };
      expect(factory(config).create().result(), fn).toBe(expected);
    }
  });

  it('ignores everything that is not a finite number', () => {
    const values = ['5', null, undefined, Number.NaN, Infinity, -Infinity, {}, [3], true, 10n];
    const entries = entriesOf(values);
    expect(fill(factory({ name: 's', fn: 'sum', field: 'f' }), entries).result()).toBe(0);
    for (const fn of ['min', 'max', 'mean', 'stddev']) {
      expect(fill(factory({ name: 'x', fn, field: 'f' }), entries).result(), fn).toBeNull();
    }
    expect(fill(factory({ name: 'q', fn: 'quantile', field: 'f', q: 0.5 }), entries).result()).toBeNull();
  });

  it('sum is compensated: 1e16 + many ones does not lose the ones', () => {
    const values = [1e16, ...Array.from({ length: 1000 }, () => 1), -1e16];
    expect(fill(factory({ name: 's', fn: 'sum', field: 'f' }), entriesOf(values)).result()).toBe(1000);
    expect(fill(factory({ name: 'm', fn: 'mean', field: 'f' }), entriesOf(values)).result()).toBeCloseTo(1000 / 1002, 12);
  });

  it('sample stddev needs two values', () => {
    const f = factory({ name: 'd', fn: 'stddev', field: 'f', sample: true });
    expect(fill(f, entriesOf([3])).result()).toBeNull();
    expect(fill(f, entriesOf([3, 5])).result()).toBeCloseTo(Math.SQRT2, 12);
    expect(fill(factory({ name: 'd', fn: 'stddev', field: 'f' }), entriesOf([3])).result()).toBe(0);
  });

  it('stddev stays accurate with a large common offset (1e9 + small noise)', () => {
    // A deterministic LCG: noise in [-0.5, 0.5).
    let state = 42;
    const noise = () => {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      return state / 2 ** 32 - 0.5;
    };
    const deltas = Array.from({ length: 100_000 }, noise);
    const values = deltas.map((d) => 1e9 + d);
    // Reference: two-pass on the deltas themselves, with no offset to cancel.
    const expected = naive.stddev(deltas) as number;
    const f = factory({ name: 'd', fn: 'stddev', field: 'f' });
    const whole = fill(f, entriesOf(values)).result() as number;
    expect(Math.abs(whole - expected) / expected).toBeLessThan(1e-6);
    // Same through merges of uneven parts.
    const a = fill(f, entriesOf(values.slice(0, 7)));
    const b = fill(f, entriesOf(values.slice(7, 60_000)));
    const c = fill(f, entriesOf(values.slice(60_000)));
    a.merge(b);
    a.merge(c);
    expect(Math.abs((a.result() as number) - expected) / expected).toBeLessThan(1e-6);
    // The textbook sum-of-squares formula gets this badly wrong, which is why Welford is used.
    const n = values.length;
    const s1 = naive.sum(values);
    const s2 = values.reduce((acc, x) => acc + x * x, 0);
    const textbook = Math.sqrt(Math.max(0, s2 / n - (s1 / n) ** 2));
    expect(Math.abs(textbook - expected) / expected).toBeGreaterThan(0.01);
  });
});

describe('first / last', () => {
  const naiveFirstLast = (entries: Entry[], which: 'first' | 'last') => {
    const kept = entries.filter((e) => typeof e.value === 'string' || typeof e.value === 'boolean' || isNum(e.value));
    if (kept.length === 0) return null;
    kept.sort((a, b) => a.time - b.time || a.seq - b.seq);
    const v = (which === 'first' ? kept[0] : kept[kept.length - 1]).value;
    return typeof v === 'boolean' ? String(v) : (v as number | string);
  };

  it('picks the value of the smallest / largest (time, seq), whatever the arrival order', () => {
    fc.assert(
      fc.property(entriesArb, fc.boolean(), (entries, reverse) => {
        const arrival = reverse ? [...entries].reverse() : entries;
        expect(fill(factory({ name: 'a', fn: 'first', field: 'f' }), arrival).result()).toBe(naiveFirstLast(entries, 'first'));
        expect(fill(factory({ name: 'b', fn: 'last', field: 'f' }), arrival).result()).toBe(naiveFirstLast(entries, 'last'));
      }),
    );
  });

  it('reports booleans as strings and ignores undefined, null and objects', () => {
    const entries: Entry[] = [
      { value: undefined, time: 1, seq: 0 },
      { value: null, time: 2, seq: 1 },
      { value: { a: 1 }, time: 3, seq: 2 },
      { value: true, time: 4, seq: 3 },
      { value: 'x', time: 5, seq: 4 },
      { value: false, time: 6, seq: 5 },
      { value: undefined, time: 7, seq: 6 },
    ];
    expect(fill(factory({ name: 'a', fn: 'first', field: 'f' }), entries).result()).toBe('true');
    expect(fill(factory({ name: 'b', fn: 'last', field: 'f' }), entries).result()).toBe('false');
  });

  it('breaks time ties by seq', () => {
    const entries: Entry[] = [
      { value: 'b', time: 10, seq: 2 },
      { value: 'a', time: 10, seq: 1 },
      { value: 'c', time: 10, seq: 3 },
    ];
    expect(fill(factory({ name: 'a', fn: 'first', field: 'f' }), entries).result()).toBe('a');
    expect(fill(factory({ name: 'b', fn: 'last', field: 'f' }), entries).result()).toBe('c');
  });
});

describe('merge(a, b) equals adding everything to one accumulator', () => {
  const configs: Record<string, unknown>[] = [
    { name: 'c', fn: 'count' },
    { name: 'cf', fn: 'count', field: 'f' },
    { name: 's', fn: 'sum', field: 'f' },
    { name: 'a', fn: 'min', field: 'f' },
    { name: 'b', fn: 'max', field: 'f' },
    { name: 'm', fn: 'mean', field: 'f' },
    { name: 'd', fn: 'stddev', field: 'f' },
    { name: 'ds', fn: 'stddev', field: 'f', sample: true },
    { name: 'f1', fn: 'first', field: 'f' },
    { name: 'l1', fn: 'last', field: 'f' },
    { name: 'u', fn: 'distinct', field: 'f', exactLimit: 1_000_000 },
  ];
  for (const config of configs) {
    it(`${config.fn}${config.field ? '' : ' (no field)'}${config.sample ? ' (sample)' : ''}`, () => {
      const f = factory(config);
      fc.assert(
        fc.property(entriesArb, fc.nat(), fc.nat(), (entries, i, j) => {
          const k1 = entries.length === 0 ? 0 : i % (entries.length + 1);
          const k2 = entries.length === 0 ? 0 : k1 + (j % (entries.length - k1 + 1));
          const whole = fill(f, entries).result();
          const a = fill(f, entries.slice(0, k1));
          const b = fill(f, entries.slice(k1, k2));
          const c = fill(f, entries.slice(k2));
          b.merge(c);
          a.merge(b);
          const xs = entries.map((e) => e.value).filter(isNum);
          const scale = xs.reduce((acc, x) => acc + Math.abs(x), 0);
          expect(close(a.result(), whole, scale), `${String(a.result())} vs ${String(whole)}`).toBe(true);
        }),
      );
    });
  }

  it('merge leaves the other accumulator unchanged', () => {
    const f = factory({ name: 'u', fn: 'distinct', field: 'f', exactLimit: 3 });
    const a = fill(f, entriesOf(['a', 'b']));
    const b = fill(f, entriesOf(['c', 'd', 'e', 'f']));
    const before = b.snapshot();
    a.merge(b);
    expect(b.snapshot()).toEqual(before);
  });

  it('refuses to merge accumulators of another aggregate', () => {
    const s = factory({ name: 's', fn: 'sum', field: 'f' }).create();
    const m = factory({ name: 'm', fn: 'min', field: 'f' }).create();
    expect(() => s.merge(m)).toThrow(/sum: cannot merge/);
  });
});

describe('distinct', () => {
  const se = (p: number) => 1.04 / Math.sqrt(2 ** p);

  it('counts values by type: 1, "1" and true are three values', () => {
    const f = factory({ name: 'u', fn: 'distinct', field: 'f' });
    expect(fill(f, entriesOf([1, '1', 1, '1', true, 'true', 1.0, null, undefined, Number.NaN, {}])).result()).toBe(4);
  });

  it('keeps 1 and "1" apart in exact mode and in the sketch', () => {
    const values = entriesOf([1, '1', 1, '1', 1.0, 'x']);
    const exact = fill(factory({ name: 'u', fn: 'distinct', field: 'f' }), values);
    expect(exact.result()).toBe(3);
    // Exact snapshots hold the raw values, and their types survive msgpack.
    expect(exact.snapshot()).toEqual({ set: [1, '1', 'x'] });
    expect(unpack(pack(exact.snapshot()))).toEqual({ set: [1, '1', 'x'] });
    // In the sketch they hash as type-prefixed keys ("n:1" and "s:1"): two registers, two values.
    const sketch = fill(factory({ name: 'u', fn: 'distinct', field: 'f', exactLimit: 0 }), entriesOf([1, '1', 1, '1', 1.0]));
    expect(sketch.snapshot()).toHaveProperty('hll');
    expect(sketch.result()).toBe(2);
    const { hll } = sketch.snapshot() as { hll: Uint8Array };
    expect(hll.filter((r) => r !== 0)).toHaveLength(2);
    // Same when the exact set is promoted by one more value.
    const promoted = fill(factory({ name: 'u', fn: 'distinct', field: 'f', exactLimit: 2 }), entriesOf([1, '1', true]));
    expect(promoted.snapshot()).toHaveProperty('hll');
    expect(promoted.result()).toBe(3);
  });

  it('restore rejects malformed exact and sketch snapshots', () => {
    const f = factory({ name: 'u', fn: 'distinct', field: 'f', precision: 4 });
    for (const bad of [{ set: [null] }, { set: [{}] }, { set: [Number.NaN] }, { set: ['a'], extra: 1 }, { hll: [1, 2], p: 4 }]) {
      expect(() => f.restore(bad), JSON.stringify(bad)).toThrow(/invalid distinct snapshot for aggregate "u"/);
    }
    // A register above the largest possible rank (32 - p + 1) cannot come from a real sketch.
    expect(() => f.restore({ hll: new Uint8Array(16).fill(30), p: 4 })).toThrow(/invalid distinct snapshot for aggregate "u".*register 0/);
  });

  it('is exact up to exactLimit, then switches to the sketch with every value seen', () => {
    const f = factory({ name: 'u', fn: 'distinct', field: 'f', exactLimit: 1000 });
    const acc = f.create();
    for (let i = 0; i < 1000; i++) acc.add(`v${i}`, i, i);
    acc.add('v0', 0, 0);
    expect(acc.result()).toBe(1000);
    expect(acc.snapshot()).toHaveProperty('set');
    acc.add('v1000', 1000, 1000);
    const snap = acc.snapshot() as { hll: Uint8Array; p: number };
    expect(snap.p).toBe(14);
    expect(snap.hll).toBeInstanceOf(Uint8Array);
    expect(snap.hll.length).toBe(2 ** 14);
    // At this load the estimate is linear counting over 16384 registers: very close.
    expect(Math.abs((acc.result() as number) - 1001)).toBeLessThanOrEqual(1001 * 3 * se(14));
  });

  it('estimates 100k distinct values within 3 standard errors', () => {
    const f = factory({ name: 'u', fn: 'distinct', field: 'f' });
    const acc = f.create();
    const n = 100_000;
    for (let i = 0; i < n; i++) acc.add(i % 2 === 0 ? `user-${i}` : i, i, i);
    // Repeats change nothing.
    for (let i = 0; i < 1000; i++) acc.add(`user-${i * 2}`, i, i);
    expect(Math.abs((acc.result() as number) - n) / n).toBeLessThan(3 * se(14));
  });

  // Regression: the hyperloglog32 1.0.0 package used before only ever wrote rank 1 in its add(), so its
  // estimate saturated around 1.44 * 2^p (23 634 for a million values at p = 14).
  it('does not saturate: 1M values at p = 12', () => {
    const f = factory({ name: 'u', fn: 'distinct', field: 'f', precision: 12 });
    const acc = f.create();
    const n = 1_000_000;
    for (let i = 0; i < n; i++) acc.add(i, i, i);
    expect(Math.abs((acc.result() as number) - n) / n).toBeLessThan(3 * se(12));
  });

  it('sets the register chosen by MurmurHash3 of the type-prefixed UTF-16LE key', () => {
    // murmur3_x86_32(utf16le("s:hello"), seed 0) = 75753316, checked against the murmurhash-js reference.
    const hash = 75753316;
    const p = 14;
    const acc = factory({ name: 'u', fn: 'distinct', field: 'f', exactLimit: 0, precision: p }).create();
    acc.add('hello', 0, 0);
    const { hll } = acc.snapshot() as { hll: Uint8Array };
    const nonZero = [...hll.entries()].filter(([, v]) => v !== 0);
    expect(nonZero).toEqual([[hash >>> (32 - p), Math.clz32(hash << p) + 1]]);
    expect(acc.result()).toBe(1);
  });

  it('merges set + set, set + sketch and sketch + sketch as a union', () => {
    const f = factory({ name: 'u', fn: 'distinct', field: 'f', exactLimit: 100 });
    const range = (from: number, to: number) => entriesOf(Array.from({ length: to - from }, (_, i) => `k${from + i}`));
    // Exact while the union stays under the bound.
    const a = fill(f, range(0, 60));
    a.merge(fill(f, range(30, 90)));
    expect(a.result()).toBe(90);
    expect(a.snapshot()).toHaveProperty('set');
    // Crossing the bound in a merge switches to the sketch.
    a.merge(fill(f, range(80, 150)));
    expect(a.snapshot()).toHaveProperty('hll');
    expect(Math.abs((a.result() as number) - 150)).toBeLessThanOrEqual(150 * 3 * se(14));
    // set + sketch and sketch + set agree with a single accumulator.
    const big = 20_000;
    const whole = fill(f, range(0, big)).result() as number;
    const s1 = fill(f, range(0, 50));
    s1.merge(fill(f, range(50, big)));
    const s2 = fill(f, range(50, big));
    s2.merge(fill(f, range(0, 50)));
    const h = fill(f, range(0, big / 2));
    h.merge(fill(f, range(big / 2, big)));
    expect(s1.result()).toBe(whole);
    expect(s2.result()).toBe(whole);
    expect(h.result()).toBe(whole);
    expect(Math.abs(whole - big) / big).toBeLessThan(3 * se(14));
  });

  it('restores a sketch snapshot of another precision with a clear error', () => {
    const acc = factory({ name: 'u', fn: 'distinct', field: 'f', exactLimit: 0, precision: 10 }).create();
    acc.add('x', 0, 0);
    const other = factory({ name: 'u', fn: 'distinct', field: 'f', precision: 12 });
    expect(() => other.restore(acc.snapshot())).toThrow(/precision 10/);
  });
});

describe('quantile', () => {
  /** The target the sketch approximates: the value of rank floor(q (n - 1)), no interpolation. */
  const exact = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.floor(q * (xs.length - 1))];

  const valuesArb = fc.array(
    fc.oneof(
      fc.double({ min: 1e-3, max: 1e6, noNaN: true }),
      fc.double({ min: -1e4, max: -1e-3, noNaN: true }),
      fc.constant(0),
      fc.integer({ min: -100, max: 100 }),
    ),
    { minLength: 1, maxLength: 300 },
  );

  it('is within the relative accuracy of the exact quantile, merged or not', () => {
    fc.assert(
      fc.property(valuesArb, fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(0.01, 0.05), fc.nat(), (xs, q, alpha, cut) => {
        const f = factory({ name: 'q', fn: 'quantile', field: 'f', q, relativeAccuracy: alpha });
        const truth = exact(xs, q);
        const bound = alpha * Math.abs(truth) + 1e-12;
        const whole = fill(f, entriesOf(xs)).result() as number;
        expect(Math.abs(whole - truth)).toBeLessThanOrEqual(bound);
        const k = cut % (xs.length + 1);
        const a = fill(f, entriesOf(xs.slice(0, k)));
        a.merge(fill(f, entriesOf(xs.slice(k))));
        expect(Math.abs((a.result() as number) - truth)).toBeLessThanOrEqual(bound);
      }),
    );
  });

  it('holds on 100k log-normal-ish values for several quantiles', () => {
    let state = 7;
    const rand = () => {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      return (state + 0.5) / 2 ** 32;
    };
    const xs = Array.from({ length: 100_000 }, () => Math.exp(6 * rand()) * (rand() < 0.1 ? -1 : 1));
    for (const q of [0, 0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 1]) {
      const v = fill(factory({ name: 'q', fn: 'quantile', field: 'f', q }), entriesOf(xs)).result() as number;
      const truth = exact(xs, q);
      expect(Math.abs(v - truth), `q=${q}`).toBeLessThanOrEqual(0.01 * Math.abs(truth));
    }
  });

  it('q = 0 and q = 1 are the exact min and max', () => {
    const xs = [3.3, -7.1, 12.9, 0.4];
    expect(fill(factory({ name: 'q', fn: 'quantile', field: 'f', q: 0 }), entriesOf(xs)).result()).toBe(-7.1);
    expect(fill(factory({ name: 'q', fn: 'quantile', field: 'f', q: 1 }), entriesOf(xs)).result()).toBe(12.9);
  });

  // Regression: DDSketch#merge in @datadog/sketches-js 2.1.1 drops the other sketch's negative values
  // (but not their count) and mishandles a maximum bin key of 0 (values near 1).
  it('merges negative values and values near 1 correctly', () => {
    // 10 values: q = 0.25 targets rank 2 (-3).
    const f = factory({ name: 'q', fn: 'quantile', field: 'f', q: 0.25 });
    const pos = fill(f, entriesOf([1, 2, 3, 4, 5]));
    pos.merge(fill(f, entriesOf([-5, -4, -3, -2, -1])));
    expect(Math.abs((pos.result() as number) + 3)).toBeLessThanOrEqual(0.03);
    const fMax = factory({ name: 'q', fn: 'quantile', field: 'f', q: 1 });
    const low = fill(fMax, entriesOf([0.1, 0.2, 0.5]));
    low.merge(fill(fMax, entriesOf([0.9, 1])));
    expect(low.result()).toBe(1);
    // 7 values: q = 0.5 targets rank 3 (0.9), q = 0.8 rank 4 (1, in bin key 0).
    for (const [q, truth] of [
      [0.5, 0.9],
      [0.8, 1],
    ]) {
      const f2 = factory({ name: 'q', fn: 'quantile', field: 'f', q });
      const m = fill(f2, entriesOf([0.1, 0.2, 0.5]));
      m.merge(fill(f2, entriesOf([0.9, 1, 1, 1])));
      expect(Math.abs((m.result() as number) - truth), `q=${q}`).toBeLessThanOrEqual(0.01 * truth);
    }
  });
});

describe('snapshot / restore', () => {
  const cases: [Record<string, unknown>, unknown[]][] = [
    [{ name: 'c', fn: 'count' }, [1, 2, 3]],
    [{ name: 'cf', fn: 'count', field: 'f' }, [1, null, 3]],
    [{ name: 's', fn: 'sum', field: 'f' }, [1e16, 1, 1, -3.5]],
    [{ name: 'a', fn: 'min', field: 'f' }, [4, -2, 9]],
    [{ name: 'b', fn: 'max', field: 'f' }, [4, -2, 9]],
    [{ name: 'm', fn: 'mean', field: 'f' }, [1, 2, 4]],
    [{ name: 'd', fn: 'stddev', field: 'f', sample: true }, [1, 2, 4, 8]],
    [{ name: 'u', fn: 'distinct', field: 'f' }, ['a', 1, '1', true]],
    [{ name: 'uh', fn: 'distinct', field: 'f', exactLimit: 10, precision: 10 }, Array.from({ length: 500 }, (_, i) => i)],
    [{ name: 'q', fn: 'quantile', field: 'f', q: 0.9 }, [-3, 0, 0, 0.5, 1, 2, 1e6, ...Array.from({ length: 300 }, (_, i) => i * 1.7)]],
    [{ name: 'f1', fn: 'first', field: 'f' }, [true, 'x', 3]],
    [{ name: 'l1', fn: 'last', field: 'f' }, [true, 'x', 3]],
  ];

  for (const [config, values] of cases) {
    it(`${String(config.name)} (${String(config.fn)}): snapshot -> restore -> snapshot is equal, and so is the result`, () => {
      const f = factory(config);
      for (const acc of [f.create(), fill(f, entriesOf(values))]) {
        const snap = acc.snapshot();
        const restored = f.restore(snap);
        expect(restored.snapshot()).toEqual(snap);
        expect(restored.result()).toEqual(acc.result());
        // Checkpoints go through msgpack: the snapshot must survive it.
        const decoded = f.restore(unpack(pack(snap)));
        expect(decoded.snapshot()).toEqual(snap);
        expect(decoded.result()).toEqual(acc.result());
        // A restored accumulator keeps working.
        restored.add(values[0] ?? 1, 1e9, 1e9);
        acc.add(values[0] ?? 1, 1e9, 1e9);
        expect(restored.result()).toEqual(acc.result());
      }
    });
  }

  it('rejects a malformed snapshot with the aggregate name', () => {
    expect(() => factory({ name: 'total', fn: 'sum', field: 'f' }).restore({ n: 1 })).toThrow(/invalid sum snapshot for aggregate "total"/);
    expect(() => factory({ name: 'q', fn: 'quantile', field: 'f', q: 0.5 }).restore('x')).toThrow(/invalid quantile snapshot/);
  });
});

describe('registry and config', () => {
  it('buildRegistry throws on a duplicate fn', () => {
    expect(() => buildRegistry([count, sum, count])).toThrow(/duplicate fn "count"/);
    expect(Object.keys(buildRegistry([count, sum]))).toEqual(['count', 'sum']);
  });

  it('the registry and the config union list the same aggregates', () => {
    const unionFns = aggregateSchema.options.map((o) => o.shape.fn.value).sort();
    expect(Object.keys(AGGREGATES).sort()).toEqual(unionFns);
    expect(unionFns).toEqual(['count', 'distinct', 'first', 'last', 'max', 'mean', 'min', 'quantile', 'stddev', 'sum']);
  });

  it('every config field is documented', () => {
    for (const option of aggregateSchema.options) {
      for (const [key, field] of Object.entries(option.shape)) {
        expect((field as z.ZodType).description, `${option.shape.fn.value}.${key}`).toMatch(/\w/);
      }
    }
    expect(() => z.toJSONSchema(aggregateSchema)).not.toThrow();
  });

  it('validates configs: unknown fields, ranges, defaults', () => {
    expect(aggregateSchema.safeParse({ name: 's', fn: 'sum', field: 'f', extra: 1 }).success).toBe(false);
    expect(aggregateSchema.safeParse({ name: 's', fn: 'sum' }).success).toBe(false);
    expect(aggregateSchema.safeParse({ name: '', fn: 'count' }).success).toBe(false);
    expect(aggregateSchema.safeParse({ name: 'x', fn: 'nope' }).success).toBe(false);
    expect(aggregateSchema.safeParse({ name: 'q', fn: 'quantile', field: 'f', q: 1.5 }).success).toBe(false);
    expect(aggregateSchema.safeParse({ name: 'q', fn: 'quantile', field: 'f', q: 0.5, relativeAccuracy: 0 }).success).toBe(false);
    expect(aggregateSchema.safeParse({ name: 'u', fn: 'distinct', field: 'f', precision: 20 }).success).toBe(false);
    expect(aggregateSchema.parse({ name: 'u', fn: 'distinct', field: 'f' })).toEqual({
      name: 'u',
      fn: 'distinct',
      field: 'f',
      exactLimit: 1000,
      precision: 14,
    });
    expect(aggregateSchema.parse({ name: 'q', fn: 'quantile', field: 'f', q: 0.5 })).toMatchObject({ relativeAccuracy: 0.01 });
    expect(aggregateSchema.parse({ name: 'd', fn: 'stddev', field: 'f' })).toMatchObject({ sample: false });
  });

  it('createAggregates builds factories in order and rejects duplicate names', () => {
    const specs: AggregateConfig[] = [
      { name: 'events', fn: 'count' },
      { name: 'total', fn: 'sum', field: 'amount' },
    ];
    const factories = createAggregates(specs);
    expect(factories.map((f) => [f.name, f.fn, f.field])).toEqual([
      ['events', 'count', undefined],
      ['total', 'sum', 'amount'],
    ]);
    expect(() => createAggregates([...specs, { name: 'events', fn: 'max', field: 'x' }])).toThrow(
      'duplicate aggregate name "events" (aggregates #1 and #3): each aggregate of a pipeline needs its own name',
    );
  });

  it('createAggregate rejects an unknown fn at run time', () => {
    expect(() => createAggregate({ name: 'x', fn: 'toString' } as unknown as AggregateConfig)).toThrow(/unknown aggregate fn/);
  });

  it('module exports are consistent', () => {
    expect(distinct.fn).toBe('distinct');
    expect(distinct.create(distinct.schema.parse({ name: 'u', fn: 'distinct', field: 'f' })).fn).toBe('distinct');
  });
});
