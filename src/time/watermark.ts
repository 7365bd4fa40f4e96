/**
 * Per-partition watermarks (docs/semantics.md rules 3-6).
 *
 * W(p) = largest event time seen on p - maxOutOfOrderness, never decreasing.
 * W = min W(p) over partitions that are neither idle nor finished; W never decreases.
 * A partition is idle after `idleTimeout` ms of processing time without input (0 disables idleness);
 * it rejoins on its next input. When every partition has finished, W = +Infinity.
 * Pure: processing time comes in as arguments, never from a clock.
 */
export interface WatermarkOptions {
  maxOutOfOrderness: number;
  idleTimeout: number;
}

interface PartitionState {
  maxTime: number;
  wm: number;
  lastActive: number;
  idle: boolean;
  finished: boolean;
}

export interface WatermarkSnapshot {
  w: number;
  /** [partition, largest event time seen, finished] */
  partitions: Array<[number, number, boolean]>;
}

export class WatermarkTracker {
  private readonly parts = new Map<number, PartitionState>();
  private w = -Infinity;
  private maxEventTime = -Infinity;

  constructor(private readonly opts: WatermarkOptions) {}

  /** The pipeline watermark W. */
  get watermark(): number {
    return this.w;
  }

  /** Largest event time seen on any partition (for the event-time lag metric). */
  get maxSeen(): number {
    return this.maxEventTime;
  }

  /** Declare a partition before its first event, so that it holds W back until it produces or goes idle. */
  register(partition: number, now: number): void {
    if (!this.parts.has(partition)) {
      this.parts.set(partition, { maxTime: -Infinity, wm: -Infinity, lastActive: now, idle: false, finished: false });
      this.recompute();
    }
  }

  /** Forget a partition (Kafka revocation): it stops holding W back. */
  unregister(partition: number): void {
    if (this.parts.delete(partition)) this.recompute();
  }

  /** Note an event at `time` on `partition`; returns W after it. */
  observe(partition: number, time: number, now: number): number {
    let p = this.parts.get(partition);
    if (p === undefined) {
      p = { maxTime: -Infinity, wm: -Infinity, lastActive: now, idle: false, finished: false };
      this.parts.set(partition, p);
    }
    p.lastActive = now;
    let rejoined = false;
    if (p.idle) {
      p.idle = false;
      rejoined = true;
    }
    if (time > p.maxTime) {
      if (time > this.maxEventTime) this.maxEventTime = time;
      const before = p.wm;
      p.maxTime = time;
      p.wm = time - this.opts.maxOutOfOrderness;
      // Only a partition that was holding W back can move it: skip the O(partitions) scan otherwise.
      if (before <= this.w || rejoined) this.recompute();
    } else if (rejoined) {
      this.recompute();
    }
    return this.w;
  }

  /** Note that a partition delivered input (even if unusable) at `now`: it is not idle. */
  touch(partition: number, now: number): void {
    const p = this.parts.get(partition);
    if (p === undefined) return this.register(partition, now);
    p.lastActive = now;
    if (p.idle) {
      p.idle = false;
      this.recompute();
    }
  }

  /** Mark partitions idle by processing time; returns W. */
  tick(now: number): number {
    if (this.opts.idleTimeout > 0) {
      let changed = false;
      for (const p of this.parts.values()) {
        if (!p.idle && !p.finished && now - p.lastActive >= this.opts.idleTimeout) {
          p.idle = true;
          changed = true;
        }
      }
      if (changed) this.recompute();
    }
    return this.w;
  }

  /** End of input on a partition: it no longer holds W back. When all have ended, W = +Infinity. */
  finish(partition: number): number {
    const p = this.parts.get(partition);
    if (p === undefined) {
      this.parts.set(partition, { maxTime: -Infinity, wm: Infinity, lastActive: 0, idle: false, finished: true });
    } else {
      p.finished = true;
      p.wm = Infinity;
    }
    this.recompute();
    return this.w;
  }

  /** End of all input: W = +Infinity (every open window fires). */
  finishAll(): number {
    for (const p of this.parts.values()) {
      p.finished = true;
      p.wm = Infinity;
    }
    this.w = Infinity;
    return this.w;
  }

  isIdle(partition: number): boolean {
    return this.parts.get(partition)?.idle ?? false;
  }

  snapshot(): WatermarkSnapshot {
    const partitions: WatermarkSnapshot['partitions'] = [];
    for (const [id, p] of this.parts) partitions.push([id, p.maxTime, p.finished]);
    return { w: this.w, partitions };
  }

  restore(s: WatermarkSnapshot, now: number): void {
    this.parts.clear();
    for (const [id, maxTime, finished] of s.partitions) {
      const wm = finished ? Infinity : maxTime - this.opts.maxOutOfOrderness;
      this.parts.set(id, { maxTime, wm, lastActive: now, idle: false, finished: finished === true });
      if (maxTime > this.maxEventTime) this.maxEventTime = maxTime;
    }
    this.w = s.w;
  }

  private recompute(): void {
    let min = Infinity;
    let active = 0;
    let allFinished = true;
    for (const p of this.parts.values()) {
      if (!p.finished) allFinished = false;
      if (p.idle || p.finished) continue;
      active++;
      if (p.wm < min) min = p.wm;
    }
    if (this.parts.size > 0 && allFinished) {
      this.w = Infinity;
      return;
    }
    // With every partition idle nothing is known about the future: W stays where it is.
    if (active > 0 && min > this.w) this.w = min;
  }
}
