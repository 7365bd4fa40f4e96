/** The comparison of two configs' alerts (what-if): the counts per detector, per day and against labels. */
import type { LabelReport } from '../engine/labels.js';
import type { Alert } from '../types.js';
import { DEFAULT_EVENT_MATCH_MS, matchAlerts, type MatchOptions } from './alert-match.js';
import type { RunInfo } from './variant-run.js';

// The comparison is a pure function of two alert lists (and label reports): the runs that produce them are in run-variants.ts.

/** A cooldown summary repeats an alert already raised: it is not compared. */
export function isCooldownSummary(a: Pick<Alert, 'repeatsOf'>): boolean {
  return a.repeatsOf !== undefined;
}

/** UTC day (YYYY-MM-DD) of an event time. */
export function utcDay(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString().slice(0, 10) : 'unbounded';
}

export interface CountPair {
  a: number;
  b: number;
}

export interface PrecisionScore {
  alerts: number;
  truePositives: number;
  precision: number;
}

export interface DetectorComparison {
  detector: string;
  /** Which config defines the detector ('both', or only one of them). */
  in: 'both' | 'a' | 'b';
  /** Alerts (cooldown summaries excluded). */
  a: number;
  b: number;
  onlyA: number;
  onlyB: number;
  /** Alerts of A paired with one of B (alert-match.ts): as many as the pairs, on either side. */
  both: number;
  /** Distinct keys alerted: a coarser overlap (e.g. a changed threshold fires on another event of the same burst). */
  keys: { a: number; b: number; onlyA: number; onlyB: number; both: number };
  /** Cooldown summaries, counted apart and not compared. */
  summaries: CountPair;
  /** Alerts per UTC day of their event time. */
  perDay: Record<string, CountPair>;
  /** With labels: alerts citing a labelled event / alerts, per config. */
  precision?: { a?: PrecisionScore; b?: PrecisionScore };
}

export interface TypologyComparison {
  typology: string;
  cases: number;
  a?: { detectedCases: number; recall: number };
  b?: { detectedCases: number; recall: number };
}

export interface Comparison {
  detectors: DetectorComparison[];
  totals: { a: number; b: number; onlyA: number; onlyB: number; both: number; summaries: CountPair };
  /** How alerts were matched (see describeMatching). */
  match: MatchOptions;
  /** Every UTC day with an alert, sorted. */
  days: string[];
  /** With labels: recall per typology for A and B. */
  labels?: { typologies: TypologyComparison[] };
}

export interface CompareInput {
  a: Iterable<Alert>;
  b: Iterable<Alert>;
  /** Detectors each config defines (shown even without alerts), in config order. */
  detectors?: { a?: readonly string[]; b?: readonly string[] };
  labels?: { a?: LabelReport; b?: LabelReport };
  /** Default: alerts on single events match within DEFAULT_EVENT_MATCH_MS. */
  match?: MatchOptions;
}

