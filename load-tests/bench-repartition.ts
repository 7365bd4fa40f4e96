/**
 * bench:repartition — events/s of the same job with and without a repartition hop, and the latency
 * the hop adds.
 *
 * Setup: a Kafka broker (tests/infra: KAFKA_BROKERS if set, else a local broker on loopback ports),
 * one input topic of 4 partitions keyed by card, N payments-like JSON records (id, ts increasing,
 * card among 50k, amount, merchant) written by an idempotent producer (acks -1).
 * Both runs: the engine in-process (live mode), one pipeline keyed by card (tumbling 1 min, count +
 * sum, a threshold detector), a null sink, no state store.
 *   direct: the source says `partitionedBy: card`: the pipeline runs in the input partitions' tasks.
 *   hop:    the source says `partitionedBy: merchant`: the pipeline is re-keyed through a repartition
 *           topic of 4 partitions (produce, acks all, then consume, decode, watermark markers).
 * Done: direct once the delivered input positions add up to N; hop once they do and then every
 * repartition partition is delivered up to its end offset (read once the input is done: every record
 * produced is acknowledged by then). Rates go from the first delivered position (polled every 50 ms)
 * to done: (N - events delivered at the first observation) / elapsed. Runs alternate (direct, hop);
 * medians are reported, and their ratio (hop / direct).
 * Hop latency: vigie_repartition_hop_seconds (record timestamp, set when the upstream task processed
 * the event, to its downstream ingestion), p50 and p99 given as the upper bound of the histogram
 * bucket holding them: of the last hop run (a backlog read at once: mostly queueing), and of a paced
 * phase where a new topic is fed at --paced-rate events/s for --paced-seconds while the hop job runs.
 *
 *   npm run bench:repartition                   readable table
 *   npm run bench:repartition -- --json         one JSON object
 *   npm run bench:repartition -- --events 500000 --runs 3
 *   npm run bench:repartition -- --paced-rate 2000 --paced-seconds 20     (0 seconds: no paced phase)
 */
import { parseArgs } from 'node:util';
import { Partitioners, type Kafka, type Message } from 'kafkajs';
import { Engine } from '../src/engine/engine.js';
import { parseConfig } from '../src/config/load.js';
import { EngineMetrics } from '../src/metrics/registry.js';
import { create as createNullSink } from '../sinks/null.js';
import type { KafkaService } from '../tests/infra/kafka.js';
import { createTopicAndProduce, median, paymentMessages, sleep, uid, startBenchKafka, BENCH_TOPIC, checkIntegerOptions } from './kafka-bench-data.js';

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    events: { type: 'string', default: '200000' },
    runs: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    'timeout-ms': { type: 'string', default: '120000' },
    'paced-rate': { type: 'string', default: '5000' },
    'paced-seconds': { type: 'string', default: '10' },
  },
});
const N = Number(args.events);
const RUNS = Number(args.runs);
const WARMUP = Number(args.warmup);
const RUN_TIMEOUT_MS = Number(args['timeout-ms']);
/** Paced phase: events/s produced while the hop job runs, and for how long (0 seconds: no paced phase). */
const PACED_RATE = Number(args['paced-rate']);
const PACED_SECONDS = Number(args['paced-seconds']);
checkIntegerOptions([['events', N, 1], ['runs', RUNS, 1], ['warmup', WARMUP, 0], ['timeout-ms', RUN_TIMEOUT_MS, 1000], ['paced-rate', PACED_RATE, 1], ['paced-seconds', PACED_SECONDS, 0]]);
const { partitions: PARTITIONS, cards: CARDS, window: WINDOW, start: START } = BENCH_TOPIC;
const CHUNK = 10_000;
const POLL_MS = 50;
const REPARTITION = '(repartition):';

