/**
 * peer:check — do Vigie and its Kafka Streams peer (load-tests/peers/kafka-streams) raise the same
 * alerts on the same input?
 *
 * A fixed input (the load generator's payments for a seed: Zipf customers, fraud bursts, a fraction of
 * events moved back in time by less than the job's 5 s out-of-orderness) goes into a fresh topic, each
 * customer to partition hash(customer) mod partitions, and, byte for byte, into one NDJSON file per
 * partition. Vigie replays each file with load-tests/standard-job.yaml (in-process Engine, replay mode):
 * one replay per partition, as `vigie run` gives each Kafka partition its own watermark and state, so
 * that events later than the out-of-orderness are late in both alike. The peer (built with Maven when its jar is missing) reads the topic and writes its
 * alerts to another topic. Each partition ends with one record of type `end`, two hours after the last
 * payment: not a payment (Vigie's `where` leaves it out, and a replay ends its input anyway), it moves the
 * peer's watermark past every pending payment and open window.
 *
 * The alerts are compared per detector as sets of (detector, key, triggering event id; for
 * beneficiaries-1h the window "start-end"). Vigie's cooldown summaries (repeats suppressed) name no event
 * and are left out. Prints counts, matches and the first differences of each kind; exit code 1 on any
 * difference.
 *
 *   npm run peer:check
 *   npm run peer:check -- --events 20000 --partitions 1 --json
 */
import { spawn } from 'node:child_process';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import { Engine } from '../src/engine/engine.js';
import { loadConfig } from '../src/config/load.js';
import { replayOutSinks } from '../src/backtest/replay-outputs.js';
import { silentLogger } from '../src/log.js';
import { hashString } from '../src/generator/rng.js';
import { EventFactory, serialize } from './loadgen.js';
import { repoRoot as root } from './replay-bench.js';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '50000' },
    seed: { type: 'string', default: '7' },
    keys: { type: 'string', default: '10000' },
    zipf: { type: 'string', default: '1.1' },
    'fraud-rate': { type: 'string', default: '0.01' },
    'out-of-order': { type: 'string', default: '0.1' },
    'max-delay': { type: 'string', default: '3000' },
    'event-rate': { type: 'string', default: '20' },
    partitions: { type: 'string', default: '4' },
    'idle-exit': { type: 'string', default: '8' },
    show: { type: 'string', default: '5' },
    keep: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const N = Number(args.events);
const PARTITIONS = Number(args.partitions);
/** Event time of the first payment; payments follow at `event-rate` per second of event time. */
const START = Date.parse('2026-01-01T00:00:00Z');
const EVENT_RATE = Number(args['event-rate']);
const BROKERS = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
const PEER_DIR = join(root, 'load-tests', 'peers', 'kafka-streams');
const JAR = join(PEER_DIR, 'target', 'peer.jar');
const DETECTORS = ['velocity-10m', 'new-device', 'impossible-travel', 'amount-outlier', 'beneficiaries-1h'];

interface Found {
  detector: string;
  key: string;
  id: string;
}
const tag = (a: Found): string => `${a.detector}\u0000${a.key}\u0000${a.id}`;

/** The fixed input: one JSON value per payment, keyed by customer. */
function input(): Array<{ key: string; value: string; ts: number }> {
  const factory = new EventFactory({
    seed: Number(args.seed), keys: Number(args.keys), zipf: Number(args.zipf), size: 0,
    outOfOrder: Number(args['out-of-order']), maxDelay: Number(args['max-delay']), fraudRate: Number(args['fraud-rate']),
  });
  const out = [];
  for (let i = 0; i < N; i++) {
    const e = factory.next(START + Math.floor((i * 1000) / EVENT_RATE));
    out.push({ key: e.customer, value: serialize(e, START, 0), ts: e.ts });
  }
  return out;
}

