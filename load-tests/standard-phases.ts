/**
 * The phases of bench:standard, each against a real broker and a real Redis: fill a topic with the
 * standard job's payments, drain it with `vigie run` processes (the throughput ceiling), and run the job
 * live under the open-loop load generator while the latency probe reads its alerts.
 */
import { join } from 'node:path';
import type { Kafka, Message } from 'kafkajs';
import { Redis } from 'ioredis';
import { Packr } from 'msgpackr';
import { createTopicAndProduce, sleep, uid } from './kafka-bench-data.js';
import { EventFactory, runLoadgen, serialize, type EventOptions, type LoadgenSummary } from './loadgen.js';
import { probe, readAlertStream, type ProbeResult } from './latency-probe.js';
import { VigieProc, measureDrain, type DrainResult } from './vigie-proc.js';
import { repoRoot } from './replay-bench.js';

export const STANDARD_JOB = join(repoRoot, 'load-tests', 'standard-job.yaml');
/** The standard job's detectors that judge window results, and its out-of-orderness (ms). */
export const STANDARD_WINDOW_DETECTORS: ReadonlySet<string> = new Set(['beneficiaries-1h']);
export const STANDARD_OUT_OF_ORDERNESS_MS = 5000;
const HOUR = 3_600_000;

export interface Services {
  kafka: Kafka;
  brokers: string[];
  redisUrl: string;
  /** Where the processes' logs go. */
  logDir: string;
}

/**
 * `n` payments of the load generator (event `e<i>` at `start + i × 1000 / eventRate`, the last one about
 * now), keyed by customer, in a new topic. Returns the topic's name.
 */
export async function fillTopic(
  s: Services,
  o: EventOptions & { n: number; eventRate: number; partitions: number; format?: 'json' | 'msgpack' },
): Promise<{ topic: string; bytes: number; produceEventsPerSecond: number }> {
  const topic = `bench-standard-${o.format ?? 'json'}-${uid()}`;
  const packr = new Packr({ useRecords: false });
  const factory = new EventFactory(o);
  const start = Date.now() - Math.ceil((o.n * 1000) / o.eventRate);
  const messages: Message[] = new Array(o.n);
  for (let i = 0; i < o.n; i++) {
    const e = factory.next(start + Math.floor((i * 1000) / o.eventRate));
    messages[i] = { key: e.customer, value: o.format === 'msgpack' ? packr.pack({ ...e, produced_at: start }) : serialize(e, start, o.size) };
  }
  const r = await createTopicAndProduce(s.kafka, topic, messages, { partitions: o.partitions, chunk: 5000 });
  return { topic, bytes: r.bytes, produceEventsPerSecond: r.eventsPerSecond };
}

/** A new empty topic of `partitions` partitions named `<prefix>-<random>`. */
export async function newTopic(s: Services, prefix: string, partitions: number): Promise<string> {
  const topic = `${prefix}-${uid()}`;
  const admin = s.kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true, timeout: 30_000 });
  } finally {
    await admin.disconnect();
  }
  return topic;
}

/**
 * The offset (ms, at most an hour back) from wall clock to event time that puts an hour boundary in the
 * middle of the measured part of a live run starting now: every key's tumbling hour closes then, as at
 * the top of each hour in production.
 */
export function midRunOffset(warmupS: number, durationS: number, now = Date.now()): number {
  const mid = now + ((warmupS + durationS) / 2) * 1000;
  return Math.floor(mid / HOUR) * HOUR - Math.round(mid);
}

/** Waits until consumer group `groupId` is Stable with at least one member (partitions assigned). */
export async function waitGroupStable(s: Services, groupId: string, timeoutMs: number): Promise<void> {
  const admin = s.kafka.admin();
  await admin.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { groups } = await admin.describeGroups([groupId]);
      if (groups[0]?.state === 'Stable' && groups[0].members.length > 0) return;
      if (Date.now() > deadline) throw new Error(`consumer group ${groupId} not stable after ${timeoutMs / 1000}s (state ${groups[0]?.state})`);
      await sleep(250);
    }
  } finally {
    await admin.disconnect();
  }
}

/** Environment of one `vigie run` of the standard job: its own group, stream and key prefix. */
function jobEnv(s: Services, topic: string, group: string): Record<string, string> {
  return {
    KAFKA_BROKERS: s.brokers.join(','),
    REDIS_URL: s.redisUrl,
    VIGIE_TOPIC: topic,
    VIGIE_GROUP: group,
    VIGIE_STREAM: `${group}:alerts`,
    VIGIE_PREFIX: group,
  };
}

/** Starts `count` processes of the standard job in one new consumer group. */
async function startJob(s: Services, topic: string, count: number, tag: string, extraEnv: Record<string, string> = {}): Promise<{ procs: VigieProc[]; stream: string; group: string }> {
  const group = `bench-standard-${tag}-${uid()}`;
  const procs: VigieProc[] = [];
  for (let i = 0; i < count; i++) {
    procs.push(await VigieProc.start({ config: STANDARD_JOB, env: { ...jobEnv(s, topic, group), ...extraEnv }, logFile: join(s.logDir, `${group}-${i}.log`) }));
  }
  return { procs, stream: `${group}:alerts`, group };
}

