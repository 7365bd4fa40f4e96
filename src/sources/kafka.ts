import type { Consumer, EachBatchPayload } from 'kafkajs';
import { z } from 'zod';
import { createKafka, kafkaClientSchema } from '../kafka/client.js';
import { AsyncQueue } from '../util/async-queue.js';
import { mappingShape } from './mapping.js';
import type { RawBatch, RawRecord, Source, SourceContext } from './types.js';

export const type = 'kafka';

/**
 * Apache Kafka topics read by a consumer group. Each partition is a unit of state: checkpointed,
 * moved to another instance on rebalance and restored there; offsets are committed only once
 * everything derived from them is durable and checkpointed (never auto-committed).
 * Example: `{ name: payments, type: kafka, topics: [payments], groupId: vigie-fraud, client: { brokers: "${KAFKA_BROKERS}" } }`
 */
export const schema = z.strictObject({
  name: z.string().min(1).describe('Source name, unique in the config.'),
  type: z.literal(type),
  client: kafkaClientSchema.default(kafkaClientSchema.parse({})).describe('Connection to the Kafka cluster (brokers, TLS, SASL, timeouts).'),
  topics: z.array(z.string().min(1)).min(1).max(100).describe('Topics to consume. Every pipeline keyed by a field must read topics partitioned by that field for results to match a single-partition replay.'),
  groupId: z.string().min(1).describe('Consumer group: instances with the same group id share the partitions.'),
  format: z.enum(['json', 'msgpack']).default('json').describe('Encoding of record values.'),
  fromBeginning: z.boolean().default(true).describe('With no committed offset, start at the earliest record (true) or the latest (false).'),
  recordKeyField: z.string().min(1).optional().describe('Copy the record key (as text) into this payload field, e.g. to key pipelines by it.'),
  timestampFrom: z.enum(['field', 'record']).default('field').describe('Event time from the mapped `time` field, or from the Kafka record timestamp.'),
  sessionTimeout: z.number().int().min(6000).default(30000).describe('Group session timeout, ms.'),
  heartbeatInterval: z.number().int().min(100).default(3000).describe('Heartbeat interval, ms.'),
  maxBytesPerPartition: z.number().int().positive().default(1_048_576).describe('Largest fetch per partition, bytes.'),
  bufferedBatches: z.number().int().min(1).max(1024).default(16).describe('Fetched batches held for the engine at most; beyond it the partition is paused until the engine catches up.'),
  ...mappingShape,
});
export type Config = z.infer<typeof schema>;

const PARTITION_SPACE = 1_000_000;
/** Kafka error types of a commit made by a member that is no longer the partition's owner. */
const REBALANCE_ERRORS = new Set(['ILLEGAL_GENERATION', 'REBALANCE_IN_PROGRESS', 'UNKNOWN_MEMBER_ID', 'NOT_COORDINATOR', 'FENCED_INSTANCE_ID']);

