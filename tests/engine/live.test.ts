import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { EngineMetrics } from '../../src/metrics/registry.js';
import { mappingSchema } from '../../src/sources/mapping.js';
import type { RawBatch, Source } from '../../src/sources/types.js';
import { collectSink, config } from '../helpers/collect.js';

const CFG = (idle: string) => `
time: { maxOutOfOrderness: 0, idleTimeout: ${idle}, tick: 50 }
sources: [{ name: live, type: stdin }]
pipelines:
  - name: counts
    key: k
    window: { type: tumbling, size: 1000 }
    aggregates: [{ name: n, fn: count }]
metrics: { enabled: false }
`;

/** Two partitions: 0 produces events 1 s of event time apart every 20 ms; 1 stays silent. Never ends. */
function liveSource(signal: AbortSignal): Source {
  return {
    name: 'live',
    type: 'test',
    format: 'object',
    mapping: mappingSchema.parse({}),
    partitions: () => [0, 1],
    async *batches(): AsyncGenerator<RawBatch> {
      for (let i = 0; !signal.aborted && i < 500; i++) {
        yield { partition: 0, records: [{ offset: i + 1, data: { id: `e${i}`, ts: i * 1000, k: 'a' } }], end: false };
        await sleep(20);
      }
    },
    async close() {},
  };
}

async function runFor(idle: string, ms: number) {
  const abort = new AbortController();
  const sink = collectSink();
  const metrics = new EngineMetrics(false);
  const engine = new Engine({ loaded: config(CFG(idle)), mode: 'live', sources: [liveSource(abort.signal)], sinks: [sink], metrics });
  const done = engine.run();
  await sleep(ms);
  const before = sink.results.length;
  abort.abort();
  engine.stop();
  const summary = await done;
  return { before, sink, summary, metrics: await metrics.text() };
}

describe('live run (rules 4 and 6)', () => {
  it('an idle partition stops holding the watermark back: windows fire on a quiet partition', async () => {
    const { before, summary, metrics } = await runFor('200', 1200);
    expect(before).toBeGreaterThan(5);
    expect(summary.watermark).toBeGreaterThan(0);
    expect(metrics).toMatch(/vigie_events_in_total\{source="live"\} \d+/);
    expect(metrics).toMatch(/vigie_window_results_total\{pipeline="counts",kind="final"\} [1-9]/);
  });

  it('without idleness the silent partition holds every window open', async () => {
    const { before, sink } = await runFor('0', 800);
    expect(before).toBe(0);
    // Stopping a live run does not fire open windows: they are incomplete, not final.
    expect(sink.results).toHaveLength(0);
  });
});
