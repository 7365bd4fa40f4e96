/** Kafka and Redis tables against the run's shared broker and Redis (unique topic and key prefix). */
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { parseConfig } from '../../src/config/load.js';
import { memorySource } from '../../src/sources/memory.js';
import { silentLogger } from '../../src/log.js';
import { create as kafkaTable, schema as kafkaSchema } from '../../src/sources/tables/kafka.js';
import { create as redisTable, schema as redisSchema } from '../../src/sources/tables/redis.js';
import { services } from '../infra/index.js';
import { produce, uniqueTopic, withAdmin } from '../helpers/kafka.js';
import { collectSink } from '../helpers/collect.js';

const dir = mkdtempSync(join(tmpdir(), 'vigie-tables-svc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function until(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function compactedTopic(prefix: string): Promise<string> {
  const topic = uniqueTopic(prefix);
  await withAdmin((admin) => admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 2, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }] }));
  return topic;
}

const json = (o: object) => JSON.stringify(o);

describe('kafka table', () => {
  it('reads the whole topic before the first event: rows, a tombstone and an update; enriched events reflect them', async () => {
    const topic = await compactedTopic('vigie-table');
    await produce(topic, [
      { key: 'm1', value: json({ risk: 0.1, region: 'north' }) },
      { key: 'm2', value: json({ risk: 0.2 }) },
      { key: 'm3', value: json({ risk: 0.3 }) },
      { key: 'm3', value: null as unknown as string },
      { key: 'm1', value: json({ risk: 0.5 }) },
      { key: 'm4', value: 'not json' },
    ]);
    const text = `
time: { maxOutOfOrderness: 0 }
sources: [{ name: pay, type: stdin }]
tables:
  - { name: merchants, type: kafka, topic: ${topic}, client: { brokers: "${services().kafkaBrokers.join(',')}" } }
pipelines:
  - name: p
    key: id
    enrich: [{ table: merchants, on: merchant, missing: flag }]
    window: { type: tumbling, size: 1 }
    aggregates: [{ name: risk, fn: last, field: merchants.risk }, { name: region, fn: last, field: merchants.region }, { name: missing, fn: last, field: merchants.missing }]
metrics: { enabled: false }
`;
    const file = join(dir, 'kafka.yaml');
    writeFileSync(file, text);
    const sink = collectSink();
    const records = ['m1', 'm2', 'm3', 'm4'].map((m, i) => ({ id: m, ts: i, merchant: m }));
    const summary = await new Engine({ loaded: parseConfig(text, file), mode: 'replay', sources: [memorySource(records, { name: 'pay' })], sinks: [sink] }).run();
    const values = Object.fromEntries(sink.results.map((r) => [r.key, r.values]));
    expect(values).toEqual({
      m1: { risk: 0.5, region: null, missing: 'false' }, // the latest record replaces the whole row
      m2: { risk: 0.2, region: null, missing: 'false' },
      m3: { risk: null, region: null, missing: 'true' }, // deleted by the tombstone
      m4: { risk: null, region: null, missing: 'true' }, // a malformed record is skipped
    });
    expect(summary.pipelines.p).toMatchObject({ enriched: 2, missingRows: 2 });
  }, 60_000);

  it('live: updates and tombstones keep coming; versions by a time field', async () => {
    const topic = await compactedTopic('vigie-table-live');
    await produce(topic, [
      { key: 'm1', value: json({ id: 'm1', risk: 0.1, from: 0 }) },
      { key: 'm1', value: json({ id: 'm1', risk: 0.9, from: 5000 }) },
    ]);
    const config = kafkaSchema.parse({ name: 'merchants', type: 'kafka', topic, key: 'id', time: { field: 'from' }, client: { brokers: services().kafkaBrokers } });
    const table = kafkaTable(config, { baseDir: dir, logger: silentLogger, live: true });
    await table.load();
    try {
      expect(table.lookup('m1', 4999)).toMatchObject({ risk: 0.1 });
      expect(table.lookup('m1', 5000)).toMatchObject({ risk: 0.9 });
      await produce(topic, [{ key: 'm2', value: json({ id: 'm2', risk: 0.4, from: 100 }) }]);
      await until('the update', () => table.lookup('m2', 200) !== undefined);
      expect(table.lookup('m2', 99)).toBeUndefined();
      // A tombstone (versioned table): the key is deleted from the record's timestamp on.
      await produce(topic, [{ key: 'm1', value: null as unknown as string }]);
      await until('the tombstone', () => table.lookup('m1', Date.now() + 60_000) === undefined);
      expect(table.lookup('m1', 5000)).toMatchObject({ risk: 0.9 });
    } finally {
      await table.close();
    }
  }, 60_000);

  it('a topic that does not exist fails the load with VIGIE_ERR_TABLE', async () => {
    const config = kafkaSchema.parse({ name: 'nope', type: 'kafka', topic: uniqueTopic('vigie-missing'), loadTimeout: 5000, client: { brokers: services().kafkaBrokers, requestTimeout: 3000 } });
    const table = kafkaTable(config, { baseDir: dir, logger: silentLogger, live: false });
    await expect(table.load()).rejects.toMatchObject({ code: 'VIGIE_ERR_TABLE', message: expect.stringContaining('table "nope"') });
    await table.close();
  }, 60_000);
});

