/**
 * Before/after figures of an engine change: replays of one job over one file with two or more builds of
 * the repository (each a directory holding a `dist/` built from it, e.g. a copy of `dist/` kept before
 * the change, with `package.json` beside it), alternating in one process, so that machine noise and
 * JIT warm-up hit every build alike. Prints, per build, the median events/s and events per CPU-second
 * of the process, their ratios to the first build, and the alerts of the last round.
 *
 *   node --max-semi-space-size=64 dist/load-tests/compare-builds.js --rounds 5 --input payments=FILE \
 *     --config load-tests/standard-job.yaml out/before .
 */
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { median } from './replay-bench.js';

const { values: args, positionals: dirs } = parseArgs({
  allowPositionals: true,
  options: {
    rounds: { type: 'string', default: '3' },
    input: { type: 'string' },
    config: { type: 'string', default: 'load-tests/standard-job.yaml' },
    out: { type: 'string', default: 'out/compare-builds' },
  },
});
const eq = args.input?.indexOf('=') ?? -1;
if (args.input === undefined || eq < 1 || dirs.length < 1) {
  process.stderr.write('usage: compare-builds --input SOURCE=FILE [--rounds N] [--config FILE] DIR...\n');
  process.exit(2);
}
const source = args.input.slice(0, eq);
const file = resolve(args.input.slice(eq + 1));

interface Build {
  dir: string;
  run: () => Promise<{ events: number; alerts: number }>;
  wall: number[];
  cpu: number[];
  alerts: number;
}

const builds: Build[] = [];
for (const dir of dirs) {
  const imp = async (p: string): Promise<Record<string, any>> => import(pathToFileURL(join(resolve(dir), 'dist', p)).href);
  const [{ Engine }, { loadConfig }, { replayOutSinks }, { silentLogger }] = await Promise.all([
    imp('src/engine/engine.js'), imp('src/config/load.js'), imp('src/backtest/replay-outputs.js'), imp('src/log.js'),
  ]);
  const run = async () => {
    const sinks = await replayOutSinks(resolve(args.out), silentLogger, ['alerts', 'dead-letters']);
    const engine = new Engine({ loaded: loadConfig(resolve(args.config)), mode: 'replay', logger: silentLogger, inputs: [{ source, path: file }], sinks });
    const s = await engine.run();
    const events = Object.values(s.sources as Record<string, { events: number }>).reduce((n, x) => n + x.events, 0);
    return { events, alerts: s.alerts.total as number };
  };
  builds.push({ dir, run, wall: [], cpu: [], alerts: 0 });
}
for (let r = 0; r < Number(args.rounds); r++) {
  for (const b of builds) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const { events, alerts } = await b.run();
    const c = process.cpuUsage(c0);
    b.wall.push(events / ((performance.now() - t0) / 1000));
    b.cpu.push(events / ((c.user + c.system) / 1e6));
    b.alerts = alerts;
  }
}
const first = builds[0];
const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
console.log('| build | events/s (median) | events/CPU-s (median) | x CPU-s | x wall | alerts | runs (events/s) |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const b of builds) {
  const xc = (median(b.cpu) / median(first.cpu)).toFixed(3);
  const xw = (median(b.wall) / median(first.wall)).toFixed(3);
  console.log(`| ${b.dir} | ${fmt(median(b.wall))} | ${fmt(median(b.cpu))} | ${xc} | ${xw} | ${b.alerts} | ${b.wall.map(fmt).join(', ')} |`);
}
