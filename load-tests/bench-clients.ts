/**
 * bench:clients — raw consume throughput of Kafka clients for Node on the same topic, no processing:
 * which client a Kafka source could be built on.
 *
 * Setup: a Kafka broker (tests/infra: KAFKA_BROKERS if set, else a local broker on loopback ports),
 * one topic of 4 partitions, N payments-like JSON records (the bench:kafka records, written the same
 * way, kafka-bench-data.ts).
 * Clients, each with a new consumer group per run reading from the earliest offset, autocommit off,
 * 1 MiB per partition per fetch, counting messages until they have N:
 *   - kafkajs: a consumer group, eachBatch (partitionsConsumedConcurrently 1, as Vigie's Kafka source);
 *   - @platformatic/kafka, when it can be imported: a Consumer, `consume({ mode: earliest,
 *     fallbackMode: earliest })`, its message stream read through 'data' events;
 *   - @confluentinc/kafka-javascript (librdkafka), when it can be imported: its KafkaJS-compatible
 *     consumer, eachBatch, like kafkajs.
 * Neither is a dependency of the project (the newest @platformatic/kafka that accepts Node 20 still
 * pulls packages that ask for Node 22): install them elsewhere (`npm install @platformatic/kafka@1.35.0`
 * in a scratch folder) and name the package's folder with `--platformatic DIR` / `--confluent DIR`;
 * a client that cannot be imported is reported as not installed and the rest runs as usual.
 * Each client is measured twice: counting only, and decoding each value (`toString` + `JSON.parse`,
 * what Vigie's json format does per record).
 * Rate = (N - messages seen at the first observation) / (time from first to last observation), as in
 * bench:kafka: group join and the first fetch are left out. Runs alternate between the clients after
 * a warm-up round; medians are reported.
 *
 *   npm run bench:clients                     readable table
 *   npm run bench:clients -- --json           one JSON object
 *   npm run bench:clients -- --events 1000000 --runs 5
 *   npm run bench:clients -- --platformatic /path/to/node_modules/@platformatic/kafka
 *   npm run bench:clients -- --confluent /path/to/node_modules/@confluentinc/kafka-javascript
 *   npm run bench:clients -- --platformatic-hwm 16384 --confluent-batch 8192   tuned buffers
 * The JSON object is also written to load-tests/results/bench-clients.json (ignored by git).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Kafka } from 'kafkajs';
import type { KafkaService } from '../tests/infra/kafka.js';
import { Counter, kafkajsCount, type RunResult } from './raw-limits.js';
import { createTopicAndProduce, median, paymentMessages, uid, startBenchKafka, BENCH_TOPIC, checkIntegerOptions } from './kafka-bench-data.js';

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    events: { type: 'string', default: '500000' },
    runs: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    'chunk-size': { type: 'string', default: '10000' },
    'timeout-ms': { type: 'string', default: '120000' },
    confluent: { type: 'string' },
    platformatic: { type: 'string' },
    'platformatic-hwm': { type: 'string', default: '1024' },
    'confluent-batch': { type: 'string', default: '32' },
    out: { type: 'string', default: 'load-tests/results/bench-clients.json' },
  },
});
const N = Number(args.events);
const RUNS = Number(args.runs);
const WARMUP = Number(args.warmup);
const CHUNK = Number(args['chunk-size']);
const RUN_TIMEOUT_MS = Number(args['timeout-ms']);
/** @platformatic/kafka's stream highWaterMark (messages buffered by its Readable; 1024 is its default). */
const PLATFORMATIC_HWM = Number(args['platformatic-hwm']);
/** The confluent client's `js.consumer.max.batch.size` (eachBatch size; 32 is its default, -1 unlimited). */
const CONFLUENT_BATCH = Number(args['confluent-batch']);
checkIntegerOptions([['events', N, 1], ['runs', RUNS, 1], ['warmup', WARMUP, 0], ['chunk-size', CHUNK, 1], ['timeout-ms', RUN_TIMEOUT_MS, 1000]]);
const { partitions: PARTITIONS, cards: CARDS, window: WINDOW, start: START } = BENCH_TOPIC;
const MAX_BYTES_PER_PARTITION = 1_048_576;
const CONFLUENT_PACKAGE = '@confluentinc/kafka-javascript';

