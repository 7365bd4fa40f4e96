import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { schema, create, describeSlot, slotOf, type Config } from '../../detectors/baseline.js';
import { collector, ctxOf, refusals, result, runResults, viaMsgpack } from '../helpers/detectors.js';
import type { WindowResult } from '../../src/types.js';
import type { Signal } from '../../detectors/types.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;
/** Monday 2024-01-01T00:00:00Z. */
const MONDAY = Date.UTC(2024, 0, 1);

const cfg = (over: Record<string, unknown> = {}) => schema.parse({ name: 'traffic', type: 'baseline', aggregate: 'requests', ...over });
const ctx = ctxOf({ keyLabel: 'service', aggregates: ['requests'], windowType: 'tumbling' });
/** An hourly window result starting at `start`. */
const h = (key: string, start: number, v: number | null, count = 1) => result(key, start, start + HOUR, { requests: v }, count);
/** Hourly results of one key from `from`, one per value. */
const series = (key: string, values: Array<number | null>, from = 0) => values.map((v, i) => h(key, from + i * HOUR, v));
const rev = (r: WindowResult, v: number, revision = 1): WindowResult => ({ ...r, revision, kind: 'update', values: { requests: v } });
/** 100 ± 2, deterministic. */
const steady = (n: number) => Array.from({ length: n }, (_, i) => 100 + ((i * 7) % 5) - 2);

