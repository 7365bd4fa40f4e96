/**
 * Open-loop load generator: payment events sent into Kafka at a fixed target rate.
 *
 * Event i (from 0) is due `i * 1000 / rate` ms after the start, whatever the consumer or the broker
 * do. Every tick (a few ms) the events whose time has come are sent in one batch; a producer that
 * falls behind does not slow the schedule down: the events it owes go at the next tick, and how late
 * each one left (actual send time minus scheduled send time) is recorded and reported.
 *
 * The pure parts (Zipf sampler, lag histogram, event factory, schedule loop) need no Kafka.
 */
import { Partitioners, type Kafka, type Message, type Producer } from 'kafkajs';
import { VigieError } from '../src/errors.js';
import { CITIES } from '../src/generator/payments-catalog.js';
import { Rng, hashString } from '../src/generator/rng.js';

/** Most events one run may plan (min of rate × duration and count). */
export const MAX_EVENTS = 50_000_000;
/** Most keys: the Zipf table holds one float per key. */
export const MAX_KEYS = 10_000_000;
/** Events in a fraud burst (a card tested with small payments). */
export const BURST = 8;

/**
 * Draws key ranks 0..n-1 with P(k) proportional to 1 / (k + 1)^s (rank 0 the most frequent);
 * s = 0 is uniform. Precomputed cumulative table and a binary search: O(log n) per draw.
 */
export class ZipfSampler {
  private readonly cdf: Float64Array | undefined;

  constructor(
    readonly n: number,
    readonly s: number,
  ) {
    if (!Number.isInteger(n) || n < 1 || n > MAX_KEYS) throw new RangeError(`keys must be an integer in [1, ${MAX_KEYS}], got ${n}`);
    if (!Number.isFinite(s) || s < 0) throw new RangeError(`zipf exponent must be >= 0, got ${s}`);
    if (s === 0) return;
    const cdf = new Float64Array(n);
    let acc = 0;
    for (let k = 0; k < n; k++) {
      acc += Math.pow(k + 1, -s);
      cdf[k] = acc;
    }
    this.cdf = cdf;
  }

  /** Probability of rank k under the law. */
  probability(k: number): number {
    if (this.cdf === undefined) return 1 / this.n;
    return Math.pow(k + 1, -this.s) / this.cdf[this.n - 1];
  }

  sample(rng: Rng): number {
    const cdf = this.cdf;
    if (cdf === undefined) return Math.floor(rng.float() * this.n);
    const x = rng.float() * cdf[this.n - 1];
    let lo = 0;
    let hi = this.n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid] > x) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}

/**
 * Histogram of send lags in ms: 0.1 ms buckets below 1 s, 10 ms buckets up to 10 min, one overflow
 * bucket; the exact max is kept. Quantiles are the upper edge of their bucket (capped by the max).
 */
export class LagHistogram {
  private static readonly FINE = 10_000;
  private static readonly COARSE = 60_000;
  private readonly buckets = new Float64Array(LagHistogram.FINE + LagHistogram.COARSE + 1);
  count = 0;
  max = 0;

  record(ms: number, times = 1): void {
    const v = ms > 0 ? ms : 0;
    let b: number;
    if (v < 1000) b = Math.floor(v * 10);
    else b = Math.min(LagHistogram.FINE + Math.floor((v - 1000) / 10), LagHistogram.FINE + LagHistogram.COARSE);
    this.buckets[b] += times;
    this.count += times;
    if (v > this.max) this.max = v;
  }

  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let acc = 0;
    for (let b = 0; b < this.buckets.length; b++) {
      acc += this.buckets[b];
      if (acc >= rank) {
        const upper = b < LagHistogram.FINE ? (b + 1) / 10 : 1000 + (b - LagHistogram.FINE + 1) * 10;
        return Math.min(upper, this.max);
      }
    }
    return this.max;
  }
}

