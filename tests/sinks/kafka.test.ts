/**
 * Kafka sink. The builder and config tests need nothing; the rest runs against the real broker that
 * the global setup (tests/setup/services.ts) starts and hands over through `services()`.
 */
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Admin, type IHeaders, type KafkaMessage } from 'kafkajs';
import { Unpackr } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sinkSchema } from '../../sinks/index.js';
import { buildTopicMessages, create, deadLetterValue, encodeValue, schema, type KafkaSinkConfig } from '../../sinks/kafka.js';
import type { Sink, SinkBatch, SinkContext } from '../../sinks/types.js';
import { silentLogger } from '../../src/log.js';
import type { Alert, DeadLetter, WindowResult } from '../../src/types.js';
import { services } from '../infra/index.js';
import { sampleAlert } from '../helpers/alerts.js';

const T = Date.UTC(2026, 0, 1, 10, 0, 0);
const ctx: SinkContext = { baseDir: process.cwd(), stdout: process.stdout, logger: silentLogger };

/** The sample alert, at a given revision. */
const alert = (id: string, key: string, revision = 0): Alert => sampleAlert(id, key, { revision });

function result(key: string, watermark: number): WindowResult {
  return {
    pipeline: 'cards',
    key,
    start: T,
    end: T + 300_000,
    revision: 0,
    kind: 'final',
    values: { n: 14, avg: 2.5, top: 'x', none: null },
    count: 14,
    evidence: ['e1'],
    watermark,
  };
}

/** Bytes that are not valid UTF-8: they must come back exactly, not through a text round trip. */
const BINARY = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x0a, 0xc3, 0x28]);

const deadLetters: DeadLetter[] = [
  { reason: 'parse_error', detail: 'unexpected token o', source: 'orders', partition: 0, offset: 7, raw: '{oops "é"\t' },
  { reason: 'too_large', detail: '7 bytes', source: 'bus', partition: 2, offset: 9, raw: { base64: BINARY.toString('base64') }, time: T },
  {
    reason: 'late',
    detail: 'event time 2026-01-01T09:00:00.000Z is before the watermark',
    source: 'orders',
    pipeline: 'cards',
    partition: 1,
    offset: 42,
    raw: { card: 'C0042', amount: 12.5, ts: '2026-01-01T09:00:00Z' },
    time: T - 3_600_000,
  },
];

/** The bytes each dead letter above must arrive as. */
const DEAD_BYTES = [Buffer.from('{oops "é"\t', 'utf8'), BINARY, Buffer.from(JSON.stringify(deadLetters[2].raw), 'utf8')];

function batch(): SinkBatch {
  return {
    alerts: [alert('a1', 'C0042'), alert('a2', 'C0077', 1), alert('a3', 'C0042', 2)],
    results: [result('C0042', T + 300_000), result('C0077', Infinity)],
    deadLetters: deadLetters.slice(),
  };
}

const baseConfig = (over: Record<string, unknown>): KafkaSinkConfig => schema.parse({ name: 'bus', type: 'kafka', ...over });

/** What a JSON value decodes to: the record as JSON sees it (Infinity as null, undefined dropped). */
const viaJson = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

const unpackr = new Unpackr({ mapsAsObjects: true, useRecords: false });

function headersOf(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) out[k] = v === undefined ? '' : String(v);
  return out;
}

describe('kafka sink config', () => {
  it('applies defaults', () => {
    const c = sinkSchema.parse({ name: 'k', type: 'kafka', topics: { alerts: 'vigie.alerts' } });
    expect(c).toEqual({
      name: 'k',
      type: 'kafka',
      client: { brokers: ['127.0.0.1:9092'], clientId: 'vigie', ssl: false, connectionTimeout: 3000, requestTimeout: 30000 },
      outputs: ['alerts'],
      topics: { alerts: 'vigie.alerts' },
      format: 'json',
      acks: -1,
      idempotent: true,
      compression: 'none',
    });
  });

  it('rejects a selected output without a topic, naming it', () => {
    const r = sinkSchema.safeParse({ name: 'k', type: 'kafka', outputs: ['alerts', 'deadLetters'], topics: { alerts: 'a' } });
    expect(r.success).toBe(false);
    expect(r.error!.issues).toEqual([expect.objectContaining({ path: ['topics', 'deadLetters'], message: expect.stringMatching(/deadLetters/) })]);
    // The default output (alerts) needs its topic too.
    expect(schema.safeParse({ name: 'k', type: 'kafka', topics: { results: 'r' } }).success).toBe(false);
    expect(schema.safeParse({ name: 'k', type: 'kafka' }).success).toBe(false);
  });

  it('rejects acks 1 on an idempotent producer, bad topic names, unknown values and fields', () => {
    const bad = [
      { topics: { alerts: 'a' }, acks: 1 },
      { topics: { alerts: 'a' }, acks: 0, idempotent: false },
      { topics: { alerts: 'bad topic' } },
      { topics: { alerts: 'a', other: 'b' } },
      { topics: { alerts: 'a' }, format: 'avro' },
      { topics: { alerts: 'a' }, compression: 'zstd' },
      { topics: { alerts: 'a' }, partitioner: 'x' },
      { topics: { alerts: 'a' }, client: { broker: 'x:1' } },
    ];
    for (const over of bad) expect(schema.safeParse({ name: 'k', type: 'kafka', ...over }).success, JSON.stringify(over)).toBe(false);
    expect(schema.safeParse({ name: 'k', type: 'kafka', topics: { alerts: 'a' }, acks: 1, idempotent: false }).success).toBe(true);
  });
});

