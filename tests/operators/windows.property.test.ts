/**
 * Property tests of the window cores against a naive reference (STYLE.md: "property tests compare against a
 * naive reference"). Streams have several keys and partitions, disorder within maxOutOfOrderness per
 * partition (so no event is ever late), and a random interleaving of partitions.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { WatermarkTracker } from '../../src/time/watermark.js';
import { createAggregates } from '../../operators/aggregates/index.js';
import * as tumbling from '../../operators/tumbling.js';
import * as hopping from '../../operators/hopping.js';
import * as session from '../../operators/session.js';
import * as sliding from '../../operators/sliding.js';
import type { WindowCore } from '../../operators/types.js';
import { PipelineCore } from '../../src/engine/pipeline.js';
import { pipelineSchema } from '../../src/config/pipeline.js';
import { emptyBatch, type VEvent, type WindowResult } from '../../src/types.js';

const KEYS = ['a', 'b', 'c'];
const NUM_RUNS = 200;
const AGGS = [
  { name: 'n', fn: 'count' },
  { name: 's', fn: 'sum', field: 'v' },
  { name: 'lo', fn: 'min', field: 'v' },
  { name: 'hi', fn: 'max', field: 'v' },
] as const;

type WindowCfg =
  | { type: 'tumbling'; size: number; offset: number; grace: number }
  | { type: 'hopping'; size: number; advance: number; offset: number; grace: number }
  | { type: 'session'; gap: number; grace: number }
  | { type: 'sliding'; lookback: number; grace: number };

interface Ev {
  key: string;
  event: VEvent;
}

interface Stream {
  bound: number;
  /** Events of each partition, in partition order. */
  partitions: Ev[][];
}

// ---------------------------------------------------------------------------------------------- generators

/** One partition: times = non-decreasing base minus a jitter in [0, bound], so t >= (max so far) - bound. */
function partitionArb(p: number, bound: number): fc.Arbitrary<Ev[]> {
  const item = fc.record({
    delta: fc.integer({ min: 0, max: 6 }),
    jitter: fc.integer({ min: 0, max: bound }),
    key: fc.constantFrom(...KEYS),
    v: fc.option(fc.integer({ min: -100, max: 100 }), { nil: undefined, freq: 6 }),
  });
  return fc.tuple(fc.integer({ min: -40, max: 40 }), fc.array(item, { maxLength: 25 })).map(([start, items]) => {
    let base = start;
    return items.map((it, i) => {
      base += it.delta;
      const event: VEvent = {
        time: base - it.jitter,
        id: `p${p}-${i}`,
        partition: p,
        offset: i,
        source: 'src',
        payload: it.v === undefined ? { k: it.key } : { k: it.key, v: it.v },
      };
      return { key: it.key, event };
    });
  });
}

const streamArb: fc.Arbitrary<Stream> = fc
  .tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 10 }))
  .chain(([n, bound]) =>
    fc.tuple(...Array.from({ length: n }, (_, p) => partitionArb(p, bound))).map((partitions) => ({ bound, partitions })),
  );

/** Random choices used to interleave partitions (each picks among the partitions that still have events). */
const orderArb = fc.array(fc.nat({ max: 1000 }), { minLength: 80, maxLength: 80 });

function interleave(stream: Stream, order: number[]): Ev[] {
  const pos = stream.partitions.map(() => 0);
  const out: Ev[] = [];
  for (let i = 0; ; i++) {
    const open = stream.partitions.map((evs, p) => (pos[p] < evs.length ? p : -1)).filter((p) => p >= 0);
    if (open.length === 0) return out;
    const p = open[order[i % order.length] % open.length];
    out.push(stream.partitions[p][pos[p]++]);
  }
}

const tumblingArb: fc.Arbitrary<WindowCfg> = fc
  .integer({ min: 1, max: 20 })
  .chain((size) => fc.record({ type: fc.constant('tumbling' as const), size: fc.constant(size), offset: fc.integer({ min: 0, max: size - 1 }), grace: fc.integer({ min: 0, max: 5 }) }));