export interface EventOptions {
  seed: number;
  /** Customers (key space). */
  keys: number;
  /** Zipf exponent of the customer draw; 0 = uniform. */
  zipf: number;
  /** Target bytes of each event's JSON: smaller events get a `filler` field (0: none). */
  size: number;
  /** Fraction of events whose event time is moved back by 1..maxDelay ms. */
  outOfOrder: number;
  maxDelay: number;
  /** Fraction of events that belong to a labelled fraud burst. */
  fraudRate: number;
}

/** A generated payment before it is sent (`produced_at` and the filler are added at send time). */
export interface LoadEvent {
  id: string;
  type: 'payment';
  ts: number;
  customer: string;
  card: string;
  amount: number;
  currency: string;
  merchant: string;
  device: string;
  beneficiary: string;
  channel: string;
  country: string;
  lat: number;
  lon: number;
  label: string | null;
  case: string | null;
}

export function checkEventOptions(o: EventOptions): void {
  for (const [name, v] of [['out-of-order', o.outOfOrder], ['fraud-rate', o.fraudRate]] as const) {
    if (!(v >= 0 && v <= 1)) throw new VigieError('VIGIE_ERR_USAGE', `--${name} must be a fraction in [0, 1], got ${v}`);
  }
  if (!Number.isInteger(o.maxDelay) || o.maxDelay < 1) throw new VigieError('VIGIE_ERR_USAGE', `--max-delay must be an integer >= 1 (ms), got ${o.maxDelay}`);
  if (!Number.isInteger(o.size) || o.size < 0 || o.size > 1_000_000) throw new VigieError('VIGIE_ERR_USAGE', `--size must be an integer in [0, 1000000] (bytes), got ${o.size}`);
  if (!Number.isInteger(o.keys) || o.keys < 1 || o.keys > MAX_KEYS) throw new VigieError('VIGIE_ERR_USAGE', `--keys must be an integer in [1, ${MAX_KEYS}], got ${o.keys}`);
  if (!(o.zipf >= 0) || !Number.isFinite(o.zipf)) throw new VigieError('VIGIE_ERR_USAGE', `--zipf must be a number >= 0, got ${o.zipf}`);
  if (!Number.isSafeInteger(o.seed)) throw new VigieError('VIGIE_ERR_USAGE', `--seed must be an integer, got ${o.seed}`);
}

const MERCHANTS = 2000;
const FILLER_OVERHEAD = ',"filler":""'.length;

/**
 * Payment events, the same sequence for the same seed. Customer `c<rank>` is drawn by the Zipf
 * sampler; a customer's card, device and home city follow from its rank. Fraud bursts: BURST
 * consecutive small online payments on one card from one new device abroad, labelled
 * `card_testing` with a case id; a burst starts with the probability that makes the fraud fraction
 * `fraudRate` on average.
 */
export class EventFactory {
  private readonly zipf: ZipfSampler;
  private readonly rng: Rng;
  private readonly delays: Rng;
  private readonly burstStart: number;
  private burstLeft = 0;
  private burstCustomer = 0;
  private burstCity = 0;
  private cases = 0;
  private made = 0;
  fraudEvents = 0;
  delayedEvents = 0;

  constructor(readonly opts: EventOptions) {
    checkEventOptions(opts);
    this.zipf = new ZipfSampler(opts.keys, opts.zipf);
    const root = new Rng(opts.seed);
    this.rng = root.fork('events');
    this.delays = root.fork('delays');
    const f = opts.fraudRate;
    this.burstStart = f >= 1 ? 1 : f / (BURST * (1 - f) + f);
  }

