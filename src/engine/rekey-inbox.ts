/**
 * The downstream side of a repartition topic, for one of its partitions: the watermark it may use
 * and the redeliveries it must drop. Pure (processing time comes in as arguments), so it is tested
 * without Kafka.
 *
 * Every record of a repartition topic comes from one upstream partition `p` of one source `src`
 * (a partition of the input topics) and carries that partition's watermark `w` after the event; a
 * marker carries `w` alone, plus the number `n` of partitions of the source, and goes to every
 * partition of the topic. The watermark here is the least, over every upstream partition of every
 * source feeding the topic, of the largest `w` it has sent: an upstream partition that has not
 * reported yet holds it at -Infinity (unless idle, see below).
 *
 * Idleness (`idleTimeout` > 0): an upstream partition that sent nothing here for that long (processing
 * time) stops holding the watermark back, as does one never heard of since the partition was taken.
 * When every upstream partition heard of is idle, the least of their watermarks is used.
 *
 * Redeliveries: an upstream partition's records reach a downstream partition in its offset order;
 * one at an upstream offset at most the largest already seen from that partition was produced again
 * by an upstream owner that restarted from an older checkpoint, and is dropped.
 */

interface Upstream {
  /** Largest watermark reported. */
  w: number;
  /** Largest upstream offset seen (-1: markers only). */
  offset: number;
  /** Processing time of the last record or marker. */
  at: number;
}

export interface InboxSnapshot {
  v: 1;
  /** [source, upstream partition count] */
  n: Array<[string, number]>;
  /** [source, upstream partition, largest watermark, largest offset] */
  p: Array<[string, number, number, number]>;
}

export class RekeyInbox {
  /** Per source, the number of its upstream partitions (from markers). */
  private readonly counts = new Map<string, number>();
  private readonly ups = new Map<string, Map<number, Upstream>>();
  private readonly sources: Set<string>;

  constructor(
    /** The sources feeding the topic: each must report before the watermark leaves -Infinity. */
    sources: readonly string[],
    private readonly idleTimeout: number,
    /** Processing time at which the partition was taken (idleness of upstream partitions never heard of). */
    private since: number,
  ) {
    this.sources = new Set(sources);
  }

  private upstream(src: string, p: number, now: number): Upstream {
    let bySrc = this.ups.get(src);
    if (bySrc === undefined) {
      bySrc = new Map();
      this.ups.set(src, bySrc);
      this.sources.add(src);
    }
    let u = bySrc.get(p);
    if (u === undefined) {
      u = { w: -Infinity, offset: -1, at: now };
      bySrc.set(p, u);
    }
    return u;
  }

  /** A watermark marker of upstream partition `p` of `src` (which has `n` partitions). */
  marker(src: string, p: number, n: number, w: number, now: number): void {
    if (n > (this.counts.get(src) ?? 0)) this.counts.set(src, n);
    const u = this.upstream(src, p, now);
    u.at = now;
    if (w > u.w) u.w = w;
  }

  /** A record of upstream partition `p` at upstream offset `offset`; false: a redelivery, to drop. */
  record(src: string, p: number, offset: number, w: number, now: number): boolean {
    const u = this.upstream(src, p, now);
    u.at = now;
    if (offset <= u.offset) return false;
    u.offset = offset;
    if (w > u.w) u.w = w;
    return true;
  }

  /**
   * The least watermark of the upstream partitions that are not idle; -Infinity while one has not
   * reported (or no source has said how many partitions it has) and is not idle. When every one
   * that reported is idle, the least of theirs: a silent partition's watermark still bounds what it
   * may send, so it is kept (idleness only stops partitions from holding the watermark back).
   */
  watermark(now: number): number {
    const idle = (at: number) => this.idleTimeout > 0 && now - at >= this.idleTimeout;
    let min = Infinity;
    let minHeard = Infinity;
    let active = 0;
    let heardAll = 0;
    for (const src of this.sources) {
      const n = this.counts.get(src);
      const bySrc = this.ups.get(src);
      const heard = bySrc?.size ?? 0;
      if ((n === undefined || heard < n) && !idle(this.since)) return -Infinity;
      if (bySrc === undefined) continue;
      for (const u of bySrc.values()) {
        heardAll++;
        if (u.w < minHeard) minHeard = u.w;
        if (idle(u.at)) continue;
        active++;
        if (u.w < min) min = u.w;
      }
    }
    if (active > 0) return min;
    return heardAll > 0 ? minHeard : -Infinity;
  }

  snapshot(): InboxSnapshot {
    const p: InboxSnapshot['p'] = [];
    for (const [src, bySrc] of this.ups) for (const [id, u] of bySrc) p.push([src, id, u.w, u.offset]);
    return { v: 1, n: [...this.counts], p };
  }

  /** Take a checkpoint's state; every upstream partition counts as heard of now. */
  restore(s: InboxSnapshot | undefined, now: number): void {
    this.counts.clear();
    this.ups.clear();
    this.since = now;
    if (s?.v !== 1) return;
    for (const [src, n] of s.n) this.counts.set(src, n);
    for (const [src, id, w, offset] of s.p) {
      const u = this.upstream(src, id, now);
      u.w = w;
      u.offset = offset;
    }
  }
}
