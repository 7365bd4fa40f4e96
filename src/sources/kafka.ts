import type { Consumer, EachBatchPayload } from 'kafkajs';
import type { Logger } from 'pino';
import { z } from 'zod';
import { VigieError } from '../errors.js';
import { durationSchema } from '../time/duration.js';
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
  topics: z.array(z.string().min(1)).min(1).max(100).describe('Topics to consume. Say how their record keys are chosen with `partitionedBy`: pipelines keyed otherwise are then re-keyed through Kafka, so results match a single replay.'),
  groupId: z.string().min(1).describe('Consumer group: instances with the same group id share the partitions.'),
  format: z.enum(['json', 'msgpack']).default('json').describe('Encoding of record values.'),
  fromBeginning: z.boolean().default(true).describe('With no committed offset, start at the earliest record (true) or the latest (false).'),
  partitionedBy: z
    .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
    .optional()
    .describe(
      'The payload field (or list of fields, like a pipeline key) that the topics\' record keys hold, so that one key lives in one partition. ' +
        'Pipelines keyed by it run in the input partitions\' tasks; pipelines keyed by anything else are re-keyed through an internal repartition topic ' +
        '(see `repartition`), so their results do not depend on how instances share the partitions. Absent: the topics are assumed keyed by every pipeline\'s key.',
    ),
  recordKeyField: z.string().min(1).optional().describe('Copy the record key (as text) into this payload field, e.g. to key pipelines by it.'),
  timestampFrom: z.enum(['field', 'record']).default('field').describe('Event time from the mapped `time` field, or from the Kafka record timestamp.'),
  sessionTimeout: z.number().int().min(6000).default(30000).describe('Group session timeout, ms.'),
  heartbeatInterval: z.number().int().min(100).default(3000).describe('Heartbeat interval, ms.'),
  maxBytesPerPartition: z.number().int().positive().default(1_048_576).describe('Largest fetch per partition, bytes.'),
  bufferedBatches: z.number().int().min(1).max(1024).default(16).describe('Fetched batches held for the engine at most; beyond it the partition is paused until the engine catches up.'),
  maxWaitTime: durationSchema
    .refine((ms) => ms >= 10 && ms <= 60_000, 'must be between 10ms and 1m')
    .default(500)
    .describe(
      'How long a fetch waits on the broker for new records (fetch.max.wait.ms), and how long the consumer idles when every partition it fetches from ' +
        'is paused because the engine is full: a resumed partition is fetched again after at most this long. Default 500ms.',
    ),
  startTimeout: durationSchema
    .default(0)
    .describe(
      'At start, how long to keep trying to reach the cluster (readiness down meanwhile, as during a broker outage) before failing with VIGIE_ERR_SOURCE; 0: keep trying until stopped.',
    ),
  ...mappingShape,
});
export type Config = z.infer<typeof schema>;

const PARTITION_SPACE = 1_000_000;
/** Kafka error types of a commit made by a member that is no longer the partition's owner. */
const REBALANCE_ERRORS = new Set(['ILLEGAL_GENERATION', 'REBALANCE_IN_PROGRESS', 'UNKNOWN_MEMBER_ID', 'NOT_COORDINATOR', 'FENCED_INSTANCE_ID']);
/** kafkajs errors that mean "the cluster cannot be reached right now" rather than "this request is wrong". */
const UNREACHABLE_ERRORS = new Set([
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSGroupCoordinatorNotFound',
  'KafkaJSNoBrokerAvailableError',
]);

/** What the kafkajs client logs when it cannot reach a broker (connection refused, reset or timed out). */
const CONNECTION_TROUBLE = /^(Connection error|Connection timeout|Failed to connect)/;