  /** The next event, its event time `scheduledTs` (ms) or, for an out-of-order one, earlier. */
  next(scheduledTs: number): LoadEvent {
    const r = this.rng;
    const id = `e${this.made++}`;
    let ts = scheduledTs;
    if (this.opts.outOfOrder > 0 && this.delays.float() < this.opts.outOfOrder) {
      ts -= 1 + Math.floor(this.delays.float() * this.opts.maxDelay);
      this.delayedEvents++;
    }
    if (this.burstLeft === 0 && this.burstStart > 0 && r.float() < this.burstStart) {
      this.burstLeft = BURST;
      this.burstCustomer = this.zipf.sample(r);
      this.burstCity = Math.floor(r.float() * CITIES.length);
      this.cases++;
    }
    if (this.burstLeft > 0) {
      this.burstLeft--;
      this.fraudEvents++;
      const k = this.burstCustomer;
      const city = CITIES[this.burstCity];
      const m = Math.floor(r.float() * MERCHANTS);
      return {
        id, type: 'payment', ts, customer: `c${k}`, card: `k${k}`, amount: Math.round(50 + r.float() * 150) / 100, currency: city.currency,
        merchant: `m${m}`, device: `dx${this.cases}`, beneficiary: `b${m}`, channel: 'web', country: city.country,
        lat: city.lat, lon: city.lon, label: 'card_testing', case: `f${this.cases}`,
      };
    }
    const k = this.zipf.sample(r);
    const h = hashString(`c${k}`);
    const city = CITIES[h % CITIES.length];
    const m = Math.floor(r.float() * MERCHANTS);
    const online = r.float() < 0.3;
    const amount = Math.max(0.01, Math.round(Math.exp(3 + r.normal()) * 100) / 100);
    return {
      id, type: 'payment', ts, customer: `c${k}`, card: `k${k}`, amount, currency: city.currency,
      merchant: `m${m}`, device: online ? `d${k}` : `t${m}`, beneficiary: `b${m}`, channel: online ? 'mobile' : 'pos',
      country: city.country, lat: Math.round((city.lat + (r.float() - 0.5) * 0.1) * 1e4) / 1e4,
      lon: Math.round((city.lon + (r.float() - 0.5) * 0.1) * 1e4) / 1e4, label: null, case: null,
    };
  }
}

/** The JSON of an event sent at `producedAt`, padded with a `filler` field up to `size` bytes. */
export function serialize(e: LoadEvent, producedAt: number, size: number): string {
  const json = JSON.stringify({ ...e, produced_at: producedAt });
  const pad = size - Buffer.byteLength(json) - FILLER_OVERHEAD;
  return pad > 0 ? `${json.slice(0, -1)},"filler":"${'x'.repeat(pad)}"}` : json;
}

/** Events planned: those due before `durationS` ends, at most `count`; refused above MAX_EVENTS. */
export function plannedEvents(rate: number, durationS: number | undefined, count: number | undefined): number {
  if (!(rate > 0) || !Number.isFinite(rate)) throw new VigieError('VIGIE_ERR_USAGE', `--rate must be a positive number (events/s), got ${rate}`);
  if (durationS !== undefined && !(durationS > 0 && Number.isFinite(durationS))) throw new VigieError('VIGIE_ERR_USAGE', `--duration must be a positive number of seconds, got ${durationS}`);
  if (count !== undefined && !(Number.isSafeInteger(count) && count >= 1)) throw new VigieError('VIGIE_ERR_USAGE', `--count must be an integer >= 1, got ${count}`);
  if (durationS === undefined && count === undefined) throw new VigieError('VIGIE_ERR_USAGE', 'give --duration or --count (or both: whichever ends first)');
  const byDuration = durationS === undefined ? Infinity : Math.ceil(rate * durationS - 1e-9);
  const n = Math.min(byDuration, count ?? Infinity);
  if (n > MAX_EVENTS) {
    throw new VigieError('VIGIE_ERR_USAGE', `${n} events planned (rate × duration, or count) is above the cap of ${MAX_EVENTS}: lower --rate, --duration or --count`);
  }
  return n;
}

/** Scheduled send time of event i, in ms after the start. */
export function scheduledOffset(i: number, rate: number): number {
  return (i * 1000) / rate;
}

