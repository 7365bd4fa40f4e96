import { z } from 'zod';
import type { VEvent } from '../src/types.js';
import { describeEvidence, formatNumber, isoTime } from './alert.js';
import { formatDuration, positiveDurationSchema } from '../src/time/duration.js';
import { evidenceRef } from '../src/types.js';
import { KeyedEventCore, OPS, OP_TEXT, boundRatio, boundScore, boundStrength, commonFields, crosses, matchSchema, numberField, plural } from './common.js';
import type { DetectorContext, DetectorCore, Emit } from './types.js';
import { VigieError } from '../src/errors.js';

export const type = 'velocity';

/**
 * Velocity: the number (or the sum of a field) of a key's events in a sliding lookback crosses a bound:
 * card testing, bursts of transfers, password-reset storms.
 * Example: `{ name: card-testing, type: velocity, lookback: 10m, value: 8 }`
 */
export const schema = z.strictObject({
  ...commonFields,
  type: z.literal(type),
  measure: z.enum(['count', 'sum']).default('count').describe('`count` of events, or `sum` of `field`, over the lookback.'),
  field: z.string().min(1).optional().describe('Numeric field summed when `measure: sum` (required there).'),
  lookback: positiveDurationSchema.describe('Each event at t is judged on the events of its key in [t - lookback, t].'),
  op: z.enum(OPS).default('>=').describe('Comparison that raises the alert: observed <op> value.'),
  value: z.number().finite().describe('The bound.'),
  match: matchSchema.optional().describe('Count only events matching these conditions (others are ignored by this detector).'),
  maxEventsPerKey: z.number().int().min(1).default(10_000).describe('Most events remembered per key; beyond it the oldest are forgotten (the count is then a lower bound).'),
}).superRefine((c, ctx) => {
  if (c.measure === 'sum' && c.field === undefined) ctx.addIssue({ code: 'custom', path: ['field'], message: 'measure: sum needs `field`: the numeric field to add up' });
});

export type Config = z.infer<typeof schema>;

interface KeyState {
  /**
   * The events in the lookback are those in [head, end): older ones are dropped in bulk (see
   * {@link compact}) and the arrays keep their length past `end`, so that they are not shrunk and
   * grown again as the lookback slides.
   */
  times: number[];
  /** The summed values (`measure: sum` only; a count keeps none). */
  values: number[];
  refs: string[];
  head: number;
  end: number;
  sum: number;
}

/** Drop the entries before `head` once they are at least half of those held (amortised O(1) per event, no allocation). */
function compact(st: KeyState): void {
  const h = st.head;
  const end = st.end;
  if (h < 16 || h * 2 < end) return;
  st.times.copyWithin(0, h, end);
  if (st.values.length > 0) st.values.copyWithin(0, h, end);
  st.refs.copyWithin(0, h, end);
  // The references past the new end are no longer read: let the strings go.
  st.refs.fill('', end - h, end);
  st.end = end - h;
  st.head = 0;
}

/** Time of a key's latest event (its state expires when that leaves the lookback). */
const lastTime = (st: KeyState): number => st.times[st.end - 1];

/** The references of the events in the lookback. */
function liveRefs(st: KeyState): string[] {
  return st.refs.slice(st.head, st.end);
}

export class VelocityCore extends KeyedEventCore<KeyState, Config> implements DetectorCore {

  add(key: string, e: VEvent, emit: Emit): void {
    const cfg = this.cfg;
    if (!this.matches(e.payload)) return;
    let v = 1;
    if (cfg.measure === 'sum') {
      const x = numberField(e, cfg.field as string);
      if (x === undefined) return;
      v = x;
    }
    let st = this.state.touch(key);
    if (st === undefined) {
      st = { times: [], values: [], refs: [], head: 0, end: 0, sum: 0 };
      this.state.set(key, st);
    }
    const t = e.time;
    const ref = evidenceRef(e);
    const sums = cfg.measure === 'sum';
    const end = st.end;
    if (end === st.times.length) {
      st.times.push(t);
      if (sums) st.values.push(v);
      st.refs.push(ref);
    } else {
      st.times[end] = t;
      if (sums) st.values[end] = v;
      st.refs[end] = ref;
    }
    const total = end + 1;
    st.end = total;
    if (sums) st.sum += v;
    // Events come in event-time order: the lookback's start only moves forward.
    const from = t - cfg.lookback;
    const times = st.times;
    let head = st.head;
    while (head < total && (times[head] < from || total - head > cfg.maxEventsPerKey)) {
      if (sums) st.sum -= st.values[head];
      head++;
    }
    st.head = head;
    compact(st);
    const n = total - head;
    const observed = cfg.measure === 'count' ? n : st.sum;
    const met = crosses(cfg.op, observed, cfg.value);
    emit.judged(key, t, observed, boundRatio(cfg.op, observed, cfg.value), boundStrength(cfg.op, observed, cfg.value), met);
    if (!met || emit.elide?.(key, t) === true) return;
    const what = cfg.measure === 'count' ? 'events' : `sum of ${cfg.field}`;
    // The last evidenceLimit references only: the lookback of a busy key may hold thousands.
    const evidence = st.refs.slice(Math.max(st.head, st.end - this.ctx.evidenceLimit), st.end);
    emit.signal({
      key,
      time: t,
      identity: `event:${ref}`,
      revision: 0,
      window: { start: from, end: t },
      observed,
      threshold: cfg.value,
      score: boundScore(cfg.op, observed, cfg.value),
      explanation:
        `${cfg.name}: ${this.ctx.keyLabel} ${key} had ${cfg.measure === 'count' ? plural(n, 'event') : `${formatNumber(observed)} in ${what} over ${plural(n, 'event')}`} ` +
        `in the ${formatDuration(cfg.lookback)} up to ${isoTime(t)}, ` +
        `${OP_TEXT[cfg.op]} the bound ${formatNumber(cfg.value)} (most recent: ${describeEvidence(evidence.slice().reverse(), n)}).`,
      evidence,
      details: { measure: cfg.measure, lookback: cfg.lookback, count: n, ...(cfg.measure === 'sum' ? { sum: observed } : {}) },
    });
  }

  advance(w: number): void {
    const from = w - this.cfg.lookback;
    this.state.expireBefore(lastTime, from);
  }


  protected encode(s: KeyState): unknown {
    // A count keeps no values: its snapshot holds a 1 per event and the count as the sum.
    const sums = this.cfg.measure === 'sum';
    const n = s.end - s.head;
    return [s.times.slice(s.head, s.end), sums ? s.values.slice(s.head, s.end) : new Array<number>(n).fill(1), liveRefs(s), sums ? s.sum : n];
  }

  protected decode(v: unknown): KeyState {
    const [times, values, refs, sum] = Array.isArray(v) ? (v as unknown[]) : [];
    if (!Array.isArray(times) || !Array.isArray(values) || !Array.isArray(refs) || typeof sum !== 'number' || values.length !== times.length) {
      throw new VigieError('VIGIE_ERR_SNAPSHOT', `${this.perKey.what}: bad snapshot entry (expected [times, values, refs, sum])`);
    }
    const sums = this.cfg.measure === 'sum';
    return { times: times.slice() as number[], values: sums ? (values.slice() as number[]) : [], refs: refs.slice() as string[], head: 0, end: times.length, sum: sums ? sum : 0 };
  }
}

export function create(config: Config, ctx: DetectorContext): DetectorCore {
  return new VelocityCore(config, ctx);
}
