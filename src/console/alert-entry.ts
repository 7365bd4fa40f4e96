/** A stream entry of the redis sink read back as the alert it stores (the inverse of sinks/redis-commands.ts alertFields). */
import type { Alert, Severity } from '../types.js';

/** An alert as the console returns it: the stored alert, and where it is. */
export type StoredAlert = Omit<Alert, 'shadow'> & { entryId: string; stream: string };

const NUMBERS = ['revision', 'eventTime', 'detectedAt', 'observed', 'threshold', 'score'] as const;

function json(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The entry's flat field/value list as an object. */
export function entryFields(flat: readonly string[]): Record<string, string> {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) f[flat[i]] = flat[i + 1];
  return f;
}

/** The alert of an entry: exactly the stored fields, numbers and JSON fields decoded; nothing added but its place. */
export function parseAlertEntry(stream: string, entryId: string, flat: readonly string[]): StoredAlert {
  return alertOfFields(stream, entryId, entryFields(flat));
}

/** The alert of an entry's fields (from entryFields). */
export function alertOfFields(stream: string, entryId: string, f: Record<string, string>): StoredAlert {
  const alert: Record<string, unknown> = {
    entryId,
    stream,
    id: f.id,
    detector: f.detector,
    detectorType: f.detectorType,
    pipeline: f.pipeline,
    severity: f.severity as Severity,
    key: f.key,
    window: f.windowStart !== undefined && f.windowEnd !== undefined ? { start: Number(f.windowStart), end: Number(f.windowEnd) } : null,
    explanation: f.explanation,
    evidence: json(f.evidence) ?? [],
    configVersion: f.configVersion,
  };
  for (const n of NUMBERS) alert[n] = Number(f[n]);
  if (f.details !== undefined) alert.details = json(f.details);
  if (f.suppressed !== undefined) alert.suppressed = Number(f.suppressed);
  if (f.repeatsOf !== undefined) alert.repeatsOf = f.repeatsOf;
  if (f.trigger !== undefined) alert.trigger = f.trigger;
  return alert as StoredAlert;
}
