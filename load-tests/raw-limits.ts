/**
 * The limits under a Kafka-to-Redis job, measured with no processing: how fast a Kafka client reads a
 * topic, and how fast Redis appends stream entries.
 */
import type { Kafka } from 'kafkajs';
import { Redis } from 'ioredis';
import { sleep, uid } from './kafka-bench-data.js';

export interface RunResult {
  eventsPerSecond: number;
  /** From the consumer's creation (group join included) to N. */
  totalSeconds: number;
}

/** Counts messages (and decodes them when asked) and tells when `n` have been seen. */
export class Counter {
  count = 0;
  first = 0;
  firstCount = 0;
  last = 0;
  /** Sum of the decoded amounts, so the decoding cannot be skipped. */
  checksum = 0;
  failure: unknown;
  readonly start = performance.now();

  constructor(
    readonly parse: boolean,
    readonly n: number,
    readonly timeoutMs: number,
  ) {}

  /** Decodes one value as Vigie's json format does (nothing once n messages have been counted). */
  decode(value: Buffer | null | undefined): void {
    if (this.count < this.n) this.checksum += (JSON.parse(value!.toString()) as { amount: number }).amount;
  }

  /** `k` more messages (clock read only at the first and the last). */
  add(k: number): void {
    if (this.count >= this.n) return;
    this.count += k;
    if (this.first === 0) {
      this.first = performance.now();
      this.firstCount = this.count;
    }
    if (this.count >= this.n) this.last = performance.now();
  }

  async done(name: string): Promise<void> {
    const deadline = this.start + this.timeoutMs;
    while (this.last === 0) {
      if (this.failure !== undefined) throw new Error(`${name} consumer failed: ${String(this.failure)}`);
      if (performance.now() > deadline) throw new Error(`${name} run timed out after ${this.timeoutMs / 1000}s with ${this.count}/${this.n} messages`);
      await sleep(5);
    }
  }

  result(name: string): RunResult {
    if (this.count !== this.n) throw new Error(`${name} consumer counted ${this.count} messages, expected ${this.n}`);
    if (this.parse && !(this.checksum > 0)) throw new Error(`${name} consumer decoded no amount`);
    return { eventsPerSecond: (this.n - this.firstCount) / ((this.last - this.first) / 1000), totalSeconds: (this.last - this.start) / 1000 };
  }
}

/**
 * kafkajs reading the `n` records of `topic` from the earliest offset in a new consumer group (eachBatch,
 * one partition at a time, as Vigie's Kafka source; autocommit off), counting them, decoding each when
 * `parse`.
 */
export async function kafkajsCount(kafka: Kafka, topic: string, o: { n: number; parse: boolean; timeoutMs: number; maxBytesPerPartition: number }): Promise<RunResult> {
  const c = new Counter(o.parse, o.n, o.timeoutMs);
  const consumer = kafka.consumer({ groupId: `bench-kafkajs-${uid()}`, maxBytesPerPartition: o.maxBytesPerPartition, sessionTimeout: 30_000, heartbeatInterval: 3000, allowAutoTopicCreation: false });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    // kafkajs restarts the consumer itself after retriable errors (e.g. a coordinator still loading).
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart) c.failure = payload.error;
    });
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: async ({ batch }) => {
        if (o.parse) for (const m of batch.messages) c.decode(m.value);
        c.add(batch.messages.length);
      },
    });
    await c.done('kafkajs');
  } finally {
    await consumer.disconnect().catch(() => {});
  }
  return c.result('kafkajs');
}

/**
 * Entries/s of plain pipelined `XADD stream MAXLEN ~ 1000000 * <fields>` on `url`: `n` appends of the
 * given field lists (cycled), `batch` per pipeline, into a stream of its own that is removed afterwards.
 */
export async function xaddLimit(url: string, fieldLists: string[][], o: { n: number; batch: number; timeoutMs: number }): Promise<{ entriesPerSecond: number }> {
  if (fieldLists.length === 0) throw new Error('xaddLimit needs at least one entry to append');
  const stream = `bench-xadd:${uid()}`;
  const client = new Redis(url, { lazyConnect: true, enableOfflineQueue: false });
  await client.connect();
  try {
    const t0 = performance.now();
    for (let done = 0; done < o.n; ) {
      const p = client.pipeline();
      const k = Math.min(o.batch, o.n - done);
      for (let i = 0; i < k; i++) p.xadd(stream, 'MAXLEN', '~', 1_000_000, '*', ...fieldLists[(done + i) % fieldLists.length]);
      for (const [err] of (await p.exec()) ?? []) if (err) throw err;
      done += k;
      if (performance.now() - t0 > o.timeoutMs) throw new Error(`XADD run timed out after ${o.timeoutMs / 1000}s with ${done}/${o.n} entries`);
    }
    const seconds = (performance.now() - t0) / 1000;
    const len = await client.xlen(stream);
    if (len !== o.n) throw new Error(`stream holds ${len} entries, expected ${o.n}`);
    return { entriesPerSecond: o.n / seconds };
  } finally {
    await client.unlink(stream).catch(() => 0);
    client.disconnect();
  }
}