function vigieConfig(brokers: string[], topic: string, job: string, partitionedBy: string): string {
  return `
name: ${job}
time: { maxOutOfOrderness: 1s }
sources:
  - name: payments
    type: kafka
    topics: [${JSON.stringify(topic)}]
    groupId: ${JSON.stringify(`${job}-g`)}
    partitionedBy: ${partitionedBy}
    client: { brokers: ${JSON.stringify(brokers.join(','))}, clientId: vigie-bench }
    format: json
    fields: { amount: number }
pipelines:
  - name: per-card
    key: card
    window: { type: tumbling, size: 1m }
    aggregates:
      - { name: n, fn: count }
      - { name: total, fn: sum, field: amount }
    detectors:
      - { name: busy-card, type: threshold, aggregate: n, op: '>=', value: 5, severity: medium }
repartition: { partitions: ${PARTITIONS} }
sinks: [{ name: discard, type: 'null', outputs: [results, alerts] }]
state: { store: none }
metrics: { enabled: false }
`;
}

interface RunResult {
  eventsPerSecond: number;
  totalSeconds: number;
  results: number;
  hopP50?: number;
  hopP99?: number;
  produced?: number;
}

/** Split the engine's delivered positions into the input's (records delivered) and the repartition topic's (by partition). */
function positions(engine: Engine): { input: number; repartition: Map<number, number> } {
  let input = 0;
  const repartition = new Map<number, number>();
  for (const [pid, offset] of engine.durablePositions) {
    const id = engine.scopedTasks.get(pid)?.id ?? '';
    if (id.startsWith(REPARTITION)) repartition.set(Number(id.slice(REPARTITION.length)) % 1_000_000, offset);
    else input += offset + 1;
  }
  return { input, repartition };
}

/** Upper bound of the histogram bucket holding quantile q (Infinity: beyond the last bucket). */
async function quantile(metrics: EngineMetrics, q: number): Promise<number | undefined> {
  const m = await metrics.repartitionHop.get();
  const buckets = m.values.filter((v) => v.metricName === 'vigie_repartition_hop_seconds_bucket');
  const bounds = new Map<number, number>();
  for (const b of buckets) {
    const raw = (b.labels as Record<string, string | number>).le;
    const le = raw === '+Inf' ? Infinity : Number(raw);
    bounds.set(le, (bounds.get(le) ?? 0) + b.value);
  }
  const sorted = [...bounds].sort((a, b) => a[0] - b[0]);
  const total = sorted.length > 0 ? sorted[sorted.length - 1][1] : 0;
  if (total === 0) return undefined;
  for (const [le, count] of sorted) if (count >= q * total) return le;
  return Infinity;
}

/**
 * One run of the job. `feed`: the input is produced while the job runs (paced phase), by this
 * function, started once the job has joined its group; it resolves with the number of events.
 */
