/**
 * Null sink: discards everything and counts it. For benchmarks (engine cost without I/O) and tests.
 *
 * Example:
 * ```yaml
 * sinks:
 *   - name: discard
 *     type: "null"
 *     outputs: [alerts, results, deadLetters]
 * ```
 */
import { z } from 'zod';
import { OUTPUT_KINDS, type OutputKind, type Sink, type SinkBatch, type SinkContext } from './types.js';
import { internalError } from '../src/errors.js';

export const type = 'null';

export const summary = 'Discards every record, counting what it received; for benchmarks and tests.';

export const example = `sinks:
  - name: discard
    type: "null"
    outputs: [alerts, results, deadLetters]
`;

export const schema = z
  .strictObject({
    name: z.string().min(1).describe('Name of this sink, unique among sinks; used in logs and as the `sink` metric label.'),
    type: z.literal(type).describe('Selects the null sink (quote it in YAML: `"null"`, since a bare null is not a string).'),
    outputs: z
      .array(z.enum(OUTPUT_KINDS))
      .min(1)
      .default(['alerts'])
      .describe('Which outputs to accept (and count): `alerts`, `results`, `deadLetters`, `scores`, `shadowAlerts`, `queue`. Defaults to alerts only.'),
  })
  .describe('Discards records. Acknowledges immediately, so it never holds back commits.');

export type NullSinkConfig = z.output<typeof schema>;

/** Counts of what a null sink accepted since it was created. */
export interface NullSinkCounts {
  batches: number;
  alerts: number;
  results: number;
  deadLetters: number;
  scores: number;
  shadowAlerts: number;
  queue: number;
}

/** A sink that discards; `received` exposes the counts. */
export interface NullSink extends Sink {
  readonly received: Readonly<NullSinkCounts>;
}

/** Create a null sink. The context is unused: there is nothing to write to. */
export function create(config: NullSinkConfig, _ctx?: SinkContext): NullSink {
  return new NullSinkImpl(config);
}

class NullSinkImpl implements NullSink {
  readonly name: string;
  readonly type = type;
  /** Nothing to lose: a discarded record is as delivered as it will ever be. */
  readonly acknowledges = true;
  readonly outputs: ReadonlySet<OutputKind>;
  private readonly counts: NullSinkCounts = { batches: 0, alerts: 0, results: 0, deadLetters: 0, scores: 0, shadowAlerts: 0, queue: 0 };
  private closed = false;

  constructor(config: NullSinkConfig) {
    this.name = config.name;
    this.outputs = new Set(config.outputs);
  }

  get received(): Readonly<NullSinkCounts> {
    // A copy, so a test's snapshot does not change under it as later batches arrive.
    return { ...this.counts };
  }

  write(batch: SinkBatch): Promise<void> {
    if (this.closed) return Promise.reject(internalError(`null sink \"${this.name}\" is closed`));
    this.counts.batches++;
    if (this.outputs.has('alerts')) this.counts.alerts += batch.alerts.length;
    if (this.outputs.has('results')) this.counts.results += batch.results.length;
    if (this.outputs.has('deadLetters')) this.counts.deadLetters += batch.deadLetters.length;
    if (this.outputs.has('scores')) this.counts.scores += batch.scores.length;
    if (this.outputs.has('shadowAlerts')) this.counts.shadowAlerts += batch.shadowAlerts.length;
    if (this.outputs.has('queue')) this.counts.queue += batch.queue.length;
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}
