import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { alertMatchKey, compareAlerts, isCooldownSummary, type DetectorComparison, type WhatIfReport } from '../../src/backtest/compare.js';
import type { LabelReport } from '../../src/engine/labels.js';
import type { Alert } from '../../src/types.js';
import { tempDir, vigie } from '../helpers/cli.js';

const DAY = 86_400_000;
const T0 = Date.parse('2026-01-01T00:00:00Z');

let n = 0;
function alert(p: Partial<Alert> & { detector: string; key: string }): Alert {
  const eventTime = p.eventTime ?? p.window?.end ?? T0;
  return {
    id: `id-${n++}`,
    detectorType: 'threshold',
    pipeline: 'p',
    severity: 'high',
    window: null,
    revision: 0,
    eventTime,
    detectedAt: eventTime,
    observed: 10,
    threshold: 8,
    score: 1,
    explanation: 'x',
    evidence: [],
    configVersion: 'v',
    ...p,
  };
}

const row = (rows: DetectorComparison[], d: string) => rows.find((r) => r.detector === d) as DetectorComparison;

describe('compareAlerts (pure)', () => {
  it('counts alerts under A and B, only A, only B and both, per detector and per UTC day', () => {
    const w1 = { start: T0, end: T0 + 3_600_000 };
    const w2 = { start: T0 + DAY, end: T0 + DAY + 3_600_000 };
    const a = [
      alert({ detector: 'd1', key: 'k1', window: w1 }),
      alert({ detector: 'd1', key: 'k2', window: w1 }),
      alert({ detector: 'd1', key: 'k1', window: w2 }),
      // Event detector: matched on the triggering event time.
      alert({ detector: 'd2', key: 'c1', eventTime: T0 + 5 }),
    ];
    const b = [
      // Same identity as A's first, different id, observed or severity: a match.
      alert({ detector: 'd1', key: 'k1', window: w1, observed: 99, severity: 'low' }),
      // Another revision of A's second: not a match.
      alert({ detector: 'd1', key: 'k2', window: w1, revision: 1 }),
      alert({ detector: 'd2', key: 'c1', eventTime: T0 + 5 }),
      alert({ detector: 'd2', key: 'c1', eventTime: T0 + DAY + 6 }),
    ];
    const c = compareAlerts({ a, b });
    expect(row(c.detectors, 'd1')).toMatchObject({ a: 3, b: 2, both: 1, onlyA: 2, onlyB: 1, in: 'both' });
    expect(row(c.detectors, 'd1').perDay).toEqual({ '2026-01-01': { a: 2, b: 2 }, '2026-01-02': { a: 1, b: 0 } });
    expect(row(c.detectors, 'd1').keys).toEqual({ a: 2, b: 2, onlyA: 0, onlyB: 0, both: 2 });
    expect(row(c.detectors, 'd2')).toMatchObject({ a: 1, b: 2, both: 1, onlyA: 0, onlyB: 1 });
    expect(row(c.detectors, 'd2').perDay).toEqual({ '2026-01-01': { a: 1, b: 1 }, '2026-01-02': { a: 0, b: 1 } });
    expect(c.totals).toEqual({ a: 4, b: 4, both: 2, onlyA: 2, onlyB: 2, summaries: { a: 0, b: 0 } });
    expect(c.days).toEqual(['2026-01-01', '2026-01-02']);
    expect(c.labels).toBeUndefined();
  });

  it('leaves cooldown summaries out of the comparison (counted apart)', () => {
    const w = { start: T0, end: T0 + 60_000 };
    const first = alert({ detector: 'd', key: 'k', window: w });
    const summaryA = alert({ detector: 'd', key: 'k', window: { start: T0 + 600_000, end: T0 + 660_000 }, repeatsOf: first.id, suppressed: 3 });
    // B's summary has the very identity of an A alert: still not compared.
    const summaryB = alert({ detector: 'd', key: 'k', window: w, repeatsOf: 'x', suppressed: 1 });
    const c = compareAlerts({ a: [first, summaryA], b: [summaryB] });
    expect(isCooldownSummary(summaryA)).toBe(true);
    expect(row(c.detectors, 'd')).toMatchObject({ a: 1, b: 0, both: 0, onlyA: 1, onlyB: 0, summaries: { a: 1, b: 1 } });
    expect(row(c.detectors, 'd').perDay).toEqual({ '2026-01-01': { a: 1, b: 0 } });
  });

  it('pairs repeated identities as often as they occur on both sides', () => {
    const x = { detector: 'd', key: 'k', eventTime: T0 };
    const c = compareAlerts({ a: [alert(x), alert(x), alert(x)], b: [alert(x)] });
    expect(row(c.detectors, 'd')).toMatchObject({ a: 3, b: 1, both: 1, onlyA: 2, onlyB: 0 });
  });

  it('lists declared detectors without alerts, and marks those only one config has', () => {
    const c = compareAlerts({ a: [alert({ detector: 'old', key: 'k' })], b: [], detectors: { a: ['old', 'common'], b: ['common', 'new'] } });
    expect(c.detectors.map((d) => [d.detector, d.in, d.a, d.b])).toEqual([
      ['old', 'a', 1, 0],
      ['common', 'both', 0, 0],
      ['new', 'b', 0, 0],
    ]);
  });

  it('with label reports: precision per detector and recall per typology, for A and for B', () => {
    const report = (tp: number, alerts: number, detected: number): LabelReport => ({
      events: 100,
      labelledEvents: 10,
      typologies: { card_testing: { events: 10, cases: 4, detectedCases: detected, recall: detected / 4, detectors: { d: detected } } },
      detectors: { d: { alerts, truePositives: tp, falsePositives: alerts - tp, precision: tp / alerts, alertsPerThousandEvents: alerts * 10, summaries: 0 } },
    });
    const c = compareAlerts({ a: [alert({ detector: 'd', key: 'k' })], b: [], labels: { a: report(3, 4, 4), b: report(2, 2, 2) } });
    expect(row(c.detectors, 'd').precision).toEqual({ a: { alerts: 4, truePositives: 3, precision: 0.75 }, b: { alerts: 2, truePositives: 2, precision: 1 } });
    expect(c.labels?.typologies).toEqual([{ typology: 'card_testing', cases: 4, a: { detectedCases: 4, recall: 1 }, b: { detectedCases: 2, recall: 0.5 } }]);
  });
});

