/**
 * bench:standard — the standard fraud job (load-tests/standard-job.yaml) end to end on a real broker
 * and a real Redis, beside its limits and its Kafka Streams peer, in one run:
 *
 * 0. replay: `vigie replay` of the job from a file of the same kind of events (bench:replay, one run);
 * 1. fill: N payments of the load generator (100,000 customers, Zipf 1.1, 1% in fraud bursts, 10% out
 *    of order by up to 3 s), keyed by customer, into a topic of 4 partitions;
 * 2. limit: a bare kafkajs consumer reading that topic, counting only and decoding each value;
 * 3. ceiling: `vigie run` of the standard job, as users start it, draining the topic from the earliest
 *    offset: one process, then two processes in one consumer group (scaling ratio). Rate from the
 *    processes' vigie_events_in_total between the first scrape that saw events and the one that saw them
 *    all; CPU seconds of the processes from /proc over the same span;
 * 4. peer: the Kafka Streams job (load-tests/peers/kafka-streams) draining the same topic;
 * 5. latency: the job live on a new topic fed by the open-loop load generator at 25%, 50% and 80% of
 *    the one-process ceiling for D seconds each; every alert's latency is its Redis stream entry's time
 *    minus the time its triggering event was due to be sent (latency-probe.ts); the peer likewise at
 *    50% of its own ceiling, its alerts' LogAppendTime against the same kind of schedule;
 * 6. Redis: plain pipelined XADD of the alerts' own fields, the limit of the alert path.
 *
 *   npm run bench:standard                         readable table
 *   npm run bench:standard -- --json               one JSON object
 *   npm run bench:standard -- --events 1000000 --duration 60 --no-peer
 * Services: KAFKA_BROKERS / REDIS_URL if set, else a private broker and redis-server on loopback ports.
 * The JSON is also written under load-tests/results/ (ignored by git).
 */
import { availableParallelism, loadavg } from 'node:os';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startRedis, type RedisService } from '../tests/infra/redis.js';
import type { KafkaService } from '../tests/infra/kafka.js';
import { checkIntegerOptions, startBenchKafka } from './kafka-bench-data.js';
import type { EventOptions } from './loadgen.js';
import { kafkajsCount, xaddLimit } from './raw-limits.js';
import { keepResult, repoRoot } from './replay-bench.js';
import { measureStandardReplay, type StandardReplayResult } from './bench-replay.js';
import { drainCeiling, fillTopic, latencyLevel, type CeilingResult, type LatencyLevel, type Services } from './standard-phases.js';
import { peerCeiling, peerLatency, type PeerCeiling, type PeerLatency } from './standard-peer.js';

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    events: { type: 'string', default: '600000' },
    keys: { type: 'string', default: '100000' },
    partitions: { type: 'string', default: '4' },
    'event-rate': { type: 'string', default: '20000' },
    duration: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '5' },
    levels: { type: 'string', default: '0.25,0.5,0.8' },
    'peer-threads': { type: 'string', default: '1' },
    'no-peer': { type: 'boolean', default: false },
    'no-in-order': { type: 'boolean', default: false },
    'no-msgpack': { type: 'boolean', default: false },
    'replay-events': { type: 'string', default: '300000' },
    'timeout-ms': { type: 'string', default: '300000' },
  },
});
const N = Number(args.events);
const KEYS = Number(args.keys);
const PARTITIONS = Number(args.partitions);
const EVENT_RATE = Number(args['event-rate']);
const DURATION = Number(args.duration);
const WARMUP = Number(args.warmup);
const PEER_THREADS = Number(args['peer-threads']);
const TIMEOUT = Number(args['timeout-ms']);
const REPLAY_EVENTS = Number(args['replay-events']);
checkIntegerOptions([['events', N, 1000], ['keys', KEYS, 1], ['partitions', PARTITIONS, 1], ['event-rate', EVENT_RATE, 1], ['duration', DURATION, 5], ['warmup', WARMUP, 0], ['peer-threads', PEER_THREADS, 1], ['timeout-ms', TIMEOUT, 10_000], ['replay-events', REPLAY_EVENTS, 0]]);
const LEVELS = args.levels.split(',').map(Number);
if (LEVELS.some((l) => !(l > 0 && l <= 2))) throw new Error(`--levels must be shares of the ceiling in (0, 2], got ${args.levels}`);
if (WARMUP >= DURATION) throw new Error(`--warmup (${WARMUP}s) must be shorter than --duration (${DURATION}s)`);

const EVENTS: EventOptions = { seed: 1, keys: KEYS, zipf: 1.1, size: 0, outOfOrder: 0.1, maxDelay: 3000, fraudRate: 0.01 };
const r0 = (x: number) => Math.round(x);
const r2 = (x: number) => Math.round(x * 100) / 100;
const r3 = (x: number) => Math.round(x * 1000) / 1000;
const log = (msg: string) => process.stderr.write(`bench:standard  ${msg}\n`);

