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
import { createReadStream } from 'node:fs';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Engine } from '../src/engine/engine.js';
import { loadConfig, type LoadedConfig } from '../src/config/load.js';
import { generateCards } from '../src/cli/generate-cards.js';
import { replayOutSinks } from '../src/backtest/replay-outputs.js';
import { silentLogger } from '../src/log.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The sources of this file, whether run from load-tests/ or from dist/load-tests/. */
const root = resolve(here, here.includes(`${join('dist', 'load-tests')}`) ? '../..' : '..');

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

/** The plain loop: split the file into lines, parse each, count per customer. Returns the events read. */
async function baseline(path: string): Promise<number> {
  const perCustomer = new Map<string, number>();
  let n = 0;
  let rest = '';
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20, encoding: 'utf8' })) {
    const text = rest + (chunk as string);
    let from = 0;
    for (;;) {
      const nl = text.indexOf('\n', from);
      if (nl < 0) break;
      if (nl > from) {
        const e = JSON.parse(text.slice(from, nl)) as { customer?: string };
        const c = e.customer ?? '';
        perCustomer.set(c, (perCustomer.get(c) ?? 0) + 1);
        n++;
      }
      from = nl + 1;
    }
    rest = text.slice(from);
  }
  return n;
}

/** The config with its file tables reading the world's reports (as eval:scoring does). */
function configFor(w: World): LoadedConfig {
  const loaded = loadConfig(resolve(args.config));
  const cfg = loaded.config;
  return { ...loaded, config: { ...cfg, tables: cfg.tables?.map((t) => (t.type === 'file' ? { ...t, path: w.reports } : t)) } };
}

interface ReplayOutcome {
  events: number;
  alerts: number;
  scoresBytes: number;
  queueBytes: number;
  seconds: number;
  /** CPU time of the process (every thread: GC, I/O) during the replay. */
  cpuSeconds: number;
}

async function replay(w: World, out: string): Promise<ReplayOutcome> {
  const loaded = configFor(w);
  const source = loaded.config.sources[0]?.name ?? 'transactions';
  const sinks = await replayOutSinks(out, silentLogger, ['scores', 'queue']);
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const engine = new Engine({ loaded, mode: 'replay', logger: silentLogger, inputs: [{ source, path: w.transactions }], sinks });
  const summary = await engine.run();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  const events = Object.values(summary.sources).reduce((n, s) => n + s.events, 0);
  const size = async (f: string) => (await stat(join(out, f)).catch(() => undefined))?.size ?? 0;
  return { events, alerts: summary.alerts.total, scoresBytes: await size('scores.jsonl'), queueBytes: await size('queue.jsonl'), seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function main(): Promise<void> {
  const w = await world();
  const out = join(DIR, 'replay-out');
  let peakRss = 0;
  const sample = () => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
  };
  const base: number[] = [];
  const baseCpu: number[] = [];
  const eng: number[] = [];
  const engCpu: number[] = [];
  let last: ReplayOutcome | undefined;
  let lines = 0;
  for (let r = 0; r < RUNS; r++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    lines = await baseline(w.transactions);
    base.push(lines / ((performance.now() - t0) / 1000));
    const c = process.cpuUsage(c0);
    baseCpu.push(lines / ((c.user + c.system) / 1e6));
    const timer = setInterval(sample, 50);
    try {
      last = await replay(w, out);
    } finally {
      clearInterval(timer);
      sample();
    }
    eng.push(last.events / last.seconds);
    engCpu.push(last.events / last.cpuSeconds);
  }
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
    eventsPerSecond: Math.round(median(eng)),
    baselineEventsPerSecond: Math.round(median(base)),
    ratio: Number((median(eng) / median(base)).toFixed(3)),
    // Per CPU-second of the process: steadier than wall time on a machine shared with other work.
    eventsPerCpuSecond: Math.round(median(engCpu)),
    baselineEventsPerCpuSecond: Math.round(median(baseCpu)),
    cpuRatio: Number((median(engCpu) / median(baseCpu)).toFixed(3)),
    peakRssMb: Math.round(peakRss / 2 ** 20),
    runsEventsPerSecond: eng.map(Math.round),
    runsBaselineEventsPerSecond: base.map(Math.round),
    node: process.version,
    at: new Date().toISOString(),
  };
  await mkdir(args.results, { recursive: true });
  await writeFile(join(args.results, `bench-scoring-${result.at.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}.json`), `${JSON.stringify(result, null, 2)}\n`);
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
