import { z } from 'zod';
import type { AggregateValue, VEvent, WindowResult } from '../src/types.js';
import { durationSchema, positiveDurationSchema } from '../src/time/duration.js';
import { MinHeap } from '../src/util/heap.js';
import { VigieError } from '../src/errors.js';
import type { Accumulator, AggregateFactory } from './aggregates/types.js';
import { DEFAULT_MAX_KEYS, DEFAULT_MAX_WINDOWS_PER_KEY, MAX_KEYS_DESCRIPTION, MAX_WINDOWS_PER_KEY_DESCRIPTION, type WindowContext, type WindowCore, type WindowMeta } from './types.js';
import { ChangedKeys, KeyRecency } from '../src/util/key-order.js';
import { evidenceRef } from '../src/types.js';
import { compileReader, type FieldReader } from './fields.js';

export const type = 'session';

/**
 * Session windows: activity periods of a key separated by gaps longer than `gap`.
 * Example: `window: { type: session, gap: 30m }`
 */
export const schema = z.strictObject({
  type: z.literal(type),
  gap: positiveDurationSchema.describe('Two events of a key whose times differ by at most gap (inclusive), directly or through a chain of events, are in the same session. A session [first, last] fires when W > last + gap.'),
  grace: durationSchema.default(0).describe('How long after it fired a session still accepts late events (each re-emits it as an update).'),
  maxKeys: z.number().int().positive().optional().describe(`${MAX_KEYS_DESCRIPTION} Default ${DEFAULT_MAX_KEYS}.`),
  maxWindowsPerKey: z.number().int().positive().optional().describe(`${MAX_WINDOWS_PER_KEY_DESCRIPTION} Default ${DEFAULT_MAX_WINDOWS_PER_KEY}.`),
});

export type Config = z.infer<typeof schema>;

interface Session {
  key: string;
  first: number;
  last: number;
  accs: Accumulator[];
  count: number;
  evidence: string[];
  revision: number;
  alive: boolean;
  fireQueued: boolean;
  closeQueued: boolean;
}

/** sessions: [key, first, last, revision, count, evidence, accumulators, key's last-activity stamp (absent in older snapshots)] */
type Snapshot = { v: 1; w: number; seq: number; evicted?: number; sessions: Array<[string, number, number, number, number, string[], unknown[], number?]> };

/**
 * Keyed session windows. Sessions of a key are kept sorted by start; a new event touches at most the
 * session before it and the one after it, and merges them when it bridges the gap. Timers are lazy:
 * one heap entry per session, re-queued when the session grew since it was queued.
 */
export class SessionWindows implements WindowCore {
  private readonly keys_ = new Map<string, Session[]>();
  /** Keys changed since the last incremental checkpoint (when enabled). */
  readonly changes = new ChangedKeys();
  private readonly timers = new MinHeap<Session>();
  private readonly aggs: AggregateFactory[];
  private readonly read: FieldReader;
  private readonly values: unknown[];
  private w = -Infinity;
  private seq = 0;
  private open = 0;
  private readonly recency: KeyRecency;
  /** Events refused by maxWindowsPerKey. */
  limited = 0;

  constructor(
    private readonly cfg: { gap: number; grace: number; maxKeys?: number; maxWindowsPerKey?: number },
    private readonly ctx: WindowContext,
  ) {
    this.aggs = ctx.aggregates;
    this.read = compileReader(ctx.aggregates.map((a) => a.field));
    this.values = new Array(ctx.aggregates.length);
    this.recency = new KeyRecency(cfg.maxKeys ?? DEFAULT_MAX_KEYS);
  }

  get evicted(): number {
    return this.recency.evicted;
  }

  get watermark(): number {
    return this.w;
  }
  get openWindows(): number {
    return this.open;
  }
  get keyCount(): number {
    return this.keys_.size;
  }

  add(key: string, e: VEvent, out: WindowResult[]): boolean {
    const { gap, grace } = this.cfg;
    const t = e.time;
    let list = this.keys_.get(key);
    let target: Session | undefined;
    let insertAt = 0;
    if (list !== undefined) {
      for (let i = 0; i < list.length; i++) {
        const s = list[i];
        if (t > s.last + gap) {
          insertAt = i + 1;
          continue;
        }
        if (t < s.first - gap) break;
        if (target === undefined) {
          target = s;
        } else {
          this.mergeInto(target, s);
          list.splice(i, 1);
          i--;
        }
      }
    }
    if (target === undefined) {
      if (this.w > t + gap + grace) return false;
      if (list !== undefined && list.length >= (this.cfg.maxWindowsPerKey ?? DEFAULT_MAX_WINDOWS_PER_KEY)) {
        this.limited++;
        return false;
      }
      if (list === undefined) {
        list = [];
        this.keys_.set(key, list);
      }
      target = this.createSession(key, t, t, -1);
      list.splice(insertAt, 0, target);
    }
    // Accepted: the key becomes the most recently active; a new key beyond maxKeys evicts the least recent one (never itself).
    const victim = this.recency.touch(key, this.seq);
    if (victim !== undefined) this.evict(victim);
    const seq = this.seq++;
    const values = this.values;
    this.read(e.payload, values);
    for (let a = 0; a < target.accs.length; a++) target.accs[a].add(values[a], t, seq);
    target.count++;
    this.changes.mark(key);
    if (target.evidence.length < this.ctx.evidenceLimit) target.evidence.push(evidenceRef(e));
    if (t < target.first) target.first = t;
    if (t > target.last) target.last = t;
    // Once a session fired, every accepted event re-emits it; before that it waits until due.
    if (target.revision >= 0 || this.w > target.last + gap) this.emit(target, out);
    this.queue(target);
    return true;
  }

