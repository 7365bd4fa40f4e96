import { z } from 'zod';
import type { AggregateValue, VEvent, WindowResult } from '../src/types.js';
import { durationSchema, positiveDurationSchema } from '../src/time/duration.js';
import { MinHeap } from '../src/util/heap.js';
import { VigieError } from '../src/errors.js';
import type { AggregateFactory } from './aggregates/types.js';
import { DEFAULT_MAX_KEYS, MAX_KEYS_DESCRIPTION, type WindowContext, type WindowCore, type WindowMeta } from './types.js';
import { ChangedKeys, KeyRecency } from '../src/util/key-order.js';
import { evidenceRef } from '../src/types.js';
import { compileReader, type FieldReader } from './fields.js';

export const type = 'sliding';

/** Default bound on the events buffered for one key. */
export const DEFAULT_MAX_EVENTS_PER_KEY = 100_000;

/**
 * Sliding windows: one evaluation per event, over the events of its key in [t - lookback, t].
 * Example: `window: { type: sliding, lookback: 10m }`
 */
export const schema = z.strictObject({
  type: z.literal(type),
  lookback: positiveDurationSchema.describe('The evaluation of an event at t covers the events of its key with time in [t - lookback, t], both ends inclusive.'),
  grace: durationSchema.default(0).describe('How long an evaluation stays open for late events after it was emitted (each accepted late event re-emits the evaluations it falls into as updates).'),
  eager: z.boolean().default(false).describe('Evaluate each event on arrival instead of when the watermark passes it: lower latency, but results depend on arrival order and may differ between replay and live. Off by default.'),
  maxKeys: z.number().int().positive().optional().describe(`${MAX_KEYS_DESCRIPTION} Default ${DEFAULT_MAX_KEYS}.`),
  maxEventsPerKey: z
    .number()
    .int()
    .positive()
    .optional()
    .describe(
      'Most events one key may hold in its buffer (the events within lookback + grace). An event beyond it is not added and goes to the ' +
        'dead-letter output with reason window_limit (counted in vigie_events_dead_lettered_total{reason="window_limit"}). ' +
        `Default ${DEFAULT_MAX_EVENTS_PER_KEY}.`,
    ),
});

export type Config = z.infer<typeof schema>;

interface Entry {
  key: string;
  time: number;
  seq: number;
  ref: string;
  values: unknown[];
  revision: number;
  alive: boolean;
}

/** entries: [key, time, seq, ref, values, revision, key's last-activity stamp (absent in older snapshots)] */
type Snapshot = { v: 1; w: number; seq: number; evicted?: number; entries: Array<[string, number, number, string, unknown[], number, number?]> };

/**
 * Keyed sliding windows. Each key keeps its recent events sorted by (time, arrival); an evaluation
 * is queued per event and computed when W > t, so it sees every on-time event at or before t.
 * Entries leave the buffer once no open evaluation can contain them (W > t + lookback + grace).
 */
export class SlidingWindows implements WindowCore {
  private readonly keys_ = new Map<string, Entry[]>();
  /** Keys changed since the last incremental checkpoint (when enabled). */
  readonly changes = new ChangedKeys();
  private readonly pending = new MinHeap<Entry>();
  private readonly expiry = new MinHeap<Entry>();
  private readonly aggs: AggregateFactory[];
  private readonly read: FieldReader;
  private w = -Infinity;
  private seq = 0;
  private size = 0;
  private readonly recency: KeyRecency;
  /** Events refused by maxEventsPerKey. */
  limited = 0;

  constructor(
    private readonly cfg: { lookback: number; grace: number; eager: boolean; maxKeys?: number; maxEventsPerKey?: number },
    private readonly ctx: WindowContext,
  ) {
    this.aggs = ctx.aggregates;
    this.read = compileReader(ctx.aggregates.map((a) => a.field));
    this.recency = new KeyRecency(cfg.maxKeys ?? DEFAULT_MAX_KEYS);
  }

  get evicted(): number {
    return this.recency.evicted;
  }

  get watermark(): number {
    return this.w;
  }
  get openWindows(): number {
    return this.pending.size;
  }
  get keyCount(): number {
    return this.keys_.size;
  }
  /** Events held in buffers. */
  get bufferedEvents(): number {
    return this.size;
  }

  add(key: string, e: VEvent, out: WindowResult[]): boolean {
    const { lookback, grace, eager } = this.cfg;
    const t = e.time;
    const w = this.w;
    if (w > t + lookback + grace) return false;
    let list = this.keys_.get(key);
    if (list !== undefined && list.length >= (this.cfg.maxEventsPerKey ?? DEFAULT_MAX_EVENTS_PER_KEY)) {
      this.limited++;
      return false;
    }
    const victim = this.recency.touch(key, this.seq);
    if (victim !== undefined) this.evict(victim);
    const values = new Array(this.aggs.length);
    this.read(e.payload, values);
    const entry: Entry = { key, time: t, seq: this.seq++, ref: evidenceRef(e), values, revision: -1, alive: true };
    if (list === undefined) {
      list = [];
      this.keys_.set(key, list);
    }
    // Mostly in order: search back from the end for the insertion point.
    let i = list.length;
    while (i > 0 && list[i - 1].time > t) i--;
    list.splice(i, 0, entry);
    this.size++;
    this.changes.mark(key);
    this.expiry.push(t + lookback + grace + 1, entry);
    if (eager || (w > t && w <= t + grace)) {
      this.evaluate(entry, list, out);
    } else if (w <= t) {
      this.pending.push(t + 1, entry);
    }
    if (!eager && w > t) {
      // A late event changes the evaluations at or after its time that already fired and are still
      // within grace, including those of earlier arrivals with the same time.
      let j = i;
      while (j > 0 && list[j - 1].time === t) j--;
      for (; j < list.length; j++) {
        const other = list[j];
        if (other.time > t + lookback) break;
        if (other !== entry && other.revision >= 0 && w <= other.time + grace) this.evaluate(other, list, out);
      }
    }
    return true;
  }

