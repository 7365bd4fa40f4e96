/**
 * The lab over a Kafka time range (`replay --from-kafka`) against the suite's real Kafka and Redis: a
 * what-if reads the topic with the client of the current config's kafka source, and leaves the live
 * consumer group's offsets and the live alert stream untouched.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokensFromEnv } from '../../src/console/auth.js';
import { startConsole, type ConsoleServer } from '../../src/console/server.js';
import { silentLogger } from '../../src/log.js';
import { tempDir } from '../helpers/cli.js';
import { brokers, produce, uniqueTopic, withAdmin } from '../helpers/kafka.js';
import { labConfig } from '../helpers/lab-config.js';
import { deleteKeys } from '../helpers/redis-keys.js';
import { services } from '../infra/index.js';

const TOKEN = `analyst-${randomUUID()}`;
const ns = `vigie:test:console-lab-kafka:${randomUUID()}`;
const N = 300;
const STEP = 5_000;
// Recent records: the suite's broker keeps about an hour.
const T0 = Math.floor((Date.now() - 30 * 60_000) / 1000) * 1000;

let redis: Redis;
let server: ConsoleServer;
let topic: string;
let liveGroup: string;
let text: string;
let root: string | undefined;

async function post(body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${server.url}/api/lab/runs`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

async function finished(id: string): Promise<any> {
  const deadline = Date.now() + 25_000;
  for (;;) {
    const run = await (await fetch(`${server.url}/api/lab/runs/${id}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json();
    if (run.state === 'done' || run.state === 'failed') return run;
    if (Date.now() > deadline) throw new Error(`run ${id} still ${run.state}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

beforeAll(async () => {
  const url = services().redisUrl;
  redis = new Redis(url, { lazyConnect: true });
  await redis.connect();
  // The config names ${KAFKA_BROKERS}: the lab passes that variable on to its runs.
  process.env.KAFKA_BROKERS = brokers().join(',');
  topic = uniqueTopic('lab-history');
  liveGroup = uniqueTopic('lab-live-group');
  await withAdmin((admin) => admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true }));
  await produce(
    topic,
    Array.from({ length: N }, (_, i) => {
      const ts = T0 + i * STEP;
      const customer = `c${i % 3}`;
      return { key: customer, value: JSON.stringify({ id: `e${i}`, ts, type: 'payment', customer, amount: i }), timestamp: String(ts) };
    }),
  );
  root = tempDir('vigie-test-lab-kafka-');
  mkdirSync(join(root, 'lab'));
  text = labConfig(url, ns, { kafka: { topic, group: liveGroup } });
  writeFileSync(join(root, 'live.yaml'), text);
  server = await startConsole({
    target: { connection: { url }, streams: [`${ns}:alerts`] },
    tokens: tokensFromEnv({ VIGIE_CONSOLE_ANALYST_TOKEN: TOKEN }),
    logger: silentLogger,
    port: 0,
    lab: { dir: join(root, 'lab'), config: join(root, 'live.yaml') },
  });
}, 120_000);

afterAll(async () => {
  await server?.close();
  await withAdmin((admin) => admin.deleteTopics({ topics: [topic] })).catch(() => undefined);
  if (redis !== undefined) {
    await deleteKeys(redis, ns);
    redis.disconnect();
  }
  if (root !== undefined) rmSync(root, { recursive: true, force: true });
});

describe('lab over a Kafka time range', () => {
  it('refuses a bad topic name or time (400)', async () => {
    for (const kafka of [{ topic: '../x', since: '1h' }, { topic, since: 'yesterday' }, { topic }, { topic, since: '1h', until: 5 }, 'x']) {
      const r = await post({ kafka, mode: 'what-if', text });
      expect(r.status, JSON.stringify(kafka)).toBe(400);
      expect(r.body.error.message).toMatch(/^kafka: /);
    }
  });

  it('what-if over the range: counts differ with the threshold; the live group and the live stream are untouched', async () => {
    const accepted = await post({ kafka: { topic, since: new Date(T0).toISOString(), until: new Date(T0 + 200 * STEP).toISOString() }, mode: 'what-if', text: text.replace('value: 3', 'value: 1000') });
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
    const run = await finished(accepted.body.id);
    expect(run.state, JSON.stringify(run.error)).toBe('done');
    expect(run.dataset).toBe(`kafka topic ${topic}`);
    expect(run.kafka).toMatchObject({ topic });
    expect(run.summary.events).toBe(200);
    expect(run.summary.labelled).toBe(false);
    const d = run.summary.detectors.find((x: any) => x.detector === 'busy-customer');
    // 200 events of 3 customers: each has at least 3 in some hour, none has 1000.
    expect(d.current).toBeGreaterThanOrEqual(3);
    expect(d.candidate).toBe(0);
    expect(run.report).toBe(true);

    const offsets = await withAdmin((admin) => admin.fetchOffsets({ groupId: liveGroup, topics: [topic] }));
    expect(offsets[0].partitions.every((p) => p.offset === '-1')).toBe(true);
    expect(await redis.exists(`${ns}:alerts`)).toBe(0);
  });
});