describe('redis table', () => {
  it('hashes under a prefix: loaded at start, refreshed live; enriched events reflect them', async () => {
    const url = services().redisUrl;
    const prefix = `vigie-test-table-${process.pid}-${Date.now().toString(36)}:`;
    const redis = new Redis(url);
    try {
      await redis.hset(`${prefix}m1`, { risk: '0.1', listed: 'true' });
      await redis.hset(`${prefix}m2`, { risk: 'high' }); // bad row: risk is declared a number
      await redis.set(`${prefix}m3`, 'not a hash');
      const text = `
time: { maxOutOfOrderness: 0 }
sources: [{ name: pay, type: stdin }]
tables:
  - { name: merchants, type: redis, url: "${url}", prefix: "${prefix}", fields: { risk: number, listed: boolean } }
pipelines:
  - name: p
    key: id
    enrich: [{ table: merchants, on: merchant, missing: dead-letter }]
    where: { merchants.listed: true }
    window: { type: tumbling, size: 1 }
    aggregates: [{ name: risk, fn: last, field: merchants.risk }]
metrics: { enabled: false }
`;
      const file = join(dir, 'redis.yaml');
      writeFileSync(file, text);
      const sink = collectSink();
      const records = ['m1', 'm2', 'm3'].map((m, i) => ({ id: m, ts: i, merchant: m }));
      const summary = await new Engine({ loaded: parseConfig(text, file), mode: 'replay', sources: [memorySource(records, { name: 'pay' })], sinks: [sink] }).run();
      expect(sink.results.map((r) => [r.key, r.values.risk])).toEqual([['m1', 0.1]]);
      expect(sink.deadLetters.map((d) => [d.reason, (d.raw as { id: string }).id])).toEqual([
        ['missing_row', 'm2'],
        ['missing_row', 'm3'],
      ]);
      expect(summary.pipelines.p).toMatchObject({ enriched: 1, missingRows: 2, processed: 1 });

      // Live: refreshed every 100 ms.
      const table = redisTable(redisSchema.parse({ name: 'merchants', type: 'redis', url, prefix, refresh: 100, fields: { risk: 'number' } }), { baseDir: dir, logger: silentLogger, live: true });
      await table.load();
      try {
        expect(table.lookup('m1', 0)).toEqual({ risk: 0.1, listed: 'true' });
        await redis.hset(`${prefix}m1`, { risk: '0.6' });
        await redis.hset(`${prefix}m4`, { risk: '1' });
        await until('the refresh', () => table.lookup('m1', 0)?.risk === 0.6 && table.lookup('m4', 0) !== undefined);
        await redis.del(`${prefix}m4`);
        await until('the deletion', () => table.lookup('m4', 0) === undefined);
      } finally {
        await table.close();
      }
    } finally {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
  }, 60_000);
});
