import type { Logger } from 'pino';
import type { Clock } from '../types.js';
import type { Mapping } from './mapping.js';

/** One input record as a source delivers it: undecoded text or bytes, or an object (generator). */
export interface RawRecord {
  /** Position within the partition (line number, record index, Kafka offset). */
  offset: number;
  data: string | Uint8Array | object;
  /** Record key given by the transport (Kafka), as text. */
  key?: string;
  /** Record timestamp given by the transport (Kafka), ms since the epoch. */
  timestamp?: number;
  /**
   * Set by a source that did not read the record whole because it is longer than `maxEventBytes`:
   * its size in bytes. `data` then holds only its first bytes, and the ingestor dead-letters it as too_large.
   */
  size?: number;
}

/** Records of one partition of one source, in order. */
export interface RawBatch {
  /** Source-local partition number. */
  partition: number;
  records: RawRecord[];
  /** True when the partition has no more records after these (end of file). */
  end: boolean;
}

/** Decoding of records: text lines of JSON, MessagePack, or objects that need no decoding. */
export type RecordFormat = 'json' | 'msgpack' | 'object';

/** A producer of raw records. Pull-based: the engine asks for the next batch when it has room. */
export interface Source {
  readonly name: string;
  readonly type: string;
  readonly format: RecordFormat;
  readonly mapping: Mapping;
  /** Source-local partitions known before the first record. */
  partitions(): number[];
  batches(): AsyncIterable<RawBatch>;
  close(): Promise<void>;
  /**
   * Partitioned sources (Kafka): each partition's state is its own task, checkpointed under
   * `checkpointId(partition)`, and input positions are committed with `commit`.
   */
  readonly scoped?: boolean;
  checkpointId?(partition: number): string;
  /** Commit: processing resumes after these offsets (source-local partition -> last processed offset). */
  commit?(offsets: ReadonlyMap<number, number>): Promise<void>;
  /** The partition as users know it (Kafka topic and partition), for dead letters. */
  describePartition?(partition: number): { topic?: string; partition: number };
  /** Where the transport's record key and timestamp go, for sources that have them. */
  readonly recordMeta?: { keyField?: string; timestampFromRecord: boolean };
  /**
   * False while the source cannot read (its broker is unreachable, its client is restarting); it
   * recovers by itself. For /readyz (and `vigie_source_up` where reported). Absent: always able to read.
   */
  healthy?(): boolean;
  /** Why the source cannot read, while `healthy()` is false (for /readyz reasons). */
  downReason?(): string | undefined;
}

export interface SourceContext {
  /** Directory relative paths are resolved against. */
  baseDir: string;
  clock: Clock;
  logger: Logger;
  /** Records per batch for sources that read as fast as they can. */
  batchSize: number;
  /** Standard input, for the stdin source. */
  stdin: NodeJS.ReadableStream;
  /** Aborted when the engine stops: live sources stop waiting. */
  signal: AbortSignal;
  /** Metrics, when served: sources report lag, rebalances and buffer fill (once per batch). */
  metrics?: import('../metrics/registry.js').EngineMetrics;
  /**
   * Partitioned sources call this before the first batch of a newly assigned partition: the engine
   * restores the partition's state and returns the offset it covers (records up to it must be skipped).
   */
  onAssign?(source: Source, partition: number): Promise<number | undefined>;
  /** Partitioned sources call this when a rebalance starts: the engine checkpoints every partition it has. */
  onRebalancing?(source: Source): void;
  /** Partitioned sources call this when partitions are taken away: their state is dropped. */
  onRevoke?(source: Source, partitions: readonly number[]): void;
}
