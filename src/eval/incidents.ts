/**
 * Service incidents against the alerts raised on them, from the telemetry generator's labels: recall
 * and time-to-detect per incident type, precision overall and per detector. The scoring is pure
 * (`IncidentLog`, `scoreIncidents`); `evalIncidents` replays a config's generator source over seeds.
 *
 * Rules:
 * - An incident is a case of the labels (`case`): its service, its type (`label`), and its span from the
 *   first to the last event time carrying it.
 * - An alert matches an incident of the same service (the alert's key) when its event time (the window
 *   end for window results) is within [start, end + after]. `after` (5 minutes by default) leaves room
 *   for the window that holds the incident's end to close and be judged.
 * - An incident is detected when at least one alert matches it; its time-to-detect is the earliest
 *   matching alert's event time minus the incident's start.
 * - Precision: alerts matching at least one incident of their service / all alerts. Cooldown summaries
 *   (`repeatsOf`) repeat an alert already counted and are left out.
 * - A warm-up (`from`): incidents starting before it and alerts raised before it are not scored (the
 *   detectors are still learning their series); an alert after it may match an incident that began
 *   before it.
 */
import { Engine } from '../engine/engine.js';
import type { LoadedConfig } from '../config/load.js';
import type { Alert } from '../types.js';
import { memorySink } from '../../sinks/memory.js';
import { generatorOptions, type Config as GeneratorSource } from '../sources/generator.js';
import { createGenerator } from '../generator/index.js';
import { VigieError } from '../errors.js';

const MINUTE = 60_000;
const DAY = 86_400_000;

/** Default grace after an incident's end within which an alert still counts for it: 5 minutes. */
export const MATCH_AFTER_MS = 5 * MINUTE;

export interface Incident {
  caseId: string;
  type: string;
  service: string;
  /** First and last event time carrying the case. */
  start: number;
  end: number;
}

/** What scoring needs of an alert. */
export type ScoredAlert = Pick<Alert, 'detector' | 'key' | 'eventTime' | 'repeatsOf'>;

/** Incidents gathered from labelled telemetry events (fields `label`, `case`, `service`, `ts`), in any order. */
export class IncidentLog {
  private readonly cases = new Map<string, Incident>();

  observe(events: readonly Record<string, unknown>[]): void {
    for (const e of events) {
      const { label, case: caseId, service, ts } = e;
      if (typeof label !== 'string' || typeof caseId !== 'string' || typeof service !== 'string' || typeof ts !== 'number') continue;
      const c = this.cases.get(caseId);
      if (c === undefined) this.cases.set(caseId, { caseId, type: label, service, start: ts, end: ts });
      else {
        if (ts < c.start) c.start = ts;
        if (ts > c.end) c.end = ts;
      }
    }
  }

  /** The incidents, by start (then case id). */
  incidents(): Incident[] {
    return [...this.cases.values()].map((c) => ({ ...c })).sort((a, b) => a.start - b.start || (a.caseId < b.caseId ? -1 : 1));
  }
}

export interface TypeScore {
  cases: number;
  detected: number;
  /** detected / cases (0 without cases). */
  recall: number;
  /** Time-to-detect of the detected cases, ms: median and 90th percentile (null when none was detected). */
  ttdMedianMs: number | null;
  ttdP90Ms: number | null;
  /** Per detector, the cases of this type it matched (a case matched by two detectors counts for both). */
  detectors: Record<string, number>;
}

export interface PrecisionScore {
  alerts: number;
  matched: number;
  /** matched / alerts (null without alerts). */
  precision: number | null;
}

export interface IncidentReport {
  types: Record<string, TypeScore>;
  overall: PrecisionScore;
  detectors: Record<string, PrecisionScore>;
  /** Cooldown summaries left out. */
  summaries: number;
  /** Time-to-detect of each detected incident, ms, by case id. */
  detections: Record<string, number>;
}

/**
 * Quantile q of ascending values, linearly interpolated between closest ranks (the value at rank
 * q * (n - 1), counted from 0); null for no values.
 */
export function quantile(sorted: readonly number[], q: number): number | null {
  const n = sorted.length;
  if (n === 0) return null;
  const idx = q * (n - 1);
  const i = Math.floor(idx);
  return i + 1 < n ? sorted[i] + (sorted[i + 1] - sorted[i]) * (idx - i) : sorted[i];
}