/** The part of @platformatic/kafka's API the bench uses. */
interface PlatformaticModule {
  Consumer: new (options: Record<string, unknown>) => {
    consume(options: Record<string, unknown>): Promise<{ on(event: string, f: (m: { value: Buffer }) => void): void; close(): Promise<void> }>;
    close(force: boolean, callback: () => void): void;
  };
  MessagesStreamModes: { EARLIEST: unknown };
  MessagesStreamFallbackModes: { EARLIEST: unknown };
}

/** Imports an optional client: from `dir/entry` when a folder is given, else by its package name. */
async function loadOptional<M>(pkg: string, dir: string | undefined, entry: string, option: string, usable: (m: M) => boolean): Promise<{ mod?: M; outcome: string }> {
  const target = dir ? pathToFileURL(resolve(dir, entry)).href : pkg;
  try {
    const imported = (await import(target)) as M & { default?: M };
    const mod = usable(imported) ? imported : imported.default;
    if (mod === undefined || !usable(mod)) return { outcome: `${pkg} imported from ${target} but lacks the API the bench uses` };
    return { mod, outcome: `measured (imported from ${dir ?? pkg})` };
  } catch (err) {
    return { outcome: `not installed: import of ${target} failed (${(err as Error).message.split('\n')[0]}); not a dependency of the project, pass ${option} DIR for an install made elsewhere` };
  }
}

async function platformaticRun(mod: PlatformaticModule, brokers: string[], topic: string, parse: boolean): Promise<RunResult> {
  const { Consumer, MessagesStreamModes, MessagesStreamFallbackModes } = mod;
  const c = new Counter(parse, N, RUN_TIMEOUT_MS);
  const consumer = new Consumer({
    groupId: `bench-platformatic-${uid()}`,
    clientId: 'vigie-bench-clients',
    bootstrapBrokers: brokers,
    autocommit: false,
    maxBytesPerPartition: MAX_BYTES_PER_PARTITION,
    sessionTimeout: 30_000,
    heartbeatInterval: 3000,
    highWaterMark: PLATFORMATIC_HWM,
  });
  try {
    const stream = await consumer.consume({ topics: [topic], mode: MessagesStreamModes.EARLIEST, fallbackMode: MessagesStreamFallbackModes.EARLIEST, autocommit: false });
    stream.on('error', (err) => void (c.failure = err as unknown as Error));
    if (parse) {
      stream.on('data', (m) => {
        c.decode(m.value);
        c.add(1);
      });
    } else {
      stream.on('data', () => c.add(1));
    }
    try {
      await c.done('@platformatic/kafka');
    } finally {
      await stream.close().catch(() => {});
    }
  } finally {
    await new Promise<void>((done) => consumer.close(true, () => done()));
  }
  return c.result('@platformatic/kafka');
}

/** The part of @confluentinc/kafka-javascript's KafkaJS-compatible API the benchmark uses. */
interface ConfluentConsumer {
  connect(): Promise<void>;
  subscribe(o: { topics: string[] }): Promise<void>;
  run(o: { partitionsConsumedConcurrently?: number; eachBatch: (p: { batch: { messages: { value: Buffer | null }[] } }) => Promise<void> }): Promise<void>;
  disconnect(): Promise<void>;
}
interface ConfluentModule {
  KafkaJS: { Kafka: new (config: unknown) => { consumer(config: unknown): ConfluentConsumer } };
}