describe('kafka sink message builder', () => {
  const all = { outputs: ['alerts', 'results', 'deadLetters'] as const, topics: { alerts: 'A', results: 'R', deadLetters: 'D' }, format: 'json' as const };

  it('gives each selected output with records its topic, and skips the others', () => {
    const b = batch();
    expect(buildTopicMessages({ ...all, outputs: ['alerts', 'results', 'deadLetters'] }, b).map((t) => [t.topic, t.messages.length])).toEqual([
      ['A', 3],
      ['R', 2],
      ['D', 3],
    ]);
    expect(buildTopicMessages({ ...all, outputs: ['deadLetters'] }, b).map((t) => t.topic)).toEqual(['D']);
    expect(buildTopicMessages({ ...all, outputs: ['alerts', 'results'] }, { ...b, alerts: [] }).map((t) => t.topic)).toEqual(['R']);
    expect(buildTopicMessages({ ...all, outputs: ['alerts', 'results', 'deadLetters'] }, { alerts: [], results: [], deadLetters: [] })).toEqual([]);
  });

  it('keys alerts and results by key; dead letters have no key', () => {
    const [alerts, results, dead] = buildTopicMessages({ ...all, outputs: ['alerts', 'results', 'deadLetters'] }, batch());
    expect(alerts.messages.map((m) => m.key)).toEqual(['C0042', 'C0077', 'C0042']);
    expect(results.messages.map((m) => m.key)).toEqual(['C0042', 'C0077']);
    expect(dead.messages.map((m) => m.key)).toEqual([null, null, null]);
  });

  it('turns dead-letter inputs back into their original bytes', () => {
    expect(deadLetterValue('a\u00e9\n')).toEqual(Buffer.from([0x61, 0xc3, 0xa9, 0x0a]));
    expect(deadLetterValue({ base64: BINARY.toString('base64') })).toEqual(BINARY);
    expect(deadLetterValue(new Uint8Array([1, 2, 3]).subarray(1))).toEqual(Buffer.from([2, 3]));
    expect(deadLetterValue({ a: 1, b: [true] })).toEqual(Buffer.from('{"a":1,"b":[true]}'));
    // An object with more than a base64 field is a payload, not wrapped bytes.
    expect(deadLetterValue({ base64: 'AA==', user: 'u' })).toEqual(Buffer.from('{"base64":"AA==","user":"u"}'));
    expect(deadLetterValue(42)).toEqual(Buffer.from('42'));
    expect(deadLetterValue(undefined)).toEqual(Buffer.alloc(0));
  });

  it('gives a too_large dead letter its excerpt as value and its real size as a header', () => {
    const d: DeadLetter = { reason: 'too_large', detail: 'record of 5000 bytes exceeds maxEventBytes 100', source: 's', partition: 0, offset: 2, raw: 'y'.repeat(100), size: 5000 };
    const [dead] = buildTopicMessages({ ...all, outputs: ['deadLetters'] }, { alerts: [], results: [], deadLetters: [d] });
    expect(dead.messages[0].value).toEqual(Buffer.from('y'.repeat(100)));
    expect(dead.messages[0].headers).toMatchObject({ 'vigie-reason': 'too_large', 'vigie-size': '5000' });
  });

  it('degrades BigInts and cycles instead of failing the batch', () => {
    const details: Record<string, unknown> = { big: 10n ** 30n };
    details.self = details;
    const value = encodeValue({ ...alert('x', 'k'), details }, 'json');
    expect(JSON.parse(String(value)).details).toEqual({ big: '1000000000000000000000000000000', self: '[Circular]' });
    expect(unpackr.unpack(encodeValue({ big: 10n ** 30n }, 'msgpack') as Buffer)).toEqual({ big: '1000000000000000000000000000000' });
  });
});

