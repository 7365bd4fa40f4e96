import { fileURLToPath } from 'node:url';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AnomalyCore } from '../../detectors/anomaly-core.js';
import { loadConfig } from '../../src/config/load.js';
import { evalNab } from '../../src/eval/nab-run.js';
import { parseNabCsv } from '../../src/eval/nab-score.js';
import { tempDir, vigie } from '../helpers/cli.js';

const NAB = process.env.VIGIE_NAB_DATA ?? fileURLToPath(new URL('../../../shared/data/nab', import.meta.url));
const CONFIG = fileURLToPath(new URL('../../config/nab.yaml', import.meta.url));

const ts = (i: number) => new Date(Date.UTC(2026, 0, 1) + i * 300_000).toISOString().replace('T', ' ').slice(0, 19);

/** A small NAB-style corpus: two calm periodic series, one with a spike inside its labelled window. */
function syntheticCorpus(): string {
  const dir = tempDir('vigie-nab-');
  mkdirSync(join(dir, 'data', 'synthetic'), { recursive: true });
  mkdirSync(join(dir, 'labels'));
  for (const [name, spikeAt] of [['with_spike', 1500], ['calm', -1]] as const) {
    let csv = 'timestamp,value\n';
    for (let i = 0; i < 2000; i++) {
      const v = 100 + 20 * Math.sin((2 * Math.PI * i) / 96) + ((i * 7919) % 13) / 3 + (i === spikeAt ? 400 : 0);
      csv += `${ts(i)},${v.toFixed(3)}\n`;
    }
    writeFileSync(join(dir, 'data', 'synthetic', `${name}.csv`), csv);
  }
  writeFileSync(join(dir, 'labels', 'combined_windows.json'), JSON.stringify({ 'synthetic/with_spike.csv': [[`${ts(1450)}.000000`, `${ts(1550)}.000000`]], 'synthetic/calm.csv': [] }));
  return dir;
}

describe('eval-nab', () => {
  it('writes timestamp,value,anomaly_score,alert per series and prints the three NAB scores', () => {
    const data = syntheticCorpus();
    const out = join(data, 'out');
    const r = vigie(['eval-nab', '--data', data, '--out', out, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ series: 2, rows: 4000 });
    for (const p of ['standard', 'reward_low_FP', 'reward_low_FN']) expect(typeof report[p]).toBe('number');
    const lines = readFileSync(join(out, 'synthetic', 'with_spike.csv'), 'utf8').trim().split('\n');
    expect(lines[0]).toBe('timestamp,value,anomaly_score,alert');
    expect(lines).toHaveLength(2001);
    // The row of the spike carries the alert, and the series' timestamps and values are kept verbatim.
    const spike = lines[1501].split(',');
    expect(spike[0]).toBe(ts(1500));
    expect(spike[3]).toBe('1');
    expect(Number(spike[2])).toBeGreaterThan(0.3);
    expect(report.standard).toBeGreaterThan(50);
    const table = vigie(['eval-nab', '--data', data, '--out', out]);
    expect(table.stdout).toMatch(/^\| standard +\| +-?\d+\.\d\d \|$/m);
    // Per category: only categories with labelled windows, the same figure as the corpus here (one category).
    expect(Object.keys(report.categories)).toEqual(['synthetic']);
    expect(report.categories.synthetic).toBeCloseTo(report.standard, 9);
    expect(table.stdout).toMatch(/^\| synthetic +\| +-?\d+\.\d\d \|$/m);
  });

  it('through the engine gives exactly what the detector core gives on its own (a NAB series)', async () => {
    const data = tempDir('vigie-nab-');
    const id = 'realKnownCause/nyc_taxi.csv';
    mkdirSync(join(data, 'data', 'realKnownCause'), { recursive: true });
    mkdirSync(join(data, 'labels'));
    copyFileSync(join(NAB, 'data', id), join(data, 'data', id));
    copyFileSync(join(NAB, 'labels', 'combined_windows.json'), join(data, 'labels', 'combined_windows.json'));
    const out = join(data, 'out');
    await evalNab({ data, out, loaded: loadConfig(CONFIG) });
    const rows = readFileSync(join(out, id), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
    const { timestamps, values } = parseNabCsv(readFileSync(join(NAB, 'data', id), 'utf8'));
    const core = new AnomalyCore();
    const direct = timestamps.map((t, i) => core.update(t, values[i]));
    expect(rows.map((r) => Number(r[3]))).toEqual(direct.map((o) => (o.alert ? 1 : 0)));
    expect(rows.map((r) => Number(r[2]))).toEqual(direct.map((o) => o.score));
    expect(direct.filter((o) => o.alert).length).toBeGreaterThan(0);
  });

  it('fails clearly on a folder that is not laid out as NAB', () => {
    for (const data of [tempDir(), join(tempDir(), 'missing')]) {
      const r = vigie(['eval-nab', '--data', data, '--out', tempDir()]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/VIGIE_ERR_INPUT: no NAB corpus at .*: expected data\/<category>\/<series>\.csv and labels\/combined_windows\.json/);
      expect(r.stderr).not.toMatch(/VIGIE_ERR_INTERNAL|ENOENT/);
    }
  });
});
