/** What the Kafka benchmarks share: their payment records, a topic filled with them, small helpers. */
import { randomBytes } from 'node:crypto';
import { Kafka, Partitioners, logLevel, type Message } from 'kafkajs';
import { startKafka, type KafkaService } from '../tests/infra/kafka.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
export const uid = () => randomBytes(4).toString('hex');

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The topic every Kafka benchmark fills: partitions, card keys, window size and start of event time. */
export const BENCH_TOPIC = { partitions: 4, cards: 50_000, window: 60_000, start: Date.parse('2026-01-01T00:00:00Z') } as const;

/** Refuses a numeric option that is not an integer at or above its minimum (`[name, value, min]`). */
export function checkIntegerOptions(options: ReadonlyArray<readonly [string, number, number]>): void {
  for (const [name, v, min] of options) {
    if (!Number.isInteger(v) || v < min) throw new Error(`--${name} must be an integer >= ${min}, got ${String(v)}`);
  }
}

/**
 * `n` deterministic payment records keyed by card, their event times spread evenly over 4 windows of
 * `window` ms from `start` (about 2.5 events per card and window with 50,000 cards and 500,000 events).
 */
export function paymentMessages(n: number, cards: number, window: number, start: number): Message[] {
  let s = 12345;
  const rnd = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  const out: Message[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const card = `c${Math.floor(rnd() * cards)}`;
    const rec = { id: `p${i}`, ts: start + Math.floor((i * 4 * window) / n), card, amount: Math.round(rnd() * 50000) / 100, merchant: `m${Math.floor(rnd() * 200)}`, type: 'payment' };
    out[i] = { key: card, value: JSON.stringify(rec) };
  }
  return out;
}

/**
 * Create `topic` with `partitions` partitions and produce `messages` to it in requests of `chunk`
 * (idempotent, acks all); checks that the topic then holds them all. Returns the produce rate and bytes.
 */
export async function createTopicAndProduce(kafka: Kafka, topic: string, messages: Message[], opts: { partitions: number; chunk: number }): Promise<{ eventsPerSecond: number; bytes: number }> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const created = await admin.createTopics({ topics: [{ topic, numPartitions: opts.partitions, replicationFactor: 1 }], waitForLeaders: true, timeout: 30_000 });
    if (!created) throw new Error(`topic ${topic} already exists`);
  } finally {
    await admin.disconnect();
  }
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  let bytes = 0;
  for (const m of messages) bytes += (m.value as string).length + (m.key as string).length;
  const t0 = performance.now();
  try {
    for (let i = 0; i < messages.length; i += opts.chunk) {
      await producer.sendBatch({ acks: -1, timeout: 30_000, topicMessages: [{ topic, messages: messages.slice(i, i + opts.chunk) }] });
    }
  } finally {
    await producer.disconnect();
  }
  const s = (performance.now() - t0) / 1000;
  // Every partition must end at the expected offset sum: the consumers rely on offsets 0..n-1.
  const check = kafka.admin();
  await check.connect();
  try {
    const offsets = await check.fetchTopicOffsets(topic);
    const total = offsets.reduce((a, o) => a + Number(o.high) - Number(o.low), 0);
    if (total !== messages.length) throw new Error(`topic ${topic} holds ${total} records, expected ${messages.length}`);
  } finally {
    await check.disconnect();
  }
  return { eventsPerSecond: messages.length / s, bytes };
}

/**
 * A broker for a benchmark (tests/infra: KAFKA_BROKERS if set, else one started on loopback ports) and a
 * quiet kafkajs client on it. SIGINT and SIGTERM stop the broker before exiting; the caller stops it at the end.
 */
export async function startBenchKafka(clientId: string): Promise<{ svc: KafkaService; kafka: Kafka; brokers: string[] }> {
  let svc: KafkaService | undefined;
  const onSignal = () => {
    void (svc?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  svc = await startKafka();
  const kafka = new Kafka({ brokers: svc.brokers, clientId, logLevel: logLevel.NOTHING, connectionTimeout: 3000, requestTimeout: 30_000 });
  return { svc, kafka, brokers: svc.brokers };
}
