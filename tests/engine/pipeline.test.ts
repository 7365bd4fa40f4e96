import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { PipelineCore } from '../../src/engine/pipeline.js';
import { pipelineSchema } from '../../src/config/pipeline.js';
import { WatermarkTracker } from '../../src/time/watermark.js';
import { emptyBatch, type Batch, type VEvent } from '../../src/types.js';

const deps = { configVersion: 'test', detectionTime: () => 0 };

function pipeline(cfg: Record<string, unknown>): PipelineCore {
  return new PipelineCore(
    pipelineSchema.parse({ name: 'pay', key: 'user', window: { type: 'tumbling', size: 10 }, aggregates: [{ name: 'n', fn: 'count' }], ...cfg }),
    deps,
  );
}

interface Spec {
  time: number;
  payload: Record<string, unknown>;
  partition?: number;
  source?: string;
}

/** A batch as the ingest stage builds it: valid events with the pipeline watermark after each. */
function batchOf(tracker: WatermarkTracker, specs: Spec[], offsets: Map<number, number>): Batch {
  const b = emptyBatch(0);
  b.events = specs.map((s): VEvent => {
    const partition = s.partition ?? 0;
    const offset = offsets.get(partition) ?? 0;
    offsets.set(partition, offset + 1);
    return { time: s.time, id: `${partition}-${offset}`, partition, offset, source: s.source ?? 'src', payload: s.payload };
  });
  b.wm = Float64Array.from(b.events, (e) => tracker.observe(e.partition, e.time, 0));
  b.watermark = tracker.watermark;
  return b;
}

describe('PipelineCore: schema', () => {
  it('applies defaults and rejects unknown fields', () => {
    const cfg = pipelineSchema.parse({ name: 'p', key: 'user', window: { type: 'tumbling', size: '1m' }, aggregates: [{ name: 'n', fn: 'count' }] });
    expect(cfg.evidenceLimit).toBe(20);
    expect(cfg.detectors).toEqual([]);
    expect(cfg.window).toEqual({ type: 'tumbling', size: 60_000, offset: 0, grace: 0 });
    expect(() => pipelineSchema.parse({ name: 'p', key: 'user', window: { type: 'tumbling', size: 10 }, aggregates: [{ name: 'n', fn: 'count' }], extra: 1 })).toThrow();
    expect(() => pipelineSchema.parse({ name: 'p', key: 'user', window: { type: 'tumbling', size: 10 }, aggregates: [] })).toThrow(/a window needs at least one aggregate/);
    expect(() => pipelineSchema.parse({ name: 'p', key: 'user', aggregates: [{ name: 'n', fn: 'count' }] })).toThrow(/aggregates need a window/);
    expect(() => pipelineSchema.parse({ name: 'p', key: 'user' })).toThrow(/without a window needs at least one detector/);
    // Event detectors need no window.
    expect(pipelineSchema.parse({ name: 'p', key: 'user', detectors: [{ name: 'v', type: 'velocity', lookback: '1m', value: 3 }] }).window).toBeUndefined();
    expect(() => pipelineSchema.parse({ name: 'p q', key: 'user', window: { type: 'tumbling', size: 10 }, aggregates: [{ name: 'n', fn: 'count' }] })).toThrow();
  });
});