/** Build a Kafka consumer-group source. */
export function create(config: Config, ctx: SourceContext): Source {
  const kafka = createKafka(config.client, ctx.logger);
  const consumer: Consumer = kafka.consumer({
    groupId: config.groupId,
    sessionTimeout: config.sessionTimeout,
    heartbeatInterval: config.heartbeatInterval,
    maxBytesPerPartition: config.maxBytesPerPartition,
    allowAutoTopicCreation: false,
  });
  const queue = new AsyncQueue<RawBatch>(config.bufferedBatches);
  // Source-local partition ids: topic index * 1e6 + Kafka partition, so several topics share one space.
  const topicIndex = new Map(config.topics.map((t, i) => [t, i]));
  const local = (topic: string, partition: number) => (topicIndex.get(topic) as number) * PARTITION_SPACE + partition;
  const kafkaOf = (l: number) => ({ topic: config.topics[Math.floor(l / PARTITION_SPACE)], partition: l % PARTITION_SPACE });
  /**
   * Per partition since its assignment: the last offset handed to the engine (or covered by the
   * restored state). A rebalance makes kafkajs fetch again from the committed offset, behind what
   * was already processed; those records must not be applied twice.
   */
  const handedUpTo = new Map<number, number>();
  let assigned = new Set<number>();
  let running = false;
  const self: Source = {
    name: config.name,
    type,
    format: config.format,
    mapping: config,
    scoped: true,
    recordMeta: { keyField: config.recordKeyField, timestampFromRecord: config.timestampFrom === 'record' },
    partitions: () => [],
    describePartition: (l) => kafkaOf(l),
    checkpointId: (l) => {
      const { topic, partition } = kafkaOf(l);
      return `${config.groupId}:${topic}:${partition}`;
    },
    async commit(offsets) {
      const topics = [...offsets].map(([l, offset]) => ({ ...kafkaOf(l), offset: String(offset + 1) }));
      try {
        await consumer.commitOffsets(topics);
      } catch (err) {
        // A rebalance happened since these offsets were read: the group refuses the commit, and the
        // partition's next owner resumes from the last accepted commit and its checkpoint. Expected.
        const e = err as { type?: string; cause?: { type?: string } };
        const type = e.type ?? e.cause?.type ?? '';
        if (!REBALANCE_ERRORS.has(type)) throw err;
        ctx.logger.warn({ source: config.name, reason: type }, 'offset commit refused after a rebalance; the next owner resumes from the last commit');
      }
    },
    async *batches(): AsyncGenerator<RawBatch> {
      let rebalancingSince: number | undefined;
      consumer.on(consumer.events.REBALANCING, () => {
        rebalancingSince ??= performance.now();
        // Partitions may be about to move: checkpoint them now so their next owner starts from here.
        ctx.onRebalancing?.(self);
      });
      consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
        if (rebalancingSince !== undefined) {
          ctx.metrics?.rebalanceDuration.observe({ source: config.name }, (performance.now() - rebalancingSince) / 1000);
          rebalancingSince = undefined;
        }
        const now = new Set<number>();
        for (const [topic, parts] of Object.entries(payload.memberAssignment)) for (const p of parts) now.add(local(topic, p));
        const revoked = [...assigned].filter((l) => !now.has(l));
        assigned = now;
        ctx.metrics?.rebalances.inc({ source: config.name });
        for (const l of revoked) {
          const { topic, partition } = kafkaOf(l);
          ctx.metrics?.consumerLag.remove({ source: config.name, topic, partition: String(partition) });
        }
        if (revoked.length > 0) {
          for (const l of revoked) handedUpTo.delete(l);
          queue.remove((b) => revoked.includes(b.partition));
          ctx.onRevoke?.(self, revoked);
        }
        ctx.logger.info({ source: config.name, assigned: [...now].map(kafkaOf) }, 'partitions assigned');
      });
      await consumer.connect();
      await consumer.subscribe({ topics: config.topics, fromBeginning: config.fromBeginning });
      running = true;
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 1,
        eachBatch: (payload) => handle(payload),
      });
      ctx.signal.addEventListener('abort', () => queue.close(), { once: true });
      for (;;) {
        const b = await queue.take();
        if (b === undefined) return;
        ctx.metrics?.sourceBufferFill.set({ source: config.name }, queue.size);
        yield b;
      }
    },
    async close() {
      queue.close();
      if (running) {
        running = false;
        await consumer.disconnect();
      }
    },
  };

  async function handle({ batch, resolveOffset, heartbeat, pause, isRunning, isStale }: EachBatchPayload): Promise<void> {
    if (!isRunning() || isStale() || ctx.signal.aborted) return;
    const l = local(batch.topic, batch.partition);
    if (!handedUpTo.has(l)) handedUpTo.set(l, (await ctx.onAssign?.(self, l)) ?? -1);
    const covered = handedUpTo.get(l) as number;
    const records: RawRecord[] = [];
    for (const m of batch.messages) {
      const offset = Number(m.offset);
      // Already applied (in the restored state, or handed over before a rebalance): never twice.
      if (offset <= covered) continue;
      records.push({ offset, data: m.value ?? new Uint8Array(0), key: m.key?.toString('utf8'), timestamp: Number(m.timestamp) });
    }
    ctx.logger.debug({ source: config.name, partition: batch.partition, first: batch.firstOffset(), last: batch.lastOffset(), kept: records.length }, 'fetched');
    // Lag as of this fetch: records after this batch up to the partition's end (one gauge update per batch).
    ctx.metrics?.consumerLag.set({ source: config.name, topic: batch.topic, partition: String(batch.partition) }, Math.max(0, Number(batch.offsetLag())));
    if (records.length > 0) {
      if (!queue.offer({ partition: l, records, end: false })) {
        // Engine full: leave the batch unresolved and pause the partition; it is fetched again on resume.
        const resume = pause();
        queue.onSpace(resume);
        return;
      }
      handedUpTo.set(l, records[records.length - 1].offset);
      ctx.metrics?.sourceBufferFill.set({ source: config.name }, queue.size);
    }
    resolveOffset(batch.lastOffset());
    await heartbeat();
  }

  return self;
}
