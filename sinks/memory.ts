import type { Alert, DeadLetter, QueueEntry, Score, WindowResult } from '../src/types.js';
import { OUTPUT_KINDS, type OutputKind, type Sink, type SinkBatch } from './types.js';

/** A sink that keeps every output in memory. */
export interface MemorySink extends Sink {
  alerts: Alert[];
  results: WindowResult[];
  deadLetters: DeadLetter[];
  scores: Score[];
  shadowAlerts: Alert[];
  queue: QueueEntry[];
  /** Number of batches written. */
  writes: number;
}

/**
 * Keeps what it receives in arrays: for embedding the engine in a program (evaluations, notebooks)
 * and for tests. Not addressable from config files. Acknowledges at once: memory is as durable as
 * the caller makes it.
 */
export function memorySink(name = 'memory', outputs: readonly OutputKind[] = OUTPUT_KINDS): MemorySink {
  const selected = new Set(outputs);
  const sink: MemorySink = {
    name,
    type: 'memory',
    acknowledges: true,
    outputs: selected,
    alerts: [],
    results: [],
    deadLetters: [],
    scores: [],
    shadowAlerts: [],
    queue: [],
    writes: 0,
    async write(b: SinkBatch) {
      sink.writes++;
      if (selected.has('alerts')) sink.alerts.push(...b.alerts);
      if (selected.has('results')) sink.results.push(...b.results);
      if (selected.has('deadLetters')) sink.deadLetters.push(...b.deadLetters);
      if (selected.has('scores')) sink.scores.push(...b.scores);
      if (selected.has('shadowAlerts')) sink.shadowAlerts.push(...b.shadowAlerts);
      if (selected.has('queue')) sink.queue.push(...b.queue);
    },
    async close() {},
  };
  return sink;
}
