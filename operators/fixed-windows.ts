import type { VEvent, WindowResult, AggregateValue } from '../src/types.js';
import type { Accumulator, AggregateFactory } from './aggregates/types.js';
import { MinHeap } from '../src/util/heap.js';
import { evidenceRef, type WindowContext, type WindowCore } from './types.js';

/** Geometry of fixed windows: tumbling is the case advance == size. */
export interface FixedWindowSpec {
  size: number;
  advance: number;
  offset: number;
  grace: number;
}

interface WindowState {
  key: string;
  start: number;
  end: number;
  accs: Accumulator[];
  count: number;
  evidence: string[];
  /** -1 until the window fired; then the revision of its last emission. */
  revision: number;
}

interface Snapshot {
  v: 1;
  w: number;
  seq: number;
  windows: Array<[string, number, number, number, string[], unknown[]]>;
}

/**
 * Keyed tumbling/hopping windows with grace (SEMANTICS.md rules 7-9).
 *
 * Per-key windows live in a small array (one or two open windows per key is the common case, so a
 * linear scan beats a nested Map). Firing is driven by two timer maps keyed by window end and by
 * close time; all keys share the same ends in fixed windows, so a heap of distinct instants stays tiny.
 */
export class FixedWindows implements WindowCore {
  private readonly keys = new Map<string, WindowState[]>();
  private readonly fireAt = new Map<number, WindowState[]>();
  private readonly closeAt = new Map<number, WindowState[]>();
  private readonly fireHeap = new MinHeap<number>();
  private readonly closeHeap = new MinHeap<number>();
  private readonly aggs: AggregateFactory[];
  private readonly fields: (string | undefined)[];
  private readonly starts: number[] = [];
  private w = -Infinity;
  private seq = 0;
  private open = 0;

  constructor(
    private readonly spec: FixedWindowSpec,
    private readonly ctx: WindowContext,
  ) {
    this.aggs = ctx.aggregates;
    this.fields = ctx.aggregates.map((a) => a.field);
  }

  get watermark(): number {
    return this.w;
  }
  get openWindows(): number {
    return this.open;
  }
  get keyCount(): number {
    return this.keys.size;
  }

  add(key: string, e: VEvent, out: WindowResult[]): boolean {
    const { size, advance, offset, grace } = this.spec;
    const t = e.time;
    const w = this.w;
    // Window starts containing t, newest first; computed into a reused array (no allocation per event).
    const starts = this.starts;
    starts.length = 0;
    const last = Math.floor((t - offset) / advance) * advance + offset;
    for (let s = last; s > t - size; s -= advance) {
      if (w < s + size + grace) starts.push(s);
    }
    if (starts.length === 0) return false;
    let list = this.keys.get(key);
    if (list === undefined) {
      list = [];
      this.keys.set(key, list);
    }
    const seq = this.seq++;
    const payload = e.payload;
    for (let j = starts.length - 1; j >= 0; j--) {
      const s = starts[j];
      let win: WindowState | undefined;
      for (let k = 0; k < list.length; k++) {
        if (list[k].start === s) {
          win = list[k];
          break;
        }
      }
      if (win === undefined) win = this.createWindow(key, s, list);
      const accs = win.accs;
      for (let a = 0; a < accs.length; a++) {
        const f = this.fields[a];
        accs[a].add(f === undefined ? undefined : payload[f], t, seq);
      }
      win.count++;
      if (win.evidence.length < this.ctx.evidenceLimit) win.evidence.push(evidenceRef(e));
      // Accepted behind the watermark, within grace: the window has fired or is due now.
      if (w >= win.end) this.emit(win, out);
    }
    return true;
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
        if (win.revision < 0) this.emit(win, out);
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

  snapshot(): Snapshot {
    const windows: Snapshot['windows'] = [];
    for (const list of this.keys.values()) {
      for (const win of list) {
        windows.push([win.key, win.start, win.revision, win.count, win.evidence.slice(), win.accs.map((a) => a.snapshot())]);
      }
    }
    return { v: 1, w: this.w, seq: this.seq, windows };
  }

  restore(snapshot: unknown): void {
    const s = snapshot as Snapshot;
    if (s?.v !== 1) throw new Error('unsupported fixed-window snapshot version');
    this.keys.clear();
    this.fireAt.clear();
    this.closeAt.clear();
    this.fireHeap.clear();
    this.closeHeap.clear();
    this.open = 0;
    this.w = s.w;
    this.seq = s.seq;
    for (const [key, start, revision, count, evidence, accs] of s.windows) {
      let list = this.keys.get(key);
      if (list === undefined) {
        list = [];
        this.keys.set(key, list);
      }
      const win = this.createWindow(key, start, list, revision);
      win.count = count;
      win.evidence = evidence.slice();
      win.accs = accs.map((a, i) => this.aggs[i].restore(a));
    }
  }

  private createWindow(key: string, start: number, list: WindowState[], revision = -1): WindowState {
    const end = start + this.spec.size;
    const accs: Accumulator[] = new Array(this.aggs.length);
    for (let a = 0; a < this.aggs.length; a++) accs[a] = this.aggs[a].create();
    const win: WindowState = { key, start, end, accs, count: 0, evidence: [], revision };
    list.push(win);
    this.open++;
    if (revision < 0 && this.w < end) this.schedule(this.fireAt, this.fireHeap, end, win);
    if (this.spec.grace > 0) this.schedule(this.closeAt, this.closeHeap, end + this.spec.grace, win);
    return win;
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
    const values: Record<string, AggregateValue> = {};
    for (let a = 0; a < this.aggs.length; a++) values[this.aggs[a].name] = win.accs[a].result();
    out.push({
      pipeline: this.ctx.pipeline,
      key: win.key,
      start: win.start,
      end: win.end,
      revision: win.revision,
      kind: win.revision === 0 ? 'final' : 'update',
      values,
      count: win.count,
      evidence: win.evidence.slice(),
    });
  }

  private removeAll(wins: WindowState[]): void {
    for (let i = 0; i < wins.length; i++) {
      const win = wins[i];
      const list = this.keys.get(win.key);
      if (list === undefined) continue;
      const idx = list.indexOf(win);
      if (idx < 0) continue;
      list.splice(idx, 1);
      this.open--;
      if (list.length === 0) this.keys.delete(win.key);
    }
  }
}
