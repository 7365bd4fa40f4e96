import { describe, expect, it } from 'vitest';
import { RekeyInbox } from '../../src/engine/rekey-inbox.js';
import { RekeyOutbox, rekeyPackr, type OutMessage, type RekeyMarker, type RekeyRecord } from '../../src/engine/rekey-outbox.js';
import type { DeadLetter, VEvent } from '../../src/types.js';
import type { PipelineConfig } from '../../src/config/pipeline.js';
import { mulberry32 as rng } from '../helpers/rng.js';

describe('RekeyInbox (downstream watermark and redeliveries)', () => {
  it('is -Infinity until every upstream partition of every source has reported, then the least of them', () => {
    const inbox = new RekeyInbox(['a', 'b'], 0, 0);
    expect(inbox.watermark(0)).toBe(-Infinity);
    inbox.marker('a', 0, 2, 100, 0);
    expect(inbox.watermark(0)).toBe(-Infinity);
    expect(inbox.record('a', 1, 5, 50, 0)).toBe(true);
    // Source b never said how many partitions it has.
    expect(inbox.watermark(0)).toBe(-Infinity);
    inbox.marker('b', 0, 1, 70, 0);
    expect(inbox.watermark(0)).toBe(50);
    inbox.marker('a', 1, 2, 90, 0);
    expect(inbox.watermark(0)).toBe(70);
    // A marker behind what a partition already reported changes nothing.
    inbox.marker('b', 0, 1, 10, 0);
    expect(inbox.watermark(0)).toBe(70);
  });

  it('drops a record at an upstream offset already seen from its partition (a redelivery), and it does not move the watermark', () => {
    const inbox = new RekeyInbox(['a'], 0, 0);
    inbox.marker('a', 0, 1, 0, 0);
    expect(inbox.record('a', 0, 10, 100, 0)).toBe(true);
    expect(inbox.record('a', 0, 10, 500, 0)).toBe(false);
    expect(inbox.record('a', 0, 3, 500, 0)).toBe(false);
    expect(inbox.watermark(0)).toBe(100);
    expect(inbox.record('a', 0, 11, 120, 0)).toBe(true);
    // Offsets are per upstream partition and source.
    expect(inbox.record('b', 0, 10, 1, 0)).toBe(true);
  });

  it('with idleTimeout, an upstream partition silent that long (or never heard of) stops holding the watermark back', () => {
    const inbox = new RekeyInbox(['a'], 1000, 0);
    inbox.marker('a', 0, 3, 100, 0);
    inbox.marker('a', 1, 3, 200, 500);
    expect(inbox.watermark(900)).toBe(-Infinity);
    // Partition 2 never reported, and partition 0 is silent since 0: both idle at 1000.
    expect(inbox.watermark(1000)).toBe(200);
    // Every one idle: the least of those that reported (a silent partition's watermark still bounds it).
    expect(inbox.watermark(1600)).toBe(100);
    inbox.marker('a', 0, 3, 150, 1600);
    expect(inbox.watermark(1700)).toBe(150);
    // Without idleness, never-heard partitions hold it at -Infinity however long.
    const strict = new RekeyInbox(['a'], 0, 0);
    strict.marker('a', 0, 3, 100, 0);
    expect(strict.watermark(1e9)).toBe(-Infinity);
  });

  it('snapshot and restore keep watermarks and offsets (a checkpoint)', () => {
    const inbox = new RekeyInbox(['a'], 0, 0);
    inbox.marker('a', 0, 2, 40, 0);
    inbox.record('a', 1, 7, 30, 0);
    const snap = rekeyPackr.unpack(rekeyPackr.pack(inbox.snapshot())) as ReturnType<RekeyInbox['snapshot']>;
    const other = new RekeyInbox(['a'], 0, 0);
    other.restore(snap, 10);
    expect(other.watermark(10)).toBe(30);
    expect(other.record('a', 1, 7, 99, 10)).toBe(false);
    expect(other.record('a', 1, 8, 45, 10)).toBe(true);
    expect(other.watermark(10)).toBe(40);
    other.restore(undefined, 20);
    expect(other.watermark(20)).toBe(-Infinity);
  });

  it('equals a naive reference over random upstream streams, interleavings, redeliveries and checkpoints', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const r = rng(seed);
      const sources = r() < 0.5 ? ['a'] : ['a', 'b'];
      const counts = new Map(sources.map((s) => [s, 1 + Math.floor(r() * 4)]));
      // Per upstream partition: a stream of records (offset, w) with w non-decreasing, then markers.
      type Msg = { src: string; p: number; kind: 'rec' | 'mark'; o: number; w: number };
      const streams: Msg[][] = [];
      for (const src of sources) {
        for (let p = 0; p < (counts.get(src) as number); p++) {
          const s: Msg[] = [];
          let w = Math.floor(r() * 100);
          let o = 0;
          const len = Math.floor(r() * 20);
          for (let i = 0; i < len; i++) {
            w += Math.floor(r() * 10);
            o += 1 + Math.floor(r() * 3);
            s.push(r() < 0.3 ? { src, p, kind: 'mark', o: -1, w } : { src, p, kind: 'rec', o, w });
            // An upstream restart: some of the stream is produced again.
            if (r() < 0.1 && s.length > 1) {
              const from = Math.floor(r() * s.length);
              s.push(...s.slice(from, s.length).map((m) => ({ ...m })));
            }
          }
          streams.push(s);
        }
      }
      // A random interleaving that keeps each upstream partition's order (as one Kafka partition does).
      const pos = streams.map(() => 0);
      const inbox = new RekeyInbox(sources, 0, 0);
      let live: RekeyInbox = inbox;
      const refW = new Map<string, number>();
      const refO = new Map<string, number>();
      const counted = new Set<string>();
      for (;;) {
        const open = streams.map((s, i) => i).filter((i) => pos[i] < streams[i].length);
        if (open.length === 0) break;
        const i = open[Math.floor(r() * open.length)];
        const m = streams[i][pos[i]++];
        const id = `${m.src}:${m.p}`;
        if (m.kind === 'mark') {
          live.marker(m.src, m.p, counts.get(m.src) as number, m.w, 0);
          counted.add(m.src);
          refW.set(id, Math.max(refW.get(id) ?? -Infinity, m.w));
        } else {
          const fresh = m.o > (refO.get(id) ?? -1);
          expect(live.record(m.src, m.p, m.o, m.w, 0), `seed ${seed}`).toBe(fresh);
          if (fresh) {
            refO.set(id, m.o);
            refW.set(id, Math.max(refW.get(id) ?? -Infinity, m.w));
          } else if (!refW.has(id)) refW.set(id, -Infinity);
          if (!refW.has(id)) refW.set(id, -Infinity);
        }
        let want = Infinity;
        for (const src of sources) {
          if (!counted.has(src)) want = -Infinity;
          for (let p = 0; p < (counts.get(src) as number); p++) {
            const w = refW.get(`${src}:${p}`);
            if (w === undefined) want = -Infinity;
            else want = Math.min(want, w);
          }
        }
        expect(live.watermark(0), `seed ${seed}`).toBe(want);
        // Now and then, a checkpoint and a restore in a new owner.
        if (r() < 0.05) {
          const next = new RekeyInbox(sources, 0, 0);
          next.restore(rekeyPackr.unpack(rekeyPackr.pack(live.snapshot())) as ReturnType<RekeyInbox['snapshot']>, 0);
          live = next;
        }
      }
    }
  });
});

