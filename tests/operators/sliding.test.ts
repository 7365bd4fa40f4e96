import { describe, it, expect } from 'vitest';
import * as mod from '../../operators/sliding.js';
import { canon, ev, feed, makeCore, perKey } from '../helpers/windows.js';
import type { WindowCore } from '../../operators/types.js';
import type { VEvent, WindowResult } from '../../src/types.js';

const { schema } = mod;

const core = (cfg: Record<string, unknown>, evidenceLimit = 20): WindowCore => makeCore(mod, cfg, evidenceLimit);

/** [trigger, start, end, count, revision] of each result. */
const evals = (rs: WindowResult[]): Array<[string | undefined, number, number, number, number]> =>
  rs.map((r) => [r.trigger, r.start, r.end, r.count, r.revision]);

describe('sliding: schema', () => {
  it('parses, eager is off by default', () => {
    expect(schema.parse({ type: 'sliding', lookback: '10m' })).toEqual({ type: 'sliding', lookback: 600_000, grace: 0, eager: false });
    expect(() => schema.parse({ type: 'sliding', lookback: 0 })).toThrow();
    expect(() => schema.parse({ type: 'sliding', lookback: 10, gap: 1 })).toThrow();
  });
});

describe('sliding: evaluation (rule 7)', () => {
  it('evaluated when W > t_e (not at W == t_e), over [t_e - L, t_e] both ends inclusive, equal times all counted', () => {
    const c = core({ lookback: 10 });
    const out: WindowResult[] = [];
    feed(c, 'a', ev(0, 1, 'A'), -Infinity, out);
    feed(c, 'a', ev(5, 2, 'B'), -Infinity, out);
    feed(c, 'a', ev(10, 4, 'C'), -Infinity, out);
    feed(c, 'a', ev(10, 8, 'D'), -Infinity, out);
    feed(c, 'a', ev(20, 16, 'E'), -Infinity, out);
    c.advance(0, out);
    expect(out).toEqual([]);
    c.advance(1, out);
    expect(out).toMatchObject([{ key: 'a', trigger: 'A', start: -10, end: 0, count: 1, revision: 0, kind: 'final', values: { n: 1, s: 1, lo: 1, hi: 1 }, evidence: ['A'] }]);
    c.advance(10, out);
    expect(evals(out)).toEqual([
      ['A', -10, 0, 1, 0],
      ['B', -5, 5, 2, 0],
    ]);
    c.advance(11, out);
    expect(out.slice(2)).toMatchObject([
      { trigger: 'C', start: 0, end: 10, count: 4, values: { n: 4, s: 15, lo: 1, hi: 8 }, evidence: ['A', 'B', 'C', 'D'] },
      { trigger: 'D', start: 0, end: 10, count: 4, values: { n: 4, s: 15, lo: 1, hi: 8 }, evidence: ['A', 'B', 'C', 'D'] },
    ]);
    c.advance(Infinity, out);
    // [10, 20]: both events at 10 (the start, inclusive) and E.
    expect(out[4]).toMatchObject({ trigger: 'E', start: 10, end: 20, count: 3, values: { n: 3, s: 28, lo: 4, hi: 16 }, evidence: ['C', 'D', 'E'] });
    expect(out).toHaveLength(5);
  });

  it('an event just before t - L is excluded', () => {
    const c = core({ lookback: 10 });
    const out: WindowResult[] = [];
    for (const t of [0, 10, 11]) feed(c, 'a', ev(t), -Infinity, out);
    c.advance(Infinity, out);
    expect(out.map((r) => [r.end, r.count])).toEqual([
      [0, 1],
      [10, 2],
      [11, 2],
    ]);
  });

  it('out-of-order arrivals (within the watermark bound) give the same evaluations as in order', () => {
    const c = core({ lookback: 10 });
    const out: WindowResult[] = [];
    feed(c, 'a', ev(10, 1, 'x'), -Infinity, out);
    feed(c, 'a', ev(5, 2, 'y'), -Infinity, out);
    feed(c, 'a', ev(8, 4, 'z'), 0, out);
    c.advance(Infinity, out);
    expect(out.map((r) => [r.trigger, r.count, r.values.s])).toEqual([
      ['y', 1, 2],
      ['z', 2, 6],
      ['x', 3, 7],
    ]);
  });

  it('keys are evaluated separately', () => {
    const c = core({ lookback: 10 });
    const out: WindowResult[] = [];
    feed(c, 'a', ev(1), -Infinity, out);
    feed(c, 'b', ev(2), -Infinity, out);
    feed(c, 'a', ev(3), -Infinity, out);
    expect(c.keyCount).toBe(2);
    c.advance(Infinity, out);
    expect(out.map((r) => [r.key, r.end, r.count]).sort()).toEqual([
      ['a', 1, 1],
      ['a', 3, 2],
      ['b', 2, 1],
    ]);
  });

  it('results of one key come out in order of window end', () => {
    const c = core({ lookback: 7 });
    const out: WindowResult[] = [];
    for (const t of [30, 4, 17, 9, 25, 4, 12]) feed(c, 'a', ev(t), -Infinity, out);
    feed(c, 'b', ev(3), -Infinity, out);
    c.advance(10, out);
    c.advance(Infinity, out);
    expect(out.filter((r) => r.key === 'a').map((r) => r.end)).toEqual([4, 4, 9, 12, 17, 25, 30]);
  });

  it('end of input evaluates every pending event', () => {
    const c = core({ lookback: 100, grace: 30 });
    const out: WindowResult[] = [];
    for (let i = 0; i < 20; i++) feed(c, `k${i % 4}`, ev(i * 10), -Infinity, out);
    c.advance(Infinity, out);
    expect(out).toHaveLength(20);
    expect(out.every((r) => r.revision === 0 && r.kind === 'final')).toBe(true);
    expect(c.openWindows).toBe(0);
    expect(c.keyCount).toBe(0);
  });
});

