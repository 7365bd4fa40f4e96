import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { pino } from 'pino';
import * as tumbling from '../../operators/tumbling.js';
import * as hopping from '../../operators/hopping.js';
import * as sliding from '../../operators/sliding.js';
import * as session from '../../operators/session.js';
import { type WindowCore, type WindowMeta } from '../../operators/types.js';
import { KeyRecency } from '../../src/util/key-order.js';
import type { VEvent, WindowResult } from '../../src/types.js';
import { Engine } from '../../src/engine/engine.js';
import { EngineMetrics } from '../../src/metrics/registry.js';
import { memorySource } from '../../src/sources/memory.js';
import { collectSink, config } from '../helpers/collect.js';
import { canon, ev, feed, makeCore, perKey } from '../helpers/windows.js';

const OPERATORS = [
  { name: 'tumbling', mod: tumbling, cfg: { size: 10 } },
  { name: 'hopping', mod: hopping, cfg: { size: 10, advance: 5 } },
  { name: 'sliding', mod: sliding, cfg: { lookback: 10 } },
  { name: 'session', mod: session, cfg: { gap: 5 } },
] as const;

/** a, b, then a again (b becomes the least recently active), then c: with maxKeys 2, c evicts b. */
function events(): Array<[string, VEvent]> {
  return [
    ['a', ev(1, 1, 'a1')],
    ['b', ev(2, 10, 'b1')],
    ['a', ev(3, 2, 'a2')],
    ['c', ev(4, 100, 'c1')],
  ];
}

function run(c: WindowCore, evs: Array<[string, VEvent]>, out: WindowResult[]): void {
  for (const [k, e] of evs) feed(c, k, e, -Infinity, out);
}

for (const { name, mod, cfg } of OPERATORS) {
  const core = (maxKeys?: number): WindowCore => makeCore(mod, maxKeys === undefined ? cfg : { ...cfg, maxKeys });

  describe(`${name}: maxKeys`, () => {
    it('is optional in the schema, and must be a positive integer', () => {
      expect(mod.schema.parse({ type: mod.type, ...cfg })).not.toHaveProperty('maxKeys');
      expect(mod.schema.parse({ type: mod.type, ...cfg, maxKeys: 2 })).toMatchObject({ maxKeys: 2 });
      expect(() => mod.schema.parse({ type: mod.type, ...cfg, maxKeys: 0 })).toThrow();
      expect(() => mod.schema.parse({ type: mod.type, ...cfg, maxKeys: 1.5 })).toThrow();
    });

    it('evicts the least recently active key, drops its windows unemitted, counts it, and leaves the other keys alone', () => {
      const bounded = core(2);
      const free = core();
      const out: WindowResult[] = [];
      const ref: WindowResult[] = [];
      run(bounded, events(), out);
      run(free, events(), ref);
      expect(bounded.evicted).toBe(1);
      expect(free.evicted).toBe(0);
      expect(bounded.keyCount).toBe(2);
      expect([...bounded.keys()].sort()).toEqual(['a', 'c']);
      bounded.advance(1000, out);
      free.advance(1000, ref);
      const got = perKey(out);
      const want = perKey(ref);
      expect(got.has('b')).toBe(false);
      expect(want.get('b')?.length).toBeGreaterThan(0);
      expect(got.get('a')).toEqual(want.get('a'));
      expect(got.get('c')).toEqual(want.get('c'));
      expect(bounded.openWindows).toBe(0);
      expect(bounded.keyCount).toBe(0);
    });

    it('a key that emptied on its own frees its place without an eviction', () => {
      const c = core(2);
      const out: WindowResult[] = [];
      feed(c, 'a', ev(1, 1), -Infinity, out);
      feed(c, 'b', ev(2, 1), -Infinity, out);
      feed(c, 'c', ev(500, 1), 400, out); // a and b closed at W 400
      expect(c.evicted).toBe(0);
      expect([...c.keys()]).toEqual(['c']);
    });

    it('is deterministic', () => {
      const go = (): { out: WindowResult[]; snap: unknown; evicted: number | undefined } => {
        const c = core(2);
        const out: WindowResult[] = [];
        const evs: Array<[string, VEvent]> = [];
        for (let i = 0; i < 60; i++) evs.push([`k${(i * 7) % 5}`, { time: i * 3, id: `x${i}`, partition: 0, offset: i, source: 's', payload: { v: i } }]);
        for (const [k, e] of evs) feed(c, k, e, e.time - 5, out);
        const snap = c.snapshot();
        c.advance(10_000, out);
        return { out, snap, evicted: c.evicted };
      };
      const first = go();
      expect(first.evicted).toBeGreaterThan(0);
      expect(go()).toEqual(first);
    });

    it('snapshot / restore keeps the count and the eviction order', () => {
      const a = core(2);
      const out: WindowResult[] = [];
      run(a, events(), out);
      const b = core(2);
      b.restore(structuredClone(a.snapshot()));
      expect(b.evicted).toBe(1);
      expect(b.snapshot()).toEqual(a.snapshot());
      // Held: a (active at 3), c (active at 4). A new key evicts a in both.
      const outA: WindowResult[] = [];
      const outB: WindowResult[] = [];
      feed(a, 'd', ev(5, 1, 'd1'), -Infinity, outA);
      feed(b, 'd', ev(5, 1, 'd1'), -Infinity, outB);
      expect([...a.keys()].sort()).toEqual(['c', 'd']);
      expect([...b.keys()].sort()).toEqual(['c', 'd']);
      expect(b.evicted).toBe(2);
      expect(b.snapshot()).toEqual(a.snapshot());
      a.advance(1000, outA);
      b.advance(1000, outB);
      expect(outB).toEqual(outA);
    });

    it('incremental checkpoints: the evicted key is marked changed and gone; parts in any order restore the same order', () => {
      const a = core(2);
      a.changes.enable();
      const out: WindowResult[] = [];
      feed(a, 'a', ev(1, 1, 'a1'), -Infinity, out);
      feed(a, 'b', ev(2, 1, 'b1'), -Infinity, out);
      feed(a, 'a', ev(3, 1, 'a2'), -Infinity, out);
      a.changes.take();
      feed(a, 'c', ev(4, 1, 'c1'), -Infinity, out);
      const changed = a.changes.take();
      expect([...changed].sort()).toEqual(['b', 'c']);
      expect(a.snapshotKey('b')).toBeUndefined();
      const meta: WindowMeta = structuredClone(a.snapshotMeta());
      expect(meta.evicted).toBe(1);
      // Parts stored per key come back in any order: most recent key first here.
      const entries = [...a.keys()].reverse().flatMap((k) => structuredClone(a.snapshotKey(k) ?? []));
      const b = core(2);
      b.restoreParts(meta, entries);
      expect(b.evicted).toBe(1);
      feed(b, 'd', ev(5, 1, 'd1'), -Infinity, []);
      expect([...b.keys()].sort()).toEqual(['c', 'd']);
      expect(b.evicted).toBe(2);
    });

    it('restores older snapshots without stamps or count', () => {
      const a = core(2);
      run(a, events(), []);
      const snap = structuredClone(a.snapshot()) as Record<string, unknown>;
      delete snap.evicted;
      for (const list of Object.values(snap)) if (Array.isArray(list)) for (const t of list as unknown[][]) t.length = t.length - 1;
      const b = core(2);
      b.restore(snap);
      expect(b.evicted).toBe(0);
      expect(b.keyCount).toBe(a.keyCount);
    });
  });
}

