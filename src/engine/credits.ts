/**
 * A counting semaphore: sources take a credit per batch and the sink stage gives it back once the
 * batch is written, so no more than `capacity` batches are ever buffered between them (backpressure).
 */
export class Credits {
  private available: number;
  private readonly waiters: Array<() => void> = [];

  constructor(readonly capacity: number) {
    this.available = capacity;
  }

  get inUse(): number {
    return this.capacity - this.available;
  }

  acquire(): Promise<void> {
    if (this.available > 0) {
      this.available--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else if (this.available < this.capacity) this.available++;
  }

  /** Wake every waiter (shutdown): they proceed and find the source stopped. */
  drain(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}
