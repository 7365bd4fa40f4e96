import { describe, it, expect } from 'vitest';
import * as mod from '../../operators/session.js';
import { canon, ev, feed, makeCore, perKey } from '../helpers/windows.js';
import type { WindowCore } from '../../operators/types.js';
import type { VEvent, WindowResult } from '../../src/types.js';

const { schema } = mod;

const core = (cfg: Record<string, unknown>, evidenceLimit = 20): WindowCore => makeCore(mod, cfg, evidenceLimit);

const spans = (rs: WindowResult[]): Array<[number, number, number]> => rs.map((r) => [r.start, r.end, r.count]);

describe('session: schema', () => {
  it('parses durations, grace defaults to 0, gap must be > 0', () => {
    expect(schema.parse({ type: 'session', gap: '30m' })).toEqual({ type: 'session', gap: 1_800_000, grace: 0 });
    expect(() => schema.parse({ type: 'session', gap: 0 })).toThrow();
    expect(() => schema.parse({ type: 'session', gap: 10, lookback: 3 })).toThrow();
  });
});

describe('session: membership (rule 7)', () => {
  it('gap is inclusive: events exactly gap apart are in the same session', () => {
    const c = core({ gap: 10 });
    const out: WindowResult[] = [];
    feed(c, 'a', ev(0, 1, 'x'), -Infinity, out);
    feed(c, 'a', ev(10, 2, 'y'), -Infinity, out);
    feed(c, 'a', ev(20, 4, 'z'), -Infinity, out);
    expect(c.openWindows).toBe(1);
    c.advance(Infinity, out);
    expect(out).toMatchObject([{ key: 'a', start: 0, end: 20, revision: 0, kind: 'final', count: 3, values: { n: 3, s: 7, lo: 1, hi: 4 }, evidence: ['x', 'y', 'z'] }]);
  });

  it('events more than gap apart are in different sessions', () => {
    const c = core({ gap: 10 });
    const out: WindowResult[] = [];
    feed(c, 'a', ev(0), -Infinity, out);
    feed(c, 'a', ev(11), -Infinity, out);
    expect(c.openWindows).toBe(2);
    c.advance(Infinity, out);
    expect(spans(out)).toEqual([
      [0, 0, 1],
      [11, 11, 1],
    ]);
  });

  it('a bridging event merges two sessions into one', () => {
    const c = core({ gap: 10 });
    const out: WindowResult[] = [];
    feed(c, 'a', ev(0, 1), -Infinity, out);
    feed(c, 'a', ev(20, 2), -Infinity, out);
    expect(c.openWindows).toBe(2);
    feed(c, 'a', ev(10, 4), -Infinity, out);
    expect(c.openWindows).toBe(1);
    c.advance(Infinity, out);
    expect(out).toMatchObject([{ start: 0, end: 20, count: 3, values: { n: 3, s: 7, lo: 1, hi: 4 }, revision: 0, kind: 'final' }]);
  });

  it('a bridging event merges three sessions when it touches them (chain)', () => {
    const c = core({ gap: 10 });
    const out: WindowResult[] = [];
    for (const t of [0, 20, 40]) feed(c, 'a', ev(t), -Infinity, out);
    expect(c.openWindows).toBe(3);
    feed(c, 'a', ev(10), -Infinity, out); // joins 0 and 20
    expect(c.openWindows).toBe(2);
    feed(c, 'a', ev(30), -Infinity, out); // joins [0, 20] and 40
    expect(c.openWindows).toBe(1);
    c.advance(Infinity, out);
    expect(spans(out)).toEqual([[0, 40, 5]]);
  });

  it('an event before the first session extends its start', () => {
    const c = core({ gap: 10 });
    const out: WindowResult[] = [];
    feed(c, 'a', ev(50), -Infinity, out);
    feed(c, 'a', ev(40), -Infinity, out);
    feed(c, 'a', ev(5), -Infinity, out);
    c.advance(Infinity, out);
    expect(spans(out)).toEqual([
      [5, 5, 1],
      [40, 50, 2],
    ]);
  });

  it('keys have separate sessions', () => {
    const c = core({ gap: 10 });
    const out: WindowResult[] = [];
    feed(c, 'a', ev(0), -Infinity, out);
    feed(c, 'b', ev(5), -Infinity, out);
    feed(c, 'a', ev(8), -Infinity, out);
    expect(c.keyCount).toBe(2);
    c.advance(Infinity, out);
    expect(out.map((r) => [r.key, r.start, r.end, r.count]).sort()).toEqual([
      ['a', 0, 8, 2],
      ['b', 5, 5, 1],
    ]);
  });
});