/** Events due `elapsedMs` after the start (scheduled at or before it), at most `total`. */
export function dueCount(elapsedMs: number, rate: number, total: number): number {
  if (elapsedMs < 0) return 0;
  return Math.min(total, Math.floor((elapsedMs * rate) / 1000 + 1e-9) + 1);
}

export interface Clock {
  /** Monotonic ms. */
  now(): number;
  sleep(ms: number): Promise<void>;
}

export interface ScheduleOptions {
  rate: number;
  total: number;
  /** Pause between ticks (ms). */
  tickMs: number;
  /** Most events in one send; what is due beyond goes in the following sends, at once. */
  maxBatch: number;
}

/**
 * Runs the open-loop schedule: at each tick, sends events [sent, due) through `send(from, to)`, in
 * sends of at most maxBatch, and records each event's lag (send time minus its scheduled time). The
 * schedule never moves: a slow `send` only makes the next ticks owe more events, and later. Sleeps
 * one tick between sends, or until the next event is due when that is further.
 * Returns the start (clock ms) and the elapsed ms at which the last event left.
 */
export async function runSchedule(o: ScheduleOptions, clock: Clock, lags: LagHistogram, send: (from: number, to: number) => Promise<void>): Promise<{ startMs: number; lastSendMs: number }> {
  const start = clock.now();
  let sent = 0;
  let lastSendMs = 0;
  while (sent < o.total) {
    const now = clock.now();
    const elapsed = now - start;
    const due = dueCount(elapsed, o.rate, o.total);
    if (due > sent) {
      const to = Math.min(due, sent + o.maxBatch);
      for (let i = sent; i < to; i++) lags.record(elapsed - scheduledOffset(i, o.rate));
      const from = sent;
      sent = to;
      lastSendMs = elapsed;
      await send(from, to);
      if (sent < due) continue;
    }
    if (sent >= o.total) break;
    const next = scheduledOffset(sent, o.rate) - (clock.now() - start);
    await clock.sleep(Math.max(o.tickMs, next));
  }
  return { startMs: start, lastSendMs };
}

export interface LoadgenOptions extends EventOptions {
  topic: string;
  rate: number;
  durationS?: number;
  count?: number;
  partitions: number;
  createTopic: boolean;
  tickMs: number;
  /** Sends in flight at most; past it the schedule waits for one to finish (and falls behind). */
  inflight: number;
  acks: -1 | 0 | 1;
  /** Event time = scheduled send time on the wall clock + this (ms; default 0), e.g. to place an hour boundary mid-run. */
  eventTimeOffsetMs?: number;
}

export interface LoadgenSummary {
  topic: string;
  targetRate: number;
  achievedRate: number;
  events: number;
  bytes: number;
  fraudEvents: number;
  outOfOrderEvents: number;
  lagP50Ms: number;
  lagP99Ms: number;
  lagMaxMs: number;
  /** Until the last event left. */
  sendSeconds: number;
  /** Until the last send was acknowledged. */
  durationSeconds: number;
  /** Wall clock (epoch ms) of the schedule's start: event `e<i>` was due at startEpochMs + i × 1000 / targetRate. */
  startEpochMs: number;
}

export const performanceClock: Clock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

