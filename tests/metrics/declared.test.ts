import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { EngineMetrics } from '../../src/metrics/registry.js';
import { memorySource } from '../../src/sources/memory.js';
import { collectSink, config } from '../helpers/collect.js';

const CFG = (detectors: string) => `
sources: [{ name: s, type: stdin }]
pipelines:
  - name: p
    key: k
    window: { type: tumbling, size: 1000 }
    aggregates: [{ name: n, fn: count }]
    detectors:
${detectors}
metrics: { enabled: false }
`;
const QUIET = "      - { name: quiet, type: threshold, aggregate: n, op: '>', value: 1000000, severity: high }";
const ADDED = "      - { name: added, type: threshold, aggregate: n, op: '>', value: 2000000 }";

describe('metrics of known label sets exist at zero', () => {
  it('vigie_alerts_total has a 0 series for every configured detector before its first alert, and for a detector added by a reload', async () => {
    const metrics = new EngineMetrics(false);
    const engine = new Engine({ loaded: config(CFG(QUIET)), mode: 'replay', sources: [memorySource([{ k: 'a', ts: 1 }], { name: 's' })], sinks: [collectSink()], metrics });
    // A reload before the run is applied at once: the detector it adds gets its series too.
    const r = await engine.reload(config(CFG(`${QUIET}\n${ADDED}`)), 'api');
    expect(r.errors ?? []).toEqual([]);
    expect(r.applied).toBe(true);
    const summary = await engine.run();
    expect(summary.alerts.total).toBe(0);
    const text = await metrics.text();
    expect(text).toContain('vigie_alerts_total{detector="quiet",severity="high"} 0');
    expect(text).toContain('vigie_alerts_total{detector="added",severity="medium"} 0');
    expect(text).toContain('vigie_events_dead_lettered_total{source="s",reason="future_time"} 0');
    expect(text).toContain('vigie_events_processed_total{pipeline="p"} 1');
    expect(text).toMatch(/vigie_sink_writes_total\{sink="collect"\} \d/);
  });
});