describe('window evictions in the engine', () => {
  const CFG = `
time: { maxOutOfOrderness: 0 }
sources: [{ name: in, type: stdin }]
pipelines:
  - name: users
    key: user
    window: { type: tumbling, size: 10s, maxKeys: 2 }
    aggregates: [{ name: n, fn: count }]
    detectors:
      - { name: big, type: threshold, aggregate: n, value: 1000, cooldown: 0 }
sinks: [{ name: c, type: console }]
metrics: { enabled: false }
`;
  const T0 = Date.parse('2026-01-01T00:00:00Z');

  it('counts vigie_window_evictions_total per pipeline', async () => {
    const records = [
      { id: 'a', ts: T0, user: 'u1' },
      { id: 'b', ts: T0 + 1000, user: 'u2' },
      { id: 'c', ts: T0 + 2000, user: 'u3' },
      { id: 'd', ts: T0 + 3000, user: 'u4' },
      { id: 'end', ts: T0 + 3_600_000, user: 'u9' },
    ];
    const sink = collectSink();
    const metrics = new EngineMetrics({ defaultMetrics: false });
    const engine = new Engine({ loaded: config(CFG), mode: 'replay', sources: [memorySource(records, { name: 'in', batchSize: 2 })], sinks: [sink], metrics });
    await engine.run();
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/vigie_window_evictions_total\{pipeline="users"\} 2\n/);
  });
});

