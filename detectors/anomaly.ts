import { z } from 'zod';
import type { VEvent } from '../src/types.js';
import { formatNumber, isoTime } from './alert.js';
import { evidenceRef } from '../src/types.js';
import { AnomalyCore, DEFAULT_ANOMALY_SETTINGS, settingsProblems, type AnomalySettings } from './anomaly-core.js';
import { KeyedEventCore, commonFields, finiteStrength, matchSchema, numberField } from './common.js';
import type { DetectorContext, DetectorCore, Emit } from './types.js';

export const type = 'anomaly';

/**
 * Anomaly: a univariate streaming anomaly detector per key (one metric series per key), judged on each
 * event's `field`. It learns each series' own behaviour and needs no threshold: see `anomaly-core.ts`
 * for the method. Example: `{ name: latency-anomaly, type: anomaly, field: p99_ms }`
 */
export const schema = z.strictObject({
  ...commonFields,
  type: z.literal(type),
  field: z.string().min(1).describe('Numeric field whose series is judged (one series per key).'),
  match: matchSchema.optional().describe('Judge only events matching these conditions.'),
  settings: z
    .record(z.string(), z.union([z.number().finite(), z.array(z.number().int().positive()).min(1)]))
    .superRefine((settings, ctx) => {
      const known = Object.keys(DEFAULT_ANOMALY_SETTINGS);
      for (const k of Object.keys(settings)) {
        if (!known.includes(k)) ctx.addIssue({ code: 'custom', path: [k], message: `unknown setting "${k}" (known: ${known.join(', ')})` });
      }
      const given = Object.fromEntries(Object.entries(settings).filter(([k]) => known.includes(k)));
      for (const { setting, message } of settingsProblems({ ...DEFAULT_ANOMALY_SETTINGS, ...given } as AnomalySettings)) {
        // The defaults satisfy the rule across the two quantiles: blame the one that was given.
        const other = setting === 'tailLowQuantile' ? 'tailHighQuantile' : setting === 'tailHighQuantile' ? 'tailLowQuantile' : undefined;
        const at = other !== undefined && !(setting in given) && other in given ? other : setting;
        ctx.addIssue({ code: 'custom', path: [at], message });
      }
    })
    .optional()
    .describe('Overrides of the detector\'s settings (see `detectors/anomaly-core.ts`); the defaults are the ones evaluated on NAB and should rarely change.'),
  forgetAfter: z.number().int().min(1).default(30 * 86_400_000).describe('Drop the model of a series idle for this long (ms, event time).'),
});

export type Config = z.infer<typeof schema>;

interface KeyState {
  core: AnomalyCore;
  last: number;
}

export class AnomalyDetectorCore extends KeyedEventCore<KeyState, Config> implements DetectorCore {
  private readonly settings: Partial<AnomalySettings>;
  /** Strength per unit of score: the score at the alert probability (surprise -log10 p, over 10) gives 1. */
  private readonly perScore: number;

  constructor(cfg: Config, ctx: DetectorContext) {
    super(cfg, ctx);
    this.settings = (cfg.settings ?? {}) as Partial<AnomalySettings>;
    const p = (cfg.settings?.alertProbability as number | undefined) ?? DEFAULT_ANOMALY_SETTINGS.alertProbability;
    this.perScore = 10 / -Math.log10(p);
  }

  add(key: string, e: VEvent, emit: Emit): void {
    const cfg = this.cfg;
    if (!this.matches(e.payload)) return;
    const x = numberField(e, cfg.field);
    if (x === undefined) return;
    let st = this.state.touch(key);
    if (st === undefined) {
      st = { core: new AnomalyCore(this.settings), last: e.time };
      this.state.set(key, st);
    }
    st.last = e.time;
    const out = st.core.update(e.time, x);
    emit.judged(key, e.time, x, out.score, finiteStrength(out.score * this.perScore), out.alert);
    if (!out.alert) return;
    const ref = evidenceRef(e);
    emit.signal({
      key,
      time: e.time,
      identity: `event:${ref}`,
      revision: 0,
      window: null,
      observed: x,
      threshold: out.expected,
      score: Number(out.score.toFixed(6)),
      explanation:
        `${cfg.name}: ${cfg.field} for ${this.ctx.keyLabel} ${key} was ${formatNumber(x)} at ${isoTime(e.time)}, ` +
        `unusual for this series (anomaly score ${out.score.toFixed(3)}, ${out.reason}; typical value about ${formatNumber(out.expected)}, ` +
        `learnt from ${st.core.rows} observations).`,
      evidence: [ref],
      details: { field: cfg.field, reason: out.reason, expected: out.expected, observations: st.core.rows },
    });
  }

  advance(w: number): void {
    const horizon = w - this.cfg.forgetAfter;
    this.state.expireFront((s) => s.last < horizon);
  }


  snapshot(): unknown {
    return this.state.snapshot((s) => [s.last, s.core.snapshot()]);
  }

  restore(state: unknown): void {
    this.state.restore<[number, unknown]>(
      state,
      ([last, snap]) => {
        const core = new AnomalyCore(this.settings);
        core.restore(snap);
        return { core, last };
      },
      `detector ${this.cfg.name}`,
    );
  }
}

export function create(config: Config, ctx: DetectorContext): DetectorCore {
  return new AnomalyDetectorCore(config, ctx);
}
