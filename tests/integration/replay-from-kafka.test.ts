import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WhatIfReport } from '../../src/backtest/compare.js';
import { tempDir, vigie } from '../helpers/cli.js';
import { brokers, kafkaClient, uniqueTopic, withAdmin } from '../helpers/kafka.js';

/**
 * `vigie replay --from-kafka TOPIC --since T1 --until T2` against the suite's real Kafka: reads, per
 * partition, from the offset of the first record with timestamp >= T1 up to (excluding) the offset of
 * the first record with timestamp >= T2, stops by itself, and commits nothing anywhere.
 */
const STEP = 5_000;
const N = 600;
const PARTITIONS = 2;
// One event every 5 s, from 40 minutes ago to 10 minutes ahead: the suite's broker deletes records
// whose segment's largest timestamp is older than its retention (1 h), so nothing here is that old.
const T0 = Math.floor((Date.now() - 40 * 60_000) / 1000) * 1000;
const T1 = T0 + 100 * STEP;
const T2 = T0 + 400 * STEP;

let dir: string;
let topic: string;
let liveGroup: string;
let configFile: string;

function config(): string {
  return `
name: replay-kafka-it
time: { maxOutOfOrderness: 0 }
sources:
  - name: payments
    type: kafka
    topics: [${topic}]
    groupId: ${liveGroup}
    client: { brokers: "\${KAFKA_BROKERS}" }
    fields: { amount: number }
pipelines:
  - name: per-customer
    key: customer
    window: { type: tumbling, size: 1h }
    evidenceLimit: 1000
    aggregates:
      - { name: payments, fn: count }
    detectors:
      - { name: busy-customer, type: threshold, aggregate: payments, op: '>=', value: 10, severity: low }
sinks:
  - { name: console, type: console, outputs: [alerts] }
metrics: { enabled: false }
`;
}

const env = () => ({ KAFKA_BROKERS: brokers().join(','), VIGIE_LOG_LEVEL: 'info' });

beforeAll(async () => {
  dir = tempDir('vigie-replay-kafka-');
  topic = uniqueTopic('replay-history');
  liveGroup = uniqueTopic('live-group');
  await withAdmin((admin) => admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true }));
  const producer = kafkaClient().producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    const messages = Array.from({ length: N }, (_, i) => {
      const ts = T0 + i * STEP;
      const customer = `c${i % 3}`;
      return { key: customer, value: JSON.stringify({ id: `e${i}`, ts, customer, amount: i }), timestamp: String(ts) };
    });
    for (let i = 0; i < messages.length; i += 200) await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 200) });
  } finally {
    await producer.disconnect();
  }
  configFile = join(dir, 'live.yaml');
  writeFileSync(configFile, config());
}, 120_000);

afterAll(async () => {
  await withAdmin((admin) => admin.deleteTopics({ topics: [topic] })).catch(() => undefined);
});

/** The replay's own group id, from its log line. */
function replayGroupOf(stderr: string): string {
  const parse = (l: string): { msg?: string; groupId?: string } => {
    try {
      return JSON.parse(l) as { msg?: string; groupId?: string };
    } catch {
      return {};
    }
  };
  const line = stderr
    .split('\n')
    .map(parse)
    .find((l) => l.msg === 'replay from kafka');
  expect(line?.groupId).toMatch(/^vigie-replay-[0-9a-f]+$/);
  return line!.groupId!;
}

async function committed(groupId: string): Promise<string[]> {
  return withAdmin(async (admin) => {
    const res = await admin.fetchOffsets({ groupId, topics: [topic] });
    return res.flatMap((t) => t.partitions.map((p) => p.offset));
  });
}

