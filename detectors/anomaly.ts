import { z } from 'zod';
import type { VEvent, WindowResult } from '../src/types.js';
import { describeWindow, formatNumber, isoTime } from './alert.js';
import { evidenceRef } from '../src/types.js';
import { AnomalyCore, DEFAULT_ANOMALY_SETTINGS, type AnomalyOutput, settingsProblems, type AnomalySettings } from './anomaly-core.js';
import { commonFields, compileMatch, finiteStrength, matchSchema, numberField } from './common.js';
import { KeyedState } from '../src/util/keyed-state.js';
import { inclusiveEnd, requireAggregate, resultIdentity, windowRef } from './threshold.js';
import type { PerKeyState, DetectorContext, DetectorCore, Emit, Signal } from './types.js';
import { VigieError } from '../src/errors.js';

export const type = 'anomaly';

/**
 * Anomaly: a univariate streaming anomaly detector per key (one metric series per key), judged on each
 * event's `field`, or on an `aggregate` of the key's window results (one value per window: requests per
 * minute, a latency quantile). It learns each series' own behaviour and needs no threshold: see
 * `anomaly-core.ts` for the method. Example: `{ name: latency-anomaly, type: anomaly, field: p99_ms }`
 *
 * With `aggregate`, only first emissions (revision 0) are judged: the series is learnt as it streams,
 * and a revision after late data would feed the same window twice.
 */
export const schema = z
  .strictObject({
    ...commonFields,
    type: z.literal(type),
    field: z.string().min(1).optional().describe('Numeric field of each event whose series is judged (one series per key). Give this or `aggregate`.'),
    aggregate: z
      .string()
      .min(1)
      .optional()
      .describe("Name of one of the pipeline's aggregates: each key's window results form the series judged (first emissions only). Give this or `field`."),
    match: matchSchema.optional().describe('With `field`: judge only events matching these conditions.'),
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
  })
  .superRefine((c, ctx) => {
    if ((c.field === undefined) === (c.aggregate === undefined)) {
      const message =
        c.field === undefined
          ? 'give `field` (a numeric field of each event) or `aggregate` (an aggregate of the window results): the series to judge'
          : 'give either `field` or `aggregate`, not both: one detector judges one series per key';
      ctx.addIssue({ code: 'custom', path: [c.field === undefined ? 'field' : 'aggregate'], message });
    }
    if (c.aggregate !== undefined && c.match !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['match'], message: 'match filters events, so it goes with `field`; with `aggregate`, filter the pipeline (`where`)' });
    }
  });

export type Config = z.infer<typeof schema>;

interface KeyState {
  core: AnomalyCore;
  last: number;
}

export class AnomalyDetectorCore implements DetectorCore {
  readonly input: 'event' | 'result';
  private readonly state: KeyedState<KeyState>;
  readonly perKey: PerKeyState<KeyState>;
  private readonly matches: (p: Record<string, unknown>) => boolean;
  private readonly settings: Partial<AnomalySettings>;
  /** Strength per unit of score: the score at the alert probability (surprise -log10 p, over 10) gives 1. */
  private readonly perScore: number;

  constructor(
    private readonly cfg: Config,
    private readonly ctx: DetectorContext,
  ) {
    this.input = cfg.aggregate === undefined ? 'event' : 'result';
    this.state = new KeyedState(cfg.maxKeys);
    this.perKey = { state: this.state, what: `detector ${cfg.name}`, encode: (s) => this.encode(s), decode: (v) => this.decode(v) };
    this.matches = compileMatch(cfg.match);
    this.settings = (cfg.settings ?? {}) as Partial<AnomalySettings>;
    const p = (cfg.settings?.alertProbability as number | undefined) ?? DEFAULT_ANOMALY_SETTINGS.alertProbability;
    this.perScore = 10 / -Math.log10(p);
  }

  add(key: string, e: VEvent, emit: Emit): void {
    if (!this.matches(e.payload)) return;
    const x = numberField(e, this.cfg.field as string);
    if (x === undefined) return;
    const ref = evidenceRef(e);
    this.judge(key, e.time, x, emit, undefined, (s) => ({
      ...s,
      identity: `event:${ref}`,
      revision: 0,
      window: null,
      evidence: [ref],
      explanation: `${this.cfg.field} for ${this.ctx.keyLabel} ${key} was ${formatNumber(x)} at ${isoTime(e.time)}`,
    }));
  }

