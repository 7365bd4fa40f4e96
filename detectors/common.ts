import { z } from 'zod';
import type { Severity, VEvent } from '../src/types.js';
import { SEVERITIES } from '../src/types.js';
import { durationSchema, positiveDurationSchema } from '../src/time/duration.js';
import { KeyedState } from '../src/util/keyed-state.js';
import type { DetectorContext, PerKeyState } from './types.js';

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
  scores: z
    .boolean()
    .default(false)
    .describe("Publish every judged input's value, score and strength on the `scores` output (see docs/strengths.md)."),
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
  scores: boolean;
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
  return Number(boundRatio(op, observed, bound).toFixed(6));
}

/** {@link boundScore} unrounded (allocation-free, for the score of every judged input). */
export function boundRatio(op: Op, observed: number, bound: number): number {
  const s = op === '>' || op === '>=' ? (bound === 0 ? observed : observed / bound) : observed === 0 ? bound : bound / observed;
  return Number.isFinite(s) ? s : 0;
}

/** Largest strength reported (a deviation from a series that never varied is infinitely strong). */
export const MAX_STRENGTH = Number.MAX_SAFE_INTEGER;

/** A strength made finite: ±{@link MAX_STRENGTH} for ±Infinity, 0 for NaN. */
export function finiteStrength(s: number): number {
  return s === s ? Math.max(-MAX_STRENGTH, Math.min(MAX_STRENGTH, s)) : 0;
}

/**
 * Signed strength of an observation against a one-sided bound (docs/strengths.md): 1 at the bound,
 * growing linearly past it by one per |bound| (per unit when the bound is 0). For `>`/`>=` with a
 * positive bound it is observed / bound (0 at 0, as the alert's score); for `<`/`<=` it is the mirror,
 * 1 + (bound - observed) / |bound| (0 at twice a positive bound, negative further away).
 */
export function boundStrength(op: Op, observed: number, bound: number): number {
  const up = op === '>' || op === '>=';
  const past = up ? observed - bound : bound - observed;
  const s = up && bound > 0 ? observed / bound : 1 + past / (bound === 0 ? 1 : Math.abs(bound));
  // Short of the bound stays below 1 despite rounding.
  return finiteStrength(past < 0 && s >= 1 ? BELOW_ONE : s);
}

/** The largest number below 1. */
const BELOW_ONE = 1 - Number.EPSILON / 2;

/**
 * Strength of a deviation `d` against a bound `value` on |d|, watched in `direction`: d / value for
 * `up`, -d / value for `down` (negative: unusual the other way), |d| / value for `both`.
 */
export function directedStrength(direction: 'up' | 'down' | 'both', d: number, value: number): number {
  const x = direction === 'up' ? d : direction === 'down' ? -d : Math.abs(d);
  const s = x / value;
  return finiteStrength(x < value && s >= 1 ? BELOW_ONE : s);
}

/**
 * What every keyed event detector core shares: per-key state under the `maxKeys` cap, the `match`
 * filter compiled once, and the state size reported to metrics.
 */
export abstract class KeyedEventCore<S, C extends { name: string; maxKeys: number; match?: Match }> {
  readonly input = 'event';
  protected readonly state: KeyedState<S>;
  protected readonly matches: (p: Record<string, unknown>) => boolean;
  readonly perKey: PerKeyState<S>;

  constructor(
    protected readonly cfg: C,
    protected readonly ctx: DetectorContext,
  ) {
    this.state = new KeyedState(cfg.maxKeys, ctx.keys);
    this.matches = compileMatch(cfg.match);
    this.perKey = { state: this.state, encode: (s) => this.encode(s), decode: (v) => this.decode(v), what: `detector ${cfg.name}` };
  }

  /** A key's state as plain data, a copy (see {@link PerKeyState}). */
  protected abstract encode(s: S): unknown;

  /** Back from {@link encode}; a VIGIE_ERR_SNAPSHOT error for a bad entry. */
  protected abstract decode(v: unknown): S;

  snapshot(): unknown {
    return this.state.snapshot((s) => this.encode(s));
  }

  restore(state: unknown): void {
    this.state.restore(state, (v) => this.decode(v), this.perKey.what);
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
