/**
 * `npm run eval:nab:cv [-- --data ../shared/data/nab --folds 3 --repeats 1 --json]`: how the `anomaly`
 * detector's settings hold on NAB series they were not chosen on. The corpus is split by series within
 * each category (src/eval/nab-cv.ts); for each fold, the grid's setting with the best standard score on
 * the other folds is scored on the held-out fold. Prints one row per held-out fold, the mean and the
 * worst fold for the three NAB profiles, and the same for the shipped defaults alone; with `--json`, one
 * JSON object. The detector core runs without the engine (the engine gives the same rows: see
 * tests/eval/nab-run.test.ts), each series in a fresh core.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { AnomalyCore, DEFAULT_ANOMALY_SETTINGS, type AnomalySettings } from '../detectors/anomaly-core.js';
import { loadNabCorpus, runSeries } from '../src/eval/nab-corpus.js';
import { crossValidate, formatCvReport, type CandidateRun } from '../src/eval/nab-cv.js';

/** What the cross-validated standard score must reach (mean over held-out folds, and the worst of them). */
export const NAB_CV_TARGETS = { mean: 73, worst: 68 } as const;

/** The grid searched on the training folds: the shipped defaults first, then their neighbours. */
export function settingsGrid(): Array<{ name: string; settings: Partial<AnomalySettings> }> {
  const d = DEFAULT_ANOMALY_SETTINGS;
  const out: Array<{ name: string; settings: Partial<AnomalySettings> }> = [];
  for (const gateSkipRows of [d.gateSkipRows, 50, 0]) {
    for (const historyRows of [d.historyRows, 1000, 1500]) {
      for (const gateDecay of [d.gateDecay, 0.998]) {
        out.push({ name: `skip${gateSkipRows}-hist${historyRows}-decay${gateDecay}`, settings: { gateSkipRows, historyRows, gateDecay } });
      }
    }
  }
  return out;
}

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: '../shared/data/nab' },
    folds: { type: 'string', default: '3' },
    repeats: { type: 'string', default: '1' },
    'defaults-only': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const folds = Number(values.folds);
const repeats = Number(values.repeats);
const data = resolve(values.data);
if (!Number.isInteger(folds) || folds < 2 || !Number.isInteger(repeats) || repeats < 1) {
  process.stderr.write('eval:nab:cv: --folds N (integer >= 2), --repeats R (integer >= 1)\n');
  process.exit(2);
}
if (!existsSync(join(data, 'labels', 'combined_windows.json'))) {
  process.stderr.write(`eval:nab:cv: no NAB corpus at ${data} (expected data/<category>/*.csv and labels/combined_windows.json); give --data DIR\n`);
  process.exit(2);
}

const log = (m: string) => values.json || process.stderr.write(`${m}\n`);
const series = await loadNabCorpus(data);
const grid = values['defaults-only'] ? settingsGrid().slice(0, 1) : settingsGrid();
const runs: CandidateRun[] = [];
const t0 = performance.now();
let points = 0;
for (const c of grid) {
  const detections = series.map((s) => {
    points += s.values.length;
    return runSeries(s, new AnomalyCore(c.settings)).detections;
  });
  runs.push({ name: c.name, detections });
  log(`ran ${c.name}`);
}
const seconds = (performance.now() - t0) / 1000;
const cv = crossValidate(series, runs, folds, repeats);
const defaults = crossValidate(series, runs.slice(0, 1), folds, repeats);
const pass = cv.mean.standard >= NAB_CV_TARGETS.mean && cv.worst.standard >= NAB_CV_TARGETS.worst;

if (values.json) {
  process.stdout.write(
    `${JSON.stringify({ data, series: series.length, folds, repeats, grid: grid.length, cv, defaults: { mean: defaults.mean, worst: defaults.worst, results: defaults.results.map((r) => ({ fold: r.fold, test: r.test })) }, targets: NAB_CV_TARGETS, pass, points, seconds: Math.round(seconds) })}\n`,
  );
} else {
  process.stdout.write(`Grid of ${grid.length} settings searched on the training folds (${points} points in ${seconds.toFixed(0)} s).\n\n`);
  process.stdout.write(formatCvReport(cv));
  if (grid.length > 1) {
    process.stdout.write(`\nShipped defaults alone (${runs[0].name}):\n\n`);
    process.stdout.write(formatCvReport(defaults));
  }
  process.stdout.write(`\nTargets: mean >= ${NAB_CV_TARGETS.mean}, worst fold >= ${NAB_CV_TARGETS.worst} (standard): ${pass ? 'met' : 'NOT met'}\n`);
}
