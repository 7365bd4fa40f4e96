import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { VigieError } from '../../src/errors.js';
import { rankingReport } from '../../src/eval/ranking.js';
import { evalScoring } from '../../src/eval/scoring.js';
import { tempDir, vigie } from '../helpers/cli.js';

const DAY = 86_400_000;
const START = '2026-01-01T00:00:00Z';
const TEST_START = Date.parse(START) + 9 * DAY;

const config = (scores: boolean) => `name: cards-rules
time:
  maxOutOfOrderness: 1m
sources:
  - name: transactions
    type: ndjson-file
    path: transactions.ndjson
    time: { field: time }
    fields: { amount: number, customer: string, terminal: string }
pipelines:
  - name: cards
    key: customer
    detectors:
      - { name: amount-outlier, type: outlier, field: amount, history: 20, minHistory: 3, value: 4, scores: ${scores} }
sinks:
  - { name: out, type: console }
`;

let dir: string;
let txs: Record<string, unknown>[];

beforeAll(() => {
  dir = tempDir('vigie-scoring-');
  const r = vigie(['generate', '--scenario', 'cards', '--days', '12', '--customers', '200', '--terminals', '400', '--compromised-terminals', '1', '--compromised-customers', '2', '--seed', '5', '--start', START, '--out', dir]);
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/^cards: 12 days, \d+ transactions, \d+ frauds \(.*large-amount \d+, compromised-terminal \d+, compromised-card \d+\), \d+ reports -> /);
  txs = readFileSync(join(dir, 'transactions.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  writeFileSync(join(dir, 'rules.yaml'), config(true));
  writeFileSync(join(dir, 'silent.yaml'), config(false));
});

const inTest = (t: Record<string, unknown>, days: number) => (t.time as number) >= TEST_START && (t.time as number) < TEST_START + days * DAY;

describe('eval-scoring', () => {
  it('measures the detector, the amount alone and the rules alone over the test period of a rules-only config', async () => {
    const loaded = loadConfig(join(dir, 'rules.yaml'));
    const r = await evalScoring({ loaded, transactions: join(dir, 'transactions.ndjson'), reports: join(dir, 'reports.ndjson'), test: { start: TEST_START, days: 3 }, k: 5 });
    const test = txs.filter((t) => inTest(t, 3));
    expect(r.detector).toBeUndefined();
    expect(r.transactions).toBe(test.length);
    expect(r.frauds).toBe(test.filter((t) => typeof t.label === 'string').length);
    expect(r.frauds).toBeGreaterThan(0);
    expect(r.test).toEqual({ start: new Date(TEST_START).toISOString(), days: 3, k: 5 });
    // Warm-up aside, the outlier scores every transaction.
    expect(r.scored).toBeGreaterThan(0.9 * test.length);
    // The amount baseline, from the file alone.
    const amount = rankingReport(
      test.map((t) => ({ customer: t.customer as string, time: t.time as number, score: t.amount as number, fraud: t.label !== undefined })),
      { start: TEST_START, days: 3 },
      5,
    );
    expect(r.scorers.amount).toEqual(amount);
    for (const s of [r.scorers.detector, r.scorers.amount, r.scorers.rules]) {
      expect(s.cpAtK.perDay).toHaveLength(3);
      expect(s.auc).toBeGreaterThanOrEqual(0);
      expect(s.auc).toBeLessThanOrEqual(1);
      expect(s.ap).toBeGreaterThan(0);
    }
    // Large amounts and x5 amounts are frauds: the amount ranks them above chance.
    expect(r.scorers.amount.auc).toBeGreaterThan(0.55);
  });

  it('with --detector, the rules alone are the other detectors: none here, so every transaction counts 0 (AUC 1/2)', async () => {
    const loaded = loadConfig(join(dir, 'rules.yaml'));
    const r = await evalScoring({ loaded, transactions: join(dir, 'transactions.ndjson'), reports: join(dir, 'reports.ndjson'), test: { start: TEST_START, days: 2 }, detector: 'amount-outlier' });
    expect(r.detector).toBe('amount-outlier');
    expect(r.withStrength).toBe(0);
    expect(r.scorers.rules.auc).toBe(0.5);
    expect(r.scorers.rules.cpAtK.k).toBe(100);
  });

  it('refuses what cannot be evaluated, with a code', async () => {
    const loaded = loadConfig(join(dir, 'rules.yaml'));
    const base = { loaded, transactions: join(dir, 'transactions.ndjson'), reports: join(dir, 'reports.ndjson'), test: { start: TEST_START, days: 2 } };
    const code = async (p: Promise<unknown>) => {
      try {
        await p;
      } catch (err) {
        return err instanceof VigieError ? `${err.code}: ${err.message}` : String(err);
      }
      return 'no error';
    };
    expect(await code(evalScoring({ ...base, detector: 'amount-outlie' }))).toMatch(/^VIGIE_ERR_USAGE: --detector amount-outlie: .*did you mean "amount-outlier"/);
    expect(await code(evalScoring({ ...base, reports: join(dir, 'none.ndjson') }))).toMatch(/^VIGIE_ERR_SOURCE: --reports /);
    expect(await code(evalScoring({ ...base, test: { start: TEST_START + 30 * DAY, days: 2 } }))).toMatch(/^VIGIE_ERR_USAGE: no transaction .* in the test period/);
    expect(await code(evalScoring({ ...base, k: 0 }))).toMatch(/^VIGIE_ERR_USAGE: --k/);
    // A config whose detectors do not publish their judgements is evaluated all the same: the evaluation turns them on.
    expect(await code(evalScoring({ ...base, loaded: loadConfig(join(dir, 'silent.yaml')) }))).toBe('no error');
  });

  it('vigie eval-scoring prints a table, or one JSON object; a bad argument exits 2 with the code and a remedy', () => {
    const args = ['eval-scoring', '-c', join(dir, 'rules.yaml'), '--transactions', join(dir, 'transactions.ndjson'), '--reports', join(dir, 'reports.ndjson'), '--test-start', new Date(TEST_START).toISOString(), '--test-days', '3', '--k', '5'];
    const table = vigie(args);
    expect(table.status, table.stderr).toBe(0);
    expect(table.stdout).toContain('| scorer | CP@5 | AUC | AP |');
    expect(table.stdout).toMatch(/\| amount alone \| \d\.\d{3} \| \d\.\d{3} \| \d\.\d{3} \|/);
    const json = vigie([...args, '--json']);
    expect(json.status, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout);
    expect(Object.keys(report.scorers)).toEqual(['detector', 'amount', 'rules']);
    expect(report.transactions).toBe(txs.filter((t) => inTest(t, 3)).length);
    const bad = vigie([...args.slice(0, 7), '--test-start', 'yesterday']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/VIGIE_ERR_USAGE: --test-start yesterday/);
    expect(bad.stderr).toMatch(/remedy: /);
  });

  it('vigie generate refuses options that do not fit the scenario', () => {
    const events = vigie(['generate', '--scenario', 'cards', '--events', '10', '--out', dir]);
    expect(events.status).toBe(2);
    expect(events.stderr).toMatch(/VIGIE_ERR_USAGE: --events: not for --scenario cards/);
    const noOut = vigie(['generate', '--scenario', 'cards', '--days', '1']);
    expect(noOut.status).toBe(2);
    expect(noOut.stderr).toMatch(/--out DIR/);
    const days = vigie(['generate', '--scenario', 'payments', '--days', '3', '-n', '5']);
    expect(days.status).toBe(2);
    expect(days.stderr).toMatch(/--days: only for --scenario cards/);
  });
});