describe('baseline detector (ewma)', () => {
  it('signals a value many standard deviations from the learnt mean, judged before it is learnt', () => {
    const core = create(cfg(), ctx);
    const s = runResults(core, series('api', [...steady(20), 200]));
    expect(s).toHaveLength(1);
    const d = s[0].details as { expected: number; std: number; z: number; samples: number };
    expect(s[0]).toMatchObject({ key: 'api', time: 21 * HOUR, identity: `window:${20 * HOUR}:${21 * HOUR}`, revision: 0, observed: 200, evidence: [`e${21 * HOUR}`] });
    expect(s[0].window).toEqual({ start: 20 * HOUR, end: 21 * HOUR });
    expect(d).toMatchObject({ aggregate: 'requests', model: 'ewma', slot: null, samples: 20, count: 1 });
    expect(d.expected).toBeGreaterThan(98);
    expect(d.expected).toBeLessThan(102);
    expect(d.std).toBeGreaterThan(0.5);
    expect(d.std).toBeLessThan(3);
    expect(d.z).toBeCloseTo((200 - d.expected) / d.std, 9);
    expect(s[0].threshold).toBeCloseTo(d.expected + 4 * d.std, 9);
    expect(s[0].score).toBeCloseTo(d.z / 4, 5);
    expect(s[0].explanation).toMatch(
      /^traffic: requests for service api was 200 in window \[1970-01-01T20:00:00\.000Z, 1970-01-01T21:00:00\.000Z\), [\d.]+ standard deviations above its usual [\d.]+ \(learnt from 20 windows; standard deviation [\d.]+, bound 4; 1 event: e75600000\)\.$/,
    );
  });

  it('waits for minSamples values before judging', () => {
    const values = [...steady(5), 500];
    expect(runResults(create(cfg(), ctx), series('api', values))).toHaveLength(0);
    expect(runResults(create(cfg({ minSamples: 5 }), ctx), series('api', values))).toHaveLength(1);
    expect(runResults(create(cfg({ minSamples: 6 }), ctx), series('api', values))).toHaveLength(0);
  });

  it('honours direction, with the bound below the mean for falls', () => {
    const values = [...steady(20), 200, ...steady(5), 10];
    const both = runResults(create(cfg(), ctx), series('api', values));
    expect(both.map((s) => s.observed)).toEqual([200, 10]);
    expect(both[1].threshold).toBeLessThan((both[1].details as { expected: number }).expected);
    expect(both[1].explanation).toMatch(/standard deviations below its usual/);
    expect((both[1].details as { z: number }).z).toBeLessThan(-4);
    expect(runResults(create(cfg({ direction: 'up' }), ctx), series('api', values)).map((s) => s.observed)).toEqual([200]);
    expect(runResults(create(cfg({ direction: 'down' }), ctx), series('api', values)).map((s) => s.observed)).toEqual([10]);
  });

  it('floors the standard deviation at minStd; without it, any change of a constant value signals', () => {
    const flat = [...Array<number>(12).fill(100), 101];
    const s = runResults(create(cfg(), ctx), series('api', flat));
    expect(s).toHaveLength(1);
    expect(s[0]).toMatchObject({ observed: 101, threshold: 100, score: Number.MAX_SAFE_INTEGER, details: { z: null, std: 0, expected: 100 } });
    expect(s[0].explanation).toContain('was 101 in window');
    expect(s[0].explanation).toContain('above its usual 100, which had not varied so far (learnt from 12 windows; 1 event: ');
    expect(runResults(create(cfg(), ctx), series('api', Array<number>(13).fill(100)))).toHaveLength(0);
    expect(runResults(create(cfg({ minStd: 1 }), ctx), series('api', flat))).toHaveLength(0);
    const s2 = runResults(create(cfg({ minStd: 1 }), ctx), series('api', [...Array<number>(12).fill(100), 105]));
    expect(s2.map((x) => [x.observed, x.threshold, (x.details as { z: number }).z])).toEqual([[105, 104, 5]]);
  });

  it('learns anomalies by default (adapting), or keeps them out with learnAnomalies: false', () => {
    const values = [...steady(20), 300, 300, 300];
    const learning = runResults(create(cfg(), ctx), series('api', values));
    const strict = runResults(create(cfg({ learnAnomalies: false }), ctx), series('api', values));
    const z = (s: Signal) => (s.details as { z: number }).z;
    expect(learning.length).toBeGreaterThanOrEqual(1);
    expect(learning.map((s) => (s.details as { samples: number }).samples)).toEqual([20, 21, 22].slice(0, learning.length));
    for (let i = 1; i < learning.length; i++) expect(z(learning[i])).toBeLessThan(z(learning[i - 1]));
    expect(strict).toHaveLength(3);
    expect(strict.map((s) => s.details)).toEqual([strict[0].details, strict[0].details, strict[0].details].map((d) => ({ ...d, count: 1 })));
    // Back to normal: learnt by both.
    const after = runResults(create(cfg({ learnAnomalies: false }), ctx), series('api', [...values, 100, 900]));
    expect((after[after.length - 1].details as { samples: number }).samples).toBe(21);
  });

  it('judges a revision against the model before its window was learnt, and does not learn it', () => {
    const core = create(cfg({ minSamples: 3 }), ctx);
    const emit = collector();
    const rs = series('api', [100, 102, 98, 101, 100]);
    runResults(core, rs, emit);
    expect(emit.signals).toHaveLength(0);
    runResults(core, [rev(rs[4], 300)], emit);
    expect(emit.signals).toHaveLength(1);
    expect(emit.signals[0]).toMatchObject({ revision: 1, observed: 300, identity: `window:${4 * HOUR}:${5 * HOUR}`, details: { samples: 4, expected: 100.25 } });
    expect(emit.signals[0].explanation).toContain('(revision 1, after late events), ');
    // A revision of an older window is judged against the current model (5 values), and nothing was learnt.
    runResults(core, [rev(rs[1], 300, 2)], emit);
    expect(emit.signals[1]).toMatchObject({ revision: 2, details: { samples: 5 } });
    runResults(core, [h('api', 5 * HOUR, 300)], emit);
    expect(emit.signals[2]).toMatchObject({ revision: 0, details: { samples: 5 } });
    // Revisions of a key or slot without a model are not judged.
    expect(runResults(create(cfg({ minSamples: 1 }), ctx), [rev(h('new', 0, 5), 500)])).toEqual([]);
  });

  it('judges only numbers', () => {
    const s = runResults(create(cfg({ minSamples: 3 }), ctx), series('api', [100, null, 102, 98, null, 500]));
    expect(s.map((x) => [x.observed, (x.details as { samples: number }).samples])).toEqual([[500, 3]]);
  });

  it('forgets idle keys and caps keys', () => {
    const core = create(cfg({ forgetAfter: '1d' }), ctx);
    runResults(core, [h('a', 0, 1), h('b', HOUR, 1)]);
    expect(core.stats()).toEqual({ keys: 2, evicted: 0 });
    core.advance(HOUR + DAY, collector());
    expect(core.stats().keys).toBe(2);
    core.advance(HOUR + DAY + 1, collector());
    expect(core.stats().keys).toBe(1);
    const capped = create(cfg({ maxKeys: 2 }), ctx);
    runResults(capped, [h('a', 0, 1), h('b', 0, 1), h('a', HOUR, 1), h('c', HOUR, 1)]);
    expect(capped.stats()).toEqual({ keys: 2, evicted: 1 });
    expect(cfg().forgetAfter).toBe(35 * DAY);
  });

  it('refuses an unknown aggregate and inconsistent seasonal settings', () => {
    expect(() => create(cfg({ aggregate: 'nope' }), ctx)).toThrow(/aggregate "nope" is not defined/);
    const base = { name: 'traffic', type: 'baseline', aggregate: 'requests' };
    expect(refusals(schema, { ...base, model: 'seasonal' })).toEqual([
      ['season', 'model: seasonal needs `season`: which slot of the clock each value is learnt for (hour-of-day, day-of-week, hour-of-week)'],
    ]);
    expect(refusals(schema, { ...base, season: 'hour-of-day' })).toEqual([
      ['season', 'season is only used with model: seasonal: add `model: seasonal`, or remove `season` for one baseline per key'],
    ]);
    expect(() => cfg({ alpha: 0 })).toThrow();
    expect(() => cfg({ model: 'seasonal', season: 'minute-of-hour' })).toThrow();
    expect(() => cfg({ utcOffset: 900 })).toThrow();
  });
});

