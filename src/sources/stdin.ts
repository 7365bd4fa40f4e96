import { z } from 'zod';
import { mappingShape } from './mapping.js';
import { readLineBatches } from './lines.js';
import type { RawBatch, Source, SourceContext } from './types.js';

export const type = 'stdin';

/**
 * JSON objects, one per line, on standard input (one partition). Batches are cut at `batchSize`
 * records or when input pauses, so a slow producer still sees results promptly.
 * Example: `{ name: in, type: stdin }`
 */
export const schema = z
  .strictObject({
    name: z.string().min(1).describe('Source name, unique in the config.'),
    type: z.literal(type),
    ...mappingShape,
  })
  .describe(
    'One JSON object per line on standard input. A UTF-8 byte-order mark at the very start of the input is ignored; CRLF line ends are accepted; blank lines are skipped. A line longer than `maxEventBytes` is dead-lettered as `too_large` without ever being held whole.',
  );
export type Config = z.infer<typeof schema>;

/** Build a stdin source. */
export function create(config: Config, ctx: SourceContext): Source {
  return {
    name: config.name,
    type,
    format: 'json',
    mapping: config,
    partitions: () => [0],
    async *batches(): AsyncGenerator<RawBatch> {
      for await (const records of readLineBatches(ctx.stdin as AsyncIterable<Buffer>, ctx.batchSize, config.maxEventBytes)) {
        yield { partition: 0, records, end: false };
      }
      yield { partition: 0, records: [], end: true };
    },
    async close() {},
  };
}
