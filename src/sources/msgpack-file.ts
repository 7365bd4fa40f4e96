import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Unpackr } from 'msgpackr';
import { z } from 'zod';
import { mappingShape } from './mapping.js';
import type { RawBatch, RawRecord, Source, SourceContext } from './types.js';

export const type = 'msgpack-file';

/**
 * A file of concatenated MessagePack values, one per event (one partition).
 * Records are split by decoding; each is handed on as its own bytes so a bad one is dead-lettered as it was.
 * Example: `{ name: archive, type: msgpack-file, path: data/events.msgpack }`
 */
export const schema = z.strictObject({
  name: z.string().min(1).describe('Source name, unique in the config.'),
  type: z.literal(type),
  path: z.string().min(1).describe('Path of the file, relative to the config file.'),
  ...mappingShape,
});
export type Config = z.infer<typeof schema>;

const splitter = new Unpackr({ mapsAsObjects: true, useRecords: false });

/**
 * Cut a buffer into the byte ranges of its top-level MessagePack values. MessagePack has no delimiters:
 * after an undecodable value nothing further can be located, so the remainder becomes one record
 * (which the ingestor dead-letters with the decoder's reason).
 */
export function splitMessagePack(buf: Uint8Array): Uint8Array[] {
  const parts: Uint8Array[] = [];
  let consumed = 0;
  try {
    splitter.unpackMultiple(buf, (_value: unknown, start?: number, end?: number) => {
      parts.push(buf.subarray(start as number, end as number));
      consumed = end as number;
    });
  } catch {
    if (consumed < buf.byteLength) parts.push(buf.subarray(consumed));
  }
  return parts;
}

/** Build a MessagePack file source. */
export function create(config: Config, ctx: SourceContext): Source {
  const path = resolve(ctx.baseDir, config.path);
  return {
    name: config.name,
    type,
    format: 'msgpack',
    mapping: config,
    partitions: () => [0],
    async *batches(): AsyncGenerator<RawBatch> {
      const parts = splitMessagePack(await readFile(path));
      if (parts.length === 0) {
        yield { partition: 0, records: [], end: true };
        return;
      }
      for (let i = 0; i < parts.length; i += ctx.batchSize) {
        const records: RawRecord[] = [];
        const stop = Math.min(parts.length, i + ctx.batchSize);
        for (let j = i; j < stop; j++) records.push({ offset: j + 1, data: parts[j] });
        yield { partition: 0, records, end: stop === parts.length };
      }
    },
    async close() {},
  };
}
