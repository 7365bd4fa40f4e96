/**
 * Bytes of state per key, as the benchmarks measure them: forced collections (node --expose-gc) before
 * and after building the state, the growth of the JS heap (`heapUsed`) plus the memory held outside it
 * (`arrayBuffers`: typed arrays; `external`: arrayBuffers and other native memory), divided by the keys.
 */
import { VigieError } from '../src/errors.js';

/** Two full collections; a usage error naming `bench` when node runs without --expose-gc. */
export function collect(bench: string): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new VigieError('VIGIE_ERR_USAGE', `run node with --expose-gc (npm run ${bench} sets it) to measure the state per key`);
  gc();
  gc();
}

/** Memory use after forced collections. */
export function settledMemory(bench: string): NodeJS.MemoryUsage {
  collect(bench);
  return process.memoryUsage();
}

/** Growth per key between two settled measures. */
export interface GrowthPerKey {
  jsHeap: number;
  arrayBuffers: number;
  /** Includes `arrayBuffers`. */
  external: number;
}

export function growthPerKey(before: NodeJS.MemoryUsage, after: NodeJS.MemoryUsage, keys: number): GrowthPerKey {
  return {
    jsHeap: (after.heapUsed - before.heapUsed) / keys,
    arrayBuffers: (after.arrayBuffers - before.arrayBuffers) / keys,
    external: (after.external - before.external) / keys,
  };
}
