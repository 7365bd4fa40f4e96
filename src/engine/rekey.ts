/**
 * Re-keying through Kafka (docs/repartition.md): pipelines keyed otherwise than the `partitionedBy`
 * of their Kafka sources read their events through an internal repartition topic keyed by their own
 * key. Upstream, the partition tasks of the input send their ingested events there (an output of the
 * batch: its offsets are committed once the broker has them); downstream, one internal Kafka source
 * reads every repartition topic, each of its partitions a task running that topic's pipeline only,
 * with the watermark its upstream partitions report (rekey-inbox.ts).
 */
import type { Logger } from 'pino';
import type { VigieConfig } from '../config/schema.js';
import type { PipelineConfig } from '../config/pipeline.js';
import { keyFields, rekeyedPipelines, sameKey, type RekeyedPipeline } from '../config/repartition.js';
import { createKafka } from '../kafka/client.js';
import { MAX_RECORD_BYTES, RepartitionIO } from '../kafka/repartition.js';
import type { EngineMetrics } from '../metrics/registry.js';
import { createSource } from '../sources/index.js';
import { schema as kafkaSchema, type Config as KafkaConfig } from '../sources/kafka.js';
import type { RawBatch, Source, SourceContext } from '../sources/types.js';
import type { DeadLetter } from '../types.js';
import type { EngineBatch } from './batch.js';
import type { Partitions } from './partitions.js';
import { RekeyInbox, type InboxSnapshot } from './rekey-inbox.js';
import { RekeyOutbox, rekeyPackr, type OutMessage, type RekeyMarker, type RekeyRecord } from './rekey-outbox.js';
import type { Task } from './task.js';

/** Name of the internal source reading the repartition topics (not a valid user source name clash: parentheses). */
export const REPARTITION_SOURCE = '(repartition)';

export class Rekey {
  /** Re-keyed pipelines with their topics (empty: nothing to re-key, the engine runs as without). */
  readonly plan: RekeyedPipeline[];
  private readonly byPipeline = new Map<string, RekeyedPipeline>();
  private readonly byTopic = new Map<string, RekeyedPipeline>();
  /** Sources feeding at least one repartition topic, with their partition count (known after start). */
  private readonly feeding = new Map<string, number>();
  private io: RepartitionIO | undefined;
  private outbox: RekeyOutbox | undefined;
  private downstream: Source | undefined;
  private readonly inboxes = new Map<number, RekeyInbox>();
  /** Key of every pipeline at start (a re-keyed pipeline's key cannot change without a restart). */
  private readonly keys: ReadonlyMap<string, string>;

  constructor(
    config: VigieConfig,
    private readonly live: boolean,
    private readonly partitions: Partitions,
    private readonly logger: Logger,
    private readonly metrics: EngineMetrics | undefined,
    private readonly time: { maxOutOfOrderness: number; idleTimeout: number },
  ) {
    this.plan = live ? rekeyedPipelines(config) : [];
    this.keys = new Map(config.pipelines.map((p) => [p.name, keyFields(p.key).join('|')]));
    for (const r of this.plan) {
      this.byPipeline.set(r.pipeline, r);
      this.byTopic.set(r.topic, r);
      for (const s of r.sources) this.feeding.set(s, 0);
    }
    if (live) warnUnpartitioned(config, logger);
  }

  get active(): boolean {
    return this.plan.length > 0;
  }

  /** The pipelines a partition task runs: a repartition topic's partition its pipeline, another Kafka partition every pipeline not re-keyed. */
  select(source: Source, local: number): ((p: PipelineConfig) => boolean) | undefined {
    if (!this.active) return undefined;
    if (source === this.downstream) {
      const topic = source.describePartition?.(local).topic;
      const name = topic === undefined ? undefined : this.byTopic.get(topic)?.pipeline;
      return (p) => p.name === name;
    }
    return (p) => !this.byPipeline.has(p.name);
  }

  /** A hot reload may not change which pipelines are re-keyed, nor through which topic. */
  refuse(next: VigieConfig): string | undefined {
    const after = rekeyedPipelines(next);
    // The records in a topic are keyed by its pipeline's key: a new key needs an empty topic.
    const keys = new Map(next.pipelines.map((p) => [p.name, keyFields(p.key).join('|')]));
    const describe = (plan: RekeyedPipeline[], keyOf: ReadonlyMap<string, string>) => JSON.stringify(plan.map((r) => [r.pipeline, r.topic, [...r.sources].sort(), keyOf.get(r.pipeline)]).sort());
    if (!this.live || describe(after, keys) === describe(this.plan, this.keys)) return undefined;
    return 'changes to which pipelines are re-keyed through a repartition topic, or to the key or sources of one, need a restart (and a new repartition topic when the key changes: set repartition.topicPrefix)';
  }