describe('RekeyOutbox (upstream records and markers)', () => {
  const pipeline = (p: Partial<PipelineConfig>): PipelineConfig => ({ name: 'by-terminal', key: 'terminal', aggregates: [], detectors: [], evidenceLimit: 20, maxPendingEvents: 1, ...p }) as PipelineConfig;
  const ev = (i: number, payload: Record<string, unknown>): VEvent => ({ time: 1000 + i, id: `e${i}`, partition: 7, offset: 100 + i, source: 'payments', payload });

  it('sends each kept event keyed by the pipeline key, restricted to its fields, then a marker per partition when the watermark moved', () => {
    const box = new RekeyOutbox(new Map([['by-terminal', 't']]), new Map([['t', 3]]));
    box.configure([pipeline({ fields: ['terminal', 'amount', 'type'], where: { type: 'payment' } }), pipeline({ name: 'other', key: 'customer' })]);
    const events = [
      ev(0, { terminal: 'T1', amount: 5, type: 'payment', customer: 'C1' }),
      ev(1, { terminal: 'T2', type: 'login' }),
      ev(2, { amount: 3, type: 'payment' }),
      ev(3, { terminal: 7, type: 'payment' }),
    ];
    const out: OutMessage[] = [];
    const dead: DeadLetter[] = [];
    box.build('payments', 2, 7, 3, events, [10, 11, 12, 13], 13, 5, out, dead);
    const recs = out.filter((m) => m.key !== undefined);
    expect(recs.map((m) => m.key)).toEqual(['T1', '7']);
    const first = rekeyPackr.unpack(recs[0].value) as RekeyRecord;
    expect(first).toEqual({ t: 1000, id: 'e0', src: 'payments', p: 2, o: 100, w: 10, payload: { terminal: 'T1', amount: 5, type: 'payment' } });
    expect(dead.map((d) => [d.reason, d.pipeline, d.offset])).toEqual([['missing_key', 'by-terminal', 102]]);
    const markers = out.filter((m) => m.key === undefined);
    expect(markers.map((m) => m.partition)).toEqual([0, 1, 2]);
    expect(rekeyPackr.unpack(markers[0].value) as RekeyMarker).toEqual({ m: 1, src: 'payments', p: 2, n: 3, w: 13 });
    // Markers come after the records (one producer keeps their order within a partition).
    expect(out.findIndex((m) => m.key === undefined)).toBeGreaterThan(out.findLastIndex((m) => m.key !== undefined));
    // No new marker while the watermark stays; one again once it moves, or after the partition is forgotten.
    const again: OutMessage[] = [];
    box.build('payments', 2, 7, 3, [], [], 13, 6, again, dead);
    expect(again).toEqual([]);
    box.forget(7);
    box.build('payments', 2, 7, 3, [], [], 13, 6, again, dead);
    expect(again.length).toBe(3);
  });

  it('dead-letters (too_large) an event whose record would be larger than the topic takes', () => {
    const box = new RekeyOutbox(new Map([['by-terminal', 't']]), new Map([['t', 1]]), 200);
    box.configure([pipeline({})]);
    const out: OutMessage[] = [];
    const dead: DeadLetter[] = [];
    box.build('payments', 0, 0, 1, [ev(0, { terminal: 'T1' }), ev(1, { terminal: 'T2', note: 'x'.repeat(300) })], [1, 2], 2, 0, out, dead);
    expect(out.filter((m) => m.key !== undefined).map((m) => m.key)).toEqual(['T1']);
    expect(dead.map((d) => [d.reason, d.pipeline, d.offset])).toEqual([['too_large', 'by-terminal', 101]]);
  });

  it('sends nothing for a source the pipeline does not read', () => {
    const box = new RekeyOutbox(new Map([['by-terminal', 't']]), new Map([['t', 2]]));
    box.configure([pipeline({ sources: ['logins'] })]);
    const out: OutMessage[] = [];
    box.build('payments', 0, 0, 1, [ev(0, { terminal: 'T1' })], [1], 1, 0, out, []);
    expect(out).toEqual([]);
  });
});