describe('baseline detector (seasonal)', () => {
  /** 10 days of hourly windows: ~1000 in office hours (09:00-17:00 UTC), ~100 otherwise. */
  const daily = (days: number): number[] => {
    const out: number[] = [];
    for (let d = 0; d < days; d++) for (let hr = 0; hr < 24; hr++) out.push((hr >= 9 && hr < 17 ? 1000 : 100) + ((d * 7 + hr * 3) % 11) - 5);
    return out;
  };
  const seasonal = (over: Record<string, unknown> = {}) => cfg({ model: 'seasonal', season: 'hour-of-day', minStd: 10, ...over });

  it('expects the daily peaks learnt per hour, but signals an off-hours spike', () => {
    const core = create(seasonal(), ctx);
    const learnt = runResults(core, series('api', daily(10), MONDAY));
    expect(learnt).toEqual([]);
    const day10 = MONDAY + 10 * DAY;
    const s = runResults(core, [h('api', day10 + 3 * HOUR, 1000), h('api', day10 + 10 * HOUR, 1003)]);
    expect(s).toHaveLength(1);
    expect(s[0]).toMatchObject({ observed: 1000, details: { model: 'seasonal', slot: '03:00 UTC', samples: 10 } });
    expect(s[0].explanation).toMatch(
      /^traffic: requests for service api was 1000 in window \[2024-01-11T03:00:00\.000Z, 2024-01-11T04:00:00\.000Z\), [\d.]+ standard deviations above its usual [\d.]+ for 03:00 UTC \(learnt from 10 days; standard deviation 10, bound 4; 1 event: /,
    );
    // One model for the whole day cannot tell: the spike is an ordinary value for it.
    const flat = create(cfg({ minStd: 10 }), ctx);
    expect(runResults(flat, [...series('api', daily(10), MONDAY), h('api', day10 + 3 * HOUR, 1000)])).toEqual([]);
  });

  it('explains the slot and its history for an hour of the week', () => {
    const core = create(cfg({ name: 'traffic-drop', model: 'seasonal', season: 'hour-of-week' }), ctx);
    const tuesday14 = MONDAY + DAY + 14 * HOUR;
    const weeks = [400, 410, 420, 405, 415, 410, 400, 420, 12];
    const s = runResults(core, weeks.map((v, i) => h('api', tuesday14 + i * WEEK, v, 12)));
    expect(s).toHaveLength(1);
    expect(s[0].details).toMatchObject({ slot: 'Tuesday 14:00 UTC', samples: 8 });
    expect(s[0].explanation).toMatch(
      /^traffic-drop: requests for service api was 12 in window \[2024-02-27T14:00:00\.000Z, 2024-02-27T15:00:00\.000Z\), [\d.]+ standard deviations below its usual 41\d(\.\d+)? for Tuesday 14:00 UTC \(learnt from 8 weeks; standard deviation [\d.]+, bound 4; 12 events: e\d+ and 11 more\)\.$/,
    );
  });

  it('says how many windows over how many periods when a slot gets several windows per period', () => {
    const core = create(seasonal({ minStd: 1 }), ctx);
    const halfHours: WindowResult[] = [];
    for (let d = 0; d < 3; d++) for (const m of [0, 30]) halfHours.push(result('api', MONDAY + d * DAY + 14 * HOUR + m * 60_000, MONDAY + d * DAY + 14 * HOUR + (m + 30) * 60_000, { requests: 100 + d + m / 30 }));
    const s = runResults(core, [...halfHours, result('api', MONDAY + 3 * DAY + 14.5 * HOUR, MONDAY + 3 * DAY + 15 * HOUR, { requests: 900 })]);
    expect(s).toHaveLength(1);
    expect(s[0].explanation).toContain('for 14:00 UTC (learnt from 6 windows over 3 days;');
  });

  it('places windows in slots by their start, in UTC or at a fixed offset', () => {
    expect(slotOf('hour-of-week', 0, 0)).toBe(4 * 24); // 1970-01-01 was a Thursday
    expect(describeSlot('hour-of-week', 96, 0)).toBe('Thursday 00:00 UTC');
    expect(slotOf('hour-of-week', 0, -60)).toBe(3 * 24 + 23);
    expect(describeSlot('hour-of-week', 95, -60)).toBe('Wednesday 23:00 UTC-01:00');
    expect(slotOf('hour-of-day', Date.UTC(2024, 0, 2, 14), 120)).toBe(16);
    expect(slotOf('day-of-week', Date.UTC(2024, 0, 2, 23, 30), 0)).toBe(2);
    expect(slotOf('day-of-week', Date.UTC(2024, 0, 2, 23, 30), 60)).toBe(3);
    expect(describeSlot('day-of-week', 0, 0)).toBe('Sunday UTC');
    expect(describeSlot('hour-of-day', 5, 330)).toBe('05:00 UTC+05:30');
    expect(slotOf('hour-of-day', -1, 0)).toBe(23);
    for (let t = 0; t < 2 * WEEK; t += 7 * 60_000) {
      const slot = slotOf('hour-of-week', MONDAY + t, 0);
      expect(slot).toBe(((new Date(MONDAY + t).getUTCDay() * 24 + new Date(MONDAY + t).getUTCHours()) % 168 + 168) % 168);
    }
    const core = create(seasonal({ utcOffset: 120, minSamples: 2 }), ctx);
    const s = runResults(core, [h('api', MONDAY + 14 * HOUR, 100), h('api', MONDAY + DAY + 14 * HOUR, 104), h('api', MONDAY + 2 * DAY + 14 * HOUR, 900)]);
    expect(s.map((x) => (x.details as { slot: string }).slot)).toEqual(['16:00 UTC+02:00']);
  });

  it('keeps at most 168 slots per key', () => {
    const core = create(cfg({ model: 'seasonal', season: 'hour-of-week' }), ctx);
    runResults(core, series('api', Array.from({ length: 3 * 168 }, (_, i) => i % 17), MONDAY));
    const snap = core.snapshot() as { keys: Array<[string, [number, unknown[]]]> };
    expect(snap.keys[0][1][1]).toHaveLength(168);
  });
});

describe('baseline detector state', () => {
  it('survives snapshot/restore bit for bit', () => {
    const results: WindowResult[] = [];
    for (let i = 0; i < 1200; i++) {
      const v = 50 + 30 * Math.sin(i / 3.7) + (i % 29 === 0 ? 400 : 0) + (i % 7) / 3;
      const r = h(`k${i % 3}`, MONDAY + Math.floor(i / 3) * HOUR, i % 31 === 5 ? null : v);
      results.push(r);
      if (i % 13 === 0) results.push(rev(r, v * 3));
    }
    for (const c of [
      cfg({ minSamples: 4, alpha: 0.2 }),
      cfg({ model: 'seasonal', season: 'hour-of-day', minSamples: 2, learnAnomalies: false, value: 3 }),
      cfg({ model: 'seasonal', season: 'hour-of-week', minSamples: 1, utcOffset: -300, value: 2 }),
    ]) {
      const whole = create(c, ctx);
      const expected = runResults(whole, results);
      expect(expected.length).toBeGreaterThan(3);
      expect(expected.some((x) => x.revision > 0)).toBe(true);
      const first = create(c, ctx);
      const head = runResults(first, results.slice(0, 611));
      const second = create(c, ctx);
      second.restore(viaMsgpack(first.snapshot()));
      const tail = runResults(second, results.slice(611));
      expect([...head, ...tail]).toEqual(expected);
      expect(second.snapshot()).toEqual(whole.snapshot());
      expect(second.stats()).toEqual(whole.stats());
    }
    const core = create(cfg(), ctx);
    expect(() => core.restore({ nope: 1 })).toThrow(/bad snapshot/);
    expect(() => core.restore({ evicted: 0, keys: [['k', [0, [[1, 2]]]]] })).toThrow(/bad snapshot entry/);
    expect(() => core.restore({ evicted: 0, keys: [['k', 'x']] })).toThrow(/bad snapshot entry/);
  });

  it('matches a reference recomputed from the full history of each key and slot (property)', () => {
    const step = fc.record({
      key: fc.constantFrom('a', 'b'),
      skip: fc.constantFrom(0, 1, 1, 1, 5, 23),
      value: fc.integer({ min: 0, max: 30 }),
      spike: fc.constantFrom(0, 0, 0, 0, 0, 0, 80, -40),
    });
    fc.assert(
      fc.property(
        fc.array(step, { minLength: 5, maxLength: 80, size: 'max' }),
        fc.record({
          model: fc.constantFrom('ewma', 'seasonal'),
          alpha: fc.constantFrom(0.1, 0.3, 0.5, 1),
          minSamples: fc.integer({ min: 1, max: 4 }),
          value: fc.constantFrom(1, 2, 3),
          minStd: fc.constantFrom(0.7, 2.3),
          learnAnomalies: fc.boolean(),
          direction: fc.constantFrom('up', 'down', 'both'),
        }),
        (steps, over) => {
          const c = cfg({ ...over, ...(over.model === 'seasonal' ? { season: 'hour-of-day' } : {}) });
          let i = 0;
          const results = steps.map((s) => h(s.key, (i += s.skip) * HOUR, s.value + s.spike));
          const want = reference(c, results);
          fc.pre(want !== 'ambiguous');
          const got = runResults(create(c, ctx), results);
          expect(got.map((s) => [s.key, s.identity, s.observed])).toEqual((want as Judged[]).map((j) => [j.key, j.identity, j.x]));
          got.forEach((s, k) => {
            const j = (want as Judged[])[k];
            const d = s.details as { expected: number; std: number; z: number; samples: number };
            expect(d.samples).toBe(j.n);
            expect(d.expected).toBeCloseTo(j.mean, 7);
            expect(d.std).toBeCloseTo(j.std, 7);
            expect(d.z).toBeCloseTo(j.z, 6);
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});

interface Judged {
  key: string;
  identity: string;
  x: number;
  n: number;
  mean: number;
  std: number;
  z: number;
}

/**
 * The documented model in closed form: the i-th of n values learnt weighs a_i × Π_{j>i} (1 - a_j) with
 * a_k = max(alpha, 1/k); mean and variance are the weighted mean and variance of all values learnt so far.
 * 'ambiguous' when some |z| is too close to the bound for floating point to decide.
 */
function reference(c: Config, results: WindowResult[]): Judged[] | 'ambiguous' {
  const learnt = new Map<string, number[]>();
  const out: Judged[] = [];
  for (const r of results) {
    const x = r.values.requests as number;
    const id = `${r.key}/${c.model === 'seasonal' ? new Date(r.start).getUTCHours() : 0}`;
    const xs = learnt.get(id) ?? [];
    learnt.set(id, xs);
    const n = xs.length;
    let signalled = false;
    if (n > 0 && n >= (c.minSamples ?? 0)) {
      const w = xs.map((_, i) => {
        let wi = Math.max(c.alpha, 1 / (i + 1));
        for (let j = i + 1; j < n; j++) wi *= 1 - Math.max(c.alpha, 1 / (j + 1));
        return wi;
      });
      const mean = xs.reduce((s, xi, i) => s + w[i] * xi, 0);
      const variance = xs.reduce((s, xi, i) => s + w[i] * (xi - mean) ** 2, 0);
      const std = Math.max(Math.sqrt(variance), c.minStd);
      const z = (x - mean) / std;
      if (Math.abs(Math.abs(z) - c.value) < 1e-6) return 'ambiguous';
      signalled = (z >= c.value && c.direction !== 'down') || (z <= -c.value && c.direction !== 'up');
      if (signalled) out.push({ key: r.key, identity: `window:${r.start}:${r.end}`, x, n, mean, std, z });
    }
    if (!signalled || c.learnAnomalies) xs.push(x);
  }
  return out;
}