interface Result {
  at: string;
  machine: { cpus: number; node: string; loadAverage: number[] };
  events: number;
  /** `vigie replay` of the job from a file (bench:replay, one run; null with --replay-events 0). */
  replay: Pick<StandardReplayResult, 'events' | 'replayEventsPerSecond' | 'replayEventsPerCpuSecond' | 'replayMsgpackEventsPerSecond' | 'plainLoopEventsPerSecond' | 'ratio'> | null;
  ceilingEventsPerSecond: number;
  ceilingEventsPerCpuSecond: number;
  twoProcessesEventsPerSecond: number;
  /** One process, the same events in MessagePack (format: msgpack). */
  ceilingMsgpackEventsPerSecond: number | null;
  scalingRatioTwoProcesses: number;
  kafkaStreamsEventsPerSecond: number | null;
  kafkaStreamsEventsPerCpuSecond: number | null;
  ratioToKafkaStreams: number | null;
  ratioToKafkaStreamsPerCpuSecond: number | null;
  /** Null when --levels leaves 0.5 out. */
  p99LatencyMsAtHalfLoad: number | null;
  /** The same alerts measured from their release (event time + out-of-orderness): the engine's part. */
  p99LatencyMsAfterReleaseAtHalfLoad: number | null;
  /** In-order input with maxOutOfOrderness 0: no wait for the watermark. */
  p99LatencyMsAtHalfLoadInOrder: number | null;
  kafkaStreamsP99LatencyMsAtHalfLoad: number | null;
  rawConsumeEventsPerSecond: number;
  rawConsumeDecodeEventsPerSecond: number;
  ceilingShareOfRawConsume: number;
  redisXaddEntriesPerSecond: number;
  alertsPerSecondAtCeiling: number;
  latency: Array<Record<string, number>>;
  ceiling: CeilingResult[];
  peer: { ceiling: PeerCeiling; latency: PeerLatency } | null;
}

function levelRow(l: LatencyLevel): Record<string, number> {
  const d = l.probe.detection;
  const w = l.probe.windows;
  const e = l.probe.afterRelease;
  return {
    share: l.share, outOfOrdernessMs: l.outOfOrdernessMs, targetRate: r0(l.loadgen.targetRate), achievedRate: r0(l.loadgen.achievedRate), sendLagP99Ms: l.loadgen.lagP99Ms,
    backlogAtEndOfSend: l.backlogAtEndOfSend, cpuUtilisation: r3(l.cpuUtilisation), alerts: l.alerts, measured: d.count,
    p50Ms: d.p50Ms, p90Ms: d.p90Ms, p99Ms: d.p99Ms, p999Ms: d.p999Ms, maxMs: d.maxMs,
    afterReleaseP50Ms: e.p50Ms, afterReleaseP99Ms: e.p99Ms, windowResults: w.count, windowP50Ms: w.p50Ms, windowP99Ms: w.p99Ms, negative: l.probe.negative,
  };
}

