/**
 * loadgen — open-loop load generator: payment events into a Kafka topic at a fixed target rate
 * (see loadgen.ts). Stops by itself after --duration or --count, whichever ends first; prints a
 * table (target and achieved rate, events, bytes, send lag p50/p99/max, duration), or with --json
 * one JSON object.
 *
 *   npm run loadgen -- --topic payments --create-topic --rate 5000 --duration 60
 *   npm run loadgen -- --topic payments --rate 20000 --count 1000000 --keys 100000 --zipf 1.1 --size 512 --json
 *   npm run loadgen -- --topic payments --rate 1000 --duration 30 --out-of-order 0.05 --max-delay 2000 --fraud-rate 0.01
 */
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { VigieError, describeError } from '../src/errors.js';
import { runLoadgen, type LoadgenOptions, type LoadgenSummary } from './loadgen.js';

const HELP = `npm run loadgen -- --topic NAME (--duration S | --count N) [options]
  --brokers LIST       bootstrap brokers (default: KAFKA_BROKERS, else 127.0.0.1:9092)
  --topic NAME         topic to write to
  --rate N             target events/s (default 1000)
  --duration S         stop after S seconds of schedule
  --count N            stop after N events (whichever of --duration/--count ends first; at most 50,000,000)
  --keys N             customers (default 100000)
  --zipf S             skew of the customer draw, S >= 0 (default 0: uniform)
  --size BYTES         pad each event's JSON to this size with a filler field (default 0: no padding)
  --out-of-order F     fraction of events whose event time is moved back (default 0)
  --max-delay MS       largest such move (default 5000)
  --fraud-rate F       fraction of events in labelled fraud bursts (default 0.001)
  --seed N             seed (default 1)
  --partitions N       partitions of a created topic (default 4)
  --create-topic       create the topic when missing
  --tick MS            pause between sends (default 5)
  --inflight N         sends in flight at most (default 8)
  --acks -1|0|1        acknowledgements asked of the broker (default -1)
  --json               one JSON object instead of the table`;

function num(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new VigieError('VIGIE_ERR_USAGE', `--${name} must be a number, got "${v}"`);
  return n;
}

function parseLoadgenArgs(argv: string[]): { options: LoadgenOptions; brokers: string; json: boolean; help: boolean } {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        brokers: { type: 'string' }, topic: { type: 'string' }, rate: { type: 'string', default: '1000' },
        duration: { type: 'string' }, count: { type: 'string' }, keys: { type: 'string', default: '100000' },
        zipf: { type: 'string', default: '0' }, size: { type: 'string', default: '0' },
        'out-of-order': { type: 'string', default: '0' }, 'max-delay': { type: 'string', default: '5000' },
        'fraud-rate': { type: 'string', default: '0.001' }, seed: { type: 'string', default: '1' },
        partitions: { type: 'string', default: '4' }, 'create-topic': { type: 'boolean', default: false },
        tick: { type: 'string', default: '5' }, inflight: { type: 'string', default: '8' }, acks: { type: 'string', default: '-1' },
        json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    throw new VigieError('VIGIE_ERR_USAGE', (err as Error).message);
  }
  const brokers = values.brokers ?? process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
  if (values.help) return { options: undefined as unknown as LoadgenOptions, brokers, json: values.json, help: true };
  if (values.topic === undefined || values.topic === '') throw new VigieError('VIGIE_ERR_USAGE', '--topic is required');
  const acks = num('acks', values.acks);
  if (acks !== -1 && acks !== 0 && acks !== 1) throw new VigieError('VIGIE_ERR_USAGE', `--acks must be -1, 0 or 1, got ${values.acks}`);
  const options: LoadgenOptions = {
    topic: values.topic,
    rate: num('rate', values.rate) as number,
    durationS: num('duration', values.duration),
    count: num('count', values.count),
    keys: num('keys', values.keys) as number,
    zipf: num('zipf', values.zipf) as number,
    size: num('size', values.size) as number,
    outOfOrder: num('out-of-order', values['out-of-order']) as number,
    maxDelay: num('max-delay', values['max-delay']) as number,
    fraudRate: num('fraud-rate', values['fraud-rate']) as number,
    seed: num('seed', values.seed) as number,
    partitions: num('partitions', values.partitions) as number,
    createTopic: values['create-topic'],
    tickMs: num('tick', values.tick) as number,
    inflight: num('inflight', values.inflight) as number,
    acks,
  };
  return { options, brokers, json: values.json, help: false };
}

function formatTable(s: LoadgenSummary): string {
  const rows: Array<[string, string]> = [
    ['topic', s.topic],
    ['target rate (events/s)', String(s.targetRate)],
    ['achieved rate (events/s)', s.achievedRate.toFixed(1)],
    ['events', String(s.events)],
    ['bytes', String(s.bytes)],
    ['fraud events', String(s.fraudEvents)],
    ['out-of-order events', String(s.outOfOrderEvents)],
    ['send lag p50 (ms)', s.lagP50Ms.toFixed(1)],
    ['send lag p99 (ms)', s.lagP99Ms.toFixed(1)],
    ['send lag max (ms)', s.lagMaxMs.toFixed(1)],
    ['send duration (s)', s.sendSeconds.toFixed(3)],
    ['duration to last ack (s)', s.durationSeconds.toFixed(3)],
  ];
  return rows.map(([k, v]) => `| ${k.padEnd(26)} | ${v.padStart(20)} |`).join('\n');
}

async function main(): Promise<void> {
  const { options, brokers, json, help } = parseLoadgenArgs(process.argv.slice(2));
  if (help) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const kafka = new Kafka({ clientId: 'vigie-loadgen', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
  const summary = await runLoadgen(kafka, brokers, options);
  process.stdout.write(json ? `${JSON.stringify(summary)}\n` : `${formatTable(summary)}\n`);
}

main().catch((err: unknown) => {
  const { code, message, remedy } = describeError(err);
  process.stderr.write(`${code}: ${message}\n  remedy: ${remedy}\n`);
  process.exitCode = 1;
});
