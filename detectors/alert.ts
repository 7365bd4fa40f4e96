import { createHash } from 'node:crypto';

/**
 * Deterministic alert id (docs/semantics.md rule 12): the same detector, key, window (or triggering event)
 * and revision always give the same id, so replays and retries can be de-duplicated by sinks.
 */
export function alertId(detector: string, key: string, windowOrTrigger: string, revision: number): string {
  return createHash('sha256').update(`${detector}\u0000${key}\u0000${windowOrTrigger}\u0000${revision}`).digest('hex').slice(0, 32);
}

/** ISO-8601 for an event time; "+inf"/"-inf" for unbounded values. */
export function isoTime(ms: number): string {
  if (ms === Infinity) return '+inf';
  if (ms === -Infinity) return '-inf';
  return new Date(ms).toISOString();
}

/** "[10:00:00, 10:05:00)" style window text for explanations, with the date when it is not obvious. */
export function describeWindow(start: number, end: number, inclusiveEnd: boolean): string {
  return `[${isoTime(start)}, ${isoTime(end)}${inclusiveEnd ? ']' : ')'}`;
}

/** "a, b, c and 4 more" for evidence lists in explanations. */
export function describeEvidence(ids: readonly string[], total: number, shown = 5): string {
  if (ids.length === 0) return 'no event ids recorded';
  const head = ids.slice(0, shown).join(', ');
  const more = total - Math.min(shown, ids.length);
  return more > 0 ? `${head} and ${more} more` : head;
}

/** Compact number formatting for explanations: integers as is, others with up to 4 significant decimals. */
export function formatNumber(n: number): string {
  if (Number.isInteger(n)) return String(n);
  return String(Number(n.toPrecision(6)));
}
