import { describe, expect, it } from 'vitest';
import { PipelineCore } from '../../src/engine/pipeline.js';
import { pipelineSchema } from '../../src/config/pipeline.js';
import { VersionedTable } from '../../src/sources/tables/versioned.js';
import { emptyBatch, type VEvent, type WindowResult } from '../../src/types.js';
import { mulberry32 as rng } from '../helpers/rng.js';

describe('enrich: property', () => {
  it('each event gets the row valid at its time, whatever the batching; dead letters are exactly the misses', () => {
    for (let seed = 1; seed <= 60; seed++) {
      const r = rng(seed);
      const table = new VersionedTable({ maxVersions: 1000, maxRows: 1000 });
      const versions: Array<{ key: string; time: number; risk: number | null }> = [];
      for (let i = 0; i < 40; i++) {
        const v = { key: `m${Math.floor(r() * 5)}`, time: Math.floor(r() * 100), risk: r() < 0.15 ? null : i };
        versions.push(v);
        table.put(v.key, v.time, v.risk === null ? null : { risk: v.risk });
      }
      const policy = (['pass', 'dead-letter'] as const)[seed % 2];
      const p = new PipelineCore(
        pipelineSchema.parse({
          name: 'p',
          key: 'id',
          enrich: [{ table: 't', on: 'merchant', missing: policy }],
          window: { type: 'tumbling', size: 1 },
          aggregates: [{ name: 'risk', fn: 'last', field: 't.risk' }],
        }),
        { configVersion: 't', detectionTime: () => 0, tables: new Map([['t', { name: 't', lookup: (k: string, t: number) => table.get(k, t), count: (k: string, a: number, b: number) => table.count(k, a, b) }]]) },
      );
      const events: VEvent[] = Array.from({ length: 80 }, (_, i) => ({
        time: Math.floor(r() * 120),
        id: `e${i}`,
        partition: 0,
        offset: i,
        source: 's',
        payload: r() < 0.05 ? { id: `e${i}` } : { id: `e${i}`, merchant: `m${Math.floor(r() * 6)}` },
      }));
      // Naive reference: the last-written version with the largest time <= the event's time.
      const want = new Map<string, number | null>();
      for (const e of events) {
        const m = e.payload.merchant;
        let best: (typeof versions)[number] | undefined;
        for (const v of versions) if (v.key === m && v.time <= e.time && (best === undefined || v.time >= best.time)) best = v;
        want.set(e.id!, best?.risk ?? null);
      }
      const results: WindowResult[] = [];
      const dead: string[] = [];
      for (let i = 0; i < events.length; ) {
        const n = 1 + Math.floor(r() * 10);
        const b = emptyBatch(0);
        b.events = events.slice(i, i + n);
        b.wm = new Float64Array(b.events.length).fill(-Infinity);
        p.process(b);
        results.push(...b.results);
        dead.push(...b.deadLetters.map((d) => (d.raw as { id: string }).id));
        i += n;
      }
      const end = emptyBatch(0);
      end.watermark = Infinity;
      p.process(end);
      results.push(...end.results);
      const got = new Map(results.map((x) => [x.key, x.values.risk]));
      const missing = [...want].filter(([, v]) => v === null).map(([k]) => k);
      if (policy === 'dead-letter') {
        expect(dead.sort(), `seed ${seed}`).toEqual(missing.sort());
        for (const k of missing) expect(got.has(k)).toBe(false);
      } else expect(dead).toEqual([]);
      for (const [k, v] of want) if (v !== null) expect(got.get(k), `seed ${seed} ${k}`).toBe(v);
      const counts = p.enrich!.takeCounts()[0];
      expect(counts.misses, `seed ${seed}`).toBe(missing.length);
      expect(counts.hits + counts.misses).toBe(events.length);
    }
  });
});
