import type { VEvent, WindowResult, AggregateValue } from '../src/types.js';
import type { Accumulator, AggregateFactory } from './aggregates/types.js';
import { MinHeap } from '../src/util/heap.js';
import { VigieError } from '../src/errors.js';
import { DEFAULT_MAX_KEYS, DEFAULT_MAX_WINDOWS_PER_KEY, type WindowContext, type WindowCore, type WindowMeta } from './types.js';
import { ChangedKeys, KeyRecency } from '../src/util/key-order.js';
import { evidenceRef } from '../src/types.js';
import { compileReader, type FieldReader } from './fields.js';

/** Geometry of fixed windows: tumbling is the case advance == size. */
export interface FixedWindowSpec {
  size: number;
  advance: number;
  offset: number;
  grace: number;
  /** Most keys held; the least recently active is evicted beyond (default DEFAULT_MAX_KEYS). */
  maxKeys?: number;
  /** Most open windows per key; an event needing more is refused (default DEFAULT_MAX_WINDOWS_PER_KEY). */
  maxWindowsPerKey?: number;
}

/** Shared by results without evidence (evidenceLimit 0): one frozen array instead of one per result. */
const NO_EVIDENCE = Object.freeze([]) as unknown as string[];

interface WindowState {
  key: string;
  start: number;
  end: number;
  accs: Accumulator[];
  count: number;
  evidence: string[] | null;
  /** -1 until the window fired; then the revision of its last emission. */
  revision: number;
  /** Next window of the same key (by start): most keys have one open window, so no per-key array. */
  next: WindowState | null;
  removed: boolean;
}

interface Snapshot {
  v: 1;
  w: number;
  seq: number;
  /** Keys evicted so far (absent in older snapshots). */
  evicted?: number;
  /** [key, start, revision, count, evidence, accumulators, key's last-activity stamp (absent in older snapshots)] */
  windows: Array<[string, number, number, number, string[], unknown[], number?]>;
}

/**
 * Keyed tumbling/hopping windows with grace (docs/semantics.md rules 7-9).
 *
 * Per-key windows live in a small array (one or two open windows per key is the common case, so a
 * linear scan beats a nested Map). Firing is driven by two timer maps keyed by window end and by
 * close time; all keys share the same ends in fixed windows, so a heap of distinct instants stays tiny.
 */
export class FixedWindows implements WindowCore {
  private readonly keys_ = new Map<string, WindowState>();
  private readonly fireAt = new Map<number, WindowState[]>();
  private readonly closeAt = new Map<number, WindowState[]>();
  private readonly fireHeap = new MinHeap<number>();
  private readonly closeHeap = new MinHeap<number>();
  private readonly aggs: AggregateFactory[];
  private readonly read: FieldReader;
  private readonly values: unknown[];
  private readonly starts: number[] = [];
  private w = -Infinity;
  private seq = 0;
  private open = 0;
  private restoring = false;
  private readonly recency: KeyRecency;
  private readonly maxWindows: number;
  /** Events refused by maxWindowsPerKey. */
  limited = 0;
  /** Keys changed since the last incremental checkpoint (when enabled). */
  readonly changes = new ChangedKeys();

  constructor(
    private readonly spec: FixedWindowSpec,
    private readonly ctx: WindowContext,
  ) {
    this.aggs = ctx.aggregates;
    this.read = compileReader(ctx.aggregates.map((a) => a.field));
    this.values = new Array(ctx.aggregates.length);
    this.recency = new KeyRecency(spec.maxKeys ?? DEFAULT_MAX_KEYS);
    this.maxWindows = spec.maxWindowsPerKey ?? DEFAULT_MAX_WINDOWS_PER_KEY;
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
    const { size, advance, offset, grace } = this.spec;
    const t = e.time;
    const w = this.w;
    const last = Math.floor((t - offset) / advance) * advance + offset;
    if (advance === size) {
      // Tumbling: exactly one window; no list of starts to build.
      if (w >= last + size + grace) return false;
      this.touch(key);
      const win = this.windowOf(key, last);
      if (win === null) {
        this.limited++;
        return false;
      }
      this.read(e.payload, this.values);
      this.addTo(win, e, out);
      return true;
    }
    // Hopping: window starts containing t, newest first, in a reused array (no allocation per event).
    const starts = this.starts;
    starts.length = 0;
    for (let s = last; s > t - size; s -= advance) {
      if (w < s + size + grace) starts.push(s);
    }
    if (starts.length === 0) return false;
    if (this.wouldExceed(key, starts)) {
      this.limited++;
      return false;
    }
    this.touch(key);
    this.read(e.payload, this.values);
    for (let j = starts.length - 1; j >= 0; j--) this.addTo(this.windowOf(key, starts[j]) as WindowState, e, out);
    return true;
  }