describe('PipelineCore: where', () => {
  it('events not matching `where` are counted as filtered, not dead-lettered', () => {
    const p = pipeline({ where: { type: 'payment' } });
    const t = new WatermarkTracker({ maxOutOfOrderness: 0, idleTimeout: 0 });
    const b = batchOf(
      t,
      [
        { time: 1, payload: { type: 'payment', user: 'u1' } },
        { time: 2, payload: { type: 'login', user: 'u1' } },
        { time: 3, payload: { user: 'u1' } }, // field missing: no match
        { time: 4, payload: { type: 'PAYMENT', user: 'u1' } },
        { time: 5, payload: { type: 'payment', user: 'u1' } },
      ],
      new Map(),
    );
    p.process(b);
    expect(b.deadLetters).toEqual([]);
    expect(p.takeCounts()).toEqual({ processed: 2, filtered: 3, late: 0, missingKey: 0, limited: 0, missingField: 0, skipped: 0 });
    const end = emptyBatch(0);
    end.watermark = Infinity;
    p.process(end);
    expect(end.results).toHaveLength(1);
    expect(end.results[0]).toMatchObject({ pipeline: 'pay', key: 'u1', start: 0, end: 10, count: 2, values: { n: 2 }, evidence: ['0-0', '0-4'] });
  });

  it('a list means any of its values; several fields must all match; types are not coerced', () => {
    const p = pipeline({ where: { type: ['payment', 'refund'], live: true } });
    const t = new WatermarkTracker({ maxOutOfOrderness: 0, idleTimeout: 0 });
    const b = batchOf(
      t,
      [
        { time: 1, payload: { type: 'payment', live: true, user: 'a' } },
        { time: 1, payload: { type: 'refund', live: true, user: 'a' } },
        { time: 1, payload: { type: 'refund', live: false, user: 'a' } },
        { time: 1, payload: { type: 'refund', live: 'true', user: 'a' } },
        { time: 1, payload: { type: 'chargeback', live: true, user: 'a' } },
      ],
      new Map(),
    );
    p.process(b);
    expect(p.takeCounts()).toEqual({ processed: 2, filtered: 3, late: 0, missingKey: 0, limited: 0, missingField: 0, skipped: 0 });
  });

  it('filtering comes before keying: an event without key that does not match is filtered', () => {
    const p = pipeline({ where: { type: 'payment' } });
    const b = batchOf(new WatermarkTracker({ maxOutOfOrderness: 0, idleTimeout: 0 }), [{ time: 1, payload: { type: 'login' } }], new Map());
    p.process(b);
    expect(b.deadLetters).toEqual([]);
    expect(p.takeCounts()).toEqual({ processed: 0, filtered: 1, late: 0, missingKey: 0, limited: 0, missingField: 0, skipped: 0 });
  });
});

describe('PipelineCore: keys', () => {
  it('missing, null, object, array, empty string, NaN keys are dead-lettered as missing_key', () => {
    const p = pipeline({});
    const t = new WatermarkTracker({ maxOutOfOrderness: 0, idleTimeout: 0 });
    const payloads: Array<Record<string, unknown>> = [
      { other: 1 },
      { user: null },
      { user: { id: 1 } },
      { user: '' },
      { user: ['a'] },
      { user: Number.NaN },
      { user: undefined },
    ];
    const b = batchOf(t, payloads.map((payload, i) => ({ time: i, payload, partition: 2 })), new Map());
    p.process(b);
    expect(p.takeCounts()).toEqual({ processed: 0, filtered: 0, late: 0, missingKey: payloads.length, limited: 0, missingField: 0, skipped: 0 });
    expect(b.deadLetters).toHaveLength(payloads.length);
    b.deadLetters.forEach((d, i) => {
      expect(d).toMatchObject({ reason: 'missing_key', pipeline: 'pay', source: 'src', partition: 2, offset: i, time: i });
      expect(d.raw).toBe(payloads[i]);
      expect(d.detail).toContain('user');
    });
    expect(b.results).toEqual([]);
  });

  it('numbers (0 included) and booleans are usable keys, as strings', () => {
    const p = pipeline({});
    const b = batchOf(
      new WatermarkTracker({ maxOutOfOrderness: 0, idleTimeout: 0 }),
      [
        { time: 1, payload: { user: 0 } },
        { time: 2, payload: { user: false } },
        { time: 3, payload: { user: 'x' } },
      ],
      new Map(),
    );
    b.watermark = Infinity;
    p.process(b);
    expect(p.takeCounts()).toEqual({ processed: 3, filtered: 0, late: 0, missingKey: 0, limited: 0, missingField: 0, skipped: 0 });
    expect(b.results.map((r) => r.key).sort()).toEqual(['0', 'false', 'x']);
  });

  it('a list of key fields is joined with "|"; any missing part is missing_key', () => {
    const p = pipeline({ key: ['user', 'country'] });
    expect(p.keyOf({ user: 'u1', country: 'FR' })).toBe('u1|FR');
    expect(p.keyOf({ user: 'u1', country: 3 })).toBe('u1|3');
    expect(p.keyOf({ user: 'u1' })).toBeUndefined();
    expect(p.keyOf({ country: 'FR' })).toBeUndefined();
    expect(p.keyOf({ user: '', country: 'FR' })).toBeUndefined();
    const b = batchOf(new WatermarkTracker({ maxOutOfOrderness: 0, idleTimeout: 0 }), [{ time: 1, payload: { user: 'u1', country: 'FR' } }, { time: 1, payload: { user: 'u1' } }], new Map());
    b.watermark = Infinity;
    p.process(b);
    expect(p.takeCounts()).toEqual({ processed: 1, filtered: 0, late: 0, missingKey: 1, limited: 0, missingField: 0, skipped: 0 });
    expect(b.results.map((r) => r.key)).toEqual(['u1|FR']);
  });
});

