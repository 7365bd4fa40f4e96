import { z } from 'zod';
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
  maxEventBytes: z.number().int().positive().default(1_048_576).describe('Largest accepted record, in bytes; larger ones are dead-lettered with reason too_large.'),
};

export const mappingSchema = z.strictObject(mappingShape);
export type Mapping = z.infer<typeof mappingSchema>;
