import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { MissingFields } from '../../src/engine/missing-fields.js';
import { memorySource } from '../../src/sources/memory.js';
import type { Summary } from '../../src/engine/summary.js';
import type { VEvent } from '../../src/types.js';
import { collectSink, config, type CollectSink } from '../helpers/collect.js';

/*
 * A pipeline's `missing` policy (skip, dead-letter, default) and a source's `required` fields, through
 * the engine: counts in the summary, dead letters with reason and pipeline, rule 15 under any batching.
 */

const CFG = `
time: { maxOutOfOrderness: 0 }
sources: [{ name: in, type: stdin, required: [customer] }]
pipelines:
  - name: skip-dev
    key: customer
    missing: { device: skip }
    window: { type: tumbling, size: 1m }
    aggregates: [{ name: n, fn: count }]
  - name: dead-dev
    key: customer
    missing: { device: dead-letter }
    window: { type: tumbling, size: 1m }
    aggregates: [{ name: n, fn: count }]
  - name: default-amt
    key: customer
    missing: { amount: { default: 5 } }
    window: { type: tumbling, size: 1m }
    aggregates: [{ name: n, fn: count }, { name: total, fn: sum, field: amount }]
  - name: plain
    key: customer
    where: { amount: 5 }
    window: { type: tumbling, size: 1m }
    aggregates: [{ name: n, fn: count }]
  - name: both
    key: customer
    missing: { amount: dead-letter, device: skip }
    window: { type: tumbling, size: 1m }
    aggregates: [{ name: n, fn: count }]
sinks: [{ name: c, type: console }]
metrics: { enabled: false }
`;

const T0 = Date.parse('2026-01-01T00:00:00Z');

/** Seeded generator (LCG), so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

interface Rec {
  id: string;
  ts: number;
  customer?: string | null;
  device?: string | null;
  amount?: number | null;
}

function records(seed: number, n: number): Rec[] {
  const r = rng(seed);
  const out: Rec[] = [];
  let t = T0;
  for (let i = 0; i < n; i++) {
    t += Math.floor(r() * 20_000);
    const rec: Rec = { id: `e${i}`, ts: t };
    const c = r();
    if (c < 0.9) rec.customer = `c${Math.floor(r() * 4)}`;
    else if (c < 0.95) rec.customer = null;
    const d = r();
    if (d < 0.6) rec.device = `d${Math.floor(r() * 3)}`;
    else if (d < 0.7) rec.device = null;
    const a = r();
    if (a < 0.7) rec.amount = 10 + Math.floor(r() * 10);
    else if (a < 0.8) rec.amount = null;
    out.push(rec);
  }
  return out;
}

const has = (v: unknown) => v !== undefined && v !== null;

/** What each pipeline should do with each event, written plainly. */
function reference(recs: Rec[]) {
  const events = recs.filter((r) => has(r.customer));
  const windows = new Map<string, { n: number; total: number }>();
  const add = (p: string, r: Rec, amount = 0) => {
    const k = `${p}|${r.customer}|${Math.floor((r.ts - T0) / 60_000)}`;
    const w = windows.get(k) ?? { n: 0, total: 0 };
    w.n++;
    w.total += amount;
    windows.set(k, w);
  };
  const counts = {
    'skip-dev': { processed: 0, skipped: 0 },
    'dead-dev': { processed: 0, missingField: 0 },
    'default-amt': { processed: 0 },
    plain: { processed: 0, filtered: 0 },
    both: { processed: 0, skipped: 0, missingField: 0 },
  };
  for (const r of events) {
    if (has(r.device)) {
      counts['skip-dev'].processed++;
      add('skip-dev', r);
      counts['dead-dev'].processed++;
      add('dead-dev', r);
    } else {
      counts['skip-dev'].skipped++;
      counts['dead-dev'].missingField++;
    }
    counts['default-amt'].processed++;
    add('default-amt', r, has(r.amount) ? (r.amount as number) : 5);
    counts.plain.filtered++;
    if (!has(r.device)) counts.both.skipped++;
    else if (!has(r.amount)) counts.both.missingField++;
    else {
      counts.both.processed++;
      add('both', r);
    }
  }
  return { events: events.length, ingestDead: recs.length - events.length, counts, windows };
}

