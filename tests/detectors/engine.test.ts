import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { EngineMetrics } from '../../src/metrics/registry.js';
import { memorySource } from '../../src/sources/memory.js';
import { collectSink, config } from '../helpers/collect.js';

// Window-less pipeline of event detectors, with a cap of 2 keys to force evictions.
const CFG = `
time: { maxOutOfOrderness: 0 }
sources: [{ name: in, type: stdin }]
pipelines:
  - name: users
    key: user
    detectors:
      - { name: burst, type: velocity, lookback: 1m, value: 3, cooldown: 10m, maxKeys: 2 }
      - { name: jump, type: outlier, field: amount, minHistory: 5, value: 4, scores: true }
sinks: [{ name: c, type: console }]
metrics: { enabled: false }
`;

const T0 = Date.parse('2026-01-01T00:00:00Z');

function records(): object[] {
  const out: object[] = [];
  // u1: 10 events 5 s apart (one burst alert, repeats suppressed), amounts steady then one jump.
  for (let i = 0; i < 10; i++) out.push({ id: `a${i}`, ts: T0 + i * 5000, user: 'u1', amount: i === 9 ? 900 : 100 + (i % 3) });
  // Three other users, one event each, to overflow maxKeys.
  for (let i = 0; i < 3; i++) out.push({ id: `b${i}`, ts: T0 + 60_000 + i * 1000, user: `v${i}`, amount: 5 });
  out.push({ id: 'end', ts: T0 + 3_600_000, user: 'u9', amount: 1 });
  return out;
}

describe('detectors in the engine', () => {
  it('reports signals, suppressions, keys and evictions in the summary and the metrics, and publishes scores', async () => {
    const sink = collectSink();
    const metrics = new EngineMetrics({ defaultMetrics: false });
    const engine = new Engine({ loaded: config(CFG), mode: 'replay', sources: [memorySource(records(), { name: 'in', batchSize: 3 })], sinks: [sink], metrics });
    const summary = await engine.run();

    const burst = sink.alerts.filter((a) => a.detector === 'burst');
    expect(burst.map((a) => [a.key, a.observed, a.suppressed ?? 0])).toEqual([
      ['u1', 3, 0],
      ['u1', 3, 7],
    ]);
    expect(burst[1].repeatsOf).toBe(burst[0].id);
    expect(sink.alerts.filter((a) => a.detector === 'jump').map((a) => a.evidence)).toEqual([['a9']]);
    expect(summary.detectors.burst).toMatchObject({ pipeline: 'users', signals: 8, suppressed: 7, unmet: 0, evicted: 2 });
    expect(summary.detectors.jump.signals).toBe(1);
    expect(summary.alerts.byDetector.burst.total).toBe(2);

    // Scores: one per judged event (after the warm-up of 5 values), the jump flagged.
    const scores = sink.scores.filter((s) => s.key === 'u1');
    expect(scores.map((s) => s.ref)).toEqual(['a5', 'a6', 'a7', 'a8', 'a9']);
    expect(scores.map((s) => s.anomalous)).toEqual([false, false, false, false, true]);

    const text = await metrics.registry.metrics();
    expect(text).toMatch(/vigie_alerts_suppressed_total\{pipeline="users",detector="burst"\} 7/);
    expect(text).toMatch(/vigie_detector_signals_total\{pipeline="users",detector="burst"\} 8/);
    expect(text).toMatch(/vigie_detector_evictions_total\{pipeline="users",detector="burst"\} 2/);
    expect(text).toMatch(/vigie_detector_state_keys\{pipeline="users",detector="burst"\} [0-2]\n/);
  });
});
