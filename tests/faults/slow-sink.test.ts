/**
 * A sink that is slow for a while (it holds its acknowledgement for hundreds of milliseconds on its
 * first writes, then acknowledges at once): the engine's credits hold the source back, so no more
 * than `engine.maxInflightBatches` batches are ever read and not yet acknowledged; the engine stays
 * ready (slow is not down), finishes by itself, and every alert arrives exactly once, the same set as
 * an unthrottled run of the same input.
 */
import { describe, expect, it } from 'vitest';
import { memorySink, type MemorySink } from '../../sinks/memory.js';
import { Engine } from '../../src/engine/engine.js';
import { EngineMetrics } from '../../src/metrics/registry.js';
import { memorySource } from '../../src/sources/memory.js';
import type { RawBatch, Source } from '../../src/sources/types.js';
import { config, resultSet } from '../helpers/collect.js';
import { END_EVENT, USER_PIPELINES, userBursts } from '../helpers/user-bursts.js';

const MAX_INFLIGHT = 4;

const CFG = `
time: { maxOutOfOrderness: 0 }
sources: [{ name: in, type: stdin }]
${USER_PIPELINES}
sinks: [{ name: c, type: console }]
engine: { maxInflightBatches: ${MAX_INFLIGHT} }
metrics: { enabled: false }
`;

const USERS = 30;
const PER_USER = 40;
const BATCH = 20;
/** Writes whose acknowledgement is held back, and for how long. */
const SLOW_WRITES = 6;
const SLOW_MS = 250;

/** 1200 events in 60 full batches, then one batch holding a far-future event that closes every window. */
function records(): object[] {
  return [...userBursts(USERS, PER_USER), END_EVENT];
}

/** The memory source, noting the last offset of every batch it hands over (offsets grow: partition 0 only). */
function countingSource(recs: object[], onPull: () => void): { source: Source; lastOffsets: number[] } {
  const inner = memorySource(recs, { name: 'in', batchSize: BATCH });
  const lastOffsets: number[] = [];
  const source: Source = {
    ...inner,
    async *batches(): AsyncGenerator<RawBatch> {
      for await (const b of inner.batches()) {
        if (b.records.length === 0) {
          yield b; // an empty end-of-input batch carries no position
          continue;
        }
        lastOffsets.push(b.records[b.records.length - 1].offset);
        onPull();
        yield b;
      }
    },
  };
  return { source, lastOffsets };
}

/** An acknowledging sink that holds its first `slowWrites` acknowledgements for `ms` each. */
function slowSink(slowWrites: number, ms: number, onSlowWrite: () => void): MemorySink & { slowDone: () => boolean; holding: () => boolean } {
  const inner = memorySink('slow', ['alerts', 'results']);
  let slow = 0;
  let holding = false;
  const write = inner.write.bind(inner);
  return Object.assign(inner, {
    async write(b: Parameters<MemorySink['write']>[0]) {
      if (slow < slowWrites) {
        slow++;
        holding = true;
        onSlowWrite();
        await new Promise((r) => setTimeout(r, ms));
        holding = false;
      }
      await write(b);
    },
    slowDone: () => slow >= slowWrites,
    holding: () => holding,
  });
}