  /** Create the topics, connect the producer, and build the internal source reading the topics (undefined when inactive). */
  async start(config: VigieConfig, ctx: SourceContext): Promise<Source | undefined> {
    if (!this.active) return undefined;
    const kafkaSources = new Map(config.sources.filter((s): s is KafkaConfig => s.type === 'kafka').map((s) => [s.name, s]));
    const first = kafkaSources.get(this.plan[0].sources[0]) as KafkaConfig;
    this.io = new RepartitionIO(createKafka(first.client, this.logger), this.logger);
    const r = config.repartition;
    const layout = await this.io.setup(
      this.plan.map((p) => ({
        topic: p.topic,
        inputs: p.sources.flatMap((s) => kafkaSources.get(s)?.topics ?? []),
        partitions: r.partitions,
        replicationFactor: r.replicationFactor,
        retentionMs: r.retention,
      })),
    );
    for (const name of this.feeding.keys()) this.feeding.set(name, (kafkaSources.get(name)?.topics ?? []).reduce((n, t) => n + (layout.inputs.get(t) ?? 0), 0));
    this.outbox = new RekeyOutbox(new Map(this.plan.map((p) => [p.pipeline, p.topic])), layout.topics, MAX_RECORD_BYTES);
    this.outbox.configure(config.pipelines);
    const downstream = kafkaSchema.parse({
      name: REPARTITION_SOURCE,
      type: 'kafka',
      client: first.client,
      topics: this.plan.map((p) => p.topic),
      groupId: `${first.groupId}-repartition`,
      format: 'msgpack',
      fromBeginning: true,
      sessionTimeout: first.sessionTimeout,
      heartbeatInterval: first.heartbeatInterval,
      maxWaitTime: first.maxWaitTime,
      bufferedBatches: first.bufferedBatches,
      maxBytesPerPartition: first.maxBytesPerPartition,
    });
    this.downstream = createSource(downstream, ctx);
    this.logger.info({ pipelines: this.plan.map((p) => ({ pipeline: p.pipeline, topic: p.topic, partitions: layout.topics.get(p.topic) })), groupId: downstream.groupId }, 're-keying through repartition topics');
    return this.downstream;
  }

  /** The re-keyed pipelines' definitions changed (hot reload: where, fields). */
  configure(pipelines: readonly PipelineConfig[]): void {
    this.outbox?.configure(pipelines);
  }

  isDownstream(source: Source): boolean {
    return source === this.downstream;
  }

  /** A partition was assigned: a downstream one starts with empty upstream knowledge (its checkpoint, if any, restores it next). */
  assigned(source: Source, local: number, now: number): void {
    if (source !== this.downstream) return;
    const pid = this.partitions.id(source, local);
    const topic = source.describePartition?.(local).topic ?? '';
    this.inboxes.set(pid, new RekeyInbox(this.byTopic.get(topic)?.sources ?? [], this.time.idleTimeout, now));
  }

  revoked(source: Source, locals: readonly number[]): void {
    for (const local of locals) {
      const pid = this.partitions.id(source, local);
      this.inboxes.delete(pid);
      this.outbox?.forget(pid);
    }
  }

  snapshot(pid: number): InboxSnapshot | undefined {
    return this.inboxes.get(pid)?.snapshot();
  }

  restore(pid: number, snap: InboxSnapshot | undefined, now: number): void {
    this.inboxes.get(pid)?.restore(snap, now);
  }

