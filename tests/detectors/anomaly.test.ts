import { describe, expect, it } from 'vitest';
import { create, schema } from '../../detectors/anomaly.js';
import { AnomalyCore } from '../../detectors/anomaly-core.js';
import { collector, ctxOf, ev, refusals, result, runEvents, runResults, viaMsgpack } from '../helpers/detectors.js';
import type { VEvent, WindowResult } from '../../src/types.js';

const cfg = (over: Record<string, unknown> = {}) => schema.parse({ name: 'latency-anomaly', type: 'anomaly', field: 'v', ...over });

/** Two periodic series; `a` gets a spike at row 700. */
function events(): Array<[string, VEvent]> {
  const out: Array<[string, VEvent]> = [];
  for (let i = 0; i < 900; i++) {
    for (const key of ['a', 'b']) {
      const v = 50 + 10 * Math.sin((2 * Math.PI * i) / 48) + ((i * 31) % 7) / 2 + (key === 'a' && i === 700 ? 300 : 0);
      out.push([key, ev(i * 60_000, { v }, `${key}${i}`)]);
    }
  }
  return out;
}

describe('anomaly detector', () => {
  it('runs one model per key, as the core alone would, and explains its alerts', () => {
    const emit = collector();
    const core = create(cfg({ scores: true }), ctxOf({ keyLabel: 'service' }));
    const signals = runEvents(core, events(), emit);
    expect(signals.map((s) => [s.key, s.evidence])).toEqual([['a', ['a700']]]);
    const s = signals[0];
    expect(s.explanation).toMatch(/^latency-anomaly: v for service a was 3\d\d(\.\d+)? at 1970-01-01T11:40:00.000Z, unusual for this series: a (spike|level shift|change of pattern)\b.* where 99% of past \w+ stay within [\d.]+.* \(anomaly score [01]\.\d{3}, learnt from 701 observations\)\.$/);
    expect(s.details).toMatchObject({ field: 'v', observations: 701 });
    // What the dominant channel measured is far beyond what it usually measures.
    const d = s.details as { measured: number; usual: number; span: number };
    expect(d.measured).toBeGreaterThan(10 * d.usual);
    expect(d.span).toBeGreaterThanOrEqual(1);
    // Same outputs as a bare core fed key a's values.
    const bare = new AnomalyCore();
    const want = events().filter(([k]) => k === 'a').map(([, e]) => bare.update(e.time, e.payload.v as number).score);
    expect(emit.judgements.filter((x) => x.key === 'a').map((x) => x.score)).toEqual(want);
  });

  it('survives snapshot/restore bit for bit', () => {
    const all = events();
    const whole = create(cfg(), ctxOf());
    const expected = runEvents(whole, all);
    const first = create(cfg(), ctxOf());
    const head = runEvents(first, all.slice(0, 1111));
    const second = create(cfg(), ctxOf());
    second.restore(viaMsgpack(first.snapshot()));
    const tail = runEvents(second, all.slice(1111));
    expect([...head, ...tail]).toEqual(expected);
    expect(second.snapshot()).toEqual(whole.snapshot());
  });

  it('caps keys and forgets idle series', () => {
    const core = create(cfg({ maxKeys: 1, forgetAfter: 3_600_000 }), ctxOf());
    runEvents(core, [['a', ev(0, { v: 1 })], ['b', ev(1, { v: 1 })]]);
    expect(core.stats()).toEqual({ keys: 1, evicted: 1 });
    core.advance(2 * 3_600_000, collector());
    expect(core.stats().keys).toBe(0);
  });

  it('accepts overrides of known settings only', () => {
    expect(() => create(cfg({ settings: { suppressRows: 50 } }), ctxOf())).not.toThrow();
    const base = { name: 'latency-anomaly', type: 'anomaly', field: 'v' };
    expect(refusals(schema, { ...base, settings: { supressRows: 50 } })).toEqual([['settings.supressRows', expect.stringMatching(/^unknown setting "supressRows" \(known: warmupRows, suppressRows, /)]]);
  });

  it('refuses settings the model cannot run with, at the setting to change', () => {
    const base = { name: 'latency-anomaly', type: 'anomaly', field: 'v' };
    expect(refusals(schema, { ...base, settings: { historyRows: 1 } })).toEqual([['settings.historyRows', 'must be an integer >= 2 (got 1)']]);
    expect(refusals(schema, { ...base, settings: { levelWindows: 3 } })).toEqual([['settings.levelWindows', 'must be a list of integers in [1, 100000]']]);
    expect(refusals(schema, { ...base, settings: { warmupRows: [1] } })).toEqual([['settings.warmupRows', 'must be an integer >= 0 (got 1)']]);
    // Across the two quantiles, the one given is blamed, even when the default of the other is what it contradicts.
    expect(refusals(schema, { ...base, settings: { tailLowQuantile: 0.99 } })).toEqual([
      ['settings.tailLowQuantile', 'needs tailLowQuantile < tailHighQuantile < 1 (got 0.99 and 0.99)'],
    ]);
    expect(refusals(schema, { ...base, settings: { tailHighQuantile: 0.5 } })).toEqual([
      ['settings.tailHighQuantile', 'needs tailLowQuantile < tailHighQuantile < 1 (got 0.9 and 0.5)'],
    ]);
    expect(refusals(schema, { ...base, settings: { tailLowQuantile: 0.5, tailHighQuantile: 0.7 } })).toEqual([]);
  });
});

/** The same two series as window results of aggregate `n` (one-minute windows). */
function results(): WindowResult[] {
  return events().map(([key, e]) => result(key, e.time, e.time + 60_000, { n: e.payload.v as number }));
}

describe('anomaly detector on window results (aggregate)', () => {
  const agg = (over: Record<string, unknown> = {}) => schema.parse({ name: 'requests-anomaly', type: 'anomaly', aggregate: 'n', ...over });
  const windowed = ctxOf({ keyLabel: 'service', aggregates: ['n'], windowType: 'tumbling' });

  it('judges each key\'s aggregate as its series, as the event form judges the same values', () => {
    const emit = collector();
    const core = create(agg(), windowed);
    expect(core.input).toBe('result');
    const signals = runResults(core, results(), emit);
    expect(signals.map((s) => [s.key, s.time, s.identity, s.window])).toEqual([['a', 701 * 60_000, `window:${700 * 60_000}:${701 * 60_000}`, { start: 700 * 60_000, end: 701 * 60_000 }]]);
    expect(signals[0].explanation).toMatch(/^requests-anomaly: n for service a was 3\d\d(\.\d+)? in window \[1970-01-01T11:40:00.000Z, 1970-01-01T11:41:00.000Z\), unusual for this series: a (spike|level shift|change of pattern)\b/);
    expect(signals[0].details).toMatchObject({ aggregate: 'n', observations: 701 });
    const bare = new AnomalyCore();
    const want = events().filter(([k]) => k === 'a').map(([, e]) => bare.update(e.time, e.payload.v as number).score);
    expect(emit.judgements.filter((x) => x.key === 'a').map((x) => x.score)).toEqual(want);
    expect(emit.judgements[0].ref).toBe('window:0:60000');
  });

  it('skips revisions and windows without a number, and survives snapshot/restore', () => {
    const all = results();
    const late = { ...all[1500], revision: 1, values: { n: 1e9 } };
    const blank = { ...all[1501], values: { n: null } };
    const emit = collector();
    const core = create(agg(), windowed);
    runResults(core, [...all.slice(0, 1500), late, blank], emit);
    expect(emit.judgements).toHaveLength(1500);
    const whole = create(agg(), windowed);
    const expected = runResults(whole, all);
    const first = create(agg(), windowed);
    const head = runResults(first, all.slice(0, 1111));
    const second = create(agg(), windowed);
    second.restore(viaMsgpack(first.snapshot()));
    expect([...head, ...runResults(second, all.slice(1111))]).toEqual(expected);
  });

  it('needs exactly one of field and aggregate, an aggregate of the pipeline, and match only with field', () => {
    const base = { name: 'd', type: 'anomaly' };
    expect(refusals(schema, base)).toEqual([['field', expect.stringMatching(/^give `field` .* or `aggregate`/)]]);
    expect(refusals(schema, { ...base, field: 'v', aggregate: 'n' })).toEqual([['aggregate', expect.stringMatching(/^give either `field` or `aggregate`, not both/)]]);
    expect(refusals(schema, { ...base, aggregate: 'n', match: { status: 500 } })).toEqual([['match', expect.stringMatching(/^match filters events/)]]);
    expect(() => create(agg({ aggregate: 'missing' }), windowed)).toThrow(/aggregate "missing" is not defined in pipeline "p"/);
    expect(() => create(agg(), ctxOf())).toThrow(/needs window results/);
  });
});
