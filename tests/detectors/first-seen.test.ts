import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { schema, create } from '../../detectors/first-seen.js';
import type { Signal } from '../../detectors/types.js';
import { collector, ctxOf, ev, expectCadenceFreeAndSplittable, runEvents, splitRun, viaJson, viaMsgpack } from '../helpers/detectors.js';
import type { VEvent } from '../../src/types.js';

const cfg = (over: Record<string, unknown> = {}) => schema.parse({ name: 'new-device', type: 'first-seen', field: 'device', lookback: '90d', ...over });
const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 1);
const day = (d: number) => T0 + d * DAY;
const packr = new Packr({ useRecords: false, mapsAsObjects: true });

/** `n` events of `key` on consecutive days from `from`, all with `device`. */
function history(key: string, device: string, from: number, n: number): Array<[string, VEvent]> {
  return Array.from({ length: n }, (_, i): [string, VEvent] => [key, ev(day(from + i), { device }, `${key}-h${from + i}`)]);
}

describe('first-seen detector', () => {
  it('describes every option and applies the defaults', () => {
    for (const [k, f] of Object.entries(schema.shape)) if (k !== 'type') expect(f.description, k).toBeTruthy();
    expect(cfg()).toMatchObject({ minHistory: 5, maxValuesPerKey: 1000, lookback: 90 * DAY });
    expect(schema.parse({ name: 'n', type: 'first-seen', field: 'device' }).lookback).toBe(90 * DAY);
    expect(() => cfg({ lookback: '0s' })).toThrow();
    expect(() => cfg({ minHistory: -1 })).toThrow();
  });

  it('signals a value not used by the key in the lookback, once warmed up', () => {
    const core = create(cfg(), ctxOf({ keyLabel: 'customer' }));
    const s = runEvents(core, [
      ...history('C1', 'D1', 0, 3),
      ['C1', ev(day(3), { device: 'D2' }, 'a1')],
      ['C1', ev(day(4), { device: 'D1' }, 'a2')],
      ['C1', ev(day(5), { device: 'D9' }, 'a3')],
      ['C1', ev(day(6), { device: 'D9' }, 'a4')],
      ['C1', ev(day(7), { device: 'D2' }, 'a5')],
    ]);
    expect(s).toEqual<Signal[]>([
      {
        key: 'C1',
        time: day(5),
        identity: 'event:a3',
        revision: 0,
        window: { start: day(-85), end: day(5) },
        observed: 1,
        threshold: 0,
        score: 1,
        explanation:
          'new-device: customer C1 used device D9 at 2026-01-06T00:00:00.000Z, not seen for this customer in the previous 90d (history: 5 events, 2 known values).',
        evidence: ['a3'],
        details: { field: 'device', value: 'D9', lookback: 90 * DAY, history: 5, knownValues: 2 },
      },
    ]);
  });

  it('stays silent during the warm-up, and from the first event without one', () => {
    const events: Array<[string, VEvent]> = ['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((d, i) => ['k', ev(day(i), { device: d }, `i${i}`)]);
    expect(runEvents(create(cfg(), ctxOf()), events).map((s) => s.identity)).toEqual(['event:i5', 'event:i6']);
    expect(runEvents(create(cfg({ minHistory: 7 }), ctxOf()), events)).toEqual([]);
    const eager = runEvents(create(cfg({ minHistory: 0 }), ctxOf()), events);
    expect(eager).toHaveLength(7);
    expect(eager[0].explanation).toContain('(history: 0 events, 0 known values)');
    expect(eager[1].explanation).toContain('(history: 1 event, 1 known value)');
  });

  it('forgets values last used before the lookback (both ends inclusive)', () => {
    const run = (t: number) =>
      runEvents(create(cfg({ minHistory: 1 }), ctxOf()), [
        ['k', ev(day(0), { device: 'old' }, 'o')],
        ...history('k', 'x', 30, 3),
        ...history('k', 'x', 80, 3),
        ['k', ev(t, { device: 'old' }, 'back')],
      ]).filter((x) => x.identity === 'event:back');
    expect(run(day(90))).toEqual([]);
    const s = run(day(90) + 1);
    expect(s.map((x) => [x.identity, x.details?.knownValues, x.details?.history])).toEqual([['event:back', 1, 7]]);
  });

  it('forgets a key idle for longer than the lookback, its warm-up included, whenever the watermark moved', () => {
    const events: Array<[string, VEvent]> = [...history('k', 'a', 0, 6), ['k', ev(day(5) + 90 * DAY + 1, { device: 'b' }, 'late')]];
    expect(runEvents(create(cfg(), ctxOf()), events)).toEqual([]);
    // Same outcome when the watermark never moved in between.
    const core = create(cfg(), ctxOf());
    const emit = collector();
    for (const [k, e] of events) core.add?.(k, e, emit);
    expect(emit.signals).toEqual([]);
    expect(core.stats().keys).toBe(1);
    core.advance(day(5) + 2 * 90 * DAY + 2, emit);
    expect(core.stats()).toEqual({ keys: 0, evicted: 0 });
  });

  it('honours match and ignores events without a scalar value', () => {
    const core = create(cfg({ minHistory: 2, match: { channel: 'web' } }), ctxOf());
    const s = runEvents(core, [
      ['k', ev(day(0), { channel: 'web', device: 'a' })],
      ['k', ev(day(1), { channel: 'app', device: 'b' })],
      ['k', ev(day(2), { channel: 'web' })],
      ['k', ev(day(3), { channel: 'web', device: [1] })],
      ['k', ev(day(4), { channel: 'web', device: 'a' })],
      ['k', ev(day(5), { channel: 'app', device: 'c' })],
      ['k', ev(day(6), { channel: 'web', device: 'c' }, 'hit')],
    ]);
    expect(s.map((x) => [x.identity, x.details?.history])).toEqual([['event:hit', 2]]);
  });

  it('caps keys, evicting the least recently active, and values per key, forgetting the least recently used', () => {
    const core = create(cfg({ maxKeys: 2 }), ctxOf());
    runEvents(core, [
      ['a', ev(1, { device: 'x' })],
      ['b', ev(2, { device: 'x' })],
      ['a', ev(3, { device: 'x' })],
      ['c', ev(4, { device: 'x' })],
    ]);
    expect(core.stats()).toEqual({ keys: 2, evicted: 1 });

    const capped = create(cfg({ maxValuesPerKey: 2, minHistory: 0 }), ctxOf());
    const s = runEvents(capped, [
      ['k', ev(1, { device: 'a' }, 'i1')],
      ['k', ev(2, { device: 'b' }, 'i2')],
      ['k', ev(3, { device: 'a' }, 'i3')],
      ['k', ev(4, { device: 'c' }, 'i4')],
      ['k', ev(5, { device: 'a' }, 'i5')],
      ['k', ev(6, { device: 'b' }, 'i6')],
    ]);
    expect(s.map((x) => [x.identity, x.details?.knownValues])).toEqual([
      ['event:i1', 0],
      ['event:i2', 1],
      ['event:i4', 2],
      ['event:i6', 2],
    ]);
  });

  it('is deterministic', () => {
    const events = stream(400);
    const a = runEvents(create(cfg({ lookback: '20d', minHistory: 2 }), ctxOf()), events);
    const b = runEvents(create(cfg({ lookback: '20d', minHistory: 2 }), ctxOf()), events);
    expect(a.length).toBeGreaterThan(10);
    expect(b).toEqual(a);
  });

  it('survives snapshot/restore bit for bit (MessagePack and JSON)', () => {
    const events = stream(400);
    const make = () => create(cfg({ lookback: '20d', maxKeys: 4, maxValuesPerKey: 3, minHistory: 2 }), ctxOf());
    for (const encode of [viaMsgpack, viaJson]) {
      const { expected, got, whole, second } = splitRun(make, events, 213, encode);
      expect(expected.length).toBeGreaterThan(10);
      expect(whole.stats().evicted).toBeGreaterThan(0);
      expect(got).toEqual(expected);
      expect(second.snapshot()).toEqual(whole.snapshot());
      expect(second.stats()).toEqual(whole.stats());
      expect(Buffer.compare(packr.pack(second.snapshot()), packr.pack(whole.snapshot()))).toBe(0);
      expect(viaMsgpack(whole.snapshot())).toEqual(whole.snapshot());
    }
  });

  it('refuses a bad snapshot', () => {
    const core = create(cfg(), ctxOf());
    for (const bad of [
      null,
      7,
      { keys: [] },
      { evicted: 0, keys: [['k', 'junk']] },
      { evicted: 0, keys: [['k', [1, 2, ['a'], []]]] },
      { evicted: 0, keys: [['k', ['1', 2, ['a'], [1]]]] },
      { evicted: 0, keys: [['k', [1, 2, ['a', 'a'], [1, 1]]]] },
    ]) {
      expect(() => core.restore(bad), JSON.stringify(bad)).toThrow(/bad snapshot/);
    }
  });

  it('matches a naive rescan of past events, and a checkpoint anywhere changes nothing (property)', () => {
    const item = fc.record({
      key: fc.constantFrom('a', 'b', 'c'),
      dt: fc.integer({ min: 0, max: 8 }),
      v: fc.option(fc.constantFrom('x', 'y', 'z', 'w', 2, false), { nil: undefined, freq: 6 }),
      kind: fc.constantFrom('p', 'q'),
    });
    const conf = fc.record({
      lookback: fc.integer({ min: 1, max: 25 }),
      minHistory: fc.integer({ min: 0, max: 4 }),
      maxValuesPerKey: fc.integer({ min: 1, max: 5 }),
      match: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(item, { maxLength: 60 }), conf, fc.nat(), (items, c, cutSeed) => {
        let t = 0;
        const events: Array<[string, VEvent]> = items.map((it, i) => [it.key, ev((t += it.dt), { kind: it.kind, ...(it.v === undefined ? {} : { device: it.v }) }, `x${i}`)]);
        const config = cfg({ lookback: c.lookback, minHistory: c.minHistory, maxValuesPerKey: c.maxValuesPerKey, ...(c.match ? { match: { kind: 'p' } } : {}) });
        const make = () => create(config, ctxOf());
        const got = runEvents(make(), events).map((s) => [s.identity, s.details?.history, s.details?.knownValues]);

        const counted = (e: VEvent) => (!c.match || e.payload.kind === 'p') && e.payload.device !== undefined;
        const want: unknown[] = [];
        events.forEach(([k, e], i) => {
          if (!counted(e)) return;
          // The key's earlier events, most recent first, back to the first gap longer than the lookback.
          const chain: VEvent[] = [];
          let next = e.time;
          for (let j = i - 1; j >= 0; j--) {
            const [k2, e2] = events[j];
            if (k2 !== k || !counted(e2)) continue;
            if (e2.time < next - c.lookback) break;
            chain.push(e2);
            next = e2.time;
          }
          // Values used in the lookback, most recently used first; only the last maxValuesPerKey are known.
          const recent: string[] = [];
          for (const e2 of chain) {
            const v = String(e2.payload.device);
            if (e2.time >= e.time - c.lookback && !recent.includes(v)) recent.push(v);
          }
          const known = recent.slice(0, c.maxValuesPerKey);
          if (chain.length >= c.minHistory && !known.includes(String(e.payload.device))) want.push([`event:${e.id}`, chain.length, known.length]);
        });
        expect(got).toEqual(want);

        expectCadenceFreeAndSplittable(make, events, got.map((g) => g[0]), cutSeed);
      }),
      { numRuns: 300 },
    );
  });
});

/** A deterministic mixed stream over days: 3 busy keys and one-off ones, devices mostly reused. */
function stream(n: number): Array<[string, VEvent]> {
  const events: Array<[string, VEvent]> = [];
  let t = T0;
  for (let i = 0; i < n; i++) {
    t += ((i * 7919) % 4) * (DAY / 4);
    const key = i % 10 < 8 ? `k${i % 3}` : `once${i}`;
    events.push([key, ev(t, { device: `d${(i * i) % 7}` }, `i${i}`)]);
  }
  return events;
}
