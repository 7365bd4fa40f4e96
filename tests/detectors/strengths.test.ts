/**
 * Every detector reports each input it judges once, with a signed strength comparable across
 * detectors (docs/strengths.md): 0 nothing unusual, 1 at the bound, >= 1 exactly when the detector
 * signals (with the exceptions the doc lists), negative when unusual the other way.
 */
import { describe, it, expect } from 'vitest';
import { collector, ctxOf, ev, result, runEvents, runResults } from '../helpers/detectors.js';
import * as velocity from '../../detectors/velocity.js';
import * as distinct from '../../detectors/distinct.js';
import * as firstSeen from '../../detectors/first-seen.js';
import * as geoVelocity from '../../detectors/geo-velocity.js';
import * as sequence from '../../detectors/sequence.js';
import * as outlier from '../../detectors/outlier.js';
import * as anomaly from '../../detectors/anomaly.js';
import * as threshold from '../../detectors/threshold.js';
import * as ratio from '../../detectors/ratio.js';
import * as rateOfChange from '../../detectors/rate-of-change.js';
import * as baseline from '../../detectors/baseline.js';
import * as score from '../../detectors/score.js';
import { DETECTORS, detectorSchema, type DetectorConfig } from '../../detectors/index.js';
import { DetectorSet, type Outputs, type RuntimeContext } from '../../detectors/runtime.js';
import { boundStrength, directedStrength } from '../../detectors/common.js';
import type { DetectorContext, DetectorCore, Emit, Score, Signal } from '../../detectors/types.js';
import type { VEvent, WindowResult } from '../../src/types.js';

const MIN = 60_000;
const HOUR = 3_600_000;

type Module = { schema: { parse(v: unknown): unknown }; create(c: never, ctx: DetectorContext): DetectorCore };
function make(m: Module & { type: string }, over: Record<string, unknown>, ctx = ctxOf()): DetectorCore {
  return m.create(m.schema.parse({ name: 'd', type: m.type, ...over }) as never, ctx);
}

/** One judgement per judged input, and strength >= 1 exactly on the inputs that signalled. */
function expectExact(judgements: Score[], signals: Signal[], judged: number): void {
  expect(judgements).toHaveLength(judged);
  for (const j of judgements) {
    expect(Number.isFinite(j.strength)).toBe(true);
    expect([j.ref, (j.strength as number) >= 1]).toEqual([j.ref, j.anomalous]);
  }
  const flagged = judgements.filter((j) => j.anomalous).map((j) => j.ref);
  expect(signals.map((s) => s.identity.replace(/^event:/, ''))).toEqual(flagged);
}

const strengths = (js: Score[]) => js.map((j) => j.strength as number);
const at = (ms: number, payload: Record<string, unknown>, key = 'k'): [string, VEvent] => [key, ev(ms, payload)];

