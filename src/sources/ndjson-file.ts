import { createReadStream } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { mappingShape } from './mapping.js';
import { readLineBatches } from './lines.js';
import type { RawBatch, Source, SourceContext } from './types.js';

export const type = 'ndjson-file';

/**
 * A file of JSON objects, one per line (one partition, read as fast as the engine takes it).
 * Example: `{ name: history, type: ndjson-file, path: data/events.ndjson, time: { field: ts } }`
 */
export const schema = z
  .strictObject({
    name: z.string().min(1).describe('Source name, unique in the config; used in metrics, dead letters and pipeline `sources` lists.'),
    type: z.literal(type),
    path: z.string().min(1).describe('Path of the file, relative to the config file.'),
    ...mappingShape,
  })
  .describe(
    'One JSON object per line. A UTF-8 byte-order mark at the very start of the file is ignored; CRLF line ends are accepted; blank lines are skipped. A line longer than `maxEventBytes` is dead-lettered as `too_large` without ever being held whole.',
  );
export type Config = z.infer<typeof schema>;

/** Build an NDJSON file source. */
export function create(config: Config, ctx: SourceContext): Source {
  const path = resolve(ctx.baseDir, config.path);
  let stream: ReturnType<typeof createReadStream> | undefined;
  return {
    name: config.name,
    type,
    format: 'json',
    mapping: config,
    partitions: () => [0],
    async *batches(): AsyncGenerator<RawBatch> {
      stream = createReadStream(path, { highWaterMark: 1 << 20 });
      let pending: RawBatch | undefined;
      // Hold one batch back so that the last one can carry `end`.
      for await (const records of readLineBatches(stream, ctx.batchSize, config.maxEventBytes)) {
        if (pending) yield pending;
        pending = { partition: 0, records, end: false };
      }
      yield pending ? { ...pending, end: true } : { partition: 0, records: [], end: true };
    },
    async close() {
      stream?.destroy();
    },
  };
}
