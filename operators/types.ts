import type { VEvent, WindowResult } from '../src/types.js';
import type { AggregateFactory } from './aggregates/types.js';

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
  snapshotMeta(): { w: number; seq: number };
  restoreParts(meta: { w: number; seq: number }, entries: unknown[]): void;
}

/** Keys whose state changed since they were last taken; records nothing until enabled. */
export class ChangedKeys {
  private set: Set<string> | undefined;

  enable(): void {
    this.set ??= new Set();
  }

  mark(key: string): void {
    if (this.set !== undefined) this.set.add(key);
  }

  /** The keys changed since the previous call (empty when not enabled). */
  take(): Set<string> {
    const out = this.set ?? new Set<string>();
    if (this.set !== undefined) this.set = new Set();
    return out;
  }
}

/** Reference to an event for evidence: its id, or where it came from. */
export function evidenceRef(e: VEvent): string {
  return e.id ?? `${e.source}:${e.partition}:${e.offset}`;
}
