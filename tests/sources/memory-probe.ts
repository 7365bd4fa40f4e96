import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const MB = 1 << 20;

/**
 * Peak growth of the heap plus Buffer memory (and of the RSS) over a baseline taken after a full GC.
 * Buffers live outside the V8 heap, so `heapUsed` alone would miss a reader that keeps its bytes.
 */
export class MemoryProbe {
  private readonly base: NodeJS.MemoryUsage;
  peakHeap = 0;
  peakRss = 0;

  constructor(private readonly limitMb: number) {
    gc();
    this.base = process.memoryUsage();
  }

  /** Record a sample; throws once the growth passes the limit, so an unbounded reader fails fast. */
  sample(where: string): void {
    const m = process.memoryUsage();
    this.peakHeap = Math.max(this.peakHeap, (m.heapUsed + m.arrayBuffers - this.base.heapUsed - this.base.arrayBuffers) / MB);
    this.peakRss = Math.max(this.peakRss, (m.rss - this.base.rss) / MB);
    if (this.peakHeap > this.limitMb) throw new Error(`heap and buffers grew by ${this.peakHeap.toFixed(0)} MB (limit ${this.limitMb} MB) ${where}`);
  }

  /** Sample every millisecond while `run` goes on (file sources read asynchronously, so the timer gets turns). */
  async during<T>(run: () => Promise<T>): Promise<T> {
    let failure: Error | undefined;
    const timer = setInterval(() => {
      try {
        this.sample('while reading');
      } catch (err) {
        failure ??= err as Error;
      }
    }, 1);
    try {
      const out = await run();
      this.sample('at the end');
      return out;
    } finally {
      clearInterval(timer);
      if (failure) throw failure;
    }
  }
}
