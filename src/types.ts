/**
 * The records that flow through Vigie. Kept as plain interfaces so the pure cores
 * (window math, aggregates, detectors) depend on nothing but this file.
 */

/** A usable event, after decoding and field mapping. */
export interface VEvent {
  /** Event time, integer milliseconds since the Unix epoch (UTC). */
  time: number;
  /** Optional producer-given identifier; used as evidence in alerts. */
  id: string | undefined;
  /** Global partition index (see {@link PartitionRef}); order is kept within a partition. */
  partition: number;
  /** Position within the partition (line number, Kafka offset). */
  offset: number;
  /** Name of the source this event came from. */
  source: string;
  /** The decoded record. Never mutated after ingestion. */
  payload: Record<string, unknown>;
}

/** Reasons an input never becomes (or stops being) part of a result. Bounded set: used as a metric label. */
export const DEAD_LETTER_REASONS = [
  'parse_error',
  'not_an_object',
  'bad_timestamp',
  'missing_key',
  'too_large',
  'schema',
  'late',
  'window_limit',
  'future_time',
  'missing_field',
  'missing_row',
] as const;
export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];

/** Something that could not be processed, kept with why. */
export interface DeadLetter {
  reason: DeadLetterReason;
  /** Human-readable detail (which field, what was found). Never the raw value of a field. */
  detail: string;
  source: string;
  /** Pipeline name for pipeline-level reasons (missing_key, late, window_limit, missing_row, and missing_field under a pipeline's `missing` policy). */
  pipeline?: string;
  /** Kafka topic of the record, for Kafka sources. */
  topic?: string;
  /** Partition of the record in its source (the Kafka partition; 0 for files and stdin). */
  partition: number;
  offset: number;
  /**
   * The original input: the raw line/bytes as text (base64 for binary), or the decoded payload.
   * For too_large, only its first bytes (at most 256, and at most maxEventBytes).
   */
  raw: unknown;
  /** too_large: the record's size in bytes, which `raw` no longer shows. */
  size?: number;
  /** Event time when known. */
  time?: number;
}

/** Value of an aggregate in a result. */
export type AggregateValue = number | string | null;

/** Kinds of window result: the first emission is `final` (or `early` for eager sliding), later ones `update`. */
export type ResultKind = 'final' | 'update';

/** The output of a window: what an aggregation computed for one key and one window. */
export interface WindowResult {
  pipeline: string;
  key: string;
  /** Window start (inclusive) in ms. For sessions: first event time. For sliding: t_e - lookback. */
  start: number;
  /** Window end in ms: exclusive for tumbling and hopping, inclusive for session and sliding. */
  end: number;
  /** 0 for the first emission, incremented by each update accepted within grace. */
  revision: number;
  kind: ResultKind;
  /** Aggregate name -> value. */
  values: Record<string, AggregateValue>;
  /** Number of events in the window. */
  count: number;
  /**
   * Ids of (at most `evidenceLimit`) contributing events: the first to arrive for tumbling and hopping
   * windows; for sessions, those of the session that starts first come first after a merge; for sliding
   * windows, in event-time order.
   */
  evidence: string[];
  /** For sliding windows: id of the event the evaluation belongs to (or `${partition}:${offset}`). */
  trigger?: string;
  /** Watermark at which the result was emitted (+Infinity at end of input). */
  watermark: number;
}

export type Severity = 'info' | 'low' | 'medium' | 'high' | 'critical';
export const SEVERITIES: readonly Severity[] = ['info', 'low', 'medium', 'high', 'critical'];

