/**
 * bench:anomaly — what the univariate `anomaly` detector costs: points/s of its core next to a windowed
 * Gaussian z-score over the same points, points/s of `vigie eval-nab` end to end, and bytes of state per key.
 *
 * Work: the NAB development corpus (`--data`, by default ../shared/data/nab from the repository root:
 * 36 series, 199,551 rows), loaded once in memory.
 * - Core: a fresh `AnomalyCore` (shipped settings) per series, fed every row of the corpus through
 *   `runSeries` (late rows skipped as the engine's replay skips them). Baseline in the same run over the
 *   same points: a plain loop computing NAB's "windowed Gaussian" z-score, |x - mean| / sd over the last
 *   `--window` values (ring buffer, running mean and sum of squared deviations).
 * - eval-nab: `evalNab` with config/nab.yaml, as `vigie eval-nab` runs it (engine replay of every series,
 *   the per-series CSV files written to a temporary folder, NAB scoring).
 *   Rounds alternate (baseline, core, then eval-nab in the first `--eval-rounds` rounds) so that machine
 *   noise hits all of them; medians are reported. A baseline round repeats its pass over the corpus for
 *   at least a quarter of a second (one pass takes milliseconds).
 * - State: `--keys` cores (200 by default), each fed `--points` values cycling through one corpus series (enough rows for
 *   every ring and history to be full), kept alive together; the growth of the JS heap plus ArrayBuffer
 *   memory between forced collections, divided by the keys (node needs --expose-gc: the npm script sets
 *   it). Snapshot size per key: msgpack (`pack(core.snapshot())`) and JSON lengths, averaged over the keys.
 *
 *   npm run bench:anomaly                          readable table
 *   npm run bench:anomaly -- --json                one JSON object
 *   npm run bench:anomaly -- --rounds 3 --eval-rounds 1 --keys 500 --points 5000 --data DIR
 *
 * Each run also writes its JSON to load-tests/results/bench-anomaly.json (ignored by git).
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pack } from 'msgpackr';
import { AnomalyCore } from '../detectors/anomaly-core.js';
import { loadNabCorpus, runSeries, type LoadedSeries } from '../src/eval/nab-corpus.js';
import { evalNab } from '../src/eval/nab-run.js';
import { loadConfig } from '../src/config/load.js';
import { VigieError } from '../src/errors.js';
import { median, repoRoot as root } from './replay-bench.js';
import { collect as collectFor, growthPerKey, settledMemory } from './heap-measure.js';

const collect = () => collectFor('bench:anomaly');

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    data: { type: 'string', default: '../shared/data/nab' },
    rounds: { type: 'string', default: '5' },
    'eval-rounds': { type: 'string', default: '2' },
    window: { type: 'string', default: '6400' },
    keys: { type: 'string', default: '200' },
    points: { type: 'string', default: '5000' },
    config: { type: 'string', default: join(root, 'config', 'nab.yaml') },
    results: { type: 'string', default: join(root, 'load-tests', 'results') },
  },
});

function positiveInt(name: string, text: string, min = 1): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new VigieError('VIGIE_ERR_USAGE', `--${name} must be an integer >= ${min} (got ${JSON.stringify(text)})`);
  return n;
}

/** The corpus folder: an absolute path as given, else relative to the repository root, then to the current folder. */
function corpusDir(given: string): string {
  const candidates = isAbsolute(given) ? [given] : [resolve(root, given), resolve(given)];
  for (const c of candidates) if (existsSync(join(c, 'data')) && existsSync(join(c, 'labels', 'combined_windows.json'))) return c;
  throw new VigieError(
    'VIGIE_ERR_USAGE',
    `no NAB corpus at ${[...new Set(candidates)].join(' or ')} (expected DIR/data/<category>/*.csv and DIR/labels/combined_windows.json); pass --data DIR`,
  );
}

/**
 * The baseline: NAB's windowed Gaussian over every point the core sees (same late-row rule), as a plain
 * loop. Mean and sum of squared deviations of the last `w` values are kept by a sliding Welford update.
 * Returns the points scored and a checksum of the scores (so that the work cannot be skipped).
 */
function windowedGaussian(corpus: LoadedSeries[], w: number): { points: number; checksum: number } {
  const ring = new Float64Array(w);
  let points = 0;
  let checksum = 0;
  for (const s of corpus) {
    const ts = s.timestamps;
    const xs = s.values;
    let latest = -Infinity;
    let n = 0;
    let pos = 0;
    let mean = 0;
    let m2 = 0;
    for (let i = 0; i < xs.length; i++) {
      const t = ts[i];
      if (t < latest) continue;
      latest = t;
      const x = xs[i];
      if (!Number.isFinite(x)) continue;
      points++;
      if (n > 1) {
        const sd = Math.sqrt(m2 / n);
        checksum += sd > 0 ? Math.abs(x - mean) / sd : 0;
      }
      if (n < w) {
        n++;
        const d = x - mean;
        mean += d / n;
        m2 += d * (x - mean);
      } else {
        const old = ring[pos];
        const before = mean;
        mean += (x - old) / w;
        m2 += (x - old) * (x - mean + old - before);
        if (m2 < 0) m2 = 0;
      }
      ring[pos] = x;
      pos = pos + 1 === w ? 0 : pos + 1;
    }
  }
  return { points, checksum };
}