/** Compare the alerts of A and B per detector: counts, only-A, only-B, both, per day; precision and recall with labels. */
export function compareAlerts(input: CompareInput): Comparison {
  const declaredA = input.detectors?.a ?? [];
  const declaredB = input.detectors?.b ?? [];
  const match = input.match ?? { eventWithinMs: DEFAULT_EVENT_MATCH_MS };
  const rows = new Map<string, Omit<DetectorComparison, 'keys'> & { keySets: [Set<string>, Set<string>] }>();
  const row = (detector: string) => {
    let r = rows.get(detector);
    if (r === undefined) {
      r = { detector, in: 'both', a: 0, b: 0, onlyA: 0, onlyB: 0, both: 0, summaries: { a: 0, b: 0 }, perDay: {}, keySets: [new Set(), new Set()] };
      rows.set(detector, r);
    }
    return r;
  };
  for (const d of declaredA) row(d);
  for (const d of declaredB) row(d);
  const days = new Set<string>();
  const compared: [Alert[], Alert[]] = [[], []];
  const add = (alerts: Iterable<Alert>, side: 0 | 1) => {
    const v = side === 0 ? 'a' : 'b';
    for (const al of alerts) {
      const r = row(al.detector);
      if (isCooldownSummary(al)) {
        r.summaries[v]++;
        continue;
      }
      r[v]++;
      const day = utcDay(al.eventTime);
      days.add(day);
      const pd = (r.perDay[day] ??= { a: 0, b: 0 });
      pd[v]++;
      compared[side].push(al);
      r.keySets[side].add(al.key);
    }
  };
  add(input.a, 0);
  add(input.b, 1);
  // Paired alerts share their detector (alert-match.ts), so each pair counts once, in its detector's row.
  for (const [x] of matchAlerts(compared[0], compared[1], match).pairs) row(x.detector).both++;
  const hasA = new Set(declaredA);
  const hasB = new Set(declaredB);
  const detectors: DetectorComparison[] = [];
  const totals = { a: 0, b: 0, onlyA: 0, onlyB: 0, both: 0, summaries: { a: 0, b: 0 } };
  for (const r of rows.values()) {
    const { keySets, ...rest } = r;
    let keysBoth = 0;
    for (const k of keySets[0]) if (keySets[1].has(k)) keysBoth++;
    const keys = { a: keySets[0].size, b: keySets[1].size, onlyA: keySets[0].size - keysBoth, onlyB: keySets[1].size - keysBoth, both: keysBoth };
    // Without a list of a side's detectors, every detector is taken to exist on that side.
    const inA = input.detectors?.a === undefined || hasA.has(r.detector);
    const inB = input.detectors?.b === undefined || hasB.has(r.detector);
    const out: DetectorComparison = {
      ...rest,
      in: inA === inB ? 'both' : inA ? 'a' : 'b',
      keys,
      onlyA: r.a - r.both,
      onlyB: r.b - r.both,
      perDay: Object.fromEntries(Object.entries(r.perDay).sort(([x], [y]) => x.localeCompare(y))),
    };
    const la = input.labels?.a?.detectors[r.detector];
    const lb = input.labels?.b?.detectors[r.detector];
    if (input.labels?.a !== undefined || input.labels?.b !== undefined) {
      out.precision = {};
      if (input.labels.a !== undefined) out.precision.a = la ? { alerts: la.alerts, truePositives: la.truePositives, precision: la.precision } : { alerts: 0, truePositives: 0, precision: 0 };
      if (input.labels.b !== undefined) out.precision.b = lb ? { alerts: lb.alerts, truePositives: lb.truePositives, precision: lb.precision } : { alerts: 0, truePositives: 0, precision: 0 };
    }
    detectors.push(out);
    totals.a += out.a;
    totals.b += out.b;
    totals.both += out.both;
    totals.onlyA += out.onlyA;
    totals.onlyB += out.onlyB;
    totals.summaries.a += out.summaries.a;
    totals.summaries.b += out.summaries.b;
  }
  const c: Comparison = { detectors, totals, days: [...days].sort(), match };
  const { a: labA, b: labB } = input.labels ?? {};
  if (labA !== undefined || labB !== undefined) {
    const names = [...new Set([...Object.keys(labA?.typologies ?? {}), ...Object.keys(labB?.typologies ?? {})])].sort();
    c.labels = {
      typologies: names.map((t) => {
        const ta = labA?.typologies[t];
        const tb = labB?.typologies[t];
        const out: TypologyComparison = { typology: t, cases: ta?.cases ?? tb?.cases ?? 0 };
        if (labA !== undefined) out.a = { detectedCases: ta?.detectedCases ?? 0, recall: ta?.recall ?? 0 };
        if (labB !== undefined) out.b = { detectedCases: tb?.detectedCases ?? 0, recall: tb?.recall ?? 0 };
        return out;
      }),
    };
  }
  return c;
}

/** The JSON object `vigie replay --compare --json` prints. */
export interface WhatIfReport extends Comparison {
  a: RunInfo;
  b: RunInfo;
  input: string;
}