/** An alert: a detector's judgement, with everything needed to understand and de-duplicate it. */
export interface Alert {
  /** Deterministic: hash of (detector, key, window or triggering event, revision). */
  id: string;
  detector: string;
  detectorType: string;
  pipeline: string;
  severity: Severity;
  key: string;
  window: { start: number; end: number } | null;
  revision: number;
  /** Event time of the situation (window end, or triggering event time). */
  eventTime: number;
  /** Processing time at which the alert was produced (from the injected clock). */
  detectedAt: number;
  observed: number;
  /** The bound crossed or the value expected. */
  threshold: number;
  score: number;
  explanation: string;
  evidence: string[];
  configVersion: string;
  /** Extra structured fields, detector-specific. */
  details?: Record<string, unknown>;
  /** On a cooldown summary: how many repeats of the alert `repeatsOf` were suppressed. */
  suppressed?: number;
  /** On a cooldown summary: id of the alert whose repeats were suppressed. */
  repeatsOf?: string;
  /** Raised by a detector in shadow mode: delivered on the `shadowAlerts` output only. */
  shadow?: true;
  /**
   * Evidence reference (id, or source:partition:offset) of the event whose judgement raised the alert:
   * the event judged for event detectors; for result detectors, the event a sliding window's evaluation
   * belongs to, or the last recorded event of a window when its evidence holds all its events (absent
   * otherwise); for `score` detectors, the trigger of the signal that fed them. Absent on cooldown summaries.
   */
  trigger?: string;
}

/**
 * The unit that flows through the RxJS pipeline: a batch of events and everything derived
 * from it. Operators append to the output arrays; the sink stage writes them and then
 * acknowledges the batch (which is what makes its input positions committable).
 */
export interface Batch {
  /** Valid events, in arrival order (order kept within each partition). */
  events: VEvent[];
  /** Pipeline watermark after each event (same length as events). */
  wm: Float64Array;
  /** Pipeline watermark at the end of the batch (may be above the last wm entry: idleness, end of input). */
  watermark: number;
  deadLetters: DeadLetter[];
  results: WindowResult[];
  alerts: Alert[];
  /** Alerts of detectors in shadow mode (never on the `alerts` output). */
  shadowAlerts: Alert[];
  /** Ranked queues of `model` detectors (per period, the top keys by risk). */
  queue: QueueEntry[];
  /** Per-input scores of the detectors configured to publish them (`scores: true`). */
  scores: Score[];
  /** Number of raw inputs this batch consumed, per source name (for the in = processed + dead counters). */
  inputs: Map<string, number>;
  /** Highest position covered per partition, for committing. */
  positions: Map<number, number>;
  /** Set on the last batch of a finite input. */
  final: boolean;
  /** Global id of the partition the batch's records come from; undefined for ticks and the final batch. */
  partition: number | undefined;
  /** Processing time at which the batch entered the engine. */
  ingestedAt: number;
}

/**
 * One line of a ranked queue (the `model` detector's `queue`): in the event-time period [start, end),
 * the key ranked `rank` (1 first) by the highest risk it met, leaving out keys already confirmed.
 */
export interface QueueEntry {
  pipeline: string;
  detector: string;
  start: number;
  end: number;
  rank: number;
  key: string;
  score: number;
  /** Evidence reference of the input that scored highest for the key in the period, and its time. */
  ref: string;
  time: number;
}

/** One judged input of a detector with `scores: true` (docs/strengths.md): for plots, backtests, NAB and learned scoring. */
export interface Score {
  pipeline: string;
  detector: string;
  key: string;
  time: number;
  /** Evidence reference of the scored event (id or source:partition:offset). */
  ref: string;
  observed: number;
  score: number;
  /** Signed strength comparable across detectors: 0 nothing unusual, 1 at the bound (docs/strengths.md). */
  strength?: number;
  /** True when the detector's judgement on this input was an anomaly (before cooldown and conditions). */
  anomalous: boolean;
}

/** A source of processing time. Injected everywhere; never call Date.now() in a core. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** Create an empty batch. */
export function emptyBatch(ingestedAt: number): Batch {
  return {
    events: [],
    wm: new Float64Array(0),
    watermark: -Infinity,
    deadLetters: [],
    results: [],
    alerts: [],
    shadowAlerts: [],
    queue: [],
    scores: [],
    inputs: new Map(),
    positions: new Map(),
    final: false,
    partition: undefined,
    ingestedAt,
  };
}

/** Reference to an event for evidence: its id, or where it came from. */
export function evidenceRef(e: VEvent): string {
  return e.id ?? `${e.source}:${e.partition}:${e.offset}`;
}