  /** True when opening the windows of `starts` that `key` lacks would take it beyond maxWindowsPerKey. */
  private wouldExceed(key: string, starts: number[]): boolean {
    let held = 0;
    let present = 0;
    for (let win = this.keys_.get(key) ?? null; win !== null; win = win.next) {
      held++;
      if (starts.includes(win.start)) present++;
    }
    return held + starts.length - present > this.maxWindows;
  }

  /** Mark `key` active (before its windows are created), evicting the least recently active key when full. */
  private touch(key: string): void {
    const victim = this.recency.touch(key, this.seq);
    if (victim !== undefined) this.evict(victim);
  }

  /** Drop every window of `key` without emitting it; the checkpoint sees the key changed (and gone). */
  private evict(key: string): void {
    for (let win = this.keys_.get(key) ?? null; win !== null; win = win.next) {
      win.removed = true;
      this.open--;
    }
    this.keys_.delete(key);
    this.changes.mark(key);
  }

  /**
   * The window of `key` starting at `start`, created when absent; null when creating it would take
   * the key beyond maxWindowsPerKey (never while restoring).
   */
  private windowOf(key: string, start: number): WindowState | null {
    const head = this.keys_.get(key);
    if (head === undefined) {
      const win = this.createWindow(key, start);
      this.keys_.set(key, win);
      return win;
    }
    let prev: WindowState | null = null;
    let cur: WindowState | null = head;
    while (cur !== null && cur.start < start) {
      prev = cur;
      cur = cur.next;
    }
    if (cur !== null && cur.start === start) return cur;
    if (!this.restoring) {
      let held = 0;
      for (let w: WindowState | null = head; w !== null; w = w.next) held++;
      if (held >= this.maxWindows) return null;
    }
    const win = this.createWindow(key, start);
    win.next = cur;
    if (prev === null) this.keys_.set(key, win);
    else prev.next = win;
    return win;
  }

  private addTo(win: WindowState, e: VEvent, out: WindowResult[]): void {
    const accs = win.accs;
    const values = this.values;
    const seq = this.seq++;
    for (let a = 0; a < accs.length; a++) accs[a].add(values[a], e.time, seq);
    win.count++;
    this.changes.mark(win.key);
    if (this.ctx.evidenceLimit > 0) {
      if (win.evidence === null) win.evidence = [];
      if (win.evidence.length < this.ctx.evidenceLimit) win.evidence.push(evidenceRef(e));
    }
    // Accepted behind the watermark, within grace: the window has fired or is due now.
    if (this.w >= win.end) this.emit(win, out);
  }

  advance(w: number, out: WindowResult[]): void {
    if (!(w > this.w)) return;
    this.w = w;
    // Fire in order of window end, then close: results of one key come out in order of end.
    while (this.fireHeap.hasDue(w)) {
      const end = this.fireHeap.pop() as number;
      const wins = this.fireAt.get(end) as WindowState[];
      this.fireAt.delete(end);
      for (let i = 0; i < wins.length; i++) {
        const win = wins[i];
        if (win.revision < 0 && !win.removed) this.emit(win, out);
      }
      if (this.spec.grace === 0) this.removeAll(wins);
    }
    while (this.closeHeap.hasDue(w)) {
      const at = this.closeHeap.pop() as number;
      const wins = this.closeAt.get(at) as WindowState[];
      this.closeAt.delete(at);
      this.removeAll(wins);
    }
  }

  keys(): IterableIterator<string> {
    return this.keys_.keys();
  }

  snapshotMeta(): WindowMeta {
    return { w: this.w, seq: this.seq, evicted: this.recency.evicted };
  }

  snapshotKey(key: string): unknown[] | undefined {
    const head = this.keys_.get(key);
    if (head === undefined) return undefined;
    const out: unknown[] = [];
    for (let win: WindowState | null = head; win !== null; win = win.next) out.push(this.tuple(win));
    return out;
  }

