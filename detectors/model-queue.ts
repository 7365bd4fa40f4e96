/**
 * The ranked queue of the `model` detector: per period of event time (a day, a shift), the k keys
 * (cards, customers, entities) with the highest risk met in the period, leaving out those already
 * confirmed. Pure: it is fed the scores in event-time order and told when the watermark passes.
 */
import type { QueueEntry } from '../src/types.js';

interface Best {
  score: number;
  ref: string;
  time: number;
}

export interface QueueOptions {
  pipeline: string;
  detector: string;
  k: number;
  /** Period length (ms); periods are aligned on the epoch (UTC days for 1d). */
  every: number;
  /** Whether a key was confirmed (reported) at or before time t: left out of the queue. */
  confirmed?: (key: string, t: number) => boolean;
}

export type QueueSnapshot = [number, Array<[string, number, string, number]>];

export class RankQueue {
  /** Start of the period being gathered (-Infinity before the first score). */
  private start = -Infinity;
  private best = new Map<string, Best>();

  constructor(private readonly o: QueueOptions) {}

  get keys(): number {
    return this.best.size;
  }

  /** A score for `key` at event time `t` (inputs come in event-time order; a late one joins the current period). */
  add(key: string, t: number, score: number, ref: string, out: QueueEntry[]): void {
    const start = t - (((t % this.o.every) + this.o.every) % this.o.every);
    if (start > this.start) {
      this.close(start, out);
      this.start = start;
    }
    const b = this.best.get(key);
    if (b === undefined) this.best.set(key, { score, ref, time: t });
    else if (score > b.score) {
      b.score = score;
      b.ref = ref;
      b.time = t;
    }
  }

  /** The watermark reached `w`: a period that ended at or before `w` is ranked. */
  advance(w: number, out: QueueEntry[]): void {
    if (this.start !== -Infinity && this.start + this.o.every <= w) this.close(-Infinity, out);
  }

  /** Rank the period being gathered (if any) and start afresh at `next`. */
  private close(next: number, out: QueueEntry[]): void {
    if (this.best.size === 0 || this.start === -Infinity) {
      this.start = next;
      return;
    }
    const end = this.start + this.o.every;
    const confirmed = this.o.confirmed;
    const ranked = [...this.best]
      .filter(([key]) => confirmed === undefined || !confirmed(key, end))
      .sort((a, b) => b[1].score - a[1].score || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .slice(0, this.o.k);
    ranked.forEach(([key, b], i) => {
      out.push({ pipeline: this.o.pipeline, detector: this.o.detector, start: this.start, end, rank: i + 1, key, score: b.score, ref: b.ref, time: b.time });
    });
    this.best = new Map();
    this.start = next;
  }

  snapshot(): QueueSnapshot {
    return [this.start, [...this.best].map(([k, b]) => [k, b.score, b.ref, b.time])];
  }

  restore(s: QueueSnapshot | undefined): void {
    this.best = new Map();
    this.start = -Infinity;
    if (!Array.isArray(s)) return;
    this.start = s[0] ?? -Infinity;
    for (const [k, score, ref, time] of s[1] ?? []) this.best.set(k, { score, ref, time });
  }
}
