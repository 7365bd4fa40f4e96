/**
 * bench:scoring — events/s of the learned fraud-scoring config (config/cards.yaml) replayed over a
 * simulated cards world, against a plain loop reading the same file.
 *
 * Work: a cards world (`vigie generate --scenario cards`: 60 days, seed 21 by default, about 600,000
 * payments of 5,000 cards at 10,000 terminals, with its fraud reports) generated once under `--dir`,
 * then replayed through the Engine in replay mode with config/cards.yaml, its file tables reading the
 * world's reports: a `terminals` pipeline and a `cards` pipeline (a rule, an outlier, four velocities
 * and the `model` detector reading their strengths, three report tables and the terminals' judgements).
 * The scores of every payment and the daily queue are written to JSONL files as
 * `vigie replay --out DIR --outputs scores,queue` writes them.
 * The baseline is a plain loop over the same file: split lines, JSON.parse, count per customer in a Map
 * (the floor of any replay of it). Runs alternate (baseline, replay) so that machine noise hits both;
 * medians are reported, with the peak RSS sampled during the replays, and events per CPU-second of the
 * process (all its threads) beside events per second of wall time: the steadier figure on a shared machine.
 *
 *   npm run bench:scoring                         readable table
 *   npm run bench:scoring -- --json               one JSON object
 *   npm run bench:scoring -- --days 30 --runs 5 --seed 3
 *   npm run bench:scoring -- --config my.yaml     another scoring config over the same world (source `transactions`)
 */
import { rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, type LoadedConfig } from '../src/config/load.js';
import { generateCards } from '../src/cli/generate-cards.js';
import { alternate, figures, keepResult, repoRoot as root, timedReplay, type ReplayRun } from './replay-bench.js';

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    days: { type: 'string', default: '60' },
    runs: { type: 'string', default: '3' },
    seed: { type: 'string', default: '21' },
    config: { type: 'string', default: join(root, 'config', 'cards.yaml') },
    dir: { type: 'string', default: join(root, 'out', 'bench-scoring') },
    results: { type: 'string', default: join(root, 'load-tests', 'results') },
  },
});
const DAYS = Number(args.days);
const RUNS = Number(args.runs);
const SEED = Number(args.seed);
const DIR = resolve(args.dir);
const START = Date.parse('2026-01-01T00:00:00Z');

interface World {
  transactions: string;
  reports: string;
  bytes: number;
}

/** The world: generated once per (days, seed), reused after (the generator is deterministic). */
async function world(): Promise<World> {
  const dir = join(DIR, `cards-d${DAYS}-s${SEED}`);
  const transactions = join(dir, 'transactions.ndjson');
  const reports = join(dir, 'reports.ndjson');
  const done = join(dir, '.complete');
  if ((await stat(done).catch(() => undefined)) === undefined) {
    await rm(dir, { recursive: true, force: true });
    await generateCards({ days: DAYS, seed: SEED, start: START, out: dir });
    await writeFile(done, '');
  }
  return { transactions, reports, bytes: (await stat(transactions)).size };
}

/** The config with its file tables reading the world's reports (as eval:scoring does). */
function configFor(w: World): LoadedConfig {
  const loaded = loadConfig(resolve(args.config));
  const cfg = loaded.config;
  return { ...loaded, config: { ...cfg, tables: cfg.tables?.map((t) => (t.type === 'file' ? { ...t, path: w.reports } : t)) } };
}

interface ReplayOutcome extends ReplayRun {
  alerts: number;
  scoresBytes: number;
  queueBytes: number;
}

async function replay(w: World, out: string): Promise<ReplayOutcome> {
  const loaded = configFor(w);
  const source = loaded.config.sources[0]?.name ?? 'transactions';
  const r = await timedReplay(loaded, source, w.transactions, out, ['scores', 'queue']);
  return { events: r.events, alerts: r.summary.alerts.total, scoresBytes: await r.size('scores.jsonl'), queueBytes: await r.size('queue.jsonl'), seconds: r.seconds, cpuSeconds: r.cpuSeconds };
}

async function main(): Promise<void> {
  const w = await world();
  const out = join(DIR, 'replay-out');
  const runs = await alternate(RUNS, w.transactions, () => replay(w, out));
  const { base, eng, last } = runs;
  await rm(out, { recursive: true, force: true });
  const result = {
    bench: 'scoring',
    days: DAYS,
    seed: SEED,
    events: last?.events ?? 0,
    fileMb: Number((w.bytes / 2 ** 20).toFixed(1)),
    runs: RUNS,
    config: args.config,
    alerts: last?.alerts ?? 0,
    scoresMb: Number(((last?.scoresBytes ?? 0) / 2 ** 20).toFixed(1)),
    queueMb: Number(((last?.queueBytes ?? 0) / 2 ** 20).toFixed(2)),
    ...figures(runs),
    node: process.version,
    at: new Date().toISOString(),
  };
  await keepResult(args.results, 'scoring', result);
  if (args.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
  console.log(`bench:scoring  ${fmt(result.events)} payments (${DAYS} days, seed ${SEED}, ${result.fileMb} MB NDJSON), ${RUNS} runs (median), config ${args.config}`);
  console.log('');
  console.log('| run                          | events/s (median) | min          | max          |');
  console.log('|------------------------------|-------------------|--------------|--------------|');
  console.log(`| plain loop (parse + count)   | ${fmt(result.baselineEventsPerSecond).padStart(17)} | ${fmt(Math.min(...base)).padStart(12)} | ${fmt(Math.max(...base)).padStart(12)} |`);
  console.log(`| vigie replay, scoring config | ${fmt(result.eventsPerSecond).padStart(17)} | ${fmt(Math.min(...eng)).padStart(12)} | ${fmt(Math.max(...eng)).padStart(12)} |`);
  console.log('');
  console.log(`per CPU-second: plain loop ${fmt(result.baselineEventsPerCpuSecond)}, vigie ${fmt(result.eventsPerCpuSecond)} (ratio ${result.cpuRatio})`);
  console.log(`ratio (vigie / plain loop): ${result.ratio}   peak RSS ${result.peakRssMb} MB   alerts ${fmt(result.alerts)}   scores ${result.scoresMb} MB   queue ${result.queueMb} MB`);
}

await main();
