import { describe, expect, it } from 'vitest';
import { vigie } from '../helpers/cli.js';

describe('vigie eval-fraud', () => {
  it('scores the shipped fraud rules per typology and detector, on several seeds', () => {
    const r = vigie(['eval-fraud', '--seeds', '4,5', '--json']);
    expect([0, 1]).toContain(r.status);
    const report = JSON.parse(r.stdout);
    expect(report.runs.map((x: { seed: number }) => x.seed)).toEqual([4, 5]);
    for (const run of report.runs) {
      expect(run.events).toBe(100000);
      // amount_outlier is left out of the example's data: it ships no rule for it (see config/payments.yaml).
      expect(Object.keys(run.report.typologies).sort()).toEqual(['account_takeover', 'card_testing', 'impossible_travel', 'mule_fan_in']);
    }
    // The exit status says whether every target was met, here on seeds the rules were not chosen on.
    expect(r.status).toBe(report.pass ? 0 : 1);
    expect(report.pass, JSON.stringify({ minRecall: report.minRecall, minPrecision: report.minPrecision })).toBe(true);
    // The typologies with a dedicated detector are found (a case cut short by the end of the stream can be missed).
    for (const t of ['account_takeover', 'card_testing', 'impossible_travel']) expect(report.minRecall[t], t).toBeGreaterThanOrEqual(0.9);
    for (const d of ['account-takeover', 'card-testing', 'impossible-travel']) expect(report.minPrecision[d], d).toBeGreaterThanOrEqual(0.8);
  });

  it('npm run eval:fraud (the shipped example, seeds 1, 2, 3) meets every target and exits 0', () => {
    const r = vigie(['eval-fraud', '--json']);
    const report = JSON.parse(r.stdout);
    expect(report.runs.map((x: { seed: number }) => x.seed)).toEqual([1, 2, 3]);
    expect(report.pass, JSON.stringify({ minRecall: report.minRecall, minPrecision: report.minPrecision })).toBe(true);
    expect(r.status).toBe(0);
  }, 120_000);

  it('prints readable tables by default', () => {
    const r = vigie(['eval-fraud', '--seeds', '4', '--events', '20000']);
    expect(r.stdout).toMatch(/^Recall per typology/m);
    expect(r.stdout).toMatch(/^\| account_takeover \| \d+\/\d+ \(/m);
    expect(r.stdout).toMatch(/^Precision per detector/m);
    expect(r.stdout).toMatch(/^(PASS|FAIL): /m);
  });

  it('rejects bad seeds', () => {
    const r = vigie(['eval-fraud', '--seeds', '1,x']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/--seeds must be integers/);
  });
});
