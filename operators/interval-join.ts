/**
 * Event-time interval join of two sides of a stream, keyed by the pipeline key (as Flink's interval
 * join): a left row L and a right row R of the same key are joined when
 * `lower <= R.time - L.time <= upper` (both ends inclusive). Pure: no I/O, no clock.
 *
 * The caller moves the watermark W first (`advance`), then adds the rows that arrived at it (`add`).
 * A row with `time < W` is late and refused. A left row is kept until `W > L.time + upper` (no right
 * row can match it any more), a right row until `W > R.time - lower`. So every pair of rows that are
 * not late and fall in the interval is joined exactly once, whatever the batching and the
 * interleaving of the two sides, and the state is bounded by the interval and the watermark (and by
 * `maxPerKey` rows per key and side: beyond it the oldest row of that side is dropped and handed back).
 */
import { z } from 'zod';
import { parseDuration } from '../src/time/duration.js';
import { MinHeap } from '../src/util/heap.js';
import { evidenceRef, type VEvent } from '../src/types.js';
import { VigieError } from '../src/errors.js';

const scalar = z.union([z.string(), z.number(), z.boolean()]);

/** A duration that may be negative: "-5m", "10s", -3000, 0. */
export const signedDurationSchema = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const neg = typeof v === 'string' ? v.trim().startsWith('-') : v < 0;
  const abs = typeof v === 'string' ? (neg ? v.trim().slice(1) : v) : Math.abs(v);
  const ms = parseDuration(abs);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `invalid duration ${JSON.stringify(v)}: expected an integer of milliseconds or a number with a unit (ms, s, m, h, d), optionally negative, e.g. "-5m"` });
    return z.NEVER;
  }
  return neg ? -ms : ms;
});

/** Longest span `upper - lower` a join may have: rows are buffered for that long in event time. */
export const MAX_JOIN_SPAN = 30 * 86_400_000;
export const DEFAULT_JOIN_MAX_PER_KEY = 1000;

const sideSchema = z.strictObject({
  sources: z.array(z.string().min(1)).min(1).optional().describe('Sources whose events are rows of this side (among the pipeline\'s sources); any source when absent.'),
  where: z
    .record(z.string(), z.union([scalar, z.array(scalar).min(1)]))
    .optional()
    .describe('Input events whose fields equal these values (a list means any of them) are rows of this side, e.g. `{ type: login }`.'),
  as: z
    .string()
    .regex(/^[a-z][a-z0-9_]*$/i, 'a letter, then letters, digits or "_"')
    .describe('Prefix of this side\'s fields in joined events: field `device` of this side becomes `<as>.device`.'),
});
export type JoinSide = z.infer<typeof sideSchema>;

export const joinSchema = z
  .strictObject({
    left: sideSchema.describe('The left side (e.g. logins). A left join keeps its rows that found no match.'),
    right: sideSchema.describe('The right side (e.g. payments).'),
    between: z
      .strictObject({
        lower: signedDurationSchema.describe('Least `right.time - left.time` of a joined pair, inclusive; may be negative (right before left).'),
        upper: signedDurationSchema.describe('Greatest `right.time - left.time` of a joined pair, inclusive; at least `lower`.'),
      })
      .describe('The interval: a left row L and a right row R of the same key are joined when lower <= R.time - L.time <= upper.'),
    type: z.enum(['inner', 'left']).default('inner').describe('`inner`: only pairs. `left`: also each left row that joined no right row, alone, once the watermark passes left.time + upper.'),
    differ: z.array(z.string().min(1)).default([]).describe('Input fields that must be present on both sides and differ for a pair to be joined (e.g. `[device]`: another device).'),
    equal: z.array(z.string().min(1)).default([]).describe('Input fields that must be present on both sides and equal for a pair to be joined (besides the pipeline key).'),
    maxPerKey: z
      .number()
      .int()
      .positive()
      .default(DEFAULT_JOIN_MAX_PER_KEY)
      .describe(
        'Most rows one key buffers per side. Beyond it the oldest row of that side is dropped (it joins nothing more): dead-lettered with reason window_limit and counted in windowLimited.',
      ),
  })
  .superRefine((j, ctx) => {
    if (j.left.as === j.right.as) ctx.addIssue({ code: 'custom', path: ['right', 'as'], message: `the two sides need different names (both are "${j.left.as}")` });
    const { lower, upper } = j.between;
    if (lower > upper) ctx.addIssue({ code: 'custom', path: ['between', 'upper'], message: `upper (${upper}ms) must be at least lower (${lower}ms)` });
    else if (upper - lower > MAX_JOIN_SPAN) ctx.addIssue({ code: 'custom', path: ['between'], message: `the interval spans more than 30 days (${upper - lower}ms): rows would be buffered that long` });
    for (const side of ['left', 'right'] as const) {
      if (j[side].sources === undefined && j[side].where === undefined) {
        ctx.addIssue({ code: 'custom', path: [side], message: `the ${side} side needs \`sources\` or \`where\` to tell its rows from the other side's` });
      }
    }
    for (const f of j.differ) if (j.equal.includes(f)) ctx.addIssue({ code: 'custom', path: ['equal'], message: `field "${f}" cannot be both in differ and in equal` });
  });
