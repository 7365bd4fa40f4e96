/**
 * Per-key checkpoints of detector state: a store fed only with the keys that changed at each checkpoint
 * (as Redis is) restores exactly the state that a whole snapshot holds, and the run goes on with the
 * same alerts as one that never stopped. Checked against the whole snapshot as the reference.
 */
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { pipelineSchema, type PipelineConfig } from '../../src/config/pipeline.js';
import { Task } from '../../src/engine/task.js';
import { decodeCheckpoint, type CheckpointDelta } from '../../src/state/checkpoint-store.js';
import { emptyBatch, type Alert, type VEvent } from '../../src/types.js';
import { KeyedState } from '../../src/util/keyed-state.js';
import { ChangedKeys } from '../../src/util/key-order.js';

const packr = new Packr({ useRecords: false, mapsAsObjects: true });
const MIN = 60_000;
const deps = { configVersion: 'v', detectionTime: (w: number) => w };
const wm = { maxOutOfOrderness: 2 * MIN, idleTimeout: 0 };

/** Every detector kind that keeps per-key state, small caps on event detectors (evictions), cooldowns and `requires` (signal memory). */
function pipelines(maxKeys: number): PipelineConfig[] {
  return [
    pipelineSchema.parse({
      name: 'customers',
      key: 'k',
      detectors: [
        { name: 'burst', type: 'velocity', lookback: '10m', value: 3, cooldown: '5m', maxKeys },
        { name: 'spend', type: 'velocity', measure: 'sum', field: 'amount', lookback: '30m', value: 900, cooldown: '0s', maxKeys },
        { name: 'new-device', type: 'first-seen', field: 'device', lookback: '1h', minHistory: 2, maxKeys, maxValuesPerKey: 3 },
        { name: 'travel', type: 'geo-velocity', maxSpeedKmh: 900, minDistanceKm: 100, cooldown: '20m', maxKeys },
        { name: 'odd-amount', type: 'outlier', field: 'amount', history: 8, minHistory: 3, value: 2, maxKeys, emit: false },
        { name: 'odd-burst', type: 'velocity', lookback: '10m', value: 2, maxKeys, requires: { detectors: ['odd-amount'], within: '30m' } },
        { name: 'takeover', type: 'sequence', within: '20m', steps: [{ name: 'a', match: { step: 'a' } }, { name: 'b', match: { step: 'b' } }], maxKeys },
        { name: 'risk', type: 'score', within: '30m', value: 2, inputs: [{ detector: 'burst', weight: 1 }, { detector: 'odd-amount', weight: 1 }], maxKeys },
      ],
    }),
    pipelineSchema.parse({
      name: 'hourly',
      key: 'k',
      window: { type: 'tumbling', size: '15m' },
      aggregates: [{ name: 'n', fn: 'count' }],
      detectors: [
        { name: 'many', type: 'threshold', aggregate: 'n', op: '>=', value: 4 },
        // No eviction here: a restored window emits the results of one watermark step in another key
        // order (unspecified across keys), and under a cap that order decides which key is evicted.
        { name: 'level', type: 'baseline', aggregate: 'n', minSamples: 2 },
        { name: 'jump', type: 'rate-of-change', aggregate: 'n', value: 1 },
      ],
    }),
  ];
}

interface Spec {
  key: number;
  dt: number;
  amount: number;
  device: number;
  far: boolean;
  step: number;
}

const specArb = fc.record({
  key: fc.integer({ min: 0, max: 9 }),
  // Mostly forward in time, sometimes backward (within the out-of-orderness or late).
  dt: fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 0, max: 90_000 }) }, { weight: 1, arbitrary: fc.integer({ min: -150_000, max: 0 }) }),
  amount: fc.oneof(fc.integer({ min: 10, max: 60 }), fc.integer({ min: 500, max: 2000 })),
  device: fc.integer({ min: 0, max: 4 }),
  far: fc.boolean(),
  step: fc.integer({ min: 0, max: 2 }),
});

function events(specs: Spec[]): VEvent[] {
  let t = Date.UTC(2026, 0, 1);
  return specs.map((s, i) => {
    t += s.dt;
    const payload = { k: `c${s.key}`, amount: s.amount, device: `d${s.device}`, lat: s.far ? 40 : 48.8, lon: s.far ? -74 : 2.3, step: ['a', 'b', 'x'][s.step] };
    return { time: t, id: `e${i}`, partition: 0, offset: i, source: 's', payload };
  });
}

function feed(task: Task, evs: VEvent[], final = false): Alert[] {
  const b = emptyBatch(0);
  b.partition = 0;
  b.events = evs;
  b.wm = Float64Array.from(evs, (e) => task.tracker.observe(0, e.time, 0));
  b.watermark = final ? Infinity : task.tracker.watermark;
  b.final = final;
  for (const p of task.pipelines) p.process(b);
  task.lastOffset = evs.length > 0 ? evs[evs.length - 1].offset : task.lastOffset;
  return b.alerts;
}