describe('a sink that is slow for a while', () => {
  it('holds the source to maxInflightBatches, stays ready, and delivers every alert exactly once', async () => {
    const recs = records();
    const ref = memorySink('ref', ['alerts', 'results']);
    await new Engine({ loaded: config(CFG), mode: 'replay', sources: [memorySource(recs, { name: 'in', batchSize: BATCH })], sinks: [ref] }).run();
    const expected = ref.alerts.map((a) => a.id);
    expect(new Set(expected).size).toBe(expected.length);
    expect(expected.length).toBeGreaterThan(200);

    let engine!: Engine;
    let lastOffsets!: number[];
    /** Batches handed over by the source whose outputs every sink has acknowledged. */
    const acked = () => {
      const durable = engine.durablePositions.get(0) ?? 0;
      let n = 0;
      while (n < lastOffsets.length && lastOffsets[n] <= durable) n++;
      return n;
    };
    const inflight = () => lastOffsets.length - acked();
    let maxInflight = 0;
    let maxInflightWhileSlow = 0;
    let readyWhileSlow = true;
    const readinessWhileSlow: string[] = [];
    let pulledWhenSlowEnded = -1;
    const counting = countingSource(recs, () => (maxInflight = Math.max(maxInflight, inflight())));
    lastOffsets = counting.lastOffsets;
    const sink = slowSink(SLOW_WRITES, SLOW_MS, () => {
      maxInflightWhileSlow = Math.max(maxInflightWhileSlow, inflight());
      const r = engine.readiness();
      if (!r.ready) {
        readyWhileSlow = false;
        readinessWhileSlow.push(...r.reasons);
      }
    });
    const metrics = new EngineMetrics(false);
    engine = new Engine({ loaded: config(CFG), mode: 'replay', sources: [counting.source], sinks: [sink], metrics });

    // Sample in-flight batches and the engine's own gauge while the run goes on (bounded: the run's length).
    let gaugeMax = 0;
    let sampling = true;
    const sampler = (async () => {
      const deadline = Date.now() + 20_000;
      while (sampling && Date.now() < deadline) {
        maxInflight = Math.max(maxInflight, inflight());
        if (sink.holding()) maxInflightWhileSlow = Math.max(maxInflightWhileSlow, inflight());
        if (sink.slowDone() && pulledWhenSlowEnded < 0) pulledWhenSlowEnded = lastOffsets.length;
        const g = (await metrics.inflightBatches.get()).values[0]?.value ?? 0;
        gaugeMax = Math.max(gaugeMax, g);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();

    const t0 = performance.now();
    let summary;
    try {
      summary = await Promise.race([
        engine.run(),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the engine did not finish by itself within 15 s')), 15_000)),
      ]);
    } finally {
      sampling = false;
      await sampler;
      engine.stop();
    }
    const ms = performance.now() - t0;

    // The sink really was slow: the run waited for every held acknowledgement, one after the other.
    expect(sink.slowDone()).toBe(true);
    expect(ms).toBeGreaterThanOrEqual(SLOW_WRITES * SLOW_MS - 50);

    // Credits: never more than maxInflightBatches read and not yet acknowledged; the slow sink used them all.
    const totalBatches = Math.ceil(recs.length / BATCH);
    expect(lastOffsets.length).toBe(totalBatches);
    expect(maxInflight).toBeLessThanOrEqual(MAX_INFLIGHT);
    expect(maxInflightWhileSlow).toBeLessThanOrEqual(MAX_INFLIGHT);
    expect(maxInflightWhileSlow).toBe(MAX_INFLIGHT);
    // While the sink held its last slow acknowledgement, the source had not read ahead.
    expect(pulledWhenSlowEnded).toBeGreaterThan(0);
    expect(pulledWhenSlowEnded).toBeLessThan(totalBatches / 2);
    // The engine's gauge (vigie_inflight_batches) showed the credits in use, and none is left at the end.
    expect(gaugeMax).toBeGreaterThan(0);
    expect(gaugeMax).toBeLessThanOrEqual(MAX_INFLIGHT);
    expect((await metrics.inflightBatches.get()).values[0]?.value).toBe(0);

    // Slow is not down: ready throughout.
    expect(readinessWhileSlow).toEqual([]);
    expect(readyWhileSlow).toBe(true);

    // Finished by itself, everything delivered and acknowledged, nothing lost or repeated.
    expect(engine.durablePositions.get(0)).toBe(recs.length);
    expect(summary.alerts.total).toBe(expected.length);
    const ids = sink.alerts.map((a) => a.id);
    expect(ids.length).toBe(expected.length);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual([...expected].sort());
    expect(resultSet(sink.results)).toEqual(resultSet(ref.results));
  }, 30_000);
});