async function stopAll(procs: VigieProc[]): Promise<void> {
  await Promise.all(procs.map((p) => p.stop()));
}

/** Waits until the stream's length has not changed for `quietMs` (the sinks have flushed), at most `timeoutMs`. */
async function settledLength(redis: Redis, stream: string, quietMs: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  let since = Date.now();
  for (;;) {
    const len = await redis.xlen(stream);
    if (len !== last) {
      last = len;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) return len;
    if (Date.now() > deadline) return len;
    await sleep(250);
  }
}

export interface CeilingResult extends DrainResult {
  processes: number;
  format: 'json' | 'msgpack';
  alerts: number;
}

/** `processes` processes of the standard job in one group drain the `n` records of `topic`. */
export async function drainCeiling(s: Services, topic: string, n: number, processes: number, timeoutMs: number, format: 'json' | 'msgpack' = 'json'): Promise<CeilingResult> {
  const { procs, stream } = await startJob(s, topic, processes, `drain${processes}`, { VIGIE_FORMAT: format });
  const redis = new Redis(s.redisUrl, { lazyConnect: true });
  try {
    await redis.connect();
    const r = await measureDrain(procs, n, { timeoutMs });
    const alerts = await settledLength(redis, stream, 2000, 30_000);
    return { ...r, processes, format, alerts };
  } finally {
    await stopAll(procs);
    await redis.unlink(stream).catch(() => 0);
    redis.disconnect();
  }
}

export interface LatencyLevel {
  /** Share of the ceiling asked for. */
  share: number;
  /** The job's maxOutOfOrderness in this run (ms). */
  outOfOrdernessMs: number;
  loadgen: LoadgenSummary;
  /** Events the job had not read yet when the last event was sent: 0 or a few batches when it keeps up. */
  backlogAtEndOfSend: number;
  /** CPU seconds of the job per second of sending: about 1 is a saturated process. */
  cpuUtilisation: number;
  alerts: number;
  probe: ProbeResult;
  /** Alert field lists as stored, a sample for the XADD limit. */
  sampleFields: string[][];
}

/**
 * The standard job live: one process on a new topic, then the open-loop load generator at `rate` for
 * `durationS`; alerts are read back from the stream and measured by the latency probe. The first
 * `warmupS` seconds of the schedule are left out of the histograms (group join, first fetches, JIT).
 */
export async function latencyLevel(
  s: Services,
  ev: EventOptions,
  o: { share: number; rate: number; durationS: number; warmupS: number; partitions: number; timeoutMs: number; outOfOrdernessMs?: number },
): Promise<LatencyLevel> {
  const ooo = o.outOfOrdernessMs ?? STANDARD_OUT_OF_ORDERNESS_MS;
  const topic = await newTopic(s, 'bench-standard-live', o.partitions);
  const { procs, stream, group } = await startJob(s, topic, 1, `live${Math.round(o.share * 100)}`, { VIGIE_OUT_OF_ORDERNESS: `${ooo}ms` });
  const [proc] = procs;
  const redis = new Redis(s.redisUrl, { lazyConnect: true });
  try {
    await redis.connect();
    await proc.ready(60_000);
    await waitGroupStable(s, group, 60_000);
    const cpu0 = proc.cpuSeconds();
    const eventTimeOffsetMs = midRunOffset(o.warmupS, o.durationS);
    const loadgen = await runLoadgen(s.kafka, s.brokers.join(','), {
      ...ev, topic, rate: o.rate, durationS: o.durationS, partitions: o.partitions, createTopic: false, tickMs: 5, inflight: 8, acks: -1, eventTimeOffsetMs,
    });
    const backlogAtEndOfSend = loadgen.events - (await proc.eventsIn());
    const cpuUtilisation = (proc.cpuSeconds() - cpu0) / loadgen.durationSeconds;
    const deadline = Date.now() + o.timeoutMs;
    while ((await proc.eventsIn()) < loadgen.events) {
      proc.checkAlive();
      if (Date.now() > deadline) throw new Error(`the job read ${await proc.eventsIn()}/${loadgen.events} events within ${o.timeoutMs / 1000}s`);
      await sleep(200);
    }
    await settledLength(redis, stream, 2000, 30_000);
    const all = await readAlertStream(redis, stream);
    const result = probe(all, { startEpochMs: loadgen.startEpochMs, rate: o.rate, eventTimeOffsetMs }, {
      windowDetectors: STANDARD_WINDOW_DETECTORS, closeDelayMs: ooo, fromEpochMs: loadgen.startEpochMs + o.warmupS * 1000,
    });
    const sample = await redis.xrange(stream, '-', '+', 'COUNT', 1000);
    return { share: o.share, outOfOrdernessMs: ooo, loadgen, backlogAtEndOfSend, cpuUtilisation, alerts: all.length, probe: result, sampleFields: sample.map(([, f]) => f) };
  } finally {
    await stopAll(procs);
    await redis.unlink(stream).catch(() => 0);
    redis.disconnect();
  }
}
