/**
 * A labels export (`vigie replay --labels-from FILE`): JSON lines `{ event, key, verdict, alert,
 * subject, time }` as the console writes them (GET /api/labels.jsonl), one verdict on one event each.
 * The latest line per event wins (by `time`, then by position); events whose verdict is positive
 * become labelled events for the {@link LabelScorer}, their case being the alert triaged (or the key).
 */
import { readFileSync } from 'node:fs';
import { VigieError } from '../errors.js';
import type { ExternalLabel } from './labels.js';

/** The verdict that makes an event a labelled positive. */
export const POSITIVE_VERDICT = 'confirmed_fraud';

function usage(file: string, why: string): VigieError {
  return new VigieError('VIGIE_ERR_USAGE', `--labels-from ${file}: ${why} (expected JSON lines {"event","key","verdict","alert","time"} as exported by the console's /api/labels.jsonl)`);
}

interface Verdict {
  verdict: string;
  time: number;
  caseId: string;
}

/**
 * Keeps `v` as the verdict on `event` when it is the latest so far: a later time, or an equal time
 * read after (the console's export and `--labels-from` decide alike).
 */
export function keepLatest<T extends { time: number }>(byEvent: Map<string, T>, event: string, v: T): void {
  const had = byEvent.get(event);
  if (had === undefined || v.time >= had.time) {
    // Re-inserted: the map's order stays the order of the verdicts kept.
    byEvent.delete(event);
    byEvent.set(event, v);
  }
}

/** One line of the file as a verdict, or why it is not one. */
function parseLine(line: string): { event: string; v: Verdict } | string {
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch {
    return 'not valid JSON';
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return 'not a JSON object';
  const r = o as Record<string, unknown>;
  if (typeof r.event !== 'string' || r.event === '') return '"event" must be a non-empty string (the evidence reference of an event)';
  if (typeof r.verdict !== 'string' || r.verdict === '') return '"verdict" must be a non-empty string';
  const time = typeof r.time === 'string' && /^\d+$/.test(r.time) ? Number(r.time) : r.time;
  if (typeof time !== 'number' || !Number.isFinite(time)) return '"time" must be milliseconds since the epoch';
  for (const f of ['alert', 'key'] as const) if (r[f] !== undefined && typeof r[f] !== 'string') return `"${f}" must be a string`;
  const caseId = (r.alert as string | undefined) || (r.key as string | undefined) || r.event;
  return { event: r.event, v: { verdict: r.verdict, time, caseId } };
}

/** The labelled positives of a labels text: by event reference, its label and case. `file` names it in errors. */
export function parseLabels(text: string, file: string): Map<string, ExternalLabel> {
  const latest = new Map<string, Verdict>();
  const lines = text.split('\n');
  let n = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    const r = parseLine(line);
    if (typeof r === 'string') throw usage(file, `line ${i + 1}: ${r}`);
    n++;
    keepLatest(latest, r.event, r.v);
  }
  if (n === 0) throw usage(file, 'no label in the file');
  const positives = new Map<string, ExternalLabel>();
  for (const [event, v] of latest) if (v.verdict === POSITIVE_VERDICT) positives.set(event, { label: POSITIVE_VERDICT, caseId: v.caseId });
  return positives;
}

/** Reads a labels export; a missing, unreadable or malformed file is a usage error naming the line. */
export function readLabelsFile(file: string): Map<string, ExternalLabel> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw usage(file, `cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return parseLabels(text, file);
}