/** A store as Redis keeps it: the meta value and one field per (pipeline, key), changed keys only. */
class FakeStore {
  meta: Buffer | undefined;
  readonly fields = new Map<string, Buffer>();
  written = 0;

  save(d: CheckpointDelta): void {
    if (d.full) this.fields.clear();
    for (const [i, key, value] of d.changes) {
      if (value === null) this.fields.delete(`${i}:${key}`);
      else this.fields.set(`${i}:${key}`, packr.pack(value));
      this.written++;
    }
    this.meta = packr.pack(d.meta);
  }

  load() {
    const fields: Buffer[] = [];
    for (const [f, v] of this.fields) fields.push(Buffer.from(f), v);
    return decodeCheckpoint({ meta: this.meta as Buffer, fields });
  }
}

/**
 * Alerts per key, in order, through msgpack as they are written. Order across keys is unspecified
 * (docs/semantics.md): a restored window emits the results of one watermark step in another key order.
 */
function perKey(alerts: Alert[]): Array<[string, unknown[]]> {
  const out = new Map<string, unknown[]>();
  for (const a of packr.unpack(packr.pack(alerts)) as Alert[]) out.set(a.key, [...(out.get(a.key) ?? []), a]);
  return [...out].sort((x, y) => (x[0] < y[0] ? -1 : 1));
}

/**
 * The whole state of a task's pipelines, through msgpack as a checkpoint goes. A window snapshot lists
 * windows in no meaningful order (each carries its key's stamp): sorted here. The detectors' lists are
 * in order of activity, which matters (eviction, expiry), and are compared as they are.
 */
function whole(t: Task): unknown {
  const snaps = packr.unpack(packr.pack(t.pipelines.map((p) => p.snapshot()))) as Array<{ window: { windows?: Array<[string, number]> } }>;
  for (const s of snaps) s.window.windows?.sort((a, b) => (a[0] === b[0] ? a[1] - b[1] : a[0] < b[0] ? -1 : 1));
  return snaps;
}

