import { z } from 'zod';
import type { VEvent } from '../src/types.js';
import { evidenceRef } from '../src/types.js';
import { formatNumber, isoTime } from './alert.js';
import { OP_TEXT, boundScore, commonFields, compileMatch, crosses, matchSchema, type Op } from './common.js';
import type { DetectorContext, DetectorCore, Emit } from './types.js';

export const type = 'rule';

const scalar = z.union([z.string(), z.number(), z.boolean()]);

/** The operators of a condition, in the order they are checked within one field. */
const NUMERIC_OPS = ['>', '>=', '<', '<='] as const;

const conditionSchema = z
  .strictObject({
    '>': z.number().finite().optional().describe('The field is a number greater than this.'),
    '>=': z.number().finite().optional().describe('The field is a number greater than or equal to this.'),
    '<': z.number().finite().optional().describe('The field is a number less than this.'),
    '<=': z.number().finite().optional().describe('The field is a number less than or equal to this.'),
    '==': scalar.optional().describe('The field equals this value (string, number or boolean).'),
    '!=': scalar.optional().describe('The field differs from this value (an absent field counts as different).'),
    in: z.array(scalar).min(1).optional().describe('The field equals one of these values.'),
    exists: z.boolean().optional().describe('true: the field is present (not null); false: it is absent or null.'),
  })
  .refine((o) => Object.values(o).some((v) => v !== undefined), { message: 'give at least one of >, >=, <, <=, ==, !=, in, exists' });

/**
 * Rule: each event judged on its own fields, without any history: an amount above a bound, a country
 * in a list, a field present. Several conditions (per field, several operators) must all hold
 * (`mode: all`) or at least one (`mode: any`).
 * Example: `{ name: big-amount, type: rule, when: { amount: { '>': 220 }, country: { in: [FR, DE] } } }`
 *
 * - A numeric operator (`>`, `>=`, `<`, `<=`) on an absent or non-numeric field (or a non-finite
 *   number) is false, not an error. `==` and `in` compare with the value as is (`1` is not `"1"`);
 *   `!=` holds for an absent field; `exists: true` needs a field present and not null.
 * - The signal's observed value and bound are those of the first numeric condition that holds (in
 *   config order: fields as written, operators in the order `>`, `>=`, `<`, `<=`); a rule that
 *   signalled on non-numeric conditions only has observed 1, bound 1, score 1.
 * - Every judged event reports the strength of the rule's first numeric condition (1 at the bound,
 *   see `boundScore`; 0 when its field is not a number), or 1/0 (signalled or not) for a rule without
 *   numeric conditions.
 * - Explanations name each field that decided; they show its value only when the pipeline's
 *   `alertFields` allow it.
 */
export const schema = z.strictObject({
  ...commonFields,
  type: z.literal(type),
  when: z
    .record(z.string().min(1), conditionSchema)
    .refine((w) => Object.keys(w).length > 0, { message: 'give at least one field condition' })
    .describe("Conditions on the event's fields: field -> `{ '>': n, '>=': n, '<': n, '<=': n, '==': v, '!=': v, in: [v...], exists: true|false }` (several operators on one field are separate conditions)."),
  mode: z.enum(['all', 'any']).default('all').describe('`all`: every condition must hold; `any`: at least one.'),
  match: matchSchema.optional().describe('Consider only events matching these conditions (others are not judged by this detector).'),
  scores: z.boolean().default(false).describe('Publish the judgement of every event on the `scores` output (strength of the first numeric condition, or 1/0).'),
});

export type Config = z.infer<typeof schema>;

type Cond =
  | { field: string; op: Op; bound: number }
  | { field: string; op: '=='; value: string | number | boolean }
  | { field: string; op: '!='; value: string | number | boolean }
  | { field: string; op: 'in'; values: ReadonlyArray<string | number | boolean> }
  | { field: string; op: 'exists'; present: boolean };

function isNumeric(c: Cond): c is { field: string; op: Op; bound: number } {
  return c.op === '>' || c.op === '>=' || c.op === '<' || c.op === '<=';
}

function holds(c: Cond, v: unknown): boolean {
  switch (c.op) {
    case '==':
      return v === c.value;
    case '!=':
      return v !== c.value;
    case 'in':
      return c.values.includes(v as never);
    case 'exists':
      return (v !== undefined && v !== null) === c.present;
    default:
      return typeof v === 'number' && Number.isFinite(v) && crosses(c.op, v, c.bound);
  }
}

function show(v: unknown): string {
  return typeof v === 'number' ? formatNumber(v) : typeof v === 'string' || typeof v === 'boolean' ? String(v) : '(not a scalar)';
}

/** Stateless: each event is judged on its own. */
export class RuleCore implements DetectorCore {
  readonly input = 'event';
  private readonly conds: Cond[];
  private readonly firstNumeric: number;
  private readonly matches: (p: Record<string, unknown>) => boolean;

