import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { schema, create, SequenceCore } from '../../detectors/sequence.js';
import { ctxOf, ev, runEvents, viaMsgpack } from '../helpers/detectors.js';
import type { VEvent } from '../../src/types.js';

const MIN = 60_000;
const T0 = Date.UTC(2024, 4, 1, 10, 0, 0);

const ato = (over: Record<string, unknown> = {}) =>
  schema.parse({
    name: 'ato-sequence',
    type: 'sequence',
    within: '30m',
    steps: [
      { name: 'login', match: { type: 'login', new_device: true } },
      { name: 'password_change', match: { type: 'password_change' } },
      { name: 'transfer', match: { type: 'transfer', amount: { gte: 1000 } } },
    ],
    ...over,
  });

/** Steps named after event types: `abc` = a, then b, then c. */
const seq = (types: string, over: Record<string, unknown> = {}) =>
  schema.parse({ name: 'seq', type: 'sequence', within: 10 * MIN, steps: [...types].map((t) => ({ name: t, match: { type: t } })), ...over });

/** Keyed events of types at times: [key, type, minute]. */
function events(spec: Array<[string, string, number]>): Array<[string, VEvent]> {
  return spec.map(([k, type, m], i) => [k, ev(m * MIN, { type }, `${type}${i}`)]);
}

