/**
 * bench:kafka — events/s of Vigie consuming a real Kafka topic, against a bare kafkajs consumer that
 * only counts the messages.
 *
 * Setup: a Kafka broker (tests/infra: KAFKA_BROKERS if set, else a local broker on loopback ports),
 * one topic of 4 partitions, N payments-like JSON records (id, ts increasing, card among 50k keys,
 * amount; record key = card) written by an idempotent producer (acks -1) in chunks.
 * Raw: a kafkajs consumer group (eachBatch, autoCommit off, one partition at a time, 1 MiB per
 * partition per fetch, as Vigie's Kafka source) counting messages until it has N.
 * Vigie: the engine in-process (live mode), a kafka source (json, fields { amount: number }), one
 * pipeline keyed by card with tumbling 1 min windows, count + sum, a threshold detector (count >= 5),
 * a null sink taking results and alerts, no state store, no metrics; done once the delivered
 * positions of every partition add up to N.
 * Each run uses a new consumer group, so it reads the topic from the beginning. Rates are measured
 * from the first observation (first batch for raw, first delivered position for Vigie, polled every
 * 50 ms) to the last: (N - events seen at the first observation) / elapsed. Runs alternate (raw,
 * Vigie); medians are reported.
 *
 *   npm run bench:kafka                 readable table
 *   npm run bench:kafka -- --json       one JSON object
 *   npm run bench:kafka -- --events 1000000 --runs 5
 *   npm run bench:kafka -- --max-wait 5000      the Kafka source's maxWaitTime (ms; default 500)
 *   npm run bench:kafka -- --sink-delay 20      a slow downstream: each Vigie sink write takes 20 ms more
 */
import { parseArgs } from 'node:util';
import type { Kafka } from 'kafkajs';
import { Engine } from '../src/engine/engine.js';
import { parseConfig } from '../src/config/load.js';
import { create as createNullSink } from '../sinks/null.js';
import type { KafkaService } from '../tests/infra/kafka.js';
import { createTopicAndProduce, median, paymentMessages, sleep, uid, startBenchKafka, BENCH_TOPIC, checkIntegerOptions } from './kafka-bench-data.js';

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    events: { type: 'string', default: '500000' },
    runs: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    'chunk-size': { type: 'string', default: '10000' },
    'timeout-ms': { type: 'string', default: '120000' },
    'max-wait': { type: 'string', default: '500' },
    'sink-delay': { type: 'string', default: '0' },
  },
});
/** The Kafka source's maxWaitTime (ms): fetch wait on the broker, and the idle time when every partition is paused. */
const MAX_WAIT = Number(args['max-wait']);
/** A slow downstream: each sink write of the Vigie runs resolves this many ms later (0: the null sink as is). */
const SINK_DELAY = Number(args['sink-delay']);
const N = Number(args.events);
const RUNS = Number(args.runs);
const WARMUP = Number(args.warmup);
const CHUNK = Number(args['chunk-size']);
const RUN_TIMEOUT_MS = Number(args['timeout-ms']);
checkIntegerOptions([['events', N, 1], ['runs', RUNS, 1], ['warmup', WARMUP, 0], ['chunk-size', CHUNK, 1], ['timeout-ms', RUN_TIMEOUT_MS, 1000]]);
const { partitions: PARTITIONS, cards: CARDS, window: WINDOW, start: START } = BENCH_TOPIC;
/** Same as the Vigie kafka source's default maxBytesPerPartition. */
const MAX_BYTES_PER_PARTITION = 1_048_576;
const POLL_MS = 50;

interface RunResult {
  eventsPerSecond: number;
  /** From the consumer's start (group join included) to N. */
  totalSeconds: number;
}