describe('PipelineCore: late events', () => {
  it('an event whose windows have all closed is dead-lettered with reason late and counted', () => {
    const p = pipeline({});
    const t = new WatermarkTracker({ maxOutOfOrderness: 0, idleTimeout: 0 });
    const offsets = new Map<number, number>();
    const b1 = batchOf(t, [{ time: 3, payload: { user: 'u' } }, { time: 25, payload: { user: 'u' } }], offsets);
    p.process(b1);
    expect(b1.results).toMatchObject([{ key: 'u', start: 0, end: 10, count: 1 }]);
    const b2 = batchOf(
      t,
      [
        { time: 7, payload: { user: 'u' } }, // [0, 10) closed at W = 25
        { time: 20, payload: { user: 'u' } }, // [20, 30) open
        { time: 19, payload: { user: 'v' } }, // [10, 20) closed, even for a new key
      ],
      offsets,
    );
    p.process(b2);
    expect(p.takeCounts()).toEqual({ processed: 3, filtered: 0, late: 2, missingKey: 0, limited: 0, missingField: 0, skipped: 0 });
    expect(b2.deadLetters).toHaveLength(2);
    expect(b2.deadLetters[0]).toMatchObject({ reason: 'late', pipeline: 'pay', source: 'src', partition: 0, offset: 2, time: 7, raw: { user: 'u' } });
    expect(b2.deadLetters[1]).toMatchObject({ reason: 'late', pipeline: 'pay', partition: 0, offset: 4, time: 19, raw: { user: 'v' } });
    expect(b2.results).toEqual([]); // a late event never changes an emitted result
    const end = emptyBatch(0);
    end.watermark = t.finishAll();
    p.process(end);
    expect(end.results).toMatchObject([{ key: 'u', start: 20, end: 30, count: 2 }]);
  });

  it('missing key is decided before lateness', () => {
    const p = pipeline({});
    const t = new WatermarkTracker({ maxOutOfOrderness: 0, idleTimeout: 0 });
    const b = batchOf(t, [{ time: 50, payload: { user: 'u' } }, { time: 1, payload: {} }], new Map());
    p.process(b);
    expect(p.takeCounts()).toEqual({ processed: 1, filtered: 0, late: 0, missingKey: 1, limited: 0, missingField: 0, skipped: 0 });
    expect(b.deadLetters.map((d) => d.reason)).toEqual(['missing_key']);
  });

  it('the window is advanced to each event watermark before the event is added', () => {
    const p = pipeline({});
    const t = new WatermarkTracker({ maxOutOfOrderness: 0, idleTimeout: 0 });
    // In ONE batch: 3, then 12 (W = 12 closes [0, 10)), then 5: late.
    const b = batchOf(t, [{ time: 3, payload: { user: 'u' } }, { time: 12, payload: { user: 'u' } }, { time: 5, payload: { user: 'u' } }], new Map());
    p.process(b);
    expect(p.takeCounts()).toEqual({ processed: 2, filtered: 0, late: 1, missingKey: 0, limited: 0, missingField: 0, skipped: 0 });
    expect(b.results).toMatchObject([{ start: 0, end: 10, count: 1 }]);
  });

  it('batch.watermark above the last event watermark (idleness, end of input) fires windows', () => {
    const p = pipeline({});
    const t = new WatermarkTracker({ maxOutOfOrderness: 0, idleTimeout: 0 });
    const b = batchOf(t, [{ time: 3, payload: { user: 'u' } }], new Map());
    b.watermark = 10;
    p.process(b);
    expect(b.results).toMatchObject([{ start: 0, end: 10, count: 1 }]);
  });
});

describe('PipelineCore: sources', () => {
  it('events of other sources are not routed to the pipeline and not counted', () => {
    const p = pipeline({ sources: ['payments'] });
    const t = new WatermarkTracker({ maxOutOfOrderness: 0, idleTimeout: 0 });
    const b = batchOf(
      t,
      [
        { time: 1, payload: { user: 'u' }, source: 'payments' },
        { time: 1, payload: {}, source: 'logins' },
        { time: 1, payload: { user: 'u' }, source: 'logins' },
      ],
      new Map(),
    );
    b.watermark = Infinity;
    p.process(b);
    expect(p.takeCounts()).toEqual({ processed: 1, filtered: 0, late: 0, missingKey: 0, limited: 0, missingField: 0, skipped: 0 });
    expect(b.deadLetters).toEqual([]);
    expect(b.results).toMatchObject([{ key: 'u', count: 1 }]);
  });
});

