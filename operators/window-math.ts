/**
 * Pure window arithmetic (docs/semantics.md rule 7). Integer milliseconds, half-open [start, end).
 */

/** floor((t - offset) / size) * size + offset, exact for negative times too. */
export function tumblingStart(t: number, size: number, offset: number): number {
  return Math.floor((t - offset) / size) * size + offset;
}

/**
 * Starts of every hopping window [k*advance + offset, k*advance + offset + size) that contains t,
 * in increasing order. advance == size gives the tumbling window.
 */
export function hoppingStarts(t: number, size: number, advance: number, offset: number): number[] {
  const last = Math.floor((t - offset) / advance) * advance + offset;
  const starts: number[] = [];
  for (let s = last; s > t - size; s -= advance) starts.push(s);
  return starts.reverse();
}

/** True when a session of last event `last` is due (rule 7: fires when W > last + gap). */
export function sessionDue(last: number, gap: number, w: number): boolean {
  return w > last + gap;
}

/** True when an event at `t` and a session [first, last] belong together (gap inclusive). */
export function sessionTouches(t: number, first: number, last: number, gap: number): boolean {
  return t >= first - gap && t <= last + gap;
}
