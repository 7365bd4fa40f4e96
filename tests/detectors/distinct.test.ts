import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { schema, create, RecencyList } from '../../detectors/distinct.js';
import type { Signal } from '../../detectors/types.js';
import { collector, ctxOf, ev, expectCadenceFreeAndSplittable, refusals, runEvents, splitRun, viaJson, viaMsgpack } from '../helpers/detectors.js';
import type { VEvent } from '../../src/types.js';

const cfg = (over: Record<string, unknown> = {}) =>
  schema.parse({ name: 'fan-in', type: 'distinct', field: 'customer', lookback: '1h', value: 3, ...over });
const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 1);
const at = (min: number) => T0 + min * MIN;
const packr = new Packr({ useRecords: false, mapsAsObjects: true });

describe('distinct detector', () => {
  it('describes every option and applies the defaults', () => {
    for (const [k, f] of Object.entries(schema.shape)) if (k !== 'type') expect(f.description, k).toBeTruthy();
    expect(cfg()).toMatchObject({ op: '>=', maxValuesPerKey: 10_000, lookback: 3_600_000, maxKeys: 100_000 });
  });

  it('signals when the distinct count reaches the bound, one most recent event per value as evidence', () => {
    const core = create(cfg(), ctxOf({ keyLabel: 'beneficiary' }));
    const s = runEvents(core, [
      ['B1', ev(at(0), { customer: 'c1' }, 'a1')],
      ['B1', ev(at(10), { customer: 'c2' }, 'a2')],
      ['B2', ev(at(15), { customer: 'c9' }, 'b1')],
      ['B1', ev(at(20), { customer: 'c1' }, 'a3')],
      ['B1', ev(at(30), { customer: 'c3' }, 'a4')],
      ['B1', ev(at(31), { customer: 'c3' }, 'a5')],
    ]);
    expect(s).toHaveLength(2);
    expect(s[0]).toEqual<Signal>({
      key: 'B1',
      time: at(30),
      identity: 'event:a4',
      revision: 0,
      window: { start: at(-30), end: at(30) },
      observed: 3,
      threshold: 3,
      score: 1,
      explanation:
        'fan-in: beneficiary B1 had 3 distinct customer values in the 1h up to 2026-01-01T00:30:00.000Z, at or above the bound 3 (most recent: a4, a3, a2).',
      evidence: ['a2', 'a3', 'a4'],
      details: { field: 'customer', lookback: 3_600_000, distinct: 3 },
    });
    // The same value again: still 3, its evidence moves to the latest event.
    expect(s[1]).toMatchObject({ identity: 'event:a5', observed: 3, evidence: ['a2', 'a3', 'a5'] });
  });

  it('stays silent below the bound and ignores events without a scalar value', () => {
    const core = create(cfg(), ctxOf());
    const s = runEvents(core, [
      ['k', ev(at(0), { customer: 'c1' })],
      ['k', ev(at(1), { customer: 'c2' })],
      ['k', ev(at(2), {})],
      ['k', ev(at(3), { customer: '' })],
      ['k', ev(at(4), { customer: { id: 3 } })],
      ['k', ev(at(5), { customer: Number.NaN })],
      ['k', ev(at(6), { customer: 'c2' })],
    ]);
    expect(s).toEqual([]);
    // Numbers and booleans count by their text.
    expect(runEvents(core, [['k', ev(at(7), { customer: 7 })]]).map((x) => x.observed)).toEqual([3]);
  });

  it('forgets values last seen before the lookback (both ends inclusive)', () => {
    const events = (last: number): Array<[string, VEvent]> => [
      ['k', ev(at(0), { customer: 'c1' })],
      ['k', ev(at(30), { customer: 'c2' })],
      ['k', ev(last, { customer: 'c3' })],
    ];
    expect(runEvents(create(cfg(), ctxOf()), events(at(60)))).toHaveLength(1);
    expect(runEvents(create(cfg(), ctxOf()), events(at(60) + 1))).toHaveLength(0);
    // A value seen again inside the lookback counts from its last sighting.
    const core = create(cfg(), ctxOf());
    const s = runEvents(core, [
      ['k', ev(at(0), { customer: 'c1' })],
      ['k', ev(at(50), { customer: 'c1' })],
      ['k', ev(at(55), { customer: 'c2' })],
      ['k', ev(at(100), { customer: 'c3' })],
    ]);
    expect(s.map((x) => [x.time, x.observed])).toEqual([[at(100), 3]]);
  });

  it('honours match and other operators', () => {
    const core = create(cfg({ match: { type: 'transfer' }, op: '>', value: 1 }), ctxOf());
    const s = runEvents(core, [
      ['k', ev(at(0), { type: 'transfer', customer: 'c1' })],
      ['k', ev(at(1), { type: 'payment', customer: 'c2' })],
      ['k', ev(at(2), { customer: 'c3' })],
      ['k', ev(at(3), { type: 'transfer', customer: 'c4' })],
    ]);
    expect(s.map((x) => [x.time, x.observed, x.score])).toEqual([[at(3), 2, 2]]);
    expect(s[0].explanation).toContain('above the bound 1');
    const few = create(cfg({ op: '<', value: 2 }), ctxOf());
    expect(runEvents(few, [['k', ev(1, { customer: 'a' })], ['k', ev(2, { customer: 'b' })]]).map((x) => x.observed)).toEqual([1]);
  });

  it('rejects bounds that can never hold', () => {
    const base = { name: 'fan-in', type: 'distinct', field: 'customer', lookback: '1h' };
    const never = "can never hold: the count of an event's key is between 1 and maxValuesPerKey";
    expect(refusals(schema, { ...base, op: '<', value: 1 })).toEqual([['value', `a distinct count < 1 ${never} (10000); raise value above 1`]]);
    expect(refusals(schema, { ...base, op: '<=', value: 0.5 })).toEqual([['value', `a distinct count <= 0.5 ${never} (10000); raise value to at least 1`]]);
    expect(refusals(schema, { ...base, op: '>', value: 5, maxValuesPerKey: 5 })).toEqual([['value', `a distinct count > 5 ${never} (5); lower value below 5, or raise maxValuesPerKey`]]);
    expect(refusals(schema, { ...base, op: '>=', value: 6, maxValuesPerKey: 5 })).toEqual([
      ['value', `a distinct count >= 6 ${never} (5); lower value to at most 5, or raise maxValuesPerKey`],
    ]);
    expect(() => create(cfg({ op: '>=', value: 5, maxValuesPerKey: 5 }), ctxOf())).not.toThrow();
    expect(() => schema.parse({ name: 'x', type: 'distinct', lookback: '1h', value: 3 })).toThrow();
    expect(() => cfg({ lookback: 0 })).toThrow();
  });

  it('caps keys, evicting the least recently active, and expires idle keys', () => {
    const core = create(cfg({ maxKeys: 2 }), ctxOf());
    runEvents(core, [
      ['a', ev(at(1), { customer: 'x' })],
      ['b', ev(at(2), { customer: 'x' })],
      ['a', ev(at(3), { customer: 'y' })],
      ['c', ev(at(4), { customer: 'x' })],
    ]);
    expect(core.stats()).toEqual({ keys: 2, evicted: 1 });
    core.advance(at(63), collector());
    expect(core.stats()).toEqual({ keys: 2, evicted: 1 });
    core.advance(at(63) + 1, collector());
    expect(core.stats()).toEqual({ keys: 1, evicted: 1 });
    core.advance(at(64) + 1, collector());
    expect(core.stats()).toEqual({ keys: 0, evicted: 1 });
  });

  it('caps values per key, forgetting the least recently seen', () => {
    const core = create(cfg({ maxValuesPerKey: 3, value: 3 }), ctxOf());
    const s = runEvents(core, [
      ['k', ev(1, { customer: 'a' }, 'i1')],
      ['k', ev(2, { customer: 'b' }, 'i2')],
      ['k', ev(3, { customer: 'a' }, 'i3')],
      ['k', ev(4, { customer: 'c' }, 'i4')],
      ['k', ev(5, { customer: 'd' }, 'i5')],
    ]);
    expect(s.map((x) => [x.observed, x.evidence])).toEqual([
      [3, ['i2', 'i3', 'i4']],
      [3, ['i3', 'i4', 'i5']],
    ]);
  });

  it('bounds the evidence by the evidence limit', () => {
    const core = create(cfg({ value: 5 }), ctxOf({ evidenceLimit: 2 }));
    const events: Array<[string, VEvent]> = [];
    for (let i = 0; i < 6; i++) events.push(['k', ev(at(i), { customer: `c${i}` }, `i${i}`)]);
    const s = runEvents(core, events);
    expect(s.map((x) => x.evidence)).toEqual([
      ['i3', 'i4'],
      ['i4', 'i5'],
    ]);
    expect(s[1].explanation).toContain('(most recent: i5, i4 and 4 more)');
  });

  it('is deterministic', () => {
    const events = stream(300);
    const a = runEvents(create(cfg({ value: 4 }), ctxOf()), events);
    const b = runEvents(create(cfg({ value: 4 }), ctxOf()), events);
    expect(a.length).toBeGreaterThan(10);
    expect(b).toEqual(a);
  });

  it('survives snapshot/restore bit for bit (MessagePack and JSON)', () => {
    const events = stream(400);
    const make = () => create(cfg({ value: 4, maxValuesPerKey: 6, maxKeys: 4 }), ctxOf({ evidenceLimit: 3 }));
    for (const encode of [viaMsgpack, viaJson]) {
      const { expected, got, whole, second } = splitRun(make, events, 170, encode);
      expect(expected.length).toBeGreaterThan(10);
      expect(got).toEqual(expected);
      expect(second.snapshot()).toEqual(whole.snapshot());
      expect(second.stats()).toEqual(whole.stats());
      expect(whole.stats().evicted).toBeGreaterThan(0);
      expect(Buffer.compare(packr.pack(second.snapshot()), packr.pack(whole.snapshot()))).toBe(0);
      expect(viaMsgpack(whole.snapshot())).toEqual(whole.snapshot());
    }
  });

  it('refuses a bad snapshot', () => {
    const core = create(cfg(), ctxOf());
    for (const bad of [
      null,
      42,
      'x',
      { nope: 1 },
      { evicted: 0, keys: [['k', 'junk']] },
      { evicted: 0, keys: [['k', [['a'], [1], []]]] },
      { evicted: 0, keys: [['k', [['a', 'a'], [1, 2], ['r', 's']]]] },
      { evicted: 0, keys: [['k', [[1], [1], ['r']]]] },
    ]) {
      expect(() => core.restore(bad), JSON.stringify(bad)).toThrow(/bad snapshot/);
    }
  });

  it('keeps its recency list consistent', () => {
    const l = new RecencyList();
    l.see('a', 1, 'r1');
    l.see('b', 2, 'r2');
    l.see('a', 3, 'r3');
    l.see('c', 4, 'r4');
    expect(l.toArrays()).toEqual([['b', 'a', 'c'], [2, 3, 4], ['r2', 'r3', 'r4']]);
    expect(l.recentRefs(2)).toEqual(['r3', 'r4']);
    l.trim(3, 10);
    expect(l.toArrays()).toEqual([['a', 'c'], [3, 4], ['r3', 'r4']]);
    l.trim(0, 1);
    expect(l.toArrays()).toEqual([['c'], [4], ['r4']]);
    expect(l.newest).toBe(4);
    l.trim(5, 1);
    expect(l.size).toBe(0);
    expect(l.newest).toBe(-Infinity);
    expect(l.recentRefs(3)).toEqual([]);
  });

  it('matches a naive rescan of past events, and a checkpoint anywhere changes nothing (property)', () => {
    const item = fc.record({
      key: fc.constantFrom('a', 'b', 'c'),
      dt: fc.integer({ min: 0, max: 8 }),
      v: fc.option(fc.constantFrom('x', 'y', 'z', 'w', 'u', 1, true), { nil: undefined, freq: 6 }),
      kind: fc.constantFrom('p', 'q'),
    });
    const conf = fc.record({
      lookback: fc.integer({ min: 1, max: 25 }),
      op: fc.constantFrom('>', '>=', '<', '<='),
      value: fc.integer({ min: 1, max: 4 }),
      maxValuesPerKey: fc.integer({ min: 2, max: 6 }),
      evidenceLimit: fc.integer({ min: 1, max: 4 }),
      match: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(item, { maxLength: 60 }), conf, fc.nat(), (items, c, cutSeed) => {
        let t = 0;
        const events: Array<[string, VEvent]> = items.map((it, i) => [it.key, ev((t += it.dt), { kind: it.kind, ...(it.v === undefined ? {} : { customer: it.v }) }, `x${i}`)]);
        // Keep to bounds that can hold (create refuses the others): the count is in [1, maxValuesPerKey].
        const bound = c.op === '<' ? c.value + 1 : c.op === '>' ? Math.min(c.value, c.maxValuesPerKey - 1) : c.op === '>=' ? Math.min(c.value, c.maxValuesPerKey) : c.value;
        const config = cfg({ lookback: c.lookback, op: c.op, value: bound, maxValuesPerKey: c.maxValuesPerKey, ...(c.match ? { match: { kind: 'p' } } : {}) });
        const make = () => create(config, ctxOf({ evidenceLimit: c.evidenceLimit }));
        const got = runEvents(make(), events).map((s) => [s.identity, s.observed, s.evidence]);

        const counted = (e: VEvent) => (!c.match || e.payload.kind === 'p') && e.payload.customer !== undefined;
        const cmp = (n: number) => (c.op === '>' ? n > bound : c.op === '>=' ? n >= bound : c.op === '<' ? n < bound : n <= bound);
        const want: unknown[] = [];
        events.forEach(([k, e], i) => {
          if (!counted(e)) return;
          // Walk back from this event: each value's last sighting, most recent first.
          const seen = new Map<string, string>();
          for (let j = i; j >= 0; j--) {
            const [k2, e2] = events[j];
            if (k2 !== k || !counted(e2) || e2.time < e.time - c.lookback) continue;
            const v = String(e2.payload.customer);
            if (!seen.has(v)) seen.set(v, e2.id as string);
          }
          const n = Math.min(seen.size, c.maxValuesPerKey);
          if (cmp(n)) want.push([`event:${e.id}`, n, [...seen.values()].slice(0, Math.min(n, c.evidenceLimit)).reverse()]);
        });
        expect(got).toEqual(want);

        expectCadenceFreeAndSplittable(make, events, got.map((g) => g[0]), cutSeed);
      }),
      { numRuns: 300 },
    );
  });
});

/** A deterministic mixed stream: 3 busy keys and one-off ones, 13 values, irregular gaps. */
function stream(n: number): Array<[string, VEvent]> {
  const events: Array<[string, VEvent]> = [];
  let t = T0;
  for (let i = 0; i < n; i++) {
    t += ((i * 7919) % 4) * 2 * MIN;
    events.push([i % 10 < 8 ? `k${i % 3}` : `once${i}`, ev(t, { customer: `c${(i * 7) % 13}` }, `i${i}`)]);
  }
  return events;
}
