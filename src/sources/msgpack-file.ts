import { open, type FileHandle } from 'node:fs/promises';
import { resolve } from 'node:path';
import { z } from 'zod';
import { mappingShape } from './mapping.js';
import { readMessagePackBatches } from './msgpack-frames.js';
import type { RawBatch, Source, SourceContext } from './types.js';

export const type = 'msgpack-file';

/**
 * A file of concatenated MessagePack values, one per event (one partition).
 * Records are cut by their headers and handed on as their own bytes, so a bad one is dead-lettered as it was.
 * Example: `{ name: archive, type: msgpack-file, path: data/events.msgpack }`
 */
export const schema = z
  .strictObject({
    name: z.string().min(1).describe('Source name, unique in the config.'),
    type: z.literal(type),
    path: z.string().min(1).describe('Path of the file, relative to the config file.'),
    ...mappingShape,
  })
  .describe(
    'Concatenated MessagePack values, one per event, cut by their headers. A value longer than `maxEventBytes` is dead-lettered as `too_large` without being read whole; after a truncated value, the rest of the file is one dead letter.',
  );
export type Config = z.infer<typeof schema>;

/** Build a MessagePack file source. */
export function create(config: Config, ctx: SourceContext): Source {
  const path = resolve(ctx.baseDir, config.path);
  let fh: FileHandle | undefined;
  return {
    name: config.name,
    type,
    format: 'msgpack',
    mapping: config,
    partitions: () => [0],
    async *batches(): AsyncGenerator<RawBatch> {
      fh = await open(path, 'r');
      try {
        let pending: RawBatch | undefined;
        // Hold one batch back so that the last one can carry `end`.
        for await (const records of readMessagePackBatches(fh, ctx.batchSize, config.maxEventBytes)) {
          if (pending) yield pending;
          pending = { partition: 0, records, end: false };
        }
        yield pending ? { ...pending, end: true } : { partition: 0, records: [], end: true };
      } finally {
        await fh.close().catch(() => undefined);
        fh = undefined;
      }
    },
    async close() {
      await fh?.close().catch(() => undefined);
    },
  };
}