  addResults(results: readonly WindowResult[], emit: Emit): void {
    const aggregate = this.cfg.aggregate as string;
    for (let i = 0; i < results.length; i++) {
      const r = results[i];
      const x = r.values[aggregate];
      if (r.revision > 0 || typeof x !== 'number' || !Number.isFinite(x)) continue;
      this.judge(r.key, r.end, x, emit, windowRef(r), (s) => ({
        ...s,
        identity: resultIdentity(r),
        revision: 0,
        window: { start: r.start, end: r.end },
        evidence: r.evidence,
        explanation: `${aggregate} for ${this.ctx.keyLabel} ${r.key} was ${formatNumber(x)} in window ${describeWindow(r.start, r.end, inclusiveEnd(this.ctx))}`,
      }));
    }
  }

  /** Feed one value of a key's series; on an alert, `where` completes the signal (identity, window, evidence, what was seen). */
  private judge(key: string, time: number, x: number, emit: Emit, ref: string | undefined, where: (s: Signal) => Signal): void {
    let st = this.state.touch(key);
    if (st === undefined) {
      st = { core: new AnomalyCore(this.settings), last: time };
      this.state.set(key, st);
    }
    st.last = time;
    const out = st.core.update(time, x);
    emit.judged(key, time, x, out.score, finiteStrength(out.score * this.perScore), out.alert, ref);
    if (!out.alert) return;
    const s = where({ key, time, identity: '', revision: 0, window: null, observed: x, threshold: out.expected, score: Number(out.score.toFixed(6)), explanation: '', evidence: [] });
    emit.signal({
      ...s,
      explanation: `${this.cfg.name}: ${s.explanation}, unusual for this series: ${whatWasUnusual(out, st.core.settings)} (anomaly score ${out.score.toFixed(3)}, learnt from ${st.core.rows} observations).`,
      details: {
        ...(this.cfg.field !== undefined ? { field: this.cfg.field } : { aggregate: this.cfg.aggregate }),
        reason: out.reason,
        expected: out.expected,
        observations: st.core.rows,
        ...(out.measure !== undefined ? { measured: out.measure.value, usual: out.measure.usual, span: out.measure.span } : {}),
      },
    });
  }

  advance(w: number): void {
    const horizon = w - this.cfg.forgetAfter;
    this.state.expireFront((s) => s.last < horizon);
  }

  stats(): { keys: number; evicted: number } {
    return { keys: this.state.size, evicted: this.state.evicted };
  }

  private encode(s: KeyState): unknown {
    return [s.last, s.core.snapshot()];
  }

  private decode(v: unknown): KeyState {
    if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'number') throw new VigieError('VIGIE_ERR_SNAPSHOT', `${this.perKey.what}: bad snapshot entry (expected [last, core])`);
    const core = new AnomalyCore(this.settings);
    core.restore(v[1]);
    return { core, last: v[0] };
  }

  snapshot(): unknown {
    return this.state.snapshot((s) => this.encode(s));
  }

  restore(state: unknown): void {
    this.state.restore(state, (v) => this.decode(v), this.perKey.what);
  }
}

/** What the dominant channel saw against what it usually sees, in words. */
export function whatWasUnusual(out: AnomalyOutput, settings: Pick<AnomalySettings, 'tailHighQuantile' | 'contextLength'>): string {
  const m = out.measure;
  const typical = `the typical value about ${formatNumber(out.expected)}`;
  if (m === undefined) return `${out.reason}; ${typical}`;
  const within = (what: string) => `where ${formatNumber(100 * settings.tailHighQuantile)}% of past ${what} stay within ${formatNumber(m.usual)}`;
  switch (out.reason) {
    case 'spike':
      return `a spike, ${formatNumber(m.value)} away from ${typical}, ${within('departures')}`;
    case 'level_shift':
      return `a level shift, the mean of the last ${m.span} values ${formatNumber(m.value)} away from ${typical}, ${within('shifts')}`;
    case 'context':
      return `a change of pattern, the last ${settings.contextLength} values unlike every similar past stretch by ${formatNumber(m.value)} on average, ${within('differences')} (${typical})`;
    default:
      return `a change of pattern over the last ${m.span * settings.contextLength} values (in steps of ${m.span}), unlike every similar past stretch by ${formatNumber(m.value)} on average, ${within('differences')} (${typical})`;
  }
}

export function create(config: Config, ctx: DetectorContext): DetectorCore {
  if (config.aggregate !== undefined) requireAggregate(config.name, config.aggregate, ctx);
  return new AnomalyDetectorCore(config, ctx);
}