/** A fresh core per series over the whole corpus; the points the cores were fed and the alerts they raised. */
function coreRun(corpus: LoadedSeries[]): { points: number; alerts: number } {
  let points = 0;
  let alerts = 0;
  for (const s of corpus) {
    const run = runSeries(s, new AnomalyCore());
    points += s.values.length - run.lateRows;
    for (const d of run.detections) if (d) alerts++;
  }
  return { points, alerts };
}

function timed<T>(f: () => T): { value: T; seconds: number } {
  const t0 = performance.now();
  const value = f();
  return { value, seconds: (performance.now() - t0) / 1000 };
}

/**
 * One round of the baseline: a pass over the corpus takes milliseconds, too short to time on a shared
 * machine, so passes repeat until at least `BASELINE_MIN_SECONDS` have gone by.
 */
const BASELINE_MIN_SECONDS = 0.25;
function baselineRound(corpus: LoadedSeries[], w: number): { points: number; perSecond: number } {
  let points = 0;
  let total = 0;
  let checksum = 0;
  const t0 = performance.now();
  let seconds = 0;
  while (seconds < BASELINE_MIN_SECONDS) {
    const r = windowedGaussian(corpus, w);
    points = r.points;
    total += r.points;
    checksum += r.checksum;
    seconds = (performance.now() - t0) / 1000;
  }
  if (!Number.isFinite(checksum)) throw new Error('the windowed Gaussian gave a non-finite score');
  return { points, perSecond: total / seconds };
}

/** Bytes held per key by `keys` cores fed `points` values each, and their snapshot sizes. */
function stateCost(corpus: LoadedSeries[], keys: number, points: number) {
  const m0 = settledMemory('bench:anomaly');
  const cores: AnomalyCore[] = [];
  for (let k = 0; k < keys; k++) {
    const xs = corpus[k % corpus.length].values;
    const core = new AnomalyCore();
    let at = (k * 7919) % xs.length;
    for (let j = 0; j < points; j++) {
      core.update(j * 300_000, xs[at]);
      at = at + 1 === xs.length ? 0 : at + 1;
    }
    cores.push(core);
  }
  const m1 = settledMemory('bench:anomaly');
  let packed = 0;
  let json = 0;
  for (const c of cores) {
    const snap = c.snapshot();
    packed += pack(snap).byteLength;
    json += Buffer.byteLength(JSON.stringify(snap));
  }
  const { jsHeap, arrayBuffers } = growthPerKey(m0, m1, keys);
  return {
    heapBytesPerKey: Math.round(jsHeap + arrayBuffers),
    jsHeapBytesPerKey: Math.round(jsHeap),
    arrayBufferBytesPerKey: Math.round(arrayBuffers),
    snapshotBytesPerKey: Math.round(packed / keys),
    snapshotJsonBytesPerKey: Math.round(json / keys),
  };
}

