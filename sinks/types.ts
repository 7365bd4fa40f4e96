import type { Alert, DeadLetter, QueueEntry, Score, WindowResult } from '../src/types.js';

/** What a sink can be asked to write. */
export const OUTPUT_KINDS = ['alerts', 'results', 'deadLetters', 'scores', 'shadowAlerts', 'queue'] as const;
export type OutputKind = (typeof OUTPUT_KINDS)[number];

/** The outputs of one engine batch, handed to every sink once. */
export interface SinkBatch {
  alerts: Alert[];
  results: WindowResult[];
  deadLetters: DeadLetter[];
  /** Per-input scores of detectors configured with `scores: true`. */
  scores: Score[];
  /** Alerts of detectors in shadow mode: written only by sinks that select this output. */
  shadowAlerts: Alert[];
  /** Ranked queues of `model` detectors: per period, the top keys by risk. */
  queue: QueueEntry[];
}

/**
 * A destination for outputs. `write` resolves when the sink has done what it promises:
 * for an acknowledging sink, the data is durable (flushed to the OS, acknowledged by a server);
 * the engine commits input positions only after every acknowledging sink resolved.
 */
export interface Sink {
  readonly name: string;
  readonly type: string;
  /** True when a resolved write means the data is durable. */
  readonly acknowledges: boolean;
  /** Which outputs this sink receives. */
  readonly outputs: ReadonlySet<OutputKind>;
  write(batch: SinkBatch): Promise<void>;
  /** False while the sink cannot write (its destination is down and it is retrying); for /readyz and `vigie_sink_up`. */
  healthy?(): boolean;
  /** Share (0..1) of the sink's bounded buffer of pending writes in use; for `vigie_sink_buffer_fill_ratio`. */
  bufferFill?(): number;
  /** Flush and release resources; idempotent. */
  close(): Promise<void>;
}

/** What a sink factory receives besides its own config. */
export interface SinkContext {
  /** Directory relative paths are resolved against (the config file's directory, or an --out dir). */
  baseDir: string;
  /** Writable stream for console output (process.stdout by default). */
  stdout: NodeJS.WritableStream;
  /**
   * A person reads the console (`vigie run` on a terminal, or `--log-format pretty`): console sinks
   * print each alert as a short entry rather than as one dense line made for grep.
   */
  readable?: boolean;
  logger: import('pino').Logger;
  /** The engine's metrics, for sinks that count retries or other sink-specific events. */
  metrics?: import('../src/metrics/registry.js').EngineMetrics;
  /** Wall clock in ms, for sinks that rotate or expire what they store (Date.now by default; tests set it). */
  now?: () => number;
}