  advance(w: number, out: WindowResult[]): void {
    if (!(w > this.w)) return;
    this.w = w;
    while (this.pending.hasDue(w)) {
      const entry = this.pending.pop() as Entry;
      if (entry.alive && entry.revision < 0) this.evaluate(entry, this.keys_.get(entry.key) as Entry[], out);
    }
    while (this.expiry.hasDue(w)) {
      const entry = this.expiry.pop() as Entry;
      this.removeEntry(entry);
    }
  }

  keys(): IterableIterator<string> {
    return this.keys_.keys();
  }

  snapshotMeta(): WindowMeta {
    return { w: this.w, seq: this.seq, evicted: this.recency.evicted };
  }

  snapshotKey(key: string): unknown[] | undefined {
    const list = this.keys_.get(key);
    return list === undefined ? undefined : list.map((en) => this.tuple(en));
  }

  restoreParts(meta: WindowMeta, entries: unknown[]): void {
    this.restore({ v: 1, w: meta.w, seq: meta.seq, evicted: meta.evicted, entries: entries as Snapshot['entries'] });
  }

  private tuple(en: Entry): Snapshot['entries'][number] {
    return [en.key, en.time, en.seq, en.ref, en.values.slice(), en.revision, this.recency.stampOf(en.key)];
  }

  snapshot(): Snapshot {
    const entries: Snapshot['entries'] = [];
    for (const list of this.keys_.values()) {
      for (const en of list) entries.push(this.tuple(en));
    }
    return { v: 1, w: this.w, seq: this.seq, evicted: this.recency.evicted, entries };
  }

  restore(snapshot: unknown): void {
    const snap = snapshot as Snapshot;
    if (snap?.v !== 1) throw new VigieError('VIGIE_ERR_SNAPSHOT', 'unsupported sliding snapshot version');
    this.keys_.clear();
    this.pending.clear();
    this.expiry.clear();
    this.size = 0;
    this.w = snap.w;
    this.seq = snap.seq;
    const stamps = new Map<string, number>();
    for (const [key, time, seq, ref, values, revision, stamp] of snap.entries) {
      stamps.set(key, Math.max(stamp ?? -1, stamps.get(key) ?? -1));
      let list = this.keys_.get(key);
      if (list === undefined) {
        list = [];
        this.keys_.set(key, list);
      }
      const entry: Entry = { key, time, seq, ref, values: values.slice(), revision, alive: true };
      list.push(entry);
      this.size++;
      this.expiry.push(time + this.cfg.lookback + this.cfg.grace + 1, entry);
      // Queued only if add() would have queued it: an event accepted behind W never gets its own evaluation.
      if (revision < 0 && !this.cfg.eager && snap.w <= time) this.pending.push(time + 1, entry);
    }
    this.recency.restore(stamps, snap.evicted);
  }

  /** Drop every entry of `key` and their pending evaluations without emitting; the checkpoint sees the key changed (and gone). */
  private evict(key: string): void {
    const list = this.keys_.get(key);
    if (list !== undefined) {
      for (const en of list) en.alive = false;
      this.size -= list.length;
      this.keys_.delete(key);
    }
    this.changes.mark(key);
  }

  private evaluate(entry: Entry, list: Entry[], out: WindowResult[]): void {
    this.changes.mark(entry.key);
    const t = entry.time;
    const from = t - this.cfg.lookback;
    // Binary search for the first entry with time >= from.
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid].time < from) lo = mid + 1;
      else hi = mid;
    }
    const accs = this.aggs.map((a) => a.create());
    const evidence: string[] = [];
    let count = 0;
    for (let j = lo; j < list.length; j++) {
      const en = list[j];
      if (en.time > t) break;
      count++;
      for (let a = 0; a < accs.length; a++) accs[a].add(en.values[a], en.time, en.seq);
      if (evidence.length < this.ctx.evidenceLimit) evidence.push(en.ref);
    }
    const values: Record<string, AggregateValue> = {};
    for (let a = 0; a < accs.length; a++) values[this.aggs[a].name] = accs[a].result();
    entry.revision++;
    out.push({
      pipeline: this.ctx.pipeline,
      watermark: this.w,
      key: entry.key,
      start: from,
      end: t,
      revision: entry.revision,
      kind: entry.revision === 0 ? 'final' : 'update',
      values,
      count,
      evidence,
      trigger: entry.ref,
    });
  }

  private removeEntry(entry: Entry): void {
    // Already dropped with its evicted key.
    if (!entry.alive) return;
    this.changes.mark(entry.key);
    entry.alive = false;
    const list = this.keys_.get(entry.key);
    if (list === undefined) return;
    // Entries expire in time order, so the one to remove is almost always at the front.
    const idx = list[0] === entry ? 0 : list.indexOf(entry);
    if (idx >= 0) {
      list.splice(idx, 1);
      this.size--;
    }
    if (list.length === 0) {
      this.keys_.delete(entry.key);
      this.recency.forget(entry.key);
    }
  }
}

/** Build the pure sliding-window core. */
export function create(config: Config, ctx: WindowContext): WindowCore {
  return new SlidingWindows({ lookback: config.lookback, grace: config.grace, eager: config.eager, maxKeys: config.maxKeys, maxEventsPerKey: config.maxEventsPerKey }, ctx);
}
