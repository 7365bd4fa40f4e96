import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AnomalyCore } from '../../detectors/anomaly-core.js';
import { tempDir, vigie } from '../helpers/cli.js';

const STEP = 300_000; // five minutes, as most NAB series
const ts = (i: number) => new Date(Date.UTC(2026, 0, 1) + i * STEP).toISOString().replace('T', ' ').slice(0, 19);
const value = (i: number, spikeAt: number) => 100 + 20 * Math.sin((2 * Math.PI * i) / 96) + ((i * 7919) % 13) / 3 + (i === spikeAt ? 400 : 0);

/**
 * Positions (in steps of five minutes) of each row of the two series:
 * - steps_back: 0..999, then back one hour (12 steps) to 988 and on to 1987, as NAB's
 *   machine_temperature_system_failure.csv steps from 02:55 back to 02:00;
 * - repeats: 0..1999, every 50th position written twice (two rows with one timestamp).
 */
function positions(): Record<string, number[]> {
  const back: number[] = [];
  for (let i = 0; i < 1000; i++) back.push(i);
  for (let i = 988; i < 1988; i++) back.push(i);
  const repeats: number[] = [];
  for (let i = 0; i < 2000; i++) {
    repeats.push(i);
    if (i % 50 === 25) repeats.push(i);
  }
  return { steps_back: back, repeats };
}

/** Rows behind the engine's watermark with config/nab.yaml (maxOutOfOrderness 0): strictly before an earlier row. */
function lateRows(pos: number[]): number[] {
  const late: number[] = [];
  let max = -Infinity;
  pos.forEach((p, row) => {
    if (p < max) late.push(row);
    max = Math.max(max, p);
  });
  return late;
}

function corpus(): { dir: string; pos: Record<string, number[]> } {
  const dir = tempDir('vigie-nab-late-');
  mkdirSync(join(dir, 'data', 'disorder'), { recursive: true });
  mkdirSync(join(dir, 'labels'));
  const pos = positions();
  const spikeAt = 1500; // well after the disorder, in both series at one row
  for (const [name, p] of Object.entries(pos)) {
    let csv = 'timestamp,value\n';
    for (const i of p) csv += `${ts(i)},${value(i, spikeAt).toFixed(3)}\n`;
    writeFileSync(join(dir, 'data', 'disorder', `${name}.csv`), csv);
  }
  // One window around each spike, and on steps_back one around the hour that repeats.
  writeFileSync(
    join(dir, 'labels', 'combined_windows.json'),
    JSON.stringify({
      'disorder/steps_back.csv': [
        [`${ts(960)}.000000`, `${ts(1020)}.000000`],
        [`${ts(1450)}.000000`, `${ts(1550)}.000000`],
      ],
      'disorder/repeats.csv': [[`${ts(1450)}.000000`, `${ts(1550)}.000000`]],
    }),
  );
  return { dir, pos };
}

describe('eval-nab on series whose timestamps step back or repeat', () => {
  it('scores them, writes one row per input row in input order with late rows at 0, and counts late rows', () => {
    const { dir, pos } = corpus();
    const out = join(dir, 'out');
    const r = vigie(['eval-nab', '--data', dir, '--out', out, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);

    const expectedLate: Record<string, number[]> = { steps_back: lateRows(pos.steps_back), repeats: lateRows(pos.repeats) };
    // Stepping back one hour from position 999 to 988: 988..998 are behind the watermark, 999 is a repeat.
    expect(expectedLate.steps_back).toHaveLength(11);
    expect(expectedLate.repeats).toHaveLength(0);

    for (const [name, p] of Object.entries(pos)) {
      const input = readFileSync(join(dir, 'data', 'disorder', `${name}.csv`), 'utf8').trim().split('\n').slice(1);
      const lines = readFileSync(join(out, 'disorder', `${name}.csv`), 'utf8').trim().split('\n');
      expect(lines[0]).toBe('timestamp,value,anomaly_score,alert');
      const rows = lines.slice(1).map((l) => l.split(','));
      expect(rows).toHaveLength(p.length);
      expect(rows.map((c) => `${c[0]},${c[1]}`)).toEqual(input);
      for (const row of expectedLate[name]) expect(rows[row].slice(2), `${name} row ${row}`).toEqual(['0', '0']);
      // The rows on time get what the detector gives on them alone, in input order (repeated timestamps included).
      const late = new Set(expectedLate[name]);
      const core = new AnomalyCore();
      const onTime = rows.filter((_, row) => !late.has(row));
      const direct = onTime.map((c) => core.update(Date.parse(`${c[0].replace(' ', 'T')}Z`), Number(c[1])));
      expect(onTime.map((c) => Number(c[2]))).toEqual(direct.map((o) => o.score));
      expect(onTime.map((c) => Number(c[3]))).toEqual(direct.map((o) => (o.alert ? 1 : 0)));
      // The spike is seen.
      const spike = rows.findIndex((c) => c[0] === ts(1500));
      expect(rows[spike][3], name).toBe('1');
    }
    // Position 1025 is written twice in repeats: two output rows, neither late.
    expect(readFileSync(join(out, 'disorder', 'repeats.csv'), 'utf8').split('\n').filter((l) => l.startsWith(`${ts(1025)},`))).toHaveLength(2);

    expect(report.rows).toBe(pos.steps_back.length + pos.repeats.length);
    expect(report.lateRows).toBe(11);
    const perSeries = Object.fromEntries(report.perSeries.map((s: { id: string; lateRows: number; rows: number }) => [s.id, s]));
    expect(perSeries['disorder/steps_back.csv']).toMatchObject({ rows: pos.steps_back.length, lateRows: 11 });
    expect(perSeries['disorder/repeats.csv']).toMatchObject({ rows: pos.repeats.length, lateRows: 0 });
    // Both spikes fall in their windows: the score is well above the never-firing detector's 0.
    expect(report.standard).toBeGreaterThan(50);

    const table = vigie(['eval-nab', '--data', dir, '--out', out]);
    expect(table.status, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/\b11 late rows\b/);
    expect(table.stdout).toMatch(/^\| disorder\/steps_back\.csv +\| +2000 \| +\d+ \| +11 \|$/m);
    expect(table.stdout).toMatch(/^\| disorder\/repeats\.csv +\| +2040 \| +\d+ \| +0 \|$/m);
  });
});