describe('kafka sink without a broker', () => {
  it('resolves empty batches without connecting, and closes twice', async () => {
    const sink = create(baseConfig({ client: { brokers: '127.0.0.1:1' }, outputs: ['alerts', 'results'], topics: { alerts: 'a', results: 'r' } }), ctx);
    expect(sink.acknowledges).toBe(true);
    expect([...sink.outputs]).toEqual(['alerts', 'results']);
    // Only unselected outputs have records: nothing to send either.
    await sink.write({ alerts: [], results: [], deadLetters: deadLetters.slice() });
    await sink.write({ alerts: [], results: [], deadLetters: [] });
    await sink.close();
    await sink.close();
    await expect(sink.write(batch())).rejects.toThrow(/kafka sink "bus" is closed/);
  });

  it('rejects a write when the cluster cannot be reached, naming the sink', async () => {
    const sink = create(baseConfig({ client: { brokers: '127.0.0.1:1', connectionTimeout: 200 }, topics: { alerts: 'a' } }), ctx);
    try {
      await expect(sink.write(batch())).rejects.toThrow(/^kafka sink "bus": cannot connect/);
    } finally {
      await sink.close();
    }
  });
});

describe('kafka sink against a real broker', () => {
  let brokers: string;
  let kafka: Kafka;
  let admin: Admin;
  const run = randomUUID().slice(0, 8);
  const created: string[] = [];

  async function topics(...names: string[]): Promise<string[]> {
    const full = names.map((n) => `vigie-test-sink-${run}-${n}`);
    await admin.createTopics({ topics: full.map((topic) => ({ topic, numPartitions: 3, replicationFactor: 1 })), waitForLeaders: true });
    created.push(...full);
    return full;
  }

  interface Received {
    topic: string;
    partition: number;
    offset: number;
    message: KafkaMessage;
  }

  /** Reads `count` messages from the start of `topicNames`; fails after `timeoutMs`. */
  async function consume(topicNames: string[], count: number, timeoutMs = 30_000): Promise<Received[]> {
    const consumer = kafka.consumer({ groupId: `vigie-test-${randomUUID()}`, maxWaitTimeInMs: 100 });
    const got: Received[] = [];
    let timer: NodeJS.Timeout | undefined;
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: topicNames, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`read ${got.length} of ${count} messages in ${timeoutMs} ms`)), timeoutMs);
        consumer
          .run({
            eachMessage: async ({ topic, partition, message }) => {
              got.push({ topic, partition, offset: Number(message.offset), message });
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

  beforeAll(async () => {
    brokers = services().kafkaBrokers.join(',');
    kafka = new Kafka({ brokers: services().kafkaBrokers, clientId: 'vigie-test-sink', logLevel: logLevel.NOTHING });
    admin = kafka.admin();
    await admin.connect();
  });

  afterAll(async () => {
    if (admin === undefined) return;
    try {
      if (created.length > 0) await admin.deleteTopics({ topics: created });
    } finally {
      await admin.disconnect();
    }
  });

  async function roundTrip(format: 'json' | 'msgpack', decode: (value: Buffer) => unknown, expected: (record: unknown) => unknown): Promise<void> {
    const [tAlerts, tResults, tDead] = await topics(`${format}-alerts`, `${format}-results`, `${format}-dead`);
    const sink: Sink = create(
      baseConfig({
        client: { brokers },
        outputs: ['alerts', 'results', 'deadLetters'],
        topics: { alerts: tAlerts, results: tResults, deadLetters: tDead },
        format,
      }),
      ctx,
    );
    const sent = batch();
    const next: SinkBatch = { alerts: [alert('a4', 'C0042', 3)], results: [], deadLetters: [] };
    try {
      // Two writes in a row, the second before the first resolved: both resolve, in order.
      await Promise.all([sink.write(sent), sink.write(next)]);
    } finally {
      await sink.close();
    }

    const got = await consume([tAlerts, tResults, tDead], 9);
    const on = (t: string) => got.filter((g) => g.topic === t);

    const alerts = on(tAlerts);
    const allAlerts = [...sent.alerts, ...next.alerts];
    expect(alerts).toHaveLength(4);
    for (const a of allAlerts) {
      const m = alerts.find((g) => headersOf(g.message.headers)['vigie-alert-id'] === a.id)!;
      expect(m, a.id).toBeDefined();
      expect(m.message.key?.toString()).toBe(a.key);
      expect(headersOf(m.message.headers)).toEqual({
        'vigie-alert-id': a.id,
        'vigie-detector': a.detector,
        'vigie-severity': a.severity,
        'vigie-revision': String(a.revision),
      });
      expect(decode(m.message.value!)).toEqual(expected(a));
    }
    // One key, one partition, in the order written (across the two batches).
    const c42 = alerts.filter((g) => g.message.key?.toString() === 'C0042');
    expect(new Set(c42.map((g) => g.partition)).size).toBe(1);
    expect(c42.sort((x, y) => x.offset - y.offset).map((g) => headersOf(g.message.headers)['vigie-alert-id'])).toEqual(['a1', 'a3', 'a4']);

    const results = on(tResults);
    expect(results).toHaveLength(2);
    for (const r of sent.results) {
      const m = results.find((g) => g.message.key?.toString() === r.key)!;
      expect(decode(m.message.value!)).toEqual(expected(r));
      expect(m.message.headers).toEqual({});
    }

    const dead = on(tDead).sort((x, y) => Number(headersOf(x.message.headers)['vigie-offset']) - Number(headersOf(y.message.headers)['vigie-offset']));
    expect(dead).toHaveLength(3);
    dead.forEach((g, i) => {
      const d = deadLetters[i];
      expect(g.message.key).toBeNull();
      expect(Buffer.compare(g.message.value!, DEAD_BYTES[i]), `dead letter ${i} bytes`).toBe(0);
      const expectedHeaders: Record<string, string> = {
        'vigie-reason': d.reason,
        'vigie-detail': d.detail,
        'vigie-source': d.source,
        'vigie-partition': String(d.partition),
        'vigie-offset': String(d.offset),
      };
      if (d.pipeline !== undefined) expectedHeaders['vigie-pipeline'] = d.pipeline;
      if (d.time !== undefined) expectedHeaders['vigie-time'] = String(d.time);
      expect(headersOf(g.message.headers)).toEqual(expectedHeaders);
    });
  }

  it('writes alerts, results and dead letters as JSON', async () => {
    await roundTrip('json', (v) => JSON.parse(v.toString('utf8')), viaJson);
  });

  it('writes alerts and results as MessagePack', async () => {
    await roundTrip('msgpack', (v) => unpackr.unpack(v), (r) => r);
  });

  it('writes with acks 1, no idempotence and gzip', async () => {
    const [t] = await topics('gzip-alerts');
    const sink = create(baseConfig({ client: { brokers }, topics: { alerts: t }, acks: 1, idempotent: false, compression: 'gzip' }), ctx);
    try {
      await sink.write(batch());
    } finally {
      await sink.close();
    }
    const got = await consume([t], 3);
    expect(got.map((g) => JSON.parse(g.message.value!.toString()).id).sort()).toEqual(['a1', 'a2', 'a3']);
  });

  it('rejects a write to a missing topic, naming it, without creating it; a later write connects again', async () => {
    const [existing] = await topics('present');
    const missing = `vigie-test-sink-${run}-missing`;
    const sink = create(baseConfig({ client: { brokers }, outputs: ['alerts', 'results'], topics: { alerts: existing, results: missing } }), ctx);
    try {
      const started = Date.now();
      await expect(sink.write(batch())).rejects.toThrow(new RegExp(`^kafka sink "bus": topic "${missing}" does not exist`));
      expect(Date.now() - started).toBeLessThan(5_000);
      await expect(sink.write(batch())).rejects.toThrow(missing);
      expect(await admin.listTopics()).not.toContain(missing);
      // Nothing was sent, not even to the topic that exists: a batch is written whole or not at all.
      expect((await admin.fetchTopicOffsets(existing)).map((o) => o.high)).toEqual(['0', '0', '0']);

      await admin.createTopics({ topics: [{ topic: missing, numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true });
      created.push(missing);
      await sink.write(batch());
    } finally {
      await sink.close();
    }
    const got = await consume([existing, missing], 5);
    expect(got.filter((g) => g.topic === existing)).toHaveLength(3);
    expect(got.filter((g) => g.topic === missing)).toHaveLength(2);
  });
});
