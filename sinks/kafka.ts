/**
 * Kafka sink: produces alerts, window results and dead letters to Kafka topics, one topic per output.
 * A write resolves once Kafka acknowledged every record of the batch.
 *
 * Example:
 * ```yaml
 * sinks:
 *   - name: bus
 *     type: kafka
 *     client:
 *       brokers: ${KAFKA_BROKERS}
 *     outputs: [alerts, deadLetters]
 *     topics:
 *       alerts: vigie.alerts
 *       deadLetters: vigie.dead-letters
 *     format: json
 *     compression: gzip
 * ```
 */
import { CompressionTypes, Partitioners, type IHeaders, type Kafka, type Message, type Producer, type TopicMessages } from 'kafkajs';
import { Packr } from 'msgpackr';
import { z } from 'zod';
import { createKafka, kafkaClientSchema } from '../src/kafka/client.js';
import type { Alert, DeadLetter, WindowResult } from '../src/types.js';
import { OUTPUT_KINDS, type OutputKind, type Sink, type SinkBatch, type SinkContext } from './types.js';
import { safeJson } from '../src/util/json.js';
import { VigieError, internalError } from '../src/errors.js';

export const type = 'kafka';

export const summary = 'Produces alerts, window results and dead letters to Kafka topics; acknowledges once Kafka has them.';

export const example = `sinks:
  - name: bus
    type: kafka
    client:
      brokers: \${KAFKA_BROKERS}
    outputs: [alerts, deadLetters]
    topics:
      alerts: vigie.alerts
      deadLetters: vigie.dead-letters
    format: json
    compression: gzip
`;

/** Kafka's rule for topic names: legal characters, at most 249 of them. */
const topicName = z.string().regex(/^[A-Za-z0-9._-]{1,249}$/, 'a Kafka topic name: 1 to 249 of a-z A-Z 0-9 . _ -');

export const schema = z
  .strictObject({
    name: z.string().min(1).describe('Name of this sink, unique among sinks; used in logs and as the `sink` metric label.'),
    type: z.literal(type).describe('Selects the Kafka sink.'),
    client: kafkaClientSchema.default(kafkaClientSchema.parse({})).describe('Connection to the Kafka cluster (brokers, TLS, SASL, timeouts).'),
    outputs: z
      .array(z.enum(OUTPUT_KINDS))
      .min(1)
      .default(['alerts'])
      .describe('Which outputs to produce: `alerts`, `results` (window results), `deadLetters`. Each needs a topic in `topics`. Defaults to alerts only.'),
    topics: z
      .strictObject({
        alerts: topicName.optional().describe('Topic of alerts. Record key: the alert\'s key, so the alerts of one key stay in order in one partition.'),
        results: topicName.optional().describe('Topic of window results. Record key: the result\'s key.'),
        scores: topicName.optional().describe('Topic of per-input detector scores. Record key: the scored key.'),
        queue: topicName.optional().describe('Topic of ranked queues (one record per ranked key and period). Record key: the ranked key.'),
        shadowAlerts: topicName.optional().describe('Topic of the alerts of detectors in shadow mode (never the analysts\' alerts topic). Record key: the alert\'s key.'),
        deadLetters: topicName
          .optional()
          .describe('Topic of dead letters. Record value: the original input, byte for byte (of a record over `maxEventBytes`, only its first 256 bytes); why it was rejected is in the headers. No key. It holds raw input (personal data): give the topic a `retention.ms` your data protection rules allow.'),
      })
      .describe('Topic per output; every output in `outputs` needs one. Topics must exist: the sink never creates them, so their retention (`retention.ms`, `retention.bytes`) is set where they are created.'),
    format: z
      .enum(['json', 'msgpack'])
      .default('json')
      .describe('Encoding of alert and result values: `json`, or `msgpack` (plain MessagePack maps, readable by any decoder). Dead letters are always their original bytes.'),
    acks: z
      .literal([-1, 1])
      .default(-1)
      .describe('Acknowledgement a write waits for: `-1` every in-sync replica (durable), `1` the partition leader only. `1` requires `idempotent: false`.'),
    idempotent: z
      .boolean()
      .default(true)
      .describe('Idempotent producer: the producer\'s own retries never duplicate or reorder records within a partition. Requires `acks: -1`.'),
    compression: z.enum(['none', 'gzip']).default('none').describe('Compression of produced record batches.'),
  })
  .superRefine((c, ctx) => {
    for (const output of c.outputs ?? []) {
      if (c.topics?.[output] === undefined) {
        ctx.addIssue({ code: 'custom', message: `output "${output}" is selected but has no topic: set topics.${output}`, path: ['topics', output] });
      }
    }
    if (c.idempotent && c.acks !== -1) {
      ctx.addIssue({ code: 'custom', message: 'an idempotent producer needs acks -1: set idempotent: false to use acks 1', path: ['acks'] });
    }
  })
  .describe(
    'Produces each selected output to its topic. Alerts: key = the alert\'s key, value = the alert, headers `vigie-alert-id`, ' +
      '`vigie-detector`, `vigie-severity`, `vigie-revision`. Results: key = the result\'s key, value = the result. Dead letters: ' +
      'no key, value = the original input bytes (a decoded payload as JSON; for `too_large`, only the first 256 bytes), headers `vigie-reason`, `vigie-detail`, `vigie-source`, ' +
      '`vigie-partition`, `vigie-offset` and, when known, `vigie-topic`, `vigie-pipeline`, `vigie-time`, `vigie-size` (the size in bytes of a `too_large` record). Records are partitioned by key like the Java ' +
      'client does. Acknowledges: a batch counts as delivered once Kafka acknowledged all of its records (every in-sync replica with `acks: -1`). ' +
      'After a failed write the producer is replaced, so a retried batch may be written twice (at-least-once).',
  );

