/**
 * Deterministic primitives for the built-in event generators: a small seeded PRNG
 * (sfc32, seeded through splitmix32), a time-ordered queue and the arrival-order
 * stage shared by every scenario. Nothing here reads the clock or Math.random.
 */

import { fmix32 } from '../util/hash.js';

const TWO_POW_32 = 4294967296;


/** 32-bit hash of a string (FNV-1a over UTF-16 code units, then fmix32). */
export function hashString(s: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

/** Four 32-bit words of seed material from a number (any finite value) or a string. */
function keyFrom(seed: number | string): [number, number, number, number] {
  let lo: number;
  let hi: number;
  if (typeof seed === 'number' && Number.isSafeInteger(seed)) {
    lo = seed >>> 0;
    hi = Math.floor(seed / TWO_POW_32) >>> 0;
  } else {
    lo = hashString(String(seed));
    hi = hashString(String(seed), 0x9e3779b9);
  }
  // splitmix32 sequence over the mixed seed.
  let s = (lo ^ fmix32(hi ^ 0x6a09e667)) >>> 0;
  const out: [number, number, number, number] = [0, 0, 0, 0];
  for (let i = 0; i < 4; i++) {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
    out[i] = (z ^ (z >>> 15)) >>> 0;
  }
  return out;
}

/**
 * Seeded pseudo-random stream (sfc32: 128-bit state, fast, good quality).
 * The same seed always gives the same sequence.
 */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  /** Second Box-Muller variate, NaN when none is pending. */
  private spare = Number.NaN;
  /** Seed material this stream was built from; forks derive from it. */
  private readonly key: readonly [number, number, number, number];

  constructor(seed: number | string = 0) {
    this.key = keyFrom(seed);
    [this.a, this.b, this.c, this.d] = this.key;
    for (let i = 0; i < 15; i++) this.u32();
  }

  private static fromKey(key: [number, number, number, number]): Rng {
    const r = Object.create(Rng.prototype) as Rng;
    const w = r as unknown as { a: number; b: number; c: number; d: number; spare: number; key: readonly number[] };
    w.key = key;
    w.spare = Number.NaN;
    [w.a, w.b, w.c, w.d] = key;
    for (let i = 0; i < 15; i++) r.u32();
    return r;
  }

  /** Next raw unsigned 32-bit value. */
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.u32() / TWO_POW_32;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.float();
  }

  /** Uniform integer in [lo, hi], both inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }

  /** Uniformly chosen element of a non-empty array. */
  pick<T>(arr: readonly T[]): T {
    return arr[Math.floor(this.float() * arr.length)];
  }

  /** Index drawn from a cumulative weight table (last entry = total weight). */
  weighted(cumulative: ArrayLike<number>): number {
    const n = cumulative.length;
    const x = this.float() * cumulative[n - 1];
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cumulative[mid] > x) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** Gaussian variate (Box-Muller; the second variate is kept for the next call). */
  normal(mean = 0, sd = 1): number {
    let z = this.spare;
    if (z === z) {
      this.spare = Number.NaN;
    } else {
      const u1 = 1 - this.float();
      const u2 = this.float();
      const r = Math.sqrt(-2 * Math.log(u1));
      const th = 2 * Math.PI * u2;
      z = r * Math.cos(th);
      this.spare = r * Math.sin(th);
    }
    return mean + sd * z;
  }

  /** exp(N(mu, sigma)): log-normal variate. */
  lognormal(mu: number, sigma: number): number {
    return Math.exp(this.normal(mu, sigma));
  }

  /** Exponential variate with the given rate (mean 1/rate). */
  exp(rate: number): number {
    return -Math.log(1 - this.float()) / rate;
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  /** Random lowercase hex string of 8 characters. */
  hex8(): string {
    return this.u32().toString(16).padStart(8, '0');
  }

  /**
   * An independent deterministic stream named by `label`. It depends only on this
   * stream's seed and the label (not on how much of this stream was consumed), so
   * forking the same label twice gives the same stream.
   */
  fork(label: string): Rng {
    const k = this.key;
    return Rng.fromKey([
      fmix32(k[0] ^ hashString(label, 0x243f6a88)),
      fmix32(k[1] ^ hashString(label, 0x85a308d3)),
      fmix32(k[2] ^ hashString(label, 0x13198a2e)),
      fmix32(k[3] ^ hashString(label, 0x03707344)),
    ]);
  }
}

/**
 * Min-priority queue on (time, insertion order): items with equal times come out
 * in the order they were pushed, which keeps the output deterministic.
 */
