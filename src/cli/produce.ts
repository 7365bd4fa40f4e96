/**
 * `vigie produce`: writes events into a Kafka topic at a steady rate, generated (the built-in
 * scenarios of `vigie generate`) or the lines of a file, and stops by itself after a count, a
 * duration or the end of the file. Feeds a live `vigie run` on a real topic.
 */
import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { Option, type Command } from 'commander';
import { Partitioners, type Message, type Producer } from 'kafkajs';
import type { Logger } from 'pino';
import { VigieError } from '../errors.js';
import { createGenerator, customersFor, SCENARIOS, type Scenario } from '../generator/index.js';
import { createKafka, kafkaClientSchema } from '../kafka/client.js';
import { createLogger } from '../log.js';
import { duration, int, positive } from './options.js';
import { onStopSignals } from './signals.js';

export interface ProduceOptions {
  topic: string;
  scenario: Scenario;
  input?: string;
  rate: number;
  events?: number;
  duration?: number;
  seed: number;
  customers?: number;
  key?: string;
  brokers?: string;
}

export interface ProduceSummary {
  topic: string;
  events: number;
  seconds: number;
  ratePerSecond: number;
  /** What ended the run: the count, the duration, the end of the input file, or a signal. */
  stoppedBy: 'events' | 'duration' | 'input' | 'signal';
}

/** Without --events, --duration or --input, a run still ends: as many events as `vigie generate` writes by default. */
const DEFAULT_EVENTS = 10_000;
/** At high rates one send carries many events; this bounds a send's size. */
const MAX_SEND = 5000;
/** The shortest pause between sends, so that low rates do not spin. */
const MIN_PAUSE_MS = 5;
const PROGRESS_EVERY_MS = 10_000;
/**
 * The payments population is built before the first event, about 10 s and 250 MB per 100,000
 * customers: past this, fewer customers than the rate calls for, and a note that says so.
 */
const MAX_DEFAULT_CUSTOMERS = 300_000;

/** The field the demo topics are keyed by: every event of a customer (or service) lands in one partition. */
const DEFAULT_KEY: Readonly<Record<Scenario, string>> = { payments: 'customer', telemetry: 'service', cards: 'customer' };

interface Records {
  /** Up to `n` more records; fewer only at the end of the input. */
  take(n: number): Promise<Message[]>;
  close(): void;
}

function keyOf(event: unknown, field: string): string | null {
  if (event === null || typeof event !== 'object' || Array.isArray(event)) return null;
  const v = (event as Record<string, unknown>)[field];
  return v === undefined || v === null ? null : String(v);
}

function generated(opts: ProduceOptions, keyField: string): Records {
  // As many customers as the rate needs for each to pay a few times a day: fewer, and normal customers
  // pay so often that the velocity rules fire on them.
  const realistic = customersFor(opts.rate);
  const customers = opts.customers ?? Math.min(realistic, MAX_DEFAULT_CUSTOMERS);
  if (opts.scenario === 'payments') {
    const note = customers < realistic ? ` (${realistic} would keep normal customers' payment rates realistic at this rate: the velocity rules may fire on normal traffic; --customers sets it)` : '';
    process.stderr.write(`produce: ${customers} customers${note}\n`);
  }
  // Event times start now and advance at the rate on average (the scenario's own day shapes it).
  const gen = createGenerator(opts.scenario, { seed: opts.seed, start: Date.now(), ratePerSecond: opts.rate, customers });
  return {
    take: async (n) => gen.next(n).map((e) => ({ key: keyOf(e, keyField), value: JSON.stringify(e) })),
    close: () => {},
  };
}

async function fileLines(file: string, keyField: string): Promise<Records> {
  try {
    await access(file);
  } catch (err) {
    throw new VigieError('VIGIE_ERR_SOURCE', `--input ${file}: ${(err as Error).message}`, { cause: err });
  }
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  const it = lines[Symbol.asyncIterator]();
  return {
    async take(n) {
      const out: Message[] = [];
      while (out.length < n) {
        let next: IteratorResult<string>;
        try {
          next = await it.next();
        } catch (err) {
          throw new VigieError('VIGIE_ERR_SOURCE', `--input ${file}: ${(err as Error).message}`, { cause: err });
        }
        const { value, done } = next;
        if (done) break;
        if (value.trim() === '') continue;
        let parsed: unknown;
        try {
          parsed = JSON.parse(value);
        } catch {
          parsed = undefined; // sent as is: what Vigie makes of a bad record (a dead letter) is part of the demo
        }
        out.push({ key: keyOf(parsed, keyField), value });
      }
      return out;
    },
    close: () => lines.close(),
  };
}

async function connect(opts: ProduceOptions, brokers: string, logger: Logger): Promise<Producer> {
  const kafka = createKafka(kafkaClientSchema.parse({ brokers, clientId: 'vigie-produce' }), logger);
  const admin = kafka.admin();
  try {
    await admin.connect();
    const topics = await admin.listTopics();
    if (!topics.includes(opts.topic)) {
      throw new VigieError('VIGIE_ERR_PRODUCE', `topic "${opts.topic}" does not exist on ${brokers} (produce does not create topics)`);
    }
  } catch (err) {
    if (err instanceof VigieError) throw err;
    throw new VigieError('VIGIE_ERR_PRODUCE', `cannot reach the Kafka brokers ${brokers}: ${(err as Error).message}`, { cause: err });
  } finally {
    await admin.disconnect().catch(() => {});
  }
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    // murmur2 of the key, as the Java client: the partition of a customer is the same whoever writes it.
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  try {
    await producer.connect();
  } catch (err) {
    throw new VigieError('VIGIE_ERR_PRODUCE', `cannot connect a producer to ${brokers}: ${(err as Error).message}`, { cause: err });
  }
  return producer;
}

