/**
 * bench:replay — the standard job (load-tests/standard-job.yaml) in replay, from NDJSON and from
 * MessagePack, against a plain loop reading the same NDJSON file.
 *
 * Work: the load generator's payments (load-tests/loadgen.ts EventFactory: 100,000 customers drawn by a
 * Zipf law of exponent 1.1, fraud bursts for 1% of events, 10% of events moved back by up to 3 s),
 * with event times 1/2,000 s apart (2,000 events per second of event time), 1,000,000 by default;
 * written once to an NDJSON file and to a MessagePack file (both reused afterwards: the factory is
 * deterministic), then replayed through the Engine in replay mode with the standard job, its
 * `payments` source read from the file, alerts and dead letters written as `vigie replay --out DIR`
 * writes them. The baseline is the plain loop of bench:fraud (split lines, JSON.parse, count per
 * customer). Rounds alternate (plain loop, NDJSON replay, MessagePack replay); medians are reported,
 * with events per CPU-second of the process and the peak RSS sampled during each replay.
 *
 *   npm run bench:replay                          readable table
 *   npm run bench:replay -- --json                one JSON object
 *   npm run bench:replay -- --events 300000 --runs 5
 *
 * Other benchmarks take the figure from {@link measureStandardReplay}.
 */
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { pack } from 'msgpackr';
import { loadConfig } from '../src/config/load.js';
import { EventFactory, type EventOptions } from './loadgen.js';
import { alternateMany, figures, keepResult, median, repoRoot, timedReplay, type ReplayRun } from './replay-bench.js';

export interface StandardReplayOptions {
  /** Events generated and replayed (1,000,000 by default). */
  events?: number;
  /** Rounds (plain loop, NDJSON replay, MessagePack replay); medians are reported. */
  runs?: number;
  seed?: number;
  /** Events per second of event time. */
  eventRate?: number;
  /** Where the input files (kept) and the replay outputs (removed) go. */
  dir?: string;
  /** The job replayed (its source `payments` reads the files). */
  config?: string;
}

export interface StandardReplayResult {
  bench: 'replay';
  events: number;
  replayed: number;
  ndjsonMb: number;
  msgpackMb: number;
  runs: number;
  config: string;
  alerts: number;
  deadLetters: number;
  replayEventsPerSecond: number;
  replayEventsPerCpuSecond: number;
  replayMsgpackEventsPerSecond: number;
  replayMsgpackEventsPerCpuSecond: number;
  plainLoopEventsPerSecond: number;
  plainLoopEventsPerCpuSecond: number;
  /** NDJSON replay / plain loop, wall time and CPU time. */
  ratio: number;
  cpuRatio: number;
  msgpackRatio: number;
  peakRssMb: number;
  msgpackPeakRssMb: number;
  runsReplayEventsPerSecond: number[];
  runsReplayMsgpackEventsPerSecond: number[];
  runsPlainLoopEventsPerSecond: number[];
  node: string;
  at: string;
}

/** The load generator's event options of this benchmark. */
export function standardEventOptions(seed: number): EventOptions {
  return { seed, keys: 100_000, zipf: 1.1, size: 0, outOfOrder: 0.1, maxDelay: 3000, fraudRate: 0.01 };
}

const START = Date.parse('2026-01-01T00:00:00Z');

/** The NDJSON and MessagePack files of (events, seed, rate): written once, together, then reused. */
async function inputFiles(dir: string, events: number, seed: number, rate: number): Promise<{ ndjson: string; msgpack: string }> {
  const stem = join(dir, `loadgen-${events}-s${seed}-r${rate}`);
  const ndjson = `${stem}.ndjson`;
  const msgpack = `${stem}.msgpack`;
  const sizes = await Promise.all([ndjson, msgpack].map((p) => stat(p).then((s) => s.size, () => 0)));
  if (sizes.every((s) => s > 0)) return { ndjson, msgpack };
  await mkdir(dir, { recursive: true });
  const factory = new EventFactory(standardEventOptions(seed));
  const [fj, fm] = await Promise.all([open(`${ndjson}.tmp`, 'w'), open(`${msgpack}.tmp`, 'w')]);
  try {
    for (let i = 0; i < events; ) {
      const n = Math.min(events - i, 10_000);
      let text = '';
      const packed: Buffer[] = [];
      for (const end = i + n; i < end; i++) {
        const e = factory.next(START + Math.floor((i * 1000) / rate));
        text += `${JSON.stringify(e)}\n`;
        packed.push(pack(e));
      }
      await fj.appendFile(text, 'utf8');
      await fm.appendFile(Buffer.concat(packed));
    }
  } finally {
    await Promise.all([fj.close(), fm.close()]);
  }
  await rename(`${ndjson}.tmp`, ndjson);
  await rename(`${msgpack}.tmp`, msgpack);
  return { ndjson, msgpack };
}

interface Outcome extends ReplayRun {
  alerts: number;
  deadLetters: number;
}

