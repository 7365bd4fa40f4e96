import type { VEvent, WindowResult } from '../src/types.js';
import type { AggregateFactory } from './aggregates/types.js';
import { MinHeap } from '../src/util/heap.js';

/** What every window operator receives besides its own config. */
export interface WindowContext {
  pipeline: string;
  aggregates: AggregateFactory[];
  /** How many contributing event ids a result carries at most. */
  evidenceLimit: number;
}

/**
 * The pure core of a keyed window operator: no RxJS, no I/O, no clock.
 * The caller feeds events in arrival order with the watermark W current at each event
 * (advance first, then add), and results are appended to `out`.
 */
export interface WindowCore {
  /** Add an event; returns false when the event is late (every window it belongs to is closed). */
  add(key: string, event: VEvent, out: WindowResult[]): boolean;
  /** Move the watermark forward: fire due windows, close expired ones. */
  advance(w: number, out: WindowResult[]): void;
  readonly watermark: number;
  /** Windows (or pending evaluations) held in state. */
  readonly openWindows: number;
  readonly keyCount: number;
  /**
   * Keys whose state was evicted because the operator reached its `maxKeys`, cumulative since the
   * state began (kept by snapshot/restore). Optional: cores without per-key state have none.
   */
  readonly evicted?: number;
  /**
   * Events refused because their key held the most open windows (or buffered events) allowed,
   * cumulative for the core's life (not checkpointed). `add` returns false for them too: the caller
   * tells a refusal from a late event by this count changing.
   */
  readonly limited?: number;
  snapshot(): unknown;
  restore(snapshot: unknown): void;
  /**
   * Incremental checkpoints: once `changes` is enabled, it collects the keys whose state changed;
   * `snapshotKey` gives one key's state (undefined when it has none), `snapshotMeta` what is not per
   * key, and `restoreParts` rebuilds from the two.
   */
  readonly changes: ChangedKeys;
  keys(): IterableIterator<string>;
  snapshotKey(key: string): unknown[] | undefined;
  snapshotMeta(): WindowMeta;
  restoreParts(meta: WindowMeta, entries: unknown[]): void;
}

/** What a window core's incremental checkpoint holds besides its keys; `evicted` is absent in older checkpoints. */
export interface WindowMeta {
  w: number;
  seq: number;
  evicted?: number;
}

/** Default bound on the keys a window operator holds. */
export const DEFAULT_MAX_KEYS = 1_000_000;

/** Default bound on the open windows of one key (tumbling, hopping, session). */
export const DEFAULT_MAX_WINDOWS_PER_KEY = 10_000;

/** Description of the `maxWindowsPerKey` option, shared by the tumbling, hopping and session schemas. */
export const MAX_WINDOWS_PER_KEY_DESCRIPTION =
  'Most open windows one key may hold (windows kept open by grace and out-of-order events). An event that would open a window ' +
  'beyond it is not added anywhere and goes to the dead-letter output with reason window_limit (counted in ' +
  'vigie_events_dead_lettered_total{reason="window_limit"}); the key\'s open windows are untouched.';

/** Description of the `maxKeys` option, shared by every window operator's schema. */
export const MAX_KEYS_DESCRIPTION =
  'Most keys held in state. When an event of a new key arrives while maxKeys keys are held, the least recently active key ' +
  '(the one whose last accepted event arrived earliest) is evicted first: its open windows are dropped without being emitted ' +
  '(emitting them early would fire windows the watermark has not closed), and vigie_window_evictions_total counts it. ' +
  'Eviction depends only on arrival order, so replays are deterministic; the order and the count survive checkpoints. ' +
  'A key evicted and seen again starts afresh.';

/**
 * Least-recently-active order of the keys of a window core, with the eviction count. `touch` stamps a
 * key with a monotonic value (the core's event sequence) that snapshots carry, so a restore gives the
 * same order from entries in any order.
 *
 * Touching a key only rewrites its stamp. The order is a lazy min-heap of (stamp, key) that exists
 * only once the bound has been reached: an entry may be stale (its key touched or forgotten since),
 * and stale entries are skipped or pushed again with the current stamp when they reach the top. A
 * fresh entry at the top is the least recently active key, exactly, since every live key has an entry
 * no newer than its stamp.
 */
export class KeyRecency {
  private readonly stamps = new Map<string, number>();
  private heap: MinHeap<string> | undefined;
  evicted = 0;

  constructor(readonly maxKeys: number) {}

  /**
   * Mark `key` active at `stamp`. For a key not held yet, returns the key to evict first when the
   * bound is reached (the caller drops its state and calls `forget`), else undefined.
   */
  touch(key: string, stamp: number): string | undefined {
    const stamps = this.stamps;
    const size = stamps.size;
    stamps.set(key, stamp);
    if (stamps.size === size) return undefined; // held already: only its stamp changes
    const heap = this.heap;
    if (size < this.maxKeys) {
      if (heap !== undefined) this.pushTo(heap, key, stamp);
      return undefined;
    }
    stamps.delete(key);
    const victim = this.leastRecent();
    stamps.delete(victim);
    this.evicted++;
    stamps.set(key, stamp);
    this.pushTo(this.heap as MinHeap<string>, key, stamp);
    return victim;
  }

  /** The least recently active key (there is at least one). */
  private leastRecent(): string {
    let heap = this.heap;
    if (heap === undefined) {
      heap = new MinHeap<string>();
      for (const [k, s] of this.stamps) heap.push(s, k);
      this.heap = heap;
    }
    for (;;) {
      const at = heap.peekPriority();
      const k = heap.pop() as string;
      const s = this.stamps.get(k);
      if (s === at) return k;
      if (s !== undefined) heap.push(s, k); // touched since: back in at its current stamp
    }
  }

  /** Push, dropping the heap (rebuilt on demand) when forgotten keys have left too many stale entries. */
  private pushTo(heap: MinHeap<string>, key: string, stamp: number): void {
    if (heap.size > 2 * this.stamps.size + 1024) this.heap = undefined;
    else heap.push(stamp, key);
  }

  stampOf(key: string): number {
    return this.stamps.get(key) ?? -1;
  }

  forget(key: string): void {
    this.stamps.delete(key);
  }

  clear(): void {
    this.stamps.clear();
    this.heap = undefined;
  }

  /** Restore stamps (the order follows from them). */
  restore(stamps: Map<string, number>, evicted: number | undefined): void {
    this.clear();
    for (const [k, s] of stamps) this.stamps.set(k, s);
    this.evicted = evicted ?? 0;
  }

  /** Keys, least recently active first (for tests and diagnostics; sorts). */
  keys(): IterableIterator<string> {
    return [...this.stamps].sort((a, b) => a[1] - b[1]).map((e) => e[0])[Symbol.iterator]();
  }
}

/** Keys whose state changed since they were last taken; records nothing until enabled. */
export class ChangedKeys {
  private set: Set<string> | undefined;

  enable(): void {
    this.set ??= new Set();
  }

  mark(key: string): void {
    if (this.set !== undefined) this.set.add(key);
  }

  /** The keys changed since the previous call (empty when not enabled). */
  take(): Set<string> {
    const out = this.set ?? new Set<string>();
    if (this.set !== undefined) this.set = new Set();
    return out;
  }
}

/** Reference to an event for evidence: its id, or where it came from. */
export function evidenceRef(e: VEvent): string {
  return e.id ?? `${e.source}:${e.partition}:${e.offset}`;
}
