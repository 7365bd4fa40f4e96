/**
 * What the replay benchmarks (bench:fraud, bench:scoring) share: the repository root, the plain loop
 * they are measured against, and the alternating runs (plain loop, then replay) with their medians,
 * CPU-time figures and the peak RSS sampled during the replays.
 */
import { createReadStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VigieError } from '../src/errors.js';
import { stat } from 'node:fs/promises';
import type { LoadedConfig } from '../src/config/load.js';
import { Engine, type Summary } from '../src/engine/engine.js';
import { replayOutSinks, type ReplayOutput } from '../src/backtest/replay-outputs.js';
import { silentLogger } from '../src/log.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root, whether run from load-tests/ or from dist/load-tests/. */
export const repoRoot = resolve(here, here.includes(`${join('dist', 'load-tests')}`) ? '../..' : '..');

/** The plain loop: split an NDJSON file into lines, parse each, count per customer (the floor of any replay of it). */
export async function plainLoop(path: string): Promise<{ events: number; keys: number }> {
  const perCustomer = new Map<string, number>();
  let events = 0;
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
        events++;
      }
      from = nl + 1;
    }
    rest = text.slice(from);
  }
  return { events, keys: perCustomer.size };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** What one replay run reports. */
export interface ReplayRun {
  events: number;
  seconds: number;
  /** CPU time of the process (every thread: GC, I/O) during the replay. */
  cpuSeconds: number;
}

export interface Alternated<R extends ReplayRun> {
  /** Events/s per run: plain loop, replay; and per CPU-second. */
  base: number[];
  baseCpu: number[];
  eng: number[];
  engCpu: number[];
  last: R | undefined;
  peakRssMb: number;
}

/** `runs` rounds of (plain loop over `file`, then `replay`), so that machine noise hits both. */
export async function alternate<R extends ReplayRun>(runs: number, file: string, replay: () => Promise<R>): Promise<Alternated<R>> {
  return (await alternateMany(runs, file, [replay]))[0];
}

/**
 * `runs` rounds of (plain loop over `file`, then each of `replays` in turn): one Alternated per replay,
 * all sharing the plain loop's figures of the same rounds; the peak RSS is sampled during each replay.
 */
export async function alternateMany<R extends ReplayRun>(runs: number, file: string, replays: ReadonlyArray<() => Promise<R>>): Promise<Array<Alternated<R>>> {
  const base: number[] = [];
  const baseCpu: number[] = [];
  const outs = replays.map((): Alternated<R> => ({ base, baseCpu, eng: [], engCpu: [], last: undefined, peakRssMb: 0 }));
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const { events } = await plainLoop(file);
    base.push(events / ((performance.now() - t0) / 1000));
    const c = process.cpuUsage(c0);
    baseCpu.push(events / ((c.user + c.system) / 1e6));
    for (let i = 0; i < replays.length; i++) {
      const out = outs[i];
      let peakRss = 0;
      const sample = () => {
        peakRss = Math.max(peakRss, process.memoryUsage.rss());
      };
      const timer = setInterval(sample, 50);
      try {
        out.last = await replays[i]();
      } finally {
        clearInterval(timer);
        sample();
      }
      out.peakRssMb = Math.max(out.peakRssMb, Math.round(peakRss / 2 ** 20));
      out.eng.push(out.last.events / out.last.seconds);
      out.engCpu.push(out.last.events / out.last.cpuSeconds);
    }
  }
  return outs;
}

/** One replay through the Engine in replay mode, timed (wall and process CPU), its outputs written under `out` as `vigie replay --out` does. */
export async function timedReplay(loaded: LoadedConfig, source: string, path: string, out: string, outputs: readonly ReplayOutput[]): Promise<ReplayRun & { summary: Summary; size: (file: string) => Promise<number> }> {
  const sinks = await replayOutSinks(out, silentLogger, outputs);
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const engine = new Engine({ loaded, mode: 'replay', logger: silentLogger, inputs: [{ source, path }], sinks });
  const summary = await engine.run();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  const events = Object.values(summary.sources).reduce((n, s) => n + s.events, 0);
  const size = async (file: string) => (await stat(join(out, file)).catch(() => undefined))?.size ?? 0;
  return { events, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, summary, size };
}

/** The medians and ratios every replay benchmark reports. */
export function figures(a: Alternated<ReplayRun>) {
  return {
    eventsPerSecond: Math.round(median(a.eng)),
    baselineEventsPerSecond: Math.round(median(a.base)),
    ratio: Number((median(a.eng) / median(a.base)).toFixed(3)),
    // Per CPU-second of the process: steadier than wall time on a machine shared with other work.
    eventsPerCpuSecond: Math.round(median(a.engCpu)),
    baselineEventsPerCpuSecond: Math.round(median(a.baseCpu)),
    cpuRatio: Number((median(a.engCpu) / median(a.baseCpu)).toFixed(3)),
    peakRssMb: a.peakRssMb,
    runsEventsPerSecond: a.eng.map(Math.round),
    runsBaselineEventsPerSecond: a.base.map(Math.round),
  };
}

/** Keep a run's JSON under `dir` (load-tests/results/, ignored by git). */
export async function keepResult(dir: string, bench: string, result: { at: string }): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, `bench-${bench}-${result.at.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}.json`), `${JSON.stringify(result, null, 2)}\n`);
}

/**
 * Writes a benchmark's result to `dir/file` (load-tests/results/, ignored by git) and, when `json`,
 * prints it as one line. True when printed: the caller then prints no table.
 */
export async function saveResult(dir: string, file: string, result: object, json: boolean): Promise<boolean> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, file), `${JSON.stringify(result, null, 2)}\n`);
  if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
  return json;
}

/**
 * Runs a benchmark's main: a VigieError (a bad option, a missing service) is printed as its code and
 * message, exit code 2 for a usage error, 1 otherwise; anything else is thrown as the bug it is.
 */
export async function runBench(bench: string, main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (err) {
    if (!(err instanceof VigieError)) throw err;
    process.stderr.write(`${bench}: ${err.code}: ${err.message}\n`);
    process.exitCode = err.code === 'VIGIE_ERR_USAGE' ? 2 : 1;
  }
}

/** A benchmark's integer option, at least `min`; a usage error otherwise. */
export function positiveInt(name: string, text: string, min = 1): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new VigieError('VIGIE_ERR_USAGE', `--${name} must be an integer >= ${min} (got ${JSON.stringify(text)})`);
  return n;
}
