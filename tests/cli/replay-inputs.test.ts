import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { WhatIfReport } from '../../src/backtest/compare.js';
import { tempDir, vigie } from '../helpers/cli.js';

/*
 * `vigie replay --input`: a backtest must equal live, so the file read instead of a source keeps that
 * source's settings, and says which source it replaces.
 */

let dir: string;
let payments: string;
let telemetry: string;

beforeAll(() => {
  dir = tempDir('vigie-inputs-');
  payments = join(dir, 'payments.ndjson');
  telemetry = join(dir, 'telemetry.ndjson');
  for (const [scenario, out, n] of [['payments', payments, '2000'], ['telemetry', telemetry, '5000']]) {
    const g = vigie(['generate', '--scenario', scenario, '--events', n, '--seed', '5', '--out', out]);
    expect(g.status, g.stderr).toBe(0);
  }
  // Redeliveries: the first three payments again at the end.
  const lines = readFileSync(payments, 'utf8').split('\n').filter(Boolean);
  writeFileSync(payments, `${[...lines, ...lines.slice(0, 3)].join('\n')}\n`);
  writeFileSync(
    join(dir, 'two.yaml'),
    `
sources:
  - { name: payments, type: ndjson-file, path: payments.ndjson, dedup: { horizon: 1d }, fields: { amount: number, card: string } }
  - { name: telemetry, type: ndjson-file, path: telemetry.ndjson, fields: { status: integer, service: string } }
pipelines:
  - name: card-bursts
    sources: [payments]
    where: { type: payment }
    key: card
    window: { type: sliding, lookback: 10m }
    aggregates: [{ name: payments, fn: count }]
    detectors: [{ name: card-testing, type: threshold, aggregate: payments, op: '>=', value: 4, severity: high }]
  - name: service-errors
    sources: [telemetry]
    where: { status: [500, 502, 503, 504] }
    key: service
    window: { type: tumbling, size: 1m }
    aggregates: [{ name: errors, fn: count }]
    detectors: [{ name: error-spike, type: threshold, aggregate: errors, op: '>=', value: 3, severity: high }]
sinks: [{ name: c, type: console, outputs: [alerts] }]
`,
  );
  writeFileSync(join(dir, 'one.yaml'), readFileSync(join(dir, 'two.yaml'), 'utf8').replace(/ {2}- \{ name: telemetry.*\n/, '').replace(/ {2}- name: service-errors\n[\s\S]*?(?=sinks:)/, ''));
});

const counts = (stdout: string) => {
  const s = JSON.parse(stdout);
  return { sources: s.sources, pipelines: s.pipelines, alerts: s.alerts, deadLetters: s.deadLetters };
};

function replay(config: string, extra: string[], env?: NodeJS.ProcessEnv) {
  return vigie(['replay', '-c', join(dir, config), '--out', join(dir, `out-${Math.random().toString(36).slice(2)}`), ...extra], { env });
}

describe('vigie replay --input keeps the settings of the source it replaces', () => {
  it('the same file gives the same counts through the configured source and through --input (dedup)', () => {
    const configured = replay('one.yaml', []);
    expect(configured.status, configured.stderr).toBe(0);
    const input = replay('one.yaml', ['--input', payments]);
    expect(input.status, input.stderr).toBe(0);
    expect(counts(configured.stdout).sources.payments).toMatchObject({ in: 2003, events: 2000, duplicates: 3 });
    expect(counts(input.stdout)).toEqual(counts(configured.stdout));
  });
});

describe('vigie replay --input with several sources', () => {
  it('a bare --input FILE is a usage error naming the sources and showing --input NAME=FILE', () => {
    const r = replay('two.yaml', ['--input', telemetry]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('VIGIE_ERR_USAGE');
    expect(r.stderr).toContain('the config has 2 sources ("payments", "telemetry")');
    expect(r.stderr).toContain('--input NAME=FILE');
    expect(r.stdout).toBe('');
  });

  it('an unknown NAME is a usage error with "did you mean"', () => {
    const r = replay('two.yaml', ['--input', `telemetri=${telemetry}`]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('VIGIE_ERR_USAGE: --input telemetri=');
    expect(r.stderr).toContain('did you mean "telemetry"?');
  });

  it('--input NAME=FILE replaces that source only, the others are read as configured, and the log says so', () => {
    const copy = join(dir, 'telemetry-copy.ndjson');
    copyFileSync(telemetry, copy);
    const configured = replay('two.yaml', []);
    expect(configured.status, configured.stderr).toBe(0);
    const r = replay('two.yaml', ['--input', `telemetry=${copy}`], { VIGIE_LOG_LEVEL: 'info' });
    expect(r.status, r.stderr).toBe(0);
    const got = counts(r.stdout);
    expect(got).toEqual(counts(configured.stdout));
    expect(got.deadLetters.byReason.missing_key ?? 0).toBe(0);
    expect(got.sources.payments.events).toBe(2000);
    expect(got.sources.telemetry.events).toBe(5000);
    expect(r.stderr).toContain(`--input: ${copy} replaces source \\"telemetry\\"`);
    expect(r.stderr).toContain('\\"payments\\" read as configured');
  });

  it('one --input per source replaces each; a what-if over them names every file', () => {
    const both = replay('two.yaml', ['--input', `telemetry=${telemetry}`, '--input', `payments=${payments}`]);
    expect(both.status, both.stderr).toBe(0);
    const configured = replay('two.yaml', []);
    expect(counts(both.stdout)).toEqual(counts(configured.stdout));
    const w = vigie(['replay', '-c', join(dir, 'two.yaml'), '--input', `telemetry=${telemetry}`, '--compare', join(dir, 'two.yaml'), '--json']);
    expect(w.status, w.stderr).toBe(0);
    const report = JSON.parse(w.stdout) as WhatIfReport;
    expect(report.input).toBe(`telemetry=${telemetry}, with payments as configured in ${join(dir, 'two.yaml')}`);
    expect(report.a.events).toBe(7000);
    expect(report.totals.a).toBeGreaterThan(0);
    expect(report.totals.both).toBe(report.totals.a);
  });

  it('the help says how to name the source, and which files are MessagePack', () => {
    const r = vigie(['replay', '--help']);
    expect(r.stdout).toContain('--input <[name=]file>');
    expect(r.stdout).toMatch(/\.msgpack,\s+\.mpk,\s+\.msgpackr/);
    expect(r.stdout).toMatch(/dedup/);
  });
});