describe('tasks run a subset of the pipelines (re-keying), also after a hot reload', async () => {
  const { Task } = await import('../../src/engine/task.js');
  const { Rekey } = await import('../../src/engine/rekey.js');
  const { Partitions } = await import('../../src/engine/partitions.js');
  const { configSchema } = await import('../../src/config/schema.js');
  const { silentLogger } = await import('../../src/log.js');
  const cfg = (terminalKey: string) =>
    configSchema.parse({
      name: 'e2e',
      sources: [{ name: 'payments', type: 'kafka', topics: ['payments'], groupId: 'g', partitionedBy: 'customer' }],
      pipelines: [
        { name: 'by-customer', key: 'customer', window: { type: 'tumbling', size: '1h' }, aggregates: [{ name: 'n', fn: 'count' }] },
        { name: 'by-terminal', key: terminalKey, window: { type: 'tumbling', size: '1h' }, aggregates: [{ name: 'n', fn: 'count' }] },
      ],
    });
  const deps = { configVersion: 'v', detectionTime: () => 0 };
  const wm = { maxOutOfOrderness: 0, idleTimeout: 0 };
  const partitions = new Partitions({ clock: { now: () => 0 }, logger: silentLogger, metrics: undefined, makeTask: () => undefined as never, interval: () => 0, seen: { snapshotSeen: () => undefined, restoreSeen: () => undefined } });
  const input = { name: 'payments', type: 'kafka', format: 'json', mapping: {}, partitions: () => [], batches: () => [], close: async () => {}, scoped: true } as never;

  it('an input partition runs the pipelines that are not re-keyed, and keeps to them when reconfigured', () => {
    const rekey = new Rekey(cfg('terminal'), true, partitions, silentLogger, undefined, wm);
    expect(rekey.plan.map((p) => p.topic)).toEqual(['e2e-by-terminal-repartition']);
    const task = new Task('payments:0', cfg('terminal').pipelines, deps, wm, 0, rekey.select(input, 0));
    expect(task.pipelines.map((p) => p.name)).toEqual(['by-customer']);
    task.reconfigure(cfg('terminal').pipelines, deps);
    expect(task.pipelines.map((p) => p.name)).toEqual(['by-customer']);
    // Replay (not live): nothing re-keyed, every task runs every pipeline.
    const replay = new Rekey(cfg('terminal'), false, partitions, silentLogger, undefined, wm);
    expect(replay.active).toBe(false);
    expect(new Task('payments:0', cfg('terminal').pipelines, deps, wm, 0, replay.select(input, 0)).pipelines.length).toBe(2);
  });

  it('a hot reload may not change which pipelines are re-keyed', () => {
    const rekey = new Rekey(cfg('terminal'), true, partitions, silentLogger, undefined, wm);
    expect(rekey.refuse(cfg('terminal'))).toBeUndefined();
    expect(rekey.refuse(cfg('customer'))).toMatch(/re-keyed .* need a restart/);
    // Its records in the topic are keyed by terminal: another key needs another topic.
    expect(rekey.refuse(cfg('device'))).toMatch(/need a restart/);
  });
});

