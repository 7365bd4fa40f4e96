import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { PipelineCore } from '../../src/engine/pipeline.js';
import { loadDelta } from '../../src/state/checkpoint-store.js';
import { pipelineSchema } from '../../src/config/pipeline.js';
import { WatermarkTracker } from '../../src/time/watermark.js';
import { emptyBatch, type Alert, type Batch, type VEvent } from '../../src/types.js';
import { viaMsgpack } from '../helpers/detectors.js';
import { alertId } from '../../detectors/alert.js';

const MIN = 60_000;
const deps = { configVersion: 'v1', detectionTime: (w: number) => (Number.isFinite(w) ? w : -1) };

function pipeline(cfg: Record<string, unknown>): PipelineCore {
  return new PipelineCore(pipelineSchema.parse({ name: 'p', key: 'user', ...cfg }), deps);
}

interface Spec {
  time: number;
  payload: Record<string, unknown>;
}

/** Run specs through a pipeline in batches of `size`, with bounded disorder `ooo`; returns every output. */
function run(p: PipelineCore, specs: Spec[], size: number, ooo = 0, final = true): { alerts: Alert[]; batches: Batch[] } {
  const tracker = new WatermarkTracker({ maxOutOfOrderness: ooo, idleTimeout: 0 });
  const batches: Batch[] = [];
  for (let i = 0; i < specs.length; i += size) {
    const b = emptyBatch(0);
    b.events = specs.slice(i, i + size).map((s, j): VEvent => ({ time: s.time, id: `e${i + j}`, partition: 0, offset: i + j, source: 'src', payload: s.payload }));
    b.wm = Float64Array.from(b.events, (e) => tracker.observe(0, e.time, 0));
    b.watermark = tracker.watermark;
    p.process(b);
    batches.push(b);
  }
  if (final) {
    const b = emptyBatch(0);
    b.watermark = Infinity;
    p.process(b);
    batches.push(b);
  }
  return { alerts: batches.flatMap((b) => b.alerts), batches };
}

const velocity = (over: Record<string, unknown> = {}) => ({ name: 'burst', type: 'velocity', lookback: '10m', value: 3, ...over });

