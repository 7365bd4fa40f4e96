import { describe, expect, it } from 'vitest';
import { createGenerator, generate, PAYMENT_TYPOLOGIES } from '../../src/generator/index.js';
import { create, schema } from '../../src/sources/generator.js';
import { silentLogger } from '../../src/log.js';
import type { RawBatch } from '../../src/sources/types.js';

const START = Date.UTC(2024, 2, 1);
const HOUR = 3_600_000;

function perHour(events: Record<string, unknown>[]): number[] {
  const counts = new Array<number>(24).fill(0);
  for (const e of events) {
    const ts = e.ts as number;
    if (ts < START + 24 * HOUR) counts[new Date(ts).getUTCHours()]++;
  }
  return counts;
}

describe('generator options', () => {
  it('diurnal: false gives a flat rate whatever the hour (payments and telemetry)', () => {
    for (const scenario of ['payments', 'telemetry'] as const) {
      const rate = scenario === 'payments' ? 0.5 : 2;
      const day = createGenerator(scenario, { seed: 3, start: START, ratePerSecond: rate, diurnal: false, fraudRate: 0, incidentRate: 0 }).next(Math.round(rate * 86_400 * 1.1));
      const hours = perHour(day);
      expect(Math.max(...hours) / Math.min(...hours), scenario).toBeLessThan(1.3);
      expect(hours.reduce((a, b) => a + b, 0) / 86_400, scenario).toBeCloseTo(rate, 1);
    }
    // The default still follows the time of day.
    const hours = perHour(createGenerator('payments', { seed: 3, start: START, ratePerSecond: 0.5, fraudRate: 0 }).next(47_520));
    expect(Math.max(...hours) / Math.min(...hours)).toBeGreaterThan(5);
  });

  it('fraudRate sets how often cases start, from the first minutes', () => {
    const cases = (fraudRate: number) => {
      const events = generate('payments', { seed: 5, events: 3000, ratePerSecond: 5, diurnal: false, fraudRate });
      return { events, ids: new Set(events.filter((e) => e.case !== null).map((e) => e.case)) };
    };
    const rare = cases(0.002);
    const demo = cases(0.02);
    expect(demo.ids.size).toBeGreaterThan(5 * Math.max(1, rare.ids.size));
    const first = demo.events.find((e) => e.label !== null) as Record<string, unknown>;
    expect((first.ts as number) - START).toBeLessThan(60_000);
  });

  it('typologies limits the cases to those named, and the default stream is unchanged', () => {
    const only = generate('payments', { seed: 2, events: 20_000, ratePerSecond: 1, fraudRate: 0.01, typologies: ['card_testing', 'mule_fan_in'] });
    const labels = new Set(only.filter((e) => e.label !== null).map((e) => e.label));
    expect([...labels].sort()).toEqual(['card_testing', 'mule_fan_in']);
    const all = generate('payments', { seed: 2, events: 5_000, ratePerSecond: 1, fraudRate: 0.01, typologies: [...PAYMENT_TYPOLOGIES].reverse() });
    expect(JSON.stringify(all)).toBe(JSON.stringify(generate('payments', { seed: 2, events: 5_000, ratePerSecond: 1, fraudRate: 0.01 })));
  });

  it('the generator source passes the options on, and refuses bad ones', () => {
    const base = { name: 'p', type: 'generator', scenario: 'payments' };
    expect(schema.safeParse({ ...base, fraudRate: 1.5 }).success).toBe(false);
    expect(schema.safeParse({ ...base, typologies: ['card_testing', 'phishing'] }).success).toBe(false);
    expect(schema.safeParse({ ...base, typologies: [] }).success).toBe(false);
    expect(schema.safeParse({ ...base, backfill: '3m', diurnal: false, fraudRate: 0.02, incidentRate: 0.001 }).success).toBe(true);
  });

  it('backfill: in realtime, the backlog before now is released at once, in batches of the usual size', async () => {
    const now = Date.UTC(2026, 4, 1, 12);
    const config = schema.parse({ name: 'p', type: 'generator', scenario: 'telemetry', rate: 50, diurnal: false, backfill: '2m', partitions: 2 });
    const abort = new AbortController();
    const source = create(config, { baseDir: '.', clock: { now: () => now }, logger: silentLogger, batchSize: 500, stdin: process.stdin, signal: abort.signal });
    const batches: RawBatch[] = [];
    // The clock never moves here: after the backlog the source only waits, until it is stopped.
    setTimeout(() => abort.abort(), 300);
    for await (const b of source.batches()) batches.push(b);
    const records = batches.flatMap((b) => b.records.map((r) => r.data as Record<string, unknown>));
    expect(records.length).toBeGreaterThan(5_000);
    expect(Math.max(...batches.map((b) => b.records.length))).toBeLessThanOrEqual(500);
    const times = records.map((r) => r.ts as number);
    expect(Math.min(...times)).toBeGreaterThanOrEqual(now - 120_000);
    expect(Math.max(...times)).toBeLessThanOrEqual(now);
  });
});
