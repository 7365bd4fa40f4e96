import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { runLoadgen, type LoadgenOptions } from '../../load-tests/loadgen.js';
import { brokers, kafkaClient, uniqueTopic, withAdmin } from '../helpers/kafka.js';

interface Got {
  partition: number;
  offset: number;
  key: string;
  value: Record<string, unknown>;
  bytes: number;
}

/** Reads `count` records of `topic` from the start; fails after `timeoutMs`. */
async function consume(topic: string, count: number, timeoutMs = 60_000): Promise<Got[]> {
  const consumer = kafkaClient().consumer({ groupId: `vigie-test-loadgen-${randomUUID()}`, maxWaitTimeInMs: 100 });
  const got: Got[] = [];
  let timer: NodeJS.Timeout | undefined;
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`read ${got.length} of ${count} records in ${timeoutMs} ms`)), timeoutMs);
      consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            const raw = message.value?.toString() ?? '';
            got.push({ partition, offset: Number(message.offset), key: message.key?.toString() ?? '', value: JSON.parse(raw) as Record<string, unknown>, bytes: Buffer.byteLength(raw) });
            if (got.length >= count) resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
  }
  return got;
}

describe('loadgen against Kafka', () => {
  it('writes the planned events on schedule into a new topic, with their fields, produced_at and the asked disorder', async () => {
    const topic = uniqueTopic('loadgen');
    const list = brokers();
    const options: LoadgenOptions = {
      topic, rate: 1000, count: 2000, durationS: 60, keys: 500, zipf: 1.1, size: 400, outOfOrder: 0.1, maxDelay: 1000,
      fraudRate: 0.02, seed: 5, partitions: 1, createTopic: true, tickMs: 5, inflight: 8, acks: -1,
    };
    const before = Date.now();
    const summary = await runLoadgen(kafkaClient(), list.join(','), options);
    const after = Date.now();
    expect(summary.events).toBe(2000);
    expect(summary.targetRate).toBe(1000);
    expect(summary.lagMaxMs).toBeGreaterThanOrEqual(summary.lagP99Ms);
    expect(summary.lagP99Ms).toBeGreaterThanOrEqual(summary.lagP50Ms);
    // 2000 events at 1000/s: the last one is due 1.999 s after the start.
    expect(summary.sendSeconds).toBeGreaterThanOrEqual(2);

    const offsets = await withAdmin((admin) => admin.fetchTopicOffsets(topic));
    expect(offsets.length).toBe(1);
    expect(offsets.reduce((a, o) => a + Number(o.high), 0)).toBe(2000);

    const got = await consume(topic, 2000);
    expect(got.length).toBe(2000);
    expect(new Set(got.map((g) => g.value.id)).size).toBe(2000);
    let bytes = 0;
    for (const g of got) {
      const v = g.value;
      for (const f of ['id', 'ts', 'produced_at', 'customer', 'card', 'amount', 'merchant', 'device', 'beneficiary', 'lat', 'lon']) {
        expect(v[f], `${f} of ${JSON.stringify(v)}`).toBeDefined();
      }
      expect(g.key).toBe(v.customer);
      expect(g.bytes).toBe(400);
      const producedAt = v.produced_at as number;
      expect(producedAt).toBeGreaterThanOrEqual(before);
      expect(producedAt).toBeLessThanOrEqual(after);
      // Never sent before its event time (scheduled send time), out-of-order events even later.
      expect(producedAt).toBeGreaterThanOrEqual(v.ts as number);
      bytes += g.bytes + g.key.length;
    }
    expect(summary.bytes).toBe(bytes);
    expect(got.filter((g) => g.value.label === 'card_testing').length).toBe(summary.fraudEvents);
    expect(summary.fraudEvents).toBeGreaterThan(0);

    // One partition, read in offset order: an event is out of order when an earlier one has a later event time.
    got.sort((a, b) => a.offset - b.offset);
    let maxTs = -Infinity;
    let late = 0;
    for (const g of got) {
      const ts = g.value.ts as number;
      if (ts < maxTs) late++;
      maxTs = Math.max(maxTs, ts);
    }
    expect(late).toBeLessThanOrEqual(summary.outOfOrderEvents);
    expect(late).toBeGreaterThanOrEqual(summary.outOfOrderEvents * 0.95);
    expect(late / 2000).toBeGreaterThan(0.07);
    expect(late / 2000).toBeLessThan(0.13);
  });
});
