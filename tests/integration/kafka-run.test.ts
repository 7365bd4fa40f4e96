import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { generate } from '../../src/generator/index.js';
import { ROOT, tempDir, vigie } from '../helpers/cli.js';
import { brokers, produce, uniqueTopic, withAdmin } from '../helpers/kafka.js';

/**
 * Integration: Kafka (real broker) + Redis (real server) started by the test setup.
 * The input is keyed by customer and every pipeline is keyed by customer (co-partitioned), so a
 * consumer group spread over partitions computes what a single-partition replay computes.
 */
const PARTITIONS = 3;
const EVENTS = 6000;
// A trailing event per partition far in the future moves every partition's watermark past all windows.
// It is ahead of the wall clock, so the live runs below turn off the time guard (time.maxFutureSkew: 0).
const FAR = Date.parse('2027-01-01T00:00:00Z');

function config(topic: string, group: string, out: string): string {
  return `
name: kafka-it
time: { maxOutOfOrderness: 0, maxFutureSkew: 0 }
sources:
  - name: payments
    type: kafka
    topics: [${topic}]
    groupId: ${group}
    sessionTimeout: 6000
    heartbeatInterval: 500
    client: { brokers: "\${KAFKA_BROKERS}" }
    fields: { amount: number }
pipelines:
  - name: customer-activity
    key: customer
    window: { type: tumbling, size: 1h }
    aggregates:
      - { name: events, fn: count }
      - { name: spent, fn: sum, field: amount }
    detectors:
      - { name: busy-customer, type: threshold, aggregate: events, op: '>=', value: 4, severity: low }
  - name: customer-sessions
    key: customer
    window: { type: session, gap: 30m }
    aggregates:
      - { name: events, fn: count }
      - { name: devices, fn: distinct, field: device }
    detectors:
      - { name: many-devices, type: threshold, aggregate: devices, op: '>=', value: 2, severity: medium }
sinks:
  - { name: out, type: jsonl, path: ${out}, outputs: [alerts, results] }
state: { store: redis, redisUrl: "\${REDIS_URL}", prefix: "it-${group}", interval: 200ms }
metrics: { enabled: false }
engine: { batchSize: 500 }
`;
}

interface Line {
  kind: string;
  id?: string;
  pipeline?: string;
  key: string;
  start?: number;
  end?: number;
  revision?: number;
  values?: unknown;
  count?: number;
}

/** Complete lines of a JSONL file another process may be writing (a partial last line is left out). */
function readLines(file: string): Line[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  lines.pop();
  return lines.filter(Boolean).map((l) => JSON.parse(l) as Line);
}
const resultKey = (r: Line) => JSON.stringify([r.pipeline, r.key, r.start, r.end, r.revision, r.count, r.values]);

let dir: string;
let topic: string;
let events: Record<string, unknown>[];
let replayAlerts: Set<string>;
let replayResults: Set<string>;
const children: ChildProcess[] = [];

beforeAll(async () => {
  dir = tempDir('vigie-kafka-it-');
  console.log(`logs in ${dir}`);
  topic = uniqueTopic('payments');
  events = generate('payments', { seed: 11, events: EVENTS, ratePerSecond: 0.05 });
  // Markers: one per partition (Kafka's default partitioner hashes the key; find keys that land on each).
  const markers: Record<string, unknown>[] = [];
  for (let i = 0; markers.length < 40; i++) markers.push({ id: `marker-${i}`, ts: FAR, type: 'marker', customer: `MARK${i}`, device: 'none' });
  events = [...events, ...markers];
  await withAdmin((admin) => admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true }));
  await produce(topic, events.map((e) => ({ key: String(e.customer), value: JSON.stringify(e) })));
  // The reference: replay of the same events from a file (one partition), results up to the markers.
  const file = join(dir, 'events.ndjson');
  writeFileSync(file, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  const cfg = join(dir, 'replay.yaml');
  writeFileSync(cfg, config(topic, 'unused', join(dir, 'unused.jsonl')));
  const r = vigie(['replay', '-c', cfg, '--input', file, '--out', join(dir, 'replay'), '--outputs', 'all'], { env: { KAFKA_BROKERS: brokers().join(','), REDIS_URL: inject('redisUrl') } });
  expect(r.status, r.stderr).toBe(0);
  const fired = (l: Line) => (l.end ?? 0) < FAR - 3_600_000;
  replayResults = new Set(readLines(join(dir, 'replay', 'results.jsonl')).filter(fired).map(resultKey));
  replayAlerts = new Set(readLines(join(dir, 'replay', 'alerts.jsonl')).filter((a) => fired({ ...a, end: (a as unknown as { eventTime: number }).eventTime })).map((a) => a.id as string));
  expect(replayResults.size).toBeGreaterThan(500);
  expect(replayAlerts.size).toBeGreaterThan(10);
}, 240_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await withAdmin((admin) => admin.deleteTopics({ topics: [topic] })).catch(() => undefined);
});