// ------------------------------------------------------------------------------------------------
// Through the CLI: the what-if equals two separate replays.
// ------------------------------------------------------------------------------------------------

const A = join('config', 'payments.yaml');
let dir: string;
let events: string;
let B: string;

function variantB(text: string): string {
  const from = /(- name: card-testing\n(?:\s+.*\n)*?\s+value: )8\n/;
  expect(text).toMatch(from);
  return text.replace(from, '$112\n');
}

beforeAll(() => {
  dir = tempDir('vigie-whatif-');
  events = join(dir, 'payments.ndjson');
  const g = vigie(['generate', '--scenario', 'payments', '--events', '30000', '--seed', '3', '--out', events]);
  expect(g.status, g.stderr).toBe(0);
  B = join(dir, 'payments-b.yaml');
  writeFileSync(B, variantB(readFileSync(A, 'utf8')));
});

const readAlerts = (file: string): Alert[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Alert);

/** Per detector, from two alert lists: counts, only/both by the same matching, per day. */
function expected(a: Alert[], b: Alert[]) {
  const out: Record<string, { a: number; b: number; onlyA: number; onlyB: number; both: number; perDay: Record<string, { a: number; b: number }> }> = {};
  const count = (list: Alert[], side: 'a' | 'b') => {
    const m = new Map<string, number>();
    for (const x of list) {
      if (x.repeatsOf !== undefined) continue;
      const d = (out[x.detector] ??= { a: 0, b: 0, onlyA: 0, onlyB: 0, both: 0, perDay: {} });
      d[side]++;
      const day = new Date(x.eventTime).toISOString().slice(0, 10);
      (d.perDay[day] ??= { a: 0, b: 0 })[side]++;
      m.set(alertMatchKey(x), (m.get(alertMatchKey(x)) ?? 0) + 1);
    }
    return m;
  };
  const ma = count(a, 'a');
  const mb = count(b, 'b');
  for (const [k, na] of ma) {
    const both = Math.min(na, mb.get(k) ?? 0);
    out[k.split('\u0000')[0]].both += both;
  }
  for (const d of Object.values(out)) {
    d.onlyA = d.a - d.both;
    d.onlyB = d.b - d.both;
  }
  return out;
}