  constructor(
    private readonly cfg: Config,
    private readonly ctx: DetectorContext,
  ) {
    const conds: Cond[] = [];
    for (const [field, c] of Object.entries(cfg.when)) {
      for (const op of NUMERIC_OPS) if (c[op] !== undefined) conds.push({ field, op, bound: c[op] as number });
      if (c['=='] !== undefined) conds.push({ field, op: '==', value: c['=='] });
      if (c['!='] !== undefined) conds.push({ field, op: '!=', value: c['!='] });
      if (c.in !== undefined) conds.push({ field, op: 'in', values: c.in });
      if (c.exists !== undefined) conds.push({ field, op: 'exists', present: c.exists });
    }
    this.conds = conds;
    this.firstNumeric = conds.findIndex(isNumeric);
    this.matches = compileMatch(cfg.match);
  }

  add(key: string, e: VEvent, emit: Emit): void {
    const p = e.payload;
    if (!this.matches(p)) return;
    const conds = this.conds;
    const any = this.cfg.mode === 'any';
    let met = !any;
    let decidingNumeric = -1;
    for (let i = 0; i < conds.length; i++) {
      const ok = holds(conds[i], p[conds[i].field]);
      if (ok && decidingNumeric < 0 && isNumeric(conds[i])) decidingNumeric = i;
      if (any && ok) met = true;
      if (!any && !ok) {
        met = false;
        break;
      }
    }
    // What is reported for every judged event: the rule's first numeric condition.
    const first = this.firstNumeric;
    let observed: number;
    let score: number;
    if (first < 0) {
      observed = met ? 1 : 0;
      score = observed;
    } else {
      const c = conds[first] as { field: string; op: Op; bound: number };
      const v = p[c.field];
      const numeric = typeof v === 'number' && Number.isFinite(v);
      observed = numeric ? v : 0;
      score = numeric ? boundScore(c.op, v, c.bound) : 0;
    }
    emit.judged(key, e.time, observed, score, score, met);
    if (!met) return;
    const ref = evidenceRef(e);
    const mayShow = this.ctx.mayShow;
    const shown = (field: string): boolean => mayShow?.(field) ?? true;
    // The conditions that decided: all of them, or (`any`) those that held.
    const decided = conds.map((_, i) => i).filter((i) => !any || holds(conds[i], p[conds[i].field]));
    const parts = decided.map((i) => describe(conds[i], p[conds[i].field], shown(conds[i].field)));
    let sigObserved = 1;
    let threshold = 1;
    let sigScore = 1;
    if (decidingNumeric >= 0) {
      const c = conds[decidingNumeric] as { field: string; op: Op; bound: number };
      sigObserved = p[c.field] as number;
      threshold = c.bound;
      sigScore = boundScore(c.op, sigObserved, c.bound);
    }
    emit.signal({
      key,
      time: e.time,
      identity: `event:${ref}`,
      revision: 0,
      window: null,
      observed: sigObserved,
      threshold,
      score: sigScore,
      explanation: `${this.cfg.name}: ${this.ctx.keyLabel} ${key} at ${isoTime(e.time)}: ${parts.join(any ? '; ' : ' and ')}.`,
      evidence: [ref],
      details: {
        mode: this.cfg.mode,
        conditions: decided.map((i) => {
          const c = conds[i];
          const v = p[c.field];
          return { field: c.field, op: c.op, ...(shown(c.field) && (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') ? { value: v } : {}) };
        }),
      },
    });
  }

  advance(): void {}

  stats(): { keys: number; evicted: number } {
    return { keys: 0, evicted: 0 };
  }

  snapshot(): unknown {
    return null;
  }

  restore(): void {}
}

/** "amount 250 (above 220)", or without the value when the field may not be shown: "amount above 220". */
function describe(c: Cond, v: unknown, visible: boolean): string {
  const value = visible && v !== undefined && v !== null ? ` ${show(v)}` : '';
  switch (c.op) {
    case '==':
      return visible ? `${c.field}${value}` : `${c.field} equal to the value required`;
    case '!=':
      return v === undefined ? `no ${c.field} (not ${show(c.value)})` : `${c.field}${value} (not ${show(c.value)})`;
    case 'in':
      return visible ? `${c.field}${value} (one of ${c.values.map(show).join(', ')})` : `${c.field} one of ${c.values.map(show).join(', ')}`;
    case 'exists':
      return c.present ? `${c.field}${value} present` : `no ${c.field}`;
    default:
      return visible ? `${c.field}${value} (${OP_TEXT[c.op]} ${formatNumber(c.bound)})` : `${c.field} ${OP_TEXT[c.op]} ${formatNumber(c.bound)}`;
  }
}

export function create(config: Config, ctx: DetectorContext): DetectorCore {
  return new RuleCore(config, ctx);
}
