import { z } from 'zod';
import { positiveDurationSchema } from '../time/duration.js';
import { timeFormatSchema } from '../time/timestamp.js';

/** How a source's records become events: shared by every source type. */
export const mappingShape = {
  time: z
    .strictObject({
      field: z.string().min(1).default('ts').describe('Field holding the event time.'),
      format: timeFormatSchema.default('auto').describe('auto: numbers are milliseconds and strings ISO-8601; ms or s: a number (or numeric string) of milliseconds or seconds since the epoch; iso: an ISO-8601 string (UTC when no zone is given).'),
    })
    .default({ field: 'ts', format: 'auto' })
    .describe('Where the event time comes from. An event whose time is missing or unparseable is dead-lettered with reason bad_timestamp.'),
  processingTime: z.boolean().default(false).describe('Stamp events with their arrival time (processing time) instead of reading a time field. Results then depend on arrival timing and are not replayable.'),
  id: z.string().min(1).default('id').describe('Field holding the event id (string or number), used as evidence in alerts and results. Optional in events.'),
  fields: z
    .record(z.string(), z.enum(['string', 'number', 'integer', 'boolean']))
    .default({})
    .describe('Declared types of fields. A present field of another type dead-letters the event with reason schema; absent fields are fine (sources are often incomplete).'),
  maxEventBytes: z
    .number()
    .int()
    .positive()
    .default(1_048_576)
    .describe(
      'Largest accepted record, in bytes; larger ones are dead-lettered with reason too_large, keeping only their first 256 bytes (at most maxEventBytes) and their size. ' +
        'Files and stdin never hold more of a record than this: the rest of a longer line or MessagePack value is read past, not kept.',
    ),
  dedup: z
    .strictObject({
      horizon: positiveDurationSchema.describe('Event-time span within which a repeated id is a duplicate: an event whose id was seen on the same partition at an event time at most this far from its own is dropped. Ids older than the horizon (behind the partition\'s largest event time) are forgotten.'),
      maxIds: z.number().int().positive().default(100_000).describe('Most ids remembered per partition; beyond it the oldest remembered are forgotten first (bounded memory).'),
    })
    .optional()
    .describe('Drop redelivered events (same id) before any pipeline, so they count once. Off by default. Duplicates are not bad input: they are never dead-lettered, but counted per source (vigie_events_duplicate_total, and duplicates in the summary, with in = events + dead-lettered + duplicates). Events without an id are never duplicates. Per partition and in arrival order, so replays are deterministic. With a Kafka source and `state.store: redis`, the remembered ids are part of each partition\'s checkpoint (their size counts in vigie_checkpoint_bytes), so a redelivery after a restart or a rebalance is still recognised.'),
};

export const mappingSchema = z.strictObject(mappingShape);
export type Mapping = z.infer<typeof mappingSchema>;

/**
 * The mapping options of a source config, whatever its type. Built from the keys of `mappingShape`, so
 * a source standing in for another (a replay's input file, a topic's history) keeps an option added
 * to the mapping one day without anyone listing it.
 */
export function mappingOf(source: Mapping): Mapping {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(mappingShape)) if (k in source) out[k] = (source as Record<string, unknown>)[k];
  return out as Mapping;
}
