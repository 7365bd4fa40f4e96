/** The pipeline section of a config: its schema (with the rules across its fields) and the hash of its window part. */
import { z } from 'zod';
import { aggregateSchema } from '../../operators/aggregates/index.js';
import { windowSchema } from '../../operators/index.js';
import { detectorSchema } from '../../detectors/index.js';
import { joinSchema } from '../../operators/interval-join.js';
import { configHash } from '../util/json.js';
import { enrichSchema } from './enrich.js';

const scalar = z.union([z.string(), z.number(), z.boolean()]);

/**
 * A pipeline: which events (sources, where), keyed by what, windowed how, aggregated into what,
 * and which detectors judge the results.
 */
export const pipelineSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/i, 'letters, digits, ".", "_" and "-" only').describe('Pipeline name, unique in the config; labels results and metrics.'),
  purpose: z.string().min(1).optional().describe('Why this pipeline processes these events (purpose limitation), e.g. "detect card testing on card payments"; recorded with the config.'),
  fields: z
    .array(z.string().min(1))
    .min(1)
    .optional()
    .describe(
      'The input fields this pipeline may use for its purpose. When given, the config is refused if its key, where, aggregates or detectors name any other field, and every other field is removed from its events before they enter its state or outputs.',
    ),
  alertFields: z
    .array(z.string().min(1))
    .optional()
    .describe(
      'Minimal alerts: the input fields whose values an alert may show in its explanation and details (a first-seen value, ' +
        'geo-velocity coordinates). Values of other fields are left out ("a new device"). Absent: every field the detectors read; ' +
        '`[]`: none. Keys, counts, aggregates and event ids are always shown; evidence carries event ids, never events.',
    ),
  sources: z.array(z.string().min(1)).min(1).optional().describe('Names of the sources this pipeline reads; all sources when absent.'),
  enrich: z
    .array(enrichSchema)
    .min(1)
    .optional()
    .describe('Reference data to add to each event before `fields`, `where` and the key are applied, looked up in `tables:` by an event field (stream–table join), in this order.'),
  where: z
    .record(z.string(), z.union([scalar, z.array(scalar).min(1)]))
    .optional()
    .describe('Keep only events whose fields equal these values (a list means any of them), e.g. `{ type: payment }`. Others are counted as filtered, not dead-lettered.'),
  missing: z
    .record(
      z.string().min(1),
      z.union([
        z.enum(['skip', 'dead-letter']),
        z.strictObject({ default: scalar.describe('The value the pipeline sees instead.') }),
      ]),
    )
    .optional()
    .describe(
      'What this pipeline does with an event (after `where`, before `key`) lacking a field (absent or null): `skip` leaves it out (counted as skipped, not dead-lettered), ' +
        '`dead-letter` dead-letters it with reason missing_field and the pipeline name, `{ default: value }` gives it that value for this pipeline only. ' +
        'When several fields are missing, skip comes first, then dead-letter, then the defaults.',
    ),
  join: joinSchema
    .optional()
    .describe(
      'An event-time interval join of two sides of the input (e.g. logins and payments) on the pipeline key. Its joined events, with each side\'s fields under `<as>.<field>`, ' +
        'go through `where`, the window and the detectors instead of the input events.',
    ),
  key: z
    .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
    .describe('Field (or list of fields, joined with "|") whose value keys windows and alerts. An event without it is dead-lettered with reason missing_key.'),
  window: windowSchema.optional().describe('The window operator: tumbling, hopping, sliding or session. Optional when every detector works on events.'),
  aggregates: z.array(aggregateSchema).default([]).describe('What to compute per key and window (needs a window).'),
  detectors: z.array(detectorSchema).default([]).describe('Detectors judging the events (event detectors) or the window results (threshold, ratio, rate-of-change, baseline).'),
  evidenceLimit: z.number().int().min(0).max(1000).default(20).describe('How many contributing event ids a result (and its alerts) carries at most.'),
  maxPendingEvents: z
    .number()
    .int()
    .positive()
    .default(1_000_000)
    .describe(
      'Most events waiting for the watermark before event detectors see them (they are released in event-time order once the watermark passes them). ' +
        'Beyond it, the detectors move on to the earliest waiting event at once; an event arriving later behind that point is late for them. ' +
        'Counted in vigie_events_released_early_total. A bound on memory when the input is more out of order than `maxOutOfOrderness` lets through.',
    ),
})
  .superRefine((p, ctx) => {
    if (p.window !== undefined && p.aggregates.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['aggregates'], message: 'a window needs at least one aggregate' });
    }
    if (p.window === undefined && p.aggregates.length > 0) {
      ctx.addIssue({ code: 'custom', path: ['window'], message: 'aggregates need a window: add one (tumbling, hopping, sliding or session)' });
    }
    if (p.window === undefined && p.detectors.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['detectors'], message: 'a pipeline without a window needs at least one detector' });
    }
    if (p.join !== undefined && p.sources !== undefined) {
      for (const side of ['left', 'right'] as const) {
        p.join[side].sources?.forEach((s, j) => {
          if (!p.sources!.includes(s)) ctx.addIssue({ code: 'custom', path: ['join', side, 'sources', j], message: `source "${s}" is not among this pipeline's sources (${p.sources!.join(', ')})` });
        });
      }
    }
  });
export type PipelineConfig = z.infer<typeof pipelineSchema>;

/**
 * Hash of the part of a pipeline its window state depends on (key, where, missing, sources, window, aggregates,
 * evidenceLimit, join, enrich): a hot reload or a checkpoint keeps a pipeline's window state only when it is equal.
 * Detectors are not part of it: each carries its own hash (see DetectorSet).
 */
export function windowHash(p: PipelineConfig): string {
  // `missing`, `join` and `enrich` only when set, so that the hash of a pipeline without them (and its checkpoints) stays as it was.
  return configHash({
    key: p.key,
    where: p.where ?? null,
    ...(p.missing === undefined ? {} : { missing: p.missing }),
    sources: p.sources ?? null,
    window: p.window ?? null,
    aggregates: p.aggregates,
    evidenceLimit: p.evidenceLimit,
    ...(p.join ? { join: p.join } : {}),
    ...(p.enrich === undefined ? {} : { enrich: p.enrich }),
  });
}
