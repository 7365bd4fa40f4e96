/**
 * Redis going away in the middle of a run: the sink retries the same batch until Redis is back,
 * reports itself down meanwhile, the engine's committable positions stay where they were (the sink's
 * pending write holds the batch, and the engine's credits hold the source), and in the end every
 * alert is in the stream exactly once. Uses a private redis-server with persistence (append-only
 * file, synced before each reply), so what was acknowledged before the stop is still there after.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memorySink } from '../../sinks/memory.js';
import { create, schema } from '../../sinks/redis.js';
import type { RedisSink } from '../../sinks/redis-writer.js';
import { Engine } from '../../src/engine/engine.js';
import { silentLogger } from '../../src/log.js';
import { EngineMetrics } from '../../src/metrics/registry.js';
import { memorySource } from '../../src/sources/memory.js';
import type { RawBatch, Source } from '../../src/sources/types.js';
import { startRedis, type RedisService } from '../infra/index.js';
import { config } from '../helpers/collect.js';
import { END_EVENT, USER_PIPELINES, userBursts } from '../helpers/user-bursts.js';


const CFG = `
time: { maxOutOfOrderness: 0 }
sources: [{ name: in, type: stdin }]
${USER_PIPELINES}
sinks: [{ name: c, type: console }]
engine: { maxInflightBatches: 4 }
metrics: { enabled: false }
`;

const USERS = 30;
const PER_USER = 40;
const BATCH = 20;

function records(): object[] {
  return [...userBursts(USERS, PER_USER), END_EVENT];
}

/** The memory source, holding back everything after `gateAfter` batches until `open()` is called. */
function gatedSource(recs: object[], gateAfter: number): { source: Source; reached: () => boolean; open: () => void } {
  const inner = memorySource(recs, { name: 'in', batchSize: BATCH });
  let opened!: () => void;
  const gate = new Promise<void>((resolve) => (opened = resolve));
  let waiting = false;
  const source: Source = {
    ...inner,
    async *batches(): AsyncGenerator<RawBatch> {
      let n = 0;
      for await (const b of inner.batches()) {
        if (n++ === gateAfter) {
          waiting = true;
          await gate;
        }
        yield b;
      }
    },
  };
  return { source, reached: () => waiting, open: () => opened() };
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('redis sink through a Redis outage', () => {
  let svc: RedisService;

  beforeAll(async () => {
    svc = await startRedis({ persistence: true });
  });

  afterAll(async () => {
    await svc?.stop();
  });

  it('retries while Redis is down, holds the input positions, and stores every alert exactly once', async (t) => {
    if (svc.stopServer === undefined || svc.startServer === undefined) {
      t.skip(); // a server that is not ours to stop (testcontainers)
      return;
    }
    const recs = records();
    const ref = memorySink('ref', ['alerts']);
    await new Engine({ loaded: config(CFG), mode: 'replay', sources: [memorySource(recs, { name: 'in', batchSize: BATCH })], sinks: [ref] }).run();
    const expected = ref.alerts.map((a) => a.id);
    expect(new Set(expected).size).toBe(expected.length);
    expect(expected.length).toBeGreaterThan(200);

    const totalBatches = Math.ceil(recs.length / BATCH);
    const gateAfter = Math.floor(totalBatches / 3);
    const { source, reached, open } = gatedSource(recs, gateAfter);
    const metrics = new EngineMetrics(false);
    const sink = create(
      schema.parse({
        name: 'redis',
        type: 'redis',
        url: svc.url,
        stream: 'outage:alerts',
        prefix: 'outage',
        connectTimeout: 300,
        commandTimeout: 1000,
        retry: { initialDelay: 50, maxDelay: 300 },
      }),
      { baseDir: process.cwd(), stdout: process.stdout, logger: silentLogger, metrics },
    ) as RedisSink;
    const engine = new Engine({ loaded: config(CFG), mode: 'replay', sources: [source], sinks: [sink], metrics });
    let failure: unknown;
    let finished = false;
    const running = engine.run().then(
      () => void (finished = true),
      (err: unknown) => {
        failure = err;
        finished = true;
      },
    );
    const admin = new Redis(svc.url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 100 });
    admin.on('error', () => {});
    try {
      // Phase 1: everything before the gate is delivered.
      const lastOffsetBeforeGate = gateAfter * BATCH;
      await until('phase 1 delivered', () => reached() && engine.durablePositions.get(0) === lastOffsetBeforeGate, 10_000);
      await admin.connect();
      const storedBefore = await admin.xlen('outage:alerts');
      expect(storedBefore).toBeGreaterThan(0);
      expect(sink.healthy()).toBe(true);

      // Phase 2: Redis stops, then the input flows again.
      await svc.stopServer();
      open();
      await until('the sink to retry', () => sink.stats.retries >= 2 && !sink.healthy(), 5000);
      // Batches without alerts may still have been delivered since the stop (nothing to make durable):
      // from the first write that hit the outage on, the positions stay.
      const held = engine.durablePositions.get(0) as number;
      expect(held).toBeGreaterThanOrEqual(lastOffsetBeforeGate);
      expect(held).toBeLessThan(recs.length);
      await sleep(700);
      expect(finished).toBe(false);
      expect(engine.durablePositions.get(0)).toBe(held);
      const retries = (await metrics.sinkRetries.get()).values.find((v) => v.labels.sink === 'redis')?.value ?? 0;
      expect(retries).toBeGreaterThan(0);
      expect((await metrics.sinkUp.get()).values.find((v) => v.labels.sink === 'redis')?.value).toBe(0);
      expect(engine.readiness().reasons).toContain('sink redis cannot write (retrying)');

      // Phase 3: Redis is back with its data; the run completes.
      await svc.startServer();
      await Promise.race([running, sleep(20_000)]);
      expect(failure).toBeUndefined();
      expect(finished).toBe(true);
      expect(sink.healthy()).toBe(true);
      expect(engine.durablePositions.get(0)).toBe(recs.length);

      const ids: string[] = [];
      for (const [, fields] of (await admin.xrange('outage:alerts', '-', '+')) as Array<[string, string[]]>) ids.push(fields[fields.indexOf('id') + 1]);
      expect(ids.length).toBe(expected.length);
      expect(new Set(ids).size).toBe(ids.length);
      expect([...ids].sort()).toEqual([...expected].sort());
      // A batch whose reply was lost in the stop is retried: its alerts are skipped then, not stored twice.
      expect(sink.stats.stored).toBeLessThanOrEqual(expected.length);
    } finally {
      open();
      engine.stop();
      await Promise.race([running, sleep(5000)]);
      admin.disconnect();
    }
  }, 45_000);
});