export class TimeQueue<T> {
  private times: number[] = [];
  private seqs: number[] = [];
  private items: T[] = [];
  private seq = 0;

  get size(): number {
    return this.items.length;
  }

  /** Time of the head, +Infinity when empty. */
  peekTime(): number {
    return this.items.length > 0 ? this.times[0] : Number.POSITIVE_INFINITY;
  }

  push(time: number, item: T): void {
    const times = this.times;
    const seqs = this.seqs;
    const items = this.items;
    const s = this.seq++;
    let i = items.length;
    times.push(time);
    seqs.push(s);
    items.push(item);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (times[p] < time || (times[p] === time && seqs[p] < s)) break;
      times[i] = times[p];
      seqs[i] = seqs[p];
      items[i] = items[p];
      i = p;
    }
    times[i] = time;
    seqs[i] = s;
    items[i] = item;
  }

  /** Removes and returns the head; undefined when empty. */
  pop(): T | undefined {
    const items = this.items;
    const n = items.length;
    if (n === 0) return undefined;
    const times = this.times;
    const seqs = this.seqs;
    const top = items[0];
    const lastT = times.pop() as number;
    const lastS = seqs.pop() as number;
    const lastI = items.pop() as T;
    const m = n - 1;
    if (m > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= m) break;
        let c = l;
        const r = l + 1;
        if (r < m && (times[r] < times[l] || (times[r] === times[l] && seqs[r] < seqs[l]))) c = r;
        if (lastT < times[c] || (lastT === times[c] && lastS < seqs[c])) break;
        times[i] = times[c];
        seqs[i] = seqs[c];
        items[i] = items[c];
        i = c;
      }
      times[i] = lastT;
      seqs[i] = lastS;
      items[i] = lastI;
    }
    return top;
  }
}

/** A generated event before it leaves the generator (`id` is set on emission). */
export interface GenEvent {
  id: string;
  ts: number;
  [field: string]: unknown;
}

/**
 * Turns a stream of events in event-time order into the stream a consumer sees:
 * each event gets an arrival delay in [0, disorderMs] (mostly small), events are
 * released in arrival order, and ids are assigned in that order. Since every event
 * arrives no earlier than its own time, an event is never more than disorderMs
 * behind the largest event time released before it. The output does not depend on
 * how it is chunked into next() calls.
 */
export class ArrivalStage {
  private readonly pending = new TimeQueue<GenEvent>();
  /** Event time of the most recent event pulled from the source. */
  private lastTs = Number.NEGATIVE_INFINITY;
  private emitted = 0;

  constructor(
    private readonly pull: () => GenEvent,
    private readonly disorderMs: number,
    private readonly rng: Rng,
    private readonly idPrefix: string,
  ) {}

  next(count: number): GenEvent[] {
    if (!Number.isInteger(count) || count < 0) throw new RangeError(`count must be a non-negative integer, got ${count}`);
    const out: GenEvent[] = new Array(count);
    const d = Math.floor(this.disorderMs);
    for (let k = 0; k < count; k++) {
      let ev: GenEvent;
      if (d <= 0) {
        ev = this.pull();
      } else {
        // Release the earliest arrival once nothing still to be pulled can arrive before it
        // (future events have ts >= lastTs, hence arrival >= lastTs).
        while (this.pending.peekTime() > this.lastTs) {
          const e = this.pull();
          this.lastTs = e.ts;
          const u = this.rng.float();
          this.pending.push(e.ts + Math.floor((d + 1) * u * u * u), e);
        }
        ev = this.pending.pop() as GenEvent;
      }
      ev.id = this.idPrefix + String(this.emitted++).padStart(9, '0');
      out[k] = ev;
    }
    return out;
  }
}

/** Validates the options shared by every generator. */
export function checkCommonOptions(o: { seed: number; start: number; ratePerSecond: number; disorderMs?: number }): void {
  if (typeof o.seed !== 'number' || !Number.isFinite(o.seed)) throw new RangeError(`seed must be a finite number, got ${o.seed}`);
  if (typeof o.start !== 'number' || !Number.isFinite(o.start)) throw new RangeError(`start must be epoch milliseconds, got ${o.start}`);
  if (typeof o.ratePerSecond !== 'number' || !(o.ratePerSecond > 0) || !Number.isFinite(o.ratePerSecond)) {
    throw new RangeError(`ratePerSecond must be a positive number, got ${o.ratePerSecond}`);
  }
  if (o.disorderMs !== undefined && (!Number.isFinite(o.disorderMs) || o.disorderMs < 0)) {
    throw new RangeError(`disorderMs must be >= 0, got ${o.disorderMs}`);
  }
}
