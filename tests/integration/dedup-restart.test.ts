/**
 * De-duplication across a restart: the ids a Kafka partition remembers (`dedup` on the source) are
 * part of its checkpoint in Redis, so a producer's redelivery of events consumed before the engine
 * stopped is still dropped as a duplicate by the next engine of the group.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, inject, it } from 'vitest';
import { Engine, type Summary } from '../../src/engine/engine.js';
import { silentLogger } from '../../src/log.js';
import { collectSink, config } from '../helpers/collect.js';
import { brokers, produce, uniqueTopic, withAdmin } from '../helpers/kafka.js';

const T0 = Date.UTC(2026, 0, 1, 9);

function yaml(topic: string): string {
  return `
time: { maxOutOfOrderness: 0 }
sources:
  - name: pay
    type: kafka
    topics: [${topic}]
    groupId: ${topic}-group
    sessionTimeout: 6000
    heartbeatInterval: 500
    client: { brokers: "${brokers().join(',')}" }
    dedup: { horizon: 1h }
pipelines:
  - name: per-user
    key: user
    window: { type: tumbling, size: 1d }
    aggregates: [{ name: n, fn: count }]
sinks: [{ name: c, type: console, outputs: [alerts] }]
state: { store: redis, redisUrl: "${inject('redisUrl')}", prefix: "dedup-${topic}", interval: 100ms }
metrics: { enabled: false }
`;
}

const rec = (i: number) => ({ key: `u${i % 5}`, value: JSON.stringify({ id: `e${i}`, ts: T0 + i * 1000, user: `u${i % 5}` }) });
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k);

/** The group's committed offset (-1 while the group's coordinator is not known yet). */
async function committed(topic: string): Promise<number> {
  return withAdmin(async (admin) => {
    const [t] = await admin.fetchOffsets({ groupId: `${topic}-group`, topics: [topic] });
    return Number(t.partitions[0].offset);
  }).catch(() => -1);
}

/** Run an engine of the group until the group has committed `upTo`, then stop it; its summary. */
async function runUntil(topic: string, upTo: number): Promise<Summary> {
  const sink = collectSink();
  const engine = new Engine({ loaded: config(yaml(topic)), mode: 'live', sinks: [sink], logger: silentLogger });
  const running = engine.run();
  const t0 = Date.now();
  while ((await committed(topic)) < upTo) {
    if (Date.now() - t0 > 45_000) throw new Error(`offset ${upTo} not committed within 45 s`);
    await sleep(100);
  }
  engine.stop();
  return running;
}

describe('dedup across a restart (Kafka source, checkpoints in Redis)', () => {
  it('a redelivery of ids consumed before the restart is dropped and counted, not processed again', async () => {
    const topic = uniqueTopic('dedup-restart');
    await withAdmin((admin) => admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1, replicationFactor: 1 }] }));
    await produce(topic, range(0, 100).map(rec));
    const first = await runUntil(topic, 100);
    expect(first.sources.pay.events).toBe(100);
    expect(first.sources.pay.duplicates).toBe(0);

    // The producer sends e50..e99 again (a retry after a lost acknowledgement), then new events.
    await produce(topic, [...range(50, 100), ...range(100, 120)].map(rec));
    const second = await runUntil(topic, 170);
    expect(second.sources.pay.in).toBe(70);
    expect(second.sources.pay.duplicates).toBe(50);
    expect(second.sources.pay.events).toBe(20);
    expect(second.pipelines['per-user'].processed).toBe(20);
  }, 120_000);
});