describe('session: firing (rule 7)', () => {
  it('fires when W > last + gap, not at W == last + gap', () => {
    const c = core({ gap: 10 });
    const out: WindowResult[] = [];
    feed(c, 'a', ev(0), -Infinity, out);
    feed(c, 'a', ev(5), -Infinity, out);
    c.advance(15, out);
    expect(out).toEqual([]);
    c.advance(16, out);
    expect(out).toMatchObject([{ start: 0, end: 5, count: 2, revision: 0, kind: 'final' }]);
    c.advance(100, out);
    expect(out).toHaveLength(1);
    expect(c.openWindows).toBe(0);
    expect(c.keyCount).toBe(0);
  });

  it('an event that extends a session postpones its firing', () => {
    const c = core({ gap: 10 });
    const out: WindowResult[] = [];
    feed(c, 'a', ev(0), -Infinity, out);
    feed(c, 'a', ev(9), 5, out); // timer for 0 + 10 is now stale
    c.advance(11, out);
    expect(out).toEqual([]);
    c.advance(19, out);
    expect(out).toEqual([]);
    c.advance(20, out);
    expect(spans(out)).toEqual([[0, 9, 2]]);
  });

  it('results of one key come out in order of session end', () => {
    const c = core({ gap: 5 });
    const out: WindowResult[] = [];
    for (const t of [40, 0, 20, 62, 3, 21, 80]) feed(c, 'a', ev(t), -Infinity, out);
    feed(c, 'b', ev(30), -Infinity, out);
    c.advance(30, out);
    c.advance(Infinity, out);
    const a = out.filter((r) => r.key === 'a');
    expect(spans(a)).toEqual([
      [0, 3, 2],
      [20, 21, 2],
      [40, 40, 1],
      [62, 62, 1],
      [80, 80, 1],
    ]);
  });

  it('a fired session is final: an on-time event within gap of it starts a new session after it', () => {
    const c = core({ gap: 10 });
    const out: WindowResult[] = [];
    feed(c, 'a', ev(0), -Infinity, out);
    feed(c, 'a', ev(4), -Infinity, out);
    c.advance(15, out); // W > 4 + 10: [0, 4] fires
    expect(spans(out)).toEqual([[0, 4, 2]]);
    // 8 is within gap of the fired session, and not late (W = 15 <= 8 + 10): a session of its own.
    expect(c.add('a', ev(8), out)).toBe(true);
    expect(out).toHaveLength(1);
    c.advance(Infinity, out);
    expect(spans(out)).toEqual([
      [0, 4, 2],
      [8, 8, 1],
    ]);
    expect(out.every((r) => r.revision === 0 && r.kind === 'final')).toBe(true);
  });

  it('end of input fires every session', () => {
    const c = core({ gap: 1000, grace: 500 });
    const out: WindowResult[] = [];
    for (let i = 0; i < 30; i++) feed(c, `k${i % 5}`, ev(i * 700), -Infinity, out);
    c.advance(Infinity, out);
    expect(out.reduce((n, r) => n + r.count, 0)).toBe(30);
    expect(out.every((r) => r.revision === 0)).toBe(true);
    expect(c.openWindows).toBe(0);
  });
});

