import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { schema, create } from '../../detectors/outlier.js';
import { collector, ctxOf, ev, refusals, runEvents, viaMsgpack } from '../helpers/detectors.js';
import type { VEvent } from '../../src/types.js';

const DAY = 86_400_000;
const cfg = (over: Record<string, unknown> = {}) => schema.parse({ name: 'amount-outlier', type: 'outlier', field: 'amount', ...over });

/** Events of one key with these amounts, one a minute from t0, ids `a<i>`. */
function amounts(values: number[], key = 'C1', t0 = 0): Array<[string, VEvent]> {
  return values.map((amount, i) => [key, ev(t0 + i * 60_000, { amount }, `a${i}`)]);
}

/** 50 payments around 96.5: 90..103 repeated. */
const usual = Array.from({ length: 50 }, (_, i) => 90 + ((i * 7) % 14));

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

describe('outlier detector', () => {
  it('signals a value far above the key\'s median, judged against the history before it', () => {
    const core = create(cfg(), ctxOf({ keyLabel: 'customer' }));
    const s = runEvents(core, amounts([...usual, 4820]));
    expect(s).toHaveLength(1);
    const med = median(usual);
    const mad = median(usual.map((v) => Math.abs(v - med)));
    const scale = mad / 0.6745;
    const z = (4820 - med) / scale;
    expect(s[0]).toMatchObject({ key: 'C1', time: 50 * 60_000, identity: 'event:a50', window: null, observed: 4820, evidence: ['a50'] });
    expect(s[0].threshold).toBeCloseTo(med + 5 * scale, 9);
    expect(s[0].score).toBeCloseTo(z / 5, 5);
    expect(s[0].details).toEqual({ method: 'mad', transform: 'none', z, expected: med, scale, history: 50, direction: 'up' });
    expect(s[0].explanation).toBe(
      `amount-outlier: amount 4820 for customer C1 at 1970-01-01T00:50:00.000Z is ${z.toFixed(1)} robust standard deviations above its usual ${med} ` +
        `(median of its last 50 values; scale ${Number(scale.toPrecision(6))}; bound 5).`,
    );
  });

  it('does not signal ordinary values, nor before the warm-up', () => {
    expect(runEvents(create(cfg(), ctxOf()), amounts([...usual, 104, 89, 100]))).toEqual([]);
    // 9 values: not judged yet; the 10th value is judged against 9, the 11th against 10
    expect(runEvents(create(cfg(), ctxOf()), amounts([...usual.slice(0, 9), 5000]))).toEqual([]);
    const s = runEvents(create(cfg(), ctxOf()), amounts([...usual.slice(0, 10), 5000]));
    expect(s.map((x) => x.details?.history)).toEqual([10]);
    const s2 = runEvents(create(cfg({ minHistory: 3 }), ctxOf()), amounts([100, 110, 90, 5000]));
    expect(s2.map((x) => x.details?.history)).toEqual([3]);
  });

  it('honours the direction', () => {
    const values = [...usual, 5000, 1];
    expect(runEvents(create(cfg(), ctxOf()), amounts(values)).map((x) => x.observed)).toEqual([5000]);
    const down = runEvents(create(cfg({ direction: 'down' }), ctxOf()), amounts(values));
    expect(down.map((x) => x.observed)).toEqual([1]);
    expect(down[0].explanation).toMatch(/robust standard deviations below its usual/);
    expect(down[0].threshold).toBeLessThan(down[0].details?.expected as number);
    expect(runEvents(create(cfg({ direction: 'both' }), ctxOf()), amounts(values)).map((x) => x.observed)).toEqual([5000, 1]);
  });

  it('uses the bound on |z| inclusively', () => {
    // a constant history with a floored scale of 2: z = (x - 100) / 2 exactly
    const base = Array.from({ length: 10 }, () => 100);
    const c = cfg({ value: 3, minScale: 2, direction: 'both' });
    const at = runEvents(create(c, ctxOf()), amounts([...base, 106]));
    expect(at.map((x) => [x.details?.z, x.score, x.threshold])).toEqual([[3, 1, 106]]);
    expect(runEvents(create(c, ctxOf()), amounts([...base, 94])).map((x) => [x.details?.z, x.threshold])).toEqual([[-3, 94]]);
    expect(runEvents(create(c, ctxOf()), amounts([...base, 105.99]))).toEqual([]);
    expect(runEvents(create(c, ctxOf()), amounts([...base, 94.01]))).toEqual([]);
  });

  it('falls back to the mean absolute deviation when the MAD is 0', () => {
    const hist = [100, 100, 100, 100, 100, 100, 100, 100, 99, 101];
    const s = runEvents(create(cfg(), ctxOf()), amounts([...hist, 110]));
    expect(s).toHaveLength(1);
    const scale = 0.2 * 1.253314;
    expect(s[0].details?.scale).toBeCloseTo(scale, 12);
    expect(s[0].details?.z).toBeCloseTo(10 / scale, 9);
    expect(s[0].explanation).toMatch(/from the mean absolute deviation, the MAD being 0/);
    expect(runEvents(create(cfg(), ctxOf()), amounts([...hist, 101]))).toEqual([]);
  });

  it('does not judge a constant history, unless minScale gives a floor', () => {
    const emit = collector();
    const flat = Array.from({ length: 12 }, () => 9.99);
    expect(runEvents(create(cfg({ scores: true }), ctxOf()), amounts([...flat, 5000]), emit)).toEqual([]);
    expect(emit.judgements).toEqual([]);
    const s = runEvents(create(cfg({ minScale: 1 }), ctxOf()), amounts([...flat, 5000, 10.5]));
    expect(s.map((x) => x.observed)).toEqual([5000]);
    expect(s[0].details).toMatchObject({ scale: 1, expected: 9.99 });
    expect(s[0].explanation).toMatch(/scale floored at minScale 1/);
  });

  it('keeps the last `history` values per key (ring buffer)', () => {
    // history 5: after 1..7 the history is 3..7 (median 5); 1000 then 3..7,8 (median 6)
    const c = cfg({ history: 5, minHistory: 5, value: 1, scores: true });
    const emit = collector();
    runEvents(create(c, ctxOf()), amounts([1, 2, 3, 4, 5, 6, 7, 1000, 8]), emit);
    const s = emit.signals;
    // the outlier 1000 hardly moves the median: 8 is judged against 4, 5, 6, 7, 1000 (median 6, MAD 1)
    expect(s.map((x) => [x.observed, x.details?.expected, x.details?.history])).toEqual([
      [6, 3, 5],
      [7, 4, 5],
      [1000, 5, 5],
      [8, 6, 5],
    ]);
    expect(emit.judgements.map((x) => x.observed)).toEqual([6, 7, 1000, 8]);
  });

  it('reports the score of every judged event (z for up), its strength z / value', () => {
    const on = collector();
    runEvents(create(cfg(), ctxOf()), amounts([...usual.slice(0, 12), 5000]), on);
    expect(on.judgements).toHaveLength(3);
    expect(on.judgements[2]).toMatchObject({ key: 'C1', time: 12 * 60_000, ref: 'a12', observed: 5000, anomalous: true });
    expect(on.judgements[2].score).toBeCloseTo(Math.abs(on.signals[0].details?.z as number), 12);
    expect(on.judgements[2].strength).toBeCloseTo(on.judgements[2].score / 5, 12);
    expect(on.judgements.slice(0, 2).every((x) => !x.anomalous && x.score < 5)).toBe(true);
    expect(on.signals).toHaveLength(1);
  });

  it('scores follow the direction judged: with up on a log scale, a tiny payment ranks below a usual one, a huge one above', () => {
    const history = [40, 55, 48, 62, 51, 45, 58, 50, 47, 53, 60, 44];
    const scoreOf = (direction: 'up' | 'down' | 'both', x: number) => {
      const emit = collector();
      runEvents(create(cfg({ direction, transform: 'log', scores: true }), ctxOf()), amounts([...history, x]), emit);
      return emit.judgements[emit.judgements.length - 1].score;
    };
    const usualScore = scoreOf('up', 50);
    expect(scoreOf('up', 0.5)).toBeLessThan(usualScore);
    expect(scoreOf('up', 5000)).toBeGreaterThan(usualScore);
    expect(scoreOf('down', 0.5)).toBeGreaterThan(scoreOf('down', 5000));
    expect(scoreOf('both', 0.5)).toBeCloseTo(-scoreOf('up', 0.5), 9);
  });

  it('judges only matching events with a finite number, keys apart', () => {
    const c = cfg({ match: { type: 'payment' } });
    const evs: Array<[string, VEvent]> = [];
    for (let i = 0; i < 10; i++) evs.push(['A', ev(2 * i, { type: 'payment', amount: usual[i] })], ['B', ev(2 * i + 1, { type: 'payment', amount: usual[i + 10] })]);
    evs.push(['A', ev(100, { type: 'refund', amount: 9999 })]);
    evs.push(['A', ev(101, { type: 'payment', amount: 'lots' })]);
    evs.push(['A', ev(102, { type: 'payment', amount: Infinity })]);
    evs.push(['B', ev(103, { type: 'payment', amount: 9999 })]);
    const s = runEvents(create(c, ctxOf()), evs);
    expect(s.map((x) => [x.key, x.observed, x.details?.history])).toEqual([['B', 9999, 10]]);
  });

  it('log transform: judges ratios to the usual (geometric) value, reports in the field\'s unit, ignores values <= 0', () => {
    // Values around 100 spread by a factor: on a log scale 1000 is as far above 100 as 10 is below.
    const base = [80, 125, 100, 90, 111, 100, 70, 143, 100, 100];
    const core = create(cfg({ transform: 'log', minHistory: 10, value: 5, direction: 'both' }), ctxOf());
    const s = runEvents(core, amounts([...base, 0, -5, 1000]));
    expect(s).toHaveLength(1);
    const logs = base.map(Math.log);
    const med = median(logs);
    const mad = median(logs.map((v) => Math.abs(v - med))) / 0.6745;
    const z = (Math.log(1000) - med) / mad;
    expect(s[0].observed).toBe(1000);
    expect(s[0].details).toMatchObject({ transform: 'log', expected: Math.exp(med) });
    expect(s[0].details?.z).toBeCloseTo(z, 12);
    expect(s[0].threshold).toBeCloseTo(Math.exp(med + 5 * mad), 9);
    expect(s[0].explanation).toMatch(/robust standard deviations \(log scale\) above its usual 100/);
    const low = create(cfg({ transform: 'log', minHistory: 10, value: 5, direction: 'both' }), ctxOf());
    expect(runEvents(low, amounts([...base, 10])).map((x) => x.details?.z as number)[0]).toBeCloseTo(-z, 9);
  });

  it('ewma: z against a moving mean and deviation, the first values averaged evenly', () => {
    const c = cfg({ method: 'ewma', minHistory: 5, alpha: 0.1 });
    // the first 5 values (weights 1/n >= alpha): mean 10, population variance 2
    const s = runEvents(create(c, ctxOf()), amounts([10, 12, 8, 11, 9, 10 + 5 * Math.SQRT2 + 0.01]));
    expect(s).toHaveLength(1);
    expect(s[0].details?.expected).toBeCloseTo(10, 12);
    expect(s[0].details?.scale).toBeCloseTo(Math.SQRT2, 12);
    expect(s[0].details).toMatchObject({ method: 'ewma', history: 5 });
    expect(s[0].explanation).toMatch(/is 5\.0 standard deviations above its usual 10 \(exponentially weighted mean of 5 values, alpha 0\.1; scale 1\.41421; bound 5\)\.$/);
    expect(runEvents(create(c, ctxOf()), amounts([10, 12, 8, 11, 9, 10 + 5 * Math.SQRT2 - 0.01]))).toEqual([]);
    // later values weigh alpha: after a level shift the mean follows, and the shifted level is no longer an outlier
    const shift = [...Array.from({ length: 30 }, (_, i) => 100 + (i % 3)), ...Array.from({ length: 60 }, (_, i) => 200 + (i % 3))];
    const s2 = runEvents(create(cfg({ method: 'ewma', value: 4 }), ctxOf()), amounts(shift));
    expect(s2.length).toBeGreaterThan(0);
    expect(s2.every((x) => x.time < 60 * 60_000)).toBe(true);
  });

  it('forgets idle keys after forgetAfter (a new warm-up), and caps keys', () => {
    const c = cfg({ forgetAfter: '1d', minHistory: 3 });
    const core = create(c, ctxOf());
    runEvents(core, amounts([100, 101, 99]));
    core.advance(2 * 60_000 + DAY + 1, collector());
    expect(core.stats()).toEqual({ keys: 0, evicted: 0 });
    // without an advance in between, the same: the idle history is not used
    const core2 = create(c, ctxOf());
    const emit = collector();
    for (const [k, e] of [...amounts([100, 101, 99]), ...amounts([5000, 100, 101, 99, 5000], 'C1', 2 * DAY)]) core2.add?.(k, e, emit);
    expect(emit.signals.map((x) => [x.observed, x.details?.history])).toEqual([[5000, 4]]);
    const capped = create(cfg({ maxKeys: 2 }), ctxOf());
    runEvents(capped, [['a', ev(1, { amount: 1 })], ['b', ev(2, { amount: 1 })], ['a', ev(3, { amount: 1 })], ['c', ev(4, { amount: 1 })]]);
    expect(capped.stats()).toEqual({ keys: 2, evicted: 1 });
  });

  it('rejects a warm-up longer than the history', () => {
    const base = { name: 'amount-outlier', type: 'outlier', field: 'amount' };
    expect(refusals(schema, { ...base, history: 5, minHistory: 6 })).toEqual([
      ['minHistory', 'minHistory (6) is larger than history (5), so no event would ever be judged: lower minHistory to at most 5, or raise history'],
    ]);
    expect(() => create(cfg({ method: 'ewma', history: 5, minHistory: 6 }), ctxOf())).not.toThrow();
    expect(schema.safeParse({ name: 'o', type: 'outlier', field: 'x', alpha: 1 }).success).toBe(false);
    expect(schema.safeParse({ name: 'o', type: 'outlier', field: 'x', value: 0 }).success).toBe(false);
  });

  it('survives snapshot/restore bit for bit (both methods)', () => {
    const evs: Array<[string, VEvent]> = [];
    let x = 7;
    const rand = () => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return x / 2 ** 32;
    };
    for (let i = 0; i < 600; i++) {
      const spike = rand() < 0.03 ? 40 : 1;
      evs.push([`k${Math.floor(rand() * 4)}`, ev(i * 3_600_000, { amount: Math.round(100 * spike * (1 + rand())) / 100 }, `e${i}`)]);
    }
    for (const c of [cfg({ history: 20, direction: 'both', scores: true }), cfg({ method: 'ewma', value: 4, direction: 'both', scores: true, forgetAfter: '5d' })]) {
      const wholeEmit = collector();
      const whole = create(c, ctxOf());
      const expected = runEvents(whole, evs, wholeEmit);
      expect(expected.length).toBeGreaterThan(3);
      for (const cut of [5, 233, 411]) {
        const first = create(c, ctxOf());
        const e1 = collector();
        runEvents(first, evs.slice(0, cut), e1);
        const second = create(c, ctxOf());
        second.restore(viaMsgpack(first.snapshot()));
        const e2 = collector();
        runEvents(second, evs.slice(cut), e2);
        expect([...e1.signals, ...e2.signals]).toEqual(expected);
        expect([...e1.judgements, ...e2.judgements]).toEqual(wholeEmit.judgements);
        expect(second.snapshot()).toEqual(whole.snapshot());
      }
    }
  });

  it('restores a checkpoint taken with another history size', () => {
    const first = create(cfg({ history: 5, minHistory: 3 }), ctxOf());
    runEvents(first, amounts([1, 2, 3, 4, 5, 6, 7]));
    const smaller = create(cfg({ history: 3, minHistory: 3, value: 1 }), ctxOf());
    smaller.restore(viaMsgpack(first.snapshot()));
    // history now 5, 6, 7
    expect(runEvents(smaller, amounts([100], 'C1', 10 * 60_000)).map((s) => s.details?.expected)).toEqual([6]);
    const larger = create(cfg({ history: 10, minHistory: 3, value: 1 }), ctxOf());
    larger.restore(viaMsgpack(first.snapshot()));
    // history 3..7, then 100: median 5.5
    expect(runEvents(larger, amounts([100, 200], 'C1', 10 * 60_000)).map((s) => s.details?.expected)).toEqual([5, 5.5]);
  });

  it('refuses a garbage snapshot', () => {
    const core = create(cfg(), ctxOf());
    expect(() => core.restore({ nope: 1 })).toThrow(/bad snapshot/);
    expect(() => core.restore({ evicted: 0, keys: [['k', [1, 2]]] })).toThrow(/bad snapshot/);
    expect(() => core.restore({ evicted: 0, keys: [['k', [1, 0, 9, [1, 2], 0, 0]]] })).toThrow(/bad snapshot/);
  });

  it('matches a naive recomputation of median and MAD from the full history (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('a', 'b'), fc.integer({ min: -50, max: 50 })), { maxLength: 80 }),
        fc.integer({ min: 3, max: 12 }),
        fc.integer({ min: 2, max: 12 }),
        fc.constantFrom('up', 'down', 'both'),
        fc.double({ min: 0.5, max: 4, noNaN: true }),
        (spec, history, minHistoryRaw, direction, bound) => {
          const minHistory = Math.min(minHistoryRaw, history);
          const c = cfg({ history, minHistory, direction, value: bound, scores: true });
          const emit = collector();
          const evs: Array<[string, VEvent]> = spec.map(([k, v], i) => [k, ev(i, { amount: v }, `x${i}`)]);
          runEvents(create(c, ctxOf()), evs, emit);
          const seen: Record<string, number[]> = {};
          const wantScores: Array<[string, number, boolean]> = [];
          const wantSignals: string[] = [];
          for (const [k, e] of evs) {
            const all = (seen[k] ??= []);
            const x = e.payload.amount as number;
            const h = all.slice(-history);
            all.push(x);
            if (h.length < minHistory) continue;
            const sorted = h.slice().sort((a, b) => a - b);
            const med = median(sorted);
            const dev = sorted.map((v) => Math.abs(v - med)).sort((a, b) => a - b);
            const mad = median(dev);
            const scale = mad > 0 ? mad / 0.6745 : (dev.reduce((a, b) => a + b, 0) / h.length) * 1.253314;
            if (scale === 0) continue;
            const z = (x - med) / scale;
            const hit = direction === 'up' ? z >= bound : direction === 'down' ? z <= -bound : Math.abs(z) >= bound;
            wantScores.push([e.id as string, direction === 'up' ? z : direction === 'down' ? -z : Math.abs(z), hit]);
            if (hit) wantSignals.push(e.id as string);
          }
          expect(emit.judgements.map((s) => [s.ref, s.score, s.anomalous])).toEqual(wantScores);
          expect(emit.signals.map((s) => s.evidence[0])).toEqual(wantSignals);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('judges fractional values, repeats and a full ring exactly as a sort of the history would (property)', () => {
    const value = fc.oneof(fc.double({ min: -1000, max: 1000, noNaN: true, noDefaultInfinity: true }), fc.constantFrom(0.1, 0.2, 0.30000000000000004, 7, 7, 7));
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 120 }), fc.integer({ min: 3, max: 20 }), (xs, history) => {
        const minHistory = Math.min(3, history);
        const emit = collector();
        const evs = amounts(xs);
        runEvents(create(cfg({ history, minHistory, direction: 'both', value: 3, scores: true }), ctxOf()), evs, emit);
        const want: Array<[string, number]> = [];
        for (let i = 0; i < xs.length; i++) {
          const h = xs.slice(Math.max(0, i - history), i);
          if (h.length < minHistory) continue;
          const sorted = h.slice().sort((a, b) => a - b);
          const med = median(sorted);
          const dev = sorted.map((v) => Math.abs(v - med)).sort((a, b) => a - b);
          const mad = median(dev);
          let sum = 0;
          for (const d of dev) sum += d;
          const scale = mad > 0 ? mad / 0.6745 : (sum / h.length) * 1.253314;
          if (!(scale > 0)) continue;
          want.push([`a${i}`, Math.abs((xs[i] - med) / scale)]);
        }
        expect(emit.judgements.map((s) => [s.ref, s.score])).toEqual(want);
      }),
      { numRuns: 300 },
    );
  });
});