describe('strengths of event detectors', () => {
  it('velocity: count / bound, judged on every matching event', () => {
    const emit = collector();
    const core = make(velocity, { lookback: '10m', value: 3, cooldown: 0, match: { type: 'pay' } });
    const events = [0, 1, 2, 3, 30].map((m) => at(m * MIN, { type: 'pay' }));
    events.splice(2, 0, at(90_000, { type: 'login' }));
    const signals = runEvents(core, events, emit);
    expectExact(emit.judgements, signals, 5);
    expect(strengths(emit.judgements)).toEqual([1 / 3, 2 / 3, 1, 4 / 3, 1 / 3]);
    expect(emit.judgements.map((j) => [j.observed, j.score])).toEqual([[1, 1 / 3], [2, 2 / 3], [3, 1], [4, 4 / 3], [1, 1 / 3]]);
  });

  it('velocity with a lower bound (<=): strength grows as the count falls, 1 at the bound', () => {
    const emit = collector();
    const signals = runEvents(make(velocity, { lookback: '10m', op: '<=', value: 2, cooldown: 0 }), [0, 1, 2, 3].map((m) => at(m * MIN, {})), emit);
    expectExact(emit.judgements, signals, 4);
    expect(strengths(emit.judgements)).toEqual([1.5, 1, 0.5, 0]);
  });

  it('distinct: distinct count / bound', () => {
    const emit = collector();
    const events = ['a', 'b', 'b', 'c', 'd'].map((v, i) => at(i * MIN, { card: v }));
    const signals = runEvents(make(distinct, { field: 'card', lookback: '1h', value: 3 }), events, emit);
    expectExact(emit.judgements, signals, 5);
    expect(strengths(emit.judgements)).toEqual([1 / 3, 2 / 3, 2 / 3, 1, 4 / 3]);
  });

  it('first-seen: 1 for a new value, 0 for a known one; not judged in the warm-up', () => {
    const emit = collector();
    const events = ['a', 'b', 'a', 'c', 'b', 'c'].map((v, i) => at(i * MIN, { device: v }));
    const signals = runEvents(make(firstSeen, { field: 'device', minHistory: 2 }), events, emit);
    expectExact(emit.judgements, signals, 4);
    expect(strengths(emit.judgements)).toEqual([0, 1, 0, 0]);
    expect(emit.judgements.map((j) => j.ref)).toEqual(['e120000', 'e180000', 'e240000', 'e300000']);
  });

  it('geo-velocity: speed / maxSpeedKmh; 0 for pairs closer than minDistanceKm; an instant move is past the bound', () => {
    const emit = collector();
    const paris = { lat: 48.8566, lon: 2.3522 };
    const lyon = { lat: 45.764, lon: 4.8357 }; // about 392 km from Paris
    const versailles = { lat: 48.8049, lon: 2.1204 }; // about 18 km
    const events = [at(0, paris), at(HOUR, versailles), at(2 * HOUR, paris), at(3 * HOUR, lyon), at(3 * HOUR + 10 * MIN, paris), at(3 * HOUR + 10 * MIN, lyon)];
    const signals = runEvents(make(geoVelocity, { maxSpeedKmh: 900 }), events, emit);
    expectExact(emit.judgements, signals, 5);
    const s = strengths(emit.judgements);
    expect(s[0]).toBe(0);
    expect(s[1]).toBe(0);
    expect(s[2]).toBeCloseTo(391.5 / 900, 2);
    expect(s[3]).toBeCloseTo((391.5 * 6) / 900, 2);
    expect(s[4]).toBeGreaterThan(1);
    expect(emit.judgements[0].observed).toBeCloseTo(18, 0);
  });

  it('sequence: the share of the steps completed by the most advanced partial match', () => {
    const emit = collector();
    const steps = [
      { name: 'login', match: { type: 'login' } },
      { name: 'change', match: { type: 'change' } },
      { name: 'transfer', match: { type: 'transfer' } },
    ];
    const events = ['transfer', 'login', 'other', 'change', 'login', 'transfer', 'other'].map((type, i) => at(i * MIN, { type }));
    const signals = runEvents(make(sequence, { steps, within: '1h' }), events, emit);
    expectExact(emit.judgements, signals, 7);
    expect(strengths(emit.judgements)).toEqual([0, 1 / 3, 1 / 3, 2 / 3, 2 / 3, 1, 0]);
  });

  it('outlier: directed z / value, negative below the usual value when watching up', () => {
    const usual = [50, 52, 48, 51, 49, 50, 53, 47, 50, 51];
    for (const direction of ['up', 'down', 'both'] as const) {
      const emit = collector();
      const events = [...usual, 50, 500, 2, 50].map((amount, i) => at(i * MIN, { amount }));
      const signals = runEvents(make(outlier, { field: 'amount', direction, history: 50 }), events, emit);
      expectExact(emit.judgements, signals, 4);
      const [normal, high, low] = strengths(emit.judgements);
      expect(Math.abs(normal)).toBeLessThan(0.2);
      if (direction === 'up') expect([high > 1, low < -1]).toEqual([true, true]);
      if (direction === 'down') expect([high < -1, low > 1]).toEqual([true, true]);
      if (direction === 'both') expect([high > 1, low > 1]).toEqual([true, true]);
    }
  });

  it('anomaly: score scaled so that the alert probability gives 1; every finite value judged; an alert is past 1', () => {
    const emit = collector();
    const events: Array<[string, VEvent]> = [];
    for (let i = 0; i < 400; i++) events.push(at(i * MIN, { v: i === 350 ? 400 : 100 + ((i * 37) % 11) }));
    events.push(at(400 * MIN, { v: 'x' }));
    const signals = runEvents(make(anomaly, { field: 'v' }), events, emit);
    expect(emit.judgements).toHaveLength(400);
    expect(signals).toHaveLength(1);
    const flagged = emit.judgements.filter((j) => j.anomalous);
    expect(flagged.map((j) => j.ref)).toEqual(['e21000000']);
    // Default alertProbability 1e-3: strength = score * 10 / 3.
    for (const j of emit.judgements) expect(j.strength).toBeCloseTo((j.score * 10) / 3, 12);
    expect(flagged[0].strength).toBeGreaterThan(1);
    expect(emit.judgements.slice(200, 340).every((j) => (j.strength as number) < 1)).toBe(true);
  });
});

