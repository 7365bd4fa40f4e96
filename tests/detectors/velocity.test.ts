import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { schema, create } from '../../detectors/velocity.js';
import { collector, ctxOf, ev, refusals, runEvents, viaMsgpack } from '../helpers/detectors.js';
import type { VEvent } from '../../src/types.js';

const cfg = (over: Record<string, unknown> = {}) => schema.parse({ name: 'burst', type: 'velocity', lookback: '10m', value: 3, ...over });
const MIN = 60_000;

describe('velocity detector', () => {
  it('signals when the count in the lookback reaches the bound, with the events as evidence', () => {
    const core = create(cfg(), ctxOf({ keyLabel: 'card' }));
    const s = runEvents(core, [
      ['c1', ev(0, {})],
      ['c1', ev(4 * MIN, {})],
      ['c2', ev(5 * MIN, {})],
      ['c1', ev(9 * MIN, {})],
    ]);
    expect(s).toHaveLength(1);
    expect(s[0]).toMatchObject({ key: 'c1', time: 9 * MIN, observed: 3, threshold: 3, score: 1, identity: 'event:e540000', evidence: ['e0', 'e240000', 'e540000'] });
    expect(s[0].window).toEqual({ start: -MIN, end: 9 * MIN });
    expect(s[0].explanation).toMatch(/^burst: card c1 had 3 events in the 10m up to 1970-01-01T00:09:00.000Z, at or above the bound 3/);
  });

  it('forgets events older than the lookback (both ends inclusive)', () => {
    const core = create(cfg(), ctxOf());
    expect(runEvents(core, [['k', ev(0, {})], ['k', ev(5 * MIN, {})], ['k', ev(10 * MIN + 1, {})]])).toHaveLength(0);
    const core2 = create(cfg(), ctxOf());
    expect(runEvents(core2, [['k', ev(0, {})], ['k', ev(5 * MIN, {})], ['k', ev(10 * MIN, {})]])).toHaveLength(1);
  });

  it('sums a field, skipping events without a number, and honours match', () => {
    const core = create(cfg({ measure: 'sum', field: 'amount', value: 1000, match: { type: 'transfer' } }), ctxOf());
    const s = runEvents(core, [
      ['a', ev(1, { type: 'transfer', amount: 400 })],
      ['a', ev(2, { type: 'payment', amount: 5000 })],
      ['a', ev(3, { type: 'transfer', amount: 'x' })],
      ['a', ev(4, { type: 'transfer', amount: 600 })],
    ]);
    expect(s.map((x) => [x.time, x.observed])).toEqual([[4, 1000]]);
    expect(s[0].details).toMatchObject({ measure: 'sum', count: 2, sum: 1000 });
  });

  it('rejects sum without a field', () => {
    expect(refusals(schema, { name: 'burst', type: 'velocity', lookback: '10m', value: 3, measure: 'sum' })).toEqual([
      ['field', 'measure: sum needs `field`: the numeric field to add up'],
    ]);
    expect(refusals(schema, { name: 'burst', type: 'velocity', lookback: '10m', value: 3, measure: 'sum', field: 'amount' })).toEqual([]);
  });

  it('caps keys, evicting the least recently active, and expires idle keys', () => {
    const core = create(cfg({ maxKeys: 2 }), ctxOf());
    runEvents(core, [['a', ev(1, {})], ['b', ev(2, {})], ['a', ev(3, {})], ['c', ev(4, {})]]);
    expect(core.stats()).toEqual({ keys: 2, evicted: 1 });
    core.advance(4 + 10 * MIN + 1, collector());
    expect(core.stats().keys).toBe(0);
  });

  it('caps events per key', () => {
    const core = create(cfg({ maxEventsPerKey: 2, value: 3 }), ctxOf());
    expect(runEvents(core, [['a', ev(1, {})], ['a', ev(2, {})], ['a', ev(3, {})]])).toHaveLength(0);
  });

  it('survives snapshot/restore bit for bit', () => {
    const events: Array<[string, VEvent]> = [];
    for (let i = 0; i < 200; i++) events.push([`k${i % 7}`, ev(i * 37_000, { amount: (i * 13) % 101 })]);
    const c = cfg({ measure: 'sum', field: 'amount', value: 600 });
    const whole = create(c, ctxOf());
    const expected = runEvents(whole, events);
    const first = create(c, ctxOf());
    const head = runEvents(first, events.slice(0, 90));
    const second = create(c, ctxOf());
    second.restore(viaMsgpack(first.snapshot()));
    const tail = runEvents(second, events.slice(90));
    expect([...head, ...tail]).toEqual(expected);
    expect(second.snapshot()).toEqual(whole.snapshot());
    expect(() => second.restore({ nope: 1 })).toThrow(/bad snapshot/);
  });

  it('matches a naive recount of every lookback (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.integer({ min: 0, max: 30 })), { maxLength: 60 }),
        fc.integer({ min: 1, max: 5 }),
        (steps, bound) => {
          let t = 0;
          const events: Array<[string, VEvent]> = steps.map(([k, dt], i) => [k, ev((t += dt), {}, `x${i}`)]);
          const lookback = 20;
          const got = runEvents(create(cfg({ lookback, value: bound }), ctxOf()), events).map((s) => s.identity);
          const want = events
            .filter(([k, e], i) => events.slice(0, i + 1).filter(([k2, e2]) => k2 === k && e2.time >= e.time - lookback).length >= bound)
            .map(([, e]) => `event:${e.id}`);
          expect(got).toEqual(want);
        },
      ),
      { numRuns: 200 },
    );
  });
});