  restoreParts(meta: WindowMeta, entries: unknown[]): void {
    this.restore({ v: 1, w: meta.w, seq: meta.seq, evicted: meta.evicted, windows: entries as Snapshot['windows'] });
  }

  private tuple(win: WindowState): Snapshot['windows'][number] {
    return [win.key, win.start, win.revision, win.count, win.evidence === null ? [] : win.evidence.slice(), win.accs.map((a) => a.snapshot()), this.recency.stampOf(win.key)];
  }

  snapshot(): Snapshot {
    const windows: Snapshot['windows'] = [];
    for (const head of this.keys_.values()) {
      for (let win: WindowState | null = head; win !== null; win = win.next) windows.push(this.tuple(win));
    }
    return { v: 1, w: this.w, seq: this.seq, evicted: this.recency.evicted, windows };
  }

  restore(snapshot: unknown): void {
    const s = snapshot as Snapshot;
    if (s?.v !== 1) throw new VigieError('VIGIE_ERR_SNAPSHOT', 'unsupported fixed-window snapshot version');
    this.keys_.clear();
    this.fireAt.clear();
    this.closeAt.clear();
    this.fireHeap.clear();
    this.closeHeap.clear();
    this.open = 0;
    this.w = s.w;
    this.seq = s.seq;
    this.restoring = true;
    const stamps = new Map<string, number>();
    for (const [key, start, revision, count, evidence, accs, stamp] of s.windows) {
      stamps.set(key, Math.max(stamp ?? -1, stamps.get(key) ?? -1));
      const win = this.windowOf(key, start) as WindowState;
      win.revision = revision;
      win.count = count;
      win.evidence = evidence.length > 0 ? evidence.slice() : null;
      win.accs = accs.map((a, i) => this.aggs[i].restore(a));
      this.scheduleTimers(win);
    }
    this.restoring = false;
    this.recency.restore(stamps, s.evicted);
  }

  private createWindow(key: string, start: number): WindowState {
    const end = start + this.spec.size;
    const accs: Accumulator[] = new Array(this.aggs.length);
    for (let a = 0; a < this.aggs.length; a++) accs[a] = this.aggs[a].create();
    const win: WindowState = { key, start, end, accs, count: 0, evidence: null, revision: -1, next: null, removed: false };
    this.open++;
    if (!this.restoring) this.scheduleTimers(win);
    return win;
  }

  private scheduleTimers(win: WindowState): void {
    if (win.revision < 0 && this.w < win.end) this.schedule(this.fireAt, this.fireHeap, win.end, win);
    if (this.spec.grace > 0) this.schedule(this.closeAt, this.closeHeap, win.end + this.spec.grace, win);
  }

  private schedule(map: Map<number, WindowState[]>, heap: MinHeap<number>, at: number, win: WindowState): void {
    const bucket = map.get(at);
    if (bucket === undefined) {
      map.set(at, [win]);
      heap.push(at, at);
    } else {
      bucket.push(win);
    }
  }

  private emit(win: WindowState, out: WindowResult[]): void {
    win.revision++;
    this.changes.mark(win.key);
    const values: Record<string, AggregateValue> = {};
    for (let a = 0; a < this.aggs.length; a++) values[this.aggs[a].name] = win.accs[a].result();
    out.push({
      pipeline: this.ctx.pipeline,
      watermark: this.w,
      key: win.key,
      start: win.start,
      end: win.end,
      revision: win.revision,
      kind: win.revision === 0 ? 'final' : 'update',
      values,
      count: win.count,
      evidence: win.evidence === null ? NO_EVIDENCE : win.evidence.slice(),
    });
  }

  private removeAll(wins: WindowState[]): void {
    for (let i = 0; i < wins.length; i++) {
      const win = wins[i];
      if (win.removed) continue;
      win.removed = true;
      this.open--;
      this.changes.mark(win.key);
      const head = this.keys_.get(win.key) as WindowState;
      if (head === win) {
        if (win.next === null) {
          this.keys_.delete(win.key);
          this.recency.forget(win.key);
        } else this.keys_.set(win.key, win.next);
        continue;
      }
      let prev = head;
      while (prev.next !== null && prev.next !== win) prev = prev.next;
      prev.next = win.next;
    }
  }
}