async function vigieRun(kafka: Kafka, brokers: string[], topic: string, hop: boolean, feed?: () => Promise<number>): Promise<RunResult> {
  let expected = feed === undefined ? N : Infinity;
  const job = `bench-rk-${uid()}`;
  const loaded = parseConfig(vigieConfig(brokers, topic, job, hop ? 'merchant' : 'card'), 'bench-repartition.yaml');
  const sink = createNullSink({ name: 'discard', type: 'null', outputs: ['results', 'alerts'] });
  const metrics = new EngineMetrics({ defaultMetrics: false });
  const engine = new Engine({ loaded, mode: 'live', sinks: [sink], metrics });
  let failure: unknown;
  let ended = false;
  const start = performance.now();
  const running = engine.run().then(
    () => void (ended = true),
    (err: unknown) => {
      ended = true;
      failure = err;
    },
  );
  let first = 0;
  let firstCount = 0;
  let last = 0;
  let ends: Map<number, number> | undefined;
  const repTopic = `${job}-per-card-repartition`;
  let feeding: Promise<void> | undefined;
  try {
    if (feed !== undefined) {
      // Join first (the repartition topic exists once the engine is ready), then produce at the pace.
      while (!engine.ready) await sleep(POLL_MS);
      await sleep(3000);
      feeding = feed().then((n) => void (expected = n));
    }
    const deadline = start + RUN_TIMEOUT_MS;
    for (;;) {
      await sleep(POLL_MS);
      if (failure !== undefined) throw new Error(`engine failed: ${(failure as Error).message ?? String(failure)}`);
      if (ended) throw new Error('engine stopped by itself');
      const p = positions(engine);
      const now = performance.now();
      if (p.input > 0 && first === 0) {
        first = now;
        firstCount = p.input;
      }
      if (p.input >= expected) {
        if (!hop) {
          last = now;
          break;
        }
        if (ends === undefined) {
          const admin = kafka.admin();
          await admin.connect();
          try {
            ends = new Map((await admin.fetchTopicOffsets(repTopic)).map((o) => [o.partition, Number(o.high) - 1]));
          } finally {
            await admin.disconnect();
          }
        }
        if ([...ends].every(([part, end]) => end < 0 || (p.repartition.get(part) ?? -1) >= end)) {
          last = performance.now();
          break;
        }
      }
      if (now > deadline) throw new Error(`run timed out after ${RUN_TIMEOUT_MS / 1000}s (${p.input}/${expected} input records delivered)`);
    }
  } finally {
    await feeding;
    engine.stop();
    await Promise.race([running, sleep(30_000)]);
    if (hop) {
      const admin = kafka.admin();
      await admin.connect().then(() => admin.deleteTopics({ topics: [repTopic] })).catch(() => {});
      await admin.disconnect().catch(() => {});
    }
  }
  if (failure !== undefined) throw new Error(`engine failed while stopping: ${(failure as Error).message ?? String(failure)}`);
  // Done at the first observation (a small N): rate from the engine's start instead.
  const rate = last > first ? (Math.min(expected, N) - firstCount) / ((last - first) / 1000) : Math.min(expected, N) / ((last - start) / 1000);
  const out: RunResult = { eventsPerSecond: rate, totalSeconds: (last - start) / 1000, results: sink.received.results };
  if (hop) {
    out.hopP50 = await quantile(metrics, 0.5);
    out.hopP99 = await quantile(metrics, 0.99);
    const produced = (await metrics.repartitionProduced.get()).values.reduce((a, v) => a + v.value, 0);
    out.produced = produced;
  }
  return out;
}

/** Produce `messages` at PACED_RATE events/s (chunks every 100 ms) with event times near now. */
function pacedFeed(kafka: Kafka, topic: string, messages: Message[]): () => Promise<number> {
  return async () => {
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const total = Math.min(messages.length, PACED_RATE * PACED_SECONDS);
    const perTick = Math.max(1, Math.round(PACED_RATE / 10));
    const t0 = performance.now();
    try {
      for (let i = 0, tick = 0; i < total; i += perTick, tick++) {
        const wait = t0 + tick * 100 - performance.now();
        if (wait > 0) await sleep(wait);
        await producer.sendBatch({ acks: -1, topicMessages: [{ topic, messages: messages.slice(i, Math.min(total, i + perTick)) }] });
      }
    } finally {
      await producer.disconnect();
    }
    return total;
  };
}

