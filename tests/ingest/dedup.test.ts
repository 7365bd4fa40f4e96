import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { Ingestor } from '../../src/ingest/ingestor.js';
import { EngineMetrics } from '../../src/metrics/registry.js';
import { mappingSchema, type Mapping } from '../../src/sources/mapping.js';
import { memorySource } from '../../src/sources/memory.js';
import type { DeadLetter, VEvent } from '../../src/types.js';
import { collectSink, config } from '../helpers/collect.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');

function ingestor(mapping: Partial<Mapping> | Record<string, unknown>): Ingestor {
  return new Ingestor('in', 'object', mappingSchema.parse(mapping));
}

/** Feed objects through one ingestor: kept ids, and the duplicates count. */
function feed(ing: Ingestor, records: Array<{ id?: string; ts: number }>, partition = 0): { kept: Array<string | undefined>; dups: number; dead: DeadLetter[] } {
  const dead: DeadLetter[] = [];
  const kept: Array<string | undefined> = [];
  records.forEach((r, i) => {
    const e: VEvent | undefined = ing.ingest({ offset: i + 1, data: { ...r } }, partition, 0, dead);
    if (e) kept.push(e.id);
  });
  return { kept, dups: ing.takeDuplicates(), dead };
}

describe('dedup: option parsing', () => {
  it('is off by default; horizon is a duration, maxIds defaults to 100000', () => {
    expect(mappingSchema.parse({}).dedup).toBeUndefined();
    expect(mappingSchema.parse({ dedup: { horizon: '10m' } }).dedup).toEqual({ horizon: 600_000, maxIds: 100_000 });
    expect(() => mappingSchema.parse({ dedup: {} })).toThrow();
    expect(() => mappingSchema.parse({ dedup: { horizon: 0 } })).toThrow();
    expect(() => mappingSchema.parse({ dedup: { horizon: '1m', maxIds: 0 } })).toThrow();
    expect(() => mappingSchema.parse({ dedup: { horizon: '1m', extra: 1 } })).toThrow();
  });

  it('is accepted in a source of a config file', () => {
    const loaded = config(`
sources: [{ name: in, type: stdin, dedup: { horizon: 10m, maxIds: 50 } }]
pipelines: [{ name: p, key: user, detectors: [{ name: v, type: velocity, lookback: 1m, value: 3 }] }]
sinks: [{ name: c, type: console }]
`);
    expect((loaded.config.sources[0] as { dedup?: unknown }).dedup).toEqual({ horizon: 600_000, maxIds: 50 });
  });
});

describe('dedup: the ingestor', () => {
  it('without dedup, redelivered ids all pass', () => {
    const r = feed(ingestor({}), [{ id: 'a', ts: T0 }, { id: 'a', ts: T0 }]);
    expect(r.kept).toEqual(['a', 'a']);
    expect(r.dups).toBe(0);
  });

  it('drops an id seen within the horizon, never as a dead letter; events without id always pass', () => {
    const ing = ingestor({ dedup: { horizon: '10m' } });
    const r = feed(ing, [
      { id: 'a', ts: T0 },
      { id: 'b', ts: T0 + 1000 },
      { id: 'a', ts: T0 },
      { ts: T0 },
      { ts: T0 },
      { id: 'a', ts: T0 + 600_000 }, // exactly at the horizon: still a duplicate
      { id: 'b', ts: T0 - 5000 }, // out of order but within the horizon
    ]);
    expect(r.kept).toEqual(['a', 'b', undefined, undefined]);
    expect(r.dups).toBe(3);
    expect(r.dead).toEqual([]);
    expect(ing.takeDuplicates()).toBe(0);
  });

  it('forgets ids once they fall behind the horizon (event time), and accepts them again', () => {
    const ing = ingestor({ dedup: { horizon: '1m' } });
    const r = feed(ing, [
      { id: 'a', ts: T0 },
      { id: 'x', ts: T0 + 60_001 }, // moves past a's horizon: a is forgotten
      { id: 'a', ts: T0 + 60_002 },
      { id: 'a', ts: T0 + 60_003 }, // duplicate of the re-accepted a
    ]);
    expect(r.kept).toEqual(['a', 'x', 'a']);
    expect(r.dups).toBe(1);
    expect(ing.rememberedIds(0)).toBe(2);
    // Far later, everything before is expired.
    feed(ing, [{ id: 'z', ts: T0 + 3_600_000 }]);
    expect(ing.rememberedIds(0)).toBe(1);
  });

  it('an id far from the one remembered (beyond the horizon) is a new event even if not yet expired', () => {
    const ing = ingestor({ dedup: { horizon: '1m' } });
    // Seen late first (T0 + 10m), then an old copy arrives: 10 minutes apart, not a redelivery.
    const r = feed(ing, [{ id: 'a', ts: T0 + 600_000 }, { id: 'a', ts: T0 }]);
    expect(r.kept).toEqual(['a', 'a']);
  });

  it('remembers at most maxIds ids per partition, forgetting the oldest first', () => {
    const ing = ingestor({ dedup: { horizon: '1d', maxIds: 3 } });
    const first = feed(ing, ['a', 'b', 'c', 'd'].map((id) => ({ id, ts: T0 })));
    expect(first.kept).toEqual(['a', 'b', 'c', 'd']);
    expect(ing.rememberedIds(0)).toBe(3);
    // a was forgotten (oldest); d is still remembered.
    const again = feed(ing, [{ id: 'd', ts: T0 }, { id: 'a', ts: T0 }]);
    expect(again.kept).toEqual(['a']);
    expect(again.dups).toBe(1);
    // A large stream stays within the bound.
    feed(ing, Array.from({ length: 10_000 }, (_, i) => ({ id: `n${i}`, ts: T0 + i })));
    expect(ing.rememberedIds(0)).toBe(3);
  });

  it('is per partition and deterministic', () => {
    const recs = Array.from({ length: 500 }, (_, i) => ({ id: `e${(i * 7919) % 120}`, ts: T0 + ((i * 104_729) % 900_000) }));
    const runs = [0, 1].map(() => feed(ingestor({ dedup: { horizon: '5m', maxIds: 50 } }), recs));
    expect(runs[0]).toEqual(runs[1]);
    const ing = ingestor({ dedup: { horizon: '5m' } });
    expect(feed(ing, [{ id: 'a', ts: T0 }], 0).kept).toEqual(['a']);
    expect(feed(ing, [{ id: 'a', ts: T0 }], 1).kept).toEqual(['a']);
    expect(feed(ing, [{ id: 'a', ts: T0 }], 1).kept).toEqual([]);
  });
});