describe('vigie replay --compare (what-if)', () => {
  it('gives per detector the counts of two separate replays, in one pass', () => {
    const dA = join(dir, 'sep-a');
    const dB = join(dir, 'sep-b');
    const ra = vigie(['replay', '-c', A, '--input', events, '--out', dA]);
    expect(ra.status, ra.stderr).toBe(0);
    const rb = vigie(['replay', '-c', B, '--input', events, '--out', dB]);
    expect(rb.status, rb.stderr).toBe(0);
    const alertsA = readAlerts(join(dA, 'alerts.jsonl'));
    const alertsB = readAlerts(join(dB, 'alerts.jsonl'));
    const want = expected(alertsA, alertsB);
    // The variant changes something visible.
    expect(want['card-testing'].a).toBeGreaterThan(0);
    expect(want['card-testing'].a).not.toBe(want['card-testing'].b);

    const out = join(dir, 'whatif');
    const r = vigie(['replay', '-c', A, '--input', events, '--compare', B, '--json', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as WhatIfReport;
    for (const [detector, w] of Object.entries(want)) {
      const got = report.detectors.find((d) => d.detector === detector);
      expect(got, detector).toBeDefined();
      expect({ a: got!.a, b: got!.b, onlyA: got!.onlyA, onlyB: got!.onlyB, both: got!.both, perDay: Object.fromEntries(Object.entries(got!.perDay)) }, detector).toEqual(w);
    }
    // Detectors without alerts in either run are listed with zeros; nothing else.
    for (const d of report.detectors) if (!(d.detector in want)) expect([d.a, d.b], d.detector).toEqual([0, 0]);
    expect(report.totals.a).toBe(alertsA.filter((x) => !isCooldownSummary(x)).length);
    expect(report.totals.b).toBe(alertsB.filter((x) => !isCooldownSummary(x)).length);
    // Each variant's outputs are exactly those of its separate replay.
    expect(readFileSync(join(out, 'a', 'alerts.jsonl'), 'utf8')).toBe(readFileSync(join(dA, 'alerts.jsonl'), 'utf8'));
    expect(readFileSync(join(out, 'b', 'alerts.jsonl'), 'utf8')).toBe(readFileSync(join(dB, 'alerts.jsonl'), 'utf8'));
    expect(readFileSync(join(out, 'b', 'results.jsonl'), 'utf8')).toBe(readFileSync(join(dB, 'results.jsonl'), 'utf8'));
  });

  it('--json: one object with both runs, per-detector rows, totals and days', () => {
    const r = vigie(['replay', '-c', A, '--input', events, '--compare', B, '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const report = JSON.parse(r.stdout) as WhatIfReport;
    expect(Object.keys(report).sort()).toEqual(['a', 'b', 'days', 'detectors', 'input', 'totals']);
    expect(report.a).toMatchObject({ config: A, events: 30000 });
    expect(report.b).toMatchObject({ config: B, events: 30000 });
    expect(report.a.version).not.toBe(report.b.version);
    expect(report.input).toBe(events);
    // Every detector that raises alerts, in config order (emit: false ones only feed the score).
    expect(report.detectors.map((d) => d.detector)).toEqual(['card-testing', 'mule-fan-in', 'impossible-travel', 'account-takeover', 'amount-outlier', 'takeover-risk']);
    for (const d of report.detectors) {
      expect(Object.keys(d).sort()).toEqual(['a', 'b', 'both', 'detector', 'in', 'keys', 'onlyA', 'onlyB', 'perDay', 'summaries']);
      expect(d.onlyA + d.both).toBe(d.a);
      expect(d.onlyB + d.both).toBe(d.b);
    }
    expect(report.days.length).toBeGreaterThan(0);
    for (const day of report.days) expect(day).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });

  it('--labels adds precision per detector and recall per typology for A and B (as separate labelled replays)', () => {
    const r = vigie(['replay', '-c', A, '--input', events, '--compare', B, '--labels', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as WhatIfReport;
    const sa = JSON.parse(vigie(['replay', '-c', A, '--input', events, '--labels', '--out', join(dir, 'lab-a')]).stdout);
    const sb = JSON.parse(vigie(['replay', '-c', B, '--input', events, '--labels', '--out', join(dir, 'lab-b')]).stdout);
    const ct = report.detectors.find((d) => d.detector === 'card-testing')!;
    expect(ct.precision?.a?.precision).toBe(sa.labels.detectors['card-testing'].precision);
    expect(ct.precision?.b?.precision).toBe(sb.labels.detectors['card-testing'].precision);
    expect(ct.precision?.a?.alerts).toBe(sa.labels.detectors['card-testing'].alerts);
    const typologies = report.labels!.typologies;
    expect(typologies.map((t) => t.typology)).toEqual(Object.keys(sa.labels.typologies));
    for (const t of typologies) {
      expect(t.cases).toBe(sa.labels.typologies[t.typology].cases);
      expect(t.a).toEqual({ detectedCases: sa.labels.typologies[t.typology].detectedCases, recall: sa.labels.typologies[t.typology].recall });
      expect(t.b).toEqual({ detectedCases: sb.labels.typologies[t.typology].detectedCases, recall: sb.labels.typologies[t.typology].recall });
    }
  });

  it('prints readable tables by default', () => {
    const r = vigie(['replay', '-c', A, '--input', events, '--compare', B, '--labels']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^What-if over /m);
    expect(r.stdout).toMatch(/^Alerts per detector/m);
    expect(r.stdout).toMatch(/^\| detector +\| +A \| +B \| B-A \| only A \| only B \| both \|/m);
    expect(r.stdout).toMatch(/^\| card-testing +\| +\d+ \| +\d+ \| +[-+]?\d+ \| +\d+ \| +\d+ \| +\d+ \|/m);
    expect(r.stdout).toMatch(/^Alerts per day \(UTC/m);
    expect(r.stdout).toMatch(/^\| 2026-01-01 \|/m);
    expect(r.stdout).toMatch(/^Precision per detector/m);
    expect(r.stdout).toMatch(/^Recall per typology/m);
  });

  it("refuses a B whose pipelines read sources A does not define, and --json without --compare", () => {
    const bad = join(dir, 'bad-b.yaml');
    writeFileSync(bad, readFileSync(A, 'utf8').replace('  - name: card-bursts\n', '  - name: card-bursts\n    sources: [cards]\n').replace(/sources:\n  - name: payments\n/, 'sources:\n  - name: cards\n'));
    const r = vigie(['replay', '-c', A, '--input', events, '--compare', bad]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/VIGIE_ERR_USAGE: --compare: .*bad-b\.yaml runs over the sources of config\/payments\.yaml, which defines "payments"; but pipeline "card-bursts" reads source "cards"/);
    const j = vigie(['replay', '-c', A, '--input', events, '--json']);
    expect(j.status).toBe(2);
    expect(j.stderr).toMatch(/--json only applies with --compare/);
  });
});
