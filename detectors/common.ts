import { z } from 'zod';
import type { Severity, VEvent } from '../src/types.js';
import { SEVERITIES } from '../src/types.js';
import { durationSchema, positiveDurationSchema } from '../src/time/duration.js';
import { KeyedState } from '../src/util/keyed-state.js';
import type { DetectorContext } from './types.js';

/** Options every detector has, whatever its type. Spread into each detector's schema. */
export const commonFields = {
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_.-]*$/i, 'letters, digits, ".", "_" and "-" only')
    .describe('Detector name, unique in the config; names the alert source in outputs and metrics.'),
  severity: z.enum(SEVERITIES as [Severity, ...Severity[]]).default('medium').describe('Severity carried by the alerts.'),
  description: z.string().optional().describe('Free text shown to analysts with each alert, e.g. the typology this rule targets.'),
  cooldown: durationSchema
    .default(900_000)
    .describe(
      'After an alert for a key, further signals of this detector for the same key within this event-time span are suppressed and counted; when the span ends, one summary alert says how many were suppressed. 0 turns suppression off.',
    ),
  emit: z
    .boolean()
    .default(true)
    .describe('false: the detector raises no alert of its own and only serves as a condition (`requires`) or as an input of a `score` detector.'),
  requires: z
    .strictObject({
      detectors: z.array(z.string().min(1)).min(1).describe('Names of detectors of the same pipeline.'),
      mode: z.enum(['all', 'any']).default('all').describe('`all`: every listed detector must have signalled; `any`: at least one.'),
      within: positiveDurationSchema.describe('How far back (event time) from this signal the required signals may be.'),
    })
    .optional()
    .describe('Raise an alert only if other detectors signalled for the same key shortly before (or at the same time).'),
  shadow: z
    .boolean()
    .default(false)
    .describe(
      'Shadow mode: the detector runs on live traffic, but its alerts go to the `shadowAlerts` output (a separate stream or file) and never to the analysts\' `alerts`; metrics show shadow and live side by side.',
    ),
  maxKeys: z
    .number()
    .int()
    .min(1)
    .default(100_000)
    .describe('Most keys whose state this detector keeps; beyond it the least recently active key is evicted (counted in `vigie_detector_evictions_total`).'),
} as const;

/** The common options, as parsed. */
export interface CommonConfig {
  name: string;
  type: string;
  severity: Severity;
  description?: string;
  cooldown: number;
  emit: boolean;
  requires?: { detectors: string[]; mode: 'all' | 'any'; within: number };
  shadow: boolean;
  maxKeys: number;
}

/** A field condition: equal to a value, one of a list, or a numeric comparison. */
const scalar = z.union([z.string(), z.number(), z.boolean()]);
export const conditionSchema = z.union([
  scalar,
  z.array(scalar).min(1),
  z
    .strictObject({
      gt: z.number().finite().optional().describe('The field is a number greater than this.'),
      gte: z.number().finite().optional().describe('The field is a number greater than or equal to this.'),
      lt: z.number().finite().optional().describe('The field is a number less than this.'),
      lte: z.number().finite().optional().describe('The field is a number less than or equal to this.'),
      ne: scalar.optional().describe('The field differs from this value (absent counts as different).'),
    })
    .refine((o) => Object.keys(o).length > 0, { message: 'give at least one of gt, gte, lt, lte, ne' }),
]);
export const matchSchema = z
  .record(z.string().min(1), conditionSchema)
  .describe('Field conditions, all of which must hold: a value (equality), a list (any of), or `{ gt, gte, lt, lte, ne }`.');
export type Match = z.infer<typeof matchSchema>;

/** Compile field conditions into a predicate over payloads. */
export function compileMatch(match: Match | undefined): (payload: Record<string, unknown>) => boolean {
  if (match === undefined) return () => true;
  const tests = Object.entries(match).map(([field, cond]): ((p: Record<string, unknown>) => boolean) => {
    if (Array.isArray(cond)) return (p) => cond.includes(p[field] as never);
    if (cond !== null && typeof cond === 'object') {
      const { gt, gte, lt, lte, ne } = cond;
      return (p) => {
        const v = p[field];
        if (ne !== undefined && v === ne) return false;
        if (gt === undefined && gte === undefined && lt === undefined && lte === undefined) return v !== undefined;
        if (typeof v !== 'number') return false;
        return (gt === undefined || v > gt) && (gte === undefined || v >= gte) && (lt === undefined || v < lt) && (lte === undefined || v <= lte);
      };
    }
    return (p) => p[field] === cond;
  });
  return (p) => {
    for (let i = 0; i < tests.length; i++) if (!tests[i](p)) return false;
    return true;
  };
}

/** A finite number read from a payload field, or undefined. */
export function numberField(e: VEvent, field: string): number | undefined {
  const v = e.payload[field];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** A scalar field's value as a string (for distinct / first-seen), or undefined when absent or not scalar. */
export function scalarField(e: VEvent, field: string): string | undefined {
  const v = e.payload[field];
  if (typeof v === 'string') return v.length > 0 ? v : undefined;
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : undefined;
  if (typeof v === 'boolean') return String(v);
  return undefined;
}

/** Comparison operators of bounds, and how they read in explanations. */
export const OPS = ['>', '>=', '<', '<='] as const;
export type Op = (typeof OPS)[number];
export const OP_TEXT: Record<Op, string> = { '>': 'above', '>=': 'at or above', '<': 'below', '<=': 'at or below' };

export function crosses(op: Op, observed: number, bound: number): boolean {
  switch (op) {
    case '>':
      return observed > bound;
    case '>=':
      return observed >= bound;
    case '<':
      return observed < bound;
    case '<=':
      return observed <= bound;
  }
}

/** How far past the bound an observation is (1 at the bound, more beyond), whatever the direction. */
export function boundScore(op: Op, observed: number, bound: number): number {
  const s = op === '>' || op === '>=' ? (bound === 0 ? observed : observed / bound) : observed === 0 ? bound : bound / observed;
  return Number.isFinite(s) ? Number(s.toFixed(6)) : 0;
}

/**
 * What every keyed event detector core shares: per-key state under the `maxKeys` cap, the `match`
 * filter compiled once, and the state size reported to metrics.
 */
export abstract class KeyedEventCore<S, C extends { maxKeys: number; match?: Match }> {
  readonly input = 'event';
  protected readonly state: KeyedState<S>;
  protected readonly matches: (p: Record<string, unknown>) => boolean;

  constructor(
    protected readonly cfg: C,
    protected readonly ctx: DetectorContext,
  ) {
    this.state = new KeyedState(cfg.maxKeys);
    this.matches = compileMatch(cfg.match);
  }

  stats(): { keys: number; evicted: number } {
    return { keys: this.state.size, evicted: this.state.evicted };
  }
}

/** Keep the last `limit` items of a list (evidence: the most recent contributing events). */
export function lastN<T>(items: readonly T[], limit: number): T[] {
  return items.length <= limit ? items.slice() : items.slice(items.length - limit);
}

/** "1 payment" / "3 payments". */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
