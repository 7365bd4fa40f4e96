/**
 * The features of the `model` detector: what each one reads for an input (an event field, the
 * strength another detector gave the same event, or a reference table at the event's time), and how.
 */
import { z } from 'zod';
import type { VEvent } from '../src/types.js';
import { positiveDurationSchema } from '../src/time/duration.js';
import { VigieError } from '../src/errors.js';
import type { DetectorContext, DetectorTable, PeerJudgements } from './types.js';

const featureName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_.-]*$/i, 'letters, digits, ".", "_" and "-" only')
  .describe('Feature name, unique in the model: shown in explanations.');
const transform = z.enum(['none', 'log']).default('none').describe('`log`: sign(x) * ln(1 + |x|), for heavy-tailed values (amounts, counts).');
const missing = z.number().finite().default(0).describe('Value used when the input has none (field absent or not a number, detector did not judge, no row).');

export const featureSchema = z.union([
  z.strictObject({
    name: featureName,
    ratio: z
      .strictObject({
        of: z.string().min(1).describe('A feature listed before this one: the numerator (its value before `transform`).'),
        to: z.string().min(1).describe('A feature listed before this one: the denominator (its value before `transform`).'),
        prior: z.number().min(0).default(1).describe('Added to the denominator: smooths the share of entities with few events (e.g. reports per payment of a quiet terminal).'),
      })
      .describe('A share of two earlier features, e.g. the terminal\'s reports over its payments.'),
    transform,
    missing,
  }),
  z.strictObject({
    name: featureName,
    pipeline: z.string().min(1).describe('Another pipeline, earlier in the config, keyed by the entity `on` names (the terminal...).'),
    detector: z.string().min(1).describe('A detector of that pipeline: what it last judged about the entity at or before the event time.'),
    on: z.string().min(1).describe('Event field holding that pipeline\'s key for this event.'),
    value: z.enum(['strength', 'observed']).default('strength').describe('`strength` or `observed` (the value it judged: a count, a risk).'),
    transform,
    missing,
  }),
  z.strictObject({
    name: featureName,
    field: z.string().min(1).describe('Event field holding a number (a boolean counts as 1 or 0).'),
    transform,
    missing,
  }),
  z.strictObject({
    name: featureName,
    detector: z.string().min(1).describe('A detector of the same pipeline judging events: its judgement of this very event.'),
    value: z
      .enum(['strength', 'observed', 'crossed'])
      .default('strength')
      .describe('`strength`: signed, 1 at its bound (docs/strengths.md); `observed`: the value it judged (a count, a z input...); `crossed`: 1 when it judged the event past its bound, else 0.'),
    transform,
    missing,
  }),
  z.strictObject({
    name: featureName,
    table: z.string().min(1).describe('A table of `tables:`, read at the event time (features of another entity: its reports, its risk).'),
    on: z.string().min(1).describe('Event field holding the row key (the terminal, the merchant, the card...).'),
    stat: z
      .enum(['count', 'present', 'field'])
      .default('present')
      .describe('`count`: versions of the row that became valid within `within` before the event (e.g. fraud reports on the terminal); `present`: 1 when a row is valid at the event time (within `within` of it when given), else 0; `field`: a number of the row valid at the event time.'),
    within: positiveDurationSchema.optional().describe('Span before the event time for `count` (required) and `present`.'),
    field: z.string().min(1).optional().describe('Row field for `stat: field`.'),
    transform,
    missing,
  })
    .superRefine((f, ctx) => {
      if (f.stat === 'count' && f.within === undefined) ctx.addIssue({ code: 'custom', path: ['within'], message: 'stat "count" needs "within": the span of event time the versions are counted over' });
      if (f.stat === 'field' && f.field === undefined) ctx.addIssue({ code: 'custom', path: ['field'], message: 'stat "field" needs "field": the row field to read' });
    }),
]);
export type FeatureConfig = z.infer<typeof featureSchema>;

/** Fills `x` with the features of an event (after their transform). */
export type FeatureFill = (e: VEvent, x: Float64Array) => void;

