/**
 * Latency probe: how long after an event was due to be produced its alert became durable.
 *
 * Detection latency of an alert = the time its entry was appended (a Redis stream entry id starts with
 * the server's clock in ms; a Kafka record with LogAppendTime carries the broker's) minus the time its
 * triggering event was *scheduled* to be sent by the open-loop load generator (event `e<i>` is due at
 * start + i × 1000 / rate). Measuring from the schedule, not from the actual send, keeps a producer or a
 * broker that falls behind inside the figure (no coordinated omission).
 *
 * Window results are measured from the moment the window could close: its end plus the job's
 * out-of-orderness, on the load generator's clock (its event times are the scheduled send times, plus a
 * constant offset when asked), to the append of the alert: ingestion-to-output latency.
 *
 * Latencies are kept in an HDR histogram (node:perf_hooks, microseconds, 3 significant digits).
 * The pure parts need neither Redis nor Kafka.
 */
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import type { Redis } from 'ioredis';

/** When the load generator's events were due: event `e<i>` at startEpochMs + i × 1000 / rate. */
export interface Schedule {
  startEpochMs: number;
  rate: number;
  /** Event times are the scheduled send times plus this (ms; default 0). */
  eventTimeOffsetMs?: number;
}

/** Due time (epoch ms, fractional) of a load-generator event id `e<i>`; undefined for any other id. */
export function dueEpochMs(id: string, s: Schedule): number | undefined {
  if (id.length < 2 || id.charCodeAt(0) !== 101 /* e */) return undefined;
  const i = Number(id.slice(1));
  if (!Number.isSafeInteger(i) || i < 0 || String(i) !== id.slice(1)) return undefined;
  return s.startEpochMs + (i * 1000) / s.rate;
}

/** Append time (ms) of a Redis stream entry id `<ms>-<seq>`. */
export function entryMs(id: string): number {
  const ms = Number(id.slice(0, id.indexOf('-')));
  if (!Number.isSafeInteger(ms) || ms <= 0) throw new Error(`not a stream entry id: ${id}`);
  return ms;
}

export interface LatencySummary {
  count: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  meanMs: number;
}

/** An HDR histogram of latencies in ms, recorded in µs; values below 1 µs count as 1 µs. */
export class LatencyHistogram {
  private readonly h: RecordableHistogram = createHistogram({ lowest: 1, highest: 3_600_000_000, figures: 3 });
  /** Latencies below zero beyond the 1 ms resolution of an append time: a clock problem if not 0. */
  negative = 0;

  record(ms: number): void {
    if (!Number.isFinite(ms)) throw new RangeError(`latency must be finite, got ${ms}`);
    // An append time is truncated to the ms: up to 1 ms below the due time is resolution, not a fault.
    if (ms < -1) this.negative++;
    this.h.record(Math.min(3_600_000_000, Math.max(1, Math.round(ms * 1000))));
  }

  get count(): number {
    return this.h.count;
  }

  summary(): LatencySummary {
    const n = this.h.count;
    const q = (p: number) => (n === 0 ? Number.NaN : Math.round(this.h.percentile(p)) / 1000);
    return {
      count: n,
      p50Ms: q(50), p90Ms: q(90), p99Ms: q(99), p999Ms: q(99.9),
      maxMs: n === 0 ? Number.NaN : this.h.max / 1000,
      meanMs: n === 0 ? Number.NaN : Math.round(this.h.mean) / 1000,
    };
  }
}

/** What the probe needs of one alert, wherever it was read from. */
export interface AppendedAlert {
  /** When it became durable (epoch ms). */
  appendMs: number;
  detector: string;
  /** Id of the triggering event (absent on cooldown summaries). */
  trigger?: string;
  /** Event time of the situation: the triggering event's, or the window's end. */
  eventTime?: number;
  windowEnd?: number;
}

