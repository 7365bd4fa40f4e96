import { z } from 'zod';
import type { VEvent } from '../src/types.js';
import { describeEvidence, formatNumber, isoTime } from './alert.js';
import { formatDuration, positiveDurationSchema } from '../src/time/duration.js';
import { evidenceRef } from '../src/types.js';
import { KeyedEventCore, OPS, OP_TEXT, boundRatio, boundScore, boundStrength, commonFields, crosses, lastN, matchSchema, numberField, plural } from './common.js';
import type { DetectorContext, DetectorCore, Emit } from './types.js';

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
  /** The events in the lookback are those from index `head` on (older ones are dropped in bulk, see {@link compact}). */
  times: number[];
  values: number[];
  refs: string[];
  head: number;
  sum: number;
}

/** Drop the entries before `head` once they are at least half the arrays (amortised O(1) per event, no allocation). */
function compact(st: KeyState): void {
  const h = st.head;
  if (h < 16 || h * 2 < st.times.length) return;
  const n = st.times.length - h;
  st.times.copyWithin(0, h);
  st.values.copyWithin(0, h);
  st.refs.copyWithin(0, h);
  st.times.length = st.values.length = st.refs.length = n;
  st.head = 0;
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
      st = { times: [], values: [], refs: [], head: 0, sum: 0 };
      this.state.set(key, st);
    }
    const t = e.time;
    const ref = evidenceRef(e);
    st.times.push(t);
    st.values.push(v);
    st.refs.push(ref);
    st.sum += v;
    // Events come in event-time order: the lookback's start only moves forward.
    const from = t - cfg.lookback;
    const times = st.times;
    const total = times.length;
    let head = st.head;
    while (head < total && (times[head] < from || total - head > cfg.maxEventsPerKey)) {
      st.sum -= st.values[head];
      head++;
    }
    st.head = head;
    compact(st);
    const n = total - head;
    const observed = cfg.measure === 'count' ? n : st.sum;
    const met = crosses(cfg.op, observed, cfg.value);
    emit.judged(key, t, observed, boundRatio(cfg.op, observed, cfg.value), boundStrength(cfg.op, observed, cfg.value), met);
    if (!met) return;
    const what = cfg.measure === 'count' ? 'events' : `sum of ${cfg.field}`;
    const evidence = lastN(st.head === 0 ? st.refs : st.refs.slice(st.head), this.ctx.evidenceLimit);
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
    this.state.expireFront((st) => st.times[st.times.length - 1] < from);
  }


  snapshot(): unknown {
    return this.state.snapshot((s) => [s.times.slice(s.head), s.values.slice(s.head), s.refs.slice(s.head), s.sum]);
  }

  restore(state: unknown): void {
    this.state.restore<[number[], number[], string[], number]>(
      state,
      ([times, values, refs, sum]) => ({ times: times.slice(), values: values.slice(), refs: refs.slice(), head: 0, sum }),
      `detector ${this.cfg.name}`,
    );
  }
}

export function create(config: Config, ctx: DetectorContext): DetectorCore {
  return new VelocityCore(config, ctx);
}