describe('sliding: eager mode', () => {
  it('evaluates each event on arrival over the events already there', () => {
    const c = core({ lookback: 10, eager: true });
    const out: WindowResult[] = [];
    feed(c, 'a', ev(10, 1, 'x'), -Infinity, out);
    expect(out).toMatchObject([{ trigger: 'x', start: 0, end: 10, count: 1, revision: 0 }]);
    feed(c, 'a', ev(5, 2, 'y'), -Infinity, out);
    feed(c, 'a', ev(8, 4, 'z'), -Infinity, out);
    expect(out.map((r) => [r.trigger, r.count, r.values.s])).toEqual([
      ['x', 1, 1],
      ['y', 1, 2],
      ['z', 2, 6],
    ]);
    c.advance(Infinity, out);
    expect(out).toHaveLength(3); // nothing evaluated twice
  });
});

describe('sliding: lateness and grace (rules 8, 9)', () => {
  it('grace 0: accepted while some evaluation could still contain it (W <= t + L), never re-emits', () => {
    const c = core({ lookback: 10 });
    const out: WindowResult[] = [];
    feed(c, 'a', ev(10, 1, 'on-time'), -Infinity, out);
    c.advance(10, out);
    expect(c.add('a', ev(0, 2, 'behind'), out)).toBe(true); // 10 > 0 + 10 is false
    expect(c.add('a', ev(-1, 4, 'late'), out)).toBe(false);
    expect(out).toEqual([]); // its own evaluation is closed (W > t): not emitted
    c.advance(11, out);
    expect(out).toMatchObject([{ trigger: 'on-time', count: 2, values: { s: 3 } }]);
    c.advance(Infinity, out);
    expect(out).toHaveLength(1);
  });

  it('grace: a late event is evaluated at once and re-emits the evaluations it falls into', () => {
    const c = core({ lookback: 10, grace: 5 });
    const out: WindowResult[] = [];
    feed(c, 'a', ev(5, 1, 'A'), -Infinity, out);
    feed(c, 'a', ev(30, 1, 'far'), -Infinity, out);
    c.advance(6, out);
    expect(evals(out)).toEqual([['A', -5, 5, 1, 0]]);
    expect(c.add('a', ev(3, 2, 'B'), out)).toBe(true);
    expect(out.slice(1)).toMatchObject([
      { trigger: 'B', start: -7, end: 3, count: 1, revision: 0, kind: 'final' },
      { trigger: 'A', start: -5, end: 5, count: 2, revision: 1, kind: 'update', values: { s: 3 }, evidence: ['B', 'A'] },
    ]);
    c.advance(11, out); // A's evaluation closes at W > 5 + 5
    expect(out).toHaveLength(3);
    expect(c.add('a', ev(4, 4, 'C'), out)).toBe(true); // may still count for evaluations at 11..14
    expect(out).toHaveLength(3);
    c.advance(20, out);
    expect(c.add('a', ev(5, 4), out)).toBe(true); // 20 > 5 + 10 + 5 is false
    c.advance(21, out);
    expect(c.add('a', ev(5, 4), out)).toBe(false);
    expect(out).toHaveLength(3);
  });

  it('grace: a late event re-emits an evaluation at the same time that arrived before it', () => {
    const c = core({ lookback: 10, grace: 5 });
    const out: WindowResult[] = [];
    feed(c, 'a', ev(5, 1, 'A'), -Infinity, out);
    c.advance(6, out);
    expect(evals(out)).toEqual([['A', -5, 5, 1, 0]]);
    // B (t = 5) falls into A's evaluation [-5, 5], which is still within grace (W = 7 <= 5 + 5).
    expect(c.add('a', ev(5, 2, 'B'), out)).toBe(true);
    expect(out.slice(1).map((r) => [r.trigger, r.count, r.revision]).sort()).toEqual([
      ['A', 2, 1],
      ['B', 2, 0],
    ]);
  });
});

