import { z } from 'zod';
import type { VEvent } from '../src/types.js';
import { isoTime } from './alert.js';
import { formatDuration, positiveDurationSchema } from '../src/time/duration.js';
import { evidenceRef } from '../src/types.js';
import { KeyedEventCore, commonFields, matchSchema, plural, scalarField } from './common.js';
import type { DetectorContext, DetectorCore, Emit } from './types.js';
import { VigieError } from '../src/errors.js';
import { KeyedState } from '../src/util/keyed-state.js';

export const type = 'first-seen';

/**
 * First seen: a key uses a value of a field it has not used within the lookback: new device, new
 * beneficiary, new country. Alone, or as a condition of another detector (`requires`, with `emit: false`).
 * Example: `{ name: new-device, type: first-seen, field: device, lookback: 90d, minHistory: 5 }`
 */
export const schema = z.strictObject({
  ...commonFields,
  type: z.literal(type),
  field: z.string().min(1).describe('Field whose values are remembered per key (strings, finite numbers and booleans; events without it are ignored).'),
  lookback: positiveDurationSchema
    .default(7_776_000_000)
    .describe(
      'A value is new when the key has not used it in [t - lookback, t] before this event. A key idle for longer than this is forgotten, its history included (it starts a new warm-up).',
    ),
  minHistory: z
    .number()
    .int()
    .min(0)
    .default(5)
    .describe('Warm-up: no alert until the key has at least this many earlier events for this detector (for a brand-new key everything is new).'),
  match: matchSchema.optional().describe('Consider only events matching these conditions (others are ignored by this detector).'),
  maxValuesPerKey: z
    .number()
    .int()
    .min(1)
    .default(1000)
    .describe('Most values remembered per key; beyond it the least recently used are forgotten (and would be reported as new when they come back).'),
});

export type Config = z.infer<typeof schema>;

/** A value's time of last use (for KeyedState.expireBefore). */
const usedAt = (t: number): number => t;
/** Time of a key's last event (its state expires when that leaves the lookback). */
const lastUse = (st: { last: number }): number => st.last;

interface KeyState {
  /**
   * Value -> event time it was last used, in order of last use (least recent first), at most
   * maxValuesPerKey (the least recently used go first): a list relinked in place when a known value is
   * used again, rather than a Map entry deleted and added again.
   */
  values: KeyedState<number>;
  /** Events of this key seen by the detector since its state was created. */
  history: number;
  /** Time of the key's last event. */
  last: number;
}

export class FirstSeenCore extends KeyedEventCore<KeyState, Config> implements DetectorCore {

  add(key: string, e: VEvent, emit: Emit): void {
    const cfg = this.cfg;
    if (!this.matches(e.payload)) return;
    const value = scalarField(e, cfg.field);
    if (value === undefined) return;
    const t = e.time;
    const from = t - cfg.lookback;
    let st = this.state.touch(key);
    // A key idle for longer than the lookback is what `advance` drops: start it afresh here too, so that
    // the outcome does not depend on how often the watermark moved in between.
    if (st === undefined || st.last < from) {
      st = { values: new KeyedState(cfg.maxValuesPerKey), history: 0, last: t };
      this.state.set(key, st);
    }
    // Forget values last used before the lookback (events come in event-time order: least recent first).
    const values = st.values;
    values.expireBefore(usedAt, from);
    const known = values.size;
    const history = st.history;
    const isNew = values.set(value, t);
    st.history++;
    st.last = t;
    // Warm-up: not judged (for a brand-new key everything is new).
    if (history < cfg.minHistory) return;
    const novelty = isNew ? 1 : 0;
    emit.judged(key, t, novelty, novelty, novelty, isNew);
    if (!isNew || emit.elide?.(key, t) === true) return;
    const ref = evidenceRef(e);
    const label = this.ctx.keyLabel;
    const show = this.ctx.mayShow?.(cfg.field) ?? true;
    emit.signal({
      key,
      time: t,
      identity: `event:${ref}`,
      revision: 0,
      window: { start: from, end: t },
      observed: 1,
      threshold: 0,
      score: 1,
      explanation:
        `${cfg.name}: ${label} ${key} used ${show ? `${cfg.field} ${value}` : `a new ${cfg.field}`} at ${isoTime(t)}, not seen for this ${label} ` +
        `in the previous ${formatDuration(cfg.lookback)} (history: ${plural(history, 'event')}, ${plural(known, 'known value')}).`,
      evidence: [ref],
      details: { field: cfg.field, ...(show ? { value } : {}), lookback: cfg.lookback, history, knownValues: known },
    });
  }

  advance(w: number): void {
    const from = w - this.cfg.lookback;
    this.state.expireBefore(lastUse, from);
  }


  protected encode(s: KeyState): unknown {
    const values: string[] = [];
    const times: number[] = [];
    for (const [v, t] of s.values.entries()) {
      values.push(v);
      times.push(t);
    }
    return [s.history, s.last, values, times];
  }

  protected decode(s: unknown): KeyState {
    const what = this.perKey.what;
    const [history, last, values, times] = Array.isArray(s) ? (s as unknown[]) : [];
    if (typeof history !== 'number' || typeof last !== 'number' || !Array.isArray(values) || !Array.isArray(times) || values.length !== times.length) {
      throw new VigieError('VIGIE_ERR_SNAPSHOT', `${what}: bad snapshot entry (expected [history, last, values, times])`);
    }
    const map = new KeyedState<number>(this.cfg.maxValuesPerKey);
    for (let i = 0; i < values.length; i++) {
      const v = values[i] as unknown;
      const t = times[i] as unknown;
      if (typeof v !== 'string' || typeof t !== 'number' || map.peek(v) !== undefined) throw new VigieError('VIGIE_ERR_SNAPSHOT', `${what}: bad snapshot entry (value ${i})`);
      map.set(v, t);
    }
    return { values: map, history, last };
  }
}

export function create(config: Config, ctx: DetectorContext): DetectorCore {
  return new FirstSeenCore(config, ctx);
}
