import type { VEvent, WindowResult } from '../src/types.js';
import type { AggregateFactory } from './aggregates/types.js';
import type { ChangedKeys } from '../src/util/key-order.js';

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