describe('PipelineCore: counting identity (rule 15)', () => {
  it('takeCounts resets the counters', () => {
    const p = pipeline({});
    p.process(batchOf(new WatermarkTracker({ maxOutOfOrderness: 0, idleTimeout: 0 }), [{ time: 1, payload: { user: 'u' } }], new Map()));
    expect(p.takeCounts().processed).toBe(1);
    expect(p.takeCounts()).toEqual({ processed: 0, filtered: 0, late: 0, missingKey: 0, limited: 0, missingField: 0, skipped: 0 });
  });

  it('property: processed + filtered + late + missingKey == events routed; dead letters == late + missingKey', () => {
    const userArb = fc.oneof(
      fc.constantFrom('a', 'b', 'c', 7, true),
      fc.constantFrom(null, '', undefined, { x: 1 }, ['a'], Number.NaN),
    );
    const specArb = fc.record({
      time: fc.integer({ min: 0, max: 200 }),
      type: fc.constantFrom('payment', 'refund', 'login', undefined),
      user: userArb,
      partition: fc.integer({ min: 0, max: 2 }),
      source: fc.constantFrom('payments', 'payments', 'payments', 'other'),
    });
    const cfgArb = fc.record({
      window: fc.oneof(
        fc.record({ type: fc.constant('tumbling'), size: fc.integer({ min: 1, max: 30 }), grace: fc.integer({ min: 0, max: 10 }) }),
        fc.record({ type: fc.constant('hopping'), size: fc.constant(20), advance: fc.constantFrom(5, 10, 20) }),
        fc.record({ type: fc.constant('session'), gap: fc.integer({ min: 1, max: 20 }) }),
        fc.record({ type: fc.constant('sliding'), lookback: fc.integer({ min: 1, max: 20 }) }),
      ),
      where: fc.constantFrom(undefined, { type: 'payment' }, { type: ['payment', 'refund'] }),
    });
    fc.assert(
      fc.property(
        cfgArb,
        fc.array(fc.array(specArb, { maxLength: 15 }), { maxLength: 6 }),
        fc.integer({ min: 0, max: 30 }),
        (cfg, batches, bound) => {
          const p = pipeline({ sources: ['payments'], window: cfg.window, ...(cfg.where ? { where: cfg.where } : {}) });
          const t = new WatermarkTracker({ maxOutOfOrderness: bound, idleTimeout: 0 });
          const offsets = new Map<number, number>();
          let routed = 0;
          let dead = 0;
          for (const specs of batches) {
            const b = batchOf(
              t,
              specs.map((s) => {
                const payload: Record<string, unknown> = {};
                if (s.type !== undefined) payload.type = s.type;
                payload.user = s.user;
                return { time: s.time, payload, partition: s.partition, source: s.source };
              }),
              offsets,
            );
            routed += specs.filter((s) => s.source === 'payments').length;
            p.process(b);
            dead += b.deadLetters.length;
            for (const d of b.deadLetters) {
              expect(['late', 'missing_key']).toContain(d.reason);
              expect(d.source).toBe('payments');
            }
          }
          const c = p.takeCounts();
          expect(c.processed + c.filtered + c.late + c.missingKey).toBe(routed);
          expect(c.late + c.missingKey).toBe(dead);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('property (tumbling, grace 0): the counts of all results add up to the processed events', () => {
    const specArb = fc.record({ time: fc.integer({ min: 0, max: 100 }), user: fc.constantFrom('a', 'b', null), partition: fc.integer({ min: 0, max: 1 }) });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.array(fc.array(specArb, { maxLength: 12 }), { maxLength: 6 }), fc.integer({ min: 0, max: 20 }), (size, batches, bound) => {
        const p = pipeline({ window: { type: 'tumbling', size } });
        const t = new WatermarkTracker({ maxOutOfOrderness: bound, idleTimeout: 0 });
        const offsets = new Map<number, number>();
        let total = 0;
        for (const specs of batches) {
          const b = batchOf(t, specs.map((s) => ({ time: s.time, payload: { user: s.user }, partition: s.partition })), offsets);
          p.process(b);
          total += b.results.reduce((n, r) => n + r.count, 0);
        }
        const end = emptyBatch(0);
        end.watermark = t.finishAll();
        p.process(end);
        total += end.results.reduce((n, r) => n + r.count, 0);
        expect(end.results.every((r) => r.revision === 0)).toBe(true);
        expect(total).toBe(p.takeCounts().processed);
      }),
      { numRuns: 200 },
    );
  });
});
