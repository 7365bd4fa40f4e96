/**
 * bench:memory — bytes of detector state per key, by detector type, and how many keys one process can
 * hold within 4 GiB with the standard fraud job's detectors.
 *
 * Per detector type: a core built from its documented example (`detectorSchema.parse`, `createCore`;
 * adapted where the example does not fit a customer-keyed payments pipeline, see CASES), `maxKeys` raised
 * to the keys fed, then `--keys` keys (20,000; `--anomaly-keys` 200 for `anomaly`, whose state is large)
 * fed `--events` inputs each (20) in event-time order, the watermark advanced before each round of
 * inputs as the runtime does:
 * - event detectors: payments-like events, 4 sessions a day 6 hours apart, 5 events 2 minutes apart in
 *   each (the key's offset within the first 100 s). Every event carries every field (type, amount,
 *   merchant and mcc, one of 2 devices, one of 4 beneficiaries, country, lat/lon near home with one trip
 *   abroad), so every detector judges every event: a pessimistic state.
 * - result detectors (threshold, ratio, rate-of-change, baseline): one hourly window result per input;
 *   168 for `baseline` (a week: every slot of its hour-of-week season holds its model).
 * - score: the signals of its two inputs, alternately.
 * State: the growth of the JS heap plus external memory (ArrayBuffers included) between forced
 * collections (node --expose-gc, see heap-measure.ts), divided by the keys; median of `--runs` (3) runs,
 * each with a fresh core. Snapshot: `pack(core.snapshot())` (msgpackr) bytes, divided by the keys.
 *
 * The standard job (velocity over 10 minutes, distinct beneficiaries over 1 hour, first-seen device,
 * geo-velocity, outlier amounts): the sum of their bytes per key, and floor(4 GiB / sum) keys. Checked by
 * one run of the five cores together on the same events at `--verify-keys` keys (1,000,000), fewer when
 * the feed would take more than `--verify-seconds` (60, from the rates of the runs above) or not fit in
 * 60% of the heap left; the real bytes per key there, and the keys 4 GiB holds at that rate.
 *
 *   npm run bench:memory                     readable table
 *   npm run bench:memory -- --json           one JSON object
 *   npm run bench:memory -- --keys 5000 --events 40 --runs 1 --verify-keys 200000
 *
 * Each run also writes its JSON to load-tests/results/bench-memory.json (ignored by git).
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { getHeapStatistics } from 'node:v8';
import { pack } from 'msgpackr';
import { createCore, detectorSchema } from '../detectors/index.js';
import { signalEvent } from '../detectors/dependencies.js';
import type { DetectorContext, DetectorCore, DetectorTable, Emit } from '../detectors/types.js';
import { VigieError } from '../src/errors.js';
import type { VEvent, WindowResult } from '../src/types.js';
import { collect, growthPerKey, settledMemory } from './heap-measure.js';
import { median, repoRoot as root, runBench, saveResult } from './replay-bench.js';

const BENCH = 'bench:memory';
const GIB4 = 4 * 2 ** 30;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** 2026-11-02T00:00:00Z, a Monday. */
const DAY0 = Date.UTC(2026, 10, 2);

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    keys: { type: 'string', default: '20000' },
    'anomaly-keys': { type: 'string', default: '200' },
    events: { type: 'string', default: '20' },
    runs: { type: 'string', default: '3' },
    'verify-keys': { type: 'string', default: '1000000' },
    'verify-seconds': { type: 'string', default: '60' },
    results: { type: 'string', default: join(root, 'load-tests', 'results') },
  },
});

function positiveInt(name: string, text: string, min = 1): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new VigieError('VIGIE_ERR_USAGE', `--${name} must be an integer >= ${min} (got ${JSON.stringify(text)})`);
  return n;
}

type Input = 'event' | 'result' | 'signal';
interface Case {
  type: string;
  input: Input;
  config: Record<string, unknown>;
  /** Whether it is one of the standard fraud job's detectors. */
  standard?: boolean;
  anomalyKeys?: boolean;
  /** Inputs per key when not `--events`. */
  events?: number;
}

