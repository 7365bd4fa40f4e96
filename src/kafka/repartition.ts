/**
 * Kafka side of re-keying: the repartition topics (created when absent) and the one idempotent
 * producer of an engine that writes to them, acknowledged by every in-sync replica (acks all).
 */
import { Partitioners, type Admin, type Kafka, type Message, type Producer } from 'kafkajs';
import type { Logger } from 'pino';
import { VigieError } from '../errors.js';

/** Bytes of records per produce request at most (well below a broker's default message.max.bytes of 1 MiB). */
const SEND_BYTES = 512 * 1024;

/** The largest repartition record value sent; a larger event is dead-lettered (too_large) upstream. */
export const MAX_RECORD_BYTES = 900 * 1024;

export interface RepartitionTopicSpec {
  topic: string;
  /** Input topics whose events it carries (0 partitions: as many as the largest of them). */
  inputs: readonly string[];
  partitions: number;
  replicationFactor: number;
  retentionMs: number;
}

export interface RepartitionLayout {
  /** Partition count of every input topic named. */
  inputs: Map<string, number>;
  /** Partition count of every repartition topic (as it exists: an existing topic is used as it is). */
  topics: Map<string, number>;
}

export class RepartitionIO {
  private producer: Producer | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly logger: Logger,
  ) {}

  /** Read the input topics' partition counts, create the repartition topics that do not exist, connect the producer. */
  async setup(specs: readonly RepartitionTopicSpec[]): Promise<RepartitionLayout> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const inputNames = [...new Set(specs.flatMap((s) => s.inputs))];
      const inputs = await counts(admin, inputNames);
      for (const t of inputNames) if (!inputs.has(t)) throw new VigieError('VIGIE_ERR_SOURCE', `repartition: input topic "${t}" does not exist`);
      const existing = new Set(await admin.listTopics());
      const create = specs
        .filter((s) => !existing.has(s.topic))
        .map((s) => ({
          topic: s.topic,
          numPartitions: s.partitions > 0 ? s.partitions : Math.max(1, ...s.inputs.map((t) => inputs.get(t) ?? 1)),
          replicationFactor: s.replicationFactor,
          configEntries: [
            { name: 'retention.ms', value: String(s.retentionMs) },
            { name: 'cleanup.policy', value: 'delete' },
          ],
        }));
      if (create.length > 0) {
        // Another instance may create them at the same moment: kafkajs then answers false ("already exists").
        const created = await admin.createTopics({ topics: create, waitForLeaders: true });
        this.logger.info({ topics: create.map((c) => ({ topic: c.topic, partitions: c.numPartitions })), created }, created ? 'repartition topics created' : 'repartition topics created meanwhile by another instance');
      }
      const topics = await counts(admin, specs.map((s) => s.topic));
      for (const s of specs) {
        const n = topics.get(s.topic);
        if (n === undefined) throw new VigieError('VIGIE_ERR_SOURCE', `repartition topic "${s.topic}" could not be created`);
        const wanted = s.partitions > 0 ? s.partitions : Math.max(1, ...s.inputs.map((t) => inputs.get(t) ?? 1));
        if (existing.has(s.topic) && n !== wanted) {
          this.logger.warn({ topic: s.topic, partitions: n, configured: wanted }, 'repartition topic exists with another partition count: used as it is');
        }
      }
      this.producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
      await this.producer.connect();
      return { inputs, topics };
    } finally {
      await admin.disconnect();
    }
  }

  /** Send records in order (per partition, as given); resolves once every in-sync replica has them. */
  async send(messages: ReadonlyArray<{ topic: string } & Message>): Promise<void> {
    if (messages.length === 0) return;
    const producer = this.producer;
    if (producer === undefined) throw new VigieError('VIGIE_ERR_SOURCE', 'repartition producer not connected');
    // Requests of at most SEND_BYTES, one after the other: a broker refuses a batch larger than its
    // message.max.bytes (1 MiB by default), and sequential requests of one producer keep the order.
    let byTopic = new Map<string, Message[]>();
    let bytes = 0;
    const flush = async () => {
      if (byTopic.size === 0) return;
      const topicMessages = [...byTopic].map(([topic, msgs]) => ({ topic, messages: msgs }));
      byTopic = new Map();
      bytes = 0;
      await producer.sendBatch({ acks: -1, topicMessages });
    };
    for (const { topic, ...m } of messages) {
      const size = (m.value as Buffer).length + (m.key === undefined || m.key === null ? 0 : Buffer.byteLength(m.key as string)) + 64;
      if (bytes + size > SEND_BYTES) await flush();
      let list = byTopic.get(topic);
      if (list === undefined) byTopic.set(topic, (list = []));
      list.push(m);
      bytes += size;
    }
    await flush();
  }

  async close(): Promise<void> {
    await this.producer?.disconnect();
    this.producer = undefined;
  }
}

async function counts(admin: Admin, topics: readonly string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (topics.length === 0) return out;
  const existing = new Set(await admin.listTopics());
  const present = topics.filter((t) => existing.has(t));
  if (present.length === 0) return out;
  const meta = await admin.fetchTopicMetadata({ topics: present });
  for (const t of meta.topics) out.set(t.name, t.partitions.length);
  return out;
}
