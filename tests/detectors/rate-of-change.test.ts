import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { schema, create, type Config } from '../../detectors/rate-of-change.js';
import { collector, ctxOf, result, runResults, viaMsgpack } from '../helpers/detectors.js';
import type { WindowResult } from '../../src/types.js';

const MIN = 60_000;
const cfg = (over: Record<string, unknown> = {}) => schema.parse({ name: 'surge', type: 'rate-of-change', aggregate: 'logins', value: 2, ...over });
const ctx = ctxOf({ keyLabel: 'user', aggregates: ['logins'], windowType: 'tumbling' });
/** Result of the i-th 5-minute window. */
const w = (key: string, i: number, v: number | null, count = 1) => result(key, i * 5 * MIN, (i + 1) * 5 * MIN, { logins: v }, count);
const rev = (r: WindowResult, revision = 1): WindowResult => ({ ...r, revision, kind: 'update' });

describe('rate-of-change detector', () => {
  it('signals a relative rise from the previous window, explained with both windows', () => {
    const core = create(cfg(), ctx);
    const s = runResults(core, [w('u', 0, 100), w('v', 0, 100), w('u', 1, 350, 350), w('v', 1, 250)]);
    expect(s).toHaveLength(1);
    expect(s[0]).toMatchObject({
      key: 'u',
      time: 10 * MIN,
      identity: 'window:300000:600000',
      revision: 0,
      window: { start: 5 * MIN, end: 10 * MIN },
      observed: 2.5,
      threshold: 2,
      score: 1.25,
      evidence: ['e600000'],
    });
    expect(s[0].details).toEqual({ aggregate: 'logins', mode: 'relative', previous: 100, current: 350, previousWindow: { start: 0, end: 5 * MIN }, count: 350 });
    expect(s[0].explanation).toBe(
      'surge: logins for user u was 350 in window [1970-01-01T00:05:00.000Z, 1970-01-01T00:10:00.000Z), ' +
        'up 250% from 100 in the previous window [1970-01-01T00:00:00.000Z, 1970-01-01T00:05:00.000Z), ' +
        'at or beyond the bound of 200% up (350 events: e600000 and 349 more).',
    );
  });

  it('signals falls with a negative observed change and bound, and honours direction', () => {
    const series = [w('u', 0, 100), w('u', 1, 20), w('u', 2, 60)];
    const both = runResults(create(cfg({ value: 0.5 }), ctx), series);
    expect(both.map((s) => [s.time, s.observed, s.threshold])).toEqual([
      [10 * MIN, -0.8, -0.5],
      [15 * MIN, 2, 0.5],
    ]);
    expect(both[0].explanation).toContain('down 80% from 100');
    expect(runResults(create(cfg({ value: 0.5, direction: 'down' }), ctx), series).map((s) => s.observed)).toEqual([-0.8]);
    expect(runResults(create(cfg({ value: 0.5, direction: 'up' }), ctx), series).map((s) => s.observed)).toEqual([2]);
  });

  it('compares differences in absolute mode, where a previous 0 is fine', () => {
    const core = create(cfg({ mode: 'absolute', value: 50 }), ctx);
    const s = runResults(core, [w('u', 0, 0), w('u', 1, 50), w('u', 2, 80), w('u', 3, 10)]);
    expect(s.map((x) => [x.observed, x.threshold])).toEqual([
      [50, 50],
      [-70, -50],
    ]);
    expect(s[1].explanation).toContain('down 70 from 80 in the previous window');
    expect(s[1].explanation).toContain('at or beyond the bound of 50 down');
  });

  it('skips small previous values (minPrevious) and a previous 0 in relative mode', () => {
    expect(runResults(create(cfg(), ctx), [w('u', 0, 1), w('u', 1, 3)])).toHaveLength(1);
    expect(runResults(create(cfg({ minPrevious: 5 }), ctx), [w('u', 0, 1), w('u', 1, 3), w('u', 2, 9), w('u', 3, 27)]).map((s) => s.time)).toEqual([20 * MIN]);
    expect(runResults(create(cfg(), ctx), [w('u', 0, 0), w('u', 1, 300)])).toHaveLength(0);
  });

  it('skips non-numeric values without making them history', () => {
    const s = runResults(create(cfg(), ctx), [w('u', 0, 10), w('u', 1, null), w('u', 2, 40)]);
    expect(s.map((x) => x.details?.previousWindow)).toEqual([{ start: 0, end: 5 * MIN }]);
  });

  it('does not compare with a previous window older than maxGap, which is then replaced', () => {
    const core = create(cfg({ maxGap: '10m' }), ctx);
    // window 0 ends at 5m; window 3 starts at 15m (gap 10m: compared); window 7 starts at 35m after window 3 ended at 20m (gap 15m: not).
    const s = runResults(core, [w('u', 0, 10), w('u', 3, 40), w('u', 7, 200), w('u', 8, 700)]);
    expect(s.map((x) => [x.time, x.details?.previous])).toEqual([
      [20 * MIN, 10],
      [45 * MIN, 200],
    ]);
    expect(runResults(create(cfg({ maxGap: 0 }), ctx), [w('u', 0, 10), w('u', 2, 40), w('u', 3, 160)]).map((x) => x.time)).toEqual([20 * MIN]);
  });

  it('judges a revision of the latest window against the window before it, without replacing the history', () => {
    const core = create(cfg({ value: 0.5 }), ctx);
    const emit = collector();
    const w1 = w('u', 1, 100);
    runResults(core, [w('u', 0, 100), w1], emit);
    expect(emit.signals).toHaveLength(0);
    runResults(core, [rev({ ...w1, values: { logins: 400 } })], emit);
    expect(emit.signals).toHaveLength(1);
    expect(emit.signals[0]).toMatchObject({ revision: 1, identity: 'window:300000:600000', observed: 3, details: { previous: 100, current: 400, previousWindow: { start: 0, end: 5 * MIN } } });
    expect(emit.signals[0].explanation).toContain('(revision 1, after late events), up 300% from 100');
    // The next window is compared with the first emission of window 1 (100), not its revision (400).
    runResults(core, [w('u', 2, 120)], emit);
    expect(emit.signals).toHaveLength(1);
    // Revisions of older windows, and of a first window, are not judged.
    runResults(core, [rev(w('u', 0, 1000), 3), rev(w('u', 1, 1000), 2)], emit);
    expect(emit.signals).toHaveLength(1);
    expect(runResults(create(cfg(), ctx), [w('x', 0, 1), rev(w('x', 0, 100))])).toHaveLength(0);
  });

  it('ignores a first emission that does not end after the latest one', () => {
    const core = create(cfg(), ctx);
    const s = runResults(core, [w('u', 2, 10), w('u', 1, 100), w('u', 3, 35)]);
    expect(s.map((x) => x.details?.previous)).toEqual([10]);
  });

  it('expires keys no later window can be compared with, and caps keys', () => {
    const core = create(cfg({ maxGap: '10m' }), ctx);
    runResults(core, [w('a', 0, 1), w('b', 1, 1)]);
    expect(core.stats()).toEqual({ keys: 2, evicted: 0 });
    // a's window ended at 5m: gone once the watermark passes 5m + 10m + the 5m window.
    core.advance(20 * MIN, collector());
    expect(core.stats().keys).toBe(2);
    core.advance(20 * MIN + 1, collector());
    expect(core.stats().keys).toBe(1);
    const capped = create(cfg({ maxKeys: 2 }), ctx);
    runResults(capped, [w('a', 0, 1), w('b', 0, 1), w('a', 1, 1), w('c', 1, 1), w('b', 2, 9)]);
    expect(capped.stats()).toEqual({ keys: 2, evicted: 2 });
  });

  it('refuses an unknown aggregate and bad bounds', () => {
    expect(() => create(cfg({ aggregate: 'nope' }), ctx)).toThrow(/aggregate "nope" is not defined/);
    expect(() => cfg({ value: 0 })).toThrow();
    expect(() => cfg({ maxGap: 'soon' })).toThrow(/invalid duration/);
    expect(cfg().maxGap).toBe(3_600_000);
  });

  it('survives snapshot/restore bit for bit', () => {
    const results: WindowResult[] = [];
    for (let i = 0; i < 160; i++) {
      const r = w(`k${i % 6}`, Math.floor(i / 6) + (i % 13 === 0 ? 3 : 0), ((i * 37) % 29) + (i % 11 === 0 ? 0.5 : 0));
      results.push(r);
      if (i % 9 === 0) results.push(rev({ ...r, values: { logins: (i * 7) % 50 } }));
    }
    const c = cfg({ value: 0.75, maxGap: '15m' });
    const whole = create(c, ctx);
    const expected = runResults(whole, results);
    expect(expected.length).toBeGreaterThan(10);
    expect(expected.some((s) => s.revision > 0)).toBe(true);
    const first = create(c, ctx);
    const head = runResults(first, results.slice(0, 77));
    const second = create(c, ctx);
    second.restore(viaMsgpack(first.snapshot()));
    const tail = runResults(second, results.slice(77));
    expect([...head, ...tail]).toEqual(expected);
    expect(second.snapshot()).toEqual(whole.snapshot());
    expect(second.stats()).toEqual(whole.stats());
    expect(() => second.restore({ nope: 1 })).toThrow(/bad snapshot/);
    expect(() => second.restore({ span: 0, keys: 3 })).toThrow(/bad snapshot/);
    expect(() => second.restore({ span: 0, keys: { evicted: 0, keys: [['k', ['x']]] } })).toThrow(/bad snapshot entry/);
  });

  it('matches a naive reference over the full history of each key (property)', () => {
    const SIZE = 10;
    const step = fc.record({
      key: fc.constantFrom('a', 'b', 'c'),
      skip: fc.constantFrom(0, 0, 1, 1, 2, 4),
      value: fc.option(fc.integer({ min: -3, max: 12 }), { freq: 10 }),
      revise: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.array(step, { minLength: 5, maxLength: 60, size: 'max' }),
        fc.record({
          mode: fc.constantFrom('relative', 'absolute'),
          direction: fc.constantFrom('up', 'down', 'both'),
          value: fc.constantFrom(0.5, 1, 2, 5),
          minPrevious: fc.constantFrom(0, 2),
          maxGap: fc.constantFrom(0, 10, 25),
        }),
        (steps, over) => {
          const c: Config = cfg(over);
          // An on-time stream: first emissions in window order (several keys per window); revisions only of a
          // key's latest window, within a grace of maxGap behind the watermark (the latest end so far).
          const results: WindowResult[] = [];
          const latest = new Map<string, WindowResult>();
          let i = 0;
          let wm = 0;
          for (const s of steps) {
            const last = latest.get(s.key);
            if (s.revise && last !== undefined && wm - last.end <= c.maxGap) {
              results.push({ ...last, revision: last.revision + 1, kind: 'update', values: { logins: s.value } });
              latest.set(s.key, results[results.length - 1]);
            } else {
              i += s.skip;
              const r = result(s.key, i * SIZE, (i + 1) * SIZE, { logins: s.value });
              results.push(r);
              latest.set(s.key, r);
              wm = Math.max(wm, r.end);
            }
          }
          const got = runResults(create(c, ctx), results).map((s) => [s.key, s.identity, s.revision, s.observed, s.threshold]);
          expect(got).toEqual(reference(c, results));
        },
      ),
      { numRuns: 300 },
    );
  });
});