/** The documented examples, adapted where noted. */
const CASES: Case[] = [
  { type: 'velocity', input: 'event', standard: true, config: { name: 'card-testing', type: 'velocity', lookback: '10m', value: 8 } },
  // The example counts customers per key; in a customer-keyed job: beneficiaries.
  { type: 'distinct', input: 'event', standard: true, config: { name: 'fan-out', type: 'distinct', field: 'beneficiary', lookback: '1h', value: 10 } },
  { type: 'first-seen', input: 'event', standard: true, config: { name: 'new-device', type: 'first-seen', field: 'device', lookback: '90d', minHistory: 5 } },
  { type: 'geo-velocity', input: 'event', standard: true, config: { name: 'impossible-travel', type: 'geo-velocity', maxSpeedKmh: 900, minDistanceKm: 100 } },
  { type: 'outlier', input: 'event', standard: true, config: { name: 'amount-outlier', type: 'outlier', field: 'amount', history: 50, value: 5 } },
  {
    type: 'sequence',
    input: 'event',
    config: {
      name: 'ato-sequence',
      type: 'sequence',
      within: '30m',
      steps: [
        { name: 'login', match: { type: 'login', new_device: true } },
        { name: 'password_change', match: { type: 'password_change' } },
        { name: 'transfer', match: { type: 'transfer', amount: { gte: 1000 } } },
      ],
    },
  },
  { type: 'rule', input: 'event', config: { name: 'big-amount', type: 'rule', when: { amount: { '>': 220 }, country: { in: ['FR', 'DE'] } } } },
  // The example judges a latency field: here the amount.
  { type: 'anomaly', input: 'event', anomalyKeys: true, config: { name: 'amount-anomaly', type: 'anomaly', field: 'amount' } },
  // The example's labels table, present and empty (no report yet); one feature, the amount.
  { type: 'model', input: 'event', config: { name: 'risk', type: 'model', labels: { table: 'reports' }, features: [{ name: 'amount', field: 'amount', transform: 'log' }] } },
  { type: 'score', input: 'signal', config: { name: 'risk', type: 'score', within: '24h', value: 70, inputs: [{ detector: 'new-device', weight: 30 }, { detector: 'ato-sequence', weight: 50 }] } },
  { type: 'threshold', input: 'result', config: { name: 'card-testing', type: 'threshold', aggregate: 'payments', op: '>=', value: 10 } },
  { type: 'ratio', input: 'result', config: { name: 'error-rate', type: 'ratio', numerator: 'errors', denominator: 'requests', value: 0.2, minVolume: 50 } },
  { type: 'rate-of-change', input: 'result', config: { name: 'surge', type: 'rate-of-change', aggregate: 'logins', direction: 'up', value: 2, minPrevious: 20 } },
  // A week of hourly windows: every slot of the season holds its model (at most 168 per key).
  { type: 'baseline', input: 'result', events: 168, config: { name: 'traffic-drop', type: 'baseline', aggregate: 'requests', model: 'seasonal', season: 'hour-of-week', direction: 'down' } },
];

const EMPTY_TABLE: DetectorTable = { lookup: () => undefined, count: () => 0 };

function context(input: Input): DetectorContext {
  const windowed = input === 'result';
  return {
    pipeline: 'customers',
    keyLabel: 'customer',
    aggregates: windowed ? ['payments', 'errors', 'requests', 'logins'] : [],
    windowType: windowed ? 'tumbling' : 'none',
    evidenceLimit: 20,
    tables: new Map([['reports', EMPTY_TABLE]]),
  };
}

function build(c: Case, keys: number): DetectorCore {
  const config = detectorSchema.parse({ ...c.config, maxKeys: keys });
  return createCore(config, context(c.input));
}

/** Counts what the cores find, keeps nothing. */
function sink(): Emit & { signalled: number; judgements: number } {
  const e = {
    signalled: 0,
    judgements: 0,
    signal: () => void e.signalled++,
    judged: () => void e.judgements++,
  };
  return e;
}

