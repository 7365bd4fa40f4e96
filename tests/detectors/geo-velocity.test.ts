import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { schema, create, haversineKm } from '../../detectors/geo-velocity.js';
import type { Signal } from '../../detectors/types.js';
import { collector, ctxOf, ev, expectCadenceFreeAndSplittable, refusals, runEvents, splitRun, viaJson, viaMsgpack } from '../helpers/detectors.js';
import type { VEvent } from '../../src/types.js';

const cfg = (over: Record<string, unknown> = {}) => schema.parse({ name: 'impossible-travel', type: 'geo-velocity', ...over });
const MIN = 60_000;
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 0, 1);
const at = (min: number) => T0 + min * MIN;
const packr = new Packr({ useRecords: false, mapsAsObjects: true });

const PARIS = { lat: 48.8566, lon: 2.3522 };
const NEW_YORK = { lat: 40.7128, lon: -74.006 };
const LONDON = { lat: 51.5074, lon: -0.1278 };
const PARIS_NEW_YORK_KM = 5837.248966566374;

describe('geo-velocity detector', () => {
  it('describes every option and applies the defaults', () => {
    for (const [k, f] of Object.entries(schema.shape)) if (k !== 'type') expect(f.description, k).toBeTruthy();
    expect(cfg()).toMatchObject({ latField: 'lat', lonField: 'lon', maxSpeedKmh: 900, minDistanceKm: 100, forgetAfter: 86_400_000 });
    expect(() => cfg({ maxSpeedKmh: 0 })).toThrow();
    expect(() => cfg({ minDistanceKm: -1 })).toThrow();
    const base = { name: 'impossible-travel', type: 'geo-velocity' };
    const both = 'latField and lonField are both "pos": name two different fields, the latitude and the longitude';
    expect(refusals(schema, { ...base, latField: 'pos', lonField: 'pos' })).toEqual([['latField', both]]);
    // The one set to the other's default is the one to blame.
    expect(refusals(schema, { ...base, latField: 'lon' })).toEqual([['latField', both.replaceAll('pos', 'lon')]]);
    expect(refusals(schema, { ...base, lonField: 'lat' })).toEqual([['lonField', both.replaceAll('pos', 'lat')]]);
  });

  it('computes great-circle distances', () => {
    expect(haversineKm(PARIS.lat, PARIS.lon, NEW_YORK.lat, NEW_YORK.lon)).toBeCloseTo(5837.25, 2);
    expect(haversineKm(PARIS.lat, PARIS.lon, LONDON.lat, LONDON.lon)).toBeCloseTo(343.56, 2);
    expect(haversineKm(0, 0, 0, 180)).toBeCloseTo(Math.PI * 6371.0088, 6);
    expect(haversineKm(90, 0, -90, 0)).toBeCloseTo(Math.PI * 6371.0088, 6);
    expect(haversineKm(10, 20, 10, 20)).toBe(0);
    expect(haversineKm(0, 179.5, 0, -179.5)).toBeCloseTo(haversineKm(0, 0, 0, 1), 9);
  });

  it('signals travel faster than the maximum speed, with both events as evidence', () => {
    const core = create(cfg(), ctxOf({ keyLabel: 'card' }));
    const s = runEvents(core, [
      ['c1', ev(at(0), PARIS, 'p1')],
      ['c2', ev(at(10), NEW_YORK, 'x1')],
      ['c1', ev(at(60), NEW_YORK, 'n1')],
    ]);
    expect(s).toEqual<Signal[]>([
      {
        key: 'c1',
        time: at(60),
        identity: 'event:n1',
        revision: 0,
        window: { start: at(0), end: at(60) },
        observed: PARIS_NEW_YORK_KM,
        threshold: 900,
        score: Number((PARIS_NEW_YORK_KM / 900).toFixed(6)),
        explanation:
          'impossible-travel: card c1 was at (48.8566, 2.3522) at 2026-01-01T00:00:00.000Z (p1) and at (40.7128, -74.006) at 2026-01-01T01:00:00.000Z (n1): ' +
          '5837.2 km in 1h, 5837.25 km/h, above the maximum 900 km/h.',
        evidence: ['p1', 'n1'],
        details: {
          distanceKm: PARIS_NEW_YORK_KM,
          elapsedMs: HOUR,
          speedKmh: PARIS_NEW_YORK_KM,
          instant: false,
          from: PARIS,
          to: NEW_YORK,
        },
      },
    ]);
  });

  it('stays silent at plausible speeds, compares consecutive events only', () => {
    const core = create(cfg(), ctxOf());
    const s = runEvents(core, [
      ['k', ev(at(0), PARIS, 'p')],
      ['k', ev(at(30), LONDON, 'l')], // 687 km/h
      ['k', ev(at(50), PARIS, 'p2')], // 1031 km/h
      ['k', ev(at(50 + 7 * 60), NEW_YORK, 'n')], // 834 km/h
    ]);
    expect(s.map((x) => [x.evidence, Math.round(x.observed)])).toEqual([[['l', 'p2'], 1031]]);
  });

  it('ignores pairs closer than the minimum distance', () => {
    const near = { lat: PARIS.lat + 0.8, lon: PARIS.lon }; // ~89 km
    expect(runEvents(create(cfg(), ctxOf()), [['k', ev(at(0), PARIS)], ['k', ev(at(1), near)]])).toEqual([]);
    const s = runEvents(create(cfg({ minDistanceKm: 50 }), ctxOf()), [['k', ev(at(0), PARIS)], ['k', ev(at(1), near)]]);
    expect(s.map((x) => Math.round(x.observed))).toEqual([Math.round(haversineKm(PARIS.lat, PARIS.lon, near.lat, near.lon) * 60)]);
    // The same place twice at the same time is not travel, even with no minimum distance.
    expect(runEvents(create(cfg({ minDistanceKm: 0 }), ctxOf()), [['k', ev(at(0), PARIS)], ['k', ev(at(0), PARIS)]])).toEqual([]);
  });

  it('reports two distant events at the same millisecond as instant travel, with a finite observed speed', () => {
    const s = runEvents(create(cfg(), ctxOf({ keyLabel: 'card' })), [
      ['c', ev(at(5), PARIS, 'p')],
      ['c', ev(at(5), NEW_YORK, 'n')],
    ]);
    expect(s).toHaveLength(1);
    expect(s[0].observed).toBe(PARIS_NEW_YORK_KM * HOUR);
    expect(Number.isFinite(s[0].score)).toBe(true);
    expect(s[0].details).toMatchObject({ elapsedMs: 0, instant: true });
    expect(s[0].explanation).toBe(
      'impossible-travel: card c was at (48.8566, 2.3522) at 2026-01-01T00:05:00.000Z (p) and at (40.7128, -74.006) at 2026-01-01T00:05:00.000Z (n): ' +
        '5837.2 km instantly (same millisecond), above the maximum 900 km/h.',
    );
    expect(viaJson(s[0])).toEqual(s[0]);
  });

  it('ignores events without valid coordinates', () => {
    const core = create(cfg(), ctxOf());
    const s = runEvents(core, [
      ['k', ev(at(0), PARIS, 'p')],
      ['k', ev(at(1), { lat: 91, lon: 0 }, 'b1')],
      ['k', ev(at(2), { lat: 0, lon: -180.5 }, 'b2')],
      ['k', ev(at(3), { lat: '40.7', lon: -74 }, 'b3')],
      ['k', ev(at(4), { lat: Number.NaN, lon: 0 }, 'b4')],
      ['k', ev(at(5), { lat: 10, lon: Infinity }, 'b5')],
      ['k', ev(at(6), { lon: 10 }, 'b6')],
      ['k', ev(at(7), {}, 'b7')],
      ['k', ev(at(60), NEW_YORK, 'n')],
    ]);
    expect(s.map((x) => x.evidence)).toEqual([['p', 'n']]);
    // The bounds themselves are valid.
    const poles = runEvents(create(cfg(), ctxOf()), [['k', ev(0, { lat: 90, lon: 180 }, 'a')], ['k', ev(HOUR, { lat: -90, lon: -180 }, 'b')]]);
    expect(poles.map((x) => x.evidence)).toEqual([['a', 'b']]);
  });

  it('reads custom coordinate fields and honours match', () => {
    const core = create(cfg({ latField: 'geo_lat', lonField: 'geo_lon', match: { channel: 'card-present' } }), ctxOf());
    const place = (p: { lat: number; lon: number }, channel: string) => ({ geo_lat: p.lat, geo_lon: p.lon, channel });
    const s = runEvents(core, [
      ['k', ev(at(0), place(PARIS, 'card-present'), 'p')],
      ['k', ev(at(5), place(NEW_YORK, 'online'), 'o')],
      ['k', ev(at(10), { ...NEW_YORK, channel: 'card-present' }, 'x')],
      ['k', ev(at(20), place(LONDON, 'card-present'), 'l')],
    ]);
    expect(s.map((x) => x.evidence)).toEqual([['p', 'l']]);
  });

  it('forgets keys idle for longer than forgetAfter, whenever the watermark moved', () => {
    const events = (t: number): Array<[string, VEvent]> => [['k', ev(at(0), PARIS, 'p')], ['k', ev(t, NEW_YORK, 'n')]];
    const make = () => create(cfg({ forgetAfter: '1h', maxSpeedKmh: 100 }), ctxOf());
    expect(runEvents(make(), events(at(60)))).toHaveLength(1);
    expect(runEvents(make(), events(at(60) + 1))).toHaveLength(0);
    const core = make();
    const emit = collector();
    for (const [k, e] of events(at(60) + 1)) core.add?.(k, e, emit);
    expect(emit.signals).toEqual([]);
    expect(core.stats().keys).toBe(1);
    core.advance(at(120) + 1, emit);
    expect(core.stats().keys).toBe(1);
    core.advance(at(120) + 2, emit);
    expect(core.stats()).toEqual({ keys: 0, evicted: 0 });
  });

  it('caps keys, evicting the least recently active', () => {
    const core = create(cfg({ maxKeys: 2 }), ctxOf());
    const s = runEvents(core, [
      ['a', ev(at(0), PARIS)],
      ['b', ev(at(1), PARIS)],
      ['c', ev(at(2), PARIS)],
      ['a', ev(at(3), NEW_YORK)],
      ['c', ev(at(4), NEW_YORK, 'c2')],
    ]);
    expect(core.stats()).toEqual({ keys: 2, evicted: 2 });
    expect(s.map((x) => x.key)).toEqual(['c']);
  });

  it('is deterministic', () => {
    const events = stream(400);
    const a = runEvents(create(cfg(), ctxOf()), events);
    const b = runEvents(create(cfg(), ctxOf()), events);
    expect(a.length).toBeGreaterThan(10);
    expect(b).toEqual(a);
  });

  it('survives snapshot/restore bit for bit (MessagePack and JSON)', () => {
    const events = stream(400);
    const make = () => create(cfg({ maxKeys: 4, forgetAfter: '6h' }), ctxOf());
    for (const encode of [viaMsgpack, viaJson]) {
      const { expected, got, whole, second } = splitRun(make, events, 187, encode);
      expect(expected.length).toBeGreaterThan(10);
      expect(whole.stats().evicted).toBeGreaterThan(0);
      expect(got).toEqual(expected);
      expect(second.snapshot()).toEqual(whole.snapshot());
      expect(second.stats()).toEqual(whole.stats());
      expect(Buffer.compare(packr.pack(second.snapshot()), packr.pack(whole.snapshot()))).toBe(0);
      expect(viaMsgpack(whole.snapshot())).toEqual(whole.snapshot());
    }
  });

  it('keeps -0 out of its state', () => {
    const core = create(cfg(), ctxOf());
    runEvents(core, [['k', ev(0, { lat: -0, lon: -0 }, 'z')]]);
    const snap = core.snapshot() as { keys: Array<[string, [number, number, number, string]]> };
    expect(Object.is(snap.keys[0][1][1], 0) && Object.is(snap.keys[0][1][2], 0)).toBe(true);
  });

  it('refuses a bad snapshot', () => {
    const core = create(cfg(), ctxOf());
    for (const bad of [
      undefined,
      [],
      { evicted: '0', keys: [] },
      { evicted: 0, keys: [['k', null]] },
      { evicted: 0, keys: [['k', [1, 2, 3]]] },
      { evicted: 0, keys: [['k', [1, '2', 3, 'r']]] },
      { evicted: 0, keys: [[1, [1, 2, 3, 'r']]] },
    ]) {
      expect(() => core.restore(bad), JSON.stringify(bad)).toThrow(/bad snapshot/);
    }
  });

  it('matches a naive comparison with the previous located event, and a checkpoint anywhere changes nothing (property)', () => {
    // Mostly valid coordinates (tenths of a degree), some out of range or not numbers.
    const coord = (max: number) =>
      fc.oneof(
        { weight: 8, arbitrary: fc.integer({ min: -max * 10, max: max * 10 }).map((x) => x / 10) },
        { weight: 1, arbitrary: fc.constantFrom<unknown>(max + 1, -max - 0.5, Number.NaN, '1') },
      );
    const item = fc.record({
      key: fc.constantFrom('a', 'b', 'c'),
      dt: fc.integer({ min: 0, max: 90 }).map((m) => m * MIN),
      lat: fc.option(coord(90), { nil: undefined, freq: 8 }),
      lon: fc.option(coord(180), { nil: undefined, freq: 8 }),
      kind: fc.constantFrom('p', 'q'),
    });
    const conf = fc.record({
      maxSpeedKmh: fc.integer({ min: 50, max: 20_000 }),
      minDistanceKm: fc.integer({ min: 0, max: 3000 }),
      forgetAfter: fc.integer({ min: 1, max: 6 }).map((h) => h * HOUR),
      match: fc.boolean(),
    });
    // The reference: the same formula, written out again.
    const R = 6371.0088;
    const rad = Math.PI / 180;
    const dist = (a: { lat: number; lon: number }, b: { lat: number; lon: number }) => {
      const x = Math.sin(((b.lat - a.lat) * rad) / 2);
      const y = Math.sin(((b.lon - a.lon) * rad) / 2);
      return 2 * R * Math.asin(Math.min(1, Math.sqrt(x * x + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * y * y)));
    };
    fc.assert(
      fc.property(fc.array(item, { maxLength: 60 }), conf, fc.nat(), (items, c, cutSeed) => {
        let t = 0;
        const events: Array<[string, VEvent]> = items.map((it, i) => {
          const payload: Record<string, unknown> = { kind: it.kind };
          if (it.lat !== undefined) payload.lat = it.lat;
          if (it.lon !== undefined) payload.lon = it.lon;
          return [it.key, ev((t += it.dt), payload, `x${i}`)];
        });
        const config = cfg({ maxSpeedKmh: c.maxSpeedKmh, minDistanceKm: c.minDistanceKm, forgetAfter: c.forgetAfter, ...(c.match ? { match: { kind: 'p' } } : {}) });
        const make = () => create(config, ctxOf());
        const got = runEvents(make(), events).map((s) => [s.identity, s.evidence, s.observed]);

        const located = (e: VEvent) => {
          const { lat, lon, kind } = e.payload;
          if (c.match && kind !== 'p') return undefined;
          if (typeof lat !== 'number' || typeof lon !== 'number' || !(Math.abs(lat) <= 90) || !(Math.abs(lon) <= 180)) return undefined;
          return { lat, lon };
        };
        const want: unknown[] = [];
        events.forEach(([k, e], i) => {
          const here = located(e);
          if (here === undefined) return;
          let j = i - 1;
          while (j >= 0 && (events[j][0] !== k || located(events[j][1]) === undefined)) j--;
          if (j < 0) return;
          const prev = events[j][1];
          if (e.time - prev.time > c.forgetAfter) return;
          const d = dist(located(prev) as { lat: number; lon: number }, here);
          if (d === 0 || d < c.minDistanceKm) return;
          // km/h; two events at the same millisecond: the distance over 1 ms.
          const speed = (d * HOUR) / Math.max(1, e.time - prev.time);
          if (e.time > prev.time && speed <= c.maxSpeedKmh) return;
          want.push([`event:${e.id}`, [prev.id, e.id], speed]);
        });
        expect(got).toEqual(want);

        expectCadenceFreeAndSplittable(make, events, got.map((g) => g[0]), cutSeed);
      }),
      { numRuns: 300 },
    );
  });
});

/** A deterministic stream of located events: 3 busy keys and one-off ones hopping between 5 cities, some without coordinates. */
function stream(n: number): Array<[string, VEvent]> {
  const cities = [PARIS, NEW_YORK, LONDON, { lat: 35.6762, lon: 139.6503 }, { lat: 48.137, lon: 11.575 }];
  const events: Array<[string, VEvent]> = [];
  let t = T0;
  for (let i = 0; i < n; i++) {
    t += ((i * 7919) % 5) * 20 * MIN;
    const key = i % 10 < 8 ? `k${i % 3}` : `once${i}`;
    events.push([key, ev(t, i % 11 === 0 ? { lat: 'n/a' } : cities[(i * i) % 5], `i${i}`)]);
  }
  return events;
}
