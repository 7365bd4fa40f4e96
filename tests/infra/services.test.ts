import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { Redis } from 'ioredis';
import { services } from './index.js';

// Proves the services the global setup started are real servers, not stand-ins.

describe('provided Kafka', () => {
  const { kafkaBrokers } = services();
  const kafka = new Kafka({ brokers: kafkaBrokers, clientId: 'vigie-infra-test', logLevel: logLevel.NOTHING });
  const topic = `infra-roundtrip-${randomUUID()}`;
  let admin: Admin;
  let created = false;

  beforeAll(async () => {
    admin = kafka.admin();
    await admin.connect();
  });
  afterAll(async () => {
    if (created) await admin.deleteTopics({ topics: [topic], timeout: 5000 }).catch(() => {});
    await admin.disconnect();
  });

  it('creates a 3-partition topic, takes 1000 messages and gives them all back to a consumer group', async () => {
    expect(await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true })).toBe(true);
    created = true;
    const [meta] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics;
    expect(meta.partitions).toHaveLength(3);

    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    const sent = Array.from({ length: 1000 }, (_, i) => ({ key: `k${i % 37}`, value: `m${i}` }));
    await producer.send({ topic, messages: sent });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: `infra-group-${randomUUID()}`, maxWaitTimeInMs: 200 });
    const seen = new Set<string>();
    const partitions = new Set<number>();
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out with ${seen.size}/1000 messages`)), 45_000);
        consumer
          .run({
            eachMessage: async ({ partition, message }) => {
              seen.add(String(message.value));
              partitions.add(partition);
              if (seen.size === sent.length) {
                clearTimeout(timer);
                resolve();
              }
            },
          })
          .catch(reject);
      });
    } finally {
      await consumer.disconnect();
    }
    expect(seen.size).toBe(1000);
    expect([...seen].sort()).toEqual(sent.map((m) => m.value).sort());
    expect(partitions.size).toBe(3);

    await admin.deleteTopics({ topics: [topic] });
    created = false;
    // Deletion completes on the broker shortly after the call returns: wait for it, bounded.
    let topics = await admin.listTopics();
    for (let i = 0; i < 40 && topics.includes(topic); i++) {
      await new Promise((r) => setTimeout(r, 250));
      topics = await admin.listTopics();
    }
    expect(topics).not.toContain(topic);
  }, 60_000);
});

describe('provided Redis', () => {
  const { redisUrl } = services();
  let redis: Redis;

  beforeAll(async () => {
    redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
  });
  afterAll(async () => {
    await redis.quit();
  });

  it('is not the machine\'s own Redis on 6379 unless REDIS_URL says so', () => {
    const port = Number(new URL(redisUrl).port || 6379);
    if (process.env.REDIS_URL) expect(redisUrl).toBe(process.env.REDIS_URL);
    else expect(port).not.toBe(6379);
  });

  it('stores and returns strings and stream entries', async () => {
    const key = `infra:${randomUUID()}`;
    try {
      expect(await redis.set(`${key}:s`, 'hello', 'EX', 60)).toBe('OK');
      expect(await redis.get(`${key}:s`)).toBe('hello');

      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await redis.xadd(`${key}:x`, '*', 'n', String(i))) as string);
      const entries = await redis.xrange(`${key}:x`, '-', '+');
      expect(entries.map(([id]) => id)).toEqual(ids);
      expect(entries.map(([, fields]) => fields)).toEqual([0, 1, 2, 3, 4].map((i) => ['n', String(i)]));
    } finally {
      await redis.del(`${key}:s`, `${key}:x`); // only our own keys: never a flush
    }
  });
});