async function main(): Promise<void> {
  const messages = paymentMessages(N, CARDS, WINDOW, START);
  let kafkaSvc: KafkaService | undefined;
  try {
    const bench = await startBenchKafka('vigie-bench');
    kafkaSvc = bench.svc;
    const { kafka, brokers } = bench;
    const topic = `bench-rk-in-${uid()}`;
    await createTopicAndProduce(kafka, topic, messages, { partitions: PARTITIONS, chunk: CHUNK });
    const direct: RunResult[] = [];
    const hop: RunResult[] = [];
    try {
      for (let r = -WARMUP; r < RUNS; r++) {
        const a = await vigieRun(kafka, brokers, topic, false);
        const b = await vigieRun(kafka, brokers, topic, true);
        if (r >= 0) {
          direct.push(a);
          hop.push(b);
        }
        if (!args.json) process.stderr.write(`${r < 0 ? 'warm-up' : `run ${r + 1}/${RUNS}`}: direct ${Math.round(a.eventsPerSecond)}/s, hop ${Math.round(b.eventsPerSecond)}/s\n`);
      }
    } finally {
      if (kafkaSvc.kind === 'env') {
        const admin = kafka.admin();
        await admin.connect().then(() => admin.deleteTopics({ topics: [topic] })).catch(() => {});
        await admin.disconnect().catch(() => {});
      }
    }
    // Paced phase: the hop's latency when the job keeps up (the runs above measure a backlog read at once).
    let paced: RunResult | undefined;
    if (PACED_SECONDS > 0) {
      const pacedTopic = `bench-rk-paced-${uid()}`;
      await createTopicAndProduce(kafka, pacedTopic, [], { partitions: PARTITIONS, chunk: CHUNK });
      try {
        paced = await vigieRun(kafka, brokers, pacedTopic, true, pacedFeed(kafka, pacedTopic, messages));
      } finally {
        const admin = kafka.admin();
        await admin.connect().then(() => admin.deleteTopics({ topics: [pacedTopic] })).catch(() => {});
        await admin.disconnect().catch(() => {});
      }
    }
    const directRate = median(direct.map((x) => x.eventsPerSecond));
    const hopRate = median(hop.map((x) => x.eventsPerSecond));
    const lastHop = hop[hop.length - 1];
    const ms = (s: number | undefined) => (s === undefined ? null : s === Infinity ? 'Infinity' : Math.round(s * 1000));
    const out = {
      events: N,
      partitions: PARTITIONS,
      repartitionPartitions: PARTITIONS,
      runs: RUNS,
      warmupRuns: WARMUP,
      directEventsPerSecond: Math.round(directRate),
      hopEventsPerSecond: Math.round(hopRate),
      ratio: Number((hopRate / directRate).toFixed(3)),
      directTotalSeconds: Number(median(direct.map((x) => x.totalSeconds)).toFixed(2)),
      hopTotalSeconds: Number(median(hop.map((x) => x.totalSeconds)).toFixed(2)),
      hopLatencyP50MsAtMost: ms(lastHop.hopP50),
      hopLatencyP99MsAtMost: ms(lastHop.hopP99),
      hopRecordsAndMarkersProduced: lastHop.produced,
      pacedRate: PACED_SECONDS > 0 ? PACED_RATE : null,
      pacedSeconds: PACED_SECONDS,
      pacedHopLatencyP50MsAtMost: ms(paced?.hopP50),
      pacedHopLatencyP99MsAtMost: ms(paced?.hopP99),
      results: { direct: direct[direct.length - 1].results, hop: lastHop.results },
      kafka: kafkaSvc.kind,
      node: process.version,
    };
    if (args.json) {
      process.stdout.write(`${JSON.stringify(out)}\n`);
      return;
    }
    const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
    const row = (name: string, xs: number[], med: number) => `| ${name.padEnd(22)} | ${fmt(med).padStart(17)} | ${fmt(Math.min(...xs)).padStart(10)} | ${fmt(Math.max(...xs)).padStart(10)} |`;
    console.log(`bench:repartition  ${N.toLocaleString('en-US')} events, ${PARTITIONS} input partitions, ${PARTITIONS} repartition partitions, ${RUNS} runs (median), Kafka: ${out.kafka}`);
    console.log('');
    console.log('| job                    | events/s (median) | min        | max        |');
    console.log('|------------------------|-------------------|------------|------------|');
    console.log(row('direct (no hop)', direct.map((x) => x.eventsPerSecond), directRate));
    console.log(row('re-keyed (one hop)', hop.map((x) => x.eventsPerSecond), hopRate));
    console.log('');
    console.log(`ratio (hop / direct): ${out.ratio}   time to done incl. group join (median): direct ${out.directTotalSeconds}s, hop ${out.hopTotalSeconds}s`);
    console.log(`hop latency, backlog read at once (last run, histogram bucket bounds): p50 <= ${out.hopLatencyP50MsAtMost} ms, p99 <= ${out.hopLatencyP99MsAtMost} ms; ${fmt(out.hopRecordsAndMarkersProduced ?? 0)} records and markers produced`);
    if (paced !== undefined) console.log(`hop latency, input produced at ${fmt(PACED_RATE)} events/s for ${PACED_SECONDS}s: p50 <= ${out.pacedHopLatencyP50MsAtMost} ms, p99 <= ${out.pacedHopLatencyP99MsAtMost} ms`);
    console.log(`window results at stop (last runs): direct ${fmt(out.results.direct)}, hop ${fmt(out.results.hop)}`);
  } finally {
    await kafkaSvc?.stop();
  }
}

await main();
