/** The `enrich` part of a pipeline: stream–table joins with the reference tables of `tables:`. */
import { z } from 'zod';

const scalar = z.union([z.string(), z.number(), z.boolean()]);

export const MISSING_POLICIES = ['pass', 'flag', 'dead-letter'] as const;

/** One lookup: the event field holding the row key, the table, what to copy, and what to do without a row. */
export const enrichSchema = z.strictObject({
  table: z.string().min(1).describe('Name of a table declared under `tables:`.'),
  on: z.string().min(1).describe('Event field holding the row key (a string, or a number or boolean compared as text).'),
  fields: z
    .array(z.string().min(1))
    .min(1)
    .optional()
    .describe('Row fields to copy into the event; all of the row\'s fields when absent.'),
  prefix: z
    .string()
    .optional()
    .describe('Prepended to the name of each copied field; default `<table>.` (e.g. `merchants.risk`). An empty prefix copies plain names, which may clash with event fields: the config must then list `fields` or set `overwrite`.'),
  overwrite: z
    .boolean()
    .default(false)
    .describe('Whether a copied field replaces an event field of the same name. False: the config is refused when a copied name is a field the pipeline\'s sources declare, and at run time the event\'s own value is kept.'),
  missing: z
    .union([z.enum(MISSING_POLICIES), z.strictObject({ defaults: z.record(z.string(), scalar).describe('Row fields to use instead (copied with the prefix, as a row\'s would be).') })])
    .default('pass')
    .describe(
      'When no row is valid at the event\'s time (or the event has no usable `on` value): `pass` (the event goes on without the fields), ' +
        '`flag` (adds the boolean `<prefix>missing`: true without a row, false with one), `dead-letter` (reason missing_row; the event leaves this pipeline), ' +
        'or `{ defaults: { field: value } }` (copied as if they were the row).',
    ),
});
export type EnrichConfig = z.infer<typeof enrichSchema>;

/** The prefix of an enrichment's fields: as configured, or `<table>.`. */
export function enrichPrefix(e: { table: string; prefix?: string }): string {
  return e.prefix ?? `${e.table}.`;
}
