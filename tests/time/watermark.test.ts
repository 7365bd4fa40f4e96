import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { WatermarkTracker } from '../../src/time/watermark.js';
import { MinHeap } from '../../src/util/heap.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ndjsonFile from '../../src/sources/ndjson-file.js';
import type { SourceContext } from '../../src/sources/types.js';

const tracker = (maxOutOfOrderness: number, idleTimeout = 0): WatermarkTracker =>
  new WatermarkTracker({ maxOutOfOrderness, idleTimeout });

describe('WatermarkTracker: one partition (rule 3)', () => {
  it('starts at -Infinity', () => {
    const t = tracker(10);
    expect(t.watermark).toBe(-Infinity);
    expect(t.maxSeen).toBe(-Infinity);
  });

  it('W(p) = largest event time seen - maxOutOfOrderness', () => {
    const t = tracker(10);
    expect(t.observe(0, 100, 0)).toBe(90);
    expect(t.observe(0, 150, 0)).toBe(140);
    expect(t.watermark).toBe(140);
    expect(t.maxSeen).toBe(150);
  });

  it('never decreases with out-of-order events', () => {
    const t = tracker(10);
    t.observe(0, 150, 0);
    expect(t.observe(0, 145, 0)).toBe(140);
    expect(t.observe(0, 100, 0)).toBe(140);
    expect(t.observe(0, 151, 0)).toBe(141);
    expect(t.maxSeen).toBe(151);
  });

  it('maxOutOfOrderness 0: W is the largest time seen', () => {
    const t = tracker(0);
    expect(t.observe(0, 7, 0)).toBe(7);
    expect(t.observe(0, 3, 0)).toBe(7);
  });

  it('property: W after each event = running max - bound (single partition, no idleness)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 50 }), fc.array(fc.integer({ min: -1000, max: 1000 }), { minLength: 1, maxLength: 50 }), (bound, times) => {
        const t = tracker(bound);
        let max = -Infinity;
        let prev = -Infinity;
        for (const time of times) {
          max = Math.max(max, time);
          const w = t.observe(0, time, 0);
          expect(w).toBe(max - bound);
          expect(w).toBeGreaterThanOrEqual(prev);
          prev = w;
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('WatermarkTracker: several partitions (rule 4)', () => {
  it('W is the minimum over partitions', () => {
    const t = tracker(5);
    t.observe(0, 100, 0);
    expect(t.watermark).toBe(95);
    expect(t.observe(1, 50, 0)).toBe(95); // a newcomer behind W does not pull W back
    const t2 = tracker(5);
    t2.register(0, 0);
    t2.register(1, 0);
    expect(t2.observe(0, 100, 0)).toBe(-Infinity); // partition 1 silent: holds W
    expect(t2.observe(1, 50, 0)).toBe(45);
    expect(t2.observe(1, 80, 0)).toBe(75);
    expect(t2.observe(1, 200, 0)).toBe(95); // partition 0 now the slowest
    expect(t2.observe(0, 120, 0)).toBe(115);
  });

  it('advancing a partition that is not the slowest leaves W alone', () => {
    const t = tracker(0);
    t.register(0, 0);
    t.register(1, 0);
    t.observe(0, 10, 0);
    t.observe(1, 20, 0);
    expect(t.watermark).toBe(10);
    expect(t.observe(1, 30, 0)).toBe(10);
    expect(t.observe(0, 25, 0)).toBe(25);
  });

  it('a registered partition that never produced holds W until it goes idle', () => {
    const t = tracker(0, 1000);
    t.register(0, 0);
    t.register(1, 0);
    expect(t.observe(0, 500, 100)).toBe(-Infinity);
    expect(t.tick(999)).toBe(-Infinity); // partition 1 silent for 999 ms: not idle yet
    expect(t.isIdle(1)).toBe(false);
    expect(t.tick(1000)).toBe(500); // silent for idleTimeout: idle, released
    expect(t.isIdle(1)).toBe(true);
    expect(t.isIdle(0)).toBe(false); // partition 0 produced at 100
  });

  it('idleness is measured in processing time since the last input of that partition', () => {
    const t = tracker(0, 100);
    t.register(0, 0);
    t.register(1, 0);
    t.observe(0, 50, 0);
    t.observe(1, 10, 0);
    expect(t.watermark).toBe(10);
    t.observe(0, 60, 80); // partition 0 active at 80, partition 1 last at 0
    expect(t.tick(99)).toBe(10);
    expect(t.tick(100)).toBe(60); // partition 1 idle: W = W(0)
    expect(t.isIdle(1)).toBe(true);
    expect(t.isIdle(0)).toBe(false);
  });

  it('an idle partition rejoins on its next event, and W never decreases', () => {
    const t = tracker(0, 100);
    t.register(0, 0);
    t.register(1, 0);
    t.observe(0, 10, 0);
    t.observe(1, 5, 0);
    t.observe(0, 100, 150);
    expect(t.tick(150)).toBe(100); // partition 1 idle since 100
    expect(t.isIdle(1)).toBe(true);
    // Partition 1 comes back behind W: it rejoins but W stays.
    expect(t.observe(1, 40, 160)).toBe(100);
    expect(t.isIdle(1)).toBe(false);
    // It holds W again: partition 0 moving forward does not move W past partition 1.
    expect(t.observe(0, 300, 170)).toBe(100);
    expect(t.observe(1, 200, 180)).toBe(200);
    expect(t.observe(1, 400, 180)).toBe(300);
  });

  it('touch keeps a partition from going idle and rejoins an idle one', () => {
    const t = tracker(0, 100);
    t.register(0, 0);
    t.register(1, 0);
    t.observe(0, 50, 0);
    t.observe(1, 10, 0);
    t.touch(1, 90); // unusable input at 90: partition 1 is not idle
    expect(t.tick(150)).toBe(10);
    expect(t.isIdle(0)).toBe(true);
    expect(t.isIdle(1)).toBe(false);
    expect(t.tick(190)).toBe(10); // both idle: W stays
    expect(t.isIdle(1)).toBe(true);
    t.touch(1, 200);
    expect(t.isIdle(1)).toBe(false);
    expect(t.observe(1, 30, 200)).toBe(30);
  });

  it('all partitions idle: W stays where it was', () => {
    const t = tracker(0, 100);
    t.register(0, 0);
    t.register(1, 0);
    t.observe(0, 50, 0);
    t.observe(1, 20, 0);
    expect(t.watermark).toBe(20);
    expect(t.tick(1000)).toBe(20);
    expect(t.isIdle(0)).toBe(true);
    expect(t.isIdle(1)).toBe(true);
    expect(t.tick(5000)).toBe(20);
    // The first to come back drives W alone, from where it stood (never below).
    expect(t.observe(1, 10, 5000)).toBe(20);
    expect(t.observe(1, 70, 5001)).toBe(70);
  });

  it('idleTimeout 0 disables idleness', () => {
    const t = tracker(0, 0);
    t.register(0, 0);
    t.register(1, 0);
    t.observe(0, 50, 0);
    expect(t.tick(1e12)).toBe(-Infinity);
    expect(t.isIdle(1)).toBe(false);
  });

  it('unregister releases a partition', () => {
    const t = tracker(0);
    t.register(0, 0);
    t.register(1, 0);
    t.observe(0, 50, 0);
    expect(t.watermark).toBe(-Infinity);
    t.unregister(1);
    expect(t.watermark).toBe(50);
  });

  it('property: W = max over time of min over partitions (all registered, no idleness), never decreasing', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 20 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 500 })), { minLength: 1, maxLength: 60 }),
        (bound, events) => {
          const t = tracker(bound);
          for (let p = 0; p < 4; p++) t.register(p, 0);
          const max = [-Infinity, -Infinity, -Infinity, -Infinity];
          let expected = -Infinity;
          for (const [p, time] of events) {
            max[p] = Math.max(max[p], time);
            expected = Math.max(expected, Math.min(...max) - bound);
            expect(t.observe(p, time, 0)).toBe(expected);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('WatermarkTracker: end of input (rule 6)', () => {
  it('finishAll makes W +Infinity', () => {
    const t = tracker(10);
    t.register(0, 0);
    t.register(1, 0);
    t.observe(0, 100, 0);
    expect(t.finishAll()).toBe(Infinity);
    expect(t.watermark).toBe(Infinity);
  });

  it('finishAll with no partition at all: +Infinity', () => {
    expect(tracker(10).finishAll()).toBe(Infinity);
  });

  it('finish of one partition releases it; finishing the last gives +Infinity', () => {
    const t = tracker(0);
    t.register(0, 0);
    t.register(1, 0);
    t.observe(0, 100, 0);
    t.observe(1, 30, 0);
    expect(t.watermark).toBe(30);
    expect(t.finish(1)).toBe(100);
    expect(t.observe(0, 150, 0)).toBe(150);
    expect(t.finish(0)).toBe(Infinity);
  });

  it('finishing a silent registered partition releases it', () => {
    const t = tracker(0);
    t.register(0, 0);
    t.register(1, 0);
    t.observe(0, 100, 0);
    expect(t.watermark).toBe(-Infinity);
    expect(t.finish(1)).toBe(100);
  });

  it('a finished partition does not go idle nor hold W after a tick', () => {
    const t = tracker(0, 10);
    t.register(0, 0);
    t.register(1, 0);
    t.observe(0, 100, 0);
    t.finish(1);
    expect(t.tick(1000)).toBe(100);
    expect(t.isIdle(1)).toBe(false);
  });
});

describe('WatermarkTracker: snapshot / restore', () => {
  it('round trip: same W, same snapshot, same W after the same subsequent events', () => {
    const a = tracker(5, 0);
    a.register(0, 0);
    a.register(1, 0);
    a.register(2, 0); // silent: must still hold W after restore
    a.observe(0, 100, 0);
    a.observe(1, 60, 0);
    a.observe(2, 80, 0);
    a.observe(0, 90, 0);
    const snap = structuredClone(a.snapshot());
    const b = tracker(5, 0);
    b.restore(snap, 0);
    expect(b.watermark).toBe(a.watermark);
    expect(b.maxSeen).toBe(a.maxSeen);
    expect(b.snapshot()).toEqual(a.snapshot());
    const events: Array<[number, number]> = [[1, 120], [2, 70], [0, 130], [2, 140], [1, 125]];
    for (const [p, time] of events) expect(b.observe(p, time, 0)).toBe(a.observe(p, time, 0));
    expect(b.snapshot()).toEqual(a.snapshot());
  });

  it('round trip keeps a silent registered partition holding W', () => {
    const a = tracker(0, 0);
    a.register(0, 0);
    a.register(1, 0);
    a.observe(0, 100, 0);
    const b = tracker(0, 0);
    b.restore(structuredClone(a.snapshot()), 0);
    expect(b.observe(0, 200, 0)).toBe(-Infinity);
  });

  it('property: restore(snapshot) at any point gives the same W for any continuation', () => {
    const ev = fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 300 }));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 20 }), fc.array(ev, { maxLength: 30 }), fc.array(ev, { maxLength: 30 }), (bound, before, after) => {
        const a = tracker(bound);
        for (let p = 0; p < 3; p++) a.register(p, 0);
        for (const [p, time] of before) a.observe(p, time, 0);
        const b = tracker(bound);
        b.restore(structuredClone(a.snapshot()), 0);
        expect(b.watermark).toBe(a.watermark);
        for (const [p, time] of after) expect(b.observe(p, time, 0)).toBe(a.observe(p, time, 0));
        expect(b.snapshot()).toEqual(a.snapshot());
      }),
      { numRuns: 200 },
    );
  });

  // A partition whose input ended (rule 6) no longer holds W. After a checkpoint restore it must not
  // start holding W again: the snapshot has to remember that it finished.
  it('round trip keeps a finished partition released', () => {
    const a = tracker(0, 0);
    a.register(0, 0);
    a.register(1, 0);
    a.observe(0, 100, 0);
    a.observe(1, 50, 0);
    a.finish(1);
    expect(a.watermark).toBe(100);
    const b = tracker(0, 0);
    b.restore(structuredClone(a.snapshot()), 0);
    expect(b.watermark).toBe(100);
    expect(a.observe(0, 200, 0)).toBe(200);
    expect(b.observe(0, 200, 0)).toBe(200);
  });
});

