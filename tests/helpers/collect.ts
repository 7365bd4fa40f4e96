import type { Sink, SinkBatch, OutputKind } from '../../sinks/types.js';
import type { Alert, DeadLetter, WindowResult } from '../../src/types.js';
import { parseConfig, type LoadedConfig } from '../../src/config/load.js';

/** A sink that keeps everything in memory, for assertions. */
export interface CollectSink extends Sink {
  alerts: Alert[];
  results: WindowResult[];
  deadLetters: DeadLetter[];
  writes: number;
}

export function collectSink(name = 'collect'): CollectSink {
  const sink: CollectSink = {
    name,
    type: 'collect',
    acknowledges: true,
    outputs: new Set<OutputKind>(['alerts', 'results', 'deadLetters']),
    alerts: [],
    results: [],
    deadLetters: [],
    writes: 0,
    async write(b: SinkBatch) {
      sink.writes++;
      sink.alerts.push(...b.alerts);
      sink.results.push(...b.results);
      sink.deadLetters.push(...b.deadLetters);
    },
    async close() {},
  };
  return sink;
}

/** Parse a YAML config given inline. */
export function config(yaml: string, file = 'test.yaml'): LoadedConfig {
  return parseConfig(yaml, file);
}

/** Canonical, order-free form of results for set comparison. */
export function resultSet(results: WindowResult[]): string[] {
  return results.map((r) => JSON.stringify([r.pipeline, r.key, r.start, r.end, r.revision, r.count, r.values])).sort();
}