async function prepareTopic(kafka: Kafka, o: LoadgenOptions, brokers: string): Promise<void> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    const topics = await admin.listTopics();
    if (!topics.includes(o.topic)) {
      if (!o.createTopic) throw new VigieError('VIGIE_ERR_PRODUCE', `topic "${o.topic}" does not exist on ${brokers} (add --create-topic to create it)`);
      await admin.createTopics({ topics: [{ topic: o.topic, numPartitions: o.partitions, replicationFactor: 1 }], waitForLeaders: true, timeout: 30_000 });
    }
  } catch (err) {
    if (err instanceof VigieError) throw err;
    throw new VigieError('VIGIE_ERR_PRODUCE', `cannot prepare topic "${o.topic}" on ${brokers}: ${(err as Error).message}`, { cause: err });
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/** Produces the planned events into `o.topic` on schedule and returns what happened. */
export async function runLoadgen(kafka: Kafka, brokers: string, o: LoadgenOptions, clock: Clock = performanceClock): Promise<LoadgenSummary> {
  const total = plannedEvents(o.rate, o.durationS, o.count);
  if (!Number.isInteger(o.partitions) || o.partitions < 1) throw new VigieError('VIGIE_ERR_USAGE', `--partitions must be an integer >= 1, got ${o.partitions}`);
  if (!Number.isInteger(o.inflight) || o.inflight < 1) throw new VigieError('VIGIE_ERR_USAGE', `--inflight must be an integer >= 1, got ${o.inflight}`);
  if (!(o.tickMs >= 1 && o.tickMs <= 1000)) throw new VigieError('VIGIE_ERR_USAGE', `--tick must be in [1, 1000] ms, got ${o.tickMs}`);
  const factory = new EventFactory(o);
  await prepareTopic(kafka, o, brokers);
  const producer: Producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  try {
    await producer.connect();
  } catch (err) {
    throw new VigieError('VIGIE_ERR_PRODUCE', `cannot connect a producer to ${brokers}: ${(err as Error).message}`, { cause: err });
  }
  const lags = new LagHistogram();
  const inflight = new Set<Promise<void>>();
  let failure: unknown;
  let bytes = 0;
  const wallStart = Date.now();
  const eventTimeOffset = o.eventTimeOffsetMs ?? 0;
  if (!Number.isSafeInteger(eventTimeOffset)) throw new VigieError('VIGIE_ERR_USAGE', `the event time offset must be an integer (ms), got ${eventTimeOffset}`);
  const send = async (from: number, to: number): Promise<void> => {
    if (failure !== undefined) throw failure;
    const producedAt = Date.now();
    const messages: Message[] = new Array(to - from);
    for (let i = from; i < to; i++) {
      // Event time: the scheduled send time on the wall clock of the start (plus the offset asked for).
      const e = factory.next(wallStart + eventTimeOffset + Math.floor(scheduledOffset(i, o.rate)));
      const value = serialize(e, producedAt, o.size);
      bytes += Buffer.byteLength(value) + e.customer.length;
      messages[i - from] = { key: e.customer, value };
    }
    const p = producer.send({ topic: o.topic, acks: o.acks, timeout: 30_000, messages }).then(
      () => void inflight.delete(p),
      (err: unknown) => {
        inflight.delete(p);
        failure ??= new VigieError('VIGIE_ERR_PRODUCE', `cannot write to topic "${o.topic}": ${(err as Error).message}`, { cause: err });
      },
    );
    inflight.add(p);
    while (inflight.size >= o.inflight) await Promise.race(inflight);
  };
  let sched: { startMs: number; lastSendMs: number };
  try {
    sched = await runSchedule({ rate: o.rate, total, tickMs: o.tickMs, maxBatch: Math.max(1000, Math.ceil(o.rate / 20)) }, clock, lags, send);
    await Promise.all(inflight);
    if (failure !== undefined) throw failure;
  } finally {
    await producer.disconnect().catch(() => {});
  }
  const ackedMs = clock.now() - sched.startMs;
  // Each event takes one slot of 1/rate: on schedule, the achieved rate is the target rate.
  const sendSeconds = (sched.lastSendMs + 1000 / o.rate) / 1000;
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  return {
    topic: o.topic, targetRate: o.rate, achievedRate: r3(total / sendSeconds), events: total, bytes,
    fraudEvents: factory.fraudEvents, outOfOrderEvents: factory.delayedEvents,
    lagP50Ms: r3(lags.quantile(0.5)), lagP99Ms: r3(lags.quantile(0.99)), lagMaxMs: r3(lags.max),
    sendSeconds: r3(sendSeconds), durationSeconds: r3(ackedMs / 1000), startEpochMs: wallStart,
  };
}
