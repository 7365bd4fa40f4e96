/** When an alert of A and one of B are "the same alert" in a what-if, and the pairing the comparison counts. */
import { formatDuration } from '../time/duration.js';
import type { Alert } from '../types.js';

/** Default of `--match-within`. Ten minutes: the span of a burst that event detectors (velocity, sequence) typically judge. */
export const DEFAULT_EVENT_MATCH_MS = 600_000;

export interface MatchOptions {
  /** Alerts on single events (no window): the largest distance in event time at which two still match. */
  eventWithinMs: number;
}

export type MatchableAlert = Pick<Alert, 'detector' | 'key' | 'window' | 'eventTime' | 'revision'>;

/** The matching rule in words, as the outputs state it. */
export function describeMatching(o: MatchOptions): string {
  return (
    'alerts of A and B match when they come from the same detector (by name), for the same key, about the same time: ' +
    `their windows overlap, or, for alerts on single events, they are at most ${formatDuration(o.eventWithinMs)} apart (--match-within); ` +
    'each alert matches at most one alert of the other run'
  );
}

/**
 * The exact identity of an alert: detector name, key, window (for alerts without a window: the
 * triggering event time) and revision. Twins are paired before anything else, so that two identical
 * runs pair every alert with its own twin, revision with revision.
 */
export function alertMatchKey(a: MatchableAlert): string {
  const where = a.window ? `w${a.window.start}:${a.window.end}` : `t${a.eventTime}`;
  return `${a.detector}\u0000${a.key}\u0000${where}\u0000${a.revision}`;
}

export interface AlertMatching<T> {
  pairs: Array<[T, T]>;
  /** Unpaired alerts of each side, in input order. */
  onlyA: T[];
  onlyB: T[];
}

/**
 * Pair the alerts of A with those of B (see {@link describeMatching}): twins first, then as many
 * pairs as the remaining alerts allow.
 *
 * A threshold moved a little fires on another event of the same burst: a sliding window ends at its
 * triggering event, so the two alerts' windows differ but overlap, and a person reads them as one
 * alert. Exact identity would call them "only A" and "only B".
 */
export function matchAlerts<T extends MatchableAlert>(a: readonly T[], b: readonly T[], o: MatchOptions): AlertMatching<T> {
  const groups = new Map<string, [T[], T[]]>();
  const group = (x: T) => {
    const k = `${x.detector}\u0000${x.key}`;
    let g = groups.get(k);
    if (g === undefined) {
      g = [[], []];
      groups.set(k, g);
    }
    return g;
  };
  for (const x of a) group(x)[0].push(x);
  for (const x of b) group(x)[1].push(x);
  const pairs: Array<[T, T]> = [];
  for (const [ga, gb] of groups.values()) {
    const twins = new Map<string, T[]>();
    for (const y of gb) {
      const k = alertMatchKey(y);
      const list = twins.get(k);
      if (list === undefined) twins.set(k, [y]);
      else list.push(y);
    }
    const restA: T[] = [];
    for (const x of ga) {
      const twin = twins.get(alertMatchKey(x))?.pop();
      if (twin === undefined) restA.push(x);
      else pairs.push([x, twin]);
    }
    const restB = [...twins.values()].flat();
    if (restA.length > 0 && restB.length > 0) pairByTime(restA, restB, o, pairs);
  }
  const paired = new Set<T>();
  for (const [x, y] of pairs) {
    paired.add(x);
    paired.add(y);
  }
  return { pairs, onlyA: a.filter((x) => !paired.has(x)), onlyB: b.filter((y) => !paired.has(y)) };
}

/**
 * Maximum pairing of alerts of one detector and key by time. Each alert is a span [lo, hi): its
 * window (at least 1 ms long, so that equal zero-length windows overlap), or its event time; two
 * match when the spans are less than `slack` apart, with slack 0 between windows (they must share
 * time; adjacent tumbling windows do not) and `eventWithinMs` once alerts on single events are
 * involved. Greedy, and optimal for spans: A in order of end, each with the B that ends first among
 * those it matches. Every B already admitted starts before this A's end, hence before any later A's
 * end, so the B that ends first is the one least useful to the A's still to come.
 */
function pairByTime<T extends MatchableAlert>(as: T[], bs: T[], o: MatchOptions, pairs: Array<[T, T]>): void {
  const lo = (x: T) => (x.window ? x.window.start : x.eventTime);
  const hi = (x: T) => (x.window ? Math.max(x.window.end, x.window.start + 1) : x.eventTime + 1);
  // A detector's alerts are all windowed or all on events; a detector renamed across kinds uses the event slack.
  const slack = as.some((x) => x.window === null) || bs.some((y) => y.window === null) ? o.eventWithinMs : 0;
  const byEnd = [...as].sort((x, y) => hi(x) - hi(y) || lo(x) - lo(y));
  const byStart = [...bs].sort((x, y) => lo(x) - lo(y) || hi(x) - hi(y));
  // Admitted and unpaired B, sorted by end.
  const open: T[] = [];
  let next = 0;
  for (const x of byEnd) {
    while (next < byStart.length && lo(byStart[next]) < hi(x) + slack) {
      const y = byStart[next++];
      open.splice(firstAbove(open, hi(y), hi), 0, y);
    }
    const i = firstAbove(open, lo(x) - slack, hi);
    if (i < open.length) {
      pairs.push([x, open[i]]);
      open.splice(i, 1);
    }
  }
}

/** Index of the first element of `sorted` (ascending by `key`) whose key is above `bound`. */
function firstAbove<T>(sorted: readonly T[], bound: number, key: (x: T) => number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (key(sorted[mid]) > bound) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
