import { describe, it, expect } from 'vitest';
import { IntervalJoinCore, LEFT, RIGHT, joinSchema, type JoinConfig, type Side } from '../../operators/interval-join.js';
import type { VEvent } from '../../src/types.js';
import { mulberry32 as rng } from '../helpers/rng.js';

const SRC = ['logins', 'payments'];

function cfg(extra: Record<string, unknown> = {}): JoinConfig {
  return joinSchema.parse({ left: { sources: ['logins'], as: 'login' }, right: { sources: ['payments'], as: 'payment' }, between: { lower: 0, upper: 10 }, ...extra });
}

let offset = 0;
function ev(side: Side, time: number, payload: Record<string, unknown> = {}, id?: string): VEvent {
  const o = offset++;
  return { time, id: id ?? `${side === LEFT ? 'l' : 'r'}${time}`, partition: side, offset: o, source: SRC[side], payload: { user: 'u', ...payload } };
}

/** Feed rows (advancing W to each given watermark first), then end of input. */
function run(c: JoinConfig, rows: Array<{ side: Side; e: VEvent; w?: number }>, core = new IntervalJoinCore(c, ['user'])) {
  const out: VEvent[] = [];
  const dropped: VEvent[] = [];
  const late: VEvent[] = [];
  for (const r of rows) {
    if (r.w !== undefined) core.advance(r.w, out);
    if (!core.add(r.side, String(r.e.payload.user), r.e, out, dropped)) late.push(r.e);
  }
  core.advance(Infinity, out);
  return { out, dropped, late, core };
}

const ids = (out: VEvent[]) => out.map((e) => e.id).sort();

describe('interval join: schema', () => {
  it('parses signed durations and refuses bad configs', () => {
    const c = joinSchema.parse({ left: { where: { type: 'login' }, as: 'l' }, right: { where: { type: 'pay' }, as: 'r' }, between: { lower: '-5m', upper: '10m' } });
    expect(c.between).toEqual({ lower: -300_000, upper: 600_000 });
    expect(c.type).toBe('inner');
    expect(c.maxPerKey).toBe(1000);
    const bad = (x: Record<string, unknown>) => joinSchema.safeParse({ left: { sources: ['a'], as: 'l' }, right: { sources: ['b'], as: 'r' }, between: { lower: 0, upper: 10 }, ...x });
    expect(bad({ right: { sources: ['b'], as: 'l' } }).error?.message).toMatch(/different names/);
    expect(bad({ between: { lower: 10, upper: 5 } }).error?.message).toMatch(/at least lower/);
    expect(bad({ between: { lower: 0, upper: '31d' } }).error?.message).toMatch(/30 days/);
    expect(bad({ between: { lower: 'soon', upper: 5 } }).error?.message).toMatch(/invalid duration/);
    expect(bad({ left: { as: 'l' } }).error?.message).toMatch(/needs `sources` or `where`/);
    expect(bad({ differ: ['d'], equal: ['d'] }).error?.message).toMatch(/both in differ and in equal/);
    expect(bad({}).success).toBe(true);
  });
});

