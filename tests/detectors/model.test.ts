import { describe, expect, it } from 'vitest';
import { schema, create, ModelCore } from '../../detectors/model.js';
import { VersionedTable } from '../../src/sources/tables/versioned.js';
import type { DetectorTable } from '../../detectors/types.js';
import type { QueueEntry, VEvent } from '../../src/types.js';
import { collector, ctxOf, ev, viaMsgpack } from '../helpers/detectors.js';
import { Rng } from '../../src/generator/rng.js';

const DAY = 86_400_000;

function tableOf(rows: Array<[string, number, Record<string, unknown>]>): DetectorTable {
  const t = new VersionedTable({ maxVersions: 1000, maxRows: 1_000_000 });
  for (const [k, time, row] of rows) t.put(k, time, row);
  return { lookup: (k, time) => t.get(k, time), count: (k, a, b) => t.count(k, a, b) };
}

/** 40 days of events, one an hour per key over 5 keys; amounts above 500 are frauds, reported `delay` later. */
function world(seed: number, delay = 2 * DAY) {
  const rng = new Rng(seed);
  const events: Array<[string, VEvent]> = [];
  const reports: Array<[string, number, Record<string, unknown>]> = [];
  for (let h = 0; h < 40 * 24; h++) {
    for (let k = 0; k < 5; k++) {
      const t = h * 3_600_000 + k * 1000;
      const fraud = rng.float() < 0.05;
      const amount = fraud ? 500 + rng.float() * 500 : rng.float() * 400;
      const id = `tx${h}-${k}`;
      events.push([`c${k}`, ev(t, { amount, noise: rng.float() }, id)]);
      if (fraud) reports.push([id, t + delay, { verdict: 'fraud', customer: `c${k}` }]);
    }
  }
  return { events, reports };
}

const base = {
  name: 'risk',
  type: 'model',
  labels: { table: 'reports', field: 'verdict' },
  features: [
    { name: 'amount', field: 'amount' },
    { name: 'noise', field: 'noise' },
  ],
  learnAfter: '3d',
  negativeRate: 1,
  warmup: 5,
  value: 0.5,
};

function run(config: object, tables: Map<string, DetectorTable>, events: Array<[string, VEvent]>, cadence: 'each' | 'none' = 'each') {
  const core = create(schema.parse(config), ctxOf({ tables })) as ModelCore;
  const emit = collector();
  const queue: QueueEntry[] = [];
  emit.rank = (q) => queue.push(...q);
  for (const [k, e] of events) {
    if (cadence === 'each') core.advance(e.time, emit);
    core.add(k, e, emit);
  }
  core.advance(Infinity, emit);
  return { core, emit, queue };
}

