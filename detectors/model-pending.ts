/**
 * The events a `model` detector keeps until their label is decided (`learnAfter` later): a FIFO of
 * (label id, time, features) rows stored in fixed-size chunks of one Float64Array each, reused once
 * read, so that keeping an event for days allocates no object per event (the features of a week of
 * payments would otherwise be millions of small arrays for the garbage collector to promote and mark).
 */

/** Rows per chunk. */
const CHUNK = 4096;

interface Chunk {
  ids: string[];
  times: Float64Array;
  /** Row r's features at [r * width, (r + 1) * width). */
  x: Float64Array;
}

export class PendingRows {
  private readonly chunks: Chunk[] = [];
  /** Emptied chunks, reused before allocating. */
  private readonly spare: Chunk[] = [];
  /** Next row to read in chunks[0]. */
  private first = 0;
  /** Next row to write in the last chunk. */
  private end = CHUNK;
  private count = 0;

  constructor(readonly width: number) {}

  get size(): number {
    return this.count;
  }

  /** Append a row: its label id, time and features (`x`, copied). */
  push(id: string, t: number, x: ArrayLike<number>): void {
    if (this.end === CHUNK) {
      this.chunks.push(this.spare.pop() ?? { ids: new Array<string>(CHUNK).fill(''), times: new Float64Array(CHUNK), x: new Float64Array(CHUNK * this.width) });
      this.end = 0;
    }
    const c = this.chunks[this.chunks.length - 1];
    const r = this.end++;
    c.ids[r] = id;
    c.times[r] = t;
    const w = this.width;
    const o = r * w;
    for (let i = 0; i < w; i++) c.x[o + i] = x[i];
    this.count++;
  }

  /** Time of the oldest row (undefined when empty). */
  oldestTime(): number | undefined {
    return this.count === 0 ? undefined : this.chunks[0].times[this.first];
  }

  /** Label id of the oldest row. */
  oldestId(): string {
    return this.chunks[0].ids[this.first];
  }

  /** The features of the oldest row: `oldestX()` holds them from `oldestOffset()` on. */
  oldestX(): Float64Array {
    return this.chunks[0].x;
  }

  oldestOffset(): number {
    return this.first * this.width;
  }

  /** Drop the oldest row (after reading it). */
  shift(): void {
    if (this.count === 0) return;
    const c = this.chunks[0];
    c.ids[this.first] = '';
    this.count--;
    this.first++;
    const lastChunk = this.chunks.length === 1;
    if (this.first === CHUNK || (lastChunk && this.first === this.end)) {
      // The chunk is read through (or the queue is empty): reuse it.
      this.chunks.shift();
      if (this.spare.length < 2) this.spare.push(c);
      this.first = 0;
      if (lastChunk) this.end = CHUNK;
    }
  }

  /** Rows oldest first, as [id, time, features] (snapshots). */
  rows(): Array<[string, number, number[]]> {
    const out: Array<[string, number, number[]]> = [];
    const w = this.width;
    for (let ci = 0; ci < this.chunks.length; ci++) {
      const c = this.chunks[ci];
      const from = ci === 0 ? this.first : 0;
      const to = ci === this.chunks.length - 1 ? this.end : CHUNK;
      for (let r = from; r < to; r++) out.push([c.ids[r], c.times[r], Array.from(c.x.subarray(r * w, (r + 1) * w))]);
    }
    return out;
  }

  clear(): void {
    this.chunks.length = 0;
    this.first = 0;
    this.end = CHUNK;
    this.count = 0;
  }
}
