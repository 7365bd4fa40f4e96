import { describe, expect, it } from 'vitest';
import { PipelineCore } from '../../src/engine/pipeline.js';
import { pipelineSchema } from '../../src/config/pipeline.js';
import { WatermarkTracker } from '../../src/time/watermark.js';
import { emptyBatch, type Alert, type VEvent } from '../../src/types.js';

const MIN = 60_000;
const deps = { configVersion: 'v1', detectionTime: (w: number) => (Number.isFinite(w) ? w : -1) };

/** Run events (ids e0, e1...) through a pipeline keyed by `user`, one per batch, then end the input. */
function alertsOf(cfg: Record<string, unknown>, specs: Array<{ time: number; payload: Record<string, unknown> }>): Alert[] {
  const p = new PipelineCore(pipelineSchema.parse({ name: 'p', key: 'user', ...cfg }), deps);
  const tracker = new WatermarkTracker({ maxOutOfOrderness: 0, idleTimeout: 0 });
  const alerts: Alert[] = [];
  specs.forEach((s, i) => {
    const b = emptyBatch(0);
    b.events = [{ time: s.time, id: `e${i}`, partition: 0, offset: i, source: 'src', payload: s.payload } satisfies VEvent];
    b.wm = Float64Array.from(b.events, (e) => tracker.observe(0, e.time, 0));
    b.watermark = tracker.watermark;
    p.process(b);
    alerts.push(...b.alerts);
  });
  const end = emptyBatch(0);
  end.watermark = Infinity;
  p.process(end);
  return [...alerts, ...end.alerts];
}

const at = (minutes: number[], payload: Record<string, unknown> = { user: 'u' }) => minutes.map((m) => ({ time: m * MIN, payload }));

describe('alerts name their triggering event', () => {
  it('an event detector: the event judged; a cooldown summary: none', () => {
    const alerts = alertsOf({ detectors: [{ name: 'burst', type: 'velocity', lookback: '10m', value: 3, cooldown: '15m' }] }, at([0, 1, 2, 3, 4]));
    expect(alerts.map((a) => [a.suppressed ?? 0, a.trigger])).toEqual([
      [0, 'e2'],
      [2, undefined],
    ]);
    expect(alerts[0].evidence).toContain('e2');
  });

  it('a result detector on a window: the last recorded event when all are recorded, else none', () => {
    const cfg = (evidenceLimit: number) => ({
      window: { type: 'tumbling', size: '10m' },
      aggregates: [{ name: 'n', fn: 'count' }],
      evidenceLimit,
      detectors: [{ name: 'busy', type: 'threshold', aggregate: 'n', value: 2, cooldown: 0 }],
    });
    const events = at([1, 2, 3, 11, 12]);
    expect(alertsOf(cfg(20), events).map((a) => [a.window?.start, a.trigger])).toEqual([
      [0, 'e2'],
      [10 * MIN, 'e4'],
    ]);
    // Three events, two recorded: the last contributing event is not known.
    expect(alertsOf(cfg(2), events).map((a) => [a.window?.start, a.trigger])).toEqual([
      [0, undefined],
      [10 * MIN, 'e4'],
    ]);
  });

  it('a result detector on a sliding window: the event the evaluation belongs to', () => {
    const alerts = alertsOf(
      {
        window: { type: 'sliding', lookback: '10m' },
        aggregates: [{ name: 'n', fn: 'count' }],
        evidenceLimit: 1,
        detectors: [{ name: 'busy', type: 'threshold', aggregate: 'n', value: 3, cooldown: 0 }],
      },
      at([1, 2, 3, 4]),
    );
    expect(alerts.map((a) => a.trigger)).toEqual(['e2', 'e3']);
  });

  it('a score detector: the trigger of the signal that fed it', () => {
    const alerts = alertsOf(
      {
        detectors: [
          { name: 'big', type: 'rule', when: { amount: { '>': 100 } }, emit: false },
          { name: 'burst', type: 'velocity', lookback: '10m', value: 2, emit: false },
          { name: 'risk', type: 'score', within: '1h', value: 2, cooldown: 0, inputs: [{ detector: 'big', weight: 1 }, { detector: 'burst', weight: 1 }] },
        ],
      },
      [
        { time: 0, payload: { user: 'u', amount: 500 } },
        { time: MIN, payload: { user: 'u', amount: 5 } },
      ],
    );
    expect(alerts.map((a) => [a.detector, a.trigger])).toEqual([['risk', 'e1']]);
  });
});