describe('sliding: evidence', () => {
  it('at most evidenceLimit ids', () => {
    const c = core({ lookback: 100 }, 2);
    const out: WindowResult[] = [];
    for (const [t, id] of [[1, 'i1'], [2, 'i2'], [3, 'i3'], [4, 'i4']] as const) feed(c, 'a', ev(t, 1, id), -Infinity, out);
    c.advance(Infinity, out);
    expect(out.map((r) => [r.count, r.evidence])).toEqual([
      [1, ['i1']],
      [2, ['i1', 'i2']],
      [3, ['i1', 'i2']],
      [4, ['i1', 'i2']],
    ]);
  });

  it('evidenceLimit 0: no evidence, trigger still set', () => {
    const c = core({ lookback: 100 }, 0);
    const out: WindowResult[] = [];
    feed(c, 'a', ev(1, 1, 'i1'), -Infinity, out);
    c.advance(Infinity, out);
    expect(out[0].evidence).toEqual([]);
    expect(out[0].trigger).toBe('i1');
  });
});

describe('sliding: snapshot / restore', () => {
  for (const grace of [0, 4]) {
    for (const eager of [false, true]) {
      it(`restored core gives identical subsequent output and snapshot (grace ${grace}, eager ${eager})`, () => {
        const times = [1, 5, 12, 3, 25, 14, 31, 22, 40, 38, 55, 47, 61, 59, 70];
        // Bound 11: every event is at or after W when it arrives (no late data; see the next test for that).
        const events: Array<[string, VEvent, number]> = times.map((t, i) => [`k${i % 3}`, ev(t, i), Math.max(...times.slice(0, i + 1)) - 11]);
        for (let cut = 0; cut <= events.length; cut++) {
          const a = core({ lookback: 9, grace, eager });
          const ignored: WindowResult[] = [];
          for (const [k, e, w] of events.slice(0, cut)) feed(a, k, e, w, ignored);
          const b = core({ lookback: 9, grace, eager });
          b.restore(structuredClone(a.snapshot()));
          expect(b.snapshot()).toEqual(a.snapshot());
          const outA: WindowResult[] = [];
          const outB: WindowResult[] = [];
          for (const [k, e, w] of events.slice(cut)) {
            expect(feed(b, k, e, w, outB)).toBe(feed(a, k, e, w, outA));
            expect(b.snapshot()).toEqual(a.snapshot());
          }
          a.advance(Infinity, outA);
          b.advance(Infinity, outB);
          expect(canon(outB)).toEqual(canon(outA));
          expect(perKey(outB)).toEqual(perKey(outA));
          expect(b.snapshot()).toEqual(a.snapshot());
        }
      });
    }
  }

  it('an event accepted behind W (own evaluation closed) is not evaluated after a restore either', () => {
    const a = core({ lookback: 10 });
    const out: WindowResult[] = [];
    feed(a, 'a', ev(10, 1, 'on-time'), -Infinity, out);
    // Behind W = 10: accepted for the evaluations after it, but its own evaluation is closed.
    expect(feed(a, 'a', ev(3, 2, 'behind'), 10, out)).toBe(true);
    const b = core({ lookback: 10 });
    b.restore(structuredClone(a.snapshot()));
    const outA: WindowResult[] = [];
    const outB: WindowResult[] = [];
    a.advance(Infinity, outA);
    b.advance(Infinity, outB);
    expect(evals(outA)).toEqual([['on-time', 0, 10, 2, 0]]);
    expect(evals(outB)).toEqual(evals(outA));
  });
});
