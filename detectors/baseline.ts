import { z } from 'zod';
import type { WindowResult } from '../src/types.js';
import { describeEvidence, describeWindow, formatNumber } from './alert.js';
import { positiveDurationSchema } from '../src/time/duration.js';
import { commonFields, directedStrength, finiteStrength, plural } from './common.js';
import { KeyedState } from '../src/util/keyed-state.js';
import { inclusiveEnd, requireAggregate, resultIdentity, revisionText, windowRef } from './threshold.js';
import type { PerKeyState, DetectorContext, DetectorCore, Emit } from './types.js';
import { VigieError } from '../src/errors.js';

export const type = 'baseline';

export const SEASONS = ['hour-of-day', 'day-of-week', 'hour-of-week'] as const;
export type Season = (typeof SEASONS)[number];

/**
 * Baseline: an aggregate of a key's window result deviates from what is usual for that key, learnt as an
 * exponentially weighted mean and variance (`ewma`), or one per slot of a season (`seasonal`: per hour of
 * the day, day of the week or hour of the week, from the window start), so that normal daily or weekly
 * peaks are expected while the same value at an unusual time is not.
 * Example: `{ name: traffic-drop, type: baseline, aggregate: requests, model: seasonal, season: hour-of-week, direction: down }`
 *
 * Semantics:
 * - A value is judged before it is learnt: z = (x - mean) / max(std, minStd); it signals when z >= value
 *   (`up`), z <= -value (`down`) or either (`both`), once the model (or the slot) has `minSamples` values.
 * - Learning: mean and variance with weight max(alpha, 1/n) for the n-th value, i.e. the exact mean and
 *   (population) variance of the first 1/alpha values, then an exponentially weighted one.
 * - `learnAnomalies: true` (default) learns every value, so a lasting change of level becomes the new
 *   normal after a while; `false` does not learn the values that signal, which keeps a burst from
 *   widening the baseline but never adapts to a lasting change in the watched direction.
 * - Only first emissions (revision 0) are learnt. A revision (late data) is judged, not learnt: against
 *   the model as it was before the first emission of the same window was learnt when that was the last
 *   value its slot learnt, against the current model otherwise.
 * - Keys idle for `forgetAfter` (event time, by window end) are dropped, as are the least recently active
 *   beyond `maxKeys`. A key holds at most 168 slot models.
 */
export const schema = z.strictObject({
  ...commonFields,
  type: z.literal(type),
  aggregate: z.string().min(1).describe("Name of one of the pipeline's aggregates, compared with its usual value for the key."),
  model: z
    .enum(['ewma', 'seasonal'])
    .default('ewma')
    .describe('`ewma`: one exponentially weighted mean and variance per key; `seasonal`: one per key and slot of `season`.'),
  season: z
    .enum(SEASONS)
    .optional()
    .describe('With `model: seasonal` (required there): the slot of a window is the hour of the day, the day of the week or the hour of the week of its start.'),
  utcOffset: z
    .number()
    .int()
    .min(-720)
    .max(840)
    .default(0)
    .describe('With `model: seasonal`: fixed offset from UTC, in minutes, of the clock that defines the slots (120 for UTC+02:00; no daylight saving).'),
  alpha: z
    .number()
    .gt(0)
    .max(1)
    .default(0.1)
    .describe('Weight of each new value in the mean and variance (the first 1/alpha values are weighted equally); higher adapts faster.'),
  value: z.number().finite().positive().default(4).describe('The bound on |z|, the deviation from the usual value in standard deviations.'),
  direction: z.enum(['up', 'down', 'both']).default('both').describe('Which deviations raise the alert: above (`up`), below (`down`) or `both`.'),
  minSamples: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe('Values learnt before judging (warm-up): per key for `ewma` (default 10), per key and slot for `seasonal` (default 3).'),
  minStd: z
    .number()
    .finite()
    .min(0)
    .default(0)
    .describe('Floor of the standard deviation, in the units of the aggregate: keeps a key that barely varied from alerting on a tiny change. With 0, any change of a value that never varied signals.'),
  learnAnomalies: z
    .boolean()
    .default(true)
    .describe('Whether values that signal are learnt too: true adapts to lasting changes; false keeps bursts out of the baseline (but never adapts to a lasting change in the watched direction).'),
  forgetAfter: positiveDurationSchema.default(35 * 86_400_000).describe('Drop the baseline of a key without a window for this long (event time).'),
}).superRefine((c, ctx) => {
  if (c.model === 'seasonal' && c.season === undefined) {
    ctx.addIssue({ code: 'custom', path: ['season'], message: `model: seasonal needs \`season\`: which slot of the clock each value is learnt for (${SEASONS.join(', ')})` });
  }
  if (c.model !== 'seasonal' && c.season !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['season'], message: 'season is only used with model: seasonal: add `model: seasonal`, or remove `season` for one baseline per key' });
  }
});

export type Config = z.infer<typeof schema>;