describe('per-key checkpoints of detector state', () => {
  it('restore what a whole snapshot holds, and the run goes on with the same alerts', () => {
    fc.assert(
      fc.property(
        fc.array(specArb, { minLength: 20, maxLength: 160 }),
        fc.array(fc.integer({ min: 1, max: 25 }), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 2, max: 12 }),
        fc.nat(),
        (specs, cuts, maxKeys, restoreAt) => {
          const evs = events(specs);
          const configs = pipelines(maxKeys);
          const reference = new Task('r', configs, deps, wm, 0);
          const a = new Task('a', configs, deps, wm, 0);
          a.trackChanges();
          const store = new FakeStore();
          // Batches of the cut sizes; a checkpoint after each; a restore after batch `restoreAt`.
          const batches: VEvent[][] = [];
          for (let i = 0, c = 0; i < evs.length; c++) {
            const n = cuts[c % cuts.length];
            batches.push(evs.slice(i, i + n));
            i += n;
          }
          const at = restoreAt % batches.length;
          const expected: Alert[] = [];
          const got: Alert[] = [];
          let task = a;
          batches.forEach((batch, i) => {
            expected.push(...feed(reference, batch));
            got.push(...feed(task, batch));
            store.save(task.checkpoint(0));
            if (i === at) {
              const loaded = store.load();
              expect(loaded?.meta.v).toBe(3);
              const b = new Task('b', configs, deps, wm, 0);
              b.trackChanges();
              expect(b.restore(loaded!, 0, 0)).toEqual(['customers', 'hourly']);
              expect(whole(b)).toEqual(whole(task));
              task = b;
            }
          });
          expected.push(...feed(reference, [], true));
          got.push(...feed(task, [], true));
          expect(perKey(got)).toEqual(perKey(expected));
        },
      ),
      { numRuns: 80 },
    );
  });

  it('writes only the keys that changed since the previous checkpoint', () => {
    const evs = events(Array.from({ length: 200 }, (_, i) => ({ key: i % 10, dt: 1000, amount: 20 + (i % 7), device: i % 3, far: false, step: 2 })));
    const t = new Task('t', pipelines(100), deps, { maxOutOfOrderness: 0, idleTimeout: 0 }, 0);
    t.trackChanges();
    feed(t, evs);
    const first = t.checkpoint(0);
    expect(first.full).toBe(true);
    expect(new Set(first.changes.filter(([i]) => i === 0).map(([, k]) => k)).size).toBe(10);
    // Detectors judge an event once the watermark passes it: the last one (of c9) still waits, in the meta part.
    const one = (key: number, dt: number, id: string) => events([{ key, dt: 0, amount: 30, device: 1, far: false, step: 2 }]).map((e) => ({ ...e, time: evs[199].time + dt, id }));
    feed(t, one(3, 1000, 'x'));
    const next = t.checkpoint(0);
    expect(next.full).toBe(false);
    // The event of c3 released that of c9: c9 alone changed in the detectors' pipeline; its entry holds its detectors' state.
    expect(next.changes.filter(([i]) => i === 0).map(([, k]) => k)).toEqual(['c9']);
    const entry = next.changes.find(([i]) => i === 0)![2] as [unknown[], unknown[]];
    expect(entry[1]).not.toBeNull();
    expect(JSON.stringify(next.meta)).not.toContain('"c7"');
    feed(t, one(5, 2000, 'y'));
    expect(t.checkpoint(0).changes.filter(([i]) => i === 0).map(([, k]) => k)).toEqual(['c3']);
    // Nothing new: nothing to write.
    expect(t.checkpoint(0).changes).toEqual([]);
  });

  it('restores a checkpoint of the previous version (detectors whole in the meta part), then writes every key', () => {
    const evs = events(Array.from({ length: 120 }, (_, i) => ({ key: i % 6, dt: 20_000, amount: i % 11 === 0 ? 1500 : 25, device: i % 4, far: i % 13 === 0, step: i % 3 })));
    const configs = pipelines(50);
    const reference = new Task('r', configs, deps, wm, 0);
    feed(reference, evs.slice(0, 80));
    const a = new Task('a', configs, deps, wm, 0);
    a.trackChanges();
    feed(a, evs.slice(0, 80));
    // Version 2: a key's field held its windows' entries only; the detectors were whole in the meta part.
    const cp = a.checkpoint(0);
    const v2Meta = { ...cp.meta, v: 2, pipelines: a.pipelines.map((p) => [p.name, p.windowHash, { ...(p.snapshotMeta() as object), detectors: p.detectors.snapshot() }]) };
    const fields: Buffer[] = [];
    for (const [i, key, value] of cp.changes) if (value !== null && (value as unknown[][])[0].length > 0) fields.push(Buffer.from(`${i}:${key}`), packr.pack((value as unknown[][])[0]));
    const loaded = decodeCheckpoint({ meta: packr.pack(v2Meta), fields });
    const b = new Task('b', configs, deps, wm, 0);
    b.trackChanges();
    expect(b.restore(loaded!, 0, 0)).toEqual(['customers', 'hourly']);
    expect(whole(b)).toEqual(whole(a));
    expect(b.checkpoint(0).full).toBe(true);
    const ref = feed(reference, evs.slice(80), true);
    expect(ref.length).toBeGreaterThan(10);
    expect(perKey(feed(b, evs.slice(80), true))).toEqual(perKey(ref));
  });
});

describe('KeyedState change tracking and per-key entries', () => {
  it('notes touched, set, peeked, deleted, expired and evicted keys, and restores the order from stamps', () => {
    const changes = new ChangedKeys();
    changes.enable();
    const s = new KeyedState<number>(3);
    s.track(changes);
    s.set('a', 1);
    s.set('b', 2);
    s.set('c', 3);
    expect([...changes.take()]).toEqual(['a', 'b', 'c']);
    s.touch('a');
    expect([...changes.take()]).toEqual(['a']);
    s.set('d', 4); // evicts b, the least recently active
    expect([...changes.take()].sort()).toEqual(['b', 'd']);
    s.peek('c');
    s.delete('zzz');
    expect([...changes.take()]).toEqual(['c']);
    s.expireBefore((v) => v, 4); // in order of activity c (3), a (1), d (4): the first two go
    expect([...changes.take()].sort()).toEqual(['a', 'c']);
    expect([...s.keys()]).toEqual(['d']);

    const t = new KeyedState<number>(10);
    for (const k of ['x', 'y', 'z']) t.set(k, k.charCodeAt(0));
    t.touch('x');
    const keys = ['z', 'x', 'y'];
    const u = new KeyedState<number>(10);
    u.restoreKeys<number>(t.snapshotMeta(), { keys, entries: keys.map((k) => t.snapshotKey(k, (v) => v * 10)) }, (v) => v / 10, 'test');
    expect([...u.entries()]).toEqual([...t.entries()]);
    // New keys come after the restored ones.
    u.set('w', 1);
    expect(u.snapshotKey('w', (v) => v)![0]).toBeGreaterThan(u.snapshotKey('x', (v) => v)![0]);
    expect(() => u.restoreKeys(t.snapshotMeta(), { keys: ['q'], entries: ['bad'] }, (v) => v, 'test state')).toThrow(/test state: bad snapshot entry/);
  });
});
