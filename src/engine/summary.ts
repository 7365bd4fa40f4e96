/** What a run reports when it ends (`vigie replay` prints it; the metrics carry the same counts live). */
import type { DeadLetterReason } from '../types.js';
import type { LabelReport } from './labels.js';

export type EngineMode = 'live' | 'replay';

export interface SourceSummary {
  in: number;
  events: number;
  deadLettered: Partial<Record<DeadLetterReason, number>>;
  /** Events dropped as redeliveries of a seen id; present for sources with `dedup` (in = events + dead-lettered + duplicates). */
  duplicates?: number;
}

export interface PipelineSummary {
  processed: number;
  filtered: number;
  late: number;
  missingKey: number;
  /** Events dead-lettered by the pipeline's `missing` policy (reason missing_field); present when the pipeline has one, or when any. */
  missingField?: number;
  /** Events the pipeline's `missing` policy left out (`skip`); present when the pipeline has one, or when any. */
  skipped?: number;
  /** Events refused by the window's per-key bound (dead-lettered as window_limit); absent when none. */
  windowLimited?: number;
  /** Pipelines with `enrich`: lookups that found a row valid at the event's time, and lookups that found none (dead-lettered as missing_row with `missing: dead-letter`). */
  enriched?: number;
  missingRows?: number;
  /** Events handed to event detectors early because more than maxPendingEvents waited; absent when none. */
  releasedEarly?: number;
  results: number;
}

export interface DetectorSummary {
  pipeline: string;
  signals: number;
  suppressed: number;
  unmet: number;
  keys: number;
  evicted: number;
}

export interface Summary {
  name: string;
  mode: EngineMode;
  configVersion: string;
  durationMs: number;
  eventsPerSecond: number;
  batches: number;
  watermark: number | null;
  sources: Record<string, SourceSummary>;
  pipelines: Record<string, PipelineSummary>;
  alerts: { total: number; byDetector: Record<string, { total: number; bySeverity: Record<string, number> }> };
  /** Alerts of detectors in shadow mode, and how many came after a live alert for the same pipeline and key (within an hour). */
  shadowAlerts: { total: number; byDetector: Record<string, { total: number; overlapping: number }> };
  /** Per detector: situations found, repeats suppressed by cooldowns, signals whose conditions did not hold, keys held and evicted. */
  detectors: Record<string, DetectorSummary>;
  deadLetters: { total: number; byReason: Partial<Record<DeadLetterReason, number>> };
  labels?: LabelReport;
}
