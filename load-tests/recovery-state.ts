/**
 * The pure parts of bench:recovery: the standard job's payments for K customers, fed as a partition
 * task is fed, the probe events judged before and after a restore, and what is compared.
 *
 * Every customer `c<k>` gets `events` payments, one per round, rounds in event-time order and keys in
 * order within a round. All the payments fall within a few minutes of one hour, so that at checkpoint
 * time every detector of the standard job holds state for every customer: velocity (10 minutes) its
 * payments, first-seen its devices, geo-velocity its last position, outlier its amounts, and the
 * tumbling-hour window its open window (distinct beneficiaries). Fields follow `EventFactory`
 * (load-tests/loadgen.ts): home city from the customer's hash, merchant and beneficiary `m<i>`/`b<i>`,
 * device `d<k>` online or the merchant's terminal `t<i>`, log-normal amounts.
 */
import { CITIES } from '../src/generator/payments-catalog.js';
import { Rng, hashString } from '../src/generator/rng.js';
import type { Batch, VEvent } from '../src/types.js';
import type { Task } from '../src/engine/task.js';
import { VigieError } from '../src/errors.js';

/** 2026-12-05T10:01:00Z: the rounds fall within the hour that starts at 10:00. */
export const START = Date.UTC(2026, 11, 5, 10, 1, 0);
/** The rounds span at most 8 minutes, within velocity's 10 minutes and the tumbling hour. */
const SPAN_MS = 8 * 60_000;
const MERCHANTS = 2000;

export interface RecoveryFeed {
  keys: number;
  /** Payments per customer. */
  events: number;
  seed: number;
}

/** Length of one round (ms); the keys of a round are spread over 90% of it. */
export function roundMs(events: number): number {
  return Math.min(90_000, Math.floor(SPAN_MS / events));
}

/** Event time of round `r` of customer `k` among `keys`: non-decreasing in (r, k) order. */
export function eventTime(k: number, r: number, f: RecoveryFeed): number {
  const round = roundMs(f.events);
  return START + r * round + Math.floor((k * round * 0.9) / f.keys);
}

/**
 * The payments in feed order (round by round, customers in order), `batchSize` at a time, as a
 * partition's records: offsets 0, 1, ... on partition 0 of source `payments`.
 */
export function* feedBatches(f: RecoveryFeed, batchSize: number): Generator<VEvent[]> {
  const rng = new Rng(f.seed).fork('recovery');
  let offset = 0;
  let batch: VEvent[] = [];
  for (let r = 0; r < f.events; r++) {
    for (let k = 0; k < f.keys; k++) {
      batch.push(payment(rng, k, eventTime(k, r, f), offset++));
      if (batch.length === batchSize) {
        yield batch;
        batch = [];
      }
    }
  }
  if (batch.length > 0) yield batch;
}

function payment(rng: Rng, k: number, time: number, offset: number): VEvent {
  const city = CITIES[hashString(`c${k}`) % CITIES.length];
  const m = Math.floor(rng.float() * MERCHANTS);
  const online = rng.float() < 0.3;
  const amount = Math.max(0.01, Math.round(Math.exp(3 + rng.normal()) * 100) / 100);
  return {
    time,
    id: `e${offset}`,
    partition: 0,
    offset,
    source: 'payments',
    payload: {
      type: 'payment', customer: `c${k}`, card: `k${k}`, amount, currency: city.currency, merchant: `m${m}`,
      device: online ? `d${k}` : `t${m}`, beneficiary: `b${m}`, channel: online ? 'mobile' : 'pos', country: city.country,
      lat: Math.round((city.lat + (rng.float() - 0.5) * 0.1) * 1e4) / 1e4,
      lon: Math.round((city.lon + (rng.float() - 0.5) * 0.1) * 1e4) / 1e4,
    },
  };
}

/** The customers the probe judges: `n` spread over the key space, the first and the last included. */
export function probeKeys(keys: number, n = 8): number[] {
  if (keys <= n) return Array.from({ length: keys }, (_, i) => i);
  return Array.from({ length: n }, (_, i) => Math.round((i * (keys - 1)) / (n - 1)));
}