/** Mean and variance of one slot, with what they were before the last value learnt (for revisions of its window). */
interface Model {
  n: number;
  mean: number;
  v: number;
  /** Start of the first window learnt. */
  since: number;
  /** Window of the last value learnt. */
  lastStart: number;
  lastEnd: number;
  /** n, mean, variance and window start of the last value learnt, before it. */
  pn: number;
  pmean: number;
  pv: number;
  pLastStart: number;
}

type ModelSnap = [
  slot: number,
  n: number,
  mean: number,
  v: number,
  since: number,
  lastStart: number,
  lastEnd: number,
  pn: number,
  pmean: number,
  pv: number,
  pLastStart: number,
];

interface KeyState {
  /** Slot -> model (only slot 0 for `ewma`). */
  slots: Map<number, Model>;
  /** Latest window end learnt (for `forgetAfter`). */
  seen: number;
}

const HOUR = 3_600_000;
const DAY = 86_400_000;
const WEEK = 7 * DAY;
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

const floorMod = (a: number, m: number): number => ((a % m) + m) % m;

/** Slot of a window starting at `start`, for a season and an offset from UTC in minutes. Days: 0 = Sunday. */
export function slotOf(season: Season, start: number, utcOffset: number): number {
  const local = start + utcOffset * 60_000;
  const hour = floorMod(Math.floor(local / HOUR), 24);
  const day = floorMod(Math.floor(local / DAY) + 4, 7); // 1970-01-01 was a Thursday
  return season === 'hour-of-day' ? hour : season === 'day-of-week' ? day : day * 24 + hour;
}