function table(r: Result): string {
  const rows: Array<[string, string]> = [
    ['replay from a file, NDJSON (ev/s)', r.replay === null ? 'not run' : r0(r.replay.replayEventsPerSecond).toLocaleString('en-US')],
    ['replay from a file, MessagePack (ev/s)', r.replay === null ? 'not run' : r0(r.replay.replayMsgpackEventsPerSecond).toLocaleString('en-US')],
    ['plain parse-and-count loop (ev/s)', r.replay === null ? 'not run' : r0(r.replay.plainLoopEventsPerSecond).toLocaleString('en-US')],
    ['events in the topic', r.events.toLocaleString('en-US')],
    ['raw kafkajs consume, count only (ev/s)', r0(r.rawConsumeEventsPerSecond).toLocaleString('en-US')],
    ['raw kafkajs consume + JSON.parse (ev/s)', r0(r.rawConsumeDecodeEventsPerSecond).toLocaleString('en-US')],
    ['vigie, 1 process: ceiling (ev/s)', r0(r.ceilingEventsPerSecond).toLocaleString('en-US')],
    ['vigie, 1 process: ev per CPU-second', r0(r.ceilingEventsPerCpuSecond).toLocaleString('en-US')],
    ['vigie, 1 process, MessagePack (ev/s)', r.ceilingMsgpackEventsPerSecond === null ? 'not run' : r0(r.ceilingMsgpackEventsPerSecond).toLocaleString('en-US')],
    ['vigie, 2 processes (ev/s)', r0(r.twoProcessesEventsPerSecond).toLocaleString('en-US')],
    ['scaling ratio, 2 processes', String(r.scalingRatioTwoProcesses)],
    ['vigie / raw consume (decode)', String(r.ceilingShareOfRawConsume)],
    ['kafka streams (ev/s)', r.kafkaStreamsEventsPerSecond === null ? 'not run' : r0(r.kafkaStreamsEventsPerSecond).toLocaleString('en-US')],
    ['kafka streams ev per CPU-second', r.kafkaStreamsEventsPerCpuSecond === null ? 'not run' : r0(r.kafkaStreamsEventsPerCpuSecond).toLocaleString('en-US')],
    ['vigie / kafka streams (ev/s)', String(r.ratioToKafkaStreams ?? 'n/a')],
    ['vigie / kafka streams (per CPU-second)', String(r.ratioToKafkaStreamsPerCpuSecond ?? 'n/a')],
    ['redis XADD limit (entries/s)', r0(r.redisXaddEntriesPerSecond).toLocaleString('en-US')],
    ['alerts/s at the ceiling', r0(r.alertsPerSecondAtCeiling).toLocaleString('en-US')],
    ['p99 detection latency at 50% (ms)', String(r.p99LatencyMsAtHalfLoad ?? 'not run')],
    ['  of which after release (ms)', String(r.p99LatencyMsAfterReleaseAtHalfLoad ?? 'not run')],
    ['p99 at 50%, in order, no wait (ms)', String(r.p99LatencyMsAtHalfLoadInOrder ?? 'n/a')],
    ['kafka streams p99 at 50% of its ceiling (ms)', String(r.kafkaStreamsP99LatencyMsAtHalfLoad ?? 'n/a')],
  ];
  const head = rows.map(([k, v]) => `| ${k.padEnd(46)} | ${v.padStart(12)} |`).join('\n');
  const cols = ['share', 'outOfOrdernessMs', 'targetRate', 'achievedRate', 'backlogAtEndOfSend', 'cpuUtilisation', 'measured', 'p50Ms', 'p90Ms', 'p99Ms', 'p999Ms', 'maxMs', 'afterReleaseP99Ms', 'windowResults', 'windowP99Ms'];
  const lat = [`| ${cols.join(' | ')} |`, `|${cols.map(() => '---').join('|')}|`, ...r.latency.map((l) => `| ${cols.map((c) => String(l[c])).join(' | ')} |`)].join('\n');
  return `${head}\n\nlatency (detection: alert entry time - due time of its triggering event)\n${lat}\n`;
}

