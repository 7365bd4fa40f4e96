import { StringDecoder } from 'node:string_decoder';
import type { RawRecord } from './types.js';

/**
 * Split a byte stream into lines, yielded in batches of at most `batchSize` records.
 * Offsets are 1-based line numbers so dead letters point at the line in the file; blank lines are skipped.
 * Hand-split rather than readline: readline emits one event per line, which costs more than the parsing.
 */
export async function* readLineBatches(stream: AsyncIterable<Buffer | string>, batchSize: number): AsyncGenerator<RawRecord[]> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  let line = 0;
  let batch: RawRecord[] = [];
  for await (const chunk of stream) {
    const text = rest + (typeof chunk === 'string' ? chunk : decoder.write(chunk));
    let from = 0;
    for (;;) {
      const nl = text.indexOf('\n', from);
      if (nl < 0) break;
      line++;
      let s = text.slice(from, nl);
      if (s.endsWith('\r')) s = s.slice(0, -1);
      if (s.trim().length > 0) batch.push({ offset: line, data: s });
      from = nl + 1;
      if (batch.length >= batchSize) {
        yield batch;
        batch = [];
      }
    }
    rest = text.slice(from);
  }
  rest += decoder.end();
  if (rest.trim().length > 0) {
    line++;
    batch.push({ offset: line, data: rest.endsWith('\r') ? rest.slice(0, -1) : rest });
  }
  if (batch.length > 0) yield batch;
}
