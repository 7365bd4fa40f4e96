import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_EVENT_MATCH_MS, matchAlerts } from '../../src/backtest/alert-match.js';
import { compareAlerts, isCooldownSummary, type DetectorComparison, type WhatIfReport } from '../../src/backtest/compare.js';
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
      // Another revision of the window of A's second: the same situation, raised later, so a match.
      alert({ detector: 'd1', key: 'k2', window: w1, revision: 1 }),
      alert({ detector: 'd2', key: 'c1', eventTime: T0 + 5 }),
      alert({ detector: 'd2', key: 'c1', eventTime: T0 + DAY + 6 }),
    ];
    const c = compareAlerts({ a, b });
    expect(row(c.detectors, 'd1')).toMatchObject({ a: 3, b: 2, both: 2, onlyA: 1, onlyB: 0, in: 'both' });
    expect(row(c.detectors, 'd1').perDay).toEqual({ '2026-01-01': { a: 2, b: 2 }, '2026-01-02': { a: 1, b: 0 } });
    expect(row(c.detectors, 'd1').keys).toEqual({ a: 2, b: 2, onlyA: 0, onlyB: 0, both: 2 });
    expect(row(c.detectors, 'd2')).toMatchObject({ a: 1, b: 2, both: 1, onlyA: 0, onlyB: 1 });
    expect(row(c.detectors, 'd2').perDay).toEqual({ '2026-01-01': { a: 1, b: 1 }, '2026-01-02': { a: 0, b: 1 } });
    expect(c.totals).toEqual({ a: 4, b: 4, both: 3, onlyA: 1, onlyB: 1, summaries: { a: 0, b: 0 } });
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

