import { describe, it, expect } from 'vitest';
import * as mod from '../../operators/hopping.js';
import { canon, ev, feed, makeCore, perKey } from '../helpers/windows.js';
import type { WindowCore } from '../../operators/types.js';
import type { VEvent, WindowResult } from '../../src/types.js';

const { schema } = mod;

const core = (cfg: Record<string, unknown>, evidenceLimit = 20): WindowCore => makeCore(mod, cfg, evidenceLimit);

const windows = (rs: WindowResult[]): Array<[number, number, number]> => rs.map((r) => [r.start, r.end, r.count]);

describe('hopping: schema', () => {
  it('parses and validates 0 < advance <= size, offset < advance', () => {
    expect(schema.parse({ type: 'hopping', size: '1h', advance: '5m' })).toEqual({ type: 'hopping', size: 3_600_000, advance: 300_000, offset: 0, grace: 0 });
    expect(() => schema.parse({ type: 'hopping', size: 10, advance: 11 })).toThrow();
    expect(() => schema.parse({ type: 'hopping', size: 10, advance: 0 })).toThrow();
    expect(() => schema.parse({ type: 'hopping', size: 10, advance: 5, offset: 5 })).toThrow();
  });
});

describe('hopping: windows and firing (rules 7, 8)', () => {
  it('an event belongs to size / advance windows; each fires when W >= its end', () => {
    const c = core({ size: 10, advance: 5 });
    const out: WindowResult[] = [];
    feed(c, 'a', ev(7, 3, 'x'), -Infinity, out);
    expect(c.openWindows).toBe(2);
    c.advance(9, out);
    expect(out).toEqual([]);
    c.advance(10, out);
    expect(out).toMatchObject([{ key: 'a', start: 0, end: 10, revision: 0, kind: 'final', count: 1, values: { n: 1, s: 3, lo: 3, hi: 3 }, evidence: ['x'] }]);
    c.advance(14, out);
    expect(out).toHaveLength(1);
    c.advance(15, out);
    expect(out).toHaveLength(2);
    expect(out[1]).toMatchObject({ key: 'a', start: 5, end: 15, revision: 0, kind: 'final', count: 1, evidence: ['x'] });
    c.advance(Infinity, out);
    expect(out).toHaveLength(2);
    expect(c.openWindows).toBe(0);
  });

  it('overlapping windows aggregate the right subsets (half-open ends)', () => {
    const c = core({ size: 10, advance: 5 });
    const out: WindowResult[] = [];
    for (const [t, v] of [[0, 1], [4, 2], [5, 4], [9, 8], [10, 16], [14, 32]]) feed(c, 'a', ev(t, v), -Infinity, out);
    c.advance(Infinity, out);
    expect(out.map((r) => [r.start, r.end, r.count, r.values.s, r.values.lo, r.values.hi])).toEqual([
      [-5, 5, 2, 3, 1, 2],
      [0, 10, 4, 15, 1, 8],
      [5, 15, 4, 60, 4, 32],
      [10, 20, 2, 48, 16, 32],
    ]);
  });

  it('advance that does not divide size', () => {
    const c = core({ size: 10, advance: 4 });
    const out: WindowResult[] = [];
    feed(c, 'a', ev(0), -Infinity, out);
    feed(c, 'a', ev(2), -Infinity, out);
    c.advance(Infinity, out);
    expect(windows(out)).toEqual([
      [-8, 2, 1],
      [-4, 6, 2],
      [0, 10, 2],
    ]);
  });

  it('negative times and offset', () => {
    const c = core({ size: 10, advance: 5, offset: 2 });
    const out: WindowResult[] = [];
    feed(c, 'a', ev(-1), -Infinity, out);
    feed(c, 'a', ev(4), -Infinity, out);
    c.advance(Infinity, out);
    expect(windows(out)).toEqual([
      [-8, 2, 1],
      [-3, 7, 2],
      [2, 12, 1],
    ]);
  });

  it('results of one key come out in order of window end', () => {
    const c = core({ size: 20, advance: 5 });
    const out: WindowResult[] = [];
    for (const t of [33, 2, 41, 17, 8, 26]) feed(c, 'a', ev(t), -Infinity, out);
    for (const t of [50, 1]) feed(c, 'b', ev(t), -Infinity, out);
    c.advance(20, out);
    c.advance(37, out);
    c.advance(Infinity, out);
    for (const key of ['a', 'b']) {
      const ends = out.filter((r) => r.key === key).map((r) => r.end);
      expect(ends).toEqual([...ends].sort((x, y) => x - y));
      expect(new Set(ends).size).toBe(ends.length);
    }
    expect(out.filter((r) => r.key === 'a').map((r) => r.end)).toEqual([5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60]);
  });

  it('end of input fires every window', () => {
    const c = core({ size: 30, advance: 10, grace: 15 });
    const out: WindowResult[] = [];
    for (let i = 0; i < 12; i++) feed(c, `k${i % 3}`, ev(i * 7), -Infinity, out);
    c.advance(Infinity, out);
    expect(out.reduce((n, r) => n + r.count, 0)).toBe(36);
    expect(out.every((r) => r.kind === 'final' && r.revision === 0)).toBe(true);
    expect(c.openWindows).toBe(0);
    expect(c.keyCount).toBe(0);
  });
});