describe('vigie replay --from-kafka', () => {
  it('reads only the records of [since, until) on every partition, stops by itself, commits nothing', async () => {
    const out = join(dir, 'range');
    const t0 = Date.now();
    const r = vigie(['replay', '-c', configFile, '--from-kafka', topic, '--since', new Date(T1).toISOString(), '--until', new Date(T2).toISOString(), '--out', out, '--outputs', 'alerts,results'], { env: env() });
    // Exits by itself, well before the helper's timeout.
    expect(r.status, r.stderr).toBe(0);
    expect(Date.now() - t0).toBeLessThan(60_000);
    const summary = JSON.parse(r.stdout);
    const expected = (T2 - T1) / STEP;
    expect(summary.sources.payments).toEqual({ in: expected, events: expected, deadLettered: {} });
    expect(summary.pipelines['per-customer'].processed).toBe(expected);
    // Exactly the events with T1 <= ts < T2: every one of them is in some window's evidence, no other.
    const ids = new Set<string>();
    for (const l of readFileSync(join(out, 'results.jsonl'), 'utf8').split('\n').filter(Boolean)) for (const id of JSON.parse(l).evidence as string[]) ids.add(id);
    const want = Array.from({ length: expected }, (_, i) => `e${i + 100}`);
    expect([...ids].sort()).toEqual(want.sort());
    expect(summary.alerts.total).toBeGreaterThan(0);

    // Nothing committed: not for the config's live group, not for the replay's own group (which is gone).
    expect(await committed(liveGroup)).toEqual(Array(PARTITIONS).fill('-1'));
    const group = replayGroupOf(r.stderr);
    expect(await committed(group)).toEqual(Array(PARTITIONS).fill('-1'));
    const described = await withAdmin((admin) => admin.describeGroups([group]));
    expect(described.groups[0].state).toBe('Dead');
  });

  it('with a relative --since and no --until reads to the end offsets; a what-if over Kafka reads the topic once for A and B', () => {
    const b = join(dir, 'b.yaml');
    writeFileSync(b, config().replace("op: '>=', value: 10", "op: '>=', value: 8"));
    const r = vigie(['replay', '-c', configFile, '--from-kafka', topic, '--since', '30d', '--compare', b, '--json'], { env: env() });
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as WhatIfReport;
    expect(report.a.events, r.stderr).toBe(N);
    expect(report.b.events).toBe(N);
    expect(report.input).toMatch(new RegExp(`^kafka topic ${topic} \\[`));
    const busy = report.detectors.find((d) => d.detector === 'busy-customer')!;
    // A lower bound fires at least where the higher one does.
    expect(busy.b).toBeGreaterThanOrEqual(busy.a);
    expect(busy.onlyA).toBe(0);
    expect(busy.a).toBeGreaterThan(0);
  });

  it('a --since after the last record reads nothing and ends at once', () => {
    const r = vigie(['replay', '-c', configFile, '--from-kafka', topic, '--since', new Date(Date.now() + 3_600_000).toISOString()], { env: env() });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).sources.payments).toEqual({ in: 0, events: 0, deadLettered: {} });
  });

  it('ends on a transactional topic, whose last offsets are transaction markers', { timeout: 180_000 }, async () => {
    const txTopic = uniqueTopic('replay-tx');
    await withAdmin((admin) => admin.createTopics({ topics: [{ topic: txTopic, numPartitions: PARTITIONS }], waitForLeaders: true }));
    try {
      const producer = kafkaClient().producer({ transactionalId: uniqueTopic('tx'), idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
      await producer.connect();
      try {
        for (let t = 0; t < 3; t++) {
          const tx = await producer.transaction();
          const messages = Array.from({ length: 20 }, (_, j) => {
            const i = t * 20 + j;
            const ts = T0 + i * STEP;
            return { key: `c${i % 3}`, value: JSON.stringify({ id: `t${i}`, ts, customer: `c${i % 3}`, amount: i }), timestamp: String(ts) };
          });
          await tx.send({ topic: txTopic, acks: -1, messages });
          await tx.commit();
        }
      } finally {
        await producer.disconnect();
      }
      const cfg = join(dir, 'tx.yaml');
      // Tiny fetches: one record batch each, so the last fetch holds nothing but the final commit marker.
      writeFileSync(cfg, config().replace(`topics: [${topic}]`, `topics: [${txTopic}]\n    maxBytesPerPartition: 64`));
      const r = vigie(['replay', '-c', cfg, '--from-kafka', txTopic, '--since', '30d'], { env: env() });
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).sources.payments).toEqual({ in: 60, events: 60, deadLettered: {} });
    } finally {
      await withAdmin((admin) => admin.deleteTopics({ topics: [txTopic] })).catch(() => undefined);
    }
  });

  it('rejects bad usage with exit code 2', () => {
    const noSince = vigie(['replay', '-c', configFile, '--from-kafka', topic], { env: env() });
    expect(noSince.status).toBe(2);
    expect(noSince.stderr).toMatch(/--from-kafka needs --since/);
    const badTime = vigie(['replay', '-c', configFile, '--from-kafka', topic, '--since', 'yesterday'], { env: env() });
    expect(badTime.status).toBe(2);
    expect(badTime.stderr).toMatch(/--since "yesterday" is neither an ISO-8601 date-time nor a duration ago/);
    const order = vigie(['replay', '-c', configFile, '--from-kafka', topic, '--since', '1h', '--until', '2h'], { env: env() });
    expect(order.status).toBe(2);
    expect(order.stderr).toMatch(/--until .* must be after --since/);
    const both = vigie(['replay', '-c', configFile, '--from-kafka', topic, '--since', '1h', '--input', 'x.ndjson'], { env: env() });
    expect(both.status).toBe(2);
    expect(both.stderr).toMatch(/either --input or --from-kafka/);
  });
});