export type KafkaSinkConfig = z.output<typeof schema>;

/** Create a Kafka sink; it connects on the first non-empty write. */
export function create(config: KafkaSinkConfig, ctx: SinkContext): Sink {
  return new KafkaSink(config, createKafka(config.client, ctx.logger));
}

// ---------------------------------------------------------------------------------------------
// Pure builder: batch -> topic messages. No I/O, so it is tested without a broker.
// ---------------------------------------------------------------------------------------------

/** What the builder needs from the config. */
export interface KafkaMessageOptions {
  outputs: readonly OutputKind[];
  topics: Partial<Record<OutputKind, string>>;
  format: 'json' | 'msgpack';
}

/**
 * Standard MessagePack maps (no msgpackr record extension), undefined as nil and huge BigInts as strings:
 * consumers of the topic use whatever decoder they like.
 */
const packr = new Packr({ useRecords: false, encodeUndefinedAsNil: true, largeBigIntToString: true });

/** One record value in the configured format. */
export function encodeValue(record: object, format: 'json' | 'msgpack'): Buffer | string {
  return format === 'msgpack' ? packr.pack(record) : safeJson(record);
}

/** The messages of one batch, one entry per selected output that has records, in `OUTPUT_KINDS` order. */
export function buildTopicMessages(opts: KafkaMessageOptions, batch: SinkBatch): TopicMessages[] {
  const out: TopicMessages[] = [];
  for (const output of OUTPUT_KINDS) {
    if (!opts.outputs.includes(output) || batch[output].length === 0) continue;
    const topic = opts.topics[output];
    if (topic === undefined) throw internalError(`kafka sink: output "${output}" has no topic`);
    let messages: Message[];
    if (output === 'alerts') messages = alertMessages(batch.alerts, opts.format);
    else if (output === 'results') messages = resultMessages(batch.results, opts.format);
    else if (output === 'shadowAlerts') messages = alertMessages(batch.shadowAlerts, opts.format);
    else if (output === 'scores') messages = batch.scores.map((s) => ({ key: s.key, value: encodeValue(s, opts.format) }));
    else if (output === 'queue') messages = batch.queue.map((q) => ({ key: q.key, value: encodeValue(q, opts.format) }));
    else messages = deadLetterMessages(batch.deadLetters);
    out.push({ topic, messages });
  }
  return out;
}

