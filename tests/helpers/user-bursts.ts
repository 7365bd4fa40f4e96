/**
 * The workload of the sink and fault tests: users sending events every 10 s, caught by two pipelines
 * (a velocity burst with a cooldown, and busy one-minute windows), so that a run raises a few hundred
 * alerts, cooldown summaries included, in a known order.
 */

/** First event time. */
export const BURSTS_T0 = Date.UTC(2026, 0, 1, 10, 0, 0);

/** The `pipelines:` section (YAML, at top level) of the configs these tests run. */
export const USER_PIPELINES = `pipelines:
  - name: users
    key: user
    detectors:
      - { name: burst, type: velocity, lookback: 1m, value: 4, cooldown: 2m, severity: high }
  - name: per-user
    key: user
    window: { type: tumbling, size: 1m }
    aggregates: [{ name: n, fn: count }]
    detectors:
      - { name: busy, type: threshold, aggregate: n, op: '>=', value: 3, severity: medium }`;

export interface UserEvent {
  id: string;
  ts: number;
  user: string;
}

/** `perUser` rounds of one event per user (`e<user>-<round>`), 10 s apart, in time order. */
export function userBursts(users: number, perUser: number): UserEvent[] {
  const out: UserEvent[] = [];
  for (let i = 0; i < perUser; i++) for (let u = 0; u < users; u++) out.push({ id: `e${u}-${i}`, ts: BURSTS_T0 + i * 10_000 + u, user: `u${u}` });
  return out;
}

/** One event a day later, which moves the watermark past everything before it. */
export const END_EVENT: UserEvent = { id: 'end', ts: BURSTS_T0 + 86_400_000, user: 'zz' };
