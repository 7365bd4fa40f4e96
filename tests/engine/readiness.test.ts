import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { EngineMetrics } from '../../src/metrics/registry.js';
import { memorySource } from '../../src/sources/memory.js';
import { memorySink } from '../../sinks/memory.js';
import { config } from '../helpers/collect.js';

const CFG = `
time: { maxOutOfOrderness: 0 }
sources: [{ name: in, type: stdin }]
pipelines:
  - name: users
    key: user
    detectors:
      - { name: burst, type: velocity, lookback: 1m, value: 2, cooldown: 0 }
sinks: [{ name: c, type: console }]
metrics: { enabled: false }
`;

const records = Array.from({ length: 6 }, (_, i) => ({ id: `e${i}`, ts: 1_000 * i, user: 'u' }));

describe('engine readiness and sink metrics', () => {
  it('is not ready before it starts, and names a sink that cannot write', async () => {
    const sink = memorySink('store', ['alerts']);
    let up = true;
    const flaky = Object.assign(sink, { healthy: () => up, bufferFill: () => (up ? 0 : 0.75) });
    const metrics = new EngineMetrics({ defaultMetrics: false });
    const engine = new Engine({ loaded: config(CFG), mode: 'replay', sources: [memorySource(records, { name: 'in' })], sinks: [flaky], metrics });
    expect(engine.readiness()).toEqual({ ready: false, reasons: ['engine not started'] });
    up = false;
    await engine.run();
    const r = engine.readiness();
    expect(r.ready).toBe(false);
    expect(r.reasons).toContain('sink store cannot write (retrying)');

    // Alerts: events 1..5 each close a burst of 2 within a minute.
    expect(sink.alerts).toHaveLength(5);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/vigie_sink_up\{sink="store"\} 0/);
    expect(text).toMatch(/vigie_sink_buffer_fill_ratio\{sink="store"\} 0.75/);
    expect(text).toMatch(/vigie_sink_records_total\{sink="store",output="alerts"\} 5/);
    expect(text).toMatch(/vigie_alert_delivery_latency_seconds_count\{detector="burst"\} 5/);
  });
});
