import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { generate } from '../../src/generator/index.js';
import { ROOT, tempDir, vigie } from '../helpers/cli.js';
import { brokers, kafkaClient, produce, uniqueTopic, withAdmin } from '../helpers/kafka.js';

/**
 * Integration: re-keying through Kafka (real broker, real Redis). The input topic is keyed by
 * customer (`partitionedBy: customer`); one pipeline is keyed by customer (runs in the input
 * partitions' tasks), the other by terminal (re-keyed through `<job>-by-terminal-repartition`).
 * Two `vigie run` instances in one group must compute, as sets, what `vigie replay` computes.
 */
const PARTITIONS = 3;
const EVENTS = 4000;
// Trailing events far in the future, on every partition and with terminals landing on every
// repartition partition: every watermark passes every window. Live runs turn the time guard off.
const FAR = Date.parse('2027-01-01T00:00:00Z');

function config(job: string, topic: string, group: string, out: string, idleTimeout = '0'): string {
  return `
name: ${job}
time: { maxOutOfOrderness: 0, maxFutureSkew: 0, idleTimeout: ${idleTimeout} }
sources:
  - name: payments
    type: kafka
    topics: [${topic}]
    groupId: ${group}
    partitionedBy: customer
    sessionTimeout: 6000
    heartbeatInterval: 500
    client: { brokers: "\${KAFKA_BROKERS}" }
    fields: { amount: number }
pipelines:
  - name: by-customer
    key: customer
    window: { type: tumbling, size: 1h }
    aggregates:
      - { name: events, fn: count }
    detectors:
      - { name: busy-customer, type: threshold, aggregate: events, op: '>=', value: 4, severity: low }
  - name: by-terminal
    key: terminal
    where: { type: [payment, marker] }
    window: { type: tumbling, size: 1h }
    aggregates:
      - { name: events, fn: count }
      - { name: spent, fn: sum, field: amount }
    detectors:
      - { name: busy-terminal, type: threshold, aggregate: events, op: '>=', value: 3, severity: medium }
repartition: { partitions: ${PARTITIONS} }
sinks:
  - { name: out, type: jsonl, path: ${out}, outputs: [alerts, results] }
state: { store: redis, redisUrl: "\${REDIS_URL}", prefix: "it-rk-${group}", interval: 200ms }
metrics: { enabled: false }
engine: { batchSize: 300 }
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
  eventTime?: number;
}

function readLines(file: string): Line[] {
  if (!existsSync(file)) return [];
  const lines = readFileSync(file, 'utf8').split('\n');
  lines.pop();
  return lines.filter(Boolean).map((l) => JSON.parse(l) as Line);
}
const resultKey = (r: Line) => JSON.stringify([r.pipeline, r.key, r.start, r.end, r.revision, r.values]);

let dir: string;
let topic: string;
let job: string;
let events: Record<string, unknown>[];
let replayAlerts: Set<string>;
let replayResults: Set<string>;
const children: ChildProcess[] = [];

beforeAll(async () => {
  dir = tempDir('vigie-rekey-it-');
  console.log(`logs in ${dir}`);
  topic = uniqueTopic('payments');
  job = uniqueTopic('rk');
  // A terminal per merchant group; web payments have none (dead-lettered missing_key by the re-keyed pipeline).
  events = generate('payments', { seed: 23, events: EVENTS, ratePerSecond: 0.05 }).map((e) =>
    e.type === 'payment' && e.channel !== 'web' ? { ...e, terminal: `T${Number(String(e.merchant).slice(1)) % 150}` } : e,
  );
  const markers: Record<string, unknown>[] = [];
  for (let i = 0; i < 40; i++) markers.push({ id: `marker-${i}`, ts: FAR, type: 'marker', customer: `MARK${i}`, terminal: `MT${i}`, amount: 0 });
  events = [...events, ...markers];
  await withAdmin((admin) => admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true }));
  await produce(topic, events.map((e) => ({ key: String(e.customer), value: JSON.stringify(e) })));
  const file = join(dir, 'events.ndjson');
  writeFileSync(file, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  const cfg = join(dir, 'replay.yaml');
  writeFileSync(cfg, config(job, topic, 'unused', join(dir, 'unused.jsonl')));
  const r = vigie(['replay', '-c', cfg, '--input', file, '--out', join(dir, 'replay'), '--outputs', 'all'], { env: { KAFKA_BROKERS: brokers().join(','), REDIS_URL: inject('redisUrl') } });
  expect(r.status, r.stderr).toBe(0);
  const fired = (end: number | undefined) => (end ?? 0) < FAR - 3_600_000;
  const results = readLines(join(dir, 'replay', 'results.jsonl')).filter((l) => fired(l.end));
  replayResults = new Set(results.map(resultKey));
  replayAlerts = new Set(readLines(join(dir, 'replay', 'alerts.jsonl')).filter((a) => fired(a.eventTime)).map((a) => a.id as string));
  // Both pipelines produce, so the comparison below judges the re-keyed one too.
  expect(results.filter((l) => l.pipeline === 'by-terminal').length).toBeGreaterThan(200);
  expect(results.filter((l) => l.pipeline === 'by-customer').length).toBeGreaterThan(200);
  expect(replayAlerts.size).toBeGreaterThan(10);
}, 240_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await withAdmin((admin) => admin.deleteTopics({ topics: [topic, `${job}-by-terminal-repartition`] })).catch(() => undefined);
});

function startRun(group: string, out: string, name: string, from = topic, jobName = job, idleTimeout = '0'): ChildProcess {
  const cfg = join(dir, `${name}.yaml`);
  writeFileSync(cfg, config(jobName, from, group, out, idleTimeout));
  const child = spawn(process.execPath, [join(ROOT, 'bin/vigie.js'), 'run', '-c', cfg], {
    cwd: ROOT,
    env: { ...process.env, KAFKA_BROKERS: brokers().join(','), REDIS_URL: inject('redisUrl'), VIGIE_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const log = createWriteStream(join(dir, `${name}.log`));
  child.stderr?.pipe(log);
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

/** Every result of the replay is in the file. */
function covers(out: string): boolean {
  const got = new Set(readLines(out).filter((l) => l.kind === 'result').map(resultKey));
  for (const r of replayResults) if (!got.has(r)) return false;
  return true;
}

/** The run's output equals the replay's as sets (results and alerts); each extra or missing one is listed. */
function expectSameAsReplay(out: string): void {
  const lines = readLines(out);
  const got = new Set(lines.filter((l) => l.kind === 'result').map(resultKey));
  const alerts = new Set(lines.filter((l) => l.kind === 'alert').map((x) => x.id as string));
  const missing = [...replayResults].filter((r) => !got.has(r));
  expect(missing.slice(0, 5), `${missing.length} results missing (logs in ${dir})`).toEqual([]);
  expect([...got].filter((r) => !replayResults.has(r))).toEqual([]);
  expect([...replayAlerts].filter((x) => !alerts.has(x))).toEqual([]);
  expect([...alerts].filter((x) => !replayAlerts.has(x))).toEqual([]);
}

describe('re-keying through Kafka', () => {
  it('two instances in one group compute, as sets, the results and alerts of vigie replay, for both keys', async () => {
    const group = uniqueTopic('g');
    const out = join(dir, 'run.jsonl');
    const a = startRun(group, out, 'run-a');
    const b = startRun(group, out, 'run-b');
    const done = await until(() => covers(out), 150_000);
    await sleep(1500);
    await Promise.all([stop(a), stop(b)]);
    expectSameAsReplay(out);
    expect(done).toBe(true);
    // Both instances took part (the group shared the input or the repartition partitions).
    const logs = ['run-a', 'run-b'].map((n) => readFileSync(join(dir, `${n}.log`), 'utf8'));
    for (const log of logs) expect(log).toMatch(/partitions assigned/);
  }, 240_000);

  it('one instance killed (SIGKILL) mid-stream: the survivor takes over its input and repartition partitions; nothing lost, nothing duplicated', async () => {
    // Its own input and job (so its own repartition topic), filled in two halves: the second half is
    // produced after the kill, so the survivor restores the dead instance's partitions (upstream and
    // downstream) and goes on; records the dead one produced but did not commit come again and are dropped.
    const killTopic = uniqueTopic('payments-kill');
    const killJob = uniqueTopic('rk-kill');
    await withAdmin((admin) => admin.createTopics({ topics: [{ topic: killTopic, numPartitions: PARTITIONS }], waitForLeaders: true }));
    const records = events.map((e) => ({ key: String(e.customer), value: JSON.stringify(e) }));
    const half = Math.floor((records.length - 40) / 2);
    await produce(killTopic, records.slice(0, half));
    const out = join(dir, 'kill.jsonl');
    const group = uniqueTopic('g');
    const a = startRun(group, out, 'kill-a', killTopic, killJob);
    const b = startRun(group, out, 'kill-b', killTopic, killJob);
    try {
      await until(() => readLines(out).filter((l) => l.kind === 'result').length >= replayResults.size / 10, 120_000);
      await sleep(1000);
      await stop(a, 'SIGKILL');
      await produce(killTopic, records.slice(half));
      const done = await until(() => covers(out), 150_000);
      await sleep(1500);
      await stop(b);
      expectSameAsReplay(out);
      expect(done).toBe(true);
    } finally {
      await withAdmin((admin) => admin.deleteTopics({ topics: [killTopic, `${killJob}-by-terminal-repartition`] })).catch(() => undefined);
    }
  }, 300_000);

  it('input partitions that never receive an event: with time.idleTimeout they stop holding the re-keyed pipeline back', async () => {
    // Every event in partition 0 of 3: partitions 1 and 2 never report. Without idleness the
    // re-keyed pipeline would wait for them forever; with it, they are idle 2s after assignment.
    const idleTopic = uniqueTopic('payments-idle');
    const idleJob = uniqueTopic('rk-idle');
    await withAdmin((admin) => admin.createTopics({ topics: [{ topic: idleTopic, numPartitions: PARTITIONS }], waitForLeaders: true }));
    const producer = kafkaClient().producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      for (let i = 0; i < events.length; i += 1000) {
        await producer.send({ topic: idleTopic, acks: -1, messages: events.slice(i, i + 1000).map((e) => ({ key: String(e.customer), partition: 0, value: JSON.stringify(e) })) });
      }
    } finally {
      await producer.disconnect();
    }
    const out = join(dir, 'idle.jsonl');
    const run = startRun(uniqueTopic('g'), out, 'idle', idleTopic, idleJob, '2s');
    try {
      const done = await until(() => covers(out), 120_000);
      await sleep(1500);
      await stop(run);
      expectSameAsReplay(out);
      expect(done).toBe(true);
    } finally {
      await withAdmin((admin) => admin.deleteTopics({ topics: [idleTopic, `${idleJob}-by-terminal-repartition`] })).catch(() => undefined);
    }
  }, 200_000);
});
