import { describe, it, expect } from 'vitest';
import { PipelineCore } from '../../src/engine/pipeline.js';
import { loadDelta } from '../../src/state/checkpoint-store.js';
import { pipelineSchema, windowHash } from '../../src/config/pipeline.js';
import { WatermarkTracker } from '../../src/time/watermark.js';
import { emptyBatch, type Batch, type VEvent, type WindowResult } from '../../src/types.js';
import { Engine } from '../../src/engine/engine.js';
import { memorySource } from '../../src/sources/memory.js';
import { collectSink, config } from '../helpers/collect.js';
import { Task } from '../../src/engine/task.js';
import { Packr } from 'msgpackr';
import { mulberry32 as rng } from '../helpers/rng.js';

const deps = { configVersion: 'test', detectionTime: () => 0 };

const JOIN = { left: { sources: ['logins'], as: 'login' }, right: { sources: ['payments'], as: 'payment' } };

function pipeline(extra: Record<string, unknown>): PipelineCore {
  return new PipelineCore(pipelineSchema.parse({ name: 'j', key: 'user', window: { type: 'tumbling', size: 100 }, aggregates: [{ name: 'n', fn: 'count' }, { name: 's', fn: 'sum', field: 'login.v' }], ...extra }), deps);
}

/** Events of logins (partition 0) and payments (partition 1), in a given interleaving, cut into batches. */
function feed(p: PipelineCore, events: VEvent[], cuts: (i: number) => boolean, ooo: number, restoreAt = -1): { batches: Batch[]; p: PipelineCore } {
  const tracker = new WatermarkTracker({ maxOutOfOrderness: ooo, idleTimeout: 0 });
  tracker.register(0, 0);
  tracker.register(1, 0);
  const batches: Batch[] = [];
  let cur: VEvent[] = [];
  let n = 0;
  const flush = () => {
    const b = emptyBatch(0);
    b.events = cur;
    b.wm = Float64Array.from(cur, (e) => tracker.observe(e.partition, e.time, 0));
    b.watermark = tracker.watermark;
    p.process(b);
    batches.push(b);
    cur = [];
    if (n++ === restoreAt) {
      // A checkpoint as the task takes it (meta and per-key entries), into a new pipeline.
      const entries = [...p.window.keys()].flatMap((k) => p.window.snapshotKey(k) ?? []);
      const held = [...p.detectors.keys()];
      const keyed = { keys: held, entries: held.map((k) => p.detectors.snapshotKey(k)) };
      const q = new PipelineCore(p.config, deps);
      q.restoreParts(JSON.parse(JSON.stringify(p.snapshotMeta())), JSON.parse(JSON.stringify(entries)), JSON.parse(JSON.stringify(keyed)));
      p = q;
    }
  };
  events.forEach((e, i) => {
    cur.push(e);
    if (cuts(i)) flush();
  });
  if (cur.length > 0) flush();
  const end = emptyBatch(0);
  end.watermark = Infinity;
  end.final = true;
  p.process(end);
  batches.push(end);
  return { batches, p };
}

const resultSet = (bs: Batch[]) => bs.flatMap((b) => b.results).map((r: WindowResult) => `${r.key}|${r.start}|${r.count}|${r.values.s}|${r.revision}`).sort();

