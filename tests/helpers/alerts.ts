import type { SinkBatch } from '../../sinks/types.js';
import type { Alert } from '../../src/types.js';

/** Event time of the sample alerts' window start. */
export const ALERT_T0 = Date.UTC(2026, 0, 1, 10, 0, 0);

/** A complete alert for sink tests (a card-testing threshold alert on a 5-minute window). */
export function sampleAlert(id: string, key: string, over: Partial<Alert> = {}): Alert {
  const T = ALERT_T0;
  return {
    id,
    detector: 'card-testing',
    detectorType: 'threshold',
    pipeline: 'cards',
    severity: 'high',
    key,
    window: { start: T, end: T + 300_000 },
    revision: 0,
    eventTime: T + 300_000,
    detectedAt: T + 301_000,
    observed: 14,
    threshold: 10,
    score: 1.4,
    explanation: `14 > 10 for ${key}`,
    evidence: ['e1', 'e2'],
    configVersion: 'v1',
    details: { note: 'café ☕', nested: { n: 1 } },
    ...over,
  };
}

/** A sink batch holding only these alerts. */
export function alertBatch(alerts: Alert[]): SinkBatch {
  return { alerts, results: [], deadLetters: [], scores: [], shadowAlerts: [], queue: [] };
}