describe('interval join: core', () => {
  it('both ends of the interval are inclusive; just outside is not joined', () => {
    const c = cfg({ between: { lower: 2, upper: 10 } });
    const { out } = run(c, [
      { side: LEFT, e: ev(LEFT, 100) },
      { side: RIGHT, e: ev(RIGHT, 101) }, // 1: below lower
      { side: RIGHT, e: ev(RIGHT, 102) }, // exactly lower
      { side: RIGHT, e: ev(RIGHT, 110) }, // exactly upper
      { side: RIGHT, e: ev(RIGHT, 111) }, // just above upper
    ]);
    expect(ids(out)).toEqual(['l100+r102', 'l100+r110']);
    const pair = out.find((e) => e.id === 'l100+r110')!;
    expect(pair.time).toBe(110);
    expect(pair.source).toBe('payments');
    expect(pair.payload).toEqual({ user: 'u', 'login.user': 'u', 'payment.user': 'u', 'payment.matched': true });
  });

  it('right before left arrives, and negative lower', () => {
    const c = cfg({ between: { lower: -5, upper: -1 } });
    const { out } = run(c, [
      { side: RIGHT, e: ev(RIGHT, 95) },
      { side: RIGHT, e: ev(RIGHT, 94) },
      { side: RIGHT, e: ev(RIGHT, 99) },
      { side: RIGHT, e: ev(RIGHT, 100) },
      { side: LEFT, e: ev(LEFT, 100) },
    ]);
    expect(ids(out)).toEqual(['l100+r95', 'l100+r99']);
    expect(out.every((e) => e.time === 100)).toBe(true);
  });

  it('inner drops unmatched left rows; left emits them alone at left.time + upper when the watermark passes it', () => {
    const rows = () => [
      { side: LEFT, e: ev(LEFT, 100, { amount: 1 }) },
      { side: LEFT, e: ev(LEFT, 200) },
      { side: RIGHT, e: ev(RIGHT, 205, { amount: 7 }) },
    ] as Array<{ side: Side; e: VEvent }>;
    expect(ids(run(cfg(), rows()).out)).toEqual(['l200+r205']);
    const c = cfg({ type: 'left' });
    const core = new IntervalJoinCore(c, ['user']);
    const out: VEvent[] = [];
    for (const r of rows()) core.add(r.side, 'u', r.e, out, []);
    expect(ids(out)).toEqual(['l200+r205']);
    core.advance(110, out); // W = 110 = 100 + upper: a right row at 110 could still come
    expect(out).toHaveLength(1);
    core.advance(111, out);
    expect(out).toHaveLength(2);
    expect(out[1]).toMatchObject({ id: 'l100+', time: 110, source: 'logins', payload: { user: 'u', 'login.user': 'u', 'login.amount': 1, 'payment.matched': false } });
    core.advance(Infinity, out);
    expect(ids(out)).toEqual(['l100+', 'l200+r205']); // l200 matched: never emitted alone
    expect(core.size).toBe(0);
    expect(core.counts).toEqual({ joined: 1, unmatched: 1, dropped: 0 });
  });

  it('expires rows once the watermark passes them, and refuses late rows', () => {
    const c = cfg({ between: { lower: -3, upper: 10 } });
    const core = new IntervalJoinCore(c, ['user']);
    const out: VEvent[] = [];
    core.add(LEFT, 'u', ev(LEFT, 100), out, []);
    core.add(RIGHT, 'u', ev(RIGHT, 100), out, []);
    expect(core.size).toBe(2);
    core.advance(103, out); // right 100 kept until W > 100 - (-3) = 103
    expect(core.size).toBe(2);
    core.advance(104, out);
    expect(core.size).toBe(1);
    core.advance(110, out);
    expect(core.size).toBe(1);
    core.advance(111, out);
    expect(core.size).toBe(0);
    expect(core.keyCount).toBe(0);
    expect(core.add(LEFT, 'u', ev(LEFT, 110), out, [])).toBe(false); // 110 < W
    expect(core.add(RIGHT, 'u', ev(RIGHT, 111), out, [])).toBe(true); // 111 = W: not late
    expect(ids(out)).toEqual(['l100+r100']);
  });

  it('differ and equal: pairs must differ (or agree) on those fields, both present', () => {
    const c = cfg({ differ: ['device'], equal: ['country'] });
    const { out } = run(c, [
      { side: LEFT, e: ev(LEFT, 100, { device: 'a', country: 'FR' }) },
      { side: RIGHT, e: ev(RIGHT, 101, { device: 'a', country: 'FR' }) }, // same device
      { side: RIGHT, e: ev(RIGHT, 102, { device: 'b', country: 'FR' }) }, // joined
      { side: RIGHT, e: ev(RIGHT, 103, { device: 'b', country: 'DE' }) }, // other country
      { side: RIGHT, e: ev(RIGHT, 104, { country: 'FR' }) }, // device unknown
      { side: RIGHT, e: ev(RIGHT, 105, { device: 'c' }) }, // country unknown
    ]);
    expect(ids(out)).toEqual(['l100+r102']);
  });

  it('maxPerKey: the oldest row of the side is dropped and handed back; keys are independent', () => {
    const c = cfg({ maxPerKey: 2, between: { lower: 0, upper: 100 } });
    const core = new IntervalJoinCore(c, ['user']);
    const out: VEvent[] = [];
    const dropped: VEvent[] = [];
    for (const t of [1, 2, 3]) core.add(LEFT, 'u', ev(LEFT, t), out, dropped);
    core.add(LEFT, 'v', ev(LEFT, 1, { user: 'v' }, 'v1'), out, dropped);
    expect(dropped.map((e) => e.id)).toEqual(['l1']);
    core.add(RIGHT, 'u', ev(RIGHT, 50), out, dropped);
    expect(ids(out)).toEqual(['l2+r50', 'l3+r50']);
    expect(core.counts.dropped).toBe(1);
    expect(core.size).toBe(4);
  });

  it('an event that is a row of both sides is never joined with itself', () => {
    const c = joinSchema.parse({ left: { where: { k: 'a' }, as: 'x' }, right: { where: { u: 1 }, as: 'y' }, between: { lower: 0, upper: 10 } });
    const core = new IntervalJoinCore(c, ['user']);
    const out: VEvent[] = [];
    const e1 = ev(LEFT, 1, {}, 'e1');
    const e2 = ev(LEFT, 2, {}, 'e2');
    for (const e of [e1, e2]) for (const s of [LEFT, RIGHT] as Side[]) core.add(s, 'u', e, out, []);
    expect(ids(out)).toEqual(['e1+e2']);
  });

  it('snapshot and restore mid-stream give the same output', () => {
    const c = cfg({ type: 'left', between: { lower: -2, upper: 5 } });
    const rows = Array.from({ length: 40 }, (_, i) => ({ side: (i % 3 === 0 ? RIGHT : LEFT) as Side, e: ev(i % 3 === 0 ? RIGHT : LEFT, i * 2, {}, `e${i}`), w: i * 2 - 3 }));
    const whole = run(c, rows).out;
    const a = new IntervalJoinCore(c, ['user']);
    const out: VEvent[] = [];
    for (const r of rows.slice(0, 17)) {
      a.advance(r.w, out);
      a.add(r.side, 'u', r.e, out, []);
    }
    const b = new IntervalJoinCore(c, ['user']);
    b.restore(JSON.parse(JSON.stringify(a.snapshot())));
    expect(b.size).toBe(a.size);
    const rest = run(c, rows.slice(17), b).out;
    expect(out.concat(rest).map((e) => [e.id, e.time])).toEqual(whole.map((e) => [e.id, e.time]));
  });
});