describe('hopping: lateness (rule 9)', () => {
  it('accepted while one of its windows is open, into the open ones only', () => {
    const c = core({ size: 10, advance: 5 });
    const out: WindowResult[] = [];
    feed(c, 'a', ev(6), -Infinity, out);
    c.advance(10, out); // [0, 10) fired and closed
    expect(windows(out)).toEqual([[0, 10, 1]]);
    // t = 7 belongs to [0, 10) (closed) and [5, 15) (open).
    expect(c.add('a', ev(7), out)).toBe(true);
    expect(out).toHaveLength(1); // the fired window is not changed
    c.advance(Infinity, out);
    expect(windows(out)).toEqual([
      [0, 10, 1],
      [5, 15, 2],
    ]);
  });

  it('late exactly when W >= end of its last window', () => {
    const c = core({ size: 10, advance: 5 });
    const out: WindowResult[] = [];
    feed(c, 'a', ev(20), 10, out);
    // t = 4: windows [-5, 5) and [0, 10), both ended at W = 10.
    expect(c.add('a', ev(4), out)).toBe(false);
    // t = 5: [0, 10) closed, [5, 15) open.
    expect(c.add('a', ev(5), out)).toBe(true);
    c.advance(14, out);
    expect(c.add('a', ev(9), out)).toBe(true); // [5, 15) still open at W = 14
    c.advance(15, out);
    expect(c.add('a', ev(9), out)).toBe(false);
    expect(c.add('a', ev(10), out)).toBe(true); // [10, 20) open
    c.advance(Infinity, out);
    expect(windows(out)).toEqual([
      [5, 15, 2],
      [10, 20, 1],
      [15, 25, 1],
      [20, 30, 1],
    ]);
  });

  it('grace: updates only for the windows that already fired, and closed at W >= end + grace', () => {
    const c = core({ size: 10, advance: 5, grace: 4 });
    const out: WindowResult[] = [];
    feed(c, 'a', ev(8, 1), -Infinity, out);
    c.advance(10, out);
    expect(out).toMatchObject([{ start: 0, end: 10, revision: 0, kind: 'final', count: 1 }]);
    // t = 7 at W = 10: [0, 10) fired, open until 14 -> update; [5, 15) not fired -> no emission.
    expect(c.add('a', ev(7, 2), out)).toBe(true);
    expect(out).toHaveLength(2);
    expect(out[1]).toMatchObject({ start: 0, end: 10, revision: 1, kind: 'update', count: 2, values: { s: 3 } });
    c.advance(14, out); // [0, 10) closes
    expect(out).toHaveLength(2);
    expect(c.add('a', ev(6, 4), out)).toBe(true); // only [5, 15) is open
    expect(out).toHaveLength(2);
    c.advance(15, out);
    expect(out[2]).toMatchObject({ start: 5, end: 15, revision: 0, kind: 'final', count: 3, values: { s: 7 } });
    expect(c.add('a', ev(5, 8), out)).toBe(true);
    expect(out[3]).toMatchObject({ start: 5, end: 15, revision: 1, kind: 'update', count: 4, values: { s: 15 } });
    c.advance(19, out);
    expect(c.add('a', ev(5, 8), out)).toBe(false);
    expect(out).toHaveLength(4);
  });
});

describe('hopping: evidence', () => {
  it('carries at most evidenceLimit ids per window, in arrival order', () => {
    const c = core({ size: 10, advance: 5 }, 3);
    const out: WindowResult[] = [];
    for (const [t, id] of [[6, 'i1'], [2, 'i2'], [7, 'i3'], [8, 'i4'], [9, 'i5']] as const) feed(c, 'a', ev(t, 1, id), -Infinity, out);
    c.advance(Infinity, out);
    expect(out.map((r) => [r.start, r.count, r.evidence])).toEqual([
      [-5, 1, ['i2']],
      [0, 5, ['i1', 'i2', 'i3']],
      [5, 4, ['i1', 'i3', 'i4']],
    ]);
  });
});

describe('hopping: snapshot / restore', () => {
  for (const grace of [0, 7]) {
    it(`restored core gives identical subsequent output and snapshot (grace ${grace})`, () => {
      const times = [1, 5, 12, 3, 25, 14, 31, 22, 40, 38, 55, 47, 61, 59, 70];
      const events: Array<[string, VEvent, number]> = times.map((t, i) => [`k${i % 3}`, ev(t, i), Math.max(...times.slice(0, i + 1)) - 8]);
      for (let cut = 0; cut <= events.length; cut++) {
        const a = core({ size: 15, advance: 5, grace });
        const ignored: WindowResult[] = [];
        for (const [k, e, w] of events.slice(0, cut)) feed(a, k, e, w, ignored);
        const b = core({ size: 15, advance: 5, grace });
        b.restore(structuredClone(a.snapshot()));
        expect(b.snapshot()).toEqual(a.snapshot());
        expect(b.openWindows).toBe(a.openWindows);
        const outA: WindowResult[] = [];
        const outB: WindowResult[] = [];
        for (const [k, e, w] of events.slice(cut)) {
          expect(feed(b, k, e, w, outB)).toBe(feed(a, k, e, w, outA));
          expect(b.snapshot()).toEqual(a.snapshot());
        }
        const late = ev(58, 100, 'late');
        expect(feed(b, 'k1', late, 66, outB)).toBe(feed(a, 'k1', late, 66, outA));
        a.advance(Infinity, outA);
        b.advance(Infinity, outB);
        expect(canon(outB)).toEqual(canon(outA));
        expect(perKey(outB)).toEqual(perKey(outA));
        expect(b.snapshot()).toEqual(a.snapshot());
      }
    });
  }
});
