/**
 * A table in a compacted Kafka topic, read from the beginning by a consumer of its own: no offsets
 * committed, a group id unique to the instance, so every instance reads the whole table. The engine
 * waits until the records present at start are read; live, updates keep coming. A record with a null
 * value (a tombstone) deletes its key.
 */
import { randomUUID } from 'node:crypto';
import type { Consumer, EachBatchPayload } from 'kafkajs';
import { z } from 'zod';
import { VigieError } from '../../errors.js';
import { createKafka, kafkaClientSchema } from '../../kafka/client.js';
import { positiveDurationSchema } from '../../time/duration.js';
import { BadRows, commonTableShape, TableHolder, tableTimeSchema, toRow, type RowSpec, type Table, type TableContext, heldTable } from './types.js';

export const type = 'kafka';

export const schema = z
  .strictObject({
    ...commonTableShape,
    type: z.literal(type).describe('Selects the kafka table.'),
    client: kafkaClientSchema.default(kafkaClientSchema.parse({})).describe('Connection to the Kafka cluster (brokers, TLS, SASL, timeouts).'),
    topic: z.string().min(1).describe('The (compacted) topic holding the table: record values are JSON objects, a null value deletes the key.'),
    key: z
      .string()
      .min(1)
      .optional()
      .describe('Field of the value holding the row key; absent: the record key (as text). Tombstones are always keyed by the record key.'),
    time: z
      .union([z.literal('record'), tableTimeSchema])
      .optional()
      .describe('Event-time versioning: `{ field, format }` (the row is valid from the time in that field), or `record` (from the record timestamp; tombstones always use it). Absent: one current row per key.'),
    loadTimeout: positiveDurationSchema.default(60_000).describe('At start, the most the engine waits for the records present in the topic to be read before failing with VIGIE_ERR_TABLE.'),
  })
  .describe('A table in a compacted Kafka topic, followed live.');
export type Config = z.infer<typeof schema>;

export function create(config: Config, ctx: TableContext): Table {
  const versioned = config.time !== undefined;
  const spec: RowSpec = { key: config.key, time: typeof config.time === 'object' ? config.time : undefined, fields: config.fields };
  const holder = new TableHolder(config.name, versioned, config, ctx.metrics);
  const log = ctx.logger.child({ table: config.name });
  const kafka = createKafka({ ...config.client, clientId: `${config.client.clientId}-table-${config.name}` }, ctx.logger);
  let consumer: Consumer | undefined;
  /** Per partition, the offset after the last record present at start (undefined once read). */
  const pending = new Map<number, bigint>();
  let loaded: (() => void) | undefined;
  let bad = new BadRows();

  function apply(p: EachBatchPayload): void {
    const core = holder.current;
    for (const m of p.batch.messages) {
      const recordKey = m.key === null ? undefined : m.key.toString('utf8');
      const ts = Number(m.timestamp);
      if (m.value === null) {
        if (recordKey === undefined) bad.add(`partition ${p.batch.partition} offset ${m.offset}`, 'tombstone without a key');
        else if (versioned) core.put(recordKey, ts, null);
        else core.delete(recordKey);
        continue;
      }
      let v: unknown;
      try {
        v = JSON.parse(m.value.toString('utf8'));
      } catch {
        bad.add(`partition ${p.batch.partition} offset ${m.offset}`, 'not valid JSON');
        continue;
      }
      if (v === null || typeof v !== 'object' || Array.isArray(v)) {
        bad.add(`partition ${p.batch.partition} offset ${m.offset}`, 'not a JSON object');
        continue;
      }
      const r = toRow(v as Record<string, unknown>, spec, recordKey, ts);
      if ('error' in r) bad.add(`partition ${p.batch.partition} offset ${m.offset}`, r.error);
      else core.put(r.key, r.time, r.row);
    }
    const end = pending.get(p.batch.partition);
    if (end !== undefined && BigInt(p.batch.lastOffset()) + 1n >= end) pending.delete(p.batch.partition);
    if (bad.count > 0) {
      ctx.metrics?.tableBadRows.inc({ table: config.name }, bad.count);
      log.warn({ topic: config.topic, badRows: bad.count, first: bad.first }, 'table records skipped: malformed');
      bad = new BadRows();
    }
    holder.report();
    if (pending.size === 0 && loaded !== undefined) {
      loaded();
      loaded = undefined;
    }
  }

  async function start(): Promise<void> {
    const admin = kafka.admin();
    await admin.connect();
    try {
      for (const o of await admin.fetchTopicOffsets(config.topic)) {
        if (BigInt(o.high) > BigInt(o.low)) pending.set(o.partition, BigInt(o.high));
      }
    } finally {
      await admin.disconnect();
    }
    const done = new Promise<void>((resolve) => (loaded = resolve));
    if (pending.size === 0) loaded?.();
    // A group of its own: nothing is committed, every instance reads every partition from the start.
    consumer = kafka.consumer({ groupId: `vigie-table-${config.name}-${randomUUID()}`, allowAutoTopicCreation: false });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      // kafkajs restarts the consumer after retriable errors; otherwise the table stops following the topic.
      ctx.metrics?.tableReloadFailures.inc({ table: config.name });
      log.warn({ topic: config.topic, error: payload.error.message, restart: payload.restart }, payload.restart ? 'table consumer restarting: rows may lag meanwhile' : 'table consumer stopped: the table keeps its rows but no longer follows the topic');
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [config.topic], fromBeginning: true });
    await consumer.run({ autoCommit: false, eachBatch: async (p) => apply(p) });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new VigieError('VIGIE_ERR_TABLE', `table "${config.name}": topic ${config.topic} not read within loadTimeout (${config.loadTimeout} ms)`)), config.loadTimeout);
    });
    try {
      await Promise.race([done, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  return heldTable(config.name, type, holder, {
    async load() {
      try {
        await start();
      } catch (err) {
        await consumer?.disconnect().catch(() => undefined);
        consumer = undefined;
        if (err instanceof VigieError) throw err;
        throw new VigieError('VIGIE_ERR_TABLE', `table "${config.name}": cannot read topic ${config.topic}: ${(err as Error).message}`, { cause: err });
      }
      ctx.metrics?.tableLoadedAt.set({ table: config.name }, Date.now() / 1000);
      log.info({ topic: config.topic, rows: holder.rows }, 'table loaded');
      // Replay: the table as it was at start, whatever is written meanwhile (deterministic results).
      if (!ctx.live) {
        await consumer?.disconnect();
        consumer = undefined;
      }
    },
    async close() {
      const c = consumer;
      consumer = undefined;
      await c?.disconnect();
    },
  });
}
