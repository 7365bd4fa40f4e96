import { mappingSchema, type Mapping } from './mapping.js';
import type { RawBatch, RawRecord, Source } from './types.js';

export interface MemorySourceOptions {
  name?: string;
  /** Records per batch. */
  batchSize?: number;
  /** Field mapping (defaults as in config). */
  mapping?: Partial<Mapping>;
  /** Partition of each record (default: all in partition 0). Order within a partition is kept. */
  partitionOf?: (record: unknown, index: number) => number;
  partitions?: number;
}

/**
 * A finite source over records already in memory (objects, JSON lines or MessagePack bytes).
 * For tests, benchmarks and embedding; not addressable from config files.
 */
export function memorySource(records: ReadonlyArray<object | string | Uint8Array>, opts: MemorySourceOptions = {}): Source {
  const batchSize = opts.batchSize ?? 4096;
  const parts = opts.partitions ?? 1;
  const mapping = mappingSchema.parse(opts.mapping ?? {});
  const first = records[0];
  const format = typeof first === 'string' ? 'json' : first instanceof Uint8Array ? 'msgpack' : 'object';
  return {
    name: opts.name ?? 'memory',
    type: 'memory',
    format,
    mapping,
    partitions: () => Array.from({ length: parts }, (_, i) => i),
    async *batches(): AsyncGenerator<RawBatch> {
      const pending: RawRecord[][] = Array.from({ length: parts }, () => []);
      const offsets = new Array<number>(parts).fill(0);
      for (let i = 0; i < records.length; i++) {
        const p = opts.partitionOf ? opts.partitionOf(records[i], i) : 0;
        pending[p].push({ offset: ++offsets[p], data: records[i] });
        if (pending[p].length >= batchSize) {
          yield { partition: p, records: pending[p], end: false };
          pending[p] = [];
        }
      }
      for (let p = 0; p < parts; p++) yield { partition: p, records: pending[p], end: true };
    },
    async close() {},
  };
}
