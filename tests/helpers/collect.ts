import { memorySink, type MemorySink } from '../../sinks/memory.js';
import type { WindowResult } from '../../src/types.js';
import { parseConfig, type LoadedConfig } from '../../src/config/load.js';

/** A sink that keeps everything in memory, for assertions. */
export type CollectSink = MemorySink;

export function collectSink(name = 'collect'): CollectSink {
  return memorySink(name);
}

/** Parse a YAML config given inline. */
export function config(yaml: string, file = 'test.yaml'): LoadedConfig {
  return parseConfig(yaml, file);
}

/** Canonical, order-free form of results for set comparison. */
export function resultSet(results: WindowResult[]): string[] {
  return results.map((r) => JSON.stringify([r.pipeline, r.key, r.start, r.end, r.revision, r.count, r.values])).sort();
}