/** A kafkajs consumer that only counts messages. */
async function rawRun(kafka: Kafka, topic: string): Promise<RunResult> {
  const consumer = kafka.consumer({ groupId: `bench-raw-${uid()}`, maxBytesPerPartition: MAX_BYTES_PER_PARTITION, sessionTimeout: 30_000, heartbeatInterval: 3000, allowAutoTopicCreation: false });
  let count = 0;
  let first = 0;
  let firstCount = 0;
  let last = 0;
  let failure: unknown;
  const start = performance.now();
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    // kafkajs restarts the consumer itself after retriable errors (e.g. a coordinator still loading).
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart) failure = payload.error;
    });
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: async ({ batch }) => {
        if (count >= N) return;
        count += batch.messages.length;
        const now = performance.now();
        if (first === 0) {
          first = now;
          firstCount = count;
        }
        if (count >= N) last = now;
      },
    });
    const deadline = start + RUN_TIMEOUT_MS;
    while (last === 0) {
      if (failure !== undefined) throw new Error(`raw consumer crashed: ${String(failure)}`);
      if (performance.now() > deadline) throw new Error(`raw run timed out after ${RUN_TIMEOUT_MS / 1000}s with ${count}/${N} messages`);
      await sleep(5);
    }
  } finally {
    await consumer.disconnect().catch(() => {});
  }
  if (count !== N) throw new Error(`raw consumer counted ${count} messages, expected ${N}`);
  return { eventsPerSecond: (N - firstCount) / ((last - first) / 1000), totalSeconds: (last - start) / 1000 };
}

function vigieConfig(brokers: string[], topic: string, groupId: string): string {
  return `
name: bench-kafka
time: { maxOutOfOrderness: 1s }
sources:
  - name: payments
    type: kafka
    topics: [${JSON.stringify(topic)}]
    groupId: ${JSON.stringify(groupId)}
    client: { brokers: ${JSON.stringify(brokers.join(','))}, clientId: vigie-bench }
    format: json
    fields: { amount: number }
    maxWaitTime: ${MAX_WAIT}
pipelines:
  - name: per-card
    key: card
    window: { type: tumbling, size: 1m }
    aggregates:
      - { name: n, fn: count }
      - { name: total, fn: sum, field: amount }
    detectors:
      - { name: busy-card, type: threshold, aggregate: n, op: '>=', value: 5, severity: medium }
sinks: [{ name: discard, type: 'null', outputs: [results, alerts] }]
state: { store: none }
metrics: { enabled: false }
`;
}

/** Records delivered by the engine so far: per partition, last delivered offset + 1 (offsets start at 0). */
function delivered(engine: Engine): number {
  let n = 0;
  for (const offset of engine.durablePositions.values()) n += offset + 1;
  return n;
}

interface VigieRunResult extends RunResult {
  results: number;
  alerts: number;
}

async function vigieRun(brokers: string[], topic: string): Promise<VigieRunResult> {
  const loaded = parseConfig(vigieConfig(brokers, topic, `bench-vigie-${uid()}`), 'bench-kafka.yaml');
  const sink = createNullSink({ name: 'discard', type: 'null', outputs: ['results', 'alerts'] });
  if (SINK_DELAY > 0) {
    const write = sink.write.bind(sink);
    sink.write = async (batch) => {
      await write(batch);
      await new Promise((resolve) => setTimeout(resolve, SINK_DELAY));
    };
  }
  const engine = new Engine({ loaded, mode: 'live', sinks: [sink] });
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
  let n = 0;
  try {
    const deadline = start + RUN_TIMEOUT_MS;
    for (;;) {
      await sleep(POLL_MS);
      if (failure !== undefined) throw new Error(`engine failed: ${(failure as Error).message ?? String(failure)}`);
      if (ended) throw new Error(`engine stopped by itself after ${n}/${N} records`);
      n = delivered(engine);
      const now = performance.now();
      if (n > 0 && first === 0) {
        first = now;
        firstCount = n;
      }
      if (n >= N) {
        last = now;
        break;
      }
      if (now > deadline) throw new Error(`vigie run timed out after ${RUN_TIMEOUT_MS / 1000}s with ${n}/${N} records delivered`);
    }
  } finally {
    engine.stop();
    await Promise.race([running, sleep(30_000)]);
  }
  if (failure !== undefined) throw new Error(`engine failed while stopping: ${(failure as Error).message ?? String(failure)}`);
  if (n !== N) throw new Error(`engine delivered ${n} records, expected ${N}`);
  const received = sink.received;
  return { eventsPerSecond: (N - firstCount) / ((last - first) / 1000), totalSeconds: (last - start) / 1000, results: received.results, alerts: received.alerts };
}