const CFG = `
time: { maxOutOfOrderness: 0 }
sources: [{ name: in, type: stdin }]
pipelines:
  - name: users
    key: user
    detectors:
      - { name: burst, type: velocity, lookback: 1m, value: 3 }
sinks: [{ name: c, type: console }]
metrics: { enabled: false }
`;

/** Bursts per user, some above the velocity bound. */
function clean(): Array<{ id: string; ts: number; user: string }> {
  const out: Array<{ id: string; ts: number; user: string }> = [];
  for (let i = 0; i < 60; i++) out.push({ id: `e${i}`, ts: T0 + i * 7000, user: `u${i % 3}` });
  for (let i = 0; i < 5; i++) out.push({ id: `b${i}`, ts: T0 + 500_000 + i * 1000, user: 'u9' });
  return out;
}

/** The same events with some redelivered (right after, a bit later, several times). */
function withRedeliveries(): Array<{ id: string; ts: number; user: string }> {
  const out: Array<{ id: string; ts: number; user: string }> = [];
  const events = clean();
  events.forEach((e, i) => {
    out.push(e);
    if (i % 4 === 0) out.push({ ...e });
    if (i % 9 === 0) out.push({ ...e }, { ...e });
    if (i >= 2 && i % 5 === 0) out.push({ ...events[i - 2] });
  });
  return out;
}

async function run(records: object[], mapping: Partial<Mapping> | Record<string, unknown>, metrics?: EngineMetrics) {
  const sink = collectSink();
  const engine = new Engine({ loaded: config(CFG), mode: 'replay', metrics, sources: [memorySource(records, { name: 'in', batchSize: 16, mapping: mapping as Partial<Mapping> })], sinks: [sink] });
  const summary = await engine.run();
  return { sink, summary };
}

describe('dedup: in a replay', () => {
  it('counts each redelivered event once: velocity alerts as without duplicates; in = events + dead-lettered + duplicates', async () => {
    const base = await run(clean(), { dedup: { horizon: '10m' } });
    const records = withRedeliveries();
    const redelivered = records.length - clean().length;
    expect(redelivered).toBeGreaterThan(20);
    const metrics = new EngineMetrics(false);
    const dedup = await run(records, { dedup: { horizon: '10m' } }, metrics);
    const plain = await run(records, {});

    expect(base.sink.alerts.length).toBeGreaterThan(0);
    const view = (alerts: typeof base.sink.alerts) => alerts.map((a) => [a.id, a.key, a.observed, a.evidence]);
    expect(view(dedup.sink.alerts)).toEqual(view(base.sink.alerts));
    // Without dedup, redeliveries inflate the counts.
    expect(view(plain.sink.alerts)).not.toEqual(view(base.sink.alerts));

    const src = dedup.summary.sources.in;
    expect(src.in).toBe(records.length);
    expect(src.events).toBe(clean().length);
    expect(src.duplicates).toBe(redelivered);
    const dead = Object.values(src.deadLettered).reduce((a, b) => a + (b ?? 0), 0);
    expect(src.in).toBe(src.events + dead + (src.duplicates ?? 0));
    // Never dead letters.
    expect(dedup.sink.deadLetters).toEqual([]);
    expect(dedup.summary.deadLetters.total).toBe(0);
    // The metric.
    const m = await metrics.eventsDuplicate.get();
    expect(m.values.find((v) => v.labels.source === 'in')?.value).toBe(redelivered);
    // Sources without dedup keep their summary shape.
    expect(plain.summary.sources.in.duplicates).toBeUndefined();
    expect(base.summary.sources.in.duplicates).toBe(0);
  });

  it('is deterministic across runs and batch sizes', async () => {
    const records = withRedeliveries();
    const a = await run(records, { dedup: { horizon: '10m', maxIds: 10 } });
    const sink = collectSink();
    const engine = new Engine({ loaded: config(CFG), mode: 'replay', sources: [memorySource(records, { name: 'in', batchSize: 3, mapping: { dedup: { horizon: 600_000, maxIds: 10 } } })], sinks: [sink] });
    const s = await engine.run();
    expect(s.sources.in).toEqual(a.summary.sources.in);
    expect(sink.alerts.map((x) => x.id)).toEqual(a.sink.alerts.map((x) => x.id));
  });
});