describe('strengths of result detectors', () => {
  const ctx = ctxOf({ aggregates: ['n', 'errors'], windowType: 'tumbling' });
  const r = (i: number, values: Record<string, number | null>, count = 1): WindowResult => result('k', i * HOUR, (i + 1) * HOUR, values, count);

  it('threshold: observed / bound, one judgement per result with the window as ref; minCount and missing values are not judged', () => {
    const emit = collector();
    const rs = [r(0, { n: 5 }), r(1, { n: 10 }), r(2, { n: 20 }), r(3, { n: null }), r(4, { n: 50 }, 0)];
    const signals = runResults(make(threshold, { aggregate: 'n', value: 10, minCount: 1 }, ctx), rs, emit);
    expectExact(emit.judgements, signals, 3);
    expect(strengths(emit.judgements)).toEqual([0.5, 1, 2]);
    expect(emit.judgements[0]).toMatchObject({ ref: `window:0:${HOUR}`, time: HOUR, observed: 5, score: 0.5 });
  });

  it('ratio: ratio / bound, judged once the denominator has the volume', () => {
    const emit = collector();
    const rs = [r(0, { errors: 1, n: 100 }), r(1, { errors: 30, n: 100 }), r(2, { errors: 5, n: 5 }), r(3, { errors: 20, n: 100 })];
    const signals = runResults(make(ratio, { numerator: 'errors', denominator: 'n', value: 0.2, minVolume: 10 }, ctx), rs, emit);
    expectExact(emit.judgements, signals, 3);
    const s = strengths(emit.judgements);
    expect(s[0]).toBeCloseTo(0.05, 12);
    expect(s[1]).toBeCloseTo(1.5, 12);
    expect(s[2]).toBe(1);
  });

  it('rate-of-change: change / value, negative for a change the other way than watched', () => {
    const emit = collector();
    const rs = [100, 150, 300, 60, 66].map((n, i) => r(i, { n }));
    const signals = runResults(make(rateOfChange, { aggregate: 'n', direction: 'up', value: 1 }, ctx), rs, emit);
    expectExact(emit.judgements, signals, 4);
    expect(strengths(emit.judgements).map((x) => Number(x.toFixed(9)))).toEqual([0.5, 1, -0.8, 0.1]);
    const both = collector();
    runResults(make(rateOfChange, { aggregate: 'n', direction: 'both', value: 0.5 }, ctx), rs, both);
    expect(strengths(both.judgements).map((x) => Number(x.toFixed(9)))).toEqual([1, 2, 1.6, 0.2]);
    expect(both.judgements.map((j) => j.anomalous)).toEqual([true, true, true, false]);
  });

  it('baseline: z / value, signed by the watched direction; not judged in the warm-up', () => {
    const steady = Array.from({ length: 12 }, (_, i) => 100 + ((i * 7) % 5) - 2);
    const last = (direction: string, x: number) => {
      const emit = collector();
      const rs = [...steady, 101, x].map((n, i) => r(i, { n }));
      const signals = runResults(make(baseline, { aggregate: 'n', direction, minSamples: 10 }, ctx), rs, emit);
      expectExact(emit.judgements, signals, 4);
      const [, , normal, judged] = strengths(emit.judgements);
      expect(Math.abs(normal)).toBeLessThan(0.5);
      return judged;
    };
    expect([last('up', 200) > 1, last('up', 10) < -1]).toEqual([true, true]);
    expect([last('down', 200) < -1, last('down', 10) > 1]).toEqual([true, true]);
    expect([last('both', 200) > 1, last('both', 10) > 1]).toEqual([true, true]);
  });
});

describe('strength of the score detector', () => {
  it('risk against the bound on every input signal; at or past it while it stays there, though it signals on crossing only', () => {
    const emit = collector();
    const core = make(score, { within: '1h', value: 50, inputs: [{ detector: 'a', weight: 30 }, { detector: 'b', weight: 30 }, { detector: 'c', weight: -40 }] });
    const sig = (t: number, detector: string): [string, VEvent] => ['k', { time: t, id: `event:${detector}@${t}`, partition: 0, offset: 0, source: 'signal', payload: { detector, observed: 1, score: 1, evidence: [] } }];
    const signals = runEvents(core, [sig(0, 'a'), sig(1, 'b'), sig(2, 'b'), sig(3, 'c')], emit);
    expect(emit.judgements).toHaveLength(4);
    expect(strengths(emit.judgements)).toEqual([0.6, 1.2, 1.2, 0.4]);
    expect(emit.judgements.map((j) => j.anomalous)).toEqual([false, true, true, false]);
    expect(emit.judgements.map((j) => j.ref)).toEqual(['event:a@0', 'event:b@1', 'event:b@2', 'event:c@3']);
    expect(signals.map((s) => s.time)).toEqual([1]);
  });
});

