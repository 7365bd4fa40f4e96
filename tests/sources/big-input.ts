import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export const MB = 1 << 20;

/** A run of `bytes` bytes of 'x', without a newline. */
export interface Filler {
  filler: number;
}

export type Part = string | Uint8Array | Filler;

/**
 * The parts as a stream of chunks, fillers in 1 MB chunks. One chunk buffer is yielded again and
 * again: a 200 MB line never exists in the test's memory, so whatever memory grows is the reader's.
 */
export async function* chunks(parts: readonly Part[], onChunk?: () => void): AsyncGenerator<Buffer> {
  const block = Buffer.alloc(MB, 'x');
  for (const p of parts) {
    if (typeof p === 'string') yield Buffer.from(p, 'utf8');
    else if (p instanceof Uint8Array) yield Buffer.from(p);
    else {
      for (let left = p.filler; left > 0; left -= MB) {
        yield left >= MB ? block : block.subarray(0, left);
        onChunk?.();
      }
    }
  }
}

/** Write the parts to a file, streamed. */
export async function writeParts(path: string, parts: readonly Part[]): Promise<void> {
  // Buffers are copied: the write stream may still hold the shared block when the next one is yielded.
  const copies = (async function* () {
    for await (const c of chunks(parts)) yield Buffer.from(c);
  })();
  await pipeline(Readable.from(copies), createWriteStream(path));
}
