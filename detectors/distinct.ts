import { z } from 'zod';
import type { VEvent } from '../src/types.js';
import { describeEvidence, formatNumber, isoTime } from './alert.js';
import { formatDuration, positiveDurationSchema } from '../src/time/duration.js';
import { evidenceRef } from '../src/types.js';
import { KeyedEventCore, OPS, OP_TEXT, boundRatio, boundScore, boundStrength, commonFields, crosses, matchSchema, plural, scalarField } from './common.js';
import type { DetectorContext, DetectorCore, Emit } from './types.js';
import { VigieError } from '../src/errors.js';

export const type = 'distinct';

/**
 * Distinct: the number of distinct values of a field among a key's events in a sliding lookback crosses
 * a bound: many cards on one device, many senders to one beneficiary (mule fan-in), many beneficiaries
 * of one account (fan-out).
 * Example: `{ name: fan-in, type: distinct, field: customer, lookback: 1h, value: 10 }`
 */
export const schema = z.strictObject({
  ...commonFields,
  type: z.literal(type),
  field: z.string().min(1).describe('Field whose distinct values are counted (strings, finite numbers and booleans; events without it are ignored).'),
  lookback: positiveDurationSchema.describe('Each event at t is judged on the values last seen for its key in [t - lookback, t].'),
  op: z.enum(OPS).default('>=').describe('Comparison that raises the alert: distinct count <op> value.'),
  value: z.number().finite().describe('The bound.'),
  match: matchSchema.optional().describe('Count only events matching these conditions (others are ignored by this detector).'),
  maxValuesPerKey: z
    .number()
    .int()
    .min(1)
    .default(10_000)
    .describe('Most distinct values remembered per key; beyond it the least recently seen are forgotten (the count is then a lower bound).'),
}).superRefine(({ op, value, maxValuesPerKey: max }, ctx) => {
  // An event is only judged once its value is counted: the count is always between 1 and maxValuesPerKey.
  const possible = op === '<' ? value > 1 : op === '<=' ? value >= 1 : op === '>' ? value < max : value <= max;
  if (possible) return;
  const fix = { '<': 'raise value above 1', '<=': 'raise value to at least 1', '>': `lower value below ${max}`, '>=': `lower value to at most ${max}` }[op];
  ctx.addIssue({
    code: 'custom',
    path: ['value'],
    message:
      `a distinct count ${op} ${value} can never hold: the count of an event's key is between 1 and maxValuesPerKey (${max}); ` +
      `${fix}${op === '>' || op === '>=' ? ', or raise maxValuesPerKey' : ''}`,
  });
});

export type Config = z.infer<typeof schema>;

interface Node {
  value: string;
  /** Event time the value was last seen. */
  time: number;
  /** Reference of the event it was last seen in. */
  ref: string;
  prev: Node | undefined;
  next: Node | undefined;
}

/**
 * Values with the time and event they were last seen, in order of last sighting (a doubly linked list
 * indexed by value): seeing a value moves it to the recent end, expiry and the cap drop from the old end,
 * and the most recent sightings (evidence) are read from the recent end, all without scanning.
 */
export class RecencyList {
  private readonly index = new Map<string, Node>();
  private head: Node | undefined;
  private tail: Node | undefined;

  get size(): number {
    return this.index.size;
  }

  /** Time of the most recent sighting (-Infinity when empty). */
  get newest(): number {
    return this.tail === undefined ? -Infinity : this.tail.time;
  }

  /** Record a sighting of `value` at `time` (not before any earlier one) in event `ref`. */
  see(value: string, time: number, ref: string): void {
    let n = this.index.get(value);
    if (n !== undefined) {
      this.unlink(n);
      n.time = time;
      n.ref = ref;
    } else {
      n = { value, time, ref, prev: undefined, next: undefined };
      this.index.set(value, n);
    }
    n.prev = this.tail;
    n.next = undefined;
    if (this.tail !== undefined) this.tail.next = n;
    else this.head = n;
    this.tail = n;
  }

  /** Forget values last seen before `from`, then the least recently seen beyond `max`. */
  trim(from: number, max: number): void {
    while (this.head !== undefined && (this.head.time < from || this.index.size > max)) {
      const n = this.head;
      this.unlink(n);
      this.index.delete(n.value);
    }
  }

