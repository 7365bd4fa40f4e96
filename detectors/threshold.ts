import { z } from 'zod';
import type { Alert, Severity, WindowResult } from '../src/types.js';
import { SEVERITIES } from '../src/types.js';
import { alertId, describeEvidence, describeWindow, formatNumber } from '../src/alerts/alert.js';
import type { Detector, DetectorContext } from './types.js';

export const type = 'threshold';

const OPS = ['>', '>=', '<', '<='] as const;
type Op = (typeof OPS)[number];
const OP_TEXT: Record<Op, string> = { '>': 'above', '>=': 'at or above', '<': 'below', '<=': 'at or below' };

/**
 * Threshold: alert when an aggregate of a window result crosses a bound.
 * Example: `{ name: card-testing, type: threshold, aggregate: payments, op: ">=", value: 10, severity: high }`
 */
export const schema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/i, 'letters, digits, ".", "_" and "-" only').describe('Detector name, unique in the config; names the alert source in outputs and metrics.'),
  type: z.literal(type),
  aggregate: z.string().min(1).describe("Name of one of the pipeline's aggregates, compared with the bound."),
  op: z.enum(OPS).default('>=').describe('Comparison that raises the alert: observed <op> value.'),
  value: z.number().finite().describe('The bound.'),
  severity: z.enum(SEVERITIES as [Severity, ...Severity[]]).default('medium').describe('Severity carried by the alerts.'),
  minCount: z.number().int().min(0).default(0).describe('Ignore windows with fewer events than this (avoids alerts on thin data).'),
  description: z.string().optional().describe('Free text shown to analysts with each alert, e.g. the typology this rule targets.'),
});

export type Config = z.infer<typeof schema>;

function crosses(op: Op, observed: number, bound: number): boolean {
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

class ThresholdDetector implements Detector {
  readonly type = type;
  readonly name: string;
  readonly severity: Severity;

  constructor(
    private readonly cfg: Config,
    private readonly ctx: DetectorContext,
  ) {
    this.name = cfg.name;
    this.severity = cfg.severity;
  }

  onResults(results: readonly WindowResult[], out: Alert[]): void {
    const { aggregate, op, value, minCount } = this.cfg;
    for (let i = 0; i < results.length; i++) {
      const r = results[i];
      const observed = r.values[aggregate];
      if (typeof observed !== 'number' || r.count < minCount || !crosses(op, observed, value)) continue;
      out.push(this.alert(r, observed));
    }
  }

  snapshot(): unknown {
    return null;
  }

  restore(): void {}

  private alert(r: WindowResult, observed: number): Alert {
    const { aggregate, op, value } = this.cfg;
    const inclusive = this.ctx.windowType === 'session' || this.ctx.windowType === 'sliding';
    const identity = r.trigger !== undefined ? `event:${r.trigger}` : `window:${r.start}:${r.end}`;
    const score = op === '>' || op === '>=' ? (value === 0 ? observed : observed / value) : observed === 0 ? value : value / observed;
    const revisionText = r.revision > 0 ? ` (revision ${r.revision}, after late events)` : '';
    const explanation =
      `${this.name}: ${aggregate} for ${this.ctx.keyLabel} ${r.key} was ${formatNumber(observed)} ` +
      `in window ${describeWindow(r.start, r.end, inclusive)}${revisionText}, ${OP_TEXT[op]} the threshold ${formatNumber(value)}` +
      ` (${r.count} event${r.count === 1 ? '' : 's'}: ${describeEvidence(r.evidence, r.count)}).` +
      (this.cfg.description ? ` ${this.cfg.description}` : '');
    return {
      id: alertId(this.name, r.key, identity, r.revision),
      detector: this.name,
      detectorType: type,
      pipeline: this.ctx.pipeline,
      severity: this.severity,
      key: r.key,
      window: { start: r.start, end: r.end },
      revision: r.revision,
      eventTime: r.end,
      detectedAt: this.ctx.detectionTime(r),
      observed,
      threshold: value,
      score: Number(score.toFixed(6)),
      explanation,
      evidence: r.evidence,
      configVersion: this.ctx.configVersion,
      details: { aggregate, op, count: r.count },
    };
  }
}

/** Build a threshold detector; the aggregate must exist in the pipeline. */
export function create(config: Config, ctx: DetectorContext): Detector {
  if (!ctx.aggregates.includes(config.aggregate)) {
    throw new Error(`detector "${config.name}": aggregate "${config.aggregate}" is not defined in pipeline "${ctx.pipeline}" (defined: ${ctx.aggregates.join(', ') || 'none'})`);
  }
  return new ThresholdDetector(config, ctx);
}
