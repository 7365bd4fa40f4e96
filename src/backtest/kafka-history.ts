import { randomBytes } from 'node:crypto';
import type { Consumer, EachBatchPayload } from 'kafkajs';
import type { Logger } from 'pino';
import type { LoadedConfig } from '../config/load.js';
import { VigieError } from '../errors.js';
import { createKafka, kafkaClientSchema, type KafkaClientConfig } from '../kafka/client.js';
import { mappingOf, type Mapping } from '../sources/mapping.js';
import type { RawBatch, RawRecord, Source } from '../sources/types.js';
import { parseDuration } from '../time/duration.js';
import { AsyncQueue } from '../util/async-queue.js';

/**
 * Replay from Kafka: a finite source over the records of one topic between two points in time.
 *
 * Bounds, per partition: from the offset Kafka gives for `since` (the first record whose timestamp
 * is >= since, `admin.fetchTopicOffsetsByTimestamp`) up to, excluding, the offset Kafka gives for
 * `until` (the first record whose timestamp is >= until) — or, without `until`, the end offset
 * (high watermark) when the replay starts. So the replay covers [since, until) by record timestamp
 * as long as timestamps grow within a partition (Kafka's own notion of "offset for a time");
 * records appended after the start are not read, and the source ends by itself.
 *
 * It reads with a consumer group of its own (`vigie-replay-<random>`), never commits, and is not
 * partition-scoped: all partitions feed one watermark and one state, like a file replay, so no
 * checkpoint is read or written and the live group's offsets and state are left untouched.
 */

/** What a time argument may be: ISO-8601, "now", or a duration ago ("7d", "24h", "90m", "2w"). */
export function parseTimeArg(text: string, now: number, what = 'time'): number {
  const t = text.trim();
  if (t === 'now') return now;
  const weeks = /^(\d+)\s*w$/.exec(t);
  if (weeks) return now - Number(weeks[1]) * 7 * 86_400_000;
  const ago = parseDuration(t);
  if (ago !== undefined) return now - ago;
  if (/^\d{4}-\d{2}-\d{2}/.test(t)) {
    const ms = Date.parse(t);
    if (!Number.isNaN(ms)) return ms;
  }
  throw new VigieError('VIGIE_ERR_USAGE', `${what} "${text}" is neither an ISO-8601 date-time nor a duration ago like 7d, 24h, 30m`);
}

export interface PartitionRange {
  partition: number;
  /** First offset read. */
  start: number;
  /** First offset not read (exclusive). */
  end: number;
}

export interface KafkaHistoryOptions {
  topic: string;
  /** Inclusive lower bound, ms since the epoch (record timestamps). */
  since: number;
  /** Exclusive upper bound; the end offsets at start when absent. */
  until?: number;
  client: KafkaClientConfig;
  /** Source name (pipelines restricted to sources by name still match). */
  name: string;
  format: 'json' | 'msgpack';
  mapping: Mapping;
  recordMeta?: { keyField?: string; timestampFromRecord: boolean };
  logger: Logger;
  /** Default: vigie-replay-<random>. */
  groupId?: string;
  bufferedBatches?: number;
  maxBytesPerPartition?: number;
  sessionTimeout?: number;
  heartbeatInterval?: number;
}

export interface KafkaHistory {
  source: Source;
  groupId: string;
  ranges: PartitionRange[];
  /** Records the ranges hold (offsets; compaction or transaction markers may make it fewer). */
  records: number;
}

