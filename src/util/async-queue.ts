/**
 * A bounded FIFO between a push-based producer (a Kafka client callback) and a pull-based consumer
 * (the engine). `offer` never blocks: it refuses when full, and the producer pauses until `onSpace`.
 */
export class AsyncQueue<T> {
  private readonly items: T[] = [];
  private taker: ((v: T | undefined) => void) | undefined;
  private spaceWaiters: Array<() => void> = [];
  private closed = false;

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.items.length;
  }

  offer(item: T): boolean {
    if (this.closed) return false;
    if (this.taker) {
      const t = this.taker;
      this.taker = undefined;
      t(item);
      return true;
    }
    if (this.items.length >= this.capacity) return false;
    this.items.push(item);
    return true;
  }

  /** Run `fn` once there is room again (or at close). */
  onSpace(fn: () => void): void {
    if (this.items.length < this.capacity || this.closed) fn();
    else this.spaceWaiters.push(fn);
  }

  /** Next item; undefined once closed and drained. */
  take(): Promise<T | undefined> {
    const item = this.items.shift();
    if (item !== undefined) {
      this.wakeSpace();
      return Promise.resolve(item);
    }
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => (this.taker = resolve));
  }

  /** Remove queued items matching `drop` (revoked partitions). */
  remove(drop: (item: T) => boolean): void {
    for (let i = this.items.length - 1; i >= 0; i--) if (drop(this.items[i])) this.items.splice(i, 1);
    this.wakeSpace();
  }

  close(): void {
    this.closed = true;
    this.taker?.(undefined);
    this.taker = undefined;
    this.wakeSpace();
  }

  private wakeSpace(): void {
    if (this.items.length >= this.capacity && !this.closed) return;
    const waiters = this.spaceWaiters;
    this.spaceWaiters = [];
    for (const w of waiters) w();
  }
}
