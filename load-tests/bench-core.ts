/**
 * bench:core — events/s of the in-process pipeline against a hand-written loop doing the same work.
 *
 * Work: pre-generated events in memory -> tumbling 60 s window per key over 100k keys ->
 * count + sum(amount) + distinct(merchant) -> results to a null sink.
 * The engine run goes through everything a replay does (ingestion with field mapping, watermarks,
 * RxJS batches, the pipeline, the sink stage); the baseline is a plain loop with one Map.
 * Runs alternate (baseline, engine) so that machine noise hits both; medians are reported.
 *
 *   npm run bench:core                 readable table
 *   npm run bench:core -- --json       one JSON object
 *   npm run bench:core -- --events 2000000 --runs 5
 *   npm run bench:core -- --max-keys 50000     window key bound below the key count: eviction cost
 */
import { parseArgs } from 'node:util';
import { Engine } from '../src/engine/engine.js';
import { parseConfig } from '../src/config/load.js';
import { memorySource } from '../src/sources/memory.js';
import { create as createNullSink } from '../sinks/null.js';

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    events: { type: 'string', default: '2000000' },
    keys: { type: 'string', default: '100000' },
    runs: { type: 'string', default: '5' },
    'batch-size': { type: 'string', default: '4096' },
    'max-keys': { type: 'string' },
  },
});
const N = Number(args.events);
const KEYS = Number(args.keys);
const RUNS = Number(args.runs);
const BATCH = Number(args['batch-size']);
/** The window's key bound; below the key count, evictions happen (and results differ from the loop's). */
const MAX_KEYS = args['max-keys'] === undefined ? undefined : Number(args['max-keys']);
const WINDOW = 60_000;
const START = Date.parse('2026-01-01T00:00:00Z');

/**
 * Deterministic events: uniform keys, 50 merchants, event times spread evenly over 4 windows, so a key
 * has about N / KEYS / 4 events per window (5 with the defaults): per-key state is created, updated a
 * few times and emitted, as in real keyed aggregations.
 */
function makeEvents(): Record<string, unknown>[] {
  let s = 12345;
  const rnd = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  const keys = Array.from({ length: KEYS }, (_, i) => `k${i}`);
  const merchants = Array.from({ length: 50 }, (_, i) => `m${i}`);
  const out: Record<string, unknown>[] = new Array(N);
  for (let i = 0; i < N; i++) {
    out[i] = {
      id: `e${i}`,
      ts: START + Math.floor((i * 4 * WINDOW) / N),
      key: keys[Math.floor(rnd() * KEYS)],
      amount: Math.round(rnd() * 10000) / 100,
      merchant: merchants[Math.floor(rnd() * 50)],
    };
  }
  return out;
}

interface Acc {
  start: number;
  count: number;
  sum: number;
  merchants: Set<unknown>;
}

/**
 * The same work by hand: one Map of per-key windows, closed when event time passes their end, each
 * closed window turned into a result record (as the engine hands results to its sink).
 */
function baseline(events: Record<string, unknown>[]): number {
  const open = new Map<string, Acc & { key: string }>();
  let results = 0;
  let out: object[] = [];
  const emit = (a: Acc & { key: string }) => {
    out.push({ key: a.key, start: a.start, end: a.start + WINDOW, count: a.count, values: { n: a.count, total: a.sum, merchants: a.merchants.size } });
    results++;
    if (out.length >= BATCH) out = [];
  };
  let currentEnd = -Infinity;
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    const t = e.ts as number;
    const start = Math.floor(t / WINDOW) * WINDOW;
    if (start + WINDOW > currentEnd) {
      for (const [k, a] of open) {
        if (a.start + WINDOW <= start) {
          emit(a);
          open.delete(k);
        }
      }
      currentEnd = start + WINDOW;
    }
    const k = e.key as string;
    let a = open.get(k);
    if (a === undefined || a.start !== start) {
      if (a !== undefined) emit(a);
      a = { key: k, start, count: 0, sum: 0, merchants: new Set() };
      open.set(k, a);
    }
    a.count++;
    const amount = e.amount;
    if (typeof amount === 'number') a.sum += amount;
    a.merchants.add(e.merchant);
  }
  for (const a of open.values()) emit(a);
  return results;
}

