import { z } from 'zod';
import type { WindowResult } from '../src/types.js';
import { describeEvidence, describeWindow, formatNumber } from './alert.js';
import { durationSchema } from '../src/time/duration.js';
import { commonFields, directedStrength, plural } from './common.js';
import { KeyedState } from '../src/util/keyed-state.js';
import { inclusiveEnd, requireAggregate, resultIdentity, revisionText, windowRef } from './threshold.js';
import type { PerKeyState, DetectorContext, DetectorCore, Emit } from './types.js';
import { VigieError } from '../src/errors.js';

export const type = 'rate-of-change';

/**
 * Rate of change: an aggregate of a key's window result changes too much from the same key's previous
 * window result: a sudden surge of logins, a collapse of payments.
 * Example: `{ name: surge, type: rate-of-change, aggregate: logins, direction: up, value: 2, minPrevious: 20 }`
 *
 * Semantics:
 * - The previous window of a result is the key's latest earlier first emission (revision 0) with a
 *   numeric value; only first emissions become history. A revision (late data) of the key's latest
 *   window is judged against the window before it, like the first emission was, and does not replace
 *   the stored value: the next window is compared with what was first seen. Revisions of older windows
 *   are not judged. A first emission that does not end after the key's latest window is ignored.
 * - The comparison is skipped when the previous value is too small (`minPrevious`), when it is 0 in
 *   relative mode, or when the gap between the previous window's end and this window's start exceeds
 *   `maxGap` (the window then just becomes the history).
 * - State expires: a key whose latest window ended more than `maxGap` plus the longest window seen
 *   before the watermark cannot be compared with any later on-time window and is dropped.
 */
export const schema = z.strictObject({
  ...commonFields,
  type: z.literal(type),
  aggregate: z.string().min(1).describe("Name of one of the pipeline's aggregates, compared with its value in the key's previous window."),
  mode: z
    .enum(['relative', 'absolute'])
    .default('relative')
    .describe('`relative`: change = (current - previous) / |previous| (1 = +100%); `absolute`: change = current - previous.'),
  direction: z.enum(['up', 'down', 'both']).default('both').describe('Which changes raise the alert: rises (`up`), falls (`down`) or `both`.'),
  value: z
    .number()
    .finite()
    .positive()
    .describe('The bound on the size of the change (a fraction in relative mode: 0.5 = 50%): alert when |change| >= value in the watched direction.'),
  minPrevious: z
    .number()
    .finite()
    .min(0)
    .default(0)
    .describe('Skip the comparison when |previous| is below this (avoids "+200%" on 1 -> 3). In relative mode a previous value of 0 is always skipped.'),
  maxGap: durationSchema
    .default(3_600_000)
    .describe(
      "Largest gap between the end of the key's previous window and the start of the current one (0 for back-to-back windows); beyond it the previous window is too old to compare with and the comparison is skipped.",
    ),
});

export type Config = z.infer<typeof schema>;

/** A first emission kept as history. */
interface Point {
  start: number;
  end: number;
  value: number;
}

interface KeyState {
  /** The key's latest first emission. */
  latest: Point;
  /** The one before it (for revisions of `latest`). */
  prior: Point | null;
}

type PointSnap = [number, number, number];

export class RateOfChangeCore implements DetectorCore {
  readonly input = 'result';
  private readonly state: KeyedState<KeyState>;
  readonly perKey: PerKeyState<KeyState>;
  /** Longest window (end - start) seen so far: bounds how early a later window can start (for expiry). */
  private span = 0;

  constructor(
    private readonly cfg: Config,
    private readonly ctx: DetectorContext,
  ) {
    this.state = new KeyedState(cfg.maxKeys);
    this.perKey = { state: this.state, what: `detector ${cfg.name}`, encode: (s) => this.encode(s), decode: (v) => this.decode(v), rest: () => this.span, restoreRest: (x) => (this.span = this.spanOf(x)) };
  }

  addResults(results: readonly WindowResult[], emit: Emit): void {
    const agg = this.cfg.aggregate;
    for (let i = 0; i < results.length; i++) {
      const r = results[i];
      const raw = r.values[agg];
      if (typeof raw !== 'number' || !Number.isFinite(raw)) continue;
      const x = raw === 0 ? 0 : raw; // no -0 in state: it would not survive a checkpoint
      if (r.end - r.start > this.span) this.span = r.end - r.start;
      if (r.revision > 0) {
        const st = this.state.peek(r.key);
        if (st !== undefined && st.prior !== null && st.latest.start === r.start && st.latest.end === r.end) this.judge(r, x, st.prior, emit);
        continue;
      }
      const st = this.state.touch(r.key);
      if (st === undefined) {
        this.state.set(r.key, { latest: { start: r.start, end: r.end, value: x }, prior: null });
        continue;
      }
      if (r.end <= st.latest.end) continue;
      this.judge(r, x, st.latest, emit);
      st.prior = st.latest;
      st.latest = { start: r.start, end: r.end, value: x };
    }
  }