describe('partitions (rule 2)', () => {
  it('a file is one partition (0): its records come in line order, numbered by line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigie-partitions-'));
    try {
      const lines = ['{"id":"c","ts":30}', '', '{"id":"a","ts":10}', '{"id":"b","ts":20}', '{"id":"d","ts":5}'];
      writeFileSync(join(dir, 'in.ndjson'), `${lines.join('\n')}\n`);
      const config = ndjsonFile.schema.parse({ name: 'f', type: 'ndjson-file', path: 'in.ndjson' });
      const source = ndjsonFile.create(config, { baseDir: dir, batchSize: 2 } as SourceContext);
      expect(source.partitions()).toEqual([0]);
      const got: Array<[number, unknown]> = [];
      let ended = 0;
      for await (const batch of source.batches()) {
        expect(batch.partition).toBe(0);
        if (batch.end) ended++;
        for (const r of batch.records) got.push([r.offset, r.data]);
      }
      await source.close();
      // File order, not time order; the blank line 2 is skipped but keeps its number.
      expect(got).toEqual([
        [1, lines[0]],
        [3, lines[2]],
        [4, lines[3]],
        [5, lines[4]],
      ]);
      expect(ended).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('MinHeap', () => {
  it('pops by priority, ties in insertion order', () => {
    const h = new MinHeap<string>();
    h.push(5, 'a');
    h.push(1, 'b');
    h.push(5, 'c');
    h.push(3, 'd');
    h.push(1, 'e');
    expect(h.size).toBe(5);
    expect(h.peekPriority()).toBe(1);
    expect(h.hasDue(0)).toBe(false);
    expect(h.hasDue(1)).toBe(true);
    const out: string[] = [];
    while (h.size > 0) out.push(h.pop() as string);
    expect(out).toEqual(['b', 'e', 'd', 'a', 'c']);
    expect(h.pop()).toBeUndefined();
    expect(h.peekPriority()).toBe(Infinity);
    expect(h.hasDue(Infinity)).toBe(false);
  });

  it('property: pops equal a stable sort by priority', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -20, max: 20 }), { maxLength: 100 }), (prios) => {
        const h = new MinHeap<number>();
        prios.forEach((p, i) => h.push(p, i));
        const expected = prios.map((p, i) => [p, i] as const).sort((x, y) => x[0] - y[0] || x[1] - y[1]).map(([, i]) => i);
        const out: number[] = [];
        while (h.size > 0) out.push(h.pop() as number);
        expect(out).toEqual(expected);
      }),
      { numRuns: 200 },
    );
  });
});