  advance(w: number, out: WindowResult[]): void {
    if (!(w > this.w)) return;
    this.w = w;
    const { gap, grace } = this.cfg;
    while (this.timers.hasDue(w)) {
      const s = this.timers.pop() as Session;
      s.fireQueued = false;
      s.closeQueued = false;
      if (!s.alive) continue;
      if (s.revision < 0 && w > s.last + gap) this.emit(s, out);
      if (s.revision >= 0 && w > s.last + gap + grace) this.remove(s);
      else this.queue(s);
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
    return list === undefined ? undefined : list.map((s) => this.tuple(s));
  }

  restoreParts(meta: WindowMeta, entries: unknown[]): void {
    this.restore({ v: 1, w: meta.w, seq: meta.seq, evicted: meta.evicted, sessions: entries as Snapshot['sessions'] });
  }

  private tuple(s: Session): Snapshot['sessions'][number] {
    return [s.key, s.first, s.last, s.revision, s.count, s.evidence.slice(), s.accs.map((a) => a.snapshot()), this.recency.stampOf(s.key)];
  }

  snapshot(): Snapshot {
    const sessions: Snapshot['sessions'] = [];
    for (const list of this.keys_.values()) {
      for (const s of list) sessions.push(this.tuple(s));
    }
    return { v: 1, w: this.w, seq: this.seq, evicted: this.recency.evicted, sessions };
  }

  restore(snapshot: unknown): void {
    const snap = snapshot as Snapshot;
    if (snap?.v !== 1) throw new VigieError('VIGIE_ERR_SNAPSHOT', 'unsupported session snapshot version');
    this.keys_.clear();
    this.timers.clear();
    this.open = 0;
    this.w = snap.w;
    this.seq = snap.seq;
    const stamps = new Map<string, number>();
    for (const [key, first, last, revision, count, evidence, accs, stamp] of snap.sessions) {
      stamps.set(key, Math.max(stamp ?? -1, stamps.get(key) ?? -1));
      let list = this.keys_.get(key);
      if (list === undefined) {
        list = [];
        this.keys_.set(key, list);
      }
      const s = this.createSession(key, first, last, revision);
      s.count = count;
      s.evidence = evidence.slice();
      s.accs = accs.map((a, i) => this.aggs[i].restore(a));
      list.push(s);
      this.queue(s);
    }
    this.recency.restore(stamps, snap.evicted);
  }

  /** Drop every session of `key` without emitting it; the checkpoint sees the key changed (and gone). */
  private evict(key: string): void {
    const list = this.keys_.get(key);
    if (list !== undefined) {
      for (const s of list) s.alive = false;
      this.open -= list.length;
      this.keys_.delete(key);
    }
    this.changes.mark(key);
  }

  private createSession(key: string, first: number, last: number, revision: number): Session {
    const accs: Accumulator[] = new Array(this.aggs.length);
    for (let a = 0; a < this.aggs.length; a++) accs[a] = this.aggs[a].create();
    this.open++;
    return { key, first, last, accs, count: 0, evidence: [], revision, alive: true, fireQueued: false, closeQueued: false };
  }

  /** Keep exactly one pending timer per live session, at its next instant of interest. */
  private queue(s: Session): void {
    if (s.fireQueued || s.closeQueued) return;
    const { gap, grace } = this.cfg;
    if (s.revision < 0) {
      s.fireQueued = true;
      this.timers.push(s.last + gap + 1, s);
    } else {
      s.closeQueued = true;
      this.timers.push(s.last + gap + grace + 1, s);
    }
  }

  private mergeInto(target: Session, other: Session): void {
    for (let a = 0; a < target.accs.length; a++) target.accs[a].merge(other.accs[a]);
    target.count += other.count;
    for (const id of other.evidence) {
      if (target.evidence.length >= this.ctx.evidenceLimit) break;
      target.evidence.push(id);
    }
    if (other.first < target.first) target.first = other.first;
    if (other.last > target.last) target.last = other.last;
    if (other.revision > target.revision) target.revision = other.revision;
    other.alive = false;
    this.open--;
  }

  private emit(s: Session, out: WindowResult[]): void {
    this.changes.mark(s.key);
    s.revision++;
    const values: Record<string, AggregateValue> = {};
    for (let a = 0; a < this.aggs.length; a++) values[this.aggs[a].name] = s.accs[a].result();
    out.push({
      pipeline: this.ctx.pipeline,
      watermark: this.w,
      key: s.key,
      start: s.first,
      end: s.last,
      revision: s.revision,
      kind: s.revision === 0 ? 'final' : 'update',
      values,
      count: s.count,
      evidence: s.evidence.slice(),
    });
  }

  private remove(s: Session): void {
    this.changes.mark(s.key);
    s.alive = false;
    this.open--;
    const list = this.keys_.get(s.key);
    if (list === undefined) return;
    const idx = list.indexOf(s);
    if (idx >= 0) list.splice(idx, 1);
    if (list.length === 0) {
      this.keys_.delete(s.key);
      this.recency.forget(s.key);
    }
  }
}

/** Build the pure session-window core. */
export function create(config: Config, ctx: WindowContext): WindowCore {
  return new SessionWindows({ gap: config.gap, grace: config.grace, maxKeys: config.maxKeys, maxWindowsPerKey: config.maxWindowsPerKey }, ctx);
}