describe('model detector', () => {
  it('learns from reports: after its warm-up, frauds score far above the rest', () => {
    const { events, reports } = world(1);
    const { core, emit } = run(base, new Map([['reports', tableOf(reports)]]), events);
    const w = core.weights();
    expect(w.positives).toBeGreaterThan(50);
    expect(w.features.amount).toBeGreaterThan(1);
    expect(Math.abs(w.features.noise)).toBeLessThan(w.features.amount / 4);
    // Scores of the last 10 days: every fraud above every genuine event.
    const late = emit.judgements.filter((j) => j.time > 30 * DAY);
    const amount = new Map(events.map(([k, e]) => [`${k}@${e.time}`, e.payload.amount as number]));
    const fraud = late.filter((j) => (amount.get(`${j.key}@${j.time}`) as number) >= 500);
    expect(emit.judgements).toHaveLength(events.length);
    expect(fraud.length).toBeGreaterThan(5);
    const genuineMax = Math.max(...late.filter((j) => !fraud.includes(j)).map((j) => j.observed));
    expect(Math.min(...fraud.map((j) => j.observed))).toBeGreaterThan(genuineMax);
    // And it alerts on them, naming the event and the feature that raised the risk.
    const alerts = emit.signals.filter((s) => s.time > 30 * DAY);
    expect(alerts.every((a) => (amount.get(`${a.key}@${a.time}`) as number) >= 500)).toBe(true);
    expect(alerts.length).toBeGreaterThan(fraud.length / 2);
    expect(alerts[0].explanation).toMatch(/raised most by amount \d/);
    expect(alerts[0].evidence).toEqual([alerts[0].identity.slice('event:'.length)]);
  });

  it('scores the events of the warm-up without alerting', () => {
    const { events, reports } = world(2);
    const { emit } = run({ ...base, warmup: 1_000_000 }, new Map([['reports', tableOf(reports)]]), events);
    expect(emit.signals).toEqual([]);
    expect(emit.judgements).toHaveLength(events.length);
  });

  it('learns nothing from reports made after an event was learnt from (nothing from the future)', () => {
    const { events, reports } = world(3);
    // Reports after the 3-day horizon come too late to label their events: scores must equal a run without them.
    const late = reports.map(([id, t, row]) => [id, t + 2 * DAY, row] as [string, number, Record<string, unknown>]);
    const withLate = run(base, new Map([['reports', tableOf(late)]]), events);
    const without = run(base, new Map([['reports', tableOf([])]]), events);
    expect(withLate.emit.judgements.map((j) => j.observed)).toEqual(without.emit.judgements.map((j) => j.observed));
    expect(withLate.core.weights().positives).toBe(0);
  });

  it('gives the same scores whatever the watermark cadence', () => {
    const { events, reports } = world(4);
    const tables = new Map([['reports', tableOf(reports)]]);
    const a = run(base, tables, events, 'each');
    const b = run(base, tables, events, 'none');
    expect(b.emit.judgements.map((j) => j.observed)).toEqual(a.emit.judgements.map((j) => j.observed));
  });

  it('resumes from a checkpoint with the same weights and scores', () => {
    const { events, reports } = world(5);
    const tables = new Map([['reports', tableOf(reports)]]);
    const whole = run(base, tables, events);
    const cut = Math.floor(events.length * 0.6);
    const first = run(base, tables, events.slice(0, cut));
    const second = create(schema.parse(base), ctxOf({ tables })) as ModelCore;
    // `run` advanced the first part to +Infinity (learning everything): take a checkpoint mid-stream instead.
    const head = create(schema.parse(base), ctxOf({ tables })) as ModelCore;
    const emit = collector();
    for (const [k, e] of events.slice(0, cut)) {
      head.advance(e.time, emit);
      head.add(k, e, emit);
    }
    second.restore(viaMsgpack(head.snapshot()));
    for (const [k, e] of events.slice(cut)) {
      second.advance(e.time, emit);
      second.add(k, e, emit);
    }
    expect(emit.judgements.map((j) => j.observed)).toEqual(whole.emit.judgements.map((j) => j.observed));
    expect(first.emit.judgements).toHaveLength(cut);
  });

  it('refuses a snapshot of a model with other features', () => {
    const { events, reports } = world(6);
    const { core } = run(base, new Map([['reports', tableOf(reports)]]), events.slice(0, 100));
    const other = create(schema.parse({ ...base, features: [{ name: 'amount', field: 'amount' }] }), ctxOf()) as ModelCore;
    expect(() => other.restore(core.snapshot())).toThrow(/snapshot has features amount, noise/);
  });

  it('reads table features at the event time: reports on the entity within the span', () => {
    const byTerminal = tableOf([
      ['T1', 10 * DAY, { r: 1 }],
      ['T1', 12 * DAY, { r: 2 }],
      ['T2', 40 * DAY, { r: 3 }],
    ]);
    const config = {
      ...base,
      features: [
        { name: 'reports-7d', table: 'by-terminal', on: 'terminal', stat: 'count', within: '7d' },
        { name: 'known', table: 'by-terminal', on: 'terminal', stat: 'present' },
        { name: 'r', table: 'by-terminal', on: 'terminal', stat: 'field', field: 'r', missing: -1 },
      ],
      explain: 3,
    };
    const core = create(schema.parse(config), ctxOf({ tables: new Map([['reports', tableOf([])], ['by-terminal', byTerminal]]) })) as ModelCore;
    const seen: number[][] = [];
    const emit = collector();
    const times = [9 * DAY, 10 * DAY, 13 * DAY, 18 * DAY, 20 * DAY];
    for (const t of times) {
      core.add('c', ev(t, { terminal: 'T1' }), emit);
      seen.push((core.snapshot().pending.at(-1) as [string, number, number[]])[2]);
    }
    expect(seen).toEqual([
      [0, 0, -1],
      [1, 1, 1],
      [2, 1, 2],
      [1, 1, 2],
      [0, 1, 2],
    ]);
  });

  it('ranks, per day, the k keys with the highest risk met, leaving out those confirmed', () => {
    const { events, reports } = world(7);
    const confirmed = tableOf([['c3', 20 * DAY, { verdict: 'fraud' }]]);
    const tables = new Map([
      ['reports', tableOf(reports)],
      ['confirmed', confirmed],
    ]);
    const { emit, queue } = run({ ...base, queue: { k: 2, every: '1d', exclude: { table: 'confirmed' } } }, tables, events);
    const days = new Set(queue.map((q) => q.start));
    expect(days.size).toBe(40);
    for (const d of days) {
      const lines = queue.filter((q) => q.start === d);
      expect(lines.map((q) => q.rank)).toEqual([1, 2]);
      // The best two of the day by their highest score, c3 left out once confirmed.
      const best = new Map<string, number>();
      for (const j of emit.judgements) if (j.time >= d && j.time < d + DAY && !(j.key === 'c3' && d + DAY >= 20 * DAY)) best.set(j.key, Math.max(best.get(j.key) ?? -1, j.observed));
      const want = [...best].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 2).map(([k]) => k);
      expect(lines.map((q) => q.key)).toEqual(want);
    }
    expect(queue.some((q) => q.key === 'c3' && q.end > 20 * DAY)).toBe(false);
  });

  it('refuses a count feature without a span and an unknown detector', () => {
    const refused = schema.safeParse({ ...base, features: [{ name: 'n', table: 'reports', on: 'x', stat: 'count' }] });
    expect(refused.error?.issues.map((i) => i.message).join('\n')).toMatch(/stat "count" needs "within"/);
    const peers = { index: () => undefined, strength: () => NaN, observed: () => NaN, crossed: () => NaN };
    expect(() => create(schema.parse({ ...base, features: [{ name: 'v', detector: 'velo' }] }), ctxOf({ peers }))).toThrow(/reads detector "velo", which is not in pipeline "p"/);
  });
});

