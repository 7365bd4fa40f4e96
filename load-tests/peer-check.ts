/**
 * peer:check — do Vigie and its Kafka Streams peer (load-tests/peers/kafka-streams) raise the same
 * alerts on the same input?
 *
 * A fixed input (the load generator's payments for a seed: Zipf customers, fraud bursts, a fraction of
 * events moved back in time by less than the job's 5 s out-of-orderness) goes into a fresh topic, each
 * customer to partition hash(customer) mod partitions, and, byte for byte, into one NDJSON file per
 * partition. Vigie replays each file with load-tests/standard-job.yaml (in-process Engine, replay mode):
 * one replay per partition, as `vigie run` gives each Kafka partition its own watermark and state, so
 * that events later than the out-of-orderness are late in both alike. The peer (load-tests/peer-run.ts: built with Maven when its jar is missing or older than its sources) reads the topic and writes its
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
 *   npm run peer:check -- --threads 2            the peer with two stream threads
 */
import { createReadStream } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import type { Kafka } from 'kafkajs';
import { Engine } from '../src/engine/engine.js';
import { loadConfig } from '../src/config/load.js';
import { replayOutSinks } from '../src/backtest/replay-outputs.js';
import { silentLogger } from '../src/log.js';
import { fillInputTopic, paymentRecords, peerKafka, readAlerts, startPeer, type Drain } from './peer-run.js';
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
    threads: { type: 'string', default: '1' },
    timeout: { type: 'string', default: '600' },
    show: { type: 'string', default: '5' },
    keep: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const N = Number(args.events);
const PARTITIONS = Number(args.partitions);
const BROKERS = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
const DETECTORS = ['velocity-10m', 'new-device', 'impossible-travel', 'amount-outlier', 'beneficiaries-1h'];

interface Found {
  detector: string;
  key: string;
  id: string;
}
const tag = (a: Found): string => `${a.detector}\u0000${a.key}\u0000${a.id}`;

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

/** Runs the peer until it has processed the `records` of the input topic, stops it (it commits), reads its alerts. */
async function peerAlerts(kafka: Kafka, inTopic: string, outTopic: string, appId: string, stateDir: string, records: number): Promise<{ alerts: Found[]; drain: Drain }> {
  const peer = await startPeer({ brokers: BROKERS, inputTopic: inTopic, alertsTopic: outTopic, applicationId: appId, stateDir, threads: Number(args.threads) });
  let drain: Drain;
  try {
    drain = await peer.waitProcessed(records, Number(args.timeout) * 1000);
  } finally {
    await peer.stop();
  }
  const alerts = (await readAlerts(kafka, outTopic, { timeoutMs: 60_000 })).map((a) => ({ detector: a.detector, key: a.key, id: a.trigger }));
  return { alerts, drain };
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
  const records = paymentRecords({
    events: N, seed: Number(args.seed), keys: Number(args.keys), zipf: Number(args.zipf), size: 0, outOfOrder: Number(args['out-of-order']),
    maxDelay: Number(args['max-delay']), fraudRate: Number(args['fraud-rate']), start: Date.parse('2026-01-01T00:00:00Z'), eventRate: Number(args['event-rate']), partitions: PARTITIONS,
  });
  const files = [];
  for (let p = 0; p < PARTITIONS; p++) {
    const file = join(dir, `payments-${p}.ndjson`);
    await writeFile(file, records.filter((r) => r.partition === p).map((r) => `${r.value}\n`).join(''));
    files.push(file);
  }

  const kafka = peerKafka(BROKERS, 'vigie-peer-check');
  const admin = kafka.admin();
  await admin.connect();
  try {
    const written = await fillInputTopic(kafka, inTopic, PARTITIONS, records, 2 * 3_600_000);
    const vigie = { alerts: [] as Found[], summaries: 0, seconds: 0 };
    for (const [p, file] of files.entries()) await vigieAlerts(file, join(dir, `vigie-${p}`), vigie);
    const peer = await peerAlerts(kafka, inTopic, outTopic, appId, join(dir, 'peer-state'), written);
    const rows = compare(vigie.alerts, peer.alerts, Number(args.show));
    const same = rows.every((r) => r.onlyVigieCount === 0 && r.onlyPeerCount === 0);
    const result = {
      check: 'peer', events: N, partitions: PARTITIONS, seed: Number(args.seed), same,
      vigieSummaries: vigie.summaries, vigieSeconds: Number(vigie.seconds.toFixed(3)), peer: { alerts: peer.alerts.length, ...peer.drain }, detectors: rows,
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
      console.log(`vigie cooldown summaries left out: ${vigie.summaries}; peer: ${peer.alerts.length} alerts, ${peer.drain.records} records at ${peer.drain.recordsPerSecond.toFixed(0)}/s`);
    }
    if (!same) process.exitCode = 1;
  } finally {
    if (!args.keep) {
      const topics = (await admin.listTopics()).filter((t) => t === inTopic || t === outTopic || t.startsWith(`${appId}-`));
      await admin.deleteTopics({ topics }).catch(() => undefined);
      await admin.deleteGroups([appId]).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    }
    await admin.disconnect();
  }
}

await main();