/** "Tuesday 14:00 UTC", "14:00 UTC+02:00", "Sunday UTC-05:30". */
export function describeSlot(season: Season, slot: number, utcOffset: number): string {
  const abs = Math.abs(utcOffset);
  const tz = utcOffset === 0 ? 'UTC' : `UTC${utcOffset > 0 ? '+' : '-'}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
  const hour = (h: number) => `${String(h).padStart(2, '0')}:00`;
  if (season === 'hour-of-day') return `${hour(slot)} ${tz}`;
  if (season === 'day-of-week') return `${DAYS[slot]} ${tz}`;
  return `${DAYS[Math.floor(slot / 24)]} ${hour(slot % 24)} ${tz}`;
}

export class BaselineCore implements DetectorCore {
  readonly input = 'result';
  private readonly state: KeyedState<KeyState>;
  readonly perKey: PerKeyState<KeyState>;
  private readonly minSamples: number;

  constructor(
    private readonly cfg: Config,
    private readonly ctx: DetectorContext,
  ) {
    this.state = new KeyedState(cfg.maxKeys);
    this.perKey = { state: this.state, what: `detector ${cfg.name}`, encode: (s) => this.encode(s), decode: (v) => this.decode(v) };
    this.minSamples = cfg.minSamples ?? (cfg.model === 'seasonal' ? 3 : 10);
  }

  addResults(results: readonly WindowResult[], emit: Emit): void {
    const cfg = this.cfg;
    for (let i = 0; i < results.length; i++) {
      const r = results[i];
      const raw = r.values[cfg.aggregate];
      if (typeof raw !== 'number' || !Number.isFinite(raw)) continue;
      const x = raw === 0 ? 0 : raw; // no -0 in state: it would not survive a checkpoint
      const slot = cfg.model === 'seasonal' ? slotOf(cfg.season as Season, r.start, cfg.utcOffset) : 0;
      if (r.revision > 0) {
        const m = this.state.peek(r.key)?.slots.get(slot);
        if (m === undefined) continue;
        if (m.lastStart === r.start && m.lastEnd === r.end) this.judge(r, x, slot, m.pn, m.pmean, m.pv, m.since, m.pLastStart, emit);
        else this.judge(r, x, slot, m.n, m.mean, m.v, m.since, m.lastStart, emit);
        continue;
      }
      let st = this.state.touch(r.key);
      if (st === undefined) {
        st = { slots: new Map(), seen: r.end };
        this.state.set(r.key, st);
      }
      if (r.end > st.seen) st.seen = r.end;
      const m = st.slots.get(slot);
      if (m === undefined) {
        st.slots.set(slot, { n: 1, mean: x, v: 0, since: r.start, lastStart: r.start, lastEnd: r.end, pn: 0, pmean: 0, pv: 0, pLastStart: r.start });
        continue;
      }
      const signalled = this.judge(r, x, slot, m.n, m.mean, m.v, m.since, m.lastStart, emit);
      if (signalled && !cfg.learnAnomalies) continue;
      learn(m, x, cfg.alpha, r);
    }
  }

  /**
   * Judge `x` against a model (n values, mean, variance, learnt from windows starting from `since` to
   * `lastStart`); true when it signalled.
   */
  private judge(r: WindowResult, x: number, slot: number, n: number, mean: number, v: number, since: number, lastStart: number, emit: Emit): boolean {
    const cfg = this.cfg;
    if (n < this.minSamples) return false;
    const std = Math.max(Math.sqrt(v), cfg.minStd);
    const dev = x - mean;
    const z = std > 0 ? dev / std : dev === 0 ? 0 : dev > 0 ? Infinity : -Infinity;
    const up = z >= cfg.value;
    const down = z <= -cfg.value;
    const s = Math.abs(z) / cfg.value;
    const met = (up && cfg.direction !== 'down') || (down && cfg.direction !== 'up');
    emit.judged(r.key, r.end, x, finiteStrength(s), directedStrength(cfg.direction, z, cfg.value), met, windowRef(r));
    if (!met) return false;
    const bound = mean + (up ? cfg.value : -cfg.value) * std;
    const seasonal = cfg.model === 'seasonal';
    const season = cfg.season as Season;
    const forSlot = seasonal ? ` for ${describeSlot(season, slot, cfg.utcOffset)}` : '';
    let learnt = plural(n, 'window');
    if (seasonal) {
      const [period, unit] = season === 'hour-of-day' ? [DAY, 'day'] : [WEEK, 'week'];
      const periods = Math.floor((lastStart - since) / period) + 1;
      learnt = periods === n ? plural(periods, unit) : `${learnt} over ${plural(periods, unit)}`;
    }
    const how = Number.isFinite(z)
      ? `${formatNumber(Number(Math.abs(z).toFixed(1)))} standard deviations ${up ? 'above' : 'below'} its usual ${formatNumber(mean)}${forSlot} ` +
        `(learnt from ${learnt}; standard deviation ${formatNumber(std)}, bound ${formatNumber(cfg.value)}`
      : `${up ? 'above' : 'below'} its usual ${formatNumber(mean)}${forSlot}, which had not varied so far (learnt from ${learnt}`;
    emit.signal({
      key: r.key,
      time: r.end,
      identity: resultIdentity(r),
      revision: r.revision,
      window: { start: r.start, end: r.end },
      observed: x,
      threshold: bound,
      score: Number.isFinite(s) ? Number(s.toFixed(6)) : Number.MAX_SAFE_INTEGER,
      explanation:
        `${cfg.name}: ${cfg.aggregate} for ${this.ctx.keyLabel} ${r.key} was ${formatNumber(x)} in window ${describeWindow(r.start, r.end, inclusiveEnd(this.ctx))}${revisionText(r)}, ` +
        `${how}; ${plural(r.count, 'event')}: ${describeEvidence(r.evidence, r.count)}).`,
      evidence: r.evidence,
      details: {
        aggregate: cfg.aggregate,
        model: cfg.model,
        slot: seasonal ? describeSlot(season, slot, cfg.utcOffset) : null,
        expected: mean,
        std,
        z: Number.isFinite(z) ? z : null,
        samples: n,
        count: r.count,
      },
    });
    return true;
  }

  advance(w: number): void {
    const horizon = w - this.cfg.forgetAfter;
    this.state.expireFront((st) => st.seen < horizon);
  }

  stats(): { keys: number; evicted: number } {
    return { keys: this.state.size, evicted: this.state.evicted };
  }

  private encode(st: KeyState): [number, ModelSnap[]] {
    const slots: ModelSnap[] = [];
    for (const [slot, m] of st.slots) slots.push([slot, m.n, m.mean, m.v, m.since, m.lastStart, m.lastEnd, m.pn, m.pmean, m.pv, m.pLastStart]);
    return [st.seen, slots];
  }

  private decode(entry: unknown): KeyState {
    const what = this.perKey.what;
    if (!Array.isArray(entry) || typeof entry[0] !== 'number' || !Array.isArray(entry[1])) throw new VigieError('VIGIE_ERR_SNAPSHOT', `${what}: bad snapshot entry`);
    const slots = new Map<number, Model>();
    for (const m of entry[1] as unknown[]) {
      if (!Array.isArray(m) || m.length !== 11 || !m.every((n) => typeof n === 'number')) throw new VigieError('VIGIE_ERR_SNAPSHOT', `${what}: bad snapshot entry`);
      const [slot, n, mean, v, since, lastStart, lastEnd, pn, pmean, pv, pLastStart] = m as ModelSnap;
      slots.set(slot, { n, mean, v, since, lastStart, lastEnd, pn, pmean, pv, pLastStart });
    }
    return { slots, seen: entry[0] };
  }

  snapshot(): unknown {
    return this.state.snapshot((s) => this.encode(s));
  }

  restore(state: unknown): void {
    this.state.restore(state, (v) => this.decode(v), this.perKey.what);
  }
}

/** Learn `x` (the window `r`'s value) into a model: weight max(alpha, 1/n) for the n-th value. */
function learn(m: Model, x: number, alpha: number, r: WindowResult): void {
  m.pn = m.n;
  m.pmean = m.mean;
  m.pv = m.v;
  m.pLastStart = m.lastStart;
  m.lastStart = r.start;
  m.lastEnd = r.end;
  m.n++;
  const a = Math.max(alpha, 1 / m.n);
  const d = x - m.mean;
  const incr = a * d;
  m.mean += incr;
  m.v = (1 - a) * (m.v + d * incr);
  if (r.start < m.since) m.since = r.start;
}

export function create(config: Config, ctx: DetectorContext): DetectorCore {
  requireAggregate(config.name, config.aggregate, ctx);
  return new BaselineCore(config, ctx);
}
