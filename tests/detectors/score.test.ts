import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { schema, create } from '../../detectors/score.js';
import { crosses, type Op } from '../../detectors/common.js';
import { collector, ctxOf, refusals, runEvents, viaMsgpack } from '../helpers/detectors.js';
import { validateConfigText } from '../../src/config/load.js';
import type { VEvent } from '../../src/types.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2024, 4, 1, 10, 0, 0);

const cfg = (over: Record<string, unknown> = {}) =>
  schema.parse({
    name: 'risk',
    type: 'score',
    within: '24h',
    value: 70,
    inputs: [
      { detector: 'new-device', weight: 30 },
      { detector: 'ato-sequence', weight: 50 },
      { detector: 'trusted-ip', weight: -40 },
    ],
    ...over,
  });

/** Another detector's signal as the runtime hands it to a score detector (see `signalEvent` in runtime.ts). */
function sig(time: number, detector: string, evidence: string[] = [`${detector}@${time}`], id = `event:${detector}@${time}`): VEvent {
  return { time, id, partition: 0, offset: 0, source: 'signal', payload: { detector, observed: 1, score: 1, evidence } };
}

describe('score detector', () => {
  it('signals when the weighted signals of a key reach the bound, naming each contribution', () => {
    const core = create(cfg(), ctxOf({ keyLabel: 'customer' }));
    const s = runEvents(core, [
      ['C1', sig(T0, 'new-device', ['l1', 'd1'])],
      ['C2', sig(T0 + 1, 'ato-sequence')],
      ['C1', sig(T0 + 2 * HOUR, 'ato-sequence', ['l1', 'p1', 't1'])],
    ]);
    expect(s).toHaveLength(1);
    expect(s[0]).toMatchObject({
      key: 'C1',
      time: T0 + 2 * HOUR,
      identity: `signal:ato-sequence:event:ato-sequence@${T0 + 2 * HOUR}`,
      revision: 0,
      window: { start: T0, end: T0 + 2 * HOUR },
      observed: 80,
      threshold: 70,
      evidence: ['l1', 'd1', 'p1', 't1'],
    });
    expect(s[0].score).toBeCloseTo(80 / 70, 6);
    expect(s[0].explanation).toBe('risk: customer C1 reached risk 80 (threshold 70) from new-device (+30), ato-sequence (+50) within 1d.');
    expect(s[0].details).toEqual({
      within: 24 * HOUR,
      contributions: [
        { detector: 'new-device', weight: 30, time: T0 },
        { detector: 'ato-sequence', weight: 50, time: T0 + 2 * HOUR },
      ],
    });
  });

  it('counts each detector once, and does not signal again while the risk stays at or above the bound', () => {
    const core = create(cfg({ value: 60 }), ctxOf());
    const s = runEvents(core, [
      ['k', sig(0, 'new-device')],
      ['k', sig(1, 'new-device')], // still 30
      ['k', sig(2, 'ato-sequence')], // 80: signal
      ['k', sig(3, 'ato-sequence')],
      ['k', sig(4, 'new-device')],
    ]);
    expect(s.map((x) => [x.time, x.observed])).toEqual([[2, 80]]);
    expect(s[0].details?.contributions).toEqual([
      { detector: 'new-device', weight: 30, time: 1 },
      { detector: 'ato-sequence', weight: 50, time: 2 },
    ]);
  });

  it('re-arms when a contribution expires and the risk falls below, then signals again', () => {
    const core = create(cfg(), ctxOf());
    const s = runEvents(core, [
      ['k', sig(0, 'new-device')],
      ['k', sig(HOUR, 'ato-sequence')], // 80: signal
      ['k', sig(24 * HOUR, 'ato-sequence')], // new-device (t=0) still counts at 24h (inclusive): no new signal
      ['k', sig(24 * HOUR + 1, 'new-device')], // new-device expired (risk 50) just before this one came back: signal
      ['k', sig(30 * HOUR, 'new-device')],
    ]);
    expect(s.map((x) => [x.time, x.observed])).toEqual([
      [HOUR, 80],
      [24 * HOUR + 1, 80],
    ]);
  });

  it('re-arms when a contribution expires even if another input keeps the key alive', () => {
    const c = cfg({ value: 50, inputs: [{ detector: 'a', weight: 30 }, { detector: 'b', weight: 30 }, { detector: 'c', weight: 0 }] });
    const s = runEvents(create(c, ctxOf()), [
      ['k', sig(0, 'a')],
      ['k', sig(10 * HOUR, 'b')], // 60: signal
      ['k', sig(20 * HOUR, 'c')], // still 60
      ['k', sig(30 * HOUR, 'c')], // a expired: 30, re-armed
      ['k', sig(31 * HOUR, 'a')], // 60 again: signal
    ]);
    expect(s.map((x) => x.time)).toEqual([10 * HOUR, 31 * HOUR]);
  });

  it('takes negative weights into account, re-arming when one brings the risk below', () => {
    const core = create(cfg(), ctxOf());
    const s = runEvents(core, [
      ['k', sig(0, 'new-device')],
      ['k', sig(1, 'ato-sequence')], // 80: signal
      ['k', sig(2, 'trusted-ip')], // 40: re-armed
      ['k', sig(3, 'new-device')], // 40
      ['k', sig(25 * HOUR, 'new-device')], // trusted-ip and ato-sequence expired: 30
      ['k', sig(25 * HOUR + 1, 'ato-sequence')], // 80: signal
    ]);
    expect(s.map((x) => [x.time, x.observed])).toEqual([
      [1, 80],
      [25 * HOUR + 1, 80],
    ]);
    // a negative contribution expiring does not signal by itself: the next input does
    const s2 = runEvents(create(cfg(), ctxOf()), [
      ['k', sig(0, 'trusted-ip')],
      ['k', sig(HOUR, 'new-device')],
      ['k', sig(2 * HOUR, 'ato-sequence')], // 40
      ['k', sig(24 * HOUR + 1, 'new-device')], // trusted-ip expired: 80, signal on this input
    ]);
    expect(s2.map((x) => [x.time, x.observed])).toEqual([[24 * HOUR + 1, 80]]);
    expect(s2[0].explanation).toMatch(/from ato-sequence \(\+50\), new-device \(\+30\) within 1d\.$/);
  });

  it('writes negative weights and other comparisons', () => {
    const c = cfg({ op: '<', value: -5, inputs: [{ detector: 'trusted', weight: -10 }, { detector: 'odd', weight: 2 }] });
    const s = runEvents(create(c, ctxOf()), [['k', sig(0, 'odd')], ['k', sig(1, 'trusted')]]);
    expect(s.map((x) => x.explanation)).toEqual(['risk: key k reached risk -8 (threshold: below -5) from odd (+2), trusted (-10) within 1d.']);
  });

  it('ignores signals of detectors it does not take', () => {
    const core = create(cfg({ value: 30 }), ctxOf());
    expect(runEvents(core, [['k', sig(0, 'velocity')], ['k', { ...sig(1, 'x'), payload: { observed: 1 } }]])).toEqual([]);
    expect(core.stats().keys).toBe(0);
  });

  it('bounds the evidence, without duplicates, most recent kept', () => {
    const core = create(cfg(), ctxOf({ evidenceLimit: 3 }));
    const s = runEvents(core, [
      ['k', sig(0, 'new-device', ['e1', 'e2', 'e3', 'e4'])],
      ['k', sig(1, 'ato-sequence', ['e3', 'e5', 'e6'])],
    ]);
    expect(s[0].evidence).toEqual(['e4', 'e5', 'e6']);
    const wide = runEvents(create(cfg(), ctxOf({ evidenceLimit: 10 })), [
      ['k', sig(0, 'new-device', ['e1', 'e2', 'e3', 'e4'])],
      ['k', sig(1, 'ato-sequence', ['e3', 'e5', 'e6'])],
    ]);
    expect(wide[0].evidence).toEqual(['e1', 'e2', 'e3', 'e4', 'e5', 'e6']);
  });

  it('reports the risk after every input, naming the input signal', () => {
    const emit = collector();
    runEvents(create(cfg(), ctxOf()), [['k', sig(0, 'new-device')], ['k', sig(1, 'ato-sequence')], ['k', sig(2, 'trusted-ip')]], emit);
    expect(emit.judgements.map((x) => [x.time, x.observed, x.anomalous, x.ref])).toEqual([
      [0, 30, false, 'event:new-device@0'],
      [1, 80, true, 'event:ato-sequence@1'],
      [2, 40, false, 'event:trusted-ip@2'],
    ]);
  });

  it('forgets keys whose contributions all expired, and caps keys', () => {
    const core = create(cfg(), ctxOf());
    runEvents(core, [['a', sig(0, 'new-device')], ['b', sig(HOUR, 'new-device')]]);
    core.advance(24 * HOUR + 1, collector());
    expect(core.stats()).toEqual({ keys: 1, evicted: 0 });
    core.advance(25 * HOUR + 1, collector());
    expect(core.stats()).toEqual({ keys: 0, evicted: 0 });
    const capped = create(cfg({ maxKeys: 2 }), ctxOf());
    runEvents(capped, [['a', sig(0, 'new-device')], ['b', sig(1, 'new-device')], ['a', sig(2, 'new-device')], ['c', sig(3, 'new-device')], ['b', sig(4, 'ato-sequence')]]);
    expect(capped.stats()).toEqual({ keys: 2, evicted: 2 });
  });

  it('ignores an input older than the window of its key', () => {
    const core = create(cfg(), ctxOf());
    const emit = collector();
    core.add?.('k', sig(30 * HOUR, 'new-device'), emit);
    core.add?.('k', sig(HOUR, 'ato-sequence'), emit); // a late signal: 29h before the key's latest
    core.add?.('k', sig(5 * HOUR, 'ato-sequence'), emit); // 25h before: still out
    core.add?.('k', sig(7 * HOUR, 'ato-sequence'), emit); // 23h before: counts, at the key's time
    expect(emit.signals.map((x) => [x.time, x.observed, x.window])).toEqual([[30 * HOUR, 80, { start: 7 * HOUR, end: 30 * HOUR }]]);
  });

  it('validates its inputs', () => {
    const risk = { name: 'risk', type: 'score', within: '24h', value: 70 };
    expect(refusals(schema, { ...risk, inputs: [{ detector: 'a', weight: 1 }, { detector: 'a', weight: 2 }] })).toEqual([
      ['inputs.1.detector', 'detector "a" is already input 1: list each detector once, with one weight'],
    ]);
    // Its own signals: a reference across detectors, refused with the config's other references.
    const own = validateConfigText(
      'sources: [{ name: in, type: stdin }]\npipelines:\n  - name: p\n    key: k\n    detectors:\n      - { name: risk, type: score, within: 24h, value: 70, inputs: [{ detector: risk, weight: 1 }] }\n',
      'c.yaml',
      {},
    );
    expect(own.problems.map((p) => [p.path, p.message])).toEqual([['pipelines[0].detectors[0].inputs[0].detector', 'detector "risk" cannot refer to itself']]);
    expect(schema.safeParse({ name: 'r', type: 'score', within: '1h', value: 1, inputs: [] }).success).toBe(false);
    expect(schema.safeParse({ name: 'r', type: 'score', within: '1h', value: 1, inputs: [{ detector: 'a' }] }).success).toBe(false);
  });

  it('survives snapshot/restore bit for bit', () => {
    const names = ['new-device', 'ato-sequence', 'trusted-ip', 'other'];
    const evs: Array<[string, VEvent]> = [];
    let x = 99;
    const rand = (n: number) => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return Math.floor((x / 2 ** 32) * n);
    };
    let t = 0;
    for (let i = 0; i < 500; i++) {
      t += rand(4 * HOUR);
      evs.push([`k${rand(3)}`, sig(t, names[rand(4)], [`e${i}`, `e${i - 1}`], `id${i}`)]);
    }
    const c = cfg({ scores: true });
    const wholeEmit = collector();
    const whole = create(c, ctxOf({ evidenceLimit: 4 }));
    const expected = runEvents(whole, evs, wholeEmit);
    expect(expected.length).toBeGreaterThan(5);
    for (const cut of [3, 200, 377]) {
      const first = create(c, ctxOf({ evidenceLimit: 4 }));
      const e1 = collector();
      runEvents(first, evs.slice(0, cut), e1);
      const second = create(c, ctxOf({ evidenceLimit: 4 }));
      second.restore(viaMsgpack(first.snapshot()));
      const e2 = collector();
      runEvents(second, evs.slice(cut), e2);
      expect([...e1.signals, ...e2.signals]).toEqual(expected);
      expect([...e1.judgements, ...e2.judgements]).toEqual(wholeEmit.judgements);
      expect(second.snapshot()).toEqual(whole.snapshot());
    }
  });

  it('restores contributions by detector name after the inputs were reordered or removed', () => {
    const first = create(cfg({ value: 100 }), ctxOf());
    runEvents(first, [['k', sig(0, 'new-device')], ['k', sig(1, 'trusted-ip')], ['k', sig(2, 'ato-sequence')]]);
    const c2 = cfg({ value: 70, inputs: [{ detector: 'ato-sequence', weight: 50 }, { detector: 'new-device', weight: 30 }, { detector: 'other', weight: 1 }] });
    const second = create(c2, ctxOf());
    second.restore(viaMsgpack(first.snapshot()));
    const s = runEvents(second, [['k', sig(3, 'other')]]);
    expect(s.map((x) => [x.observed, x.explanation])).toEqual([[81, 'risk: key k reached risk 81 (threshold 70) from new-device (+30), ato-sequence (+50), other (+1) within 1d.']]);
  });

  it('refuses a garbage snapshot', () => {
    const core = create(cfg(), ctxOf());
    expect(() => core.restore({ nope: 1 })).toThrow(/bad snapshot/);
    expect(() => core.restore({ evicted: 0, keys: [['k', [1, 'yes', []]]] })).toThrow(/bad snapshot/);
    expect(() => core.restore({ evicted: 0, keys: [['k', [1, true, [[3, 1, []]]]]] })).toThrow(/bad snapshot/);
  });

  it('matches a reference that judges the risk at every instant (property)', () => {
    const DETS = ['a', 'b', 'c'];
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('k1', 'k2'), fc.constantFrom(...DETS), fc.integer({ min: 0, max: 6 })), { maxLength: 50 }),
        fc.tuple(fc.integer({ min: -30, max: 60 }), fc.integer({ min: -30, max: 60 }), fc.integer({ min: -30, max: 60 })),
        fc.integer({ min: 1, max: 80 }),
        fc.constantFrom<Op>('>=', '>'),
        fc.integer({ min: 1, max: 15 }),
        (spec, weights, value, op, within) => {
          let t = 0;
          const inputs = spec.map(([key, det, dt], i) => ({ key, det, time: (t += dt), id: `s${i}` }));
          const c = cfg({ within, value, op, inputs: DETS.map((d, i) => ({ detector: d, weight: weights[i] })) });
          const got = runEvents(
            create(c, ctxOf()),
            inputs.map((x) => [x.key, sig(x.time, x.det, [x.id], x.id)]),
          ).map((s) => s.identity);
          // Reference: the risk of a key at instant u counts each detector whose latest signal up to u
          // (among the inputs seen) is in [u - within, u]. A signal is raised on an input when the risk then
          // meets the bound and it did not meet it at some instant since the previous input of the key
          // (or there was none), the instant of that previous input included.
          const want: string[] = [];
          for (const key of ['k1', 'k2']) {
            const mine = inputs.filter((x) => x.key === key);
            const riskAt = (u: number, upTo: number): number => {
              let r = 0;
              DETS.forEach((d, di) => {
                const last = mine.slice(0, upTo).filter((x) => x.det === d).at(-1);
                if (last !== undefined && last.time >= u - within) r += weights[di];
              });
              return r;
            };
            for (let i = 0; i < mine.length; i++) {
              const now = mine[i].time;
              if (!crosses(op, riskAt(now, i + 1), value)) continue;
              let armed = i === 0;
              if (!armed) {
                const prev = mine[i - 1].time;
                const instants = [prev, now];
                // the instants where contributions seen before this input expire
                for (const x of mine.slice(0, i)) if (x.time + within + 1 > prev && x.time + within + 1 <= now) instants.push(x.time + within + 1);
                armed = instants.some((u) => !crosses(op, riskAt(u, i), value));
              }
              if (armed) want.push(`signal:${mine[i].det}:${mine[i].id}`);
            }
          }
          expect([...got].sort()).toEqual(want.sort());
        },
      ),
      { numRuns: 400 },
    );
  });
});
