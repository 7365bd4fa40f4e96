/**
 * The join stage of a pipeline: sorts input events into the two sides of its interval join, keys them
 * and hands them to the join core; what comes out (pairs, and left rows alone for a left join) goes
 * on through the rest of the pipeline like any event.
 */
import type { Batch, DeadLetter, VEvent } from '../types.js';
import { IntervalJoinCore, LEFT, RIGHT, type JoinConfig, type JoinSide, type JoinSnapshot } from '../../operators/interval-join.js';

type Where = Array<[string, readonly unknown[]]>;

/** The pipeline counters the join stage counts its input rows in. */
interface Counters {
  processed: number;
  filtered: number;
  late: number;
  missingKey: number;
  limited: number;
}

interface SideFilter {
  sources: ReadonlySet<string> | undefined;
  where: Where;
}

function sideFilter(s: JoinSide): SideFilter {
  return { sources: s.sources ? new Set(s.sources) : undefined, where: Object.entries(s.where ?? {}).map(([f, v]) => [f, Array.isArray(v) ? v : [v]]) };
}

function isOf(f: SideFilter, e: VEvent): boolean {
  if (f.sources !== undefined && !f.sources.has(e.source)) return false;
  for (let i = 0; i < f.where.length; i++) if (!f.where[i][1].includes(e.payload[f.where[i][0]])) return false;
  return true;
}

export class JoinStage {
  readonly core: IntervalJoinCore;
  private readonly left: SideFilter;
  private readonly right: SideFilter;
  /** Reused output buffers (emptied by each call's caller loop). */
  private readonly out: VEvent[] = [];
  private readonly dropped: VEvent[] = [];

  constructor(
    config: JoinConfig,
    keyFields: readonly string[],
    private readonly keyOf: (payload: Record<string, unknown>) => string | undefined,
    private readonly deadLetter: (reason: 'missing_key' | 'late' | 'window_limit', detail: string, e: VEvent) => DeadLetter,
  ) {
    this.core = new IntervalJoinCore(config, keyFields);
    this.left = sideFilter(config.left);
    this.right = sideFilter(config.right);
  }

  /**
   * An input event: a row of the left side, of the right side, or both (never joined with itself), or
   * of neither (counted as filtered). Returns the joined events it completes (valid until the next call).
   */
  input(e: VEvent, batch: Batch, c: Counters): VEvent[] {
    const out = this.out;
    out.length = 0;
    const l = isOf(this.left, e);
    const r = isOf(this.right, e);
    if (!l && !r) {
      c.filtered++;
      return out;
    }
    const key = this.keyOf(e.payload);
    if (key === undefined) {
      c.missingKey++;
      batch.deadLetters.push(this.deadLetter('missing_key', 'no usable value for the join key', e));
      return out;
    }
    const dropped = this.dropped;
    dropped.length = 0;
    const ok = (l ? this.core.add(LEFT, key, e, out, dropped) : true) && (r ? this.core.add(RIGHT, key, e, out, dropped) : true);
    if (!ok) {
      c.late++;
      batch.deadLetters.push(this.deadLetter('late', `the join's watermark (${this.core.watermark}) had passed the event's time`, e));
      return out;
    }
    c.processed++;
    for (let i = 0; i < dropped.length; i++) {
      c.limited++;
      batch.deadLetters.push(this.deadLetter('window_limit', 'its key held the most rows the join keeps per side (maxPerKey): the oldest was dropped', dropped[i]));
    }
    return out;
  }

  /** Move the join's watermark; returns the left rows a left join emits alone (valid until the next call). */
  advance(w: number): VEvent[] {
    const out = this.out;
    out.length = 0;
    this.core.advance(w, out);
    return out;
  }

  snapshot(): JoinSnapshot {
    return this.core.snapshot();
  }

  restore(s: unknown): void {
    this.core.restore(s as JoinSnapshot);
  }
}