  /** References of the `limit` most recent sightings, oldest first. */
  recentRefs(limit: number): string[] {
    const out: string[] = [];
    for (let n = this.tail; n !== undefined && out.length < limit; n = n.prev) out.push(n.ref);
    return out.reverse();
  }

  /** Plain data, oldest first: [values, times, refs]. */
  toArrays(): [string[], number[], string[]] {
    const values: string[] = [];
    const times: number[] = [];
    const refs: string[] = [];
    for (let n = this.head; n !== undefined; n = n.next) {
      values.push(n.value);
      times.push(n.time);
      refs.push(n.ref);
    }
    return [values, times, refs];
  }

  /** Rebuild from `toArrays()`; throws on anything else. */
  static fromArrays(data: unknown, what: string): RecencyList {
    const [values, times, refs] = Array.isArray(data) ? (data as unknown[]) : [];
    if (!Array.isArray(values) || !Array.isArray(times) || !Array.isArray(refs) || times.length !== values.length || refs.length !== values.length) {
      throw new VigieError('VIGIE_ERR_SNAPSHOT', `${what}: bad snapshot entry (expected [values, times, refs] of equal lengths)`);
    }
    const list = new RecencyList();
    for (let i = 0; i < values.length; i++) {
      const v = values[i] as unknown;
      const t = times[i] as unknown;
      const r = refs[i] as unknown;
      if (typeof v !== 'string' || typeof t !== 'number' || typeof r !== 'string' || list.index.has(v)) {
        throw new VigieError('VIGIE_ERR_SNAPSHOT', `${what}: bad snapshot entry (value ${i})`);
      }
      list.see(v, t, r);
    }
    return list;
  }

  private unlink(n: Node): void {
    if (n.prev !== undefined) n.prev.next = n.next;
    else this.head = n.next;
    if (n.next !== undefined) n.next.prev = n.prev;
    else this.tail = n.prev;
    n.prev = n.next = undefined;
  }
}

export class DistinctCore extends KeyedEventCore<RecencyList, Config> implements DetectorCore {

  add(key: string, e: VEvent, emit: Emit): void {
    const cfg = this.cfg;
    if (!this.matches(e.payload)) return;
    const value = scalarField(e, cfg.field);
    if (value === undefined) return;
    let st = this.state.touch(key);
    if (st === undefined) {
      st = new RecencyList();
      this.state.set(key, st);
    }
    const t = e.time;
    const ref = evidenceRef(e);
    st.see(value, t, ref);
    // Events come in event-time order: the lookback's start only moves forward.
    const from = t - cfg.lookback;
    st.trim(from, cfg.maxValuesPerKey);
    const n = st.size;
    const met = crosses(cfg.op, n, cfg.value);
    emit.judged(key, t, n, boundRatio(cfg.op, n, cfg.value), boundStrength(cfg.op, n, cfg.value), met);
    if (!met) return;
    const evidence = st.recentRefs(this.ctx.evidenceLimit);
    emit.signal({
      key,
      time: t,
      identity: `event:${ref}`,
      revision: 0,
      window: { start: from, end: t },
      observed: n,
      threshold: cfg.value,
      score: boundScore(cfg.op, n, cfg.value),
      explanation:
        `${cfg.name}: ${this.ctx.keyLabel} ${key} had ${plural(n, `distinct ${cfg.field} value`)} ` +
        `in the ${formatDuration(cfg.lookback)} up to ${isoTime(t)}, ` +
        `${OP_TEXT[cfg.op]} the bound ${formatNumber(cfg.value)} (most recent: ${describeEvidence(evidence.slice().reverse(), n)}).`,
      evidence,
      details: { field: cfg.field, lookback: cfg.lookback, distinct: n },
    });
  }

  advance(w: number): void {
    const from = w - this.cfg.lookback;
    this.state.expireFront((st) => st.newest < from);
  }


  protected encode(s: RecencyList): unknown {
    return s.toArrays();
  }

  protected decode(v: unknown): RecencyList {
    return RecencyList.fromArrays(v, this.perKey.what);
  }
}

export function create(config: Config, ctx: DetectorContext): DetectorCore {
  return new DistinctCore(config, ctx);
}