async function main(): Promise<void> {
  const messages = paymentMessages(N, CARDS, WINDOW, START);
  let kafkaSvc: KafkaService | undefined;
  try {
    const bench = await startBenchKafka('vigie-bench-raw');
    kafkaSvc = bench.svc;
    const { kafka, brokers } = bench;
    const topic = `bench-kafka-${uid()}`;
    const produced = await createTopicAndProduce(kafka, topic, messages, { partitions: PARTITIONS, chunk: CHUNK });
    const raw: RunResult[] = [];
    const vigie: VigieRunResult[] = [];
    try {
      for (let r = -WARMUP; r < RUNS; r++) {
        const a = await rawRun(kafka, topic);
        const b = await vigieRun(brokers, topic);
        if (r >= 0) {
          raw.push(a);
          vigie.push(b);
        }
        if (!args.json) process.stderr.write(`${r < 0 ? 'warm-up' : `run ${r + 1}/${RUNS}`}: raw ${Math.round(a.eventsPerSecond)}/s, vigie ${Math.round(b.eventsPerSecond)}/s\n`);
      }
    } finally {
      if (kafkaSvc.kind === 'env') {
        const admin = kafka.admin();
        await admin.connect().then(() => admin.deleteTopics({ topics: [topic] })).catch(() => {});
        await admin.disconnect().catch(() => {});
      }
    }
    const rawRate = median(raw.map((x) => x.eventsPerSecond));
    const vigieRate = median(vigie.map((x) => x.eventsPerSecond));
    const out = {
      events: N,
      partitions: PARTITIONS,
      runs: RUNS,
      warmupRuns: WARMUP,
      cards: CARDS,
      bytesPerEvent: Math.round(produced.bytes / N),
      produceEventsPerSecond: Math.round(produced.eventsPerSecond),
      rawEventsPerSecond: Math.round(rawRate),
      vigieEventsPerSecond: Math.round(vigieRate),
      ratio: Number((vigieRate / rawRate).toFixed(3)),
      rawTotalSeconds: Number(median(raw.map((x) => x.totalSeconds)).toFixed(2)),
      vigieTotalSeconds: Number(median(vigie.map((x) => x.totalSeconds)).toFixed(2)),
      vigieResults: vigie[vigie.length - 1].results,
      vigieAlerts: vigie[vigie.length - 1].alerts,
      kafka: kafkaSvc.kind,
      node: process.version,
    };
    if (args.json) {
      process.stdout.write(`${JSON.stringify(out)}\n`);
      return;
    }
    const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
    const row = (name: string, xs: number[], med: number) =>
      `| ${name.padEnd(14)} | ${fmt(med).padStart(17)} | ${fmt(Math.min(...xs)).padStart(12)} | ${fmt(Math.max(...xs)).padStart(12)} |`;
    console.log(`bench:kafka  ${N.toLocaleString('en-US')} events (~${out.bytesPerEvent} B JSON), ${PARTITIONS} partitions, ${CARDS.toLocaleString('en-US')} cards, ${RUNS} runs (median), Kafka: ${out.kafka}`);
    console.log(`produce (idempotent, acks -1, chunks of ${CHUNK}): ${fmt(out.produceEventsPerSecond)} events/s`);
    console.log('');
    console.log('| consumer       | events/s (median) | min          | max          |');
    console.log('|----------------|-------------------|--------------|--------------|');
    console.log(row('raw kafkajs', raw.map((x) => x.eventsPerSecond), rawRate));
    console.log(row('vigie engine', vigie.map((x) => x.eventsPerSecond), vigieRate));
    console.log('');
    console.log(`ratio (vigie / raw): ${out.ratio}   time to N incl. group join (median): raw ${out.rawTotalSeconds}s, vigie ${out.vigieTotalSeconds}s`);
    console.log(`vigie outputs at stop (last run): ${fmt(out.vigieResults)} window results, ${fmt(out.vigieAlerts)} alerts`);
  } finally {
    await kafkaSvc?.stop();
  }
}

await main();