/** Look the offsets up, then build the source. Nothing is read until the engine pulls. */
export async function openKafkaHistory(o: KafkaHistoryOptions): Promise<KafkaHistory> {
  if (o.until !== undefined && !(o.until > o.since)) {
    throw new VigieError('VIGIE_ERR_USAGE', `--until (${new Date(o.until).toISOString()}) must be after --since (${new Date(o.since).toISOString()})`);
  }
  const kafka = createKafka(o.client, o.logger);
  const admin = kafka.admin();
  let ranges: PartitionRange[];
  try {
    await admin.connect();
    const topics = await admin.listTopics();
    if (!topics.includes(o.topic)) throw new VigieError('VIGIE_ERR_SOURCE', `topic "${o.topic}" does not exist`);
    const ends = await admin.fetchTopicOffsets(o.topic);
    const starts = await admin.fetchTopicOffsetsByTimestamp(o.topic, o.since);
    const stops = o.until === undefined ? ends.map((e) => ({ partition: e.partition, offset: e.high })) : await admin.fetchTopicOffsetsByTimestamp(o.topic, o.until);
    ranges = ends
      .map((e) => {
        const low = Number(e.low);
        const start = Math.max(low, Number(starts.find((s) => s.partition === e.partition)?.offset ?? e.high));
        const end = Math.min(Number(e.high), Number(stops.find((s) => s.partition === e.partition)?.offset ?? e.high));
        return { partition: e.partition, start, end: Math.max(start, end) };
      })
      .sort((a, b) => a.partition - b.partition);
  } catch (err) {
    if (err instanceof VigieError) throw err;
    throw new VigieError('VIGIE_ERR_SOURCE', `kafka topic "${o.topic}": ${(err as Error).message}`, { cause: err });
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  const groupId = o.groupId ?? `vigie-replay-${randomBytes(6).toString('hex')}`;
  const records = ranges.reduce((n, r) => n + (r.end - r.start), 0);
  o.logger.info({ topic: o.topic, groupId, since: new Date(o.since).toISOString(), until: o.until === undefined ? 'end' : new Date(o.until).toISOString(), ranges }, 'replay from kafka');
  if (records === 0) o.logger.warn({ topic: o.topic, ranges }, 'replay from kafka: no record in the range (or the records there were deleted by retention)');
  return { source: historySource(o, kafka, groupId, ranges), groupId, ranges, records };
}

function historySource(o: KafkaHistoryOptions, kafka: ReturnType<typeof createKafka>, groupId: string, ranges: readonly PartitionRange[]): Source {
  const pending = new Map(ranges.filter((r) => r.end > r.start).map((r) => [r.partition, r]));
  const queue = new AsyncQueue<RawBatch>(o.bufferedBatches ?? 16);
  /** Per partition: the last offset handed over (a resumed fetch repeats records; never twice). */
  const handedUpTo = new Map<number, number>();
  let consumer: Consumer | undefined;
  let running = false;
  let stopped = false;

  const finish = (partition: number) => {
    pending.delete(partition);
    if (pending.size === 0) queue.close();
  };

  async function handle({ batch, pause, heartbeat, resolveOffset, isRunning, isStale }: EachBatchPayload): Promise<void> {
    if (!isRunning() || isStale()) return;
    const range = pending.get(batch.partition);
    if (range === undefined) {
      // Finished (or empty): nothing more is wanted from it.
      pause();
      return;
    }
    const covered = handedUpTo.get(batch.partition) ?? range.start - 1;
    const records: RawRecord[] = [];
    for (const m of batch.messages) {
      const offset = Number(m.offset);
      if (offset <= covered || offset < range.start || offset >= range.end) continue;
      records.push({ offset, data: m.value ?? new Uint8Array(0), key: m.key?.toString('utf8'), timestamp: Number(m.timestamp) });
    }
    // Done once the batch reaches the last offset of the range (control records and compaction
    // may leave no record at that very offset).
    const last = Math.max(records.length > 0 ? records[records.length - 1].offset : -1, Number(batch.lastOffset()));
    const end = last >= range.end - 1;
    if (records.length > 0 || end) {
      if (!queue.offer({ partition: batch.partition, records, end })) {
        // The engine is behind: fetched again from here on resume.
        const resume = pause();
        queue.onSpace(resume);
        return;
      }
      if (records.length > 0) handedUpTo.set(batch.partition, records[records.length - 1].offset);
    }
    // Moves the fetch position only: without auto-commit nothing is ever committed.
    resolveOffset(batch.lastOffset());
    if (end) {
      pause();
      finish(batch.partition);
      return;
    }
    await heartbeat();
  }

  return {
    name: o.name,
    type: 'kafka-history',
    format: o.format,
    mapping: o.mapping,
    recordMeta: o.recordMeta,
    // One task for all partitions (W = min over them), as a file replay: nothing checkpointed, nothing committed.
    scoped: false,
    partitions: () => [...pending.keys()],
    describePartition: (p) => ({ topic: o.topic, partition: p }),
    async *batches(): AsyncGenerator<RawBatch> {
      if (pending.size === 0) return;
      const c = kafka.consumer({
        groupId,
        sessionTimeout: o.sessionTimeout ?? 30_000,
        heartbeatInterval: o.heartbeatInterval ?? 3000,
        maxBytesPerPartition: o.maxBytesPerPartition ?? 1_048_576,
        allowAutoTopicCreation: false,
      });
      consumer = c;
      // Seek as soon as the partitions are assigned, before the first fetch. Without auto-commit a
      // seek only moves the fetch position: nothing is committed, ever.
      c.on(c.events.GROUP_JOIN, ({ payload }) => {
        for (const p of payload.memberAssignment[o.topic] ?? []) {
          const r = pending.get(p);
          if (r !== undefined) c.seek({ topic: o.topic, partition: p, offset: String(Math.max(r.start, (handedUpTo.get(p) ?? r.start - 1) + 1)) });
        }
      });
      // A fetch holding only control records (transaction markers) or aborted records never reaches
      // eachBatch: kafkajs skips it and reports it here. A range ending on such records ends here.
      c.on(c.events.END_BATCH_PROCESS, ({ payload }) => {
        if (payload.topic !== o.topic || payload.batchSize !== 0) return;
        const r = pending.get(payload.partition);
        if (r === undefined || Number(payload.lastOffset) < r.end - 1) return;
        const close = () => {
          if (stopped || !pending.has(payload.partition)) return;
          if (!queue.offer({ partition: payload.partition, records: [], end: true })) return queue.onSpace(close);
          finish(payload.partition);
        };
        close();
      });
      await c.connect();
      running = true;
      await c.subscribe({ topics: [o.topic], fromBeginning: true });
      await c.run({ autoCommit: false, eachBatchAutoResolve: false, partitionsConsumedConcurrently: 1, eachBatch: (payload) => handle(payload) });
      for (;;) {
        const b = await queue.take();
        if (b === undefined) return;
        yield b;
      }
    },
    async close() {
      stopped = true;
      queue.close();
      if (running && consumer) {
        running = false;
        await consumer.disconnect();
        // The group never committed anything; remove it so that no trace is left (best effort).
        const admin = kafka.admin();
        try {
          await admin.connect();
          await admin.deleteGroups([groupId]);
        } catch {
          // An empty group without offsets expires on its own.
        } finally {
          await admin.disconnect().catch(() => undefined);
        }
      }
    },
  };
}

/**
 * The history source a config implies: the client settings, field mapping, format and record-meta
 * options of its first kafka source (`--brokers` overrides the brokers); without a kafka source,
 * `--brokers` is required and the mapping of its first source is used, records being JSON.
 */
export async function historyFromConfig(
  loaded: LoadedConfig,
  opts: { topic: string; since: number; until?: number; brokers?: string; logger: Logger; batchSize?: number },
): Promise<KafkaHistory> {
  const sources = loaded.config.sources;
  const k = sources.find((s) => s.type === 'kafka');
  if (k === undefined && opts.brokers === undefined) {
    throw new VigieError('VIGIE_ERR_USAGE', `--from-kafka: ${loaded.file} has no kafka source to take the brokers from; give --brokers`);
  }
  const template = k ?? sources[0];
  const base = k?.client ?? kafkaClientSchema.parse({});
  const client: KafkaClientConfig = opts.brokers !== undefined ? { ...base, brokers: opts.brokers } : base;
  return openKafkaHistory({
    topic: opts.topic,
    since: opts.since,
    until: opts.until,
    client,
    name: template.name,
    format: k?.format ?? 'json',
    mapping: mappingOf(template),
    recordMeta: k ? { keyField: k.recordKeyField, timestampFromRecord: k.timestampFrom === 'record' } : undefined,
    logger: opts.logger,
    bufferedBatches: k?.bufferedBatches,
    maxBytesPerPartition: k?.maxBytesPerPartition,
    sessionTimeout: k?.sessionTimeout,
    heartbeatInterval: k?.heartbeatInterval,
  });
}