describe('strength helpers', () => {
  it('boundStrength: 1 at the bound, below 1 short of it despite rounding, monotone in the direction of the bound', () => {
    expect(boundStrength('>=', 10, 10)).toBe(1);
    expect(boundStrength('>=', 10 - 1e-15, 10)).toBeLessThan(1);
    expect(boundStrength('>', 0, 0)).toBe(1);
    expect(boundStrength('>', -100, -100)).toBe(1);
    expect(boundStrength('>', 0, -100)).toBe(2);
    expect(boundStrength('<', 0, 5)).toBe(2);
    expect(boundStrength('<', 10, 5)).toBe(0);
    expect(boundStrength('>=', Infinity, 1)).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('directedStrength: signed by the watched direction, |d| / value for both, below 1 short of the bound', () => {
    expect([directedStrength('up', -8, 4), directedStrength('down', -8, 4), directedStrength('both', -8, 4)]).toEqual([-2, 2, 2]);
    expect(directedStrength('up', 4 - 1e-15, 4)).toBeLessThan(1);
    expect(directedStrength('down', -Infinity, 4)).toBe(Number.MAX_SAFE_INTEGER);
  });
});

describe('judgements in the runtime', () => {
  const rctx: RuntimeContext = { pipeline: 'p', keyLabel: 'user', aggregates: ['n'], windowType: 'tumbling', evidenceLimit: 5, configVersion: 'v1', detectionTime: (w) => w };
  const outputs = (): Outputs => ({ alerts: [], shadowAlerts: [], scores: [], queue: [] });
  const parse = (c: Record<string, unknown>) => detectorSchema.parse(c);

  it('publishes on `scores` the judgements of the detectors with scores: true only, with their names, refs and strengths', () => {
    const set = new DetectorSet(
      [
        parse({ name: 'burst', type: 'velocity', lookback: '10m', value: 2, cooldown: 0, scores: true }),
        parse({ name: 'quiet', type: 'velocity', lookback: '10m', value: 2, cooldown: 0 }),
        parse({ name: 'big', type: 'threshold', aggregate: 'n', value: 4, scores: true }),
      ],
      rctx,
    );
    const out = outputs();
    set.offer('u', ev(0, { user: 'u' }, 'a1'), out);
    set.offer('u', ev(MIN, { user: 'u' }, 'a2'), out);
    set.advance(2 * MIN, out);
    set.onResults([{ ...result('u', 0, HOUR, { n: 8 }), watermark: HOUR }], out);
    expect(out.scores.map((s) => [s.detector, s.key, s.ref, s.observed, s.score, s.strength, s.anomalous])).toEqual([
      ['burst', 'u', 'a1', 1, 0.5, 0.5, false],
      ['burst', 'u', 'a2', 2, 1, 1, true],
      ['big', 'u', `window:0:${HOUR}`, 8, 2, 2, true],
    ]);
    expect(out.scores.every((s) => s.pipeline === 'p')).toBe(true);
    expect(out.alerts.map((a) => a.detector)).toEqual(['burst', 'quiet', 'big']);
  });

  it('a detector declared after another reads its strength for the same event through ctx.peers (NaN when it did not judge it)', () => {
    const seen: Array<[string, number, number]> = [];
    const probe = {
      type: 'strength-probe',
      schema: detectorSchema,
      create: (_c: unknown, ctx: DetectorContext): DetectorCore => {
        const peers = ctx.peers;
        return {
          input: 'event',
          add: (_key: string, e: VEvent, _emit: Emit) => {
            const i = peers?.index('burst') as number;
            seen.push([e.id as string, peers?.strength(i) as number, peers?.observed(i) as number]);
          },
          advance: () => {},
          stats: () => ({ keys: 0, evicted: 0 }),
          snapshot: () => null,
          restore: () => {},
        };
      },
    };
    const registry = DETECTORS as Map<string, unknown>;
    registry.set(probe.type, probe);
    try {
      const probeConfig = { name: 'probe', type: probe.type, severity: 'low', cooldown: 0, emit: true, shadow: false, maxKeys: 10, scores: false } as unknown as DetectorConfig;
      const set = new DetectorSet([parse({ name: 'burst', type: 'velocity', lookback: '10m', value: 4, match: { kind: 'pay' } }), probeConfig], rctx);
      const out = outputs();
      set.offer('u', ev(0, { kind: 'pay' }, 'a1'), out);
      set.offer('u', ev(1, { kind: 'pay' }, 'a2'), out);
      set.offer('u', ev(2, { kind: 'login' }, 'a3'), out);
      set.advance(10, out);
      expect(seen.map(([id]) => id)).toEqual(['a1', 'a2', 'a3']);
      expect(seen.slice(0, 2).map(([, s, o]) => [s, o])).toEqual([
        [0.25, 1],
        [0.5, 2],
      ]);
      expect(Number.isNaN(seen[2][1]) && Number.isNaN(seen[2][2])).toBe(true);
    } finally {
      registry.delete(probe.type);
    }
  });
});