describe('KeyRecency', () => {
  /** Naive reference: an array of keys, least recently active first. */
  class Reference {
    order: string[] = [];
    constructor(readonly maxKeys: number) {}
    touch(key: string): string | undefined {
      const i = this.order.indexOf(key);
      let victim: string | undefined;
      if (i >= 0) this.order.splice(i, 1);
      else if (this.order.length >= this.maxKeys) victim = this.order.shift();
      this.order.push(key);
      return victim;
    }
    forget(key: string): void {
      const i = this.order.indexOf(key);
      if (i >= 0) this.order.splice(i, 1);
    }
  }

  it('evicts exactly the least recently active key, as a naive list does, through forgets and restores', () => {
    const op = fc.oneof(
      { weight: 8, arbitrary: fc.record({ kind: fc.constant('touch' as const), key: fc.integer({ min: 0, max: 15 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('forget' as const), key: fc.integer({ min: 0, max: 15 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('restore' as const), key: fc.constant(0) }) },
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.array(op, { maxLength: 300 }), (maxKeys, ops) => {
        let real = new KeyRecency(maxKeys);
        const ref = new Reference(maxKeys);
        let evicted = 0;
        ops.forEach((o, stamp) => {
          const key = `k${o.key}`;
          if (o.kind === 'touch') {
            const victim = real.touch(key, stamp);
            expect(victim).toBe(ref.touch(key));
            if (victim !== undefined) {
              evicted++;
              real.forget(victim);
            }
          } else if (o.kind === 'forget') {
            real.forget(key);
            ref.forget(key);
          } else {
            // A checkpoint restore: stamps only, given in any order.
            const stamps = new Map([...ref.order].reverse().map((k) => [k, real.stampOf(k)]));
            real = new KeyRecency(maxKeys);
            real.restore(stamps, evicted);
          }
          expect([...real.keys()]).toEqual(ref.order);
        });
        expect(real.evicted).toBe(evicted);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('per-key window bounds', () => {
  const CASES = [
    // [name, module, config, events of key a: accepted (true) or refused (false)]
    { name: 'tumbling', mod: tumbling, cfg: { size: 10, grace: 1000, maxWindowsPerKey: 2 }, seq: [[1, true], [15, true], [25, false], [5, true]] },
    { name: 'hopping', mod: hopping, cfg: { size: 10, advance: 5, grace: 1000, maxWindowsPerKey: 3 }, seq: [[1, true], [6, true], [11, false], [7, true]] },
    { name: 'session', mod: session, cfg: { gap: 5, grace: 1000, maxWindowsPerKey: 2 }, seq: [[1, true], [20, true], [40, false], [3, true]] },
    { name: 'sliding', mod: sliding, cfg: { lookback: 10, maxEventsPerKey: 2 }, seq: [[1, true], [2, true], [3, false]] },
  ] as const;

  for (const { name, mod, cfg, seq } of CASES) {
    it(`${name}: an event beyond the key's bound is refused whole and counted; other keys and the key's windows are unchanged`, () => {
      const bounded = makeCore(mod, cfg);
      const { maxWindowsPerKey: _w, maxEventsPerKey: _e, ...unbounded } = cfg as Record<string, unknown>;
      const reference = makeCore(mod, unbounded);
      const out: WindowResult[] = [];
      const ref: WindowResult[] = [];
      let refused = 0;
      for (const [t, accepted] of seq) {
        const e = ev(t, 1, `a${t}`);
        expect(feed(bounded, 'a', e, -Infinity, out), `a@${t}`).toBe(accepted);
        if (accepted) feed(reference, 'a', e, -Infinity, ref);
        else refused++;
      }
      const b = ev(30, 1, 'b30');
      expect(feed(bounded, 'b', b, -Infinity, out)).toBe(true);
      feed(reference, 'b', b, -Infinity, ref);
      expect(bounded.limited).toBe(refused);
      expect(bounded.openWindows).toBe(reference.openWindows);
      bounded.advance(1e9, out);
      reference.advance(1e9, ref);
      // What the bounded core emits is what a core that never saw the refused events emits.
      expect(canon(out)).toEqual(canon(ref));
    });
  }

  it('the defaults are large and a hopping window cannot need more windows per event than the bound', () => {
    expect(makeCore(tumbling, { size: 10 })).toBeDefined();
    expect(() => hopping.schema.parse({ type: 'hopping', size: 1000, advance: 1, maxWindowsPerKey: 999 })).toThrow(/maxWindowsPerKey/);
    expect(() => hopping.schema.parse({ type: 'hopping', size: 86_400_000, advance: 1000 })).toThrow(/maxWindowsPerKey/);
    expect(hopping.schema.parse({ type: 'hopping', size: 1000, advance: 1, maxWindowsPerKey: 1000 })).toMatchObject({ maxWindowsPerKey: 1000 });
  });
});

describe('window_limit in the engine', () => {
  const CFG = `
time: { maxOutOfOrderness: 1h }
sources: [{ name: in, type: stdin }]
pipelines:
  - name: per-user
    key: user
    window: { type: tumbling, size: 1m, maxWindowsPerKey: 3 }
    aggregates: [{ name: n, fn: count }]
sinks: [{ name: c, type: console }]
metrics: { enabled: false }
`;

  it('dead-letters the refused events with reason window_limit and the pipeline, and counts them', async () => {
    const T = Date.UTC(2026, 0, 1);
    // u1 spreads over 6 minutes within the out-of-orderness: its 4th, 5th and 6th windows are refused.
    const recs = [0, 1, 2, 3, 4, 5].map((m) => ({ id: `u1-${m}`, ts: T + m * 60_000, user: 'u1' }));
    recs.push({ id: 'u2-0', ts: T + 5 * 60_000, user: 'u2' });
    const sink = collectSink();
    const metrics = new EngineMetrics();
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (l: string) => void lines.push(l) });
    const engine = new Engine({ loaded: config(CFG), mode: 'replay', sources: [memorySource(recs, { name: 'in' })], sinks: [sink], metrics, logger });
    const summary = await engine.run();
    // One warning line for the pipeline, with the count (not one line per refused event).
    const warned = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => String(l.msg).startsWith('state bounds reached'));
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ pipeline: 'per-user', windowLimited: 3, windowKeysEvicted: 0, detectorKeysEvicted: 0 });
    const limited = sink.deadLetters.filter((d) => d.reason === 'window_limit');
    expect(limited.map((d) => (d.raw as { id: string }).id)).toEqual(['u1-3', 'u1-4', 'u1-5']);
    expect(limited.every((d) => d.pipeline === 'per-user')).toBe(true);
    expect(summary.pipelines['per-user'].windowLimited).toBe(3);
    expect(summary.pipelines['per-user'].processed).toBe(4);
    expect(summary.deadLetters.byReason.window_limit).toBe(3);
    expect(sink.results.map((r) => `${r.key}:${r.count}`).sort()).toEqual(['u1:1', 'u1:1', 'u1:1', 'u2:1']);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/vigie_events_dead_lettered_total\{[^}]*reason="window_limit"[^}]*\} 3/);
  });
});

describe('maxPendingEvents (events waiting for the watermark before event detectors)', () => {
  const cfg = (max: string) => `
time: { maxOutOfOrderness: 1h }
sources: [{ name: in, type: stdin }]
pipelines:
  - name: users
    key: user
    ${max}
    detectors:
      - { name: burst, type: velocity, lookback: 1m, value: 3, cooldown: 0, severity: low }
sinks: [{ name: c, type: console }]
metrics: { enabled: false }
`;
  const T = Date.UTC(2026, 0, 1, 9);
  // In order, one user, 1 s apart: with the watermark an hour behind, everything waits until the end.
  const recs: Array<Record<string, unknown>> = Array.from({ length: 20 }, (_, i) => ({ id: `e${i}`, ts: T + i * 1000, user: 'u1' }));
  async function run(max: string, input = recs) {
    const sink = collectSink();
    const metrics = new EngineMetrics();
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (l: string) => void lines.push(l) });
    const summary = await new Engine({ loaded: config(cfg(max)), mode: 'replay', sources: [memorySource(input, { name: 'in', batchSize: 4 })], sinks: [sink], metrics, logger }).run();
    return { sink, summary, text: await metrics.registry.metrics(), lines };
  }

  it('releases the earliest waiting events beyond the bound, counts and logs it; in-order input gives the same alerts', async () => {
    const free = await run('');
    const bounded = await run('maxPendingEvents: 5');
    expect(free.summary.pipelines.users.releasedEarly).toBeUndefined();
    expect(bounded.summary.pipelines.users.releasedEarly).toBe(15);
    expect(bounded.text).toMatch(/vigie_events_released_early_total\{pipeline="users"\} 15/);
    expect(bounded.sink.alerts.map((a) => a.id)).toEqual(free.sink.alerts.map((a) => a.id));
    expect(free.sink.alerts.length).toBeGreaterThan(0);
    expect(bounded.lines.some((l) => l.includes('"releasedEarly":'))).toBe(true);
  });

  it('an event arriving behind what was released early is late for the detectors (dead-lettered, not lost)', async () => {
    const input = [...recs, { id: 'old', ts: T + 2000, user: 'u1' }];
    const bounded = await run('maxPendingEvents: 5', input);
    const late = bounded.sink.deadLetters.filter((d) => d.reason === 'late');
    expect(late.map((d) => (d.raw as { id: string }).id)).toEqual(['old']);
    const free = await run('', input);
    expect(free.sink.deadLetters).toEqual([]);
  });
});