/** The librdkafka client if it can be imported: from `--confluent DIR`, else from node_modules. */
async function confluentRun(mod: ConfluentModule, brokers: string[], topic: string, parse: boolean): Promise<RunResult> {
  const c = new Counter(parse, N, RUN_TIMEOUT_MS);
  const kafka = new mod.KafkaJS.Kafka({ kafkaJS: { brokers, clientId: 'vigie-bench-confluent', logLevel: 0 } });
  const consumer = kafka.consumer({
    kafkaJS: { groupId: `bench-confluent-${uid()}`, fromBeginning: true, autoCommit: false, sessionTimeout: 30_000, heartbeatInterval: 3000 },
    'max.partition.fetch.bytes': MAX_BYTES_PER_PARTITION,
    'js.consumer.max.batch.size': CONFLUENT_BATCH,
  });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic] });
    void consumer
      .run({
        partitionsConsumedConcurrently: 1,
        eachBatch: async ({ batch }) => {
          if (parse) for (const m of batch.messages) c.decode(m.value);
          c.add(batch.messages.length);
        },
      })
      .catch((err: unknown) => void (c.failure = err));
    await c.done('confluent');
  } finally {
    await consumer.disconnect().catch(() => {});
  }
  return c.result('confluent');
}

interface Variant {
  client: 'kafkajs' | 'platformatic' | 'confluent';
  label: string;
  parse: boolean;
  run: () => Promise<RunResult>;
  results: RunResult[];
}

