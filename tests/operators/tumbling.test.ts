import { describe, it, expect } from 'vitest';
import * as mod from '../../operators/tumbling.js';
import { canon, ev, feed, makeCore, perKey } from '../helpers/windows.js';
import type { WindowCore } from '../../operators/types.js';
import type { VEvent, WindowResult } from '../../src/types.js';

const { schema } = mod;

const core = (cfg: Record<string, unknown>, evidenceLimit = 20): WindowCore => makeCore(mod, cfg, evidenceLimit);


describe('tumbling: schema', () => {
  it('parses durations and applies defaults', () => {
    expect(schema.parse({ type: 'tumbling', size: '5m' })).toEqual({ type: 'tumbling', size: 300_000, offset: 0, grace: 0 });
  });
  it('rejects offset >= size, zero size and unknown fields', () => {
    expect(() => schema.parse({ type: 'tumbling', size: 10, offset: 10 })).toThrow();
    expect(() => schema.parse({ type: 'tumbling', size: 0 })).toThrow();
    expect(() => schema.parse({ type: 'tumbling', size: 10, sise: 3 })).toThrow();
  });
});

describe('tumbling: firing (rule 8)', () => {
  it('fires when W >= end, not before, with the aggregate values and count', () => {
    const c = core({ size: 10 });
    const out: WindowResult[] = [];
    expect(feed(c, 'a', ev(3, 5, 'x'), -Infinity, out)).toBe(true);
    expect(feed(c, 'a', ev(7, 2, 'y'), 0, out)).toBe(true);
    expect(feed(c, 'a', ev(9, undefined, 'z'), 5, out)).toBe(true);
    c.advance(9, out);
    expect(out).toEqual([]);
    c.advance(10, out);
    expect(out).toMatchObject([
      { pipeline: 'p', key: 'a', start: 0, end: 10, revision: 0, kind: 'final', values: { n: 3, s: 7, lo: 2, hi: 5 }, count: 3, evidence: ['x', 'y', 'z'] },
    ]);
    c.advance(100, out);
    expect(out).toHaveLength(1); // fires once
    expect(c.openWindows).toBe(0);
    expect(c.keyCount).toBe(0);
  });

  it('windows of one key are independent of other keys', () => {
    const c = core({ size: 10 });
    const out: WindowResult[] = [];
    feed(c, 'a', ev(1, 1, 'a1'), -Infinity, out);
    feed(c, 'b', ev(2, 10, 'b1'), -Infinity, out);
    feed(c, 'a', ev(3, 2, 'a2'), -Infinity, out);
    expect(c.keyCount).toBe(2);
    expect(c.openWindows).toBe(2);
    c.advance(10, out);
    expect([...out].sort((x, y) => x.key.localeCompare(y.key))).toMatchObject([
      { pipeline: 'p', key: 'a', start: 0, end: 10, revision: 0, kind: 'final', values: { n: 2, s: 3, lo: 1, hi: 2 }, count: 2, evidence: ['a1', 'a2'] },
      { pipeline: 'p', key: 'b', start: 0, end: 10, revision: 0, kind: 'final', values: { n: 1, s: 10, lo: 10, hi: 10 }, count: 1, evidence: ['b1'] },
    ]);
  });

  it('windows are half-open: an event at the end belongs to the next window', () => {
    const c = core({ size: 10 });
    const out: WindowResult[] = [];
    feed(c, 'a', ev(0), -Infinity, out);
    feed(c, 'a', ev(10), -Infinity, out);
    c.advance(Infinity, out);
    expect(out.map((r) => [r.start, r.end, r.count])).toEqual([
      [0, 10, 1],
      [10, 20, 1],
    ]);
  });

  it('negative times and offsets: start = floor((t - o) / s) * s + o', () => {
    const c = core({ size: 10, offset: 3 });
    const out: WindowResult[] = [];
    feed(c, 'a', ev(-8), -Infinity, out);
    feed(c, 'a', ev(-7), -Infinity, out);
    feed(c, 'a', ev(2), -Infinity, out);
    feed(c, 'a', ev(3), -Infinity, out);
    c.advance(-7, out);
    expect(out.map((r) => [r.start, r.end, r.count])).toEqual([[-17, -7, 1]]);
    c.advance(3, out);
    expect(out.map((r) => [r.start, r.end, r.count])).toEqual([
      [-17, -7, 1],
      [-7, 3, 2],
    ]);
    c.advance(Infinity, out);
    expect(out.map((r) => [r.start, r.end, r.count])).toEqual([
      [-17, -7, 1],
      [-7, 3, 2],
      [3, 13, 1],
    ]);
  });

  it('results of one key come out in order of window end', () => {
    const c = core({ size: 10 });
    const out: WindowResult[] = [];
    for (const t of [35, 5, 25, 15, 45, 0]) feed(c, 'a', ev(t), -Infinity, out);
    feed(c, 'b', ev(12), -Infinity, out);
    c.advance(30, out);
    c.advance(Infinity, out);
    const ends = out.filter((r) => r.key === 'a').map((r) => r.end);
    expect(ends).toEqual([10, 20, 30, 40, 50]);
    expect(out.filter((r) => r.key === 'a')[0].count).toBe(2);
  });

  it('end of input (advance(Infinity)) fires every open window', () => {
    const c = core({ size: 1000, grace: 500 });
    const out: WindowResult[] = [];
    for (let i = 0; i < 20; i++) feed(c, `k${i % 4}`, ev(i * 300), -Infinity, out);
    expect(c.openWindows).toBeGreaterThan(0);
    c.advance(Infinity, out);
    expect(out.reduce((n, r) => n + r.count, 0)).toBe(20);
    expect(out.every((r) => r.revision === 0 && r.kind === 'final')).toBe(true);
    expect(c.openWindows).toBe(0);
    expect(c.keyCount).toBe(0);
  });
});