/**
 * Sends on a schedule: event i (from 0) goes no earlier than i / rate seconds after the start, so the
 * count sent never runs ahead of rate × elapsed time (after a slow send, what fell due meanwhile goes
 * at once, never more).
 */
export async function produce(opts: ProduceOptions, signal?: AbortSignal): Promise<ProduceSummary> {
  const logger = createLogger({});
  const brokers = opts.brokers ?? process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
  const keyField = opts.key ?? DEFAULT_KEY[opts.scenario];
  const limit = opts.events ?? (opts.input !== undefined || opts.duration !== undefined ? Infinity : DEFAULT_EVENTS);
  // A missing file or topic fails before the payments population is built, which takes seconds.
  const fromFile = opts.input !== undefined ? await fileLines(opts.input, keyField) : undefined;
  const producer = await connect(opts, brokers, logger).catch((err: unknown) => {
    fromFile?.close();
    throw err;
  });
  const records = fromFile ?? generated(opts, keyField);
  const t0 = Date.now();
  let sent = 0;
  let stoppedBy: ProduceSummary['stoppedBy'] | undefined;
  let lastProgress = t0;
  try {
    while (stoppedBy === undefined) {
      const now = Date.now();
      if (signal?.aborted) {
        stoppedBy = 'signal';
        break;
      }
      if (opts.duration !== undefined && now - t0 >= opts.duration) {
        stoppedBy = 'duration';
        break;
      }
      const due = Math.min(limit, Math.floor(((now - t0) * opts.rate) / 1000) + 1);
      if (due > sent) {
        const want = Math.min(due - sent, MAX_SEND);
        const messages = await records.take(want);
        if (messages.length > 0) {
          try {
            await producer.send({ topic: opts.topic, acks: -1, messages });
          } catch (err) {
            throw new VigieError('VIGIE_ERR_PRODUCE', `cannot write to topic "${opts.topic}" after ${sent} events: ${(err as Error).message}`, { cause: err });
          }
          sent += messages.length;
        }
        if (messages.length < want) stoppedBy = 'input';
        else if (sent >= limit) stoppedBy = 'events';
        if (stoppedBy !== undefined) break;
      }
      if (Date.now() - lastProgress >= PROGRESS_EVERY_MS) {
        lastProgress = Date.now();
        process.stderr.write(`produce: ${sent} events to ${opts.topic} in ${((lastProgress - t0) / 1000).toFixed(0)} s\n`);
      }
      const nextDue = t0 + (sent * 1000) / opts.rate;
      const end = opts.duration === undefined ? Infinity : t0 + opts.duration;
      const pause = Math.max(MIN_PAUSE_MS, Math.min(nextDue, end) - Date.now());
      await sleep(pause, undefined, { signal }).catch(() => {});
    }
  } finally {
    records.close();
    await producer.disconnect().catch(() => {});
  }
  const seconds = (Date.now() - t0) / 1000;
  return { topic: opts.topic, events: sent, seconds: Number(seconds.toFixed(3)), ratePerSecond: Number((sent / Math.max(seconds, 0.001)).toFixed(2)), stoppedBy: stoppedBy ?? 'events' };
}

export function addProduceCommand(program: Command): void {
  program
    .command('produce')
    .description(
      'Write events into a Kafka topic at a steady rate: generated (a built-in scenario, event times from now on) or the lines of --input; ' +
        'stops after --events, --duration or the end of the file (10000 events when none is given), or on SIGINT/SIGTERM. Prints a JSON summary.',
    )
    .requiredOption('-t, --topic <name>', 'topic to write to (must exist)')
    .addOption(new Option('--scenario <name>', 'scenario of the generated events').choices(SCENARIOS.filter((s) => s !== 'cards')).default('payments'))
    .option('-i, --input <file>', 'send the lines of this file (NDJSON: one record per line) instead of generated events')
    .option('--rate <n>', 'events per second', positive('rate'), 10)
    .option('-n, --events <n>', 'stop after this many events', int('events', 1))
    .option('--duration <d>', 'stop after this long (30s, 5m, 2h)', duration('duration'))
    .option('--key <field>', 'record key: this field of each event (default: customer for payments, service for telemetry)')
    .option('--seed <n>', 'seed of the generated events', int('seed'), 1)
    .option('--customers <n>', 'payments: number of customers (default: about 13,000 per event/s, at most 300,000)', int('customers', 10))
    .option('--brokers <list>', 'comma-separated bootstrap brokers (default: KAFKA_BROKERS, else 127.0.0.1:9092)')
    .action(async (opts: ProduceOptions) => {
      const abort = new AbortController();
      // The first signal stops after the send in flight; a later one does not wait for it.
      const removeHandlers = onStopSignals(
        () => abort.abort(),
        () => process.exit(1),
      );
      try {
        const summary = await produce(opts, abort.signal);
        process.stdout.write(`${JSON.stringify(summary)}\n`);
      } finally {
        removeHandlers();
      }
    });
}
