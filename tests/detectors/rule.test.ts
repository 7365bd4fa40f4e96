import { describe, expect, it } from 'vitest';
import { create, schema } from '../../detectors/rule.js';
import type { Signal } from '../../detectors/types.js';
import { Engine } from '../../src/engine/engine.js';
import { memorySource } from '../../src/sources/memory.js';
import { collectSink, config } from '../helpers/collect.js';
import { collector, ctxOf, ev, refusals, runEvents } from '../helpers/detectors.js';

const cfg = (over: Record<string, unknown> = {}) => schema.parse({ name: 'big-amount', type: 'rule', when: { amount: { '>': 220 } }, ...over });
const T = Date.UTC(2026, 0, 1);

/** Which of `payloads` the rule signals (their indices). */
function fired(when: Record<string, unknown>, payloads: Array<Record<string, unknown>>, over: Record<string, unknown> = {}): number[] {
  const s = runEvents(create(cfg({ when, ...over }), ctxOf()), payloads.map((p, i) => ['k', ev(T + i, p, `e${i}`)]));
  return s.map((x) => Number(x.identity.slice('event:e'.length)));
}

describe('rule detector', () => {
  it('describes every option and refuses conditions that make no sense', () => {
    for (const [k, f] of Object.entries(schema.shape)) if (k !== 'type') expect(f.description, k).toBeTruthy();
    expect(cfg()).toMatchObject({ mode: 'all', scores: false, cooldown: 900_000 });
    const base = { name: 'r', type: 'rule' };
    expect(refusals(schema, { ...base, when: {} })).toEqual([['when', 'give at least one field condition']]);
    expect(refusals(schema, { ...base, when: { amount: {} } })).toEqual([['when.amount', 'give at least one of >, >=, <, <=, ==, !=, in, exists']]);
    expect(refusals(schema, { ...base, when: { amount: { '>': 'x' } } }).map(([p]) => p)).toEqual(['when.amount.>']);
    expect(refusals(schema, { ...base, when: { amount: { '=>': 3 } } })).toContainEqual(['when.amount', expect.stringContaining('=>')]);
    expect(refusals(schema, { ...base, when: { country: { in: [] } } }).map(([p]) => p)).toEqual(['when.country.in']);
    expect(refusals(schema, { ...base, when: { amount: { '>': Infinity } } }).map(([p]) => p)).toEqual(['when.amount.>']);
    expect(refusals(schema, { ...base, when: { amount: { '>': 1 } }, mode: 'some' }).map(([p]) => p)).toEqual(['mode']);
    expect(refusals(schema)).not.toEqual([]);
    expect(refusals(schema, { ...base })).not.toEqual([]);
  });

  it('judges each operator', () => {
    const amounts = [100, 220, 221, 'x', undefined].map((amount) => (amount === undefined ? {} : { amount }));
    expect(fired({ amount: { '>': 220 } }, amounts)).toEqual([2]);
    expect(fired({ amount: { '>=': 220 } }, amounts)).toEqual([1, 2]);
    expect(fired({ amount: { '<': 220 } }, amounts)).toEqual([0]);
    expect(fired({ amount: { '<=': 220 } }, amounts)).toEqual([0, 1]);
    expect(fired({ amount: { '>': 100, '<': 221 } }, amounts)).toEqual([1]);
    const countries = [{ country: 'FR' }, { country: 'DE' }, { country: 'fr' }, {}, { country: null }, { country: 1 }];
    expect(fired({ country: { '==': 'FR' } }, countries)).toEqual([0]);
    expect(fired({ country: { '!=': 'FR' } }, countries)).toEqual([1, 2, 3, 4, 5]);
    expect(fired({ country: { in: ['FR', 'DE', 1] } }, countries)).toEqual([0, 1, 5]);
    expect(fired({ country: { exists: true } }, countries)).toEqual([0, 1, 2, 5]);
    expect(fired({ country: { exists: false } }, countries)).toEqual([3, 4]);
    // Values compare as they are: the number 1 is not the string "1".
    expect(fired({ n: { '==': 1 } }, [{ n: 1 }, { n: '1' }, { n: true }])).toEqual([0]);
  });

  it('needs every condition with `all`, one with `any`', () => {
    const when = { amount: { '>': 220 }, country: { in: ['RU', 'KP'] } };
    const payloads = [{ amount: 300, country: 'FR' }, { amount: 300, country: 'RU' }, { amount: 10, country: 'KP' }, { amount: 10, country: 'FR' }];
    expect(fired(when, payloads)).toEqual([1]);
    expect(fired(when, payloads, { mode: 'any' })).toEqual([0, 1, 2]);
  });

  it('treats a missing or non-numeric field as a false numeric condition, not an error', () => {
    const payloads = [{}, { amount: '300' }, { amount: NaN }, { amount: Infinity }, { amount: null }, { amount: [300] }, { amount: 300 }];
    expect(fired({ amount: { '>': 220 } }, payloads)).toEqual([6]);
    expect(fired({ amount: { '<': 220 } }, payloads)).toEqual([]);
  });

  it('signals with the first numeric condition that holds: observed, bound, score; explanation and evidence name the event', () => {
    const core = create(cfg({ when: { country: { in: ['FR'] }, amount: { '>': 200 } } }), ctxOf({ keyLabel: 'card' }));
    const s = runEvents(core, [['4242', ev(T, { amount: 300, country: 'FR' }, 'p1')]]);
    expect(s).toEqual<Signal[]>([
      {
        key: '4242',
        time: T,
        identity: 'event:p1',
        revision: 0,
        window: null,
        observed: 300,
        threshold: 200,
        score: 1.5,
        explanation: 'big-amount: card 4242 at 2026-01-01T00:00:00.000Z: country FR (one of FR) and amount 300 (above 200).',
        evidence: ['p1'],
        details: { mode: 'all', conditions: [{ field: 'country', op: 'in', value: 'FR' }, { field: 'amount', op: '>', value: 300 }] },
      },
    ]);
    // `any`: the condition that held decides; without a numeric one, observed 1, bound 1, score 1.
    const any = create(cfg({ mode: 'any', when: { amount: { '>': 1000, '<': 0 }, country: { '==': 'RU' }, v: { '<=': 10 } } }), ctxOf());
    const [a, b] = runEvents(any, [
      ['k', ev(T, { amount: 5, country: 'RU', v: 4 }, 'x')],
      ['k', ev(T + 1, { amount: 5, country: 'RU' }, 'y')],
    ]);
    expect([a.observed, a.threshold, a.score]).toEqual([4, 10, 2.5]);
    expect(a.explanation).toBe('big-amount: key k at 2026-01-01T00:00:00.000Z: country RU; v 4 (at or below 10).');
    expect([b.observed, b.threshold, b.score]).toEqual([1, 1, 1]);
  });

  it('names the fields an alert may not show, without their values', () => {
    const when = { amount: { '>=': 100 }, country: { '==': 'FR' }, iban: { exists: true }, mcc: { '!=': 7995 }, tier: { in: ['gold'] } };
    const core = create(cfg({ when }), ctxOf({ mayShow: (f) => f === 'amount' }));
    const [s] = runEvents(core, [['k', ev(T, { amount: 150, country: 'FR', iban: 'FR7612345', mcc: 5411, tier: 'gold' }, 'p')]]);
    expect(s.explanation).toBe(
      'big-amount: key k at 2026-01-01T00:00:00.000Z: amount 150 (at or above 100) and country equal to the value required and iban present and mcc (not 7995) and tier one of gold.',
    );
    for (const secret of ['FR7612345', '5411']) expect(s.explanation).not.toContain(secret);
    expect(JSON.stringify(s.details)).not.toMatch(/FR7612345|5411|"FR"/);
    expect(s.details).toMatchObject({ conditions: [{ field: 'amount', op: '>=', value: 150 }, { field: 'country', op: '==' }, { field: 'iban', op: 'exists' }, { field: 'mcc', op: '!=' }, { field: 'tier', op: 'in' }] });
  });

  it('reports every judged event: the strength of the first numeric condition, or 1/0', () => {
    const emit = collector();
    runEvents(create(cfg({ when: { amount: { '>': 200 }, country: { '==': 'FR' } } }), ctxOf()), [
      ['k', ev(T, { amount: 100, country: 'FR' })],
      ['k', ev(T + 1, { amount: 300, country: 'FR' })],
      ['k', ev(T + 2, { amount: 300, country: 'DE' })],
      ['k', ev(T + 3, { country: 'FR' })],
    ], emit);
    expect(emit.judgements.map((j) => [j.observed, j.strength, j.anomalous])).toEqual([
      [100, 0.5, false],
      [300, 1.5, true],
      [300, 1.5, false],
      [0, 0, false],
    ]);
    const plain = collector();
    runEvents(create(cfg({ when: { country: { '==': 'FR' } } }), ctxOf()), [['k', ev(T, { country: 'FR' })], ['k', ev(T + 1, { country: 'DE' })]], plain);
    expect(plain.judgements.map((j) => [j.observed, j.strength, j.anomalous])).toEqual([
      [1, 1, true],
      [0, 0, false],
    ]);
  });

  it('judges only the events its `match` selects, and has no state', () => {
    const emit = collector();
    const core = create(cfg({ match: { kind: 'payment' } }), ctxOf());
    const s = runEvents(core, [['k', ev(T, { kind: 'refund', amount: 900 })], ['k', ev(T + 1, { kind: 'payment', amount: 900 }, 'p')]], emit);
    expect(s.map((x) => x.identity)).toEqual(['event:p']);
    expect(emit.judgements).toHaveLength(1);
    expect(core.snapshot()).toBeNull();
    core.restore(null);
    expect(core.stats()).toEqual({ keys: 0, evicted: 0 });
  });

  it('raises alerts in a pipeline, each naming its triggering event, with cooldown and scores', async () => {
    const yaml = `
time: { maxOutOfOrderness: 0 }
sources: [{ name: in, type: stdin }]
pipelines:
  - name: cards
    key: card
    detectors:
      - { name: big-amount, type: rule, when: { amount: { '>': 220 } }, cooldown: 0, scores: true }
sinks: [{ name: c, type: console }]
metrics: { enabled: false }
`;
    const recs = [
      { id: 'a', ts: T, card: 'c1', amount: 100 },
      { id: 'b', ts: T + 1000, card: 'c1', amount: 500 },
      { id: 'c', ts: T + 2000, card: 'c2', amount: 221 },
      { ts: T + 3000, card: 'c2', amount: 999 },
    ];
    const sink = collectSink();
    await new Engine({ loaded: config(yaml), mode: 'replay', sources: [memorySource(recs, { name: 'in', batchSize: 2 })], sinks: [sink] }).run();
    expect(sink.alerts.map((a) => [a.key, a.observed, a.trigger, a.evidence])).toEqual([
      ['c1', 500, 'b', ['b']],
      ['c2', 221, 'c', ['c']],
      ['c2', 999, sink.alerts[2]?.evidence[0], sink.alerts[2]?.evidence],
    ]);
    expect(sink.alerts[2].trigger).toMatch(/^in:/);
    expect(sink.scores.map((s) => [s.ref, s.anomalous])).toEqual([
      ['a', false],
      ['b', true],
      ['c', true],
      [sink.alerts[2].trigger, true],
    ]);
  });
});
