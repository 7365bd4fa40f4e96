/**
 * A commit refused by a rebalance on a partition that then goes quiet. The instance's consumer stalls
 * longer than its session timeout (its event loop blocked), so the real broker expels it from the group;
 * the commit it makes right after carries its old membership and is refused (UNKNOWN_MEMBER_ID). The
 * consumer rejoins and keeps the partition, and no record arrives any more: the group's committed
 * offset must still reach what the checkpoint covered, and vigie_uncommitted_records must say what is
 * owed meanwhile. Real broker (the test setup's), real group coordinator.
 */
import { describe, expect, it } from 'vitest';
import { EngineMetrics } from '../../src/metrics/registry.js';
import { create, schema } from '../../src/sources/kafka.js';
import type { RawBatch } from '../../src/sources/types.js';
import { systemClock } from '../../src/types.js';
import { capturedLogger } from '../helpers/capture.js';
import { brokers, produce, uniqueTopic, withAdmin } from '../helpers/kafka.js';

const SESSION_MS = 6000;

async function committedOffset(groupId: string, topic: string): Promise<number> {
  return withAdmin(async (admin) => Number((await admin.fetchOffsets({ groupId, topics: [topic] }))[0].partitions[0].offset));
}

describe('offset commits across a rebalance', () => {
  it('a commit refused during a rebalance is made again once the group is joined again, though the partition stays quiet', async () => {
    const topic = uniqueTopic('refused-commit');
    const groupId = `${topic}-group`;
    await withAdmin((admin) => admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1, replicationFactor: 1 }] }));
    await produce(
      topic,
      Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: JSON.stringify({ id: `e${i}`, ts: 1_700_000_000_000 + i }) })),
    );
    const abort = new AbortController();
    const metrics = new EngineMetrics(false);
    const { logger, text } = capturedLogger();
    const config = schema.parse({
      name: 'payments',
      type: 'kafka',
      topics: [topic],
      groupId,
      sessionTimeout: SESSION_MS,
      heartbeatInterval: 500,
      client: { brokers: brokers().join(','), connectionTimeout: 1000, requestTimeout: 5000 },
    });
    const source = create(config, { baseDir: '.', clock: systemClock, logger, batchSize: 100, stdin: process.stdin, signal: abort.signal, metrics });
    const it = source.batches()[Symbol.asyncIterator]();
    try {
      let last = -1;
      while (last < 9) {
        const next = await it.next();
        const b = next.value as RawBatch;
        last = b.records[b.records.length - 1].offset;
      }
      // Stall past the session timeout: the broker expels this member and the group moves on without it.
      const until = Date.now() + SESSION_MS + 3000;
      while (Date.now() < until) {
        /* blocked, as a process under a long GC pause or CPU starvation */
      }
      // The checkpoint covering offsets 0..9 was written: the engine commits with the old membership.
      await source.commit?.(new Map([[0, 9]]));
      expect(text()).toMatch(/offset commit refused/);
      // No record arrives any more. The consumer rejoins, keeps the partition, and the owed commit is made.
      const deadline = Date.now() + 45_000;
      let offset = await committedOffset(groupId, topic);
      while (offset !== 10 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 500));
        offset = await committedOffset(groupId, topic);
      }
      expect(offset).toBe(10);
      expect(await metrics.text()).toContain(`vigie_uncommitted_records{source="payments",topic="${topic}",partition="0"} 0`);
    } finally {
      abort.abort();
      await source.close();
    }
  }, 90_000);
});
