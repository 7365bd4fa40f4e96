/**
 * `vigie produce` against the suite's real broker: N events at a rate, read back with a plain kafkajs
 * consumer; the lines of a file; a duration bound; a missing topic.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel, type KafkaMessage } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { services } from '../infra/index.js';
import { ROOT, tempDir } from '../helpers/cli.js';
import { uniqueTopic } from '../helpers/kafka.js';

const { kafkaBrokers } = services();
const kafka = new Kafka({ clientId: 'vigie-produce-test', brokers: kafkaBrokers, logLevel: logLevel.NOTHING });
const admin = kafka.admin();
const PARTITIONS = 3;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** The built CLI, asynchronously: the test's own Kafka clients keep running meanwhile. */
function vigie(args: string[]): Promise<Run> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/vigie.js'), ...args], { cwd: ROOT, env: { ...process.env, VIGIE_LOG_LEVEL: 'warn' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stdout, stderr, ms: performance.now() - t0 }));
  });
}

async function newTopic(prefix: string): Promise<string> {
  const topic = uniqueTopic(prefix);
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
  return topic;
}

/** Every record of a topic, read from the beginning by a group of its own, once `count` have arrived. */
async function readBack(topic: string, count: number, timeoutMs = 30_000): Promise<Array<KafkaMessage & { partition: number }>> {
  const consumer = kafka.consumer({ groupId: `${topic}-reader`, sessionTimeout: 6000, heartbeatInterval: 500 });
  const got: Array<KafkaMessage & { partition: number }> = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    let done!: () => void;
    const all = new Promise<void>((r) => (done = r));
    await consumer.run({
      eachMessage: async ({ message, partition }) => {
        got.push({ ...message, partition });
        if (got.length >= count) done();
      },
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    // A little longer: anything beyond `count` would show up now.
    await new Promise((r) => setTimeout(r, 1000));
  } finally {
    await consumer.disconnect();
  }
  return got;
}

let dir: string;

beforeAll(async () => {
  dir = tempDir('vigie-produce-');
  await admin.connect();
});

afterAll(async () => {
  await admin.disconnect();
});

describe('vigie produce', () => {
  it('writes N generated events at the rate asked, keyed by customer, then stops by itself', async () => {
    const topic = await newTopic('produce-gen');
    const N = 300;
    const RATE = 100;
    const r = await vigie(['produce', '--scenario', 'payments', '--topic', topic, '--rate', String(RATE), '--events', String(N), '--brokers', kafkaBrokers.join(','), '--seed', '5', '--customers', '2000']);
    expect(r.status, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as { topic: string; events: number; seconds: number; ratePerSecond: number; stoppedBy: string };
    expect(summary).toMatchObject({ topic, events: N, stoppedBy: 'events' });
    // Event i leaves no earlier than i / rate seconds after the first: never faster than asked.
    expect(summary.seconds).toBeGreaterThanOrEqual((N - 1) / RATE);
    expect(summary.ratePerSecond).toBeLessThanOrEqual(RATE * 1.01);

    const got = await readBack(topic, N);
    expect(got).toHaveLength(N);
    const events = got.map((m) => JSON.parse(String(m.value)) as { id: string; ts: number; customer: string; type: string });
    expect(new Set(events.map((e) => e.id)).size).toBe(N);
    got.forEach((m, i) => expect(String(m.key)).toBe(events[i].customer));
    expect(new Set(events.map((e) => e.type))).toContain('payment');
    // Spread over the partitions by key, and event times near now (a live run reads current events).
    expect(new Set(got.map((m) => m.partition)).size).toBeGreaterThan(1);
    const first = Math.min(...events.map((e) => e.ts));
    expect(Math.abs(first - Date.now())).toBeLessThan(5 * 60_000);
  });

  it('sends the lines of --input as they are, stopping at the end of the file', async () => {
    const topic = await newTopic('produce-file');
    const lines = [
      JSON.stringify({ id: 'a', ts: 1, customer: 'C1', amount: 5 }),
      'not json: sent as is, for Vigie to dead-letter',
      '',
      JSON.stringify({ id: 'b', ts: 2, customer: 'C1', amount: 7 }),
      JSON.stringify({ id: 'c', ts: 3, customer: 'C2' }),
    ];
    const file = join(dir, 'events.ndjson');
    writeFileSync(file, lines.join('\n') + '\n');
    const r = await vigie(['produce', '--topic', topic, '--input', file, '--rate', '1000', '--brokers', kafkaBrokers.join(',')]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ events: 4, stoppedBy: 'input' });
    const got = await readBack(topic, 4);
    expect(got.map((m) => String(m.value)).sort()).toEqual(lines.filter(Boolean).sort());
    const keyOf = new Map(got.map((m) => [String(m.value), m.key === null ? null : String(m.key)]));
    expect(keyOf.get(lines[0])).toBe('C1');
    expect(keyOf.get(lines[1])).toBe(null);
    // Same key, same partition, in file order.
    const c1 = got.filter((m) => String(m.key) === 'C1').map((m) => (JSON.parse(String(m.value)) as { id: string }).id);
    expect(c1).toEqual(['a', 'b']);
  });

  it('stops after --duration', async () => {
    const topic = await newTopic('produce-duration');
    const r = await vigie(['produce', '--topic', topic, '--rate', '20', '--duration', '2s', '--brokers', kafkaBrokers.join(','), '--scenario', 'telemetry']);
    expect(r.status, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as { events: number; seconds: number; stoppedBy: string };
    expect(summary.stoppedBy).toBe('duration');
    expect(summary.seconds).toBeGreaterThanOrEqual(2);
    // 40 are due within 2 s at 20/s; a loaded machine may wake up late for the last ones.
    expect(summary.events).toBeGreaterThanOrEqual(30);
    expect(summary.events).toBeLessThanOrEqual(40);
    const got = await readBack(topic, summary.events);
    expect(got).toHaveLength(summary.events);
    expect(got.every((m) => String(m.key) === (JSON.parse(String(m.value)) as { service: string }).service)).toBe(true);
  });

  it('refuses a topic that does not exist with VIGIE_ERR_PRODUCE, and a bad option with exit code 2', async () => {
    const missing = await vigie(['produce', '--topic', uniqueTopic('produce-missing'), '--events', '5', '--brokers', kafkaBrokers.join(',')]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/vigie: VIGIE_ERR_PRODUCE: topic "produce-missing-\S+" does not exist/);
    expect(missing.stdout).toBe('');
    const bad = await vigie(['produce', '--topic', 'x', '--rate', '0']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('rate must be a number > 0');
  });
});
