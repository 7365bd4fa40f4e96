import { z } from 'zod';
import type { WindowResult } from '../src/types.js';
import { describeEvidence, describeWindow, formatNumber } from './alert.js';
import { OPS, OP_TEXT, boundRatio, boundScore, boundStrength, commonFields, crosses, plural, type Op } from './common.js';
import { inclusiveEnd, requireAggregate, resultIdentity, revisionText, windowRef } from './threshold.js';
import type { DetectorContext, DetectorCore, Emit } from './types.js';
import { VigieError } from '../src/errors.js';

export const type = 'ratio';

/**
 * Ratio: the ratio of two aggregates of a window result crosses a bound, once the denominator has enough
 * volume: error rate (errors / requests), refusal rate (refused / attempts), chargebacks per sale.
 * Example: `{ name: error-rate, type: ratio, numerator: errors, denominator: requests, value: 0.2, minVolume: 50 }`
 */
export const schema = z.strictObject({
  ...commonFields,
  type: z.literal(type),
  numerator: z.string().min(1).describe("Name of one of the pipeline's aggregates: the numerator of the ratio (e.g. errors)."),
  denominator: z.string().min(1).describe("Name of one of the pipeline's aggregates: the denominator of the ratio (e.g. requests)."),
  op: z.enum(OPS).default('>=').describe('Comparison that raises the alert: numerator / denominator <op> value.'),
  value: z.number().finite().describe('The bound, as a ratio (0.2 for 20%).'),
  minVolume: z
    .number()
    .finite()
    .positive()
    .default(1)
    .describe('Judge only windows whose denominator is at least this (avoids alerts on 1 error out of 2 requests); the ratio is never judged on a denominator of 0 or less.'),
});

export type Config = z.infer<typeof schema>;

/** Stateless: each window result is judged on its own. */
export class RatioCore implements DetectorCore {
  readonly input = 'result';

  constructor(
    private readonly cfg: Config,
    private readonly ctx: DetectorContext,
  ) {}

  addResults(results: readonly WindowResult[], emit: Emit): void {
    const { numerator, denominator, op, value, minVolume, name } = this.cfg;
    for (let i = 0; i < results.length; i++) {
      const r = results[i];
      const num = r.values[numerator];
      const den = r.values[denominator];
      if (typeof num !== 'number' || typeof den !== 'number' || !(den >= minVolume) || !(den > 0)) continue;
      const ratio = num / den;
      if (!Number.isFinite(ratio)) continue;
      const met = crosses(op as Op, ratio, value);
      emit.judged(r.key, r.end, ratio, boundRatio(op, ratio, value), boundStrength(op, ratio, value), met, windowRef(r));
      if (!met) continue;
      emit.signal({
        key: r.key,
        time: r.end,
        identity: resultIdentity(r),
        revision: r.revision,
        window: { start: r.start, end: r.end },
        observed: ratio,
        threshold: value,
        score: boundScore(op, ratio, value),
        explanation:
          `${name}: ${numerator}/${denominator} for ${this.ctx.keyLabel} ${r.key} was ${formatNumber(ratio)} (${formatNumber(num)} of ${formatNumber(den)}) ` +
          `in window ${describeWindow(r.start, r.end, inclusiveEnd(this.ctx))}${revisionText(r)}, ${OP_TEXT[op]} the bound ${formatNumber(value)}` +
          ` (${plural(r.count, 'event')}: ${describeEvidence(r.evidence, r.count)}).`,
        evidence: r.evidence,
        details: { numerator, denominator, numeratorValue: num, denominatorValue: den, op, count: r.count },
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

  restore(state: unknown): void {
    if (state !== null) throw new VigieError('VIGIE_ERR_SNAPSHOT', `detector ${this.cfg.name}: bad snapshot (a ratio detector keeps no state)`);
  }
}

export function create(config: Config, ctx: DetectorContext): DetectorCore {
  requireAggregate(config.name, config.numerator, ctx);
  requireAggregate(config.name, config.denominator, ctx);
  return new RatioCore(config, ctx);
}