describe('tumbling: lateness (rule 9, grace 0)', () => {
  it('an event is late exactly when W >= end of its window', () => {
    const c = core({ size: 10 });
    const out: WindowResult[] = [];
    feed(c, 'a', ev(5), -Infinity, out);
    // Behind W but its window is still open: accepted and counted.
    expect(feed(c, 'a', ev(0), 9, out)).toBe(true);
    expect(out).toEqual([]);
    c.advance(10, out);
    expect(out).toHaveLength(1);
    expect(out[0].count).toBe(2);
    // W == end: closed.
    expect(c.add('a', ev(9), out)).toBe(false);
    expect(c.add('b', ev(0), out)).toBe(false); // another key, same window: closed too
    // t == W belongs to [10, 20): open.
    expect(c.add('a', ev(10), out)).toBe(true);
    expect(out).toHaveLength(1); // a late event never changes an emitted result
    c.advance(Infinity, out);
    expect(out.map((r) => [r.start, r.count])).toEqual([
      [0, 2],
      [10, 1],
    ]);
  });
});

describe('tumbling: grace (rule 8)', () => {
  it('final at W >= end, then one update per accepted late event with revision + 1, closed at W >= end + grace', () => {
    const c = core({ size: 10, grace: 5 });
    const out: WindowResult[] = [];
    feed(c, 'a', ev(3, 1, 'a1'), -Infinity, out);
    c.advance(10, out);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ start: 0, end: 10, revision: 0, kind: 'final', count: 1, values: { n: 1, s: 1 } });
    expect(feed(c, 'a', ev(4, 2, 'a2'), 12, out)).toBe(true);
    expect(out).toHaveLength(2);
    expect(out[1]).toMatchObject({ pipeline: 'p', key: 'a', start: 0, end: 10, revision: 1, kind: 'update', values: { n: 2, s: 3, lo: 1, hi: 2 }, count: 2, evidence: ['a1', 'a2'] });
    expect(feed(c, 'a', ev(9, 4, 'a3'), 14, out)).toBe(true);
    expect(out[2]).toMatchObject({ start: 0, end: 10, revision: 2, kind: 'update', count: 3, values: { n: 3, s: 7 } });
    // W == end + grace: closed.
    expect(feed(c, 'a', ev(8, 100), 15, out)).toBe(false);
    expect(out).toHaveLength(3);
    expect(c.openWindows).toBe(0);
  });

  it('advancing through the grace period emits nothing more', () => {
    const c = core({ size: 10, grace: 5 });
    const out: WindowResult[] = [];
    feed(c, 'a', ev(3), -Infinity, out);
    c.advance(10, out);
    c.advance(14, out);
    c.advance(15, out);
    c.advance(Infinity, out);
    expect(out).toHaveLength(1);
  });

  it('a late event for a window that never had an event, within grace, emits it as final', () => {
    const c = core({ size: 10, grace: 5 });
    const out: WindowResult[] = [];
    feed(c, 'a', ev(30), -Infinity, out);
    expect(feed(c, 'a', ev(19, 7), 22, out)).toBe(true);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ key: 'a', start: 10, end: 20, revision: 0, kind: 'final', count: 1, values: { s: 7 } });
    expect(feed(c, 'a', ev(5), 22, out)).toBe(false); // [0, 10) closed at 15
    c.advance(25, out);
    expect(feed(c, 'a', ev(18), 25, out)).toBe(false);
    expect(out).toHaveLength(1);
  });

  it('a late event before the window fired (W < end) is folded into the final result', () => {
    const c = core({ size: 10, grace: 5 });
    const out: WindowResult[] = [];
    feed(c, 'a', ev(8), -Infinity, out);
    expect(feed(c, 'a', ev(1), 8, out)).toBe(true);
    expect(out).toEqual([]);
    c.advance(10, out);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ revision: 0, count: 2 });
  });
});