function startRun(group: string, out: string, name: string, from = topic): ChildProcess {
  const cfg = join(dir, `${name}.yaml`);
  writeFileSync(cfg, config(from, group, out));
  const child = spawn(process.execPath, [join(ROOT, 'bin/vigie.js'), 'run', '-c', cfg], {
    cwd: ROOT,
    env: { ...process.env, KAFKA_BROKERS: brokers().join(','), REDIS_URL: inject('redisUrl'), VIGIE_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  const log = createWriteStream(join(dir, `${name}.log`));
  child.stderr?.on('data', (d) => {
    err += d;
    log.write(d);
  });
  child.on('exit', (code, sig) => {
    if (code !== 0 && sig === null) console.error(`${name} exited ${code}: ${err.slice(-2000)}`);
  });
  children.push(child);
  return child;
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await sleep(250);
  }
  return cond();
}

function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

describe('vigie run on Kafka', () => {
  it('computes the same results and alerts as vigie replay on the same events', async () => {
    const out = join(dir, 'run.jsonl');
    const child = startRun(uniqueTopic('g'), out, 'run');
    const done = await until(() => readLines(out).filter((l) => l.kind === 'result').length >= replayResults.size, 120_000);
    await sleep(500);
    await stop(child);
    expect(done).toBe(true);
    const lines = readLines(out);
    const results = new Set(lines.filter((l) => l.kind === 'result').map(resultKey));
    const alerts = new Set(lines.filter((l) => l.kind === 'alert').map((a) => a.id as string));
    expect([...replayResults].filter((r) => !results.has(r))).toEqual([]);
    expect([...results].filter((r) => !replayResults.has(r))).toEqual([]);
    expect([...replayAlerts].filter((a) => !alerts.has(a))).toEqual([]);
    expect([...alerts].filter((a) => !replayAlerts.has(a))).toEqual([]);
  }, 180_000);

  it('restarted mid-stream (SIGTERM, then again), ends with the same alerts: nothing lost, nothing duplicated', async () => {
    const out = join(dir, 'restart.jsonl');
    const group = uniqueTopic('g');
    const first = startRun(group, out, 'restart-1');
    await until(() => readLines(out).filter((l) => l.kind === 'result').length >= replayResults.size / 3, 120_000);
    await stop(first);
    const second = startRun(group, out, 'restart-2');
    const ids = () => new Set(readLines(out).filter((l) => l.kind === 'alert').map((a) => a.id as string));
    const done = await until(() => [...replayAlerts].every((a) => ids().has(a)), 120_000);
    await sleep(1000);
    await stop(second);
    expect(done).toBe(true);
    const alerts = readLines(out).filter((l) => l.kind === 'alert').map((a) => a.id as string);
    const unique = new Set(alerts);
    expect([...unique].filter((a) => !replayAlerts.has(a))).toEqual([]);
    // Results written before the stop are at most repeated by reprocessing (same ids), never different.
    const results = new Set(readLines(out).filter((l) => l.kind === 'result').map(resultKey));
    expect([...results].filter((r) => !replayResults.has(r))).toEqual([]);
    expect([...replayResults].filter((r) => !results.has(r))).toEqual([]);
  }, 300_000);

  it('two instances in one group; one killed (SIGKILL) mid-stream; the other takes over: nothing lost, nothing duplicated', async () => {
    // Its own topic, filled in two halves: the second half is produced only after the kill, so the
    // survivor must take over the dead instance's partitions, restore their state and go on.
    const killTopic = uniqueTopic('payments-kill');
    await withAdmin((admin) => admin.createTopics({ topics: [{ topic: killTopic, numPartitions: PARTITIONS }], waitForLeaders: true }));
    const records = events.map((e) => ({ key: String(e.customer), value: JSON.stringify(e) }));
    const half = Math.floor((records.length - 40) / 2);
    await produce(killTopic, records.slice(0, half));
    const out = join(dir, 'kill.jsonl');
    const group = uniqueTopic('g');
    const a = startRun(group, out, 'kill-a', killTopic);
    const b = startRun(group, out, 'kill-b', killTopic);
    await until(() => readLines(out).filter((l) => l.kind === 'result').length >= replayResults.size / 10, 120_000);
    await sleep(1500);
    await stop(a, 'SIGKILL');
    await produce(killTopic, records.slice(half));
    const ids = () => new Set(readLines(out).filter((l) => l.kind === 'alert').map((x) => x.id as string));
    const done = await until(() => [...replayAlerts].every((x) => ids().has(x)), 150_000);
    await sleep(1000);
    await stop(b);
    await withAdmin((admin) => admin.deleteTopics({ topics: [killTopic] })).catch(() => undefined);
    expect(done).toBe(true);
    const lines = readLines(out);
    const alerts = new Set(lines.filter((l) => l.kind === 'alert').map((x) => x.id as string));
    expect([...alerts].filter((x) => !replayAlerts.has(x))).toEqual([]);
    const results = new Set(lines.filter((l) => l.kind === 'result').map(resultKey));
    expect([...results].filter((r) => !replayResults.has(r))).toEqual([]);
    expect([...replayResults].filter((r) => !results.has(r))).toEqual([]);
  }, 300_000);
});