/** All pairs of the whole input, O(n²): the reference. */
function naive(c: JoinConfig, left: VEvent[], right: VEvent[]): string[] {
  const out: string[] = [];
  for (const l of left) {
    let matched = false;
    for (const r of right) {
      const d = r.time - l.time;
      if (l.payload.user !== r.payload.user || d < c.between.lower || d > c.between.upper) continue;
      if (c.differ.some((f) => l.payload[f] === r.payload[f])) continue;
      matched = true;
      out.push(`${l.id}+${r.id}@${Math.max(l.time, r.time)}`);
    }
    if (!matched && c.type === 'left') out.push(`${l.id}+@${Math.max(l.time, l.time + c.between.upper)}`);
  }
  return out.sort();
}

describe('interval join: property against all pairs', () => {
  it('same pairs and times whatever the batching, the interleaving of the sides and the restores', () => {
    const r = rng(42);
    const int = (n: number) => Math.floor(r() * n);
    for (let run = 0; run < 300; run++) {
      const disorder = int(20);
      const lower = int(40) - 20;
      const upper = lower + int(40);
      const c = cfg({ between: { lower, upper }, type: r() < 0.5 ? 'inner' : 'left', differ: r() < 0.3 ? ['device'] : [], maxPerKey: 100_000 });
      const keys = 1 + int(4);
      // Per side: times with at most `disorder` of disorder, so that no row is late whatever the interleaving.
      const sides: VEvent[][] = [LEFT, RIGHT].map((side) => {
        let t = int(50);
        let max = -Infinity;
        return Array.from({ length: int(40) }, (_, i) => {
          t += int(8);
          const time = Math.max(t - int(disorder + 1), max - disorder);
          max = Math.max(max, time);
          return { time, id: `${side}-${i}`, partition: side, offset: i, source: SRC[side], payload: { user: `k${int(keys)}`, device: `d${int(2)}` } };
        });
      });
      const expected = naive(c, sides[0], sides[1]);
      // Random interleaving (per-side order kept), the watermark of each side = its max - disorder, W = min of the two,
      // moved only at random batch ends.
      const idx = [0, 0];
      const maxes = [-Infinity, -Infinity];
      let core = new IntervalJoinCore(c, ['user']);
      const out: VEvent[] = [];
      let pendingW = -Infinity;
      while (idx[0] < sides[0].length || idx[1] < sides[1].length) {
        const side = (idx[0] >= sides[0].length ? RIGHT : idx[1] >= sides[1].length ? LEFT : r() < 0.5 ? LEFT : RIGHT) as Side;
        const e = sides[side][idx[side]++];
        maxes[side] = Math.max(maxes[side], e.time);
        const accepted = core.add(side, e.payload.user as string, e, out, []);
        expect(accepted).toBe(true);
        pendingW = Math.min(maxes[0], maxes[1]) - disorder;
        if (r() < 0.3) core.advance(pendingW, out); // a batch ends
        if (r() < 0.05) {
          const next = new IntervalJoinCore(c, ['user']);
          next.restore(JSON.parse(JSON.stringify(core.snapshot())));
          core = next;
        }
      }
      core.advance(Infinity, out);
      expect(out.map((e) => `${e.id}@${e.time}`).sort()).toEqual(expected);
      expect(core.size).toBe(0);
    }
  });
});