describe('session: lateness (rule 9)', () => {
  it('grace 0: late exactly when it joins no open session and W > t + gap', () => {
    const c = core({ gap: 10 });
    const out: WindowResult[] = [];
    feed(c, 'a', ev(100), -Infinity, out);
    c.advance(15, out);
    // Key b has no session: alone, [5, 5] would be closed when W > 15.
    expect(c.add('b', ev(5, 1), out)).toBe(true);
    // Key c has no session: alone, [4, 4] closed since W > 14.
    expect(c.add('c', ev(4, 1), out)).toBe(false);
    // Far behind W, but it can join b's open session [5, 5] (5 - 10 <= -4).
    expect(c.add('b', ev(-4, 1), out)).toBe(true);
    expect(c.add('b', ev(-6, 1), out)).toBe(true); // joins [-4, 5] in turn
    expect(c.add('c', ev(-6, 1), out)).toBe(false);
    expect(out).toEqual([]);
    // t = 95 behind W is fine: it joins the open session of a.
    c.advance(90, out);
    expect(out).toMatchObject([{ key: 'b', start: -6, end: 5, count: 3 }]);
    expect(c.add('a', ev(95), out)).toBe(true);
    expect(c.add('a', ev(70), out)).toBe(false); // 70 + 10 < 90, touches nothing open
    c.advance(Infinity, out);
    expect(spans(out)).toEqual([
      [-6, 5, 3],
      [95, 100, 2],
    ]);
  });

  it('a fired session (grace 0) is closed: a late event never changes it', () => {
    const c = core({ gap: 10 });
    const out: WindowResult[] = [];
    feed(c, 'a', ev(0), -Infinity, out);
    c.advance(30, out);
    expect(spans(out)).toEqual([[0, 0, 1]]);
    expect(c.add('a', ev(5), out)).toBe(false);
    expect(c.add('a', ev(20), out)).toBe(true); // alone: closes when W > 30
    c.advance(Infinity, out);
    expect(spans(out)).toEqual([
      [0, 0, 1],
      [20, 20, 1],
    ]);
  });

  it('grace: final, then updates with revision + 1, closed when W > last + gap + grace', () => {
    const c = core({ gap: 10, grace: 5 });
    const out: WindowResult[] = [];
    feed(c, 'a', ev(0, 1, 'x'), -Infinity, out);
    c.advance(11, out);
    expect(out).toMatchObject([{ start: 0, end: 0, revision: 0, kind: 'final', count: 1 }]);
    expect(c.add('a', ev(3, 2, 'y'), out)).toBe(true);
    expect(out[1]).toMatchObject({ start: 0, end: 3, revision: 1, kind: 'update', count: 2, values: { s: 3 }, evidence: ['x', 'y'] });
    c.advance(18, out); // last + gap + grace = 18: still open
    expect(c.add('a', ev(2, 4), out)).toBe(true);
    expect(out[2]).toMatchObject({ start: 0, end: 3, revision: 2, kind: 'update', count: 3, values: { s: 7 } });
    c.advance(19, out);
    expect(c.openWindows).toBe(0);
    // Closed; alone, [3, 3] would have closed at W > 18.
    expect(c.add('a', ev(3, 8), out)).toBe(false);
    expect(out).toHaveLength(3);
    c.advance(Infinity, out);
    expect(out).toHaveLength(3);
  });

  it('grace: a late event alone within grace forms a session that is emitted at once', () => {
    const c = core({ gap: 10, grace: 5 });
    const out: WindowResult[] = [];
    c.advance(40, out);
    expect(c.add('a', ev(26), out)).toBe(true); // 40 > 36 but not > 41
    expect(out).toMatchObject([{ start: 26, end: 26, revision: 0, kind: 'final', count: 1 }]);
    expect(c.add('a', ev(24), out)).toBe(true); // joins the open (fired) session
    expect(out[1]).toMatchObject({ start: 24, end: 26, revision: 1, kind: 'update', count: 2 });
    expect(c.add('b', ev(24), out)).toBe(false); // alone: 40 > 24 + 15
  });

  it('grace: an event bridging a fired and an unfired session re-emits the merged session as an update', () => {
    const c = core({ gap: 10, grace: 20 });
    const out: WindowResult[] = [];
    feed(c, 'a', ev(0, 1), -Infinity, out);
    feed(c, 'a', ev(20, 2), -Infinity, out);
    c.advance(15, out);
    expect(spans(out)).toEqual([[0, 0, 1]]);
    expect(c.add('a', ev(10, 4), out)).toBe(true); // touches [0, 0] (fired, in grace) and [20, 20]
    expect(out).toHaveLength(2);
    expect(out[1]).toMatchObject({ start: 0, end: 20, count: 3, revision: 1, kind: 'update', values: { s: 7 } });
    expect(c.openWindows).toBe(1);
  });
});