  private judge(r: WindowResult, x: number, prev: Point, emit: Emit): void {
    const { mode, direction, value, minPrevious, maxGap, name } = this.cfg;
    if (r.start - prev.end > maxGap) return;
    const p = prev.value;
    if (Math.abs(p) < minPrevious) return;
    if (mode === 'relative' && p === 0) return;
    const change = mode === 'relative' ? (x - p) / Math.abs(p) : x - p;
    if (!Number.isFinite(change)) return;
    const up = change >= value;
    const down = change <= -value;
    const s = Math.abs(change) / value;
    const met = (up && direction !== 'down') || (down && direction !== 'up');
    emit.judged(r.key, r.end, change, s, directedStrength(direction, change, value), met, windowRef(r));
    if (!met) return;
    const bound = up ? value : -value;
    const amount = (n: number) => (mode === 'relative' ? `${formatNumber(n * 100)}%` : formatNumber(n));
    const incl = inclusiveEnd(this.ctx);
    emit.signal({
      key: r.key,
      time: r.end,
      identity: resultIdentity(r),
      revision: r.revision,
      window: { start: r.start, end: r.end },
      observed: change,
      threshold: bound,
      score: Number.isFinite(s) ? Number(s.toFixed(6)) : 0,
      explanation:
        `${name}: ${this.cfg.aggregate} for ${this.ctx.keyLabel} ${r.key} was ${formatNumber(x)} in window ${describeWindow(r.start, r.end, incl)}${revisionText(r)}, ` +
        `${up ? 'up' : 'down'} ${amount(Math.abs(change))} from ${formatNumber(p)} in the previous window ${describeWindow(prev.start, prev.end, incl)}, ` +
        `at or beyond the bound of ${amount(value)} ${up ? 'up' : 'down'}` +
        ` (${plural(r.count, 'event')}: ${describeEvidence(r.evidence, r.count)}).`,
      evidence: r.evidence,
      details: {
        aggregate: this.cfg.aggregate,
        mode,
        previous: p,
        current: x,
        previousWindow: { start: prev.start, end: prev.end },
        count: r.count,
      },
    });
  }

  advance(w: number): void {
    const horizon = w - this.cfg.maxGap - this.span;
    this.state.expireFront((st) => st.latest.end < horizon);
  }

  stats(): { keys: number; evicted: number } {
    return { keys: this.state.size, evicted: this.state.evicted };
  }

  private encode(s: KeyState): [PointSnap, PointSnap | null] {
    const point = (p: Point): PointSnap => [p.start, p.end, p.value];
    return [point(s.latest), s.prior === null ? null : point(s.prior)];
  }

  private decode(v: unknown): KeyState {
    const what = this.perKey.what;
    const point = (p: unknown): Point => {
      if (!Array.isArray(p) || p.length !== 3 || !p.every((n) => typeof n === 'number')) throw new VigieError('VIGIE_ERR_SNAPSHOT', `${what}: bad snapshot entry`);
      return { start: p[0], end: p[1], value: p[2] };
    };
    if (!Array.isArray(v)) throw new VigieError('VIGIE_ERR_SNAPSHOT', `${what}: bad snapshot entry`);
    return { latest: point(v[0]), prior: v[1] === null ? null : point(v[1]) };
  }

  private spanOf(span: unknown): number {
    if (typeof span !== 'number') throw new VigieError('VIGIE_ERR_SNAPSHOT', `${this.perKey.what}: bad snapshot (expected the longest window span)`);
    return span;
  }

  snapshot(): unknown {
    return { span: this.span, keys: this.state.snapshot((s) => this.encode(s)) };
  }

  restore(state: unknown): void {
    const s = state as { span?: unknown; keys?: unknown };
    if (s === null || typeof s !== 'object' || typeof s.span !== 'number') throw new VigieError('VIGIE_ERR_SNAPSHOT', `${this.perKey.what}: bad snapshot (expected { span, keys })`);
    this.state.restore(s.keys, (v) => this.decode(v), this.perKey.what);
    this.span = s.span;
  }
}

export function create(config: Config, ctx: DetectorContext): DetectorCore {
  requireAggregate(config.name, config.aggregate, ctx);
  return new RateOfChangeCore(config, ctx);
}
