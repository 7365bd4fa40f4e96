import { bytesExcerpt, excerptBytes } from './excerpt.js';
import type { RawRecord } from './types.js';

const NL = 0x0a;
const CR = 0x0d;
/** The UTF-8 byte-order mark some editors and exporters put before the first line. */
const BOM = [0xef, 0xbb, 0xbf];

/**
 * Split a byte stream into lines, yielded in batches of at most `batchSize` records.
 * Offsets are 1-based line numbers so dead letters point at the line in the file; blank lines are skipped.
 * A line longer than `maxBytes` is never held whole: its first bytes and its size become one record
 * (`size` set), which the ingestor dead-letters as too_large, and the rest of it is only counted.
 * A UTF-8 byte-order mark at the very start of the stream is dropped; anywhere else it is data.
 * Hand-split rather than readline: readline emits one event per line, which costs more than the parsing.
 */
export async function* readLineBatches(stream: AsyncIterable<Buffer | string>, batchSize: number, maxBytes: number): AsyncGenerator<RawRecord[]> {
  const lines = new LineSplitter(maxBytes);
  let batch: RawRecord[] = [];
  for await (const chunk of stream) {
    lines.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk, batch);
    if (batch.length >= batchSize) {
      let i = 0;
      for (; i + batchSize <= batch.length; i += batchSize) yield batch.slice(i, i + batchSize);
      batch = batch.slice(i);
    }
  }
  lines.end(batch);
  if (batch.length > 0) yield batch;
}

/**
 * The state between chunks: the start of the stream (for a byte-order mark split across chunks) and the
 * line that a chunk left unfinished. Memory: at most `maxBytes + 1` bytes of a line (its CR may follow),
 * never the chunks themselves, which are copied from and let go.
 */
class LineSplitter {
  private line = 0;
  /** First bytes of the stream while fewer than a BOM's length have arrived; undefined once past them. */
  private lead: Buffer | undefined = Buffer.alloc(0);
  /** Bytes of the unfinished line, while it fits. */
  private held = Buffer.alloc(0);
  private heldLength = 0;
  /** Over the bound: only counting. */
  private skipping = false;
  private excerpt = '';
  private size = 0;
  private lastByte = -1;

  constructor(private readonly maxBytes: number) {}

  push(chunk: Buffer, out: RawRecord[]): void {
    if (this.lead !== undefined) {
      const lead = this.lead.length === 0 ? chunk : Buffer.concat([this.lead, chunk]);
      if (lead.length < BOM.length && BOM.slice(0, lead.length).every((b, i) => lead[i] === b)) {
        this.lead = Buffer.from(lead);
        return;
      }
      this.lead = undefined;
      chunk = lead[0] === BOM[0] && lead[1] === BOM[1] && lead[2] === BOM[2] ? lead.subarray(BOM.length) : lead;
    }
    let from = 0;
    for (;;) {
      const nl = chunk.indexOf(NL, from);
      if (nl < 0) break;
      if (this.heldLength === 0 && !this.skipping) this.whole(chunk, from, nl, out);
      else {
        this.carry(chunk, from, nl);
        this.finish(out);
      }
      from = nl + 1;
    }
    if (from < chunk.length) this.carry(chunk, from, chunk.length);
  }

  /** The last line, when the stream does not end with a newline. */
  end(out: RawRecord[]): void {
    if (this.lead !== undefined) {
      // Fewer bytes than a BOM in the whole stream: they are data.
      const lead = this.lead;
      this.lead = undefined;
      this.push(lead, out);
    }
    if (this.heldLength > 0 || this.skipping) this.finish(out);
  }

  /** A line found whole in one chunk: the usual case, decoded without copying. */
  private whole(chunk: Buffer, from: number, nl: number, out: RawRecord[]): void {
    this.line++;
    const end = nl > from && chunk[nl - 1] === CR ? nl - 1 : nl;
    if (end - from > this.maxBytes) {
      out.push({ offset: this.line, data: bytesExcerpt(chunk, from, end, excerptBytes(this.maxBytes)), size: end - from });
      return;
    }
    const s = chunk.toString('utf8', from, end);
    if (s.trim().length > 0) out.push({ offset: this.line, data: s });
  }

  /** Keep `chunk[from, to)` as part of the unfinished line, or only count it once the line is over the bound. */
  private carry(chunk: Buffer, from: number, to: number): void {
    if (to === from) return;
    this.lastByte = chunk[to - 1];
    if (this.skipping) {
      this.size += to - from;
      return;
    }
    const length = this.heldLength + to - from;
    // One byte of slack: a line exactly at the bound may still have its CR to come.
    if (length > this.maxBytes + 1) {
      const limit = excerptBytes(this.maxBytes);
      // The excerpt comes from the held bytes and, when they are fewer, from the start of this piece.
      this.hold(chunk, from, Math.min(to, from + Math.max(0, limit - this.heldLength)));
      this.excerpt = bytesExcerpt(this.held, 0, this.heldLength, limit);
      this.skipping = true;
      this.size = length;
      this.heldLength = 0;
      return;
    }
    this.hold(chunk, from, to);
  }

  private hold(chunk: Buffer, from: number, to: number): void {
    const length = this.heldLength + to - from;
    if (length > this.held.length) {
      const grown = Buffer.allocUnsafe(Math.min(Math.max(length, this.held.length * 2, 1024), this.maxBytes + 1));
      this.held.copy(grown, 0, 0, this.heldLength);
      this.held = grown;
    }
    chunk.copy(this.held, this.heldLength, from, to);
    this.heldLength = length;
  }

  /** The unfinished line is complete (a newline, or the end of the stream). */
  private finish(out: RawRecord[]): void {
    this.line++;
    const cr = this.lastByte === CR ? 1 : 0;
    if (this.skipping) {
      out.push({ offset: this.line, data: this.excerpt, size: this.size - cr });
      this.skipping = false;
      this.excerpt = '';
      this.size = 0;
    } else {
      const end = this.heldLength - cr;
      if (end > this.maxBytes) out.push({ offset: this.line, data: bytesExcerpt(this.held, 0, end, excerptBytes(this.maxBytes)), size: end });
      else {
        const s = this.held.toString('utf8', 0, end);
        if (s.trim().length > 0) out.push({ offset: this.line, data: s });
      }
      this.heldLength = 0;
    }
    this.lastByte = -1;
  }
}
