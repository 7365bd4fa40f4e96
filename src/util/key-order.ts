import { MinHeap } from './heap.js';

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

/**
 * Keys whose state changed since they were last taken; records nothing until enabled. The key marked
 * last is remembered, so that the several states a key goes through for one event add it once.
 */
export class ChangedKeys {
  private set: Set<string> | undefined;
  private last: string | undefined;

  enable(): void {
    this.set ??= new Set();
  }

  get enabled(): boolean {
    return this.set !== undefined;
  }

  mark(key: string): void {
    if (this.set !== undefined && key !== this.last) {
      this.set.add(key);
      this.last = key;
    }
  }

  /** The keys changed since the previous call (empty when not enabled). */
  take(): Set<string> {
    const out = this.set ?? new Set<string>();
    if (this.set !== undefined) this.set = new Set();
    this.last = undefined;
    return out;
  }
}