async function main(): Promise<void> {
  collect(); // fails at once, not after the timed rounds, when node runs without --expose-gc
  const rounds = positiveInt('rounds', args.rounds);
  const evalRounds = Math.min(rounds, positiveInt('eval-rounds', args['eval-rounds'], 0));
  const window = positiveInt('window', args.window, 2);
  const keys = positiveInt('keys', args.keys);
  const pointsPerKey = positiveInt('points', args.points);
  const data = corpusDir(args.data);
  const loaded = loadConfig(resolve(args.config));
  const corpus = await loadNabCorpus(data);
  const rows = corpus.reduce((n, s) => n + s.values.length, 0);

  const base: number[] = [];
  const core: number[] = [];
  const evalSeconds: number[] = [];
  const evalRate: number[] = [];
  let points = 0;
  let alerts = 0;
  let evalRows = 0;
  let evalAlerts = 0;
  let standard = 0;
  const out = await mkdtemp(join(tmpdir(), 'vigie-bench-anomaly-'));
  try {
    baselineRound(corpus, window); // warm-up: the loop is compiled before it is timed
    for (let r = 0; r < rounds; r++) {
      const b = baselineRound(corpus, window);
      base.push(b.perSecond);
      const c = timed(() => coreRun(corpus));
      core.push(c.value.points / c.seconds);
      if (c.value.points !== b.points) throw new Error(`core fed ${c.value.points} points, baseline ${b.points}`);
      points = c.value.points;
      alerts = c.value.alerts;
      if (r < evalRounds) {
        const t0 = performance.now();
        const report = await evalNab({ data, out, loaded });
        const seconds = (performance.now() - t0) / 1000;
        evalSeconds.push(seconds);
        evalRate.push(report.rows / seconds);
        evalRows = report.rows;
        evalAlerts = report.alerts;
        standard = report.scores.standard.score;
      }
    }
  } finally {
    await rm(out, { recursive: true, force: true });
  }
  const state = stateCost(corpus, keys, pointsPerKey);

  const med = (xs: number[]) => (xs.length === 0 ? 0 : median(xs));
  const result = {
    bench: 'anomaly',
    data,
    series: corpus.length,
    rows,
    points,
    rounds,
    evalRounds,
    window,
    corePointsPerSecond: Math.round(med(core)),
    baselinePointsPerSecond: Math.round(med(base)),
    ratioToBaseline: Number((med(core) / med(base)).toPrecision(3)),
    coreMicrosecondsPerPoint: Number((1e6 / med(core)).toFixed(2)),
    baselineNanosecondsPerPoint: Number((1e9 / med(base)).toFixed(2)),
    coreAlerts: alerts,
    evalNabPointsPerSecond: Math.round(med(evalRate)),
    evalNabSeconds: Number(med(evalSeconds).toFixed(2)),
    evalNabRows: evalRows,
    evalNabAlerts: evalAlerts,
    evalNabStandard: Number(standard.toFixed(2)),
    keys,
    pointsPerKey,
    heapBytesPerKey: state.heapBytesPerKey,
    jsHeapBytesPerKey: state.jsHeapBytesPerKey,
    arrayBufferBytesPerKey: state.arrayBufferBytesPerKey,
    snapshotBytesPerKey: state.snapshotBytesPerKey,
    snapshotJsonBytesPerKey: state.snapshotJsonBytesPerKey,
    runsCorePointsPerSecond: core.map(Math.round),
    runsBaselinePointsPerSecond: base.map(Math.round),
    runsEvalNabSeconds: evalSeconds.map((s) => Number(s.toFixed(2))),
    node: process.version,
    at: new Date().toISOString(),
  };
  await mkdir(args.results, { recursive: true });
  await writeFile(join(args.results, 'bench-anomaly.json'), `${JSON.stringify(result, null, 2)}\n`);
  if (args.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
  const row = (name: string, value: string, detail: string) => console.log(`| ${name.padEnd(38)} | ${value.padStart(12)} | ${detail.padEnd(44)} |`);
  console.log(`bench:anomaly  ${result.series} series, ${fmt(points)} points (${data}), ${rounds} rounds (median), eval-nab ${evalRounds}`);
  console.log('');
  console.log(`| ${'measure'.padEnd(38)} | ${'value'.padStart(12)} | ${'runs / detail'.padEnd(44)} |`);
  console.log(`|${'-'.repeat(40)}|${'-'.repeat(14)}|${'-'.repeat(46)}|`);
  row(`windowed Gaussian (W=${window}) points/s`, fmt(result.baselinePointsPerSecond), `${fmt(Math.min(...base))} .. ${fmt(Math.max(...base))}`);
  row('AnomalyCore points/s', fmt(result.corePointsPerSecond), `${fmt(Math.min(...core))} .. ${fmt(Math.max(...core))}`);
  row('ratio (core / windowed Gaussian)', String(result.ratioToBaseline), `${result.coreMicrosecondsPerPoint} µs/point against ${result.baselineNanosecondsPerPoint} ns; ${fmt(alerts)} alerts`);
  if (evalRounds > 0) {
    row('eval-nab end to end points/s', fmt(result.evalNabPointsPerSecond), `${fmt(evalRows)} rows, ${fmt(evalAlerts)} alerts`);
    row('eval-nab seconds', result.evalNabSeconds.toFixed(2), `runs ${result.runsEvalNabSeconds.join(', ')}; standard ${result.evalNabStandard}`);
  }
  row('state per key, bytes (heap + buffers)', fmt(result.heapBytesPerKey), `JS heap ${fmt(result.jsHeapBytesPerKey)}, ArrayBuffers ${fmt(result.arrayBufferBytesPerKey)}`);
  row('snapshot per key, bytes (msgpack)', fmt(result.snapshotBytesPerKey), `${fmt(keys)} keys fed ${fmt(pointsPerKey)} points each`);
  row('snapshot per key, bytes (JSON)', fmt(result.snapshotJsonBytesPerKey), '');
}

try {
  await main();
} catch (err) {
  if (err instanceof VigieError) {
    process.stderr.write(`bench:anomaly: ${err.code}: ${err.message}\n`);
    process.exitCode = err.code === 'VIGIE_ERR_USAGE' ? 2 : 1;
  } else {
    throw err;
  }
}