async function main(): Promise<void> {
  const messages = paymentMessages(N, CARDS, WINDOW, START);
  const confluent = await loadOptional<ConfluentModule>(CONFLUENT_PACKAGE, args.confluent, 'lib/index.js', '--confluent', (m) => m.KafkaJS !== undefined);
  const platformatic = await loadOptional<PlatformaticModule>('@platformatic/kafka', args.platformatic, 'dist/index.js', '--platformatic', (m) => m.Consumer !== undefined);
  let kafkaSvc: KafkaService | undefined;
  try {
    const bench = await startBenchKafka('vigie-bench-clients');
    kafkaSvc = bench.svc;
    const { kafka, brokers } = bench;
    const topic = `bench-clients-${uid()}`;
    const produced = await createTopicAndProduce(kafka, topic, messages, { partitions: PARTITIONS, chunk: CHUNK });
    const variants: Variant[] = [];
    for (const parse of [false, true]) {
      const suffix = parse ? ' + JSON.parse' : '';
      variants.push({ client: 'kafkajs', label: `kafkajs${suffix}`, parse, run: () => kafkajsCount(kafka, topic, { n: N, parse, timeoutMs: RUN_TIMEOUT_MS, maxBytesPerPartition: MAX_BYTES_PER_PARTITION }), results: [] });
      const pm = platformatic.mod;
      if (pm) variants.push({ client: 'platformatic', label: `@platformatic/kafka${suffix}`, parse, run: () => platformaticRun(pm, brokers, topic, parse), results: [] });
      const mod = confluent.mod;
      if (mod) variants.push({ client: 'confluent', label: `confluent${suffix}`, parse, run: () => confluentRun(mod, brokers, topic, parse), results: [] });
    }
    try {
      for (let r = -WARMUP; r < RUNS; r++) {
        const line: string[] = [];
        for (const v of variants) {
          const res = await v.run();
          if (r >= 0) v.results.push(res);
          line.push(`${v.label} ${Math.round(res.eventsPerSecond)}/s`);
        }
        if (!args.json) process.stderr.write(`${r < 0 ? 'warm-up' : `run ${r + 1}/${RUNS}`}: ${line.join(', ')}\n`);
      }
    } finally {
      if (kafkaSvc.kind === 'env') {
        const admin = kafka.admin();
        await admin.connect().then(() => admin.deleteTopics({ topics: [topic] })).catch(() => {});
        await admin.disconnect().catch(() => {});
      }
    }
    const rate = (client: Variant['client'], parse: boolean): number | null => {
      const v = variants.find((x) => x.client === client && x.parse === parse);
      return v ? Math.round(median(v.results.map((x) => x.eventsPerSecond))) : null;
    };
    const ratio = (a: number | null, b: number | null) => (a !== null && b !== null ? Number((a / b).toFixed(3)) : null);
    const kafkajs = rate('kafkajs', false)!;
    const platformaticRate = rate('platformatic', false);
    const kafkajsParse = rate('kafkajs', true)!;
    const platformaticParse = rate('platformatic', true);
    const confluentRate = rate('confluent', false);
    const confluentParse = rate('confluent', true);
    const out = {
      events: N,
      partitions: PARTITIONS,
      runs: RUNS,
      warmupRuns: WARMUP,
      bytesPerEvent: Math.round(produced.bytes / N),
      produceEventsPerSecond: Math.round(produced.eventsPerSecond),
      kafkajsEventsPerSecond: kafkajs,
      platformaticEventsPerSecond: platformaticRate,
      ratioPlatformaticToKafkajs: ratio(platformaticRate, kafkajs),
      kafkajsJsonParseEventsPerSecond: kafkajsParse,
      platformaticJsonParseEventsPerSecond: platformaticParse,
      ratioPlatformaticToKafkajsJsonParse: ratio(platformaticParse, kafkajsParse),
      confluentEventsPerSecond: confluentRate,
      confluentJsonParseEventsPerSecond: confluentParse,
      ratioConfluentToKafkajs: ratio(confluentRate, kafkajs),
      confluent: { tried: confluent.mod !== undefined || args.confluent !== undefined, outcome: confluent.outcome },
      platformatic: { tried: platformatic.mod !== undefined || args.platformatic !== undefined, outcome: platformatic.outcome },
      totalSecondsMedian: Object.fromEntries(variants.map((v) => [v.label, Number(median(v.results.map((x) => x.totalSeconds)).toFixed(2))])),
      kafka: kafkaSvc.kind,
      node: process.version,
    };
    mkdirSync(dirname(args.out!), { recursive: true });
    writeFileSync(args.out!, `${JSON.stringify(out, null, 2)}\n`);
    if (args.json) {
      process.stdout.write(`${JSON.stringify(out)}\n`);
      return;
    }
    const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
    console.log(`bench:clients  ${N.toLocaleString('en-US')} events (~${out.bytesPerEvent} B JSON), ${PARTITIONS} partitions, ${RUNS} runs (median), Kafka: ${out.kafka}`);
    console.log(`produce (kafkajs, idempotent, acks -1, chunks of ${CHUNK}): ${fmt(out.produceEventsPerSecond)} events/s`);
    console.log('');
    console.log('| client                            | events/s (median) | min          | max          | vs kafkajs | time to N (s) |');
    console.log('|-----------------------------------|-------------------|--------------|--------------|------------|---------------|');
    for (const v of variants) {
      const xs = v.results.map((x) => x.eventsPerSecond);
      const med = median(xs);
      const base = v.parse ? kafkajsParse : kafkajs;
      console.log(
        `| ${v.label.padEnd(33)} | ${fmt(med).padStart(17)} | ${fmt(Math.min(...xs)).padStart(12)} | ${fmt(Math.max(...xs)).padStart(12)} | ${(med / base).toFixed(3).padStart(10)} | ${median(v.results.map((x) => x.totalSeconds)).toFixed(2).padStart(13)} |`,
      );
    }
    console.log('');
    console.log(`@platformatic/kafka / kafkajs: ${out.ratioPlatformaticToKafkajs} counting, ${out.ratioPlatformaticToKafkajsJsonParse} with JSON.parse`);
    console.log(`@platformatic/kafka: ${out.platformatic.outcome}`);
    console.log(`confluent: ${out.confluent.outcome}`);
    console.log(`written to ${args.out}`);
  } finally {
    await kafkaSvc?.stop();
  }
}

await main();
