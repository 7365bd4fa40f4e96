import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { parseConfig } from '../../src/config/load.js';
import { EngineMetrics } from '../../src/metrics/registry.js';
import { brokers, kafkaClient, produce, uniqueTopic, withAdmin } from '../helpers/kafka.js';

/** Bad records on a real topic go to a real dead-letter topic with their reason and position. */
const T0 = Date.parse('2026-01-01T00:00:00Z');
let input: string;
let dlq: string;

beforeAll(async () => {
  input = uniqueTopic('dl-in');
  dlq = uniqueTopic('dl-out');
  await withAdmin((a) => a.createTopics({ topics: [{ topic: input, numPartitions: 2 }, { topic: dlq, numPartitions: 1 }], waitForLeaders: true }));
});

afterAll(async () => {
  await withAdmin((a) => a.deleteTopics({ topics: [input, dlq] })).catch(() => undefined);
});

describe('Kafka dead letters', () => {
  it('routes malformed records to the dead-letter topic with reason, source partition and offset; the consumer keeps going', async () => {
    const good = (i: number) => JSON.stringify({ id: `g${i}`, ts: T0 + i * 1000, card: `c${i % 3}`, amount: i });
    const bad: Array<[string, string]> = [
      ['not json', 'parse_error'],
      ['[1,2]', 'not_an_object'],
      [JSON.stringify({ id: 'b3', ts: T0, card: 'c1', amount: 'ten' }), 'schema'],
      [JSON.stringify({ id: 'b4', ts: T0, amount: 4 }), 'missing_key'],
      [JSON.stringify({ id: 'b5', ts: T0, card: 'c1', pad: 'x'.repeat(5000) }), 'too_large'],
      [JSON.stringify({ id: 'b6', card: 'c1' }), 'bad_timestamp'],
    ];
    const records = [
      ...Array.from({ length: 20 }, (_, i) => ({ key: 'k', value: good(i) })),
      ...bad.map(([value]) => ({ key: 'k', value })),
      ...Array.from({ length: 20 }, (_, i) => ({ key: 'k', value: good(100 + i) })),
    ];
    await produce(input, records);
    const cfg = parseConfig(
      `
sources:
  - name: in
    type: kafka
    topics: [${input}]
    groupId: ${uniqueTopic('g')}
    client: { brokers: "${brokers().join(',')}" }
    fields: { amount: number }
    maxEventBytes: 2000
pipelines:
  - name: cards
    key: card
    window: { type: tumbling, size: 1m }
    aggregates: [{ name: n, fn: count }]
sinks:
  - name: dlq
    type: kafka
    client: { brokers: "${brokers().join(',')}" }
    outputs: [deadLetters]
    topics: { deadLetters: ${dlq} }
metrics: { enabled: false }
`,
      'dl.yaml',
    );
    const metrics = new EngineMetrics(false);
    const engine = new Engine({ loaded: cfg, mode: 'live', metrics });
    const run = engine.run();
    const consumer = kafkaClient().consumer({ groupId: uniqueTopic('reader') });
    await consumer.connect();
    await consumer.subscribe({ topics: [dlq], fromBeginning: true });
    const got: Array<{ value: Buffer | null; headers: Record<string, string> }> = [];
    await consumer.run({
      eachMessage: async ({ message }) => {
        const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
        got.push({ value: message.value, headers });
      },
    });
    const end = Date.now() + 60_000;
    while (got.length < bad.length && Date.now() < end) await sleep(200);
    await consumer.disconnect();
    engine.stop();
    const summary = await run;

    expect(got.map((g) => g.headers['vigie-reason']).sort()).toEqual(bad.map(([, r]) => r).sort());
    for (const [value, reason] of bad) {
      const dl = got.find((g) => g.headers['vigie-reason'] === reason)!;
      // The original bytes, as they were on the input topic; of a record over the bound, its first 256 and its size.
      if (reason === 'too_large') {
        expect(dl.value?.toString('utf8')).toBe(value.slice(0, 256));
        expect(dl.headers['vigie-size']).toBe(String(Buffer.byteLength(value)));
      } else if (reason !== 'missing_key') expect(dl.value?.toString('utf8')).toBe(value);
      expect(dl.headers['vigie-source']).toBe('in');
      expect(dl.headers['vigie-topic']).toBe(input);
      expect(['0', '1']).toContain(dl.headers['vigie-partition']);
      expect(Number(dl.headers['vigie-offset'])).toBeGreaterThanOrEqual(20);
    }
    // Kept going: every good record after the bad ones was processed.
    expect(summary.sources.in.in).toBe(records.length);
    expect(summary.pipelines.cards.processed).toBe(40);
    // Kafka metrics: one rebalance (the join), lag per assigned partition, down to 0 once caught up.
    const text = await metrics.text();
    expect(text).toMatch(/vigie_rebalances_total\{source="in"\} [1-9]/);
    expect(text).toMatch(new RegExp(`vigie_consumer_lag_records\\{source="in",topic="${input}",partition="[01]"\\} 0`));
    expect(text).toMatch(/vigie_events_dead_lettered_total\{source="in",reason="parse_error"\} 1/);
  }, 120_000);
});