const hoppingArb: fc.Arbitrary<WindowCfg> = fc.integer({ min: 1, max: 10 }).chain((advance) =>
  fc.record({
    type: fc.constant('hopping' as const),
    advance: fc.constant(advance),
    size: fc.oneof(fc.integer({ min: 1, max: 4 }).map((k) => k * advance), fc.integer({ min: advance, max: 30 })),
    offset: fc.integer({ min: 0, max: advance - 1 }),
    grace: fc.integer({ min: 0, max: 5 }),
  }),
);
const sessionArb: fc.Arbitrary<WindowCfg> = fc.record({ type: fc.constant('session' as const), gap: fc.integer({ min: 1, max: 15 }), grace: fc.integer({ min: 0, max: 5 }) });
const slidingArb: fc.Arbitrary<WindowCfg> = fc.record({ type: fc.constant('sliding' as const), lookback: fc.integer({ min: 1, max: 20 }), grace: fc.integer({ min: 0, max: 5 }) });
const anyWindowArb = fc.oneof(tumblingArb, hoppingArb, sessionArb, slidingArb);

// ---------------------------------------------------------------------------------------------- running

function makeCore(cfg: WindowCfg, evidenceLimit: number): WindowCore {
  const ctx = { pipeline: 'p', aggregates: createAggregates(AGGS), evidenceLimit };
  switch (cfg.type) {
    case 'tumbling':
      return tumbling.create(tumbling.schema.parse(cfg), ctx);
    case 'hopping':
      return hopping.create(hopping.schema.parse(cfg), ctx);
    case 'session':
      return session.create(session.schema.parse(cfg), ctx);
    case 'sliding':
      return sliding.create(sliding.schema.parse(cfg), ctx);
  }
}

/** WatermarkTracker + core, as the engine drives them: observe, advance to W, add; end of input at the end. */
function run(cfg: WindowCfg, stream: Stream, arrival: Ev[], evidenceLimit = 1000): WindowResult[] {
  const tracker = new WatermarkTracker({ maxOutOfOrderness: stream.bound, idleTimeout: 0 });
  stream.partitions.forEach((_, p) => tracker.register(p, 0));
  const core = makeCore(cfg, evidenceLimit);
  const out: WindowResult[] = [];
  for (const { key, event } of arrival) {
    const w = tracker.observe(event.partition, event.time, 0);
    // The generator keeps every event at or after W: none may be late.
    expect(event.time).toBeGreaterThanOrEqual(w);
    if (w > core.watermark) core.advance(w, out);
    expect(core.add(key, event, out)).toBe(true);
  }
  core.advance(tracker.finishAll(), out);
  expect(core.openWindows).toBe(0);
  return out;
}

// ---------------------------------------------------------------------------------------------- reference

interface Ref {
  key: string;
  start: number;
  end: number;
  count: number;
  values: { n: number; s: number; lo: number | null; hi: number | null };
  trigger?: string;
}

function agg(key: string, start: number, end: number, evs: VEvent[], trigger?: string): Ref {
  const vs = evs.map((e) => e.payload.v).filter((v): v is number => typeof v === 'number');
  const r: Ref = {
    key,
    start,
    end,
    count: evs.length,
    values: { n: evs.length, s: vs.reduce((a, b) => a + b, 0), lo: vs.length ? Math.min(...vs) : null, hi: vs.length ? Math.max(...vs) : null },
  };
  if (trigger !== undefined) r.trigger = trigger;
  return r;
}

function byKey(all: Ev[]): Map<string, VEvent[]> {
  const m = new Map<string, VEvent[]>();
  for (const { key, event } of all) m.set(key, [...(m.get(key) ?? []), event]);
  return m;
}