describe('matching alerts of A and B (pure)', () => {
  const MIN = 60_000;
  const E = { eventWithinMs: DEFAULT_EVENT_MATCH_MS };

  it('sliding windows that differ in start and end but overlap are the same alert: one pair per card alerted by both', () => {
    // A fires on the 8th payment of each card's burst, B (threshold 9) on the 9th: its window [t - 10m, t] ends 30 s later.
    const at = (card: number, payment: number) => T0 + card * 3_600_000 + payment * 30_000;
    const cards = Array.from({ length: 38 }, (_, i) => i);
    const a = cards.map((i) => alert({ detector: 'card-testing', key: `card-${i}`, window: { start: at(i, 7) - 10 * MIN, end: at(i, 7) } }));
    const b = cards.map((i) => alert({ detector: 'card-testing', key: `card-${i}`, window: { start: at(i, 8) - 10 * MIN, end: at(i, 8) } }));
    const c = compareAlerts({ a, b });
    expect(row(c.detectors, 'card-testing')).toMatchObject({ a: 38, b: 38, onlyA: 0, onlyB: 0, both: 38 });
    expect(row(c.detectors, 'card-testing').keys.both).toBe(38);
    expect(c.totals).toMatchObject({ a: 38, b: 38, onlyA: 0, onlyB: 0, both: 38 });
    expect(c.match).toEqual(E);
  });

  it('windows must share time: a later burst, an adjacent tumbling window, another key or another detector is another alert', () => {
    const a = [
      alert({ detector: 'd', key: 'k', window: { start: T0, end: T0 + 10 * MIN } }),
      alert({ detector: 'd', key: 'k', window: { start: T0 + 60 * MIN, end: T0 + 61 * MIN } }),
      alert({ detector: 'd', key: 'k1', window: { start: T0, end: T0 + 10 * MIN } }),
    ];
    const b = [
      alert({ detector: 'd', key: 'k', window: { start: T0 + 180 * MIN, end: T0 + 190 * MIN } }),
      alert({ detector: 'd', key: 'k', window: { start: T0 + 61 * MIN, end: T0 + 62 * MIN } }),
      alert({ detector: 'd', key: 'k2', window: { start: T0, end: T0 + 10 * MIN } }),
      alert({ detector: 'e', key: 'k1', window: { start: T0, end: T0 + 10 * MIN } }),
    ];
    const m = matchAlerts(a, b, E);
    expect(m.pairs).toEqual([]);
    expect(m.onlyA).toEqual(a);
    expect(m.onlyB).toEqual(b);
  });

  it('alerts on single events (no window) match when at most --match-within apart', () => {
    const a = [alert({ detector: 'o', key: 'c', eventTime: T0 })];
    expect(matchAlerts(a, [alert({ detector: 'o', key: 'c', eventTime: T0 + 10 * MIN })], E).pairs).toHaveLength(1);
    expect(matchAlerts(a, [alert({ detector: 'o', key: 'c', eventTime: T0 - 10 * MIN })], E).pairs).toHaveLength(1);
    expect(matchAlerts(a, [alert({ detector: 'o', key: 'c', eventTime: T0 + 10 * MIN + 1 })], E).pairs).toHaveLength(0);
    expect(matchAlerts(a, [alert({ detector: 'o', key: 'c', eventTime: T0 + 1 })], { eventWithinMs: 0 }).pairs).toHaveLength(0);
    expect(matchAlerts(a, [alert({ detector: 'o', key: 'c', eventTime: T0 })], { eventWithinMs: 0 }).pairs).toHaveLength(1);
  });

  it('identical alerts pair with their twin first, revision with revision', () => {
    const w = { start: T0, end: T0 + MIN };
    const [a0, a1] = [alert({ detector: 'd', key: 'k', window: w }), alert({ detector: 'd', key: 'k', window: w, revision: 1 })];
    const [b1, b0] = [alert({ detector: 'd', key: 'k', window: w, revision: 1 }), alert({ detector: 'd', key: 'k', window: w })];
    expect(matchAlerts([a0, a1], [b1, b0], E).pairs).toEqual([
      [a0, b0],
      [a1, b1],
    ]);
  });

  it('pairs as many alerts as possible, not each with the first that overlaps', () => {
    const w = (start: number, end: number) => ({ start: T0 + start, end: T0 + end });
    const [a1, a2] = [alert({ detector: 'd', key: 'k', window: w(0, 100) }), alert({ detector: 'd', key: 'k', window: w(110, 120) })];
    const [b1, b2] = [alert({ detector: 'd', key: 'k', window: w(50, 115) }), alert({ detector: 'd', key: 'k', window: w(90, 100) })];
    expect(matchAlerts([a1, a2], [b1, b2], E).pairs).toEqual([
      [a1, b2],
      [a2, b1],
    ]);
  });

  it('property: one-to-one, only matching alerts, twins paired, and otherwise as many pairs as a brute-force maximum matching', () => {
    const tol = 5;
    const span = fc.record({ key: fc.constantFrom('k1', 'k2'), start: fc.integer({ min: 0, max: 40 }), len: fc.integer({ min: 0, max: 15 }), revision: fc.integer({ min: 0, max: 1 }) });
    fc.assert(
      fc.property(fc.boolean(), fc.array(span, { maxLength: 7 }), fc.array(span, { maxLength: 7 }), (events, sa, sb) => {
        const make = (s: { key: string; start: number; len: number; revision: number }) =>
          events ? alert({ detector: 'd', key: s.key, eventTime: s.start, revision: s.revision }) : alert({ detector: 'd', key: s.key, window: { start: s.start, end: s.start + s.len }, revision: s.revision });
        const a = sa.map(make);
        const b = sb.map(make);
        // The rule, written independently: windows share an instant (a zero-length window counts as 1 ms); events at most tol apart.
        const end = (w: { start: number; end: number }) => Math.max(w.end, w.start + 1);
        const matches = (x: Alert, y: Alert) =>
          x.detector === y.detector && x.key === y.key && (x.window && y.window ? x.window.start < end(y.window) && y.window.start < end(x.window) : Math.abs(x.eventTime - y.eventTime) <= tol);
        const twin = (x: Alert, y: Alert) => x.key === y.key && x.revision === y.revision && JSON.stringify(x.window) === JSON.stringify(y.window) && x.eventTime === y.eventTime;
        const m = matchAlerts(a, b, { eventWithinMs: tol });
        const used = new Set<Alert>();
        for (const [x, y] of m.pairs) {
          expect(a.includes(x) && b.includes(y)).toBe(true);
          expect(matches(x, y)).toBe(true);
          expect(used.has(x) || used.has(y)).toBe(false);
          used.add(x).add(y);
        }
        expect(m.onlyA).toEqual(a.filter((x) => !used.has(x)));
        expect(m.onlyB).toEqual(b.filter((y) => !used.has(y)));
        for (const x of m.onlyA) for (const y of m.onlyB) expect(twin(x, y)).toBe(false);
        // Twins aside, a maximum matching of the rest (augmenting paths).
        const restB = [...b];
        const restA: Alert[] = [];
        let twins = 0;
        for (const x of a) {
          const i = restB.findIndex((y) => twin(x, y));
          if (i >= 0) {
            restB.splice(i, 1);
            twins++;
          } else restA.push(x);
        }
        const owner = new Array<number>(restB.length).fill(-1);
        const augment = (i: number, seen: Set<number>): boolean => {
          for (let j = 0; j < restB.length; j++) {
            if (seen.has(j) || !matches(restA[i], restB[j])) continue;
            seen.add(j);
            if (owner[j] < 0 || augment(owner[j], seen)) {
              owner[j] = i;
              return true;
            }
          }
          return false;
        };
        let best = 0;
        for (let i = 0; i < restA.length; i++) if (augment(i, new Set())) best++;
        expect(m.pairs.length).toBe(twins + best);
      }),
      { numRuns: 500 },
    );
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

/** Per detector, from two alert lists: counts, only/both by the same matching (the pure pairing), per day. */
function expected(a: Alert[], b: Alert[]) {
  const out: Record<string, { a: number; b: number; onlyA: number; onlyB: number; both: number; perDay: Record<string, { a: number; b: number }> }> = {};
  const count = (list: Alert[], side: 'a' | 'b') => {
    const kept: Alert[] = [];
    for (const x of list) {
      if (x.repeatsOf !== undefined) continue;
      const d = (out[x.detector] ??= { a: 0, b: 0, onlyA: 0, onlyB: 0, both: 0, perDay: {} });
      d[side]++;
      const day = new Date(x.eventTime).toISOString().slice(0, 10);
      (d.perDay[day] ??= { a: 0, b: 0 })[side]++;
      kept.push(x);
    }
    return kept;
  };
  for (const [x] of matchAlerts(count(a, 'a'), count(b, 'b'), { eventWithinMs: DEFAULT_EVENT_MATCH_MS }).pairs) out[x.detector].both++;
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
    const rb = vigie(['replay', '-c', B, '--input', events, '--out', dB, '--outputs', 'alerts,results']);
    expect(rb.status, rb.stderr).toBe(0);
    const alertsA = readAlerts(join(dA, 'alerts.jsonl'));
    const alertsB = readAlerts(join(dB, 'alerts.jsonl'));
    const want = expected(alertsA, alertsB);
    // The variant changes something visible.
    expect(want['card-testing'].a).toBeGreaterThan(0);
    expect(want['card-testing'].a).not.toBe(want['card-testing'].b);

    const out = join(dir, 'whatif');
    const r = vigie(['replay', '-c', A, '--input', events, '--compare', B, '--json', '--out', out, '--outputs', 'alerts,results']);
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
    expect(Object.keys(report).sort()).toEqual(['a', 'b', 'days', 'detectors', 'input', 'match', 'totals']);
    expect(report.match).toEqual({ eventWithinMs: DEFAULT_EVENT_MATCH_MS });
    expect(report.a).toMatchObject({ config: A, events: 30000 });
    expect(report.b).toMatchObject({ config: B, events: 30000 });
    expect(report.a.version).not.toBe(report.b.version);
    expect(report.input).toBe(events);
    // Every detector that raises alerts, in config order (emit: false ones only feed the score).
    expect(report.detectors.map((d) => d.detector)).toEqual(['card-testing', 'mule-fan-in', 'impossible-travel', 'account-takeover', 'takeover-risk']);
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

  it('sliding-window thresholds that differ slightly: "both" is the number of cards alerted by both runs', () => {
    // 20 cards burst 12 payments, 5 cards only 8, 30 s apart: A (>= 8) alerts on the 8th payment, B (>= 9) on the 9th,
    // so per card the two alerts' windows [t - 10m, t] differ in start and end, and overlap.
    const lines: string[] = [];
    const burst = (card: string, n: number, start: number) => {
      for (let j = 0; j < n; j++) lines.push(JSON.stringify({ id: `${card}-${j}`, ts: start + j * 30_000, type: 'payment', card }));
    };
    for (let i = 0; i < 25; i++) burst(`card-${i}`, i < 20 ? 12 : 8, T0 + i * 7_200_000);
    const file = join(dir, 'bursts.ndjson');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const cfg = (value: number) => `
sources: [{ name: payments, type: stdin, fields: { card: string } }]
pipelines:
  - name: card-bursts
    where: { type: payment }
    key: card
    window: { type: sliding, lookback: 10m }
    aggregates: [{ name: payments, fn: count }]
    detectors: [{ name: card-testing, type: threshold, aggregate: payments, op: '>=', value: ${value}, severity: high, cooldown: 30m }]
sinks: [{ name: c, type: console }]
`;
    const fa = join(dir, 'bursts-a.yaml');
    const fb = join(dir, 'bursts-b.yaml');
    writeFileSync(fa, cfg(8));
    writeFileSync(fb, cfg(9));
    const keys = (config: string, out: string) => {
      const r = vigie(['replay', '-c', config, '--input', file, '--out', out]);
      expect(r.status, r.stderr).toBe(0);
      return readAlerts(join(out, 'alerts.jsonl')).filter((x) => !isCooldownSummary(x));
    };
    const alertsA = keys(fa, join(dir, 'bursts-sep-a'));
    const alertsB = keys(fb, join(dir, 'bursts-sep-b'));
    const cardsB = new Set(alertsB.map((x) => x.key));
    const cardsBoth = [...new Set(alertsA.map((x) => x.key))].filter((k) => cardsB.has(k));
    expect([alertsA.length, alertsB.length, cardsBoth.length]).toEqual([25, 20, 20]);
    // The windows do differ: exact identity would pair none of them.
    for (const x of alertsA) expect(alertsB.some((y) => y.key === x.key && y.window?.start === x.window?.start && y.window?.end === x.window?.end)).toBe(false);

    const r = vigie(['replay', '-c', fa, '--input', file, '--compare', fb, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as WhatIfReport;
    const ct = report.detectors.find((d) => d.detector === 'card-testing')!;
    expect({ a: ct.a, b: ct.b, both: ct.both, onlyA: ct.onlyA, onlyB: ct.onlyB }).toEqual({ a: 25, b: 20, both: cardsBoth.length, onlyA: 5, onlyB: 0 });
    expect(report.totals).toMatchObject({ both: cardsBoth.length, onlyA: 5, onlyB: 0 });
    const text = vigie(['replay', '-c', fa, '--input', file, '--compare', fb]);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^\| card-testing +\| +25 \| +20 \| +-5 \| +5 \| +0 \| +20 \|/m);
    expect(text.stdout.replace(/\s+/g, ' ')).toContain('Alerts of A and B match when they come from the same detector (by name), for the same key, about the same time: their windows overlap');
  });

  it('--match-within sets how far apart alerts on single events may be; it needs --compare and a duration', () => {
    const r = vigie(['replay', '-c', A, '--input', events, '--compare', B, '--json', '--match-within', '90s']);
    expect(r.status, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as WhatIfReport).match).toEqual({ eventWithinMs: 90_000 });
    const alone = vigie(['replay', '-c', A, '--input', events, '--match-within', '90s']);
    expect(alone.status).toBe(2);
    expect(alone.stderr).toMatch(/VIGIE_ERR_USAGE: --match-within only applies with --compare/);
    const bad = vigie(['replay', '-c', A, '--input', events, '--compare', B, '--match-within', 'soon']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--match-within must be a duration/);
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
