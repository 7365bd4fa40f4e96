/**
 * bench:fraud — events/s of a realistic fraud config replayed from a file, against a plain loop reading
 * the same file.
 *
 * Work: the payments generator's events (300k by default) written once to an NDJSON file, then replayed
 * through the Engine in replay mode with load-tests/fraud-bench.yaml: one pipeline keyed by customer,
 * velocity counts and sums over 1d/7d/30d, two amount outliers (log scale), first-seen device and
 * beneficiary, distinct merchants, geo-velocity and a score combining them; alerts, scores, results and
 * dead letters written to JSONL files as `vigie replay --out DIR` writes them.
 * The baseline is a plain loop over the same file: split lines, JSON.parse, count per customer in a Map
 * (the floor of any replay of it). Runs alternate (baseline, replay) so that machine noise hits both;
 * medians are reported, with the peak RSS sampled during the replays, and events per CPU-second of the
 * process (all its threads) beside events per second of wall time: the steadier figure on a shared machine.
 *
 *   npm run bench:fraud                         readable table
 *   npm run bench:fraud -- --json               one JSON object
 *   npm run bench:fraud -- --events 1000000 --runs 3
 *   npm run bench:fraud -- --config my.yaml     another config over the same file (source `payments`)
 */
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/load.js';
import { createGenerator, customersFor } from '../src/generator/index.js';
import { alternate, figures, keepResult, repoRoot as root, timedReplay, type ReplayRun } from './replay-bench.js';

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    events: { type: 'string', default: '300000' },
    runs: { type: 'string', default: '3' },
    seed: { type: 'string', default: '1' },
    rate: { type: 'string', default: '1' },
    config: { type: 'string', default: join(root, 'load-tests', 'fraud-bench.yaml') },
    dir: { type: 'string', default: join(root, 'out', 'bench-fraud') },
    results: { type: 'string', default: join(root, 'load-tests', 'results') },
  },
});
const N = Number(args.events);
const RUNS = Number(args.runs);
const SEED = Number(args.seed);
const RATE = Number(args.rate);
const DIR = resolve(args.dir);

/** The payments file: generated once per (events, seed, rate), reused after (the generator is deterministic). */
async function paymentsFile(): Promise<{ path: string; bytes: number }> {
  const path = join(DIR, `payments-${N}-s${SEED}-r${RATE}.ndjson`);
  const have = await stat(path).catch(() => undefined);
  if (have !== undefined && have.size > 0) return { path, bytes: have.size };
  await mkdir(DIR, { recursive: true });
  const gen = createGenerator('payments', { seed: SEED, start: Date.parse('2026-01-01T00:00:00Z'), ratePerSecond: RATE, customers: customersFor(RATE) });
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    for (let left = N; left > 0; ) {
      const n = Math.min(left, 10_000);
      left -= n;
      let text = '';
      for (const e of gen.next(n)) text += `${JSON.stringify(e)}\n`;
      await fh.appendFile(text, 'utf8');
    }
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  return { path, bytes: (await stat(path)).size };
}

interface ReplayOutcome extends ReplayRun {
  alerts: number;
  scores: number;
}

async function replay(path: string, out: string): Promise<ReplayOutcome> {
  const r = await timedReplay(loadConfig(resolve(args.config)), 'payments', path, out, ['alerts', 'results', 'dead-letters', 'scores']);
  return { events: r.events, alerts: r.summary.alerts.total, scores: await r.size('scores.jsonl'), seconds: r.seconds, cpuSeconds: r.cpuSeconds };
}

async function main(): Promise<void> {
  const file = await paymentsFile();
  const out = join(DIR, 'replay-out');
  const runs = await alternate(RUNS, file.path, () => replay(file.path, out));
  const { base, eng, last } = runs;
  await rm(out, { recursive: true, force: true });
  const result = {
    bench: 'fraud',
    events: N,
    replayed: last?.events ?? 0,
    fileMb: Number((file.bytes / 2 ** 20).toFixed(1)),
    runs: RUNS,
    config: args.config,
    alerts: last?.alerts ?? 0,
    scoresMb: Number(((last?.scores ?? 0) / 2 ** 20).toFixed(1)),
    ...figures(runs),
    node: process.version,
    at: new Date().toISOString(),
  };
  await keepResult(args.results, 'fraud', result);
  if (args.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
  console.log(`bench:fraud  ${fmt(N)} payments events (${result.fileMb} MB NDJSON), ${RUNS} runs (median), config ${args.config}`);
  console.log('');
  console.log('| run                        | events/s (median) | min          | max          |');
  console.log('|----------------------------|-------------------|--------------|--------------|');
  console.log(`| plain loop (parse + count) | ${fmt(result.baselineEventsPerSecond).padStart(17)} | ${fmt(Math.min(...base)).padStart(12)} | ${fmt(Math.max(...base)).padStart(12)} |`);
  console.log(`| vigie replay, fraud config | ${fmt(result.eventsPerSecond).padStart(17)} | ${fmt(Math.min(...eng)).padStart(12)} | ${fmt(Math.max(...eng)).padStart(12)} |`);
  console.log('');
  console.log(`per CPU-second: plain loop ${fmt(result.baselineEventsPerCpuSecond)}, vigie ${fmt(result.eventsPerCpuSecond)} (ratio ${result.cpuRatio})`);
  console.log(`ratio (vigie / plain loop): ${result.ratio}   peak RSS ${result.peakRssMb} MB   alerts ${fmt(result.alerts)}   scores ${result.scoresMb} MB`);
}

await main();