/** Generate the inputs if needed, then alternate the plain loop and the two replays `runs` times. */
export async function measureStandardReplay(opts: StandardReplayOptions = {}): Promise<StandardReplayResult> {
  const events = opts.events ?? 1_000_000;
  const runs = opts.runs ?? 3;
  const seed = opts.seed ?? 1;
  const rate = opts.eventRate ?? 2000;
  const dir = resolve(opts.dir ?? join(repoRoot, 'out', 'bench-replay'));
  const config = resolve(opts.config ?? join(repoRoot, 'load-tests', 'standard-job.yaml'));
  const files = await inputFiles(dir, events, seed, rate);
  const out = join(dir, 'replay-out');
  const replay = (path: string) => async (): Promise<Outcome> => {
    const r = await timedReplay(loadConfig(config), 'payments', path, out, ['alerts', 'dead-letters']);
    const deadLetters = r.summary.deadLetters.total;
    return { events: r.events, seconds: r.seconds, cpuSeconds: r.cpuSeconds, alerts: r.summary.alerts.total, deadLetters };
  };
  const [nd, mp] = await alternateMany(runs, files.ndjson, [replay(files.ndjson), replay(files.msgpack)]);
  await rm(out, { recursive: true, force: true });
  const fn = figures(nd);
  const fm = figures(mp);
  const mb = async (p: string) => Number(((await stat(p)).size / 2 ** 20).toFixed(1));
  if (nd.last?.alerts !== mp.last?.alerts) throw new Error(`the NDJSON and MessagePack replays disagree: ${nd.last?.alerts} and ${mp.last?.alerts} alerts`);
  return {
    bench: 'replay',
    events,
    replayed: nd.last?.events ?? 0,
    ndjsonMb: await mb(files.ndjson),
    msgpackMb: await mb(files.msgpack),
    runs,
    config,
    alerts: nd.last?.alerts ?? 0,
    deadLetters: nd.last?.deadLetters ?? 0,
    replayEventsPerSecond: fn.eventsPerSecond,
    replayEventsPerCpuSecond: fn.eventsPerCpuSecond,
    replayMsgpackEventsPerSecond: fm.eventsPerSecond,
    replayMsgpackEventsPerCpuSecond: fm.eventsPerCpuSecond,
    plainLoopEventsPerSecond: fn.baselineEventsPerSecond,
    plainLoopEventsPerCpuSecond: fn.baselineEventsPerCpuSecond,
    ratio: fn.ratio,
    cpuRatio: fn.cpuRatio,
    msgpackRatio: Number((median(mp.eng) / median(mp.base)).toFixed(3)),
    peakRssMb: fn.peakRssMb,
    msgpackPeakRssMb: fm.peakRssMb,
    runsReplayEventsPerSecond: fn.runsEventsPerSecond,
    runsReplayMsgpackEventsPerSecond: fm.runsEventsPerSecond,
    runsPlainLoopEventsPerSecond: fn.runsBaselineEventsPerSecond,
    node: process.version,
    at: new Date().toISOString(),
  };
}

async function main(): Promise<void> {
  const { values: args } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      events: { type: 'string', default: '1000000' },
      runs: { type: 'string', default: '3' },
      seed: { type: 'string', default: '1' },
      'event-rate': { type: 'string', default: '2000' },
      config: { type: 'string' },
      dir: { type: 'string' },
      results: { type: 'string', default: join(repoRoot, 'load-tests', 'results') },
    },
  });
  const r = await measureStandardReplay({
    events: Number(args.events),
    runs: Number(args.runs),
    seed: Number(args.seed),
    eventRate: Number(args['event-rate']),
    config: args.config,
    dir: args.dir,
  });
  await keepResult(args.results, 'replay', r);
  if (args.json) {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    return;
  }
  const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
  const row = (name: string, eps: number, cpu: number, ratio: string, rss: string) =>
    console.log(`| ${name.padEnd(28)} | ${fmt(eps).padStart(12)} | ${fmt(cpu).padStart(14)} | ${ratio.padStart(5)} | ${rss.padStart(8)} |`);
  console.log(`bench:replay  ${fmt(r.events)} load generator events (${r.ndjsonMb} MB NDJSON, ${r.msgpackMb} MB MessagePack), ${r.runs} runs (median), ${r.config}`);
  console.log('');
  console.log('| run                          | events/s     | events/CPU-s   | ratio | peak RSS |');
  console.log('|------------------------------|--------------|----------------|-------|----------|');
  row('plain loop (parse + count)', r.plainLoopEventsPerSecond, r.plainLoopEventsPerCpuSecond, '1', '');
  row('vigie replay, NDJSON', r.replayEventsPerSecond, r.replayEventsPerCpuSecond, String(r.ratio), `${r.peakRssMb} MB`);
  row('vigie replay, MessagePack', r.replayMsgpackEventsPerSecond, r.replayMsgpackEventsPerCpuSecond, String(r.msgpackRatio), `${r.msgpackPeakRssMb} MB`);
  console.log('');
  console.log(`alerts ${fmt(r.alerts)}   dead letters ${fmt(r.deadLetters)}   replayed ${fmt(r.replayed)}`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) await main();