/** Score alerts against incidents (see the rules at the top of this file). */
export function scoreIncidents(
  incidents: readonly Incident[],
  alerts: readonly ScoredAlert[],
  opts: { afterMs?: number; from?: number; types?: readonly string[] } = {},
): IncidentReport {
  const after = opts.afterMs ?? MATCH_AFTER_MS;
  const from = opts.from ?? -Infinity;
  const byService = new Map<string, Incident[]>();
  for (const i of incidents) byService.set(i.service, [...(byService.get(i.service) ?? []), i]);

  const first = new Map<string, number>(); // case -> earliest matching alert time
  const hits = new Map<string, Set<string>>(); // case -> detectors
  const detectors = new Map<string, PrecisionScore>();
  const overall: PrecisionScore = { alerts: 0, matched: 0, precision: null };
  let summaries = 0;
  for (const a of alerts) {
    if (a.repeatsOf !== undefined) {
      summaries++;
      continue;
    }
    if (a.eventTime < from) continue;
    let d = detectors.get(a.detector);
    if (d === undefined) detectors.set(a.detector, (d = { alerts: 0, matched: 0, precision: null }));
    d.alerts++;
    overall.alerts++;
    let matched = false;
    for (const i of byService.get(a.key) ?? []) {
      if (a.eventTime < i.start || a.eventTime > i.end + after) continue;
      matched = true;
      const t = first.get(i.caseId);
      if (t === undefined || a.eventTime < t) first.set(i.caseId, a.eventTime);
      hits.set(i.caseId, (hits.get(i.caseId) ?? new Set()).add(a.detector));
    }
    if (matched) {
      d.matched++;
      overall.matched++;
    }
  }
  const ratio = (p: PrecisionScore) => (p.precision = p.alerts === 0 ? null : p.matched / p.alerts);
  ratio(overall);
  detectors.forEach(ratio);

  const types: Record<string, TypeScore> = {};
  const detections: Record<string, number> = {};
  const names = [...new Set([...(opts.types ?? []), ...incidents.map((i) => i.type)])].sort();
  for (const type of names) {
    const cases = incidents.filter((i) => i.type === type && i.start >= from);
    const ttd: number[] = [];
    const by: Record<string, number> = {};
    for (const i of cases) {
      const t = first.get(i.caseId);
      if (t === undefined) continue;
      ttd.push(t - i.start);
      detections[i.caseId] = t - i.start;
      for (const d of hits.get(i.caseId) ?? []) by[d] = (by[d] ?? 0) + 1;
    }
    ttd.sort((a, b) => a - b);
    types[type] = {
      cases: cases.length,
      detected: ttd.length,
      recall: cases.length === 0 ? 0 : ttd.length / cases.length,
      ttdMedianMs: quantile(ttd, 0.5),
      ttdP90Ms: quantile(ttd, 0.9),
      detectors: Object.fromEntries(Object.entries(by).sort(([a], [b]) => (a < b ? -1 : 1))),
    };
  }
  return { types, overall, detectors: Object.fromEntries([...detectors].sort(([a], [b]) => (a < b ? -1 : 1))), summaries, detections };
}

export interface IncidentEvalRun {
  seed: number;
  events: number;
  /** Every incident of the stream, warm-up included. */
  incidents: Incident[];
  /** Every alert raised, cooldown summaries included. */
  alerts: Alert[];
  report: IncidentReport;
  durationMs: number;
}

/**
 * Replay the config's telemetry generator source (its settings, the seed replaced, `days` of event time
 * when given) and score the alerts of every detector against the incidents of the same stream.
 * `warmupMs` from the first event time is not scored (see `from` above).
 */
export async function evalIncidents(opts: {
  loaded: LoadedConfig;
  seeds: readonly number[];
  days?: number;
  warmupMs?: number;
  afterMs?: number;
  types?: readonly string[];
}): Promise<IncidentEvalRun[]> {
  const gen = opts.loaded.config.sources.find((s) => s.type === 'generator') as GeneratorSource | undefined;
  if (gen === undefined || gen.scenario !== 'telemetry') {
    throw new VigieError('VIGIE_ERR_USAGE', `config ${opts.loaded.file} has no telemetry generator source to evaluate on`);
  }
  const runs: IncidentEvalRun[] = [];
  for (const seed of opts.seeds) {
    const base = { ...gen, seed, realtime: false };
    const rate = generatorOptions(base).ratePerSecond;
    const events = opts.days !== undefined ? Math.round((opts.days * DAY * rate) / 1000) : (gen.events ?? Math.round(DAY * rate / 1000));
    const source: GeneratorSource = { ...base, events };
    const loaded: LoadedConfig = { ...opts.loaded, config: { ...opts.loaded.config, sources: [source] } };
    const t0 = performance.now();
    const sink = memorySink('eval', ['alerts']);
    await new Engine({ loaded, mode: 'replay', sinks: [sink] }).run();
    // The same stream again, for its labels (the generator is deterministic).
    const start = Date.parse(source.start);
    const stream = createGenerator('telemetry', { ...generatorOptions(source), start });
    const log = new IncidentLog();
    for (let left = events; left > 0; left -= 10_000) log.observe(stream.next(Math.min(10_000, left)));
    const incidents = log.incidents();
    const report = scoreIncidents(incidents, sink.alerts, { afterMs: opts.afterMs, from: start + (opts.warmupMs ?? 0), types: opts.types });
    runs.push({ seed, events, incidents, alerts: sink.alerts, report, durationMs: Math.round(performance.now() - t0) });
  }
  return runs;
}
