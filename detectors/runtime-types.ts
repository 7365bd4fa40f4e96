/** The types of the detector runtime (runtime.ts): its context, outputs, counters and per-detector slots. */
import type { Alert, QueueEntry } from '../src/types.js';
import type { KeyedState } from '../src/util/keyed-state.js';
import type { CommonConfig } from './common.js';
import type { DetectorConfig } from './index.js';
import type { DetectorContext, DetectorCore, Emit, Score } from './types.js';

/** What the runtime needs besides the detectors' configs. */
export interface RuntimeContext extends DetectorContext {
  configVersion: string;
  /** Time of detection for something emitted at watermark `w` (processing time live; `w` in replay). */
  detectionTime(w: number): number;
  /**
   * What a detector's state depends on besides its own config, per input kind (e.g. the pipeline's key
   * for event detectors, its window definition for result detectors): folded into each detector's
   * {@link Slot.hash}, so that state is only carried into a detector that reads the same input.
   */
  stateScope?: Partial<Record<DetectorCore['input'], string>>;
  /**
   * Most events waiting for the watermark (the pipeline's `maxPendingEvents`); beyond it the detectors'
   * watermark is moved up to the earliest waiting event, which is released at once. Unbounded when absent.
   */
  maxPending?: number;
  /** false when no sink takes the `scores` output: detectors still judge, but build no Score. */
  publishScores?: boolean;
}

/**
 * The part of a detector's config its state depends on: severity, description and shadow mode only
 * change how alerts are presented and routed, so changing them (promoting a shadow detector to live,
 * say) keeps the detector's state. A model's weights do not depend on its alert bound, warm-up,
 * explanations, publishing or queue size either: changing them keeps what it learnt.
 */
export function stateConfig(config: DetectorConfig): unknown {
  const { severity: _severity, description: _description, shadow: _shadow, ...rest } = config;
  if (rest.type !== 'model') return rest;
  const { value: _value, explain: _explain, warmup: _warmup, scores: _scores, queue, ...learning } = rest;
  return { ...learning, queueEvery: queue?.every ?? null };
}

/** How {@link DetectorSet.restore} matches saved detectors to the current ones. */
export type RestoreMatch =
  /** A detector is restored only when its saved hash equals its current one (same config, same input). */
  | 'by-hash'
  /** By name alone: for snapshots known to come from the very same definition (older snapshots carry no hashes). */
  | 'by-name';

/** Where the detectors' outputs go (a batch has these arrays). */
export interface Outputs {
  alerts: Alert[];
  shadowAlerts: Alert[];
  scores: Score[];
  queue: QueueEntry[];
}

/** Counters of the detectors since they were last taken, per detector name. */
export interface DetectorCounts {
  signals: number;
  suppressed: number;
  /** Signals dropped because a `requires` condition did not hold. */
  unmet: number;
  /** Keys evicted (cap reached). */
  evicted: number;
  /** Keys held now. */
  keys: number;
}

export interface Cooldown {
  until: number;
  suppressed: number;
  first: Alert;
  lastTime: number;
}

export interface Slot {
  name: string;
  config: CommonConfig;
  /** Hash of the config and of the input the detector reads: state is carried over only between equal hashes. */
  hash: string;
  core: DetectorCore;
  emit: Emit;
  cooldown: KeyedState<Cooldown>;
  /** Indices of the detectors this one requires. */
  requires: number[];
  /** Indices of `score` detectors fed by this one's signals. */
  feeds: number[];
  counts: DetectorCounts;
  /** Evictions already reported. */
  reportedEvictions: number;
}

