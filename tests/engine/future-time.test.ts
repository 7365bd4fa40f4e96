import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { loadConfig } from '../../src/config/load.js';
import { generate } from '../../src/generator/index.js';
import { memorySource } from '../../src/sources/memory.js';
import type { Summary } from '../../src/engine/engine.js';
import { collectSink } from '../helpers/collect.js';

const Y2100 = '2100-01-01T00:00:00.000Z';

/** The payments example config over `records` (the generator source's mapping, any mode). */
async function run(records: Record<string, unknown>[], mode: 'live' | 'replay', now?: number): Promise<{ alerts: string[]; summary: Summary; future: number }> {
  const loaded = loadConfig('config/payments.yaml');
  const sink = collectSink();
  const { time, id, fields } = loaded.config.sources[0];
  const src = memorySource(records, { name: 'payments', batchSize: 512, mapping: { time, id, fields } });
  const clock = now === undefined ? undefined : { now: () => now };
  const engine = new Engine({ loaded, mode, sources: [src], sinks: [sink], clock });
  const summary = await engine.run();
  return {
    alerts: sink.alerts.map((a) => `${a.detector}|${a.key}|${a.window?.start ?? ''}|${a.eventTime}`).sort(),
    summary,
    future: sink.deadLetters.filter((d) => d.reason === 'future_time').length,
  };
}

describe('one implausible event time does not silence detection (rule 3)', () => {
  const events = generate('payments', { seed: 1, events: 20_000, ratePerSecond: 1 });
  const corrupt = events.map((e) => ({ ...e }));
  corrupt.splice(5000, 0, { ...events[5000], id: 'corrupt-2100', ts: Y2100 });

  it('replay: a record dated 2100 in 20,000 payments is dead-lettered as future_time; the alerts are those of the clean file', async () => {
    const clean = await run(events, 'replay');
    const dirty = await run(corrupt, 'replay');
    expect(clean.alerts.length).toBeGreaterThan(20);
    expect(dirty.alerts).toEqual(clean.alerts);
    expect(dirty.future).toBe(1);
    expect(dirty.summary.deadLetters.byReason).toEqual({ future_time: 1 });
    expect(dirty.summary.sources.payments).toMatchObject({ in: 20_001, events: 20_000, deadLettered: { future_time: 1 } });
    expect(Object.values(dirty.summary.pipelines).every((p) => p.late === 0)).toBe(true);
  });

  it('live: the same record is more than maxFutureSkew ahead of the clock: dead-lettered at once, the alerts are unchanged', async () => {
    // Processing time just after the last event, as when the stream is read as it happens.
    const last = events[events.length - 1].ts;
    const now = (typeof last === 'number' ? last : Date.parse(String(last))) + 1000;
    expect(Number.isFinite(now)).toBe(true);
    const clean = await run(events, 'live', now);
    const dirty = await run(corrupt, 'live', now);
    expect(dirty.alerts).toEqual(clean.alerts);
    expect(dirty.future).toBe(1);
    expect(dirty.summary.deadLetters.byReason).toEqual({ future_time: 1 });
  });
});
