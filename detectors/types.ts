import type { Alert, Severity, WindowResult } from '../src/types.js';

/** What every detector receives besides its own config. */
export interface DetectorContext {
  pipeline: string;
  /** Field(s) the pipeline keys by, for explanations ("card 4242…"). */
  keyLabel: string;
  /** Names of the pipeline's aggregates, for cross-checks and explanations. */
  aggregates: readonly string[];
  /** Window kind of the pipeline; decides how windows are written in explanations. */
  windowType: string;
  /** Version (hash) of the config that built this detector; carried by every alert. */
  configVersion: string;
  /**
   * Time of detection for an alert raised on `result`: processing time live; in replay the watermark at
   * which the result was emitted, so that replays are byte-identical whatever the batch sizes.
   */
  detectionTime(result: WindowResult): number;
}

/**
 * A detector: pure and deterministic. It sees the window results of its pipeline and appends alerts.
 * State (if any) is snapshot/restore-able so it survives checkpoints bit for bit.
 */
export interface Detector {
  readonly name: string;
  readonly type: string;
  readonly severity: Severity;
  onResults(results: readonly WindowResult[], out: Alert[]): void;
  snapshot(): unknown;
  restore(snapshot: unknown): void;
}