export type JoinConfig = z.infer<typeof joinSchema>;

export const LEFT = 0;
export const RIGHT = 1;
export type Side = typeof LEFT | typeof RIGHT;

interface Row {
  time: number;
  /** Arrival order in the core (ties of expiry and restore order). */
  seq: number;
  key: string;
  side: Side;
  matched: boolean;
  /** Dropped by the bound or expired: its heap entry is stale. */
  gone: boolean;
  e: VEvent;
}

interface KeyState {
  rows: [Row[], Row[]];
}

/** Cumulative counters of a join core (not checkpointed). */
export interface JoinCounts {
  /** Pairs emitted. */
  joined: number;
  /** Left rows emitted alone (left joins). */
  unmatched: number;
  /** Rows dropped by maxPerKey. */
  dropped: number;
}

interface SnapRow {
  t: number;
  s: number;
  m: boolean;
  e: VEvent;
}

/** Serialised state: the watermark, the arrival counter and every key's buffered rows. */
export interface JoinSnapshot {
  v: 1;
  w: number;
  seq: number;
  keys: Array<[string, SnapRow[], SnapRow[]]>;
}

export class IntervalJoinCore {
  private readonly state = new Map<string, KeyState>();
  /** Rows by expiry time (left: time + upper, right: time - lower), ties by arrival. */
  private readonly expiry = new MinHeap<Row>();
  private w = -Infinity;
  private seq = 0;
  private rowCount = 0;
  readonly counts: JoinCounts = { joined: 0, unmatched: 0, dropped: 0 };
  private readonly lower: number;
  private readonly upper: number;
  private readonly leftAs: string;
  private readonly rightAs: string;
  private readonly keep: boolean;
  private readonly differ: readonly string[];
  private readonly equal: readonly string[];

  constructor(
    readonly config: JoinConfig,
    private readonly keyFields: readonly string[],
  ) {
    this.lower = config.between.lower;
    this.upper = config.between.upper;
    this.leftAs = `${config.left.as}.`;
    this.rightAs = `${config.right.as}.`;
    this.keep = config.type === 'left';
    this.differ = config.differ;
    this.equal = config.equal;
  }

  get watermark(): number {
    return this.w;
  }

  /** Rows buffered (both sides, every key). */
  get size(): number {
    return this.rowCount;
  }

  get keyCount(): number {
    return this.state.size;
  }

  /** Move the watermark to `w`: drop the rows no future row can match; a left join emits its unmatched left rows to `out`. */
  advance(w: number, out: VEvent[]): void {
    if (!(w > this.w)) return;
    this.w = w;
    const heap = this.expiry;
    while (heap.size > 0 && heap.peekPriority() < w) {
      const row = heap.pop() as Row;
      if (row.gone) continue;
      this.remove(row);
      if (row.side === LEFT && !row.matched && this.keep) this.emitAlone(row, out);
    }
  }

  /**
   * Add a row of `side` with its key: joined events go to `out`, events of rows dropped by
   * maxPerKey to `dropped`. Returns false (and keeps nothing) when the row is late (time < W).
   */
  add(side: Side, key: string, e: VEvent, out: VEvent[], dropped: VEvent[]): boolean {
    const t = e.time;
    if (t < this.w) return false;
    const row: Row = { time: t, seq: this.seq++, key, side, matched: false, gone: false, e };
    let ks = this.state.get(key);
    if (ks !== undefined) this.match(row, ks.rows[side === LEFT ? RIGHT : LEFT], out);
    const exp = this.expiryOf(row);
    if (exp < this.w) {
      // No future row can match it: not buffered (a left join emits it now if it found no match).
      if (side === LEFT && !row.matched && this.keep) this.emitAlone(row, out);
      return true;
    }
    if (ks === undefined) {
      ks = { rows: [[], []] };
      this.state.set(key, ks);
    }
    this.insert(ks.rows[side], row);
    this.expiry.push(exp, row);
    this.rowCount++;
    const buf = ks.rows[side];
    if (buf.length > this.config.maxPerKey) {
      const old = buf.shift() as Row;
      old.gone = true;
      this.rowCount--;
      this.counts.dropped++;
      dropped.push(old.e);
    }
    return true;
  }

  private expiryOf(row: Row): number {
    return row.side === LEFT ? row.time + this.upper : row.time - this.lower;
  }

  /** Join `row` with the rows of the other side whose time is in its interval (in time order). */
  private match(row: Row, other: Row[], out: VEvent[]): void {
    if (other.length === 0) return;
    // Left row at t: rights in [t + lower, t + upper]; right row at t: lefts in [t - upper, t - lower].
    const from = row.side === LEFT ? row.time + this.lower : row.time - this.upper;
    const to = row.side === LEFT ? row.time + this.upper : row.time - this.lower;
    for (let i = lowerBound(other, from); i < other.length; i++) {
      const o = other[i];
      if (o.time > to) break;
      const [l, r] = row.side === LEFT ? [row, o] : [o, row];
      if (!this.fits(l.e, r.e)) continue;
      l.matched = true;
      this.counts.joined++;
      out.push(this.pair(l.e, r.e));
    }
  }