async function main(): Promise<void> {
  let kafkaSvc: KafkaService | undefined;
  let redisSvc: RedisService | undefined;
  try {
    let replay: Result['replay'] = null;
    if (REPLAY_EVENTS > 0) {
      log(`replay of ${REPLAY_EVENTS} events from a file`);
      const r = await measureStandardReplay({ events: REPLAY_EVENTS, runs: 1 });
      replay = { events: r.events, replayEventsPerSecond: r.replayEventsPerSecond, replayEventsPerCpuSecond: r.replayEventsPerCpuSecond, replayMsgpackEventsPerSecond: r.replayMsgpackEventsPerSecond, plainLoopEventsPerSecond: r.plainLoopEventsPerSecond, ratio: r.ratio };
    }
    log('starting services');
    const k = await startBenchKafka('bench-standard');
    kafkaSvc = k.svc;
    redisSvc = await startRedis();
    const logDir = join(repoRoot, 'load-tests', 'results', 'logs');
    await mkdir(logDir, { recursive: true });
    const s: Services = { kafka: k.kafka, brokers: k.brokers, redisUrl: redisSvc.url, logDir };

    log(`filling a topic with ${N} events`);
    const filled = await fillTopic(s, { ...EVENTS, n: N, eventRate: EVENT_RATE, partitions: PARTITIONS });
    log(`raw consume (${filled.topic})`);
    const raw = await kafkajsCount(s.kafka, filled.topic, { n: N, parse: false, timeoutMs: TIMEOUT, maxBytesPerPartition: 1_048_576 });
    const rawDecode = await kafkajsCount(s.kafka, filled.topic, { n: N, parse: true, timeoutMs: TIMEOUT, maxBytesPerPartition: 1_048_576 });
    log('ceiling, one process');
    const one = await drainCeiling(s, filled.topic, N, 1, TIMEOUT);
    log('ceiling, two processes');
    const two = await drainCeiling(s, filled.topic, N, 2, TIMEOUT);
    let packed: CeilingResult | undefined;
    if (!args['no-msgpack']) {
      log(`ceiling, one process, the same events in MessagePack`);
      const mp = await fillTopic(s, { ...EVENTS, n: N, eventRate: EVENT_RATE, partitions: PARTITIONS, format: 'msgpack' });
      packed = await drainCeiling(s, mp.topic, N, 1, TIMEOUT, 'msgpack');
    }
    let peer: Result['peer'] = null;
    const half = one.eventsPerSecond * 0.5;
    let pc: PeerCeiling | undefined;
    if (!args['no-peer']) {
      log('kafka streams peer, drain');
      pc = await peerCeiling(s, filled.topic, N, PEER_THREADS, TIMEOUT);
    }
    const levels: LatencyLevel[] = [];
    for (const share of LEVELS) {
      log(`latency at ${share * 100}% of ${r0(one.eventsPerSecond)} ev/s for ${DURATION}s`);
      levels.push(await latencyLevel(s, EVENTS, { share, rate: Math.max(1, r0(one.eventsPerSecond * share)), durationS: DURATION, warmupS: WARMUP, partitions: PARTITIONS, timeoutMs: TIMEOUT }));
    }
    if (!args['no-in-order']) {
      log(`latency at 50% on in-order input, maxOutOfOrderness 0, for ${DURATION}s`);
      levels.push(await latencyLevel(s, { ...EVENTS, outOfOrder: 0 }, { share: 0.5, rate: Math.max(1, r0(half)), durationS: DURATION, warmupS: WARMUP, partitions: PARTITIONS, timeoutMs: TIMEOUT, outOfOrdernessMs: 0 }));
    }
    if (pc !== undefined) {
      // At half of its own ceiling, as Vigie is measured at half of its own.
      const peerHalf = pc.eventsPerSecond * 0.5;
      log(`kafka streams peer, latency at 50% of its ceiling: ${r0(peerHalf)} ev/s`);
      peer = { ceiling: pc, latency: await peerLatency(s, EVENTS, { rate: Math.max(1, r0(peerHalf)), durationS: DURATION, warmupS: WARMUP, partitions: PARTITIONS, threads: PEER_THREADS, timeoutMs: TIMEOUT }) };
    }
    log('redis XADD limit');
    const fields = levels.flatMap((l) => l.sampleFields);
    const xadd = await xaddLimit(s.redisUrl, fields.length > 0 ? fields : [['detector', 'none', 'key', 'c1']], { n: 100_000, batch: 1000, timeoutMs: TIMEOUT });
    // The 50% level with the job's own out-of-orderness (absent when --levels leaves 0.5 out).
    const halfLevel = levels.find((l) => l.share === 0.5 && l.outOfOrdernessMs !== 0);
    const inOrder = levels.find((l) => l.outOfOrdernessMs === 0);
    const result: Result = {
      at: new Date().toISOString(),
      machine: { cpus: availableParallelism(), node: process.version, loadAverage: loadavg().map(r2) },
      events: N,
      replay,
      ceilingEventsPerSecond: r0(one.eventsPerSecond),
      ceilingEventsPerCpuSecond: r0(one.eventsPerCpuSecond),
      twoProcessesEventsPerSecond: r0(two.eventsPerSecond),
      ceilingMsgpackEventsPerSecond: packed ? r0(packed.eventsPerSecond) : null,
      scalingRatioTwoProcesses: r3(two.eventsPerSecond / one.eventsPerSecond),
      kafkaStreamsEventsPerSecond: pc ? r0(pc.eventsPerSecond) : null,
      kafkaStreamsEventsPerCpuSecond: pc ? r0(pc.eventsPerCpuSecond) : null,
      ratioToKafkaStreams: pc ? r3(one.eventsPerSecond / pc.eventsPerSecond) : null,
      ratioToKafkaStreamsPerCpuSecond: pc ? r3(one.eventsPerCpuSecond / pc.eventsPerCpuSecond) : null,
      p99LatencyMsAtHalfLoad: halfLevel ? halfLevel.probe.detection.p99Ms : null,
      p99LatencyMsAfterReleaseAtHalfLoad: halfLevel ? halfLevel.probe.afterRelease.p99Ms : null,
      p99LatencyMsAtHalfLoadInOrder: inOrder ? inOrder.probe.detection.p99Ms : null,
      kafkaStreamsP99LatencyMsAtHalfLoad: peer ? peer.latency.probe.detection.p99Ms : null,
      rawConsumeEventsPerSecond: r0(raw.eventsPerSecond),
      rawConsumeDecodeEventsPerSecond: r0(rawDecode.eventsPerSecond),
      ceilingShareOfRawConsume: r3(one.eventsPerSecond / rawDecode.eventsPerSecond),
      redisXaddEntriesPerSecond: r0(xadd.entriesPerSecond),
      alertsPerSecondAtCeiling: r0(one.alerts / one.seconds),
      latency: levels.map(levelRow),
      ceiling: packed ? [one, two, packed] : [one, two],
      peer,
    };
    await keepResult(join(repoRoot, 'load-tests', 'results'), 'standard', result);
    process.stdout.write(args.json ? `${JSON.stringify(result)}\n` : table(result));
  } finally {
    await redisSvc?.stop();
    await kafkaSvc?.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:standard failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