  /** Decode a batch of a repartition topic into events; the watermark is the upstream partitions' (see RekeyInbox). */
  ingest(source: Source, rb: RawBatch, task: Task, batch: EngineBatch, now: number): void {
    const pid = batch.partition as number;
    let inbox = this.inboxes.get(pid);
    if (inbox === undefined) {
      this.assigned(source, rb.partition, now);
      inbox = this.inboxes.get(pid) as RekeyInbox;
    }
    const tracker = task.tracker;
    const ooo = this.time.maxOutOfOrderness;
    const advance = () => {
      const w = inbox.watermark(now);
      if (w > tracker.watermark) tracker.observe(pid, w + ooo, now);
    };
    const wm: number[] = [];
    const dead: DeadLetter[] = batch.deadLetters;
    let dropped = 0;
    const topic = source.describePartition?.(rb.partition).topic ?? '';
    const hop = this.metrics?.repartitionHop.labels({ topic });
    for (const rec of rb.records) {
      let v: RekeyRecord | RekeyMarker;
      try {
        v = rekeyPackr.unpack(rec.data as Uint8Array) as RekeyRecord | RekeyMarker;
        if (typeof v !== 'object' || v === null || typeof v.src !== 'string' || typeof v.p !== 'number' || typeof v.w !== 'number') throw new TypeError('not a repartition record');
      } catch (err) {
        dead.push({ reason: 'parse_error', detail: `repartition record: ${(err as Error).message}`, source: REPARTITION_SOURCE, partition: pid, offset: rec.offset, raw: Buffer.from(rec.data as Uint8Array).toString('base64') });
        continue;
      }
      if ('m' in v) {
        inbox.marker(v.src, v.p, v.n, v.w, now);
        advance();
        continue;
      }
      if (!inbox.record(v.src, v.p, v.o, v.w, now)) {
        dropped++;
        continue;
      }
      advance();
      if (hop !== undefined && rec.timestamp !== undefined) hop.observe(Math.max(0, (now - rec.timestamp) / 1000));
      batch.events.push({ time: v.t, id: v.id ?? undefined, partition: pid, offset: rec.offset, source: v.src, payload: v.payload });
      wm.push(tracker.watermark);
    }
    if (dead.length > 0) this.partitions.localize(dead, source, rb.partition);
    if (rb.records.length > 0) {
      tracker.touch(pid, now);
      batch.positions.set(pid, rb.records[rb.records.length - 1].offset);
    }
    batch.duplicates = dropped;
    if (dropped > 0) this.metrics?.repartitionRedeliveries.inc({ topic }, dropped);
    batch.wm = Float64Array.from(wm);
    batch.watermark = tracker.watermark;
  }

  /** Upstream: the records of a processed batch of an input partition, onto the batch (sent with its outputs). */
  upstream(batch: EngineBatch, task: Task, now: number): void {
    const pid = batch.partition as number;
    const owner = this.partitions.ownerOf(pid);
    const n = owner === undefined ? undefined : this.feeding.get(owner.source.name);
    if (owner === undefined || n === undefined || this.outbox === undefined || owner.source === this.downstream) return;
    const from = batch.deadLetters.length;
    this.outbox.build(owner.source.name, owner.local, pid, n, batch.events, batch.wm, task.tracker.watermark, now, (batch.produce ??= []), batch.deadLetters);
    // The upstream missing_key dead letters name the source's partition, as the pipeline's would.
    if (batch.deadLetters.length > from) this.partitions.localize(batch.deadLetters, owner.source, owner.local, from);
  }

  /** Downstream, live: upstream partitions gone idle may release a partition's watermark without input. */
  ticks(now: number, make: (task: Task, pid: number) => EngineBatch): EngineBatch[] {
    if (this.time.idleTimeout <= 0) return [];
    const out: EngineBatch[] = [];
    for (const [pid, inbox] of this.inboxes) {
      const task = this.partitions.tasks.get(pid);
      if (task === undefined) continue;
      const w = inbox.watermark(now);
      if (!(w > task.tracker.watermark)) continue;
      task.tracker.observe(pid, w + this.time.maxOutOfOrderness, now);
      const b = make(task, pid);
      b.watermark = task.tracker.watermark;
      out.push(b);
    }
    return out;
  }

  /** Send a batch's repartition records; resolves once the broker has them all (acks all). */
  async send(batch: EngineBatch): Promise<void> {
    const out: OutMessage[] | undefined = batch.produce;
    if (out === undefined || out.length === 0 || this.io === undefined) return;
    await this.io.send(out);
    const m = this.metrics;
    if (m) for (const msg of out) m.repartitionProduced.inc({ topic: msg.topic, kind: msg.key === undefined ? 'marker' : 'record' });
  }

  async close(): Promise<void> {
    await this.io?.close();
  }
}

/** A Kafka source without partitionedBy is assumed keyed by each pipeline's key: say so when its pipelines have different keys. */
function warnUnpartitioned(config: VigieConfig, logger: Logger): void {
  for (const s of config.sources) {
    if (s.type !== 'kafka' || (s as KafkaConfig).partitionedBy !== undefined) continue;
    const keys = config.pipelines.filter((p) => p.sources === undefined || p.sources.includes(s.name)).map((p) => p.key);
    if (keys.some((k) => !sameKey(k, keys[0]))) {
      logger.warn(
        { source: s.name, keys: [...new Set(keys.map((k) => String(k)))] },
        'Kafka source without partitionedBy feeds pipelines with different keys: results are right only if its topics are keyed by every one of them; set partitionedBy to re-key the others',
      );
    }
  }
}
