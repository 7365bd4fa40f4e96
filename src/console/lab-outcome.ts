/**
 * What a lab run reports, from what `vigie replay` printed: the summary (alerts per detector of the
 * current and the candidate config, their overlap, precision and recall with labels) when it
 * succeeded, and when it failed, the error it printed (`vigie: CODE: message`, the config problems
 * before it) with the code's remedy, never a stack trace. Pure: the run manager (lab-runs.ts) feeds it.
 */
import type { WhatIfReport } from '../backtest/compare.js';
import type { Summary } from '../engine/summary.js';
import { ERROR_CODES, type ErrorCode } from '../errors.js';

export type LabMode = 'backtest' | 'what-if';

export interface DetectorLine {
  detector: string;
  /** Alerts of the current config (what-if only); cooldown summaries excluded. */
  current?: number;
  /** Alerts of the edited config; cooldown summaries excluded. */
  candidate: number;
  onlyCurrent?: number;
  onlyCandidate?: number;
  both?: number;
  /** With labels: alerts citing a labelled event / alerts, per side (absent without alerts). */
  precision?: { current?: number; candidate?: number };
}

export interface LabSummary {
  mode: LabMode;
  /** Events read from the dataset. */
  events: number;
  /** Records dead-lettered (unreadable, no time, no key...): many means the dataset does not fit the source. */
  deadLetters: number;
  labelled: boolean;
  detectors: DetectorLine[];
  totals: { current?: number; candidate: number; onlyCurrent?: number; onlyCandidate?: number; both?: number };
  /** With labels: cases of each typology hit by at least one alert / cases. */
  recall?: Array<{ typology: string; cases: number; current?: number; candidate?: number }>;
}

export interface LabError {
  code: string;
  message: string;
  remedy: string;
}

/** The lab's own failures (time limit, a replay that stopped without a word). */
export const LAB_CODE: ErrorCode = 'VIGIE_ERR_LAB';

export function labError(code: ErrorCode, message: string): LabError {
  return { code, message, remedy: ERROR_CODES[code].remedy };
}

/** The summary of a what-if (`replay --compare --json`): A is the current config, B the edited one. */
export function whatIfSummary(r: WhatIfReport, deadLetters: number): LabSummary {
  const labelled = r.labels !== undefined;
  return {
    mode: 'what-if',
    events: r.a.events,
    deadLetters,
    labelled,
    detectors: r.detectors.map((d) => ({
      detector: d.detector,
      current: d.a,
      candidate: d.b,
      onlyCurrent: d.onlyA,
      onlyCandidate: d.onlyB,
      both: d.both,
      ...(labelled ? { precision: { current: precisionOf(d.precision?.a), candidate: precisionOf(d.precision?.b) } } : {}),
    })),
    totals: { current: r.totals.a, candidate: r.totals.b, onlyCurrent: r.totals.onlyA, onlyCandidate: r.totals.onlyB, both: r.totals.both },
    ...(r.labels ? { recall: r.labels.typologies.map((t) => ({ typology: t.typology, cases: t.cases, current: t.a?.recall, candidate: t.b?.recall })) } : {}),
  };
}

const precisionOf = (p: { alerts: number; precision: number } | undefined) => (p === undefined || p.alerts === 0 ? undefined : p.precision);

/**
 * The summary of a backtest of the edited config alone (`replay --report`, its replay summary), with
 * its alerts counted per detector from the alert file (`counts`, cooldown summaries excluded, as in a
 * what-if); `detectors` are the config's alerting detectors, shown even without alerts.
 */
export function backtestSummary(s: Summary, counts: ReadonlyMap<string, number>, detectors: readonly string[]): LabSummary {
  const names = [...detectors, ...[...counts.keys()].filter((d) => !detectors.includes(d))];
  const labels = s.labels;
  let events = 0;
  for (const src of Object.values(s.sources)) events += src.events;
  const lines = names.map((detector): DetectorLine => {
    const candidate = counts.get(detector) ?? 0;
    const p = labels?.detectors[detector];
    return { detector, candidate, ...(labels ? { precision: { candidate: p === undefined || p.alerts === 0 ? undefined : p.precision } } : {}) };
  });
  return {
    mode: 'backtest',
    events,
    deadLetters: s.deadLetters.total,
    labelled: labels !== undefined,
    detectors: lines,
    totals: { candidate: lines.reduce((n, d) => n + d.candidate, 0) },
    ...(labels ? { recall: Object.entries(labels.typologies).map(([typology, t]) => ({ typology, cases: t.cases, candidate: t.recall })) } : {}),
  };
}

/** Alerts per detector in an alert file's lines, cooldown summaries (`repeatsOf`) left out. */
export function countAlerts(jsonl: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of jsonl.split('\n')) {
    if (line.trim() === '') continue;
    let a: { detector?: unknown; repeatsOf?: unknown };
    try {
      a = JSON.parse(line) as typeof a;
    } catch {
      continue;
    }
    if (typeof a.detector !== 'string' || a.repeatsOf !== undefined) continue;
    counts.set(a.detector, (counts.get(a.detector) ?? 0) + 1);
  }
  return counts;
}

const CODE_LINE = /^vigie: (VIGIE_ERR_[A-Z_]+): (.*)$/;
/** A config problem as the CLI prints it: `FILE:LINE:COL: path: message`. */
const PROBLEM_LINE = /^[^\s:][^:]*:\d+:\d+: /;
const MAX_PROBLEMS = 10;

const isCode = (c: string): c is ErrorCode => Object.hasOwn(ERROR_CODES, c);

/**
 * The error of a replay that exited with `exit` (null when killed): its `vigie: CODE: message` line,
 * with the config problems listed before it, and the code's remedy. Stack frames are never kept.
 */
export function failureOf(stderr: string, exit: number | null): LabError {
  const lines = stderr.split('\n').map((l) => l.trimEnd());
  let found: { code: string; message: string } | undefined;
  for (const l of lines) {
    const m = CODE_LINE.exec(l);
    if (m) found = { code: m[1], message: m[2] };
  }
  if (found !== undefined && isCode(found.code)) {
    const problems = lines.filter((l) => PROBLEM_LINE.test(l) && !/^\s+at /.test(l));
    const listed = problems.slice(0, MAX_PROBLEMS).join('\n');
    const more = problems.length > MAX_PROBLEMS ? `\n(${problems.length - MAX_PROBLEMS} more)` : '';
    return labError(found.code, problems.length > 0 ? `${found.message}\n${listed}${more}` : found.message);
  }
  // A failure outside the CLI's own reporting: the last error the log recorded, if any.
  for (const l of lines.reverse()) {
    if (!l.startsWith('{')) continue;
    try {
      const rec = JSON.parse(l) as { level?: number; msg?: unknown; err?: unknown };
      if ((rec.level ?? 0) >= 50 && typeof rec.msg === 'string') return labError(LAB_CODE, `the replay failed: ${rec.msg}${typeof rec.err === 'string' ? ` (${rec.err})` : ''}`);
    } catch {
      // not a log record
    }
  }
  return labError(LAB_CODE, exit === null ? 'the replay was stopped before it finished' : `the replay stopped with exit code ${exit} without saying why`);
}