async function run(recs: Rec[], batchSize: number) {
  const sink = collectSink();
  const engine = new Engine({ loaded: config(CFG), mode: 'replay', sources: [memorySource(recs, { name: 'in', batchSize, mapping: { required: ['customer'] } })], sinks: [sink] });
  const summary: Summary = await engine.run();
  return { summary, sink };
}

describe('missing fields: a source\'s required fields and a pipeline\'s missing policy', () => {
  it('skip, dead-letter and default do what they say; counts in the summary; dead letters carry reason and pipeline', async () => {
    const recs = records(7, 400);
    const want = reference(recs);
    const { summary, sink } = await run(recs, 64);

    // Per source (rule 15): in = events + dead-lettered at ingestion; a record without customer is missing_field.
    const src = summary.sources.in;
    expect(src.in).toBe(recs.length);
    expect(src.events).toBe(want.events);
    expect(src.deadLettered).toEqual({ missing_field: want.ingestDead });
    const ingestDead = sink.deadLetters.filter((d) => d.pipeline === undefined);
    expect(ingestDead).toHaveLength(want.ingestDead);
    expect(ingestDead.every((d) => d.reason === 'missing_field' && d.detail === 'missing required field "customer"')).toBe(true);

    const p = summary.pipelines;
    expect(p['skip-dev']).toMatchObject({ ...want.counts['skip-dev'], missingField: 0, late: 0, missingKey: 0 });
    expect(p['dead-dev']).toMatchObject({ ...want.counts['dead-dev'], skipped: 0 });
    expect(p['default-amt']).toMatchObject({ ...want.counts['default-amt'], skipped: 0, missingField: 0 });
    expect(p.both).toMatchObject(want.counts.both);
    // The default was given to default-amt's copy only: plain, reading the same events, never saw amount 5.
    expect(p.plain).toMatchObject({ processed: 0, filtered: want.events });
    expect(p.plain).not.toHaveProperty('skipped');
    expect(p.plain).not.toHaveProperty('missingField');
    expect(want.counts['skip-dev'].skipped).toBeGreaterThan(20);
    expect(want.counts.both.missingField).toBeGreaterThan(10);

    // Per pipeline (rule 15): events = processed + filtered + skipped + late + missing_key + missing_field + window_limit.
    for (const [name, ps] of Object.entries(p)) {
      expect(ps.processed + ps.filtered + (ps.skipped ?? 0) + ps.late + ps.missingKey + (ps.missingField ?? 0) + (ps.windowLimited ?? 0), name).toBe(src.events);
    }

    const pipelineDead = sink.deadLetters.filter((d) => d.pipeline !== undefined);
    expect(pipelineDead.filter((d) => d.pipeline === 'dead-dev')).toHaveLength(want.counts['dead-dev'].missingField);
    expect(pipelineDead.filter((d) => d.pipeline === 'both')).toHaveLength(want.counts.both.missingField);
    expect(pipelineDead.every((d) => d.reason === 'missing_field')).toBe(true);
    expect(pipelineDead.find((d) => d.pipeline === 'dead-dev')!.detail).toBe('missing field "device"');
    expect(pipelineDead.find((d) => d.pipeline === 'both')!.detail).toBe('missing field "amount"');
    expect(summary.deadLetters.byReason.missing_field).toBe(want.ingestDead + pipelineDead.length);

    // Window results as the plain reference says.
    const got = new Map(sink.results.map((r) => [`${r.pipeline}|${r.key}|${Math.floor((r.start - T0) / 60_000)}`, { n: r.count, total: r.pipeline === 'default-amt' ? (r.values.total as number) : 0 }]));
    expect(got).toEqual(want.windows);
  });

  it('property: any batching of random inputs gives the reference counts and results', async () => {
    const r = rng(11);
    for (let round = 0; round < 6; round++) {
      const recs = records(1000 + round, 50 + Math.floor(r() * 250));
      const want = reference(recs);
      const baseline = await run(recs, 1 + Math.floor(r() * 100));
      const other = await run(recs, 1 + Math.floor(r() * 7));
      for (const { summary, sink } of [baseline, other]) {
        expect(summary.sources.in.deadLettered.missing_field ?? 0).toBe(want.ingestDead);
        for (const [name, c] of Object.entries(want.counts)) expect(summary.pipelines[name]).toMatchObject(c);
        expect(sink.results.length).toBe(want.windows.size);
      }
      expect(other.summary.pipelines).toEqual(baseline.summary.pipelines);
      // The same dead letters (their order within a batch follows the stages: ingestion, then each pipeline).
      const dead = (s: CollectSink) => s.deadLetters.map((d) => `${d.reason} ${d.pipeline ?? '-'} ${d.offset}`).sort();
      expect(dead(other.sink)).toEqual(dead(baseline.sink));
    }
  });
});