const CONFIG = `
name: bench-core
time: { maxOutOfOrderness: 0 }
sources: [{ name: mem, type: stdin }]
pipelines:
  - name: per-key
    key: key
    window: { type: tumbling, size: ${WINDOW}${MAX_KEYS === undefined ? '' : `, maxKeys: ${MAX_KEYS}`} }
    evidenceLimit: 0
    aggregates:
      - { name: n, fn: count }
      - { name: total, fn: sum, field: amount }
      - { name: merchants, fn: distinct, field: merchant }
sinks: [{ name: discard, type: 'null', outputs: [results] }]
metrics: { enabled: false }
`;

async function engineRun(events: Record<string, unknown>[]): Promise<number> {
  const loaded = parseConfig(CONFIG, 'bench-core.yaml');
  const sink = createNullSink({ name: 'discard', type: 'null', outputs: ['results'] });
  const engine = new Engine({ loaded, mode: 'replay', sources: [memorySource(events, { name: 'mem', batchSize: BATCH })], sinks: [sink] });
  await engine.run();
  return sink.received.results;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function main(): Promise<void> {
  const events = makeEvents();
  // Warm-up: JIT both paths before measuring.
  baseline(events.slice(0, 200_000));
  await engineRun(events.slice(0, 200_000));
  const base: number[] = [];
  const eng: number[] = [];
  let baseResults = 0;
  let engineResults = 0;
  for (let r = 0; r < RUNS; r++) {
    let t0 = performance.now();
    baseResults = baseline(events);
    base.push(N / ((performance.now() - t0) / 1000));
    t0 = performance.now();
    engineResults = await engineRun(events);
    eng.push(N / ((performance.now() - t0) / 1000));
  }
  if (MAX_KEYS === undefined && baseResults !== engineResults) throw new Error(`result count differs: baseline ${baseResults}, engine ${engineResults}`);
  const out = {
    events: N,
    keys: KEYS,
    runs: RUNS,
    batchSize: BATCH,
    maxKeys: MAX_KEYS ?? null,
    results: engineResults,
    eventsPerSecond: Math.round(median(eng)),
    baselineEventsPerSecond: Math.round(median(base)),
    ratio: Number((median(eng) / median(base)).toFixed(3)),
    node: process.version,
  };
  if (args.json) {
    process.stdout.write(`${JSON.stringify(out)}\n`);
    return;
  }
  const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
  console.log(`bench:core  ${N.toLocaleString('en-US')} events, ${KEYS.toLocaleString('en-US')} keys, tumbling ${WINDOW / 1000}s${MAX_KEYS === undefined ? '' : ` (maxKeys ${MAX_KEYS.toLocaleString('en-US')})`}, count+sum+distinct, ${RUNS} runs (median)`);
  console.log('');
  console.log('| run            | events/s (median) | min          | max          |');
  console.log('|----------------|-------------------|--------------|--------------|');
  console.log(`| plain loop     | ${fmt(out.baselineEventsPerSecond).padStart(17)} | ${fmt(Math.min(...base)).padStart(12)} | ${fmt(Math.max(...base)).padStart(12)} |`);
  console.log(`| vigie pipeline | ${fmt(out.eventsPerSecond).padStart(17)} | ${fmt(Math.min(...eng)).padStart(12)} | ${fmt(Math.max(...eng)).padStart(12)} |`);
  console.log('');
  console.log(`ratio (vigie / plain loop): ${out.ratio}   window results: ${out.results.toLocaleString('en-US')}`);
}

await main();
