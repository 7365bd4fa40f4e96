/**
 * The guard that keeps one implausible event time from moving a watermark (rule 3 of docs/semantics.md).
 *
 * Live, an event more than `maxFutureSkew` ahead of processing time is refused at once. In replay,
 * processing time says nothing about historical data, so the guard compares each event with its
 * partition's own times: an event more than `maxJump` ahead of the latest time admitted on its partition
 * (or the first event of a partition) is held aside until a later event confirms the new time by being
 * no more than `maxJump` behind it. Confirmed events are admitted in their arrival order, just before
 * the event that confirmed them, so well-formed input (where every jump is confirmed by the next event)
 * gives the same events in the same order as without the guard. An event still unconfirmed after
 * `patience` later events is refused; at the end of a partition's input, held events are admitted when
 * no later event contradicted them (the last event after a gap in a sparse series) and refused otherwise.
 *
 * Pure: processing time comes in as an argument; no clock, no I/O. Memory: at most `MAX_HELD` events
 * per partition are held; beyond that the oldest is refused.
 */
import type { VEvent } from '../types.js';

export interface TimeGuardOptions {
  /** Live only: refuse events more than this many ms ahead of processing time; 0 disables. */
  maxFutureSkew: number;
  /** Replay only: hold events more than this many ms ahead of their partition's latest time; 0 disables. */
  maxJump: number;
  /** Later events that may pass a held event without confirming it before it is refused. */
  patience: number;
}

/** Why the guard refused an event (the dead letter's detail). */
export interface Refusal {
  event: VEvent;
  detail: string;
}

/** Events held per partition at most: a run of corrupt times cannot grow memory. */
export const MAX_HELD = 64;

interface Held {
  event: VEvent;
  /** Later events that did not confirm it. */
  passed: number;
}

interface PartitionGuard {
  /** Latest event time admitted on the partition (-Infinity before the first). */
  latest: number;
  /** Events waiting for confirmation, in arrival order. */
  held: Held[];
}

export class TimeGuard {
  private readonly parts = new Map<number, PartitionGuard>();
  /** Events refused so far (the summary and metrics read and reset it). */
  refused = 0;

  constructor(
    private readonly opts: TimeGuardOptions,
    /** Live runs check processing time; replays check partition jumps. */
    private readonly live: boolean,
  ) {}

  /** True when the guard can hold or refuse anything (else callers skip it). */
  get active(): boolean {
    return this.live ? this.opts.maxFutureSkew > 0 : this.opts.maxJump > 0;
  }

  /**
   * Offer an event of `partition`: the events to admit now, in order, are appended to `out` (the event
   * itself, or nothing while it is held, or held events followed by it once it confirms them); refused
   * events are appended to `refused`.
   */
  offer(partition: number, e: VEvent, now: number, out: VEvent[], refused: Refusal[]): void {
    if (this.live) {
      const skew = this.opts.maxFutureSkew;
      if (skew > 0 && e.time > now + skew) this.refuse(refused, e, `event time ${iso(e.time)} is more than maxFutureSkew (${skew} ms) ahead of processing time ${iso(now)}`);
      else out.push(e);
      return;
    }
    const jump = this.opts.maxJump;
    if (jump <= 0) {
      out.push(e);
      return;
    }
    let p = this.parts.get(partition);
    if (p === undefined) {
      p = { latest: -Infinity, held: [] };
      this.parts.set(partition, p);
    }
    if (p.held.length > 0) this.judgeHeld(p, e.time, out, refused);
    if (p.latest === -Infinity || e.time > p.latest + jump) {
      if (p.held.length >= MAX_HELD) {
        const oldest = (p.held.shift() as Held).event;
        this.refuse(refused, oldest, `event time ${iso(oldest.time)} jumped more than maxJump (${jump} ms) ahead of its partition and ${MAX_HELD} later jumps were waiting too`);
      }
      p.held.push({ event: e, passed: 0 });
      return;
    }
    this.admit(p, e, out);
  }

  /**
   * A later event at `time` confirms each held event it is no more than maxJump behind (admitted, in
   * arrival order); the others have waited one more event, and are refused once past `patience`.
   */
  private judgeHeld(p: PartitionGuard, time: number, out: VEvent[], refused: Refusal[]): void {
    const jump = this.opts.maxJump;
    let kept = 0;
    for (const h of p.held) {
      if (time >= h.event.time - jump) this.admit(p, h.event, out);
      else if (++h.passed > this.opts.patience) {
        this.refuse(refused, h.event, `event time ${iso(h.event.time)} jumped more than maxJump (${jump} ms) ahead of its partition and ${this.opts.patience} later events did not confirm it`);
      } else p.held[kept++] = h;
    }
    p.held.length = kept;
  }

  /** End of a partition's input: held events nothing contradicted are admitted, the others refused. */
  finish(partition: number, out: VEvent[], refused: Refusal[]): void {
    const p = this.parts.get(partition);
    if (p === undefined) return;
    for (const h of p.held) {
      if (h.passed === 0) this.admit(p, h.event, out);
      else this.refuse(refused, h.event, `event time ${iso(h.event.time)} jumped more than maxJump (${this.opts.maxJump} ms) ahead of its partition and no later event confirmed it`);
    }
    p.held.length = 0;
  }

  /** Partitions with events held aside (end of all input: each is finished). */
  partitions(): number[] {
    const ids: number[] = [];
    for (const [id, p] of this.parts) if (p.held.length > 0) ids.push(id);
    return ids;
  }

  private admit(p: PartitionGuard, e: VEvent, out: VEvent[]): void {
    if (e.time > p.latest) p.latest = e.time;
    out.push(e);
  }

  private refuse(refused: Refusal[], event: VEvent, detail: string): void {
    this.refused++;
    refused.push({ event, detail });
  }
}

function iso(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}