/** The logger given to the Kafka client, also telling `onError` the message of every error it logs. */
function watchErrors(logger: Logger, onError: (message: string) => void): Logger {
  return new Proxy(logger, {
    get(target, prop) {
      if (prop === 'error') {
        return (obj: unknown, msg?: unknown, ...rest: unknown[]) => {
          if (typeof msg === 'string') onError(msg);
          else if (typeof obj === 'string') onError(obj);
          return (target.error as (...a: unknown[]) => void)(obj, msg, ...rest);
        };
      }
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/**
 * What kafkajs throws at a commit, pause or resume between a consumer crash and its restart (it
 * drops its consumer group on the crash and builds a new one when it restarts).
 */
const RESTARTING = /consumer group was not initialized/i;

/** True when an error (or what caused it) says the cluster is unreachable, the consumer is restarting, or the request may be retried later. */
function transient(err: unknown): boolean {
  for (let e = err as { name?: string; message?: string; retriable?: boolean; cause?: unknown } | undefined, depth = 0; e && depth < 8; e = e.cause as typeof e, depth++) {
    if (UNREACHABLE_ERRORS.has(e.name ?? '') || e.retriable === true || RESTARTING.test(e.message ?? '')) return true;
  }
  return false;
}

/** Errors no retry fixes at start: TLS and certificate failures, refused credentials. */
const REFUSED = /certificate|self[- ]signed|unable to verify|unable to get local issuer|wrong version number|handshake|SSL routines|SASL|authentication/i;

function refused(err: unknown): boolean {
  for (let e = err as { message?: string; cause?: unknown; originalError?: unknown } | undefined, depth = 0; e && depth < 8; e = (e.cause ?? e.originalError) as typeof e, depth++) {
    if (REFUSED.test(e.message ?? '')) return true;
  }
  return false;
}

/** Build a Kafka consumer-group source. */
export function create(config: Config, ctx: SourceContext): Source {
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
  /**
   * Health: why the source cannot read now (undefined: it can). Set when the client cannot reach a
   * broker (a connection error or timeout it logs, a request that timed out), when the consumer
   * crashed (kafkajs restarts it) or when a commit failed for want of a cluster; cleared by the next
   * response any broker gives the consumer.
   */
  let down: string | undefined;
  const markDown = (reason: string) => {
    if (down === undefined) ctx.logger.warn({ source: config.name, reason }, 'source cannot read; the Kafka client retries');
    down = reason;
    ctx.metrics?.sourceUp.set({ source: config.name }, 0);
  };
  const markUp = () => {
    if (down === undefined) return;
    ctx.logger.info({ source: config.name }, 'source reads again');
    down = undefined;
    ctx.metrics?.sourceUp.set({ source: config.name }, 1);
  };
  /**
   * Per assigned partition, the last offset the engine asked to commit (its checkpoint covers it) while
   * not yet accepted by the group: refused during a rebalance, or failed while the cluster was
   * unreachable. Committed again after every rejoin and once a broker answers, even if the partition
   * never receives another record (else the group's offset stays behind for as long as it is quiet).
   */
  const uncommitted = new Map<number, number>();
  /** Per partition, the last offset committed: commits never go back. */
  const committed = new Map<number, number>();
  /** Keep vigie_uncommitted_records of a partition in step with what the group has accepted. */
  const reportUncommitted = (l: number) => {
    const { topic, partition } = kafkaOf(l);
    const pending = uncommitted.get(l);
    ctx.metrics?.uncommittedRecords.set({ source: config.name, topic, partition: String(partition) }, pending === undefined ? 0 : Math.max(0, pending - (committed.get(l) ?? -1)));
  };
  /** Commits one at a time, in order (a retried commit must not overtake a newer one). */
  let commits: Promise<void> = Promise.resolve();
  const commitNow = (offsets: ReadonlyMap<number, number>): Promise<void> => {
    const run = commits.then(async () => {
      const ahead = [...offsets].filter(([l, offset]) => offset > (committed.get(l) ?? -1));
      if (ahead.length === 0) return;
      await consumer.commitOffsets(ahead.map(([l, offset]) => ({ ...kafkaOf(l), offset: String(offset + 1) })));
      for (const [l, offset] of ahead) {
        committed.set(l, offset);
        if ((uncommitted.get(l) ?? Infinity) <= offset) uncommitted.delete(l);
        reportUncommitted(l);
      }
    });
    commits = run.catch(() => {});
    return run;
  };
  let retrying = false;
  const retryCommits = () => {
    if (uncommitted.size === 0 || retrying || !running) return;
    retrying = true;
    commitNow(new Map(uncommitted))
      .catch((err: unknown) => ctx.logger.debug({ source: config.name, err: (err as Error).message }, 'offset commit retry failed'))
      .finally(() => (retrying = false));
  };
  const kafka = createKafka(
    config.client,
    watchErrors(ctx.logger, (message) => {
      if (CONNECTION_TROUBLE.test(message)) markDown(`broker unreachable: ${message}`);
    }),
  );
  const consumer: Consumer = kafka.consumer({
    groupId: config.groupId,
    sessionTimeout: config.sessionTimeout,
    heartbeatInterval: config.heartbeatInterval,
    maxBytesPerPartition: config.maxBytesPerPartition,
    maxWaitTimeInMs: config.maxWaitTime,
    allowAutoTopicCreation: false,
  });
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
    healthy: () => down === undefined,
    downReason: () => down,
    async commit(offsets) {
      // Until the group accepts them, these offsets are owed: a refusal or a failure leaves them here.
      for (const [l, offset] of offsets) {
        if (!assigned.has(l) || offset <= (committed.get(l) ?? -1)) continue;
        uncommitted.set(l, Math.max(offset, uncommitted.get(l) ?? -1));
        reportUncommitted(l);
      }
      try {
        await commitNow(offsets);
      } catch (err) {
        // A rebalance happened since these offsets were read: the group refuses the commit. If the
        // partition stays here, the commit is made again once the group is joined again; if it moves,
        // its next owner restores the checkpoint and commits what it covers.
        const e = err as { type?: string; cause?: { type?: string } };
        const type = e.type ?? e.cause?.type ?? '';
        if (REBALANCE_ERRORS.has(type)) {
          ctx.logger.warn({ source: config.name, reason: type }, 'offset commit refused during a rebalance; committed again after the group is joined again if the partition stays here');
          return;
        }
        if (!transient(err)) throw err;
        // The cluster is unreachable (a broker restarting), or the consumer is being restarted by
        // kafkajs after a crash that the outage caused. Not fatal: the checkpoint written before
        // covers these offsets, so after a restart what they cover is skipped, not applied twice; and
        // the commit is made again as soon as a broker answers.
        ctx.logger.warn({ source: config.name, err: (err as Error).message }, 'offset commit failed: cluster unreachable; committed again once a broker answers');
        markDown(`offset commit failed: ${(err as Error).message}`);
      }
    },
    async *batches(): AsyncGenerator<RawBatch> {
      let rebalancingSince: number | undefined;
      consumer.on(consumer.events.REBALANCING, () => {
        rebalancingSince ??= performance.now();
        // Partitions may be about to move: checkpoint them now so their next owner starts from here.
        ctx.onRebalancing?.(self);
      });
      // A broker answered (whatever it said): the cluster is reachable again.
      consumer.on(consumer.events.REQUEST, () => {
        markUp();
        retryCommits();
      });
      consumer.on(consumer.events.REQUEST_TIMEOUT, ({ payload }) => markDown(`request ${payload.apiName} to ${payload.broker} timed out`));
      consumer.on(consumer.events.CRASH, ({ payload }) => {
        markDown(`consumer ${payload.restart ? 'restarting after' : 'stopped by'} ${payload.error.name}: ${payload.error.message}`);
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
          for (const l of revoked) {
            handedUpTo.delete(l);
            uncommitted.delete(l);
            committed.delete(l);
            const { topic, partition } = kafkaOf(l);
            ctx.metrics?.uncommittedRecords.remove({ source: config.name, topic, partition: String(partition) });
          }
          queue.remove((b) => revoked.includes(b.partition));
          ctx.onRevoke?.(self, revoked);
        }
        ctx.logger.info({ source: config.name, assigned: [...now].map(kafkaOf) }, 'partitions assigned');
        // Joined again: what a refused commit left owed on partitions still ours is committed now.
        retryCommits();
      });
      if (!(await connectPatiently())) return;
      await consumer.subscribe({ topics: config.topics, fromBeginning: config.fromBeginning });
      running = true;
      ctx.metrics?.sourceUp.set({ source: config.name }, 1);
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

  /**
   * Connect, retrying while no broker answers (not ready meanwhile) until `startTimeout` or a stop: a
   * service started before its broker waits for it, as it rides through an outage later. False: stopped.
   */
  async function connectPatiently(): Promise<boolean> {
    const deadline = config.startTimeout > 0 ? Date.now() + config.startTimeout : Infinity;
    for (let attempt = 0; ; attempt++) {
      try {
        await consumer.connect();
        return true;
      } catch (err) {
        // A broker that answers but refuses us (certificate, TLS, credentials) will not change its mind.
        if (refused(err) || (!transient(err) && !CONNECTION_TROUBLE.test((err as Error).message ?? ''))) throw err;
        if (Date.now() >= deadline) {
          throw new VigieError('VIGIE_ERR_SOURCE', `kafka source "${config.name}": no broker answered within startTimeout (${config.startTimeout} ms): ${(err as Error).message}`, { cause: err });
        }
        markDown(`broker unreachable at start: ${(err as Error).message}`);
        const wait = Math.min(30_000, 1000 * 2 ** Math.min(attempt, 5));
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, wait);
          ctx.signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
        });
        if (ctx.signal.aborted) return false;
      }
    }
  }

  async function handle({ batch, resolveOffset, heartbeat, pause, isRunning, isStale }: EachBatchPayload): Promise<void> {
    if (!isRunning() || isStale() || ctx.signal.aborted) return;
    const l = local(batch.topic, batch.partition);
    if (!handedUpTo.has(l)) {
      const restored = (await ctx.onAssign?.(self, l)) ?? -1;
      handedUpTo.set(l, restored);
      // The restored checkpoint covers this offset (its outputs were delivered before it was written):
      // commit it now, so the group's offset does not stay behind it while the partition is quiet.
      if (restored >= 0) void self.commit?.(new Map([[l, restored]])).catch((err: unknown) => ctx.logger.warn({ source: config.name, err: (err as Error).message }, 'offset commit of the restored checkpoint failed'));
    }
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
        queue.onSpace(() => {
          try {
            resume();
          } catch (err) {
            // The consumer crashed since (broker outage) and kafkajs is restarting it: its new group
            // does not have the partition paused, so there is nothing to resume.
            if (!transient(err)) throw err;
          }
        });
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