async function run(cmd: string, argv: string[], cwd: string): Promise<string> {
  return await new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`${cmd} ${argv.join(' ')} exited with ${code}:\n${stderr.slice(-2000)}`))));
  });
}

async function vigieAlerts(file: string, dir: string, into: { alerts: Found[]; summaries: number; seconds: number }): Promise<void> {
  const loaded = loadConfig(join(root, 'load-tests', 'standard-job.yaml'));
  const sinks = await replayOutSinks(dir, silentLogger, ['alerts']);
  const t0 = performance.now();
  await new Engine({ loaded, mode: 'replay', logger: silentLogger, inputs: [{ source: 'payments', path: file }], sinks }).run();
  into.seconds += (performance.now() - t0) / 1000;
  const alerts = into.alerts;
  for await (const line of createInterface({ input: createReadStream(join(dir, 'alerts.jsonl')) })) {
    if (line.trim() === '') continue;
    const a = JSON.parse(line) as { detector: string; key: string; trigger?: string; window: { start: number; end: number } | null; repeatsOf?: string };
    if (a.repeatsOf !== undefined) {
      into.summaries++;
      continue;
    }
    const id = a.detector === 'beneficiaries-1h' && a.window !== null ? `${a.window.start}-${a.window.end}` : (a.trigger ?? '?');
    alerts.push({ detector: a.detector, key: a.key, id });
  }
}

async function peerAlerts(kafka: Kafka, inTopic: string, outTopic: string, appId: string, stateDir: string): Promise<{ alerts: Found[]; summary: Record<string, number> }> {
  if (!existsSync(JAR)) await run('mvn', ['-q', '-B', '-DskipTests', 'package'], PEER_DIR);
  const stdout = await run('java', ['-jar', JAR, '--bootstrap', BROKERS, '--input', inTopic, '--output', outTopic, '--application-id', appId, '--idle-exit', args['idle-exit'], '--state-dir', stateDir], PEER_DIR);
  const summary = JSON.parse(stdout.trim().split('\n').pop() as string) as Record<string, number>;
  const consumer = kafka.consumer({ groupId: `${appId}-reader` });
  const alerts: Found[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: outTopic, fromBeginning: true });
    let last = Date.now();
    await consumer.run({
      eachMessage: async ({ message }) => {
        const a = JSON.parse(message.value?.toString() ?? '{}') as { detector: string; key: string; eventId: string };
        alerts.push({ detector: a.detector, key: a.key, id: a.eventId });
        last = Date.now();
      },
    });
    while (alerts.length < summary.alerts && Date.now() - last < 15_000) await new Promise((r) => setTimeout(r, 100));
  } finally {
    await consumer.disconnect();
  }
  return { alerts, summary };
}

interface Row {
  detector: string;
  vigie: number;
  peer: number;
  matches: number;
  onlyVigie: string[];
  onlyPeer: string[];
  onlyVigieCount: number;
  onlyPeerCount: number;
}

function compare(vigie: Found[], peer: Found[], show: number): Row[] {
  return DETECTORS.map((detector) => {
    const v = new Map(vigie.filter((a) => a.detector === detector).map((a) => [tag(a), a]));
    const p = new Map(peer.filter((a) => a.detector === detector).map((a) => [tag(a), a]));
    const onlyV = [...v.keys()].filter((k) => !p.has(k));
    const onlyP = [...p.keys()].filter((k) => !v.has(k));
    const fmt = (k: string): string => {
      const [, key, id] = k.split('\u0000');
      return `${key} ${id}`;
    };
    return {
      detector, vigie: v.size, peer: p.size, matches: v.size - onlyV.length,
      onlyVigie: onlyV.slice(0, show).map(fmt), onlyPeer: onlyP.slice(0, show).map(fmt),
      onlyVigieCount: onlyV.length, onlyPeerCount: onlyP.length,
    };
  });
}

