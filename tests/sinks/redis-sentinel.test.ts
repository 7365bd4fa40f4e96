/**
 * The redis sink through Redis Sentinel, against real servers (tests/infra/sentinel.ts: a master, a
 * replica and a sentinel): it finds the master by asking the sentinel, follows a failover to the
 * promoted replica by itself, and every alert is in the stream exactly once afterwards. Through
 * Sentinel a batch is acknowledged only once a replica has it (`minReplicas` defaults to 1): with 0,
 * the batch written to the old master between the promotion and its demotion was acknowledged and
 * then lost (Redis replicates asynchronously), which this test caught.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create, schema } from '../../sinks/redis.js';
import { silentLogger } from '../../src/log.js';
import { startSentinelGroup, type SentinelGroup } from '../infra/sentinel.js';
import { alertBatch, sampleAlert } from '../helpers/alerts.js';

const STREAM = 'vigie:alerts:sentinel';
const alerts = (from: number, n: number) => Array.from({ length: n }, (_, i) => sampleAlert(`st-${from + i}`, `card-${(from + i) % 3}`));

async function streamIds(port: number): Promise<string[]> {
  const r = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1 });
  r.on('error', () => {});
  try {
    await r.connect();
    const entries = await r.xrange(STREAM, '-', '+');
    return entries.map(([, fields]) => fields[fields.indexOf('id') + 1]);
  } finally {
    r.disconnect();
  }
}

describe('redis sink through Sentinel', () => {
  let group: SentinelGroup;

  beforeAll(async () => {
    group = await startSentinelGroup();
  }, 60_000);

  afterAll(async () => {
    await group?.stop();
  });

  it('writes to the master the sentinel names, follows a failover by itself, and keeps every alert exactly once', async () => {
    const sink = create(
      schema.parse({
        name: 'sentinel',
        type: 'redis',
        sentinel: { name: group.name, sentinels: [group.sentinel] },
        stream: STREAM,
        channel: '',
        replicaTimeout: 500,
        retry: { initialDelay: 50, maxDelay: 500 },
      }),
      { baseDir: process.cwd(), stdout: process.stdout, logger: silentLogger },
    );
    try {
      const first = await group.masterPort();
      expect(first).toBe(group.ports[0]);
      await sink.write(alertBatch(alerts(0, 5)));
      expect(await streamIds(first)).toEqual(['st-0', 'st-1', 'st-2', 'st-3', 'st-4']);

      const promoted = await group.failover();
      expect(promoted).toBe(group.ports[1]);
      // The next batches reach the new master; one repeats two alerts already stored (a replayed batch).
      await sink.write(alertBatch(alerts(5, 5)));
      await sink.write(alertBatch(alerts(3, 4)));
      const ids = await streamIds(promoted);
      expect(ids).toEqual(Array.from({ length: 10 }, (_, i) => `st-${i}`));
      expect(sink.healthy?.()).toBe(true);
    } finally {
      await sink.close();
    }
  }, 60_000);
});