describe('session: evidence', () => {
  it('at most evidenceLimit ids, also across a merge', () => {
    const c = core({ gap: 10 }, 3);
    const out: WindowResult[] = [];
    feed(c, 'a', ev(0, 1, 'i1'), -Infinity, out);
    feed(c, 'a', ev(1, 1, 'i2'), -Infinity, out);
    feed(c, 'a', ev(20, 1, 'i3'), -Infinity, out);
    feed(c, 'a', ev(21, 1, 'i4'), -Infinity, out);
    feed(c, 'a', ev(11, 1, 'i5'), -Infinity, out); // bridges [0, 1] and [20, 21]
    c.advance(Infinity, out);
    expect(out).toHaveLength(1);
    expect(out[0].count).toBe(5);
    expect(out[0].evidence).toEqual(['i1', 'i2', 'i3']);
  });

  // WindowResult.evidence: on a session merge, the ids of the session that starts first come first.
  it('evidence of merged sessions lists the earlier session first, then the later one, then the bridging event', () => {
    const c = core({ gap: 10 }, 20);
    const out: WindowResult[] = [];
    feed(c, 'a', ev(20, 1, 'first'), -Infinity, out);
    feed(c, 'a', ev(0, 1, 'second'), -Infinity, out);
    feed(c, 'a', ev(10, 1, 'third'), -Infinity, out);
    c.advance(Infinity, out);
    expect(out).toHaveLength(1);
    expect(out[0].evidence).toEqual(['second', 'first', 'third']);
  });
});

describe('session: snapshot / restore', () => {
  for (const grace of [0, 12]) {
    it(`restored core gives identical subsequent output and snapshot (grace ${grace})`, () => {
      const times = [1, 5, 30, 12, 3, 25, 14, 50, 31, 22, 40, 38, 80, 55, 47, 61, 59, 70, 100];
      const events: Array<[string, VEvent, number]> = times.map((t, i) => [`k${i % 3}`, ev(t, i), Math.max(...times.slice(0, i + 1)) - 15]);
      for (let cut = 0; cut <= events.length; cut++) {
        const a = core({ gap: 6, grace });
        const ignored: WindowResult[] = [];
        for (const [k, e, w] of events.slice(0, cut)) feed(a, k, e, w, ignored);
        const b = core({ gap: 6, grace });
        b.restore(structuredClone(a.snapshot()));
        expect(b.snapshot()).toEqual(a.snapshot());
        expect(b.openWindows).toBe(a.openWindows);
        expect(b.keyCount).toBe(a.keyCount);
        const outA: WindowResult[] = [];
        const outB: WindowResult[] = [];
        for (const [k, e, w] of events.slice(cut)) {
          expect(feed(b, k, e, w, outB)).toBe(feed(a, k, e, w, outA));
          expect(b.snapshot()).toEqual(a.snapshot());
        }
        const late = ev(78, 100, 'late');
        expect(feed(b, 'k1', late, 90, outB)).toBe(feed(a, 'k1', late, 90, outA));
        a.advance(Infinity, outA);
        b.advance(Infinity, outB);
        expect(canon(outB)).toEqual(canon(outA));
        expect(perKey(outB)).toEqual(perKey(outA));
        expect(b.snapshot()).toEqual(a.snapshot());
      }
    });
  }
});