async function main(): Promise<void> {
  const stamp = `${Date.now()}`;
  const inTopic = `peer-check-${stamp}`;
  const outTopic = `${inTopic}-alerts`;
  const appId = `${inTopic}-app`;
  const dir = join(root, 'out', 'peer-check', stamp);
  await mkdir(dir, { recursive: true });
  const records = input().map((r) => ({ ...r, partition: hashString(r.key) % PARTITIONS }));
  const files = [];
  for (let p = 0; p < PARTITIONS; p++) {
    const file = join(dir, `payments-${p}.ndjson`);
    await writeFile(file, records.filter((r) => r.partition === p).map((r) => `${r.value}\n`).join(''));
    files.push(file);
  }

  const kafka = new Kafka({ clientId: 'vigie-peer-check', brokers: BROKERS.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic: inTopic, numPartitions: PARTITIONS }, { topic: outTopic, numPartitions: 1 }], waitForLeaders: true });
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    try {
      for (let i = 0; i < records.length; i += 2000) {
        await producer.send({ topic: inTopic, acks: -1, messages: records.slice(i, i + 2000).map((r) => ({ key: r.key, value: r.value, partition: r.partition })) });
      }
      const end = Math.max(...records.map((r) => r.ts)) + 2 * 3_600_000;
      const markers = Array.from({ length: PARTITIONS }, (_, p) => ({ partition: p, key: 'end', value: JSON.stringify({ id: `end-${p}`, type: 'end', ts: end }) }));
      await producer.send({ topic: inTopic, acks: -1, messages: markers });
    } finally {
      await producer.disconnect();
    }

    const vigie = { alerts: [] as Found[], summaries: 0, seconds: 0 };
    for (const [p, file] of files.entries()) await vigieAlerts(file, join(dir, `vigie-${p}`), vigie);
    const peer = await peerAlerts(kafka, inTopic, outTopic, appId, join(dir, 'peer-state'));
    const rows = compare(vigie.alerts, peer.alerts, Number(args.show));
    const same = rows.every((r) => r.onlyVigieCount === 0 && r.onlyPeerCount === 0);
    const result = {
      check: 'peer', events: N, partitions: PARTITIONS, seed: Number(args.seed), same,
      vigieSummaries: vigie.summaries, vigieSeconds: Number(vigie.seconds.toFixed(3)), peer: peer.summary, detectors: rows,
    };
    if (args.json) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
    } else {
      console.log(`peer:check  ${N} payments, ${PARTITIONS} partitions, seed ${args.seed}: ${same ? 'same alerts' : 'DIFFERENT alerts'}`);
      console.log('');
      console.log('| detector          | vigie | peer  | matches | only vigie | only peer |');
      console.log('|-------------------|-------|-------|---------|------------|-----------|');
      for (const r of rows) {
        console.log(`| ${r.detector.padEnd(17)} | ${String(r.vigie).padStart(5)} | ${String(r.peer).padStart(5)} | ${String(r.matches).padStart(7)} | ${String(r.onlyVigieCount).padStart(10)} | ${String(r.onlyPeerCount).padStart(9)} |`);
      }
      for (const r of rows) {
        if (r.onlyVigie.length > 0) console.log(`${r.detector}: only vigie (first ${r.onlyVigie.length}): ${r.onlyVigie.join(', ')}`);
        if (r.onlyPeer.length > 0) console.log(`${r.detector}: only peer (first ${r.onlyPeer.length}): ${r.onlyPeer.join(', ')}`);
      }
      console.log('');
      console.log(`vigie cooldown summaries left out: ${vigie.summaries}; peer: ${JSON.stringify(peer.summary)}`);
    }
    if (!same) process.exitCode = 1;
  } finally {
    if (!args.keep) {
      const topics = (await admin.listTopics()).filter((t) => t === inTopic || t === outTopic || t.startsWith(`${appId}-`));
      await admin.deleteTopics({ topics }).catch(() => undefined);
      await admin.deleteGroups([appId, `${appId}-reader`]).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    }
    await admin.disconnect();
  }
}

await main();