function reference(cfg: WindowCfg, all: Ev[]): Ref[] {
  const out: Ref[] = [];
  for (const [key, evs] of byKey(all)) {
    switch (cfg.type) {
      case 'tumbling':
      case 'hopping': {
        const size = cfg.size;
        const advance = cfg.type === 'tumbling' ? cfg.size : cfg.advance;
        const starts = new Set<number>();
        for (const e of evs) {
          // Every k*advance + offset within (t - size, t], found by brute force.
          for (let s = e.time - size - advance; s <= e.time; s++) {
            if ((((s - cfg.offset) % advance) + advance) % advance === 0 && s <= e.time && e.time < s + size) starts.add(s);
          }
        }
        for (const s of starts) out.push(agg(key, s, s + size, evs.filter((e) => s <= e.time && e.time < s + size)));
        break;
      }
      case 'session': {
        // Connected components of the graph "times differ by at most gap".
        const sorted = [...evs].sort((x, y) => x.time - y.time);
        let group: VEvent[] = [];
        for (const e of sorted) {
          if (group.length > 0 && e.time - group[group.length - 1].time > cfg.gap) {
            out.push(agg(key, group[0].time, group[group.length - 1].time, group));
            group = [];
          }
          group.push(e);
        }
        if (group.length > 0) out.push(agg(key, group[0].time, group[group.length - 1].time, group));
        break;
      }
      case 'sliding': {
        for (const e of evs) {
          const from = e.time - cfg.lookback;
          out.push(agg(key, from, e.time, evs.filter((o) => from <= o.time && o.time <= e.time), e.id));
        }
        break;
      }
    }
  }
  return out;
}

/** The comparable part of a result (no evidence, no emission watermark). */
function project(r: WindowResult): Ref {
  const p: Ref = { key: r.key, start: r.start, end: r.end, count: r.count, values: r.values as Ref['values'] };
  if (r.trigger !== undefined) p.trigger = r.trigger;
  return p;
}

const asSet = (rs: Ref[]): string[] =>
  rs
    .map((r) => JSON.stringify([r.key, r.start, r.end, r.count, r.values.n, r.values.s, r.values.lo, r.values.hi, r.trigger ?? null]))
    .sort();

/** Everything that rule 11 says must not depend on interleaving; evidence as a set (its order is arrival order). */
const fullSet = (rs: WindowResult[]): string[] =>
  rs
    .map((r) => JSON.stringify([r.pipeline, r.key, r.start, r.end, r.revision, r.kind, r.count, r.values, [...r.evidence].sort(), r.trigger ?? null]))
    .sort();

function checkAgainstReference(cfg: WindowCfg, stream: Stream, order: number[]): void {
  const arrival = interleave(stream, order);
  const results = run(cfg, stream, arrival);
  expect(asSet(results.map(project))).toEqual(asSet(reference(cfg, arrival)));
  // No late data: every window fires once, as final.
  for (const r of results) {
    expect(r.revision).toBe(0);
    expect(r.kind).toBe('final');
    expect(r.pipeline).toBe('p');
  }
  // Results of one key come out in order of window end (rule 10).
  for (const key of KEYS) {
    const ends = results.filter((r) => r.key === key).map((r) => r.end);
    for (let i = 1; i < ends.length; i++) expect(ends[i]).toBeGreaterThanOrEqual(ends[i - 1]);
  }
  // Evidence: every contributing id (limit not reached), each once.
  const ids = new Map(arrival.map(({ key, event }) => [event.id as string, { key, time: event.time }]));
  for (const r of results) {
    expect(r.evidence).toHaveLength(r.count);
    expect(new Set(r.evidence).size).toBe(r.count);
    for (const id of r.evidence) expect(ids.get(id)?.key).toBe(r.key);
  }
}

// ---------------------------------------------------------------------------------------------- properties