describe('tumbling: evidence', () => {
  it('carries at most evidenceLimit ids, in arrival order', () => {
    const c = core({ size: 100 }, 2);
    const out: WindowResult[] = [];
    for (const id of ['i1', 'i2', 'i3', 'i4']) feed(c, 'a', ev(5, 1, id), -Infinity, out);
    c.advance(Infinity, out);
    expect(out[0].evidence).toEqual(['i1', 'i2']);
    expect(out[0].count).toBe(4);
  });

  it('evidenceLimit 0: no evidence', () => {
    const c = core({ size: 100 }, 0);
    const out: WindowResult[] = [];
    feed(c, 'a', ev(5, 1, 'i1'), -Infinity, out);
    c.advance(Infinity, out);
    expect(out[0].evidence).toEqual([]);
  });

  it('an event without id is referenced by source:partition:offset', () => {
    const c = core({ size: 100 });
    const out: WindowResult[] = [];
    const e: VEvent = { time: 1, id: undefined, partition: 3, offset: 42, source: 'kafka', payload: {} };
    c.add('a', e, out);
    c.advance(Infinity, out);
    expect(out[0].evidence).toEqual(['kafka:3:42']);
  });
});

describe('tumbling: snapshot / restore', () => {
  const script = (): Array<[string, VEvent, number]> => {
    const s: Array<[string, VEvent, number]> = [];
    const times = [1, 5, 12, 3, 25, 14, 31, 22, 40, 38, 55, 47, 61, 59, 70];
    times.forEach((t, i) => s.push([`k${i % 3}`, ev(t, i), Math.max(-Infinity, ...times.slice(0, i + 1)) - 8]));
    return s;
  };

  for (const grace of [0, 6]) {
    it(`restored core gives identical subsequent output and snapshot (grace ${grace})`, () => {
      const events = script();
      for (let cut = 0; cut <= events.length; cut++) {
        const a = core({ size: 10, grace });
        const prefix: WindowResult[] = [];
        for (const [k, e, w] of events.slice(0, cut)) feed(a, k, e, w, prefix);
        const snap = structuredClone(a.snapshot());
        const b = core({ size: 10, grace });
        b.restore(snap);
        expect(b.snapshot()).toEqual(a.snapshot());
        expect(b.watermark).toBe(a.watermark);
        expect(b.openWindows).toBe(a.openWindows);
        expect(b.keyCount).toBe(a.keyCount);
        const outA: WindowResult[] = [];
        const outB: WindowResult[] = [];
        for (const [k, e, w] of events.slice(cut)) {
          expect(feed(b, k, e, w, outB)).toBe(feed(a, k, e, w, outA));
          expect(b.snapshot()).toEqual(a.snapshot());
        }
        // Late event within grace (or late) after the restore behaves the same.
        const late = ev(60, 1000, 'late');
        expect(feed(b, 'k0', late, 72, outB)).toBe(feed(a, 'k0', late, 72, outA));
        a.advance(Infinity, outA);
        b.advance(Infinity, outB);
        expect(canon(outB)).toEqual(canon(outA));
        expect(perKey(outB)).toEqual(perKey(outA));
        expect(b.snapshot()).toEqual(a.snapshot());
      }
    });
  }

  it('rejects an unknown snapshot version', () => {
    expect(() => core({ size: 10 }).restore({ v: 2 })).toThrow();
  });
});