describe('sequence detector', () => {
  it('signals an account takeover sequence once, with each step in the evidence and the explanation', () => {
    const core = create(ato(), ctxOf({ keyLabel: 'customer' }));
    const s = runEvents(core, [
      ['C1', ev(T0 + 3_000, { type: 'login', new_device: true }, 'l1')],
      ['C2', ev(T0 + 10_000, { type: 'login', new_device: true }, 'x1')],
      ['C1', ev(T0 + 60_000, { type: 'page_view' }, 'v1')],
      ['C1', ev(T0 + 250_000, { type: 'password_change' }, 'p1')],
      ['C1', ev(T0 + 300_000, { type: 'transfer', amount: 20 }, 't0')],
      ['C2', ev(T0 + 400_000, { type: 'transfer', amount: 5000 }, 'x2')],
      ['C1', ev(T0 + 595_000, { type: 'transfer', amount: 4820 }, 't1')],
      ['C1', ev(T0 + 600_000, { type: 'transfer', amount: 4820 }, 't2')],
    ]);
    expect(s).toHaveLength(1);
    expect(s[0]).toMatchObject({
      key: 'C1',
      time: T0 + 595_000,
      identity: 'event:t1',
      revision: 0,
      window: { start: T0 + 3_000, end: T0 + 595_000 },
      observed: 3,
      threshold: 3,
      score: 1,
      evidence: ['l1', 'p1', 't1'],
    });
    expect(s[0].explanation).toBe(
      'ato-sequence: customer C1 did login (2024-05-01T10:00:03Z), then password_change (10:04:10Z), then transfer (10:09:55Z) within 30m.',
    );
    expect(s[0].details).toEqual({
      steps: ['login', 'password_change', 'transfer'],
      times: [T0 + 3_000, T0 + 250_000, T0 + 595_000],
      within: 30 * MIN,
      strict: false,
    });
  });

  it('writes the date of steps on another day than the first', () => {
    const c = seq('ab', { within: '1d' });
    const late = Date.UTC(2024, 4, 1, 23, 59, 0, 500);
    const s = runEvents(create(c, ctxOf()), [
      ['k', ev(late, { type: 'a' })],
      ['k', ev(late + 2 * MIN, { type: 'b' })],
    ]);
    expect(s[0].explanation).toBe('seq: key k did a (2024-05-01T23:59:00.500Z), then b (2024-05-02T00:01:00.500Z) within 1d.');
  });

  it('does not signal steps out of order, on another key, or incomplete', () => {
    const core = create(seq('abc'), ctxOf());
    const s = runEvents(
      core,
      events([
        ['k', 'b', 0],
        ['k', 'a', 1],
        ['k', 'c', 2],
        ['j', 'b', 3],
        ['j', 'c', 4],
        ['k', 'c', 5],
        ['j', 'a', 6],
      ]),
    );
    expect(s).toEqual([]);
  });

  it('is complete when the last step is at most `within` after the first; older partial matches time out', () => {
    const done = runEvents(create(seq('ab'), ctxOf()), events([['k', 'a', 0], ['k', 'b', 10]]));
    expect(done).toHaveLength(1);
    const core = create(seq('ab'), ctxOf()) as SequenceCore;
    const late = runEvents(core, [
      ['k', ev(0, { type: 'a' })],
      ['k', ev(10 * MIN + 1, { type: 'b' })],
    ]);
    expect(late).toEqual([]);
    expect(core.timedOut).toBe(1);
    expect(core.stats().keys).toBe(0);
  });

  it('drops expired partial matches on advance, counting them, and keys with nothing left', () => {
    const core = create(seq('abc'), ctxOf()) as SequenceCore;
    runEvents(core, events([['k', 'a', 0], ['j', 'a', 1], ['k', 'b', 2], ['k', 'a', 3]]));
    expect(core.partials).toBe(3);
    expect(core.stats().keys).toBe(2);
    core.advance(11 * MIN + 1); // j's only partial match started at 1m: dead
    expect(core.stats().keys).toBe(1);
    expect(core.timedOut).toBe(1);
    core.advance(13 * MIN + 1); // k's most recent one started at 3m: all dead
    expect(core.stats().keys).toBe(0);
    expect(core.timedOut).toBe(3);
  });

  it('uses a distinct event for each step', () => {
    const c = schema.parse({ name: 'two-logins', type: 'sequence', within: '10m', steps: [{ name: 'login', match: { type: 'login' } }, { name: 'login', match: { type: 'login' } }] });
    expect(runEvents(create(c, ctxOf()), events([['k', 'login', 0]]))).toEqual([]);
    const s = runEvents(create(c, ctxOf()), events([['k', 'login', 0], ['k', 'login', 1], ['k', 'login', 2], ['k', 'login', 3]]));
    // the second completes the first match; the third starts a new one, which the fourth completes
    expect(s.map((x) => x.evidence)).toEqual([
      ['login0', 'login1'],
      ['login2', 'login3'],
    ]);
  });

  it('lets one event advance several partial matches, and reports the tightest match', () => {
    const c = schema.parse({
      name: 'seq',
      type: 'sequence',
      within: '10m',
      steps: [
        { name: 'a', match: { type: 'a' } },
        { name: 'ab', match: { type: ['a', 'b'] } },
        { name: 'c', match: { type: 'c' } },
      ],
    });
    // a0 starts [a0]; a1 advances it to [a0 a1] and starts [a1]; b2 advances [a1] to [a1 b2], which
    // replaces [a0 a1] (same step, later start); c3 completes it.
    const core = create(c, ctxOf()) as SequenceCore;
    const s = runEvents(core, events([['k', 'a', 0], ['k', 'a', 1], ['k', 'b', 2], ['k', 'c', 3]]));
    expect(s.map((x) => x.evidence)).toEqual([['a1', 'b2', 'c3']]);
    expect(core.partials).toBe(0);
  });

  it('after a completion drops the key\'s other partial matches: a new occurrence starts after it', () => {
    const core = create(seq('ab'), ctxOf()) as SequenceCore;
    const s = runEvents(core, events([['k', 'a', 0], ['k', 'a', 1], ['k', 'b', 2], ['k', 'b', 3], ['k', 'a', 4], ['k', 'b', 5]]));
    expect(s.map((x) => [x.time, x.evidence])).toEqual([
      [2 * MIN, ['a1', 'b2']],
      [5 * MIN, ['a4', 'b5']],
    ]);
    expect(core.stats().keys).toBe(0);
    expect(core.timedOut).toBe(0);
  });

  it('strict mode: another event of the key between steps breaks the partial match', () => {
    const spec: Array<[string, string, number]> = [['k', 'a', 0], ['k', 'x', 1], ['k', 'b', 2]];
    expect(runEvents(create(seq('ab'), ctxOf()), events(spec))).toHaveLength(1);
    const strict = create(seq('ab', { strict: true }), ctxOf()) as SequenceCore;
    expect(runEvents(strict, events(spec))).toEqual([]);
    expect(strict.broken).toBe(1);
    expect(strict.stats().keys).toBe(0);
    // consecutive steps match; events of other keys do not break anything
    expect(runEvents(create(seq('ab', { strict: true }), ctxOf()), events([['k', 'a', 0], ['j', 'x', 1], ['k', 'b', 2]]))).toHaveLength(1);
    // a repeated first step restarts the match
    const s = runEvents(create(seq('abc', { strict: true }), ctxOf()), events([['k', 'a', 0], ['k', 'a', 1], ['k', 'b', 2], ['k', 'c', 3]]));
    expect(s.map((x) => x.evidence)).toEqual([['a1', 'b2', 'c3']]);
  });

  it('strict mode only counts events passing `match`; `match` filters in any mode', () => {
    const spec: Array<[string, VEvent]> = [
      ['k', ev(0, { type: 'a', channel: 'web' }, 'a0')],
      ['k', ev(1, { type: 'x', channel: 'batch' }, 'x1')],
      ['k', ev(2, { type: 'b', channel: 'batch' }, 'b2')],
      ['k', ev(3, { type: 'b', channel: 'web' }, 'b3')],
    ];
    const s = runEvents(create(seq('ab', { strict: true, match: { channel: 'web' } }), ctxOf()), spec);
    expect(s.map((x) => x.evidence)).toEqual([['a0', 'b3']]);
  });

  it('keeps at most maxPartials partial matches per key, dropping the oldest', () => {
    const core = create(seq('abcd', { maxPartials: 1 }), ctxOf()) as SequenceCore;
    const s = runEvents(core, events([['k', 'a', 0], ['k', 'b', 1], ['k', 'a', 2], ['k', 'c', 3], ['k', 'b', 4], ['k', 'c', 5], ['k', 'd', 6]]));
    expect(core.dropped).toBe(1);
    expect(s.map((x) => x.evidence)).toEqual([['a2', 'b4', 'c5', 'd6']]);
    // with room for both, the older (further advanced) one completes first
    const spec: Array<[string, string, number]> = [['k', 'a', 0], ['k', 'b', 1], ['k', 'a', 2], ['k', 'c', 3], ['k', 'd', 4]];
    const roomy = create(seq('abcd', { maxPartials: 3 }), ctxOf()) as SequenceCore;
    expect(runEvents(roomy, events(spec)).map((x) => x.evidence)).toEqual([['a0', 'b1', 'c3', 'd4']]);
    expect(roomy.dropped).toBe(0);
    const tight = create(seq('abcd', { maxPartials: 1 }), ctxOf()) as SequenceCore;
    expect(runEvents(tight, events(spec))).toEqual([]);
    expect(tight.dropped).toBe(1);
  });

  it('caps keys, evicting the least recently active', () => {
    const core = create(seq('ab', { maxKeys: 2 }), ctxOf());
    const s = runEvents(core, events([['a', 'a', 0], ['b', 'a', 1], ['a', 'a', 2], ['c', 'a', 3], ['b', 'b', 4], ['a', 'b', 5]]));
    expect(core.stats()).toEqual({ keys: 1, evicted: 1 });
    expect(s.map((x) => x.key)).toEqual(['a']);
  });

  it('needs at least two steps', () => {
    expect(seqSafe([{ name: 'a', match: { type: 'a' } }]).success).toBe(false);
    expect(seqSafe([{ name: 'a', match: { type: 'a' } }]).error?.issues.map((i) => [i.path.join('.'), i.code])).toEqual([['steps', 'too_small']]);
  });

  it('survives snapshot/restore bit for bit, counters included', () => {
    const types = ['a', 'b', 'c', 'x'];
    const evs: Array<[string, VEvent]> = [];
    let t = 0;
    let x = 12345;
    const rand = (n: number) => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return Math.floor((x / 2 ** 32) * n);
    };
    for (let i = 0; i < 400; i++) {
      t += rand(40_000);
      evs.push([`k${rand(3)}`, ev(t, { type: types[rand(4)] }, `e${i}`)]);
    }
    for (const c of [seq('abc', { within: '5m' }), seq('abc', { within: '5m', strict: true }), seq('aabc', { within: '8m', maxPartials: 2 })]) {
      const whole = create(c, ctxOf()) as SequenceCore;
      const expected = runEvents(whole, evs);
      expect(expected.length, JSON.stringify(c)).toBeGreaterThan(3);
      // each configuration exercises its counter: timeouts, broken (strict), dropped (cap)
      expect(c.strict ? whole.broken : c.maxPartials === 2 ? whole.dropped : whole.timedOut).toBeGreaterThan(0);
      for (const cut of [1, 150, 233]) {
        const first = create(c, ctxOf());
        const head = runEvents(first, evs.slice(0, cut));
        const second = create(c, ctxOf()) as SequenceCore;
        second.restore(viaMsgpack(first.snapshot()));
        const tail = runEvents(second, evs.slice(cut));
        expect([...head, ...tail]).toEqual(expected);
        expect(second.snapshot()).toEqual(whole.snapshot());
        expect([second.timedOut, second.dropped, second.broken]).toEqual([whole.timedOut, whole.dropped, whole.broken]);
      }
    }
  });

  it('refuses a garbage snapshot', () => {
    const core = create(seq('ab'), ctxOf());
    expect(() => core.restore({ nope: 1 })).toThrow(/bad snapshot/);
    expect(() => core.restore(null)).toThrow(/bad snapshot/);
    expect(() => core.restore({ keys: { evicted: 0, keys: [['k', [[[1], ['a', 'b']]]]] }, timedOut: 0, dropped: 0, broken: 0 })).toThrow(/bad snapshot/);
    expect(() => core.restore({ keys: { evicted: 0, keys: [['k', 5]] }, timedOut: 0, dropped: 0, broken: 0 })).toThrow(/bad snapshot/);
  });

  // --- against a brute-force reference ---

  type Ev = { key: string; type: string; time: number; id: string };

  /** Whether steps[k..] can be matched by events of `evs` at indices in (from, to], the last one at `to`. */
  function fits(steps: string[][], evs: Ev[], k: number, from: number, to: number): boolean {
    if (k === steps.length - 1) return to > from && steps[k].includes(evs[to].type);
    for (let i = from + 1; i < to; i++) if (steps[k].includes(evs[i].type) && fits(steps, evs, k + 1, i, to)) return true;
    return false;
  }

  /**
   * Per key, scanning forward: signal at the first event ending a match (within the bound) whose events all
   * come after the previous signal's event; strict: the match's events are consecutive among the key's.
   */
  function reference(steps: string[][], within: number, strict: boolean, all: Ev[]): string[] {
    const out: Array<[number, string]> = [];
    const keys = [...new Set(all.map((e) => e.key))];
    for (const key of keys) {
      const evs = all.map((e, i) => ({ ...e, i })).filter((e) => e.key === key);
      let cut = -1;
      for (let j = 0; j < evs.length; j++) {
        let found = false;
        if (strict) {
          const s = j - steps.length + 1;
          found = s > cut && evs[j].time - evs[s].time <= within && steps.every((st, k) => st.includes(evs[s + k].type));
        } else {
          for (let s = cut + 1; s < j && !found; s++) {
            if (evs[j].time - evs[s].time <= within && steps[0].includes(evs[s].type) && fits(steps, evs, 1, s, j)) found = true;
          }
        }
        if (found) {
          out.push([evs[j].i, evs[j].id]);
          cut = j;
        }
      }
    }
    return out.sort((a, b) => a[0] - b[0]).map(([, id]) => id);
  }

  const TYPES = ['a', 'b', 'c', 'x'];
  const stepsArb = fc.array(fc.subarray(['a', 'b', 'c'], { minLength: 1 }), { minLength: 2, maxLength: 4 });
  const eventsArb = fc.array(fc.tuple(fc.constantFrom('k1', 'k2'), fc.constantFrom(...TYPES), fc.integer({ min: 0, max: 4 })), { maxLength: 40 });

  for (const strict of [false, true]) {
    it(`signals exactly where a brute-force search finds a match (${strict ? 'strict' : 'non-strict'}, property)`, () => {
      fc.assert(
        fc.property(stepsArb, eventsArb, fc.integer({ min: 1, max: 8 }), (steps, spec, within) => {
          let t = 0;
          const all: Ev[] = spec.map(([key, type, dt], i) => ({ key, type, time: (t += dt), id: `x${i}` }));
          const c = schema.parse({ name: 'seq', type: 'sequence', within, strict, steps: steps.map((types, k) => ({ name: `s${k}`, match: { type: types } })) });
          const core = create(c, ctxOf());
          const got = runEvents(
            core,
            all.map((e) => [e.key, ev(e.time, { type: e.type }, e.id)]),
          );
          expect(got.map((s) => s.identity)).toEqual(reference(steps, within, strict, all).map((id) => `event:${id}`));
          // each signal's evidence is itself a valid match of its key, ending at the signal's event
          const byId = new Map(all.map((e, i) => [e.id, { ...e, i }]));
          for (const s of got) {
            const m = s.evidence.map((id) => byId.get(id) as Ev & { i: number });
            expect(m.every((e) => e.key === s.key)).toBe(true);
            expect(m.every((e, k) => steps[k].includes(e.type) && (k === 0 || e.i > m[k - 1].i))).toBe(true);
            expect(m[m.length - 1].time - m[0].time).toBeLessThanOrEqual(within);
            expect(`event:${m[m.length - 1].id}`).toBe(s.identity);
          }
        }),
        { numRuns: 400 },
      );
    });
  }
});

function seqSafe(steps: unknown) {
  return schema.safeParse({ name: 'seq', type: 'sequence', within: '1m', steps });
}
