import type { Alert, VEvent } from '../types.js';
import { evidenceRef } from '../types.js';

/** A label given from outside the input: its typology and its case. */
export interface ExternalLabel {
  label: string;
  caseId: string;
}

/** Where ground truth sits in labelled input (the generator writes `label` and `case`). */
export interface LabelOptions {
  field: string;
  caseField: string;
  /**
   * Labels given beside the input (`vigie replay --labels-from`, labels-file.ts), by evidence reference:
   * when set, an event is labelled by its entry here, and `field` and `caseField` are not read.
   */
  byRef?: ReadonlyMap<string, ExternalLabel>;
}

export interface TypologyScore {
  events: number;
  cases: number;
  detectedCases: number;
  recall: number;
  /** Per detector, the cases of this typology its alerts hit (a case hit by two detectors counts for both). */
  detectors: Record<string, number>;
}

export interface DetectorScore {
  alerts: number;
  truePositives: number;
  falsePositives: number;
  precision: number;
  alertsPerThousandEvents: number;
  /** Cooldown summaries (repeats suppressed), not counted as alerts above. */
  summaries: number;
}

export interface LabelReport {
  events: number;
  labelledEvents: number;
  typologies: Record<string, TypologyScore>;
  detectors: Record<string, DetectorScore>;
}

/**
 * Scores alerts against labelled input: an alert is a true positive when its evidence contains an
 * event of a labelled case; a case is detected when at least one alert hits one of its events.
 * Only labelled events are remembered, so memory follows the number of positives.
 */
export class LabelScorer {
  private readonly byRef = new Map<string, { label: string; caseId: string }>();
  private readonly typologies = new Map<string, { events: number; cases: Set<string>; detected: Set<string>; detectors: Map<string, Set<string>> }>();
  private readonly detectors = new Map<string, { alerts: number; tp: number; summaries: number }>();
  private events = 0;

  constructor(private readonly opts: LabelOptions) {}

  /** The label and case of an event: from the labels given, or from its own fields. */
  private labelOf(e: VEvent): ExternalLabel | undefined {
    if (this.opts.byRef !== undefined) return this.opts.byRef.get(evidenceRef(e));
    const label = e.payload[this.opts.field];
    if (typeof label !== 'string' || label === '') return undefined;
    const c = e.payload[this.opts.caseField];
    return { label, caseId: typeof c === 'string' || typeof c === 'number' ? String(c) : `${label}@${evidenceRef(e)}` };
  }

  observe(events: readonly VEvent[]): void {
    this.events += events.length;
    for (let i = 0; i < events.length; i++) {
      const e = events[i];
      const found = this.labelOf(e);
      if (found === undefined) continue;
      const { label, caseId } = found;
      this.byRef.set(evidenceRef(e), { label, caseId });
      let t = this.typologies.get(label);
      if (t === undefined) {
        t = { events: 0, cases: new Set(), detected: new Set(), detectors: new Map() };
        this.typologies.set(label, t);
      }
      t.events++;
      t.cases.add(caseId);
    }
  }

  /** Alerts must be scored after the events they cite were observed (true within a batch and across). */
  score(alerts: readonly Alert[]): void {
    for (const a of alerts) {
      let d = this.detectors.get(a.detector);
      if (d === undefined) {
        d = { alerts: 0, tp: 0, summaries: 0 };
        this.detectors.set(a.detector, d);
      }
      // A cooldown summary repeats an alert already scored: not a detection of its own.
      if (a.repeatsOf !== undefined) {
        d.summaries++;
        continue;
      }
      d.alerts++;
      let hit = false;
      for (const ref of a.evidence) {
        const l = this.byRef.get(ref);
        if (l === undefined) continue;
        hit = true;
        const t = this.typologies.get(l.label)!;
        t.detected.add(l.caseId);
        let byDetector = t.detectors.get(a.detector);
        if (byDetector === undefined) {
          byDetector = new Set();
          t.detectors.set(a.detector, byDetector);
        }
        byDetector.add(l.caseId);
      }
      if (hit) d.tp++;
    }
  }

  report(): LabelReport {
    const typologies: Record<string, TypologyScore> = {};
    let labelled = 0;
    for (const [name, t] of [...this.typologies].sort(([a], [b]) => a.localeCompare(b))) {
      labelled += t.events;
      typologies[name] = {
        events: t.events,
        cases: t.cases.size,
        detectedCases: t.detected.size,
        recall: t.cases.size === 0 ? 0 : round(t.detected.size / t.cases.size),
        detectors: Object.fromEntries([...t.detectors].sort(([a], [b]) => a.localeCompare(b)).map(([n, cases]) => [n, cases.size])),
      };
    }
    const detectors: Record<string, DetectorScore> = {};
    for (const [name, d] of [...this.detectors].sort(([a], [b]) => a.localeCompare(b))) {
      detectors[name] = {
        alerts: d.alerts,
        truePositives: d.tp,
        falsePositives: d.alerts - d.tp,
        precision: d.alerts === 0 ? 0 : round(d.tp / d.alerts),
        alertsPerThousandEvents: this.events === 0 ? 0 : round((1000 * d.alerts) / this.events),
        summaries: d.summaries,
      };
    }
    return { events: this.events, labelledEvents: labelled, typologies, detectors };
  }
}

function round(x: number): number {
  return Math.round(x * 10000) / 10000;
}
