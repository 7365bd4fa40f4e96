/**
 * Throughput of the interval join core alone: 1M rows (half left, half right) over 10k keys, event
 * time 10 rows per second with up to 5 s of disorder, the watermark moved at the end of each batch of
 * 1000 rows, join interval [0, 10m].
 * Run: `npm run build && node --max-semi-space-size=64 dist/load-tests/bench-join.js [rows] [keys]`.
 */
import { IntervalJoinCore, LEFT, RIGHT, joinSchema } from '../operators/interval-join.js';
import type { VEvent } from '../src/types.js';

const rows = Number(process.argv[2] ?? 1_000_000);
const keys = Number(process.argv[3] ?? 10_000);
const BATCH = 1000;
const DISORDER = 5000;

let seed = 12345;
const rand = () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
};

const events: Array<{ side: 0 | 1; key: string; e: VEvent }> = [];
for (let i = 0; i < rows; i++) {
  const side = (i & 1) as 0 | 1;
  const key = `k${Math.floor(rand() * keys)}`;
  const time = 1_700_000_000_000 + i * 100 - Math.floor(rand() * DISORDER);
  events.push({ side, key, e: { time, id: `e${i}`, partition: side, offset: i, source: side === LEFT ? 'logins' : 'payments', payload: { user: key, device: `d${Math.floor(rand() * 3)}`, amount: i % 100 } } });
}

for (const type of ['inner', 'left'] as const) {
  const cfg = joinSchema.parse({ left: { sources: ['logins'], as: 'login' }, right: { sources: ['payments'], as: 'payment' }, between: { lower: 0, upper: '10m' }, type, differ: ['device'], maxPerKey: 1000 });
  const core = new IntervalJoinCore(cfg, ['user']);
  const out: VEvent[] = [];
  const dropped: VEvent[] = [];
  let emitted = 0;
  let peak = 0;
  let max = -Infinity;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < events.length; i++) {
    const { side, key, e } = events[i];
    if (e.time > max) max = e.time;
    core.add(side === LEFT ? LEFT : RIGHT, key, e, out, dropped);
    if ((i + 1) % BATCH === 0) {
      core.advance(max - DISORDER, out);
      emitted += out.length;
      out.length = 0;
      if (core.size > peak) peak = core.size;
    }
  }
  core.advance(Infinity, out);
  emitted += out.length;
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(
    `${type}: ${rows} rows, ${keys} keys in ${s.toFixed(2)} s = ${Math.round(rows / s).toLocaleString('en')} rows/s; ` +
      `joined ${core.counts.joined}, alone ${core.counts.unmatched}, emitted ${emitted}, peak buffered rows ${peak}, dropped ${core.counts.dropped}`,
  );
}