/** Build the reader of a model's features; refuses (VigieError) a detector or table that is not there. */
export function featureReaders(model: string, features: readonly FeatureConfig[], ctx: DetectorContext): FeatureFill {
  const k = features.length;
  // Values before transforms: what `ratio` features divide.
  const raw = new Float64Array(k);
  const readers = features.map((f, i) => {
    if ('ratio' in f) {
      const of = features.findIndex((g) => g.name === f.ratio.of);
      const to = features.findIndex((g) => g.name === f.ratio.to);
      if (of < 0 || of >= i || to < 0 || to >= i) throw new VigieError('VIGIE_ERR_CONFIG', `model "${model}": feature "${f.name}" divides features listed before it, not "${of < 0 || of >= i ? f.ratio.of : f.ratio.to}"`);
      const prior = f.ratio.prior;
      return () => raw[of] / (Math.max(0, raw[to]) + prior);
    }
    return reader(model, f, ctx);
  });
  const tfs = features.map((f) => (f.transform === 'log' ? log : undefined));
  const missing = features.map((f) => f.missing);
  return (e, x) => {
    for (let i = 0; i < k; i++) {
      const v = readers[i](e);
      if (v === undefined || !Number.isFinite(v)) {
        raw[i] = missing[i];
        x[i] = missing[i];
        continue;
      }
      raw[i] = v;
      const tf = tfs[i];
      x[i] = tf === undefined ? v : tf(v);
    }
  };
}

function reader(model: string, f: Exclude<FeatureConfig, { ratio: unknown }>, ctx: DetectorContext): (e: VEvent) => number | undefined {
  if ('field' in f && !('table' in f)) {
    const field = f.field;
    return (e) => num(e.payload[field]);
  }
  if ('pipeline' in f) {
    const board = ctx.board;
    if (board === undefined) return () => undefined;
    const { pipeline, detector, on } = f;
    const read = board.reader(pipeline, detector, f.value === 'observed' ? 'observed' : 'strength');
    return (e) => {
      const v = e.payload[on];
      const k = typeof v === 'string' ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : undefined;
      if (k === undefined || k === '') return undefined;
      return read(k, e.time);
    };
  }
  if ('detector' in f) {
    const peers = ctx.peers as PeerJudgements | undefined;
    if (peers === undefined) return () => undefined;
    const i = peers.index(f.detector);
    if (i === undefined) throw new VigieError('VIGIE_ERR_CONFIG', `model "${model}": feature "${f.name}" reads detector "${f.detector}", which is not in pipeline "${ctx.pipeline}"`);
    return f.value === 'observed' ? () => peers.observed(i) : f.value === 'crossed' ? () => peers.crossed(i) : () => peers.strength(i);
  }
  const t = f as Extract<FeatureConfig, { table: string }>;
  if (t.stat === 'count' && t.within === undefined) throw new VigieError('VIGIE_ERR_CONFIG', `model "${model}": feature "${t.name}": stat "count" needs "within"`);
  if (t.stat === 'field' && t.field === undefined) throw new VigieError('VIGIE_ERR_CONFIG', `model "${model}": feature "${t.name}": stat "field" needs "field"`);
  // Validation builds detectors without tables: the feature then reads nothing (the config check refuses unknown tables).
  const table = ctx.tables?.get(t.table);
  if (table === undefined) return () => undefined;
  return tableReader(t, table);
}

function tableReader(t: Extract<FeatureConfig, { table: string }>, table: DetectorTable): (e: VEvent) => number | undefined {
  const on = t.on;
  const within = t.within ?? 0;
  const keyOf = (e: VEvent): string | undefined => {
    const v = e.payload[on];
    if (typeof v === 'string') return v.length > 0 ? v : undefined;
    if (typeof v === 'number' && Number.isFinite(v)) return String(v);
    return undefined;
  };
  switch (t.stat) {
    case 'count':
      return (e) => {
        const k = keyOf(e);
        return k === undefined ? undefined : table.count(k, e.time - within, e.time);
      };
    case 'present':
      return (e) => {
        const k = keyOf(e);
        if (k === undefined) return undefined;
        if (within > 0) return table.count(k, e.time - within, e.time) > 0 && table.lookup(k, e.time) !== undefined ? 1 : 0;
        return table.lookup(k, e.time) === undefined ? 0 : 1;
      };
    case 'field': {
      const field = t.field as string;
      return (e) => {
        const k = keyOf(e);
        return k === undefined ? undefined : num(table.lookup(k, e.time)?.[field]);
      };
    }
  }
}

function num(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  return undefined;
}

function log(x: number): number {
  return x >= 0 ? Math.log1p(x) : -Math.log1p(-x);
}

/** Names of the detectors a model reads (it is judged after them). */
export function featureDetectors(features: readonly FeatureConfig[]): string[] {
  return features.flatMap((f) => ('detector' in f && !('pipeline' in f) ? [f.detector] : []));
}

/** Names of the tables a model reads (features and labels). */
export function featureTables(features: readonly FeatureConfig[]): string[] {
  return features.flatMap((f) => ('table' in f ? [f.table] : []));
}