describe('a Kafka source without partitionedBy', async () => {
  const { Rekey } = await import('../../src/engine/rekey.js');
  const { Partitions } = await import('../../src/engine/partitions.js');
  const { configSchema } = await import('../../src/config/schema.js');
  const { silentLogger } = await import('../../src/log.js');
  const pino = (await import('pino')).default;

  it('is warned about at start when it feeds pipelines with different keys, and not otherwise', () => {
    const warnings = (keys: string[], partitionedBy?: string) => {
      const lines: string[] = [];
      const logger = pino({ level: 'warn' }, { write: (l: string) => void lines.push(l) });
      const cfg = configSchema.parse({
        sources: [{ name: 'payments', type: 'kafka', topics: ['payments'], groupId: 'g', partitionedBy }],
        pipelines: keys.map((key, i) => ({ name: `p${i}`, key, window: { type: 'tumbling', size: '1h' }, aggregates: [{ name: 'n', fn: 'count' }] })),
      });
      const partitions = new Partitions({ clock: { now: () => 0 }, logger: silentLogger, metrics: undefined, makeTask: () => undefined as never, interval: () => 0, seen: { snapshotSeen: () => undefined, restoreSeen: () => undefined } });
      new Rekey(cfg, true, partitions, logger, undefined, { maxOutOfOrderness: 0, idleTimeout: 0 });
      return lines.map((l) => JSON.parse(l) as { msg: string; source: string });
    };
    const w = warnings(['customer', 'terminal']);
    expect(w.map((l) => [l.source, /without partitionedBy/.test(l.msg)])).toEqual([['payments', true]]);
    expect(warnings(['customer', 'customer'])).toEqual([]);
    expect(warnings(['customer', 'terminal'], 'customer')).toEqual([]);
  });
});