describe('detector runtime: event order and lateness', () => {
  it('feeds event detectors in event-time order, whatever the arrival order within the allowed disorder', () => {
    const inOrder = [0, 1, 2, 3, 4].map((m) => ({ time: m * MIN, payload: { user: 'u' } }));
    const shuffled = [inOrder[1], inOrder[0], inOrder[3], inOrder[2], inOrder[4]];
    const a = run(pipeline({ detectors: [velocity({ cooldown: 0 })] }), inOrder, 2, 2 * MIN).alerts;
    const b = run(pipeline({ detectors: [velocity({ cooldown: 0 })] }), shuffled, 2, 2 * MIN).alerts;
    expect(a.map((x) => x.eventTime)).toEqual([2 * MIN, 3 * MIN, 4 * MIN]);
    expect(b.map((x) => [x.eventTime, x.observed])).toEqual(a.map((x) => [x.eventTime, x.observed]));
  });

  it('dead-letters an event the watermark has passed when the pipeline has no window', () => {
    const { batches } = run(pipeline({ detectors: [velocity()] }), [{ time: 10 * MIN, payload: { user: 'u' } }, { time: 1 * MIN, payload: { user: 'u' } }], 1);
    const dead = batches.flatMap((b) => b.deadLetters);
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ reason: 'late', pipeline: 'p', offset: 1 });
  });

  it('gives the same alerts, detection times included, at any batch size (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('a', 'b'), fc.integer({ min: 0, max: 4 * MIN })), { minLength: 1, maxLength: 80 }),
        fc.integer({ min: 1, max: 17 }),
        (steps, size) => {
          let t = 0;
          const specs = steps.map(([user, dt]) => ({ time: (t += dt), payload: { user } }));
          const dets = [velocity({ cooldown: '5m' })];
          const one = run(pipeline({ detectors: dets }), specs, 1).alerts;
          const many = run(pipeline({ detectors: dets }), specs, size).alerts;
          expect(many).toEqual(one);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('detector runtime: cooldown', () => {
  const burst = Array.from({ length: 12 }, (_, i) => ({ time: i * 10_000, payload: { user: 'u' } }));

  it('turns a burst into one alert and one summary counting the suppressed repeats', () => {
    const { alerts } = run(pipeline({ detectors: [velocity({ cooldown: '15m' })] }), [...burst, { time: 40 * MIN, payload: { user: 'x' } }], 4);
    expect(alerts).toHaveLength(2);
    const [first, summary] = alerts;
    expect(first).toMatchObject({ eventTime: 20_000, observed: 3, revision: 0 });
    expect(first.suppressed).toBeUndefined();
    expect(summary).toMatchObject({ repeatsOf: first.id, suppressed: 9, eventTime: 110_000, detector: 'burst', key: 'u' });
    expect(summary.id).not.toBe(first.id);
    expect(summary.explanation).toMatch(/^burst: 9 further alerts for user u were suppressed between 1970-01-01T00:00:20.000Z and 1970-01-01T00:01:50.000Z \(cooldown 15m\) after alert /);
    // The summary is emitted once the watermark passes the end of the cooldown.
    expect(summary.detectedAt).toBeGreaterThanOrEqual(20_000 + 15 * MIN);
  });

  it('alerts on every signal with cooldown 0', () => {
    expect(run(pipeline({ detectors: [velocity({ cooldown: 0 })] }), burst, 4).alerts).toHaveLength(10);
  });

  it('alerts again after the cooldown, summarising the previous one first', () => {
    const later = burst.map((s) => ({ ...s, time: s.time + 20 * MIN }));
    const { alerts } = run(pipeline({ detectors: [velocity({ cooldown: '15m' })] }), [...burst, ...later], 100, 0, false);
    expect(alerts.map((a) => [a.eventTime, a.suppressed ?? 0])).toEqual([
      [20_000, 0],
      [110_000, 9],
      [20 * MIN + 20_000, 0],
    ]);
  });
});

describe('alert identity (rule 12)', () => {
  it('an alert id depends only on detector, key, window or triggering event, and revision', () => {
    const id = alertId('d', 'k', 'window:0:10', 0);
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(alertId('d', 'k', 'window:0:10', 0)).toBe(id);
    const others = [alertId('e', 'k', 'window:0:10', 0), alertId('d', 'j', 'window:0:10', 0), alertId('d', 'k', 'window:0:20', 0), alertId('d', 'k', 'window:0:10', 1)];
    for (const other of others) expect(other).not.toBe(id);
    // The parts are kept apart: moving a character from one to the next gives another id.
    expect(alertId('d', 'ab', 'c', 0)).not.toBe(alertId('d', 'a', 'bc', 0));
  });

  it('window alerts: the same ids on every run and batch size, a new id for each revision of a window', () => {
    const cfg = {
      window: { type: 'tumbling', size: '10m', grace: '5m' },
      aggregates: [{ name: 'n', fn: 'count' }],
      detectors: [{ name: 'busy', type: 'threshold', aggregate: 'n', value: 1, cooldown: 0 }],
    };
    // 2m arrives when W = 12m: behind the end of [0, 10m) but within grace, so that window is updated.
    const specs = [1, 12, 2].map((m) => ({ time: m * MIN, payload: { user: 'u' } }));
    const one = run(pipeline(cfg), specs, 1).alerts;
    expect(one.map((a) => [a.window, a.revision])).toEqual([
      [{ start: 0, end: 10 * MIN }, 0],
      [{ start: 0, end: 10 * MIN }, 1],
      [{ start: 10 * MIN, end: 20 * MIN }, 0],
    ]);
    expect(one.map((a) => a.id)).toEqual([
      alertId('busy', 'u', `window:0:${10 * MIN}`, 0),
      alertId('busy', 'u', `window:0:${10 * MIN}`, 1),
      alertId('busy', 'u', `window:${10 * MIN}:${20 * MIN}`, 0),
    ]);
    expect(run(pipeline(cfg), specs, 3).alerts.map((a) => a.id)).toEqual(one.map((a) => a.id));
  });

  it('event alerts: identified by the triggering event; a cooldown summary by the alert it follows', () => {
    const burst = Array.from({ length: 5 }, (_, i) => ({ time: i * 10_000, payload: { user: 'u' } }));
    const { alerts } = run(pipeline({ detectors: [velocity({ cooldown: '15m' })] }), burst, 2);
    expect(alerts).toHaveLength(2);
    const [first, summary] = alerts;
    // The third event (e2) reaches the velocity bound of 3.
    expect(first.id).toBe(alertId('burst', 'u', 'event:e2', 0));
    expect(summary.id).toBe(alertId('burst', 'u', `repeats:${first.id}`, 0));
  });
});

describe('detector runtime: requires, emit and config references', () => {
  const seq = [
    { time: 0, payload: { user: 'u', kind: 'login' } },
    { time: 1 * MIN, payload: { user: 'u', kind: 'pay' } },
    { time: 2 * MIN, payload: { user: 'u', kind: 'pay' } },
    { time: 3 * MIN, payload: { user: 'v', kind: 'pay' } },
    { time: 4 * MIN, payload: { user: 'v', kind: 'pay' } },
  ];
  const logins = { name: 'login', type: 'velocity', lookback: '1h', value: 1, match: { kind: 'login' }, emit: false };
  const pays = (requires: Record<string, unknown>) => ({ name: 'pays', type: 'velocity', lookback: '1h', value: 2, match: { kind: 'pay' }, cooldown: 0, requires });

  it('raises an alert only when the required detectors signalled for the key within the span; emit: false raises none', () => {
    const { alerts, batches } = run(pipeline({ detectors: [pays({ detectors: ['login'], within: '30m' }), logins] }), seq, 2);
    expect(alerts.map((a) => [a.detector, a.key])).toEqual([['pays', 'u']]);
    expect(batches.length).toBeGreaterThan(0);
    const tooShort = run(pipeline({ detectors: [logins, pays({ detectors: ['login'], within: '1m' })] }), seq, 2).alerts;
    expect(tooShort).toHaveLength(0);
  });

  it('counts signals, suppressions and unmet conditions', () => {
    const p = pipeline({ detectors: [logins, pays({ detectors: ['login'], within: '30m', mode: 'any' })] });
    run(p, seq, 5);
    const counts = Object.fromEntries(p.detectors.takeCounts());
    expect(counts.login).toMatchObject({ signals: 1, unmet: 0 });
    expect(counts.pays).toMatchObject({ signals: 2, unmet: 1 });
  });

  it('rejects references to unknown detectors and cycles', () => {
    expect(() => pipeline({ detectors: [pays({ detectors: ['nope'], within: '1m' })] })).toThrow(/refers to detector "nope"/);
    const a = { ...velocity({ name: 'a' }), requires: { detectors: ['b'], within: '1m' } };
    const b = { ...velocity({ name: 'b' }), requires: { detectors: ['a'], within: '1m' } };
    expect(() => pipeline({ detectors: [a, b] })).toThrow(/circular reference/);
  });
});

describe('detector runtime: checkpoints', () => {
  it('restores mid-stream (pending events, cooldowns, signal memory) and continues bit for bit', () => {
    const specs: Spec[] = [];
    for (let i = 0; i < 300; i++) specs.push({ time: i * 20_000 + ((i * 7919) % 5) * 1000, payload: { user: `u${i % 4}`, kind: i % 9 === 0 ? 'login' : 'pay' } });
    const dets = [
      { name: 'login', type: 'velocity', lookback: '1h', value: 1, match: { kind: 'login' }, emit: false },
      { name: 'pays', type: 'velocity', lookback: '5m', value: 4, match: { kind: 'pay' }, cooldown: '3m', requires: { detectors: ['login'], within: '20m' } },
    ];
    const whole = run(pipeline({ detectors: dets }), specs, 7, 5000).alerts;
    expect(whole.length).toBeGreaterThan(5);
    expect(whole.some((a) => a.suppressed !== undefined)).toBe(true);

    const tracker = new WatermarkTracker({ maxOutOfOrderness: 5000, idleTimeout: 0 });
    const first = pipeline({ detectors: dets });
    const alerts: Alert[] = [];
    const feed = (p: PipelineCore, from: number, to: number) => {
      for (let i = from; i < to; i += 7) {
        const b = emptyBatch(0);
        b.events = specs.slice(i, Math.min(i + 7, to)).map((s, j): VEvent => ({ time: s.time, id: `e${i + j}`, partition: 0, offset: i + j, source: 'src', payload: s.payload }));
        b.wm = Float64Array.from(b.events, (e) => tracker.observe(0, e.time, 0));
        b.watermark = tracker.watermark;
        p.process(b);
        alerts.push(...b.alerts);
      }
    };
    feed(first, 0, 147);
    const second = pipeline({ detectors: dets });
    second.restore(viaMsgpack(first.snapshot()));
    feed(second, 147, specs.length);
    const end = emptyBatch(0);
    end.watermark = Infinity;
    second.process(end);
    alerts.push(...end.alerts);
    expect(alerts).toEqual(whole);
  });
});

describe('detector runtime: task checkpoints', () => {
  it('a task with a window and event detectors restores from its checkpoint (MessagePack) and continues identically', async () => {
    const { Task } = await import('../../src/engine/task.js');
    const configs = [
      pipelineSchema.parse({
        name: 'mixed',
        key: 'user',
        window: { type: 'tumbling', size: '5m' },
        aggregates: [{ name: 'n', fn: 'count' }],
        detectors: [
          { name: 'busy', type: 'threshold', aggregate: 'n', value: 6, cooldown: '10m' },
          { name: 'burst', type: 'velocity', lookback: '2m', value: 3, cooldown: '3m' },
          { name: 'new-place', type: 'first-seen', field: 'place', minHistory: 3, lookback: '1d' },
        ],
      }),
    ];
    const specs = Array.from({ length: 400 }, (_, i) => ({ time: i * 15_000, payload: { user: `u${i % 3}`, place: `p${(i * 31) % 11}` } }));
    const make = () => new Task('t', configs, deps, { maxOutOfOrderness: 0, idleTimeout: 0 }, 0);
    const feed = (t: InstanceType<typeof Task>, from: number, to: number, out: Alert[]) => {
      for (let i = from; i < to; i += 9) {
        const b = emptyBatch(0);
        b.partition = 0;
        b.events = specs.slice(i, Math.min(i + 9, to)).map((s, j): VEvent => ({ time: s.time, id: `e${i + j}`, partition: 0, offset: i + j, source: 'src', payload: s.payload }));
        b.wm = Float64Array.from(b.events, (e) => t.tracker.observe(0, e.time, 0));
        b.watermark = t.tracker.watermark;
        for (const p of t.pipelines) p.process(b);
        out.push(...b.alerts);
      }
    };
    const whole: Alert[] = [];
    feed(make(), 0, specs.length, whole);
    expect(new Set(whole.map((a) => a.detector))).toEqual(new Set(['busy', 'burst', 'new-place']));

    const split: Alert[] = [];
    const first = make();
    first.trackChanges();
    feed(first, 0, 211, split);
    const cp = viaMsgpack(first.checkpoint(1)) as ReturnType<InstanceType<typeof Task>['checkpoint']>;
    const second = make();
    expect(second.restore(loadDelta(cp), 1)).toEqual(['mixed']);
    feed(second, 211, specs.length, split);
    expect(split).toEqual(whole);
  });
});