function alertMessages(alerts: readonly Alert[], format: 'json' | 'msgpack'): Message[] {
  const messages = new Array<Message>(alerts.length);
  for (let i = 0; i < alerts.length; i++) {
    const a = alerts[i];
    messages[i] = {
      key: a.key,
      value: encodeValue(a, format),
      headers: {
        'vigie-alert-id': a.id,
        'vigie-detector': a.detector,
        'vigie-severity': a.severity,
        'vigie-revision': String(a.revision),
      },
    };
  }
  return messages;
}

function resultMessages(results: readonly WindowResult[], format: 'json' | 'msgpack'): Message[] {
  const messages = new Array<Message>(results.length);
  for (let i = 0; i < results.length; i++) messages[i] = { key: results[i].key, value: encodeValue(results[i], format) };
  return messages;
}

function deadLetterMessages(deadLetters: readonly DeadLetter[]): Message[] {
  const messages = new Array<Message>(deadLetters.length);
  for (let i = 0; i < deadLetters.length; i++) {
    const d = deadLetters[i];
    const headers: IHeaders = {
      'vigie-reason': d.reason,
      'vigie-detail': d.detail,
      'vigie-source': d.source,
      'vigie-partition': String(d.partition),
      'vigie-offset': String(d.offset),
    };
    if (d.topic !== undefined) headers['vigie-topic'] = d.topic;
    if (d.pipeline !== undefined) headers['vigie-pipeline'] = d.pipeline;
    if (d.time !== undefined) headers['vigie-time'] = String(d.time);
    if (d.size !== undefined) headers['vigie-size'] = String(d.size);
    // No key: dead letters of one input partition have no key of their own worth grouping by.
    messages[i] = { key: null, value: deadLetterValue(d.raw), headers };
  }
  return messages;
}

/**
 * The original input of a dead letter, as bytes: a text line as its UTF-8 bytes, binary input
 * (`{ base64 }` from the ingestor, or bytes) as those bytes, a decoded payload (late, missing_key...) as JSON.
 */
export function deadLetterValue(raw: unknown): Buffer {
  if (typeof raw === 'string') return Buffer.from(raw, 'utf8');
  if (raw instanceof Uint8Array) return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  if (raw instanceof ArrayBuffer) return Buffer.from(raw);
  if (isBase64Wrapper(raw)) return Buffer.from(raw.base64, 'base64');
  // A value is required (null would be a tombstone); an absent raw becomes an empty value.
  return raw === undefined ? Buffer.alloc(0) : Buffer.from(safeJson(raw), 'utf8');
}

/** The ingestor's form of binary input: an object whose only field is a base64 string. */
function isBase64Wrapper(raw: unknown): raw is { base64: string } {
  if (raw === null || typeof raw !== 'object') return false;
  const keys = Object.keys(raw);
  return keys.length === 1 && keys[0] === 'base64' && typeof (raw as { base64: unknown }).base64 === 'string';
}


// ---------------------------------------------------------------------------------------------
// I/O: one idempotent producer, one sendBatch per engine batch.
// ---------------------------------------------------------------------------------------------

const COMPRESSION = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP } as const;

class KafkaSink implements Sink {
  readonly name: string;
  readonly type = type;
  readonly acknowledges = true;
  readonly outputs: ReadonlySet<OutputKind>;
  private readonly opts: KafkaMessageOptions;
  private readonly acks: -1 | 1;
  private readonly idempotent: boolean;
  private readonly compression: CompressionTypes;
  /** Topics of the selected outputs, checked to exist before the first send. */
  private readonly topics: string[];
  private producer: Promise<Producer> | undefined;
  /**
   * Writes run one after the other: a batch resolves only after every earlier batch is acknowledged,
   * so acknowledging batch N implies N-1 is safe too, and records keep batch order within a partition.
   */
  private tail: Promise<void> = Promise.resolve();
  private closing: Promise<void> | undefined;

  constructor(
    config: KafkaSinkConfig,
    private readonly kafka: Kafka,
  ) {
    this.name = config.name;
    this.outputs = new Set(config.outputs);
    this.opts = { outputs: config.outputs, topics: config.topics, format: config.format };
    this.acks = config.acks;
    this.idempotent = config.idempotent;
    this.compression = COMPRESSION[config.compression];
    this.topics = [...new Set(config.outputs.map((o) => config.topics[o] as string))];
  }