/** A deterministic integer in [0, 2^32) for (k, r, salt). */
function hash(k: number, r: number, salt: number): number {
  let h = Math.imul(k ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(r + 0x27d4eb2f, 0xc2b2ae35) ^ salt;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

const keyOf = (k: number) => `cust-${String(k).padStart(7, '0')}`;
const TYPES = ['login', 'payment', 'payment', 'transfer', 'payment'] as const;

/** Event time of input `r` of key `k` among `keys`: 4 sessions 6 h apart, 5 inputs 2 min apart in each. */
function timeOf(k: number, r: number, keys: number): number {
  return roundStart(r) + Math.floor((k * 100_000) / keys);
}
const roundStart = (r: number) => DAY0 + Math.floor(r / 5) * 6 * HOUR + (r % 5) * 2 * MINUTE;

/** Input `r` of key `k`: a payments-like event carrying every field. */
function event(k: number, r: number, keys: number): VEvent {
  const h = hash(k, r, 1);
  const type = r === 6 ? 'password_change' : TYPES[r % 5];
  const abroad = r === 12; // one trip a day: ~1,000 km away, 6 h after the last event at home
  const lat = 43 + (hash(k, 0, 2) % 800) / 100 + (abroad ? 9 : 0) + ((h & 255) - 128) / 5_000;
  const lon = -1 + (hash(k, 0, 3) % 900) / 100 + (abroad ? 5 : 0) + (((h >>> 8) & 255) - 128) / 5_000;
  const amount = type === 'transfer' ? 200 + (h % 3000) : Math.round(Math.exp(2 + (h % 400) / 100)) / 1;
  return {
    time: timeOf(k, r, keys),
    id: `evt-${String(k * 1000 + r).padStart(11, '0')}`,
    partition: k % 12,
    offset: k * 1000 + r,
    source: 'payments',
    payload: {
      type,
      customer: keyOf(k),
      amount,
      merchant: `m-${(hash(k, 0, 4) + ((h >>> 16) % 12)) % 5000}`,
      mcc: ['5411', '5812', '5999', '4121'][h % 4],
      device: `dev-${k}-${r % 7 === 0 ? 1 : 0}`,
      new_device: r % 7 === 0,
      beneficiary: `ben-${k}-${r % 4}`,
      country: abroad ? 'DE' : 'FR',
      lat,
      lon,
    },
  };
}

/** Input `r` of key `k` for result detectors: the hourly window result. */
function windowResult(k: number, r: number): WindowResult {
  const h = hash(k, r, 5);
  const start = DAY0 + r * HOUR;
  const requests = 100 + (h % 200);
  return {
    pipeline: 'customers',
    key: keyOf(k),
    start,
    end: start + HOUR,
    revision: 0,
    kind: 'final',
    values: { payments: h % 12, errors: (h >>> 8) % 30, requests, logins: 10 + ((h >>> 16) % 40) },
    count: requests,
    evidence: [`evt-${String(k * 1000 + r).padStart(11, '0')}`],
    watermark: start + HOUR,
  };
}

/** Input `r` of key `k` for score: a signal of one of its two inputs. */
function signalInput(k: number, r: number, keys: number): VEvent {
  const time = timeOf(k, r, keys);
  const ref = `evt-${String(k * 1000 + r).padStart(11, '0')}`;
  const detector = r % 2 === 0 ? 'new-device' : 'ato-sequence';
  return signalEvent(detector, {
    key: keyOf(k), time, identity: `event:${ref}`, revision: 0, window: null, observed: 1, threshold: 1, score: 1, explanation: '', evidence: [ref],
  });
}

/** Feed `keys` keys `events` inputs each to `cores`, in event-time order; seconds taken. */
function feed(cores: DetectorCore[], input: Input, keys: number, events: number): number {
  const emit = sink();
  const t0 = performance.now();
  for (let r = 0; r < events; r++) {
    if (input === 'result') {
      for (let k = 0; k < keys; k++) {
        const res = [windowResult(k, r)];
        for (const c of cores) c.addResults?.(res, emit);
      }
      for (const c of cores) c.advance(DAY0 + (r + 1) * HOUR, emit);
      continue;
    }
    for (const c of cores) c.advance(roundStart(r), emit);
    for (let k = 0; k < keys; k++) {
      const e = input === 'signal' ? signalInput(k, r, keys) : event(k, r, keys);
      const key = input === 'signal' ? keyOf(k) : (e.payload.customer as string);
      for (const c of cores) c.add?.(key, e, emit);
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  if (emit.judgements === 0 && cores.every((c) => c.stats().keys === 0)) throw new Error('the cores judged no input and hold no key: the inputs did not reach them');
  return seconds;
}

interface Measured {
  bytesPerKey: number;
  jsHeapBytesPerKey: number;
  externalBytesPerKey: number;
  snapshotBytesPerKey: number;
  keys: number;
  eventsPerKey: number;
  input: Input;
  /** Seconds per input fed (median run), all cores together. */
  secondsPerInput: number;
  runsBytesPerKey: number[];
}

/**
 * One run: fresh cores fed, their growth per key and feed time. The cores live only in this call's
 * frame, so that none is still reachable when the next run takes its starting measure.
 */
function oneRun(makeCores: () => DetectorCore[], input: Input, keys: number, events: number, snapshots: boolean) {
  const m0 = settledMemory(BENCH);
  const cores = makeCores();
  const seconds = feed(cores, input, keys, events);
  const m1 = settledMemory(BENCH);
  const snapshot = snapshots ? cores.reduce((n, c) => n + pack(c.snapshot()).byteLength, 0) / keys : 0;
  return { ...growthPerKey(m0, m1, keys), seconds, snapshot };
}

function measure(makeCores: () => DetectorCore[], input: Input, keys: number, events: number, runs: number, snapshots = true): Measured {
  const results: Array<ReturnType<typeof oneRun>> = [];
  for (let run = 0; run < runs; run++) results.push(oneRun(makeCores, input, keys, events, snapshots && run === runs - 1));
  const med = (f: (r: (typeof results)[number]) => number) => median(results.map(f));
  return {
    bytesPerKey: Math.round(med((r) => r.jsHeap + r.external)),
    jsHeapBytesPerKey: Math.round(med((r) => r.jsHeap)),
    externalBytesPerKey: Math.round(med((r) => r.external)),
    snapshotBytesPerKey: Math.round(results[results.length - 1].snapshot),
    keys,
    eventsPerKey: events,
    input,
    secondsPerInput: med((r) => r.seconds) / (keys * events),
    runsBytesPerKey: results.map((r) => Math.round(r.jsHeap + r.external)),
  };
}

async function main(): Promise<void> {
  collect(BENCH); // fails at once when node runs without --expose-gc
  const keys = positiveInt('keys', args.keys);
  const anomalyKeys = positiveInt('anomaly-keys', args['anomaly-keys']);
  const events = positiveInt('events', args.events);
  const runs = positiveInt('runs', args.runs);
  const verifyKeysAsked = positiveInt('verify-keys', args['verify-keys']);
  const verifySeconds = positiveInt('verify-seconds', args['verify-seconds']);
  const started = performance.now();

  const perDetector: Record<string, Measured> = {};
  for (const c of CASES) {
    const k = c.anomalyKeys ? anomalyKeys : keys;
    try {
      perDetector[c.type] = measure(() => [build(c, k)], c.input, k, c.events ?? events, runs);
    } catch (err) {
      throw new Error(`detector ${c.type}: ${(err as Error).message}`, { cause: err });
    }
  }
  const standard = CASES.filter((c) => c.standard);
  const standardJobBytesPerKey = standard.reduce((n, c) => n + perDetector[c.type].bytesPerKey, 0);
  const maxKeysIn4GiB = Math.floor(GIB4 / standardJobBytesPerKey);

  // The verification run: as many keys as asked, within the time budget and 60% of the heap left.
  const perInput = standard.reduce((n, c) => n + perDetector[c.type].secondsPerInput, 0);
  const byTime = Math.floor(verifySeconds / (perInput * events));
  const heapLeft = getHeapStatistics().heap_size_limit - process.memoryUsage().heapUsed;
  const byHeap = Math.floor((0.6 * heapLeft) / standardJobBytesPerKey);
  const verifyKeys = Math.max(1000, Math.floor(Math.min(verifyKeysAsked, byTime, byHeap) / 1000) * 1000);
  const boundBy = verifyKeys >= verifyKeysAsked ? 'asked' : byTime <= byHeap ? 'time' : 'heap';
  const v = measure(() => standard.map((c) => build(c, verifyKeys)), 'event', verifyKeys, events, 1, false);
  const verification = {
    keys: verifyKeys,
    keysAsked: verifyKeysAsked,
    boundBy,
    bytesPerKey: v.bytesPerKey,
    jsHeapBytesPerKey: v.jsHeapBytesPerKey,
    externalBytesPerKey: v.externalBytesPerKey,
    seconds: Number((v.secondsPerInput * verifyKeys * events).toFixed(1)),
    maxKeysIn4GiB: Math.floor(GIB4 / v.bytesPerKey),
    /** Measured bytes per key over the extrapolated sum (below 1: the cores share key and field strings). */
    ratioToExtrapolated: Number((v.bytesPerKey / standardJobBytesPerKey).toFixed(3)),
  };

  const result = {
    bench: 'memory',
    runs,
    perDetector: Object.fromEntries(
      Object.entries(perDetector).map(([type, m]) => [
        type,
        {
          bytesPerKey: m.bytesPerKey,
          snapshotBytesPerKey: m.snapshotBytesPerKey,
          keys: m.keys,
          eventsPerKey: m.eventsPerKey,
          input: m.input,
          jsHeapBytesPerKey: m.jsHeapBytesPerKey,
          externalBytesPerKey: m.externalBytesPerKey,
          runsBytesPerKey: m.runsBytesPerKey,
          inputsPerSecond: Math.round(1 / m.secondsPerInput),
        },
      ]),
    ),
    standardJob: standard.map((c) => c.type),
    standardJobBytesPerKey,
    maxKeysIn4GiB,
    verification,
    heapSizeLimitBytes: getHeapStatistics().heap_size_limit,
    seconds: Number(((performance.now() - started) / 1000).toFixed(1)),
    node: process.version,
    at: new Date().toISOString(),
  };
  if (await saveResult(args.results, 'bench-memory.json', result, args.json)) return;
  const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
  const cols = ['detector', 'input', 'keys', 'inputs/key', 'bytes/key', 'JS heap + external', 'runs', 'snapshot bytes/key'];
  const widths = [16, 6, 9, 10, 10, 20, 26, 18];
  const line = (cells: string[]) => console.log(`| ${cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`);
  console.log(`${BENCH}  median of ${runs} runs per detector, ${fmt(keys)} keys (anomaly ${fmt(anomalyKeys)}), ${events} inputs per key`);
  console.log('');
  line(cols);
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const [type, m] of Object.entries(perDetector)) {
    line([type, m.input, fmt(m.keys), String(m.eventsPerKey), fmt(m.bytesPerKey), `${fmt(m.jsHeapBytesPerKey)} + ${fmt(m.externalBytesPerKey)}`, m.runsBytesPerKey.map(fmt).join(', '), fmt(m.snapshotBytesPerKey)]);
  }
  console.log('');
  console.log(`standard job (${result.standardJob.join(', ')}): ${fmt(standardJobBytesPerKey)} bytes/key, sum of the above`);
  console.log(`  keys within 4 GiB, extrapolated: ${fmt(maxKeysIn4GiB)}`);
  console.log(
    `  verification: the five cores together, ${fmt(verifyKeys)} keys (asked ${fmt(verifyKeysAsked)}, bound by ${boundBy}) in ${verification.seconds} s: ` +
      `${fmt(verification.bytesPerKey)} bytes/key (JS heap ${fmt(verification.jsHeapBytesPerKey)} + external ${fmt(verification.externalBytesPerKey)}), ` +
      `${fmt(verification.maxKeysIn4GiB)} keys within 4 GiB (ratio to the sum ${verification.ratioToExtrapolated})`,
  );
  console.log(`  whole run ${result.seconds} s; heap limit ${fmt(result.heapSizeLimitBytes / 2 ** 20)} MiB`);
}

await runBench(BENCH, main);
