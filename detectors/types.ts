import type { QueueEntry, Score, VEvent, WindowResult } from '../src/types.js';
import type { JudgementBoard } from './board.js';
import type { KeyedState, SharedKeys } from '../src/util/keyed-state.js';

export type { Score };

/**
 * What a detector core found: one situation for one key, described completely (observed value, bound,
 * window, evidence, an explanation sentence). The detector runtime (`runtime.ts`) turns signals into
 * alerts: identity, severity, cooldown and suppression, combinations, config version.
 */
export interface Signal {
  key: string;
  /** Event time of the situation: the triggering event's time, or the window end. */
  time: number;
  /** What makes the situation unique for this detector and key: `event:<ref>` or `window:<start>:<end>`. */
  identity: string;
  /** 0, or the revision of the window result the signal was raised on (late data). */
  revision: number;
  window: { start: number; end: number } | null;
  observed: number;
  /** The bound crossed or the value expected. */
  threshold: number;
  /** Strength of the signal: how far past the bound (1 = at the bound). */
  score: number;
  /** One sentence for an analyst: what was seen, against what, over which period, on which events. */
  explanation: string;
  /** Ids (or positions) of the contributing events, bounded. */
  evidence: string[];
  details?: Record<string, unknown>;
  /**
   * Evidence reference of the event whose judgement raised the signal. Left out by most cores: the
   * runtime sets it (the event being judged; for window results, see `Alert.trigger`).
   */
  trigger?: string;
}

/** Where a detector core's findings go. */
export interface Emit {
  signal(s: Signal): void;
  /**
   * Before building a signal of `key` at `time` for the event being judged: when that signal would
   * raise no alert (its cooldown is open, or its `requires` are unmet, or the detector does not emit)
   * and feeds no other detector, the runtime counts it as signal() would and returns true, and the core
   * builds nothing; false: the core builds the signal and passes it to signal(). Optional: a core
   * without it, or given an Emit without it, always builds its signals.
   */
  elide?(key: string, time: number): boolean;
  /**
   * Every judged input, whether it signals or not (allocation-free): `observed` is the value judged,
   * `score` the detector's own measure (a z-score, a count...), `strength` the signed, comparable
   * strength (0: nothing unusual, 1: at the detector's bound, above 1: past it, negative: unusual the
   * other way; see docs/strengths.md). Event detectors leave `ref` out (the runtime knows the event
   * being judged); result detectors give the window (`window:<start>:<end>`).
   */
  judged(key: string, time: number, observed: number, score: number, strength: number, anomalous: boolean, ref?: string): void;
  /** Lines of a ranked queue (the `queue` output); the entries are copied. */
  rank?(entries: readonly QueueEntry[]): void;
}

/**
 * The strengths the other detectors of the pipeline gave the input being judged now (event detectors
 * are judged in dependency order, so a detector sees those it depends on). NaN when a detector did not
 * judge the input (it did not match, or it judges window results).
 */
export interface PeerJudgements {
  /** Index of a detector of the pipeline, or undefined. */
  index(name: string): number | undefined;
  strength(i: number): number;
  observed(i: number): number;
  /** 1 when the detector judged the input past its bound (`anomalous`), 0 when not, NaN when it did not judge it. */
  crossed(i: number): number;
}

/** What a detector core receives besides its own config. */
export interface DetectorContext {
  pipeline: string;
  /** Field(s) the pipeline keys by, for explanations ("card 4242…"). */
  keyLabel: string;
  /** Names of the pipeline's aggregates (empty for a pipeline without a window). */
  aggregates: readonly string[];
  /** Window kind of the pipeline (`none` without a window); decides how windows are written in explanations. */
  windowType: string;
  /** How many contributing event ids a signal carries at most. */
  evidenceLimit: number;
  /** Whether an alert may show the values of this input field (the pipeline's `alertFields`); all when absent. */
  mayShow?: (field: string) => boolean;
  /** The strengths the pipeline's other detectors gave the input being judged (set by the runtime). */
  peers?: PeerJudgements;
  /** The run's reference tables by name (labels, entity reports), for detectors that read them; absent when validating. */
  tables?: ReadonlyMap<string, DetectorTable>;
  /** What the detectors of other pipelines of the task judged about other entities (see board.ts). */
  board?: JudgementBoard;
  /** The key index the per-key states of the pipeline's event detectors share (set by the runtime; see SharedKeys). */
  keys?: SharedKeys;
}

/** A reference table as detectors read it (event-time versions; see docs/tables.md). */
export interface DetectorTable {
  /** The row of `key` valid at event time `t`. */
  lookup(key: string, t: number): Readonly<Record<string, unknown>> | undefined;
  /** How many versions of `key` became valid in the event-time span (from, to] (tables with `time`). */
  count(key: string, from: number, to: number): number;
}

/** State size of a core, for metrics and the bounds it enforces. */
export interface CoreStats {
  /** Keys currently held. */
  keys: number;
  /** Keys dropped because the cap was reached, since the start (cumulative). */
  evicted: number;
}

/**
 * A detector core: pure and deterministic, no I/O and no clock. Event detectors receive the events of
 * their pipeline in event-time order (`add`, each event once the watermark has passed it); result
 * detectors receive window results (`addResults`). Both see the watermark advance (`advance`), which is
 * when state expires. The state is plain data so that it survives checkpoints bit for bit.
 */
export interface DetectorCore {
  /** `signal`: fed with the signals of other detectors of the pipeline (see `score`), in the shape of events. */
  readonly input: 'event' | 'result' | 'signal';
  add?(key: string, e: VEvent, emit: Emit): void;
  addResults?(results: readonly WindowResult[], emit: Emit): void;
  /** The watermark moved to `w`: expire state that no later input can need. */
  advance(w: number, emit: Emit): void;
  stats(): CoreStats;
  /** The whole state (hot reloads, and checkpoints of cores without {@link perKey}). */
  snapshot(): unknown;
  restore(state: unknown): void;
  /** Present when the state is per key: checkpoints then write only the keys that changed. */
  readonly perKey?: PerKeyState;
}

/**
 * The per-key state of a core, as checkpoints write it: each key's state encoded apart (an entry of the
 * key's checkpoint field), and what is not per key in the meta part. `snapshot`/`restore` of the core
 * stay the whole-state form of the same data.
 */
export interface PerKeyState<S = any> {
  readonly state: KeyedState<S>;
  /** A key's state as plain data (a copy: the live state goes on changing). */
  encode(s: S): unknown;
  /** Back from `encode`; a VIGIE_ERR_SNAPSHOT error for a bad entry. */
  decode(v: unknown): S;
  /** Names the core in errors. */
  readonly what: string;
  /** What the core keeps beside its keys (counters, spans); absent: nothing. */
  rest?(): unknown;
  restoreRest?(rest: unknown): void;
}