describe('MissingFields (pure)', () => {
  const ev = (payload: Record<string, unknown>): VEvent => ({ time: 0, id: undefined, partition: 0, offset: 0, source: 's', payload });

  it('none without a policy; skip before dead-letter before defaults; the event is copied, never changed', () => {
    expect(MissingFields.of({})).toBeUndefined();
    expect(MissingFields.of({ missing: {} })).toBeUndefined();
    const m = MissingFields.of({ missing: { a: 'skip', b: 'dead-letter', c: 'dead-letter', d: { default: 0 } } })!;
    expect(m.judge(ev({ b: 1 }))).toEqual({ action: 'skip' });
    expect(m.judge(ev({ a: 1, d: null }))).toEqual({ action: 'dead-letter', fields: ['b', 'c'] });
    const e = ev({ a: 1, b: 2, c: 3, d: null });
    const v = m.judge(e);
    expect(v).toEqual({ action: 'keep', event: { ...e, payload: { a: 1, b: 2, c: 3, d: 0 } } });
    expect(e.payload.d).toBeNull();
    const full = ev({ a: 1, b: 2, c: 3, d: 4 });
    expect(m.judge(full)).toEqual({ action: 'keep', event: full });
    expect((m.judge(full) as { event: VEvent }).event).toBe(full);
  });
});

describe('missing: config', () => {
  const refused = (pipelineExtra: string): string => {
    try {
      config(`
sources: [{ name: in, type: stdin }]
pipelines:
  - { name: p, key: customer, detectors: [{ name: d, type: first-seen, field: device }], ${pipelineExtra} }
`);
      return '';
    } catch (err) {
      return (err as Error).message;
    }
  };

  it('accepts skip, dead-letter and { default: scalar }', () => {
    expect(refused('missing: { device: skip, amount: dead-letter, channel: { default: web }, n: { default: 0 } }')).toBe('');
  });

  it('refuses other policies with the path and a suggestion', () => {
    expect(refused('missing: { device: skipp }')).toMatch(/pipelines\[0\]\.missing\.device: .*did you mean "skip"\?/);
    expect(refused('missing: { device: { default: [1] } }')).toContain('pipelines[0].missing.device');
    expect(refused('missing: { device: { value: 1 } }')).toContain('pipelines[0].missing.device');
  });

  it('a pipeline declaring its fields (purpose) may only name those in missing', () => {
    expect(refused('fields: [customer, device], missing: { amount: skip }')).toContain('pipelines[0].missing.amount: field "amount" is not among the fields this pipeline declares for its purpose');
  });
});
