/**
 * Binary min-heap ordered by a numeric priority, ties broken by insertion order so that
 * pops are deterministic (replay must give the same output as live).
 */
export class MinHeap<T> {
  private prio: number[] = [];
  private seq: number[] = [];
  private items: T[] = [];
  private counter = 0;

  get size(): number {
    return this.items.length;
  }

  push(priority: number, item: T): void {
    this.prio.push(priority);
    this.seq.push(this.counter++);
    this.items.push(item);
    this.up(this.items.length - 1);
  }

  /** Priority of the smallest entry, +Infinity when empty. */
  peekPriority(): number {
    return this.items.length === 0 ? Infinity : this.prio[0];
  }

  /** True when the smallest entry's priority is <= bound (false when empty, even for bound = +Infinity). */
  hasDue(bound: number): boolean {
    return this.items.length > 0 && this.prio[0] <= bound;
  }

  pop(): T | undefined {
    const n = this.items.length;
    if (n === 0) return undefined;
    const top = this.items[0];
    const lastP = this.prio.pop() as number;
    const lastS = this.seq.pop() as number;
    const lastI = this.items.pop() as T;
    if (n > 1) {
      this.prio[0] = lastP;
      this.seq[0] = lastS;
      this.items[0] = lastI;
      this.down(0);
    }
    return top;
  }

  clear(): void {
    this.prio = [];
    this.seq = [];
    this.items = [];
  }

  private less(a: number, b: number): boolean {
    return this.prio[a] < this.prio[b] || (this.prio[a] === this.prio[b] && this.seq[a] < this.seq[b]);
  }

  private swap(a: number, b: number): void {
    const p = this.prio[a];
    this.prio[a] = this.prio[b];
    this.prio[b] = p;
    const s = this.seq[a];
    this.seq[a] = this.seq[b];
    this.seq[b] = s;
    const i = this.items[a];
    this.items[a] = this.items[b];
    this.items[b] = i;
  }

  private up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(i: number): void {
    const n = this.items.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.less(l, m)) m = l;
      if (r < n && this.less(r, m)) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }
}