export interface ProbeOptions {
  /** Detectors judging window results: measured from the window's close, not from a trigger. */
  windowDetectors: ReadonlySet<string>;
  /** Out-of-orderness of the job (ms): a window can close once events this much past its end arrive. */
  closeDelayMs: number;
  /** Alerts whose due (or close) time is before this (epoch ms) are counted in `warmup`, not measured. */
  fromEpochMs?: number;
}

export interface ProbeResult {
  detection: LatencySummary;
  /**
   * From the earliest moment the semantics let the alert out (its event time plus the out-of-orderness:
   * when the watermark passes it) to its append: the engine's own part, for event and window alerts.
   */
  afterRelease: LatencySummary;
  windows: LatencySummary;
  /** Per detector, detection (or window) latency summaries. */
  perDetector: Record<string, LatencySummary>;
  /** Alerts not measured: cooldown summaries and triggers that are not load-generator events. */
  unmeasured: number;
  /** Alerts left out as due during the warm-up. */
  warmup: number;
  /** Measured latencies more than 1 ms below zero (clocks disagree): should be 0. */
  negative: number;
}

/** Detection and window latencies of `alerts` against the load generator's schedule. */
export function probe(alerts: Iterable<AppendedAlert>, s: Schedule, o: ProbeOptions): ProbeResult {
  const detection = new LatencyHistogram();
  const windows = new LatencyHistogram();
  const afterRelease = new LatencyHistogram();
  const per = new Map<string, LatencyHistogram>();
  let unmeasured = 0;
  let warmup = 0;
  // Event time back on the wall clock of the schedule.
  const shift = o.closeDelayMs - (s.eventTimeOffsetMs ?? 0);
  for (const a of alerts) {
    let from: number | undefined;
    const isWindow = o.windowDetectors.has(a.detector);
    if (isWindow) from = a.windowEnd === undefined ? undefined : a.windowEnd + shift;
    else if (a.trigger !== undefined) from = dueEpochMs(a.trigger, s);
    if (from === undefined) {
      unmeasured++;
      continue;
    }
    if (o.fromEpochMs !== undefined && from < o.fromEpochMs) {
      warmup++;
      continue;
    }
    const ms = a.appendMs - from;
    (isWindow ? windows : detection).record(ms);
    const released = isWindow ? a.windowEnd : a.eventTime;
    if (released !== undefined) afterRelease.record(a.appendMs - (released + shift));
    let h = per.get(a.detector);
    if (h === undefined) per.set(a.detector, (h = new LatencyHistogram()));
    h.record(ms);
  }
  const perDetector: Record<string, LatencySummary> = {};
  for (const [name, h] of [...per].sort((x, y) => (x[0] < y[0] ? -1 : 1))) perDetector[name] = h.summary();
  return { detection: detection.summary(), afterRelease: afterRelease.summary(), windows: windows.summary(), perDetector, unmeasured, warmup, negative: detection.negative + windows.negative + afterRelease.negative };
}

/** One Redis stream entry of the alert sink as the probe sees it. */
export function alertFromEntry(id: string, fields: string[]): AppendedAlert {
  const get = (name: string): string | undefined => {
    for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
    return undefined;
  };
  const num = (name: string): number | undefined => {
    const v = get(name);
    return v === undefined ? undefined : Number(v);
  };
  return { appendMs: entryMs(id), detector: get('detector') ?? '', trigger: get('trigger'), eventTime: num('eventTime'), windowEnd: num('windowEnd') };
}

/** Every entry of `stream`, read in pages (at most `limit`). */
export async function readAlertStream(redis: Redis, stream: string, limit = 5_000_000): Promise<AppendedAlert[]> {
  const out: AppendedAlert[] = [];
  let from = '-';
  while (out.length < limit) {
    const page = await redis.xrange(stream, from, '+', 'COUNT', 10_000);
    for (const [id, fields] of page) out.push(alertFromEntry(id, fields));
    if (page.length < 10_000) break;
    from = `(${page[page.length - 1][0]}`;
  }
  return out;
}