/** The documented semantics, recomputed from each key's full history of first emissions. */
function reference(c: Config, results: WindowResult[]): Array<[string, string, number, number, number]> {
  const history = new Map<string, Array<{ start: number; end: number; value: number }>>();
  const out: Array<[string, string, number, number, number]> = [];
  const judge = (r: WindowResult, x: number, prev: { start: number; end: number; value: number }) => {
    if (r.start - prev.end > c.maxGap || Math.abs(prev.value) < c.minPrevious) return;
    if (c.mode === 'relative' && prev.value === 0) return;
    const change = c.mode === 'relative' ? (x - prev.value) / Math.abs(prev.value) : x - prev.value;
    if (change >= c.value && c.direction !== 'down') out.push([r.key, `window:${r.start}:${r.end}`, r.revision, change, c.value]);
    else if (change <= -c.value && c.direction !== 'up') out.push([r.key, `window:${r.start}:${r.end}`, r.revision, change, -c.value]);
  };
  for (const r of results) {
    const x = r.values.logins;
    if (typeof x !== 'number') continue;
    const h = history.get(r.key) ?? [];
    history.set(r.key, h);
    if (r.revision === 0) {
      if (h.length > 0 && r.end <= h[h.length - 1].end) continue;
      if (h.length > 0) judge(r, x, h[h.length - 1]);
      h.push({ start: r.start, end: r.end, value: x });
    } else if (h.length >= 2 && h[h.length - 1].start === r.start && h[h.length - 1].end === r.end) {
      judge(r, x, h[h.length - 2]);
    }
  }
  return out;
}
