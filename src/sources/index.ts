import { z } from 'zod';
import { buildRegistry } from '../util/registry.js';
import * as generator from './generator.js';
import * as ndjsonFile from './ndjson-file.js';
import * as msgpackFile from './msgpack-file.js';
import * as stdin from './stdin.js';
import * as kafka from './kafka.js';
import type { Source, SourceContext } from './types.js';
import { internalError } from '../errors.js';

interface SourceModule<C> {
  type: string;
  schema: z.ZodType<C>;
  create(config: C, ctx: SourceContext): Source;
}

/** Every source, by type. */
export const SOURCES = buildRegistry<SourceModule<any>>('source', [generator, ndjsonFile, msgpackFile, stdin, kafka]);

/** Config of one source: chosen by `type`. */
export const sourceSchema = z.discriminatedUnion('type', [generator.schema, ndjsonFile.schema, msgpackFile.schema, stdin.schema, kafka.schema]);
export type SourceConfig = z.infer<typeof sourceSchema>;

/** Build the source a config names. */
export function createSource(config: SourceConfig, ctx: SourceContext): Source {
  const m = SOURCES.get(config.type);
  if (m === undefined) throw internalError(`unknown source type "${config.type}"`);
  return m.create(config, ctx);
}
