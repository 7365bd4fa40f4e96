/**
 * Sink registry: the explicit list of sink types. Adding a sink means importing its module here;
 * nothing registers itself, so the set of types is visible in one place and checked at startup.
 */
import { z } from 'zod';
import * as consoleSink from './console.js';
import * as jsonlFile from './jsonl-file.js';
import * as kafkaSink from './kafka.js';
import * as nullSink from './null.js';
import * as redisSink from './redis.js';
import type { Sink, SinkContext } from './types.js';
import { internalError } from '../src/errors.js';

/** What every sink module exports. */
export interface SinkModule<S extends z.ZodType = z.ZodType> {
  /** The `type` value that selects this sink in the configuration. */
  readonly type: string;
  /** Config schema; its `.describe()` texts are the user documentation. */
  readonly schema: S;
  /** One-line summary for the docs. */
  readonly summary?: string;
  /** YAML example for the docs. */
  readonly example?: string;
  create(config: z.output<S>, ctx: SinkContext): Sink;
}

/** Build a type -> module map; throws when two modules claim the same type. */
export function buildSinkRegistry(modules: readonly SinkModule[]): ReadonlyMap<string, SinkModule> {
  const registry = new Map<string, SinkModule>();
  for (const mod of modules) {
    if (registry.has(mod.type)) throw internalError(`duplicate sink type "${mod.type}" in the sink registry`);
    registry.set(mod.type, mod);
  }
  return registry;
}

const MODULES = [consoleSink, jsonlFile, kafkaSink, nullSink, redisSink] as const;

/** All sink types, by `type`. */
export const sinkRegistry: ReadonlyMap<string, SinkModule> = buildSinkRegistry(MODULES as readonly SinkModule[]);

/** Schema of one entry of `sinks:`, discriminated by `type`. */
export const sinkSchema = z.discriminatedUnion('type', [consoleSink.schema, jsonlFile.schema, kafkaSink.schema, nullSink.schema, redisSink.schema]);

/** A validated sink configuration (defaults applied). */
export type SinkConfig = z.output<typeof sinkSchema>;
/** A sink configuration as written by the user (defaults optional). */
export type SinkConfigInput = z.input<typeof sinkSchema>;

/** Create the sink a validated configuration describes. */
export function createSink(config: SinkConfig, ctx: SinkContext): Sink {
  const mod = sinkRegistry.get(config.type);
  if (mod === undefined) throw internalError(`unknown sink type "${String(config.type)}"`);
  return mod.create(config, ctx);
}
