import type { AggregateValue } from '../../src/types.js';

/**
 * A running aggregate over the events of one window. Mergeable, so session windows can
 * merge and hopping windows can be combined; serialisable, so state can be checkpointed.
 * Values that do not fit the aggregate (missing field, not a finite number) are ignored.
 */
export interface Accumulator {
  /** Add one value. `time` and `seq` order events for first/last (seq breaks ties: arrival order). */
  add(value: unknown, time: number, seq: number): void;
  /** Fold another accumulator of the same aggregate into this one. */
  merge(other: Accumulator): void;
  /** Current value; null when no value was added. */
  result(): AggregateValue;
  /** Plain data (msgpack-friendly: numbers, strings, arrays, Uint8Array, plain objects). */
  snapshot(): unknown;
}

/** One aggregate as configured: builds fresh accumulators and restores snapshots. */
export interface AggregateFactory {
  readonly name: string;
  readonly fn: string;
  /** The payload field it reads; undefined for count. */
  readonly field: string | undefined;
  create(): Accumulator;
  restore(snapshot: unknown): Accumulator;
}
