/**
 * Throughput of the interval join core alone, against a baseline measured in the same run.
 *
 * Rows: half left (logins), half right (payments) over `--keys` keys, event time 10 rows per second
 * with up to 5 s of disorder, the watermark moved at the end of each batch of 1000 rows, join
 * interval [0, 10m], `differ: [device]`. The baseline is the least a join must do per row: append it
 * to its key's list of its side (a Map lookup and a push), with no matching and no expiry.
 *
 *   npm run bench:join                  a table
 *   npm run bench:join -- --json        one JSON object
 *   options: --rows 1000000 --keys 10000 --runs 3
 */
import { parseArgs } from 'node:util';
import { IntervalJoinCore, LEFT, RIGHT, joinSchema } from '../operators/interval-join.js';
import type { VEvent } from '../src/types.js';

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    rows: { type: 'string', default: '1000000' },
    keys: { type: 'string', default: '10000' },
    runs: { type: 'string', default: '3' },
  },
});
const ROWS = Number(args.rows);
const KEYS = Number(args.keys);
const RUNS = Math.max(1, Number(args.runs));
const BATCH = 1000;
const DISORDER = 5000;

let seed = 12345;
const rand = () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
};

const events: Array<{ side: 0 | 1; key: string; e: VEvent }> = [];
for (let i = 0; i < ROWS; i++) {
  const side = (i & 1) as 0 | 1;
  const key = `k${Math.floor(rand() * KEYS)}`;
  const time = 1_700_000_000_000 + i * 100 - Math.floor(rand() * DISORDER);
  events.push({ side, key, e: { time, id: `e${i}`, partition: side, offset: i, source: side === LEFT ? 'logins' : 'payments', payload: { user: key, device: `d${Math.floor(rand() * 3)}`, amount: i % 100 } } });
}

/** Rows per second of the baseline: each row appended to its key's list of its side. */
function baseline(): number {
  const t0 = process.hrtime.bigint();
  const lists = [new Map<string, VEvent[]>(), new Map<string, VEvent[]>()];
  for (let i = 0; i < events.length; i++) {
    const { side, key, e } = events[i];
    const m = lists[side];
    const l = m.get(key);
    if (l === undefined) m.set(key, [e]);
    else l.push(e);
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return ROWS / s;
}

/** Rows per second of the join core, with what it produced. */
function join(type: 'inner' | 'left'): { rate: number; joined: number; alone: number; peak: number; dropped: number } {
  const cfg = joinSchema.parse({ left: { sources: ['logins'], as: 'login' }, right: { sources: ['payments'], as: 'payment' }, between: { lower: 0, upper: '10m' }, type, differ: ['device'], maxPerKey: 1000 });
  const core = new IntervalJoinCore(cfg, ['user']);
  const out: VEvent[] = [];
  const dropped: VEvent[] = [];
  let peak = 0;
  let max = -Infinity;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < events.length; i++) {
    const { side, key, e } = events[i];
    if (e.time > max) max = e.time;
    core.add(side === LEFT ? LEFT : RIGHT, key, e, out, dropped);
    if ((i + 1) % BATCH === 0) {
      core.advance(max - DISORDER, out);
      out.length = 0;
      if (core.size > peak) peak = core.size;
    }
  }
  core.advance(Infinity, out);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return { rate: ROWS / s, joined: core.counts.joined, alone: core.counts.unmatched, peak, dropped: core.counts.dropped };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const base: number[] = [];
const inner: number[] = [];
const left: number[] = [];
let last = join('inner');
for (let r = 0; r < RUNS; r++) {
  base.push(baseline());
  last = join('inner');
  inner.push(last.rate);
  left.push(join('left').rate);
}
const result = {
  rows: ROWS,
  keys: KEYS,
  runs: RUNS,
  baselineRowsPerSec: Math.round(median(base)),
  innerRowsPerSec: Math.round(median(inner)),
  leftRowsPerSec: Math.round(median(left)),
  innerRatio: Number((median(inner) / median(base)).toFixed(3)),
  leftRatio: Number((median(left) / median(base)).toFixed(3)),
  joinedPairs: last.joined,
  peakBufferedRows: last.peak,
  droppedRows: last.dropped,
};
if (args.json) console.log(JSON.stringify(result));
else {
  const fmt = (n: number) => n.toLocaleString('en');
  console.log(`interval join core: ${fmt(ROWS)} rows, ${fmt(KEYS)} keys, median of ${RUNS} runs`);
  console.log('job                     rows/s        ratio to baseline');
  console.log(`baseline (append)  ${fmt(result.baselineRowsPerSec).padStart(12)}        1.000`);
  console.log(`join, inner        ${fmt(result.innerRowsPerSec).padStart(12)}        ${result.innerRatio.toFixed(3)}`);
  console.log(`join, left         ${fmt(result.leftRowsPerSec).padStart(12)}        ${result.leftRatio.toFixed(3)}`);
  console.log(`joined pairs ${fmt(result.joinedPairs)}, peak buffered rows ${fmt(result.peakBufferedRows)}, dropped ${fmt(result.droppedRows)}`);
}