describe('join in a pipeline', () => {
  it('window results over joined events equal those of all pairs, whatever the batching, interleaving and restores', () => {
    const r = rng(7);
    const int = (n: number) => Math.floor(r() * n);
    for (let run = 0; run < 60; run++) {
      const ooo = int(15);
      const lower = int(60) - 30;
      const upper = lower + int(60);
      const type = r() < 0.5 ? 'inner' : 'left';
      const sides = [0, 1].map((side) =>
        (() => {
          let t = 1000 + int(20);
          let max = -Infinity;
          return Array.from({ length: 5 + int(40) }, (_, i): VEvent => {
            t += int(10);
            const time = Math.max(t - int(ooo + 1), max - ooo);
            max = Math.max(max, time);
            return { time, id: `${side}-${i}`, partition: side, offset: i, source: side === 0 ? 'logins' : 'payments', payload: { user: `u${int(3)}`, v: 1 + int(5) } };
          });
        })(),
      );
      // Reference: all pairs, bucketed into tumbling windows of 100.
      const ref = new Map<string, { n: number; s: number }>();
      const put = (key: string, time: number, v: number) => {
        const k = `${key}|${Math.floor(time / 100) * 100}`;
        const acc = ref.get(k) ?? { n: 0, s: 0 };
        acc.n++;
        acc.s += v;
        ref.set(k, acc);
      };
      for (const l of sides[0]) {
        let matched = false;
        for (const rr of sides[1]) {
          const d = rr.time - l.time;
          if (rr.payload.user !== l.payload.user || d < lower || d > upper) continue;
          matched = true;
          put(String(l.payload.user), Math.max(l.time, rr.time), l.payload.v as number);
        }
        if (!matched && type === 'left') put(String(l.payload.user), Math.max(l.time, l.time + upper), l.payload.v as number);
      }
      const expected = [...ref].map(([k, a]) => `${k}|${a.n}|${a.s}|0`).sort();
      for (let attempt = 0; attempt < 3; attempt++) {
        const idx = [0, 0];
        const merged: VEvent[] = [];
        while (idx[0] < sides[0].length || idx[1] < sides[1].length) {
          const s = idx[0] >= sides[0].length ? 1 : idx[1] >= sides[1].length ? 0 : r() < 0.5 ? 0 : 1;
          merged.push(sides[s][idx[s]++]);
        }
        const p = pipeline({ join: { ...JOIN, between: { lower, upper }, type } });
        const { batches, p: last } = feed(p, merged, () => r() < 0.2, ooo, attempt === 2 ? int(5) : -1);
        expect(batches.flatMap((b) => b.deadLetters)).toEqual([]);
        expect(resultSet(batches)).toEqual(expected);
        expect(last.takeCounts().late).toBe(0);
      }
    }
  });

  it('counts input rows at the join, dead-letters late rows and rows dropped by maxPerKey; left rows alone are never late downstream', () => {
    const p = pipeline({ join: { ...JOIN, between: { lower: 0, upper: 50 }, type: 'left', maxPerKey: 2 } });
    const ev = (partition: number, offset: number, time: number, payload: Record<string, unknown>): VEvent => ({
      time, id: `${partition}-${offset}`, partition, offset, source: partition === 0 ? 'logins' : partition === 1 ? 'payments' : 'other', payload: { v: 1, ...payload },
    });
    const events = [
      ev(0, 0, 10, { user: 'a' }),
      ev(0, 1, 11, { user: 'a' }),
      ev(0, 2, 12, { user: 'a' }), // drops 0-0 (maxPerKey 2)
      ev(0, 3, 13, {}), // no key
      { ...ev(0, 100, 13, { user: 'a' }), source: 'other' }, // neither side
      ev(1, 0, 20, { user: 'a' }), // joins 0-1 and 0-2
      ev(1, 1, 200, { user: 'b' }),
      ev(0, 4, 150, { user: 'b' }), // W = 150 - 0 after it: fine; payment 1-1 at 200 is in [150, 200]
      ev(1, 2, 300, { user: 'c' }),
      ev(0, 5, 160, { user: 'c' }), // W = 160 after it
      ev(0, 6, 400, { user: 'd' }), // alone: emitted at 450 when W passes it
      ev(1, 3, 500, { user: 'x' }),
      ev(0, 7, 120, { user: 'c' }), // late: W = min(400, 500) = 400
    ];
    const { batches, p: q } = feed(p, events, () => false, 0);
    const dead = batches.flatMap((b) => b.deadLetters).map((d) => `${d.reason}:${d.partition}-${d.offset}`);
    expect(dead).toEqual(['window_limit:0-0', 'missing_key:0-3', 'late:0-7']);
    expect(q.takeCounts()).toEqual({ processed: 10, filtered: 1, late: 1, missingKey: 1, limited: 1, missingField: 0, skipped: 0 });
    const results = batches.flatMap((b) => b.results).map((r) => `${r.key}|${r.start}|${r.count}|${r.evidence.join(',')}`).sort();
    expect(results).toEqual(['a|0|2|0-1+1-0,0-2+1-0', 'b|200|1|0-4+1-1', 'c|200|1|0-5+', 'd|400|1|0-6+']);
  });

  it('a left join without a window: event detectors see every joined event and every left row alone, none late', () => {
    const r = rng(11);
    const int = (n: number) => Math.floor(r() * n);
    for (let run = 0; run < 20; run++) {
      const events: VEvent[] = [];
      const offs = [0, 0];
      const maxes = [-Infinity, -Infinity];
      for (let i = 0; i < 60; i++) {
        const side = int(2);
        const time = Math.max(1000 + i * 5 - int(10), maxes[side] - 10);
        maxes[side] = Math.max(maxes[side], time);
        events.push({ time, id: `${side}-${offs[side]}`, partition: side, offset: offs[side]++, source: side === 0 ? 'logins' : 'payments', payload: { user: `u${int(3)}` } });
      }
      const p = new PipelineCore(
        pipelineSchema.parse({ name: 'j', key: 'user', join: { ...JOIN, between: { lower: -5, upper: 20 }, type: 'left' }, detectors: [{ name: 'each', type: 'velocity', lookback: 1, value: 1, cooldown: 0 }] }),
        deps,
      );
      const { batches } = feed(p, events, () => r() < 0.3, 10);
      const logins = events.filter((e) => e.partition === 0);
      const payments = events.filter((e) => e.partition === 1);
      let expected = 0;
      for (const l of logins) {
        const n = payments.filter((q) => q.payload.user === l.payload.user && q.time - l.time >= -5 && q.time - l.time <= 20).length;
        expected += n === 0 ? 1 : n;
      }
      expect(batches.flatMap((b) => b.deadLetters)).toEqual([]);
      expect(batches.flatMap((b) => b.alerts)).toHaveLength(expected);
    }
  });

  it('a hot reload keeps the join rows when the join is unchanged, and starts an empty join when it changed', () => {
    const cfg = { join: { ...JOIN, between: { lower: 0, upper: 50 } } };
    const ev = (partition: number, offset: number, time: number): VEvent => ({ time, id: `${partition}-${offset}`, partition, offset, source: partition === 0 ? 'logins' : 'payments', payload: { user: 'a', v: 1 } });
    const run = (next: Record<string, unknown>) => {
      const tracker = new WatermarkTracker({ maxOutOfOrderness: 0, idleTimeout: 0 });
      const batch = (es: VEvent[]) => {
        const b = emptyBatch(0);
        b.events = es;
        b.wm = Float64Array.from(es, (e) => tracker.observe(e.partition, e.time, 0));
        b.watermark = tracker.watermark;
        return b;
      };
      const before = pipeline(cfg);
      before.process(batch([ev(0, 0, 10), ev(1, 0, 12)]));
      const nextCfg = pipelineSchema.parse({ name: 'j', key: 'user', window: { type: 'tumbling', size: 100 }, aggregates: [{ name: 'n', fn: 'count' }, { name: 's', fn: 'sum', field: 'login.v' }], ...next });
      // As the reload does: the window core is kept when the window part (join included) is unchanged.
      const after = new PipelineCore(nextCfg, deps, windowHash(nextCfg) === before.windowHash ? { window: before.window } : undefined);
      after.carryOver(before);
      const b = batch([ev(1, 1, 30)]);
      after.process(b);
      const end = emptyBatch(0);
      end.watermark = Infinity;
      after.process(end);
      return end.results.map((x) => `${x.count}|${x.evidence.join(',')}`);
    };
    expect(run(cfg)).toEqual(['2|0-0+1-0,0-0+1-1']);
    expect(run({ join: { ...JOIN, between: { lower: 0, upper: 40 } } })).toEqual([]);
  });

  it("a partition's checkpoint (msgpack, as the store writes it) carries the join rows: a restored task gives the same output", () => {
    const packr = new Packr({ useRecords: false, mapsAsObjects: true });
    const cfg = pipelineSchema.parse({
      name: 'j', key: 'user', join: { ...JOIN, between: { lower: -10, upper: 50 }, type: 'left' },
      window: { type: 'tumbling', size: 100 }, aggregates: [{ name: 'n', fn: 'count' }, { name: 's', fn: 'sum', field: 'login.v' }],
    });
    const wm = { maxOutOfOrderness: 5, idleTimeout: 0 };
    const r = rng(3);
    const events = Array.from({ length: 200 }, (_, i): VEvent => {
      const side = Math.floor(r() * 2);
      return { time: 1000 + i * 3, id: `${side}-${i}`, partition: 0, offset: i, source: side === 0 ? 'logins' : 'payments', payload: { user: `u${Math.floor(r() * 4)}`, v: 1 } };
    });
    const step = (t: Task, es: VEvent[], end = false) => {
      const b = emptyBatch(0);
      b.partition = 0;
      b.events = es;
      b.wm = Float64Array.from(es, (e) => t.tracker.observe(0, e.time, 0));
      b.watermark = end ? Infinity : t.tracker.watermark;
      for (const p of t.pipelines) p.process(b);
      return b.results.map((x) => `${x.key}|${x.start}|${x.count}|${x.evidence.join(',')}`);
    };
    const whole = new Task('a', [cfg], deps, wm, 0);
    const expected = [...step(whole, events.slice(0, 120)), ...step(whole, events.slice(120)), ...step(whole, [], true)].sort();
    const a = new Task('a', [cfg], deps, wm, 0);
    a.trackChanges();
    const first = step(a, events.slice(0, 120));
    expect(a.pipelines[0].snapshotMeta().join).toBeDefined();
    const cp = a.checkpoint(0);
    const b = new Task('b', [cfg], deps, wm, 0);
    expect(b.restore(loadDelta(packr.unpack(packr.pack(cp))), 0)).toEqual(['j']);
    const rest = [...step(b, events.slice(120)), ...step(b, [], true)];
    expect([...first, ...rest].sort()).toEqual(expected);
    expect(expected.some((x) => x.includes('+,') || x.endsWith('+'))).toBe(true); // left rows alone are in it
  });

  it('refuses bad join configs with path and reason', () => {
    const bad = (x: Record<string, unknown>) => pipelineSchema.safeParse({ name: 'j', key: 'user', detectors: [{ name: 'v', type: 'velocity', lookback: '1m', value: 1 }], ...x });
    const r = bad({ sources: ['logins'], join: { ...JOIN, between: { lower: 0, upper: '10m' } } });
    expect(r.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([['join.right.sources.0', `source "payments" is not among this pipeline's sources (logins)`]]);
    expect(bad({ join: { ...JOIN, between: { lower: 0, upper: '10m' } } }).success).toBe(true);
  });
});

describe('join in a replay', () => {
  const CFG = `
time: { maxOutOfOrderness: 1m }
sources:
  - { name: logins, type: ndjson-file, path: logins.ndjson }
  - { name: payments, type: ndjson-file, path: payments.ndjson, fields: { amount: number } }
pipelines:
  - name: pay-after-login
    join:
      left: { sources: [logins], as: login }
      right: { sources: [payments], as: payment }
      between: { lower: 0, upper: 10m }
      differ: [device]
    key: user
    window: { type: tumbling, size: 1h }
    aggregates: [{ name: total, fn: sum, field: payment.amount }]
    detectors:
      - { name: other-device-payment, type: velocity, lookback: 1m, value: 1, cooldown: 0 }
      - { name: big-total, type: threshold, aggregate: total, value: 500 }
sinks: [{ name: c, type: console }]
metrics: { enabled: false }
`;
  const T0 = Date.parse('2026-01-01T00:00:00Z');
  const at = (m: number) => new Date(T0 + m * 60_000).toISOString();

  it('alerts on a payment within 10 minutes of a login from another device, through event and result detectors', async () => {
    const logins = [
      { id: 'L1', ts: at(0), user: 'ann', device: 'phone' },
      { id: 'L2', ts: at(5), user: 'bob', device: 'laptop' },
      { id: 'L3', ts: at(20), user: 'cat', device: 'tablet' },
      { id: 'L4', ts: at(90), user: 'dan', device: 'tv' },
    ];
    const payments = [
      { id: 'P1', ts: at(3), user: 'ann', device: 'laptop', amount: 400 }, // other device, 3 min: alert
      { id: 'P2', ts: at(9), user: 'bob', device: 'laptop', amount: 50 }, // same device: nothing
      { id: 'P4', ts: at(8), user: 'ann', device: 'desktop', amount: 200 }, // other device, 8 min: alert; ann's total 600
      { id: 'P3', ts: at(31), user: 'cat', device: 'phone', amount: 10 }, // 11 min: too late
      { id: 'P5', ts: at(100), user: 'dan', device: 'phone', amount: 5 }, // exactly 10 min: alert
      { id: 'P6', ts: at(200), user: 'zed', device: 'phone', amount: 5 },
    ];
    const sink = collectSink();
    const engine = new Engine({
      loaded: config(CFG),
      mode: 'replay',
      sources: [memorySource(logins, { name: 'logins', batchSize: 2 }), memorySource(payments, { name: 'payments', batchSize: 3, mapping: { fields: { amount: 'number' } } })],
      sinks: [sink],
    });
    const summary = await engine.run();
    const alerts = sink.alerts.map((a) => `${a.detector}|${a.key}|${a.evidence.join(',')}`).sort();
    expect(alerts).toEqual([
      'big-total|ann|L1+P1,L1+P4',
      'other-device-payment|ann|L1+P1',
      'other-device-payment|ann|L1+P4',
      'other-device-payment|dan|L4+P5',
    ]);
    expect(sink.deadLetters).toEqual([]);
    expect(summary.pipelines['pay-after-login']).toMatchObject({ processed: 10, filtered: 0, late: 0 });
  });
});

describe('join configs: cross checks', () => {
  const base = (pipeline: string) => `
sources:
  - { name: logins, type: ndjson-file, path: logins.ndjson }
  - { name: payments, type: ndjson-file, path: payments.ndjson }
pipelines:
${pipeline}
sinks: [{ name: c, type: console }]
`;
  const problems = (yaml: string): string => {
    try {
      config(yaml);
      return '';
    } catch (err) {
      return (err as Error).message;
    }
  };

  it('names unknown side sources and plain field names after a join, with a suggestion', () => {
    const msg = problems(
      base(`  - name: j
    join:
      left: { sources: [logins], as: login }
      right: { sources: [paymnts], as: payment }
      between: { lower: 0, upper: 10m }
    key: user
    window: { type: tumbling, size: 1h }
    aggregates: [{ name: total, fn: sum, field: amount }]`),
    );
    expect(msg).toMatch(/unknown source "paymnts" \(did you mean "payments"\?/);
    expect(msg).toMatch(/field "amount" is not a field of the joined events.*did you mean "login.amount" or "payment.amount"\?/);
  });

  it('purpose fields: joined names count as the input field they come from; join fields must be declared', () => {
    const pipeline = (fields: string) => `  - name: j
    fields: [${fields}]
    join:
      left: { sources: [logins], where: { kind: login }, as: login }
      right: { sources: [payments], as: payment }
      between: { lower: 0, upper: 10m }
      differ: [device]
    key: user
    where: { payment.matched: true }
    window: { type: tumbling, size: 1h }
    aggregates: [{ name: total, fn: sum, field: payment.amount }]`;
    expect(problems(base(pipeline('user, device, amount, kind')))).toBe('');
    const msg = problems(base(pipeline('user, amount')));
    expect(msg).toMatch(/field "kind" is not among the fields this pipeline declares/);
    expect(msg).toMatch(/field "device" is not among the fields this pipeline declares/);
    expect(msg).not.toMatch(/"amount" is not among/);
  });
});