/**
 * Probe events, after the last round and within the hour: per probed customer, three payments a
 * minute apart from a city far from home, on a new device, to a new beneficiary, the last one large
 * (and a fourth for the first customer, a minute later, that moves the watermark past the others).
 * On the state of the feed they make velocity (8 within 10 minutes, from 5 payments fed), first-seen
 * (5 known), geo-velocity and, with enough history, outlier judge; their offsets follow the feed's.
 */
export function probeEvents(f: RecoveryFeed): VEvent[] {
  const t0 = eventTime(f.keys - 1, f.events - 1, f) + 30_000;
  const out: VEvent[] = [];
  let offset = f.keys * f.events;
  const probed = probeKeys(f.keys);
  // A fourth payment of the first probed customer moves the watermark past the third ones, so that they are judged too.
  for (let j = 0; j < 4; j++) {
    for (const k of j === 3 ? probed.slice(0, 1) : probed) {
      const home = hashString(`c${k}`) % CITIES.length;
      const away = CITIES[(home + Math.floor(CITIES.length / 2)) % CITIES.length];
      out.push({
        time: t0 + j * 60_000,
        id: `probe-${k}-${j}`,
        partition: 0,
        offset: offset++,
        source: 'payments',
        payload: {
          type: 'payment', customer: `c${k}`, card: `k${k}`, amount: j === 2 ? 25_000 : 20, currency: away.currency, merchant: `m-probe-${j}`,
          device: `probe-${k}`, beneficiary: `b-probe-${j}`, channel: 'web', country: away.country, lat: away.lat, lon: away.lon,
        },
      });
    }
  }
  return out;
}

/** A batch of `events` through a partition task, as the engine runs it (watermark per event, then every pipeline). */
export function runBatch(task: Task, events: VEvent[], newBatch: () => Batch): Batch {
  const b = newBatch();
  b.partition = 0;
  b.events = events;
  const wm = new Float64Array(events.length);
  for (let i = 0; i < events.length; i++) wm[i] = task.tracker.observe(0, events[i].time, 0);
  b.wm = wm;
  b.watermark = task.tracker.watermark;
  if (events.length > 0) b.positions.set(0, events[events.length - 1].offset);
  for (const p of task.pipelines) p.process(b);
  if (events.length > 0) task.lastOffset = events[events.length - 1].offset;
  return b;
}

/** What a batch decided, comparable across processes: its alerts, results and dead letters, sorted. */
export function decision(b: Batch): string[] {
  const alerts = b.alerts.map((a) => `alert ${a.detector} ${a.key} t=${a.eventTime} observed=${a.observed} score=${a.score} id=${a.id}`);
  const results = b.results.map((r) => `result ${r.pipeline} ${r.key} ${r.start} ${JSON.stringify(r.values)}`);
  const dead = b.deadLetters.map((d) => `dead ${d.reason} ${d.pipeline ?? ''} ${d.offset}`);
  return [...alerts.sort(), ...results.sort(), ...dead.sort()];
}

/** Keys held per pipeline window and per detector, e.g. `customers/velocity-10m` → 1,000,000. */
export function keyCounts(task: Task): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of task.pipelines) {
    out[`${p.name}/window`] = p.window.keyCount;
    for (const s of p.detectors.slots) out[`${p.name}/${s.name}`] = s.core.stats().keys;
  }
  return out;
}

/** The entries of `a` and `b` that differ, as `name: a != b` (empty when equal). */
export function differences(a: Record<string, number>, b: Record<string, number>): string[] {
  const names = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return names.filter((n) => a[n] !== b[n]).map((n) => `${n}: ${a[n]} != ${b[n]}`);
}

/** How a restore reads the checkpoint: the store's own read, or its former one (the baseline). */
export const LOADERS = ['current', 'legacy'] as const;
export type Loader = (typeof LOADERS)[number];

/** `--loaders`: a comma-separated list of known loaders, at least one. */
export function parseLoaders(text: string): Loader[] {
  const out = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const l of out) if (!(LOADERS as readonly string[]).includes(l)) throw new VigieError('VIGIE_ERR_USAGE', `--loaders: unknown loader "${l}" (known: ${LOADERS.join(', ')})`);
  if (out.length === 0) throw new VigieError('VIGIE_ERR_USAGE', '--loaders: name at least one loader');
  return out as Loader[];
}