  /** differ, equal, and never an event with itself (an event that is a row of both sides). */
  private fits(l: VEvent, r: VEvent): boolean {
    if (l.partition === r.partition && l.offset === r.offset && l.source === r.source) return false;
    for (let i = 0; i < this.differ.length; i++) {
      const a = l.payload[this.differ[i]];
      const b = r.payload[this.differ[i]];
      if (a === undefined || a === null || b === undefined || b === null || a === b) return false;
    }
    for (let i = 0; i < this.equal.length; i++) {
      const a = l.payload[this.equal[i]];
      if (a === undefined || a === null || a !== r.payload[this.equal[i]]) return false;
    }
    return true;
  }

  private pair(l: VEvent, r: VEvent): VEvent {
    const payload = this.keyPart(l.payload);
    prefixInto(payload, this.leftAs, l.payload);
    prefixInto(payload, this.rightAs, r.payload);
    payload[`${this.rightAs}matched`] = true;
    return { time: Math.max(l.time, r.time), id: `${evidenceRef(l)}+${evidenceRef(r)}`, partition: r.partition, offset: r.offset, source: r.source, payload };
  }

  private emitAlone(row: Row, out: VEvent[]): void {
    const l = row.e;
    const payload = this.keyPart(l.payload);
    prefixInto(payload, this.leftAs, l.payload);
    payload[`${this.rightAs}matched`] = false;
    this.counts.unmatched++;
    out.push({ time: Math.max(l.time, l.time + this.upper), id: `${evidenceRef(l)}+`, partition: l.partition, offset: l.offset, source: l.source, payload });
  }

  private keyPart(p: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (let i = 0; i < this.keyFields.length; i++) out[this.keyFields[i]] = p[this.keyFields[i]];
    return out;
  }

  /** Insert in time order, after the rows of the same time (arrival order among equals). */
  private insert(buf: Row[], row: Row): void {
    const n = buf.length;
    if (n === 0 || buf[n - 1].time <= row.time) {
      buf.push(row);
      return;
    }
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (buf[mid].time <= row.time) lo = mid + 1;
      else hi = mid;
    }
    buf.splice(lo, 0, row);
  }

  private remove(row: Row): void {
    const ks = this.state.get(row.key);
    if (ks === undefined) return;
    const buf = ks.rows[row.side];
    if (buf[0] === row) buf.shift();
    else {
      const i = buf.indexOf(row);
      if (i >= 0) buf.splice(i, 1);
    }
    row.gone = true;
    this.rowCount--;
    if (ks.rows[0].length === 0 && ks.rows[1].length === 0) this.state.delete(row.key);
  }

  snapshot(): JoinSnapshot {
    const keys: JoinSnapshot['keys'] = [];
    const snap = (r: Row): SnapRow => ({ t: r.time, s: r.seq, m: r.matched, e: r.e });
    for (const [key, ks] of this.state) keys.push([key, ks.rows[0].map(snap), ks.rows[1].map(snap)]);
    return { v: 1, w: this.w, seq: this.seq, keys };
  }

  restore(s: JoinSnapshot): void {
    if (s?.v !== 1 || !Array.isArray(s.keys)) throw new VigieError('VIGIE_ERR_SNAPSHOT', 'interval join: unsupported snapshot version');
    this.state.clear();
    this.expiry.clear();
    // JSON turns -Infinity (nothing seen yet) into null.
    this.w = typeof s.w === 'number' ? s.w : -Infinity;
    this.seq = s.seq;
    this.rowCount = 0;
    const all: Row[] = [];
    for (const [key, left, right] of s.keys) {
      const ks: KeyState = { rows: [[], []] };
      ([left, right] as const).forEach((rows, side) => {
        for (const r of rows) {
          const row: Row = { time: r.t, seq: r.s, key, side: side as Side, matched: r.m, gone: false, e: r.e };
          ks.rows[side].push(row);
          all.push(row);
        }
      });
      this.state.set(key, ks);
    }
    // Back into the expiry heap in arrival order, so that ties expire as they would have.
    all.sort((a, b) => a.seq - b.seq);
    for (const row of all) this.expiry.push(this.expiryOf(row), row);
    this.rowCount = all.length;
  }
}

function prefixInto(out: Record<string, unknown>, prefix: string, p: Record<string, unknown>): void {
  for (const f in p) if (Object.hasOwn(p, f)) out[prefix + f] = p[f];
}

/** First index whose time is >= t. */
function lowerBound(buf: readonly Row[], t: number): number {
  let lo = 0;
  let hi = buf.length;
  if (hi === 0 || buf[0].time >= t) return 0;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (buf[mid].time < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
