import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { schema, create } from '../../detectors/ratio.js';
import { OPS, boundScore, crosses } from '../../detectors/common.js';
import { collector, ctxOf, result, runResults, viaJson, viaMsgpack } from '../helpers/detectors.js';
import type { WindowResult } from '../../src/types.js';

const MIN = 60_000;
const cfg = (over: Record<string, unknown> = {}) =>
  schema.parse({ name: 'error-rate', type: 'ratio', numerator: 'errors', denominator: 'requests', value: 0.2, ...over });
const ctx = ctxOf({ keyLabel: 'service', aggregates: ['errors', 'requests'], windowType: 'tumbling' });

describe('ratio detector', () => {
  it('signals when numerator / denominator reaches the bound, explained with both counts', () => {
    const core = create(cfg(), ctx);
    const s = runResults(core, [result('api', 0, 5 * MIN, { errors: 62, requests: 200 }, 200), result('web', 0, 5 * MIN, { errors: 10, requests: 200 }, 200)]);
    expect(s).toHaveLength(1);
    expect(s[0]).toMatchObject({
      key: 'api',
      time: 5 * MIN,
      identity: 'window:0:300000',
      revision: 0,
      window: { start: 0, end: 5 * MIN },
      observed: 0.31,
      threshold: 0.2,
      score: 1.55,
      evidence: ['e300000'],
    });
    expect(s[0].details).toEqual({ numerator: 'errors', denominator: 'requests', numeratorValue: 62, denominatorValue: 200, op: '>=', count: 200 });
    expect(s[0].explanation).toBe(
      'error-rate: errors/requests for service api was 0.31 (62 of 200) in window [1970-01-01T00:00:00.000Z, 1970-01-01T00:05:00.000Z), ' +
        'at or above the bound 0.2 (200 events: e300000 and 199 more).',
    );
  });

  it('is inclusive at the bound with >= and exclusive with >', () => {
    const r = [result('api', 0, MIN, { errors: 20, requests: 100 })];
    expect(runResults(create(cfg(), ctx), r)).toHaveLength(1);
    expect(runResults(create(cfg({ op: '>' }), ctx), r)).toHaveLength(0);
  });

  it('judges falls with < (acceptance rate)', () => {
    const core = create(cfg({ name: 'acceptance', numerator: 'accepted', denominator: 'attempts', op: '<', value: 0.5 }), ctxOf({ aggregates: ['accepted', 'attempts'], windowType: 'tumbling' }));
    const s = runResults(core, [result('m', 0, MIN, { accepted: 30, attempts: 40 }), result('m', MIN, 2 * MIN, { accepted: 10, attempts: 40 })]);
    expect(s.map((x) => [x.time, x.observed, x.score])).toEqual([[2 * MIN, 0.25, 2]]);
    expect(s[0].explanation).toContain('below the bound 0.5');
  });

  it('needs minVolume in the denominator, a positive denominator and numbers', () => {
    const core = create(cfg({ minVolume: 50 }), ctx);
    const s = runResults(core, [
      result('a', 0, MIN, { errors: 10, requests: 49 }),
      result('b', 0, MIN, { errors: 10, requests: 50 }),
      result('c', 0, MIN, { errors: null, requests: 100 }),
      result('d', 0, MIN, { errors: 50, requests: null }),
    ]);
    expect(s.map((x) => x.key)).toEqual(['b']);
    const dflt = create(cfg(), ctx);
    expect(runResults(dflt, [result('z', 0, MIN, { errors: 3, requests: 0 }), result('y', 0, MIN, { errors: 1, requests: 0.5 })])).toEqual([]);
    expect(() => cfg({ minVolume: 0 })).toThrow();
  });

  it('judges revisions on their own, saying so', () => {
    const core = create(cfg(), ctx);
    const rev: WindowResult = { ...result('api', 0, MIN, { errors: 30, requests: 100 }, 100), revision: 2, kind: 'update' };
    const s = runResults(core, [result('api', 0, MIN, { errors: 10, requests: 90 }, 90), rev]);
    expect(s).toHaveLength(1);
    expect(s[0]).toMatchObject({ revision: 2, identity: 'window:0:60000', observed: 0.3 });
    expect(s[0].explanation).toContain('(revision 2, after late events), at or above the bound 0.2');
  });

  it('uses the triggering event as identity and an inclusive end for sliding windows', () => {
    const core = create(cfg(), ctxOf({ aggregates: ['errors', 'requests'], windowType: 'sliding' }));
    const s = runResults(core, [{ ...result('api', 0, MIN, { errors: 5, requests: 10 }), trigger: 'ev9' }]);
    expect(s[0].identity).toBe('event:ev9');
    expect(s[0].explanation).toContain('1970-01-01T00:01:00.000Z]');
  });

  it('refuses aggregates the pipeline does not define, and pipelines without a window', () => {
    expect(() => create(cfg({ denominator: 'nope' }), ctx)).toThrow(/aggregate "nope" is not defined in pipeline "p"/);
    expect(() => create(cfg({ numerator: 'nope' }), ctx)).toThrow(/aggregate "nope"/);
    expect(() => create(cfg(), ctxOf({ aggregates: ['errors', 'requests'] }))).toThrow(/has no window/);
  });

  it('keeps no state: snapshot round trips, garbage is refused', () => {
    const core = create(cfg(), ctx);
    runResults(core, [result('api', 0, MIN, { errors: 62, requests: 200 })]);
    expect(core.stats()).toEqual({ keys: 0, evicted: 0 });
    const fresh = create(cfg(), ctx);
    fresh.restore(viaMsgpack(core.snapshot()));
    fresh.restore(viaJson(core.snapshot()));
    expect(fresh.snapshot()).toEqual(core.snapshot());
    expect(() => fresh.restore({ keys: [] })).toThrow(/bad snapshot/);
  });

  it('survives snapshot/restore mid-stream with identical signals', () => {
    const results: WindowResult[] = [];
    for (let i = 0; i < 120; i++) results.push(result(`s${i % 5}`, i * MIN, (i + 1) * MIN, { errors: (i * 7) % 23, requests: 10 + ((i * 11) % 60) }, 10));
    const whole = create(cfg(), ctx);
    const expected = runResults(whole, results);
    expect(expected.length).toBeGreaterThan(5);
    const first = create(cfg(), ctx);
    const head = runResults(first, results.slice(0, 60));
    const second = create(cfg(), ctx);
    second.restore(viaMsgpack(first.snapshot()));
    const tail = runResults(second, results.slice(60));
    expect([...head, ...tail]).toEqual(expected);
    expect(second.snapshot()).toEqual(whole.snapshot());
  });

  it('matches a naive recomputation of every ratio (property)', () => {
    const num = fc.option(fc.integer({ min: -5, max: 100 }), { freq: 8 });
    const den = fc.option(fc.integer({ min: -5, max: 100 }), { freq: 8 });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('a', 'b'), num, den), { maxLength: 50 }),
        fc.constantFrom(...OPS),
        fc.constantFrom(0, 0.1, 0.25, 0.5, 1, 2),
        fc.constantFrom(0.5, 1, 5, 20),
        (rows, op, value, minVolume) => {
          const results = rows.map(([k, n, d], i) => result(k, i * MIN, (i + 1) * MIN, { errors: n, requests: d }));
          const emit = collector();
          const core = create(cfg({ op, value, minVolume }), ctx);
          for (const r of results) core.addResults?.([r], emit);
          const want = results
            .filter((r) => {
              const n = r.values.errors;
              const d = r.values.requests;
              return typeof n === 'number' && typeof d === 'number' && d > 0 && d >= minVolume && crosses(op, n / d, value);
            })
            .map((r) => [r.key, r.start, (r.values.errors as number) / (r.values.requests as number)]);
          expect(emit.signals.map((s) => [s.key, s.window?.start, s.observed])).toEqual(want);
          for (const s of emit.signals) expect(s.score).toBe(boundScore(op, s.observed, value));
        },
      ),
      { numRuns: 300 },
    );
  });
});