describe('window cores against a naive reference (no late data)', () => {
  it('tumbling: every window holding at least one event, with its aggregates', () => {
    fc.assert(fc.property(tumblingArb, streamArb, orderArb, checkAgainstReference), { numRuns: NUM_RUNS });
  });

  it('hopping: every window holding at least one event, with its aggregates', () => {
    fc.assert(fc.property(hoppingArb, streamArb, orderArb, checkAgainstReference), { numRuns: NUM_RUNS });
  });

  it('session: the connected components by gap of each key', () => {
    fc.assert(fc.property(sessionArb, streamArb, orderArb, checkAgainstReference), { numRuns: NUM_RUNS });
  });

  it('sliding: for each event, the events of its key in [t - L, t]', () => {
    fc.assert(fc.property(slidingArb, streamArb, orderArb, checkAgainstReference), { numRuns: NUM_RUNS });
  });

  it('sliding, eager mode with events in time order: the same evaluations on arrival', () => {
    const inOrder = fc.tuple(fc.integer({ min: 1, max: 20 }), fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.constantFrom(...KEYS)), { maxLength: 40 }));
    fc.assert(
      fc.property(inOrder, ([lookback, items]) => {
        let t = 0;
        const all: Ev[] = items.map(([d, key], i) => {
          t += d;
          return { key, event: { time: t, id: `e${i}`, partition: 0, offset: i, source: 'src', payload: { v: i } } };
        });
        const core = sliding.create(sliding.schema.parse({ type: 'sliding', lookback, eager: true }), { pipeline: 'p', aggregates: createAggregates(AGGS), evidenceLimit: 1000 });
        const out: WindowResult[] = [];
        for (const { key, event } of all) {
          const before = out.length;
          expect(core.add(key, event, out)).toBe(true);
          expect(out.length).toBe(before + 1); // evaluated on arrival
          expect(out[before].trigger).toBe(event.id);
        }
        core.advance(Infinity, out);
        // Events of equal time arriving later are not in an eager evaluation: compare with a reference
        // over the events that had arrived.
        const expected = all.map(({ key, event }, i) => {
          const seen = all.slice(0, i + 1).filter((o) => o.key === key && o.event.time >= event.time - lookback).map((o) => o.event);
          return agg(key, event.time - lookback, event.time, seen, event.id);
        });
        expect(asSet(out.map(project))).toEqual(asSet(expected));
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

describe('the watermark promise and lateness (rules 5, 9)', () => {
  // Any input, late events included: times anywhere around a watermark that moves on between events.
  const opsArb = fc.array(
    fc.record({ key: fc.constantFrom(...KEYS), t: fc.integer({ min: -10, max: 50 }), dw: fc.integer({ min: 0, max: 4 }) }),
    { maxLength: 80 },
  );

  /** Whether rule 9 lets a window core accept an event at `t` under watermark `w`; undefined for sessions (it depends on their state). */
  function acceptable(cfg: WindowCfg, t: number, w: number): boolean | undefined {
    switch (cfg.type) {
      case 'tumbling':
      case 'hopping': {
        // The window containing t that ends last starts at floor((t - o) / a) * a + o.
        const advance = cfg.type === 'tumbling' ? cfg.size : cfg.advance;
        const lastStart = Math.floor((t - cfg.offset) / advance) * advance + cfg.offset;
        return w < lastStart + cfg.size + cfg.grace;
      }
      case 'sliding':
        return w <= t + cfg.lookback + cfg.grace;
      case 'session':
        return undefined;
    }
  }

  it('an event at or after W is always accepted, one behind every open window never; an emitted result changes only by an update within grace, never with grace 0', () => {
    fc.assert(
      fc.property(anyWindowArb, opsArb, (cfg, ops) => {
        const core = makeCore(cfg, 1000);
        const out: WindowResult[] = [];
        let w = -10;
        ops.forEach(({ key, t, dw }, i) => {
          if (dw > 0) core.advance((w += dw), out);
          const event: VEvent = { time: t, id: `e${i}`, partition: 0, offset: i, source: 'src', payload: { k: key, v: 1 } };
          const expected = acceptable(cfg, t, core.watermark);
          const accepted = core.add(key, event, out);
          if (t >= core.watermark) expect(accepted).toBe(true);
          if (expected !== undefined) expect(accepted).toBe(expected);
        });
        core.advance(Infinity, out);
        const revisions = new Map<string, number>();
        for (const r of out) {
          expect(r.kind).toBe(r.revision === 0 ? 'final' : 'update');
          if (cfg.grace === 0) expect(r.revision).toBe(0);
          // A session's bounds grow with its updates: its identity is not (start, end).
          if (cfg.type === 'session') continue;
          const id = JSON.stringify([r.key, r.start, r.end, r.trigger ?? null]);
          expect(r.revision).toBe((revisions.get(id) ?? -1) + 1);
          revisions.set(id, r.revision);
          if (r.revision > 0) {
            if (cfg.type === 'sliding') expect(r.watermark).toBeLessThanOrEqual(r.end + cfg.grace);
            else expect(r.watermark).toBeLessThan(r.end + cfg.grace);
          }
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

describe('determinism (rule 11)', () => {
  it('the same results, as sets, for any interleaving of the partitions', () => {
    fc.assert(
      fc.property(anyWindowArb, streamArb, orderArb, orderArb, (cfg, stream, order1, order2) => {
        const r1 = run(cfg, stream, interleave(stream, order1));
        const r2 = run(cfg, stream, interleave(stream, order2));
        expect(fullSet(r2)).toEqual(fullSet(r1));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('the same results through PipelineCore, whatever the batch sizes and the interleaving', () => {
    const splitsArb = fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 20 });
    fc.assert(
      fc.property(anyWindowArb, streamArb, orderArb, orderArb, splitsArb, (cfg, stream, order1, order2, splits) => {
        const viaPipeline = (arrival: Ev[], sizes: number[]): WindowResult[] => {
          const pipeline = new PipelineCore(
            pipelineSchema.parse({ name: 'p', key: 'k', window: cfg, aggregates: AGGS, evidenceLimit: 1000 }),
            deps,
          );
          const tracker = new WatermarkTracker({ maxOutOfOrderness: stream.bound, idleTimeout: 0 });
          stream.partitions.forEach((_, p) => tracker.register(p, 0));
          const results: WindowResult[] = [];
          let i = 0;
          let s = 0;
          while (i < arrival.length) {
            const n = Math.min(sizes[s++ % sizes.length], arrival.length - i);
            const batch = emptyBatch(0);
            batch.events = arrival.slice(i, i + n).map((x) => x.event);
            batch.wm = Float64Array.from(batch.events, (e) => tracker.observe(e.partition, e.time, 0));
            batch.watermark = tracker.watermark;
            pipeline.process(batch);
            expect(batch.deadLetters).toEqual([]);
            results.push(...batch.results);
            i += n;
          }
          const last = emptyBatch(0);
          last.watermark = tracker.finishAll();
          last.final = true;
          pipeline.process(last);
          results.push(...last.results);
          const c = pipeline.takeCounts();
          expect(c).toEqual({ processed: arrival.length, filtered: 0, late: 0, missingKey: 0, limited: 0, missingField: 0, skipped: 0 });
          return results;
        };
        const arrival1 = interleave(stream, order1);
        const direct = run(cfg, stream, arrival1);
        const a = viaPipeline(arrival1, splits);
        const b = viaPipeline(interleave(stream, order2), [...splits].reverse());
        const c = viaPipeline(arrival1, [1]);
        expect(fullSet(a)).toEqual(fullSet(direct));
        expect(fullSet(b)).toEqual(fullSet(direct));
        expect(fullSet(c)).toEqual(fullSet(direct));
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

const deps = { configVersion: 'test', detectionTime: () => 0 };