  write(batch: SinkBatch): Promise<void> {
    if (this.closing !== undefined) return Promise.reject(internalError(`kafka sink \"${this.name}\" is closed`));
    // Encode now, synchronously: the caller may reuse or mutate the batch once we return.
    const topicMessages = buildTopicMessages(this.opts, batch);
    if (topicMessages.length === 0) return this.tail;
    const run = this.tail.then(() => this.send(topicMessages));
    // Keep the chain alive after a failure; the caller still gets this batch's rejection.
    this.tail = run.catch(() => undefined);
    return run;
  }

  close(): Promise<void> {
    this.closing ??= this.tail.then(() => this.reset());
    return this.closing;
  }

  /**
   * kafkajs retries what is retriable itself: an idempotent producer retries broker errors without
   * limit (the write waits for the cluster to recover), while a lost connection or missing metadata
   * fails once the client's own retries are spent (10 to 20 s).
   */
  private async send(topicMessages: TopicMessages[]): Promise<void> {
    const producer = await this.connect();
    try {
      await producer.sendBatch({ topicMessages, acks: this.acks, compression: this.compression });
    } catch (err) {
      await this.reset();
      const topics = topicMessages.map((t) => `"${t.topic}"`).join(', ');
      throw new VigieError('VIGIE_ERR_SINK', `kafka sink "${this.name}": cannot write to topic ${topics}: ${messageOf(err)}`, { cause: err });
    }
  }

  private connect(): Promise<Producer> {
    if (this.producer === undefined) {
      const opening = this.open();
      this.producer = opening;
      // Connecting failed (cluster down, missing topic): let the next write try again.
      opening.catch(() => {
        if (this.producer === opening) this.producer = undefined;
      });
    }
    return this.producer;
  }

  private async open(): Promise<Producer> {
    const producer = this.kafka.producer({
      idempotent: this.idempotent,
      maxInFlightRequests: this.idempotent ? 5 : undefined,
      allowAutoTopicCreation: false,
      // Explicit, which also silences kafkajs' v2 migration warning: murmur2 of the key, as the Java client does.
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    try {
      await producer.connect();
    } catch (err) {
      await producer.disconnect().catch(() => undefined);
      throw new VigieError('VIGIE_ERR_SINK', `kafka sink "${this.name}": cannot connect: ${messageOf(err)}`, { cause: err });
    }
    try {
      await this.checkTopics();
    } catch (err) {
      await producer.disconnect().catch(() => undefined);
      throw err;
    }
    return producer;
  }

  /**
   * Producing to a missing topic fails only after the client's metadata retries (about 10 s), with
   * "This server does not host this topic-partition": look the topics up once, when connecting, and
   * name the missing ones.
   */
  private async checkTopics(): Promise<void> {
    const admin = this.kafka.admin();
    let existing: Set<string>;
    try {
      await admin.connect();
      existing = new Set(await admin.listTopics());
    } catch (err) {
      throw new VigieError('VIGIE_ERR_SINK', `kafka sink "${this.name}": cannot list topics: ${messageOf(err)}`, { cause: err });
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    const missing = this.topics.filter((t) => !existing.has(t));
    if (missing.length > 0) {
      const list = missing.map((t) => `"${t}"`).join(', ');
      throw new VigieError('VIGIE_ERR_SINK', `kafka sink "${this.name}": topic ${list} does not exist (or is not visible to this client); the sink does not create topics`);
    }
  }

  /**
   * Drop the producer. After a failed send its sequence numbers may not match what the brokers
   * stored, and an idempotent producer that reused them could have new records taken for duplicates
   * and silently dropped: the next write starts a new producer (new producer id) instead.
   */
  private async reset(): Promise<void> {
    const current = this.producer;
    this.producer = undefined;
    if (current === undefined) return;
    let producer: Producer;
    try {
      producer = await current;
    } catch {
      return; // never connected: nothing to release
    }
    await producer.disconnect().catch(() => undefined);
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
