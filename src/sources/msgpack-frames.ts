import type { FileHandle } from 'node:fs/promises';
import { excerptBytes } from './excerpt.js';
import type { RawRecord } from './types.js';

/**
 * Cuts a file of concatenated MessagePack values into records by reading the values' headers only:
 * lengths and element counts say where each value ends without decoding it. A value longer than
 * `maxBytes` is never read whole, nor allocated at the size its header claims: its first bytes and its
 * size become one record (`size` set), and reading resumes after it, as far along as its lengths say.
 * MessagePack has no delimiters: after a truncated value (its lengths reach beyond the end of the file)
 * nothing further can be located, so the rest of the file becomes one record (which the ingestor
 * dead-letters with the decoder's reason).
 * Memory: the window of the file being read, at most `maxBytes` plus one read of `chunkBytes`.
 */
export async function* readMessagePackBatches(fh: FileHandle, batchSize: number, maxBytes: number, chunkBytes = 1 << 20): AsyncGenerator<RawRecord[]> {
  const file = new Window(fh, (await fh.stat()).size, chunkBytes, maxBytes + Math.max(chunkBytes, 8));
  const walk = new Walk();
  let batch: RawRecord[] = [];
  while (walk.start < file.size) {
    const state = walk.run(file);
    if (state === MORE) {
      // Keep the value's bytes only while it may still fit; past the bound, only its headers are read.
      const keep = walk.p - walk.start <= maxBytes ? walk.start : walk.p;
      // A header is at most 6 bytes: even the smallest reads must bring all of it.
      await file.fill(keep, walk.p + Math.max(chunkBytes, 8));
      continue;
    }
    const start = walk.start;
    const end = state === DONE ? walk.p : file.size;
    const offset = walk.index;
    if (end - start > maxBytes) batch.push({ offset, data: await file.copy(start, start + excerptBytes(maxBytes)), size: end - start });
    else batch.push({ offset, data: file.has(start, end) ? file.slice(start, end) : await file.copy(start, end) });
    if (state === BAD) break;
    walk.reset(end, offset + 1);
    if (batch.length >= batchSize) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

const DONE = 0;
const MORE = 1;
const BAD = 2;

/** Bytes of a file from `base`: a buffer reused from read to read, grown only for a value that is kept whole. */
class Window {
  buf: Buffer;
  base = 0;
  length = 0;

  constructor(
    private readonly fh: FileHandle,
    /** The file's size, lowered if it turns out shorter than when it was measured. */
    public size: number,
    chunkBytes: number,
    /** The most the window ever needs: a value kept whole plus one read. */
    private readonly cap: number,
  ) {
    this.buf = Buffer.allocUnsafe(Math.max(16, Math.min(chunkBytes, size)));
  }

  get end(): number {
    return this.base + this.length;
  }

  /** Make the window start at `keep` and reach `upTo` (or the end of the file). */
  async fill(keep: number, upTo: number): Promise<void> {
    upTo = Math.min(upTo, this.size);
    if (keep < this.end && keep >= this.base) {
      this.buf.copy(this.buf, 0, keep - this.base, this.length);
      this.length = this.end - keep;
    } else {
      this.length = 0;
    }
    this.base = keep;
    if (upTo - keep > this.buf.length) {
      // Doubling: a large value kept whole is not copied once per read.
      const grown = Buffer.allocUnsafe(Math.max(upTo - keep, Math.min(this.buf.length * 2, this.cap)));
      this.buf.copy(grown, 0, 0, this.length);
      this.buf = grown;
    }
    while (this.end < upTo) {
      const { bytesRead } = await this.fh.read(this.buf, this.length, upTo - this.end, this.end);
      if (bytesRead === 0) {
        this.size = this.end;
        break;
      }
      this.length += bytesRead;
    }
  }

  has(start: number, end: number): boolean {
    return start >= this.base && end <= this.end;
  }

  /** A copy of bytes `[start, end)` of the window: records outlive the window's buffer, which is reused. */
  slice(start: number, end: number): Buffer {
    return Buffer.from(this.buf.subarray(start - this.base, end - this.base));
  }

  /** A copy of the file's bytes `[start, end)`, read again when the window no longer holds them. */
  async copy(start: number, end: number): Promise<Buffer> {
    end = Math.min(end, this.size);
    if (this.has(start, end)) return this.slice(start, end);
    const out = Buffer.alloc(end - start);
    let got = 0;
    while (got < out.length) {
      const { bytesRead } = await this.fh.read(out, got, out.length - got, start + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return got < out.length ? out.subarray(0, got) : out;
  }
}

/**
 * The walk over one top-level value: `p` is the next header to read and `remaining` the values still
 * to step over (a map of n entries adds 2n, an array of n adds n). It stops when the window runs out
 * and resumes where it stopped once the window is refilled.
 */
class Walk {
  start = 0;
  p = 0;
  remaining = 1;
  /** 1-based index of the value in the file: the record's offset. */
  index = 1;

  reset(start: number, index: number): void {
    this.start = start;
    this.p = start;
    this.remaining = 1;
    this.index = index;
  }

  run(w: Window): number {
    const buf = w.buf;
    const end = w.end;
    const atEof = end >= w.size;
    let p = this.p;
    let remaining = this.remaining;
    while (remaining > 0) {
      if (p >= end) {
        this.p = p;
        this.remaining = remaining;
        return atEof ? BAD : MORE;
      }
      const i = p - w.base;
      const t = buf[i];
      remaining--;
      if (t <= 0x7f || t >= 0xe0) p += 1; // fixint
      else if (t <= 0x8f) (p += 1), (remaining += (t & 0x0f) * 2); // fixmap
      else if (t <= 0x9f) (p += 1), (remaining += t & 0x0f); // fixarray
      else if (t <= 0xbf) p += 1 + (t & 0x1f); // fixstr
      else {
        const fixed = FIXED[t - 0xc0];
        if (fixed > 0) p += fixed;
        else {
          const h = -fixed;
          if (p + h > end) {
            this.p = p;
            this.remaining = remaining + 1;
            return atEof ? BAD : MORE;
          }
          const n = h === 2 || t === 0xc7 ? buf[i + 1] : h === 3 || t === 0xc8 ? buf.readUInt16BE(i + 1) : buf.readUInt32BE(i + 1);
          if (t >= 0xdc && t <= 0xdd) (p += h), (remaining += n); // array16, array32
          else if (t >= 0xde) (p += h), (remaining += 2 * n); // map16, map32
          else p += h + n; // str, bin, ext: the header (with an ext's type byte), then n bytes
        }
      }
    }
    this.p = p;
    this.remaining = 0;
    // A value whose lengths reach beyond the file is truncated.
    return p <= w.size ? DONE : BAD;
  }
}

/**
 * For type bytes 0xc0..0xdf: the whole size of values of a fixed size (nil, booleans, numbers,
 * fixext), or minus the header size of values whose length follows the type byte (str, bin, ext,
 * array, map). The unused 0xc1 is one byte, as the decoder reads it: the record is then not an object.
 */
const FIXED: readonly number[] = [
  1, 1, 1, 1, // nil, (unused), false, true
  -2, -3, -5, // bin8, bin16, bin32
  -3, -4, -6, // ext8, ext16, ext32: length, then the type byte
  5, 9, // float32, float64
  2, 3, 5, 9, // uint8..uint64
  2, 3, 5, 9, // int8..int64
  3, 4, 6, 10, 18, // fixext1..fixext16
  -2, -3, -5, // str8, str16, str32
  -3, -5, // array16, array32
  -3, -5, // map16, map32
];
