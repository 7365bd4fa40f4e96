import { z } from 'zod';
import type { WindowResult } from '../src/types.js';
import { describeEvidence, describeWindow, formatNumber } from './alert.js';
import { OPS, OP_TEXT, boundRatio, boundScore, boundStrength, commonFields, crosses, plural, type Op } from './common.js';
import type { DetectorContext, DetectorCore, Emit } from './types.js';
import { VigieError } from '../src/errors.js';

export const type = 'threshold';

/**
 * Threshold: an aggregate of a window result crosses a bound.
 * Example: `{ name: card-testing, type: threshold, aggregate: payments, op: ">=", value: 10, severity: high }`
 */
export const schema = z.strictObject({
  ...commonFields,
  type: z.literal(type),
  aggregate: z.string().min(1).describe("Name of one of the pipeline's aggregates, compared with the bound."),
  op: z.enum(OPS).default('>=').describe('Comparison that raises the alert: observed <op> value.'),
  value: z.number().finite().describe('The bound.'),
  minCount: z.number().int().min(0).default(0).describe('Ignore windows with fewer events than this (avoids alerts on thin data).'),
});

export type Config = z.infer<typeof schema>;

/** Whether a pipeline's windows include their end in explanations. */
export function inclusiveEnd(ctx: DetectorContext): boolean {
  return ctx.windowType === 'session' || ctx.windowType === 'sliding';
}

/** What makes a window result unique for alert ids: the triggering event (sliding) or the window. */
export function resultIdentity(r: WindowResult): string {
  return r.trigger !== undefined ? `event:${r.trigger}` : `window:${r.start}:${r.end}`;
}

/** The `ref` of a judgement on a window result. */
export function windowRef(r: WindowResult): string {
  return `window:${r.start}:${r.end}`;
}

/** " (revision 2, after late events)" when a result is a revision. */
export function revisionText(r: WindowResult): string {
  return r.revision > 0 ? ` (revision ${r.revision}, after late events)` : '';
}

/** Stateless: each window result is judged on its own. */
export class ThresholdCore implements DetectorCore {
  readonly input = 'result';

  constructor(
    private readonly cfg: Config,
    private readonly ctx: DetectorContext,
  ) {}

  addResults(results: readonly WindowResult[], emit: Emit): void {
    const { aggregate, op, value, minCount, name } = this.cfg;
    for (let i = 0; i < results.length; i++) {
      const r = results[i];
      const observed = r.values[aggregate];
      if (typeof observed !== 'number' || r.count < minCount) continue;
      const met = crosses(op as Op, observed, value);
      emit.judged(r.key, r.end, observed, boundRatio(op, observed, value), boundStrength(op, observed, value), met, windowRef(r));
      if (!met) continue;
      emit.signal({
        key: r.key,
        time: r.end,
        identity: resultIdentity(r),
        revision: r.revision,
        window: { start: r.start, end: r.end },
        observed,
        threshold: value,
        score: boundScore(op, observed, value),
        explanation:
          `${name}: ${aggregate} for ${this.ctx.keyLabel} ${r.key} was ${formatNumber(observed)} ` +
          `in window ${describeWindow(r.start, r.end, inclusiveEnd(this.ctx))}${revisionText(r)}, ${OP_TEXT[op]} the threshold ${formatNumber(value)}` +
          ` (${plural(r.count, 'event')}: ${describeEvidence(r.evidence, r.count)}).`,
        evidence: r.evidence,
        details: { aggregate, op, count: r.count },
      });
    }
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

/** Check that the aggregate exists in the pipeline. */
export function requireAggregate(name: string, aggregate: string, ctx: DetectorContext): void {
  if (ctx.windowType === 'none') throw new VigieError('VIGIE_ERR_CONFIG', `detector "${name}": needs window results, but pipeline "${ctx.pipeline}" has no window`);
  if (!ctx.aggregates.includes(aggregate)) {
    throw new VigieError('VIGIE_ERR_CONFIG', `detector "${name}": aggregate "${aggregate}" is not defined in pipeline "${ctx.pipeline}" (defined: ${ctx.aggregates.join(', ') || 'none'})`);
  }
}

export function create(config: Config, ctx: DetectorContext): DetectorCore {
  requireAggregate(config.name, config.aggregate, ctx);
  return new ThresholdCore(config, ctx);
}