describe('model detector in the runtime', () => {
  it('keeps what it learnt when only its bound, warm-up, explanations or queue size change (hot reload)', async () => {
    const { DetectorSet } = await import('../../detectors/runtime.js');
    const { detectorSchema } = await import('../../detectors/index.js');
    const { events, reports } = world(8);
    const tables = new Map([['reports', tableOf(reports)]]);
    const rctx = { pipeline: 'p', keyLabel: 'c', aggregates: [], windowType: 'none', evidenceLimit: 5, configVersion: 'v', detectionTime: (w: number) => w, tables };
    const a = new DetectorSet([detectorSchema.parse({ ...base, queue: { k: 3 } })], rctx);
    const out = { alerts: [], shadowAlerts: [], scores: [], queue: [] };
    for (const [k, e] of events.slice(0, 3000)) a.offer(k, e, out);
    a.advance(events[2999][1].time, out);
    const changed = new DetectorSet([detectorSchema.parse({ ...base, value: 0.8, warmup: 1, explain: 5, queue: { k: 50 } })], rctx);
    expect(changed.restore(a.snapshot())).toEqual(['risk']);
    const relearn = new DetectorSet([detectorSchema.parse({ ...base, learningRate: 0.01, queue: { k: 3 } })], rctx);
    expect(relearn.restore(a.snapshot())).toEqual([]);
  });
});

describe('model detector on messy input', () => {
  it('one absurd value (1e308) does not blind the feature for the rest of the stream', () => {
    const { events, reports } = world(9);
    const tables = new Map([['reports', tableOf(reports)]]);
    const messy = events.map(([k, e], i) => (i === 3 || i === 2000 ? ([k, { ...e, payload: { ...e.payload, amount: 1e308 } }] as [string, VEvent]) : ([k, e] as [string, VEvent])));
    const clean = run(base, tables, events);
    const dirty = run(base, tables, messy);
    // The model still separates frauds from the rest in the last 10 days, as it does on clean input.
    const amount = new Map(events.map(([k, e]) => [`${k}@${e.time}`, e.payload.amount as number]));
    const separation = (r: ReturnType<typeof run>) => {
      const late = r.emit.judgements.filter((j) => j.time > 30 * DAY);
      const fraud = late.filter((j) => (amount.get(`${j.key}@${j.time}`) as number) >= 500).map((j) => j.observed);
      const genuine = late.filter((j) => (amount.get(`${j.key}@${j.time}`) as number) < 500).map((j) => j.observed);
      return Math.min(...fraud) - Math.max(...genuine);
    };
    expect(separation(clean)).toBeGreaterThan(0);
    expect(separation(dirty)).toBeGreaterThan(0);
    expect(dirty.emit.judgements.every((j) => Number.isFinite(j.observed))).toBe(true);
  });
});
