/**
 * bench:peer — how fast the Kafka Streams peer of the standard job drains a pre-filled topic.
 *
 * One input topic is filled once with the load generator's payments (seed 7, 10,000 Zipf 1.1 customers,
 * 1% fraud, 10% of events up to 3 s late, 20 payments per second of event time) and one `end` record per
 * partition. Each run starts the peer under a new application id (so it reads from the beginning, with
 * empty state), waits until it has processed every record, and stops it. Rate: records / (time of the last
 * record - time of the first), from the peer's own progress lines, so JVM start-up and group join are
 * left out; CPU: the JVM's user + system time over the drain (from /proc).
 *
 * With `--baseline-jar PATH`, another build of the peer (e.g. an earlier design, without progress lines)
 * is run alternately with the same input and thread counts: it is run with `--idle-exit 10` and its rate
 * is that of its summary line, its CPU that of the whole process (start-up included).
 *
 *   npm run bench:peer
 *   npm run bench:peer -- --events 500000 --threads 1,2 --runs 3 --baseline-jar /tmp/peer-before.jar --json
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { VigieError } from '../src/errors.js';
import { checkIntegerOptions, median } from './kafka-bench-data.js';
import { ensurePeerJar, fillInputTopic, paymentRecords, peerKafka, startPeer } from './peer-run.js';
import { keepResult, repoRoot } from './replay-bench.js';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '500000' },
    partitions: { type: 'string', default: '4' },
    threads: { type: 'string', default: '1,2' },
    runs: { type: 'string', default: '1' },
    'commit-interval-ms': { type: 'string' },
    'baseline-jar': { type: 'string' },
    timeout: { type: 'string', default: '900' },
    json: { type: 'boolean', default: false },
  },
});
const EVENTS = Number(args.events);
const PARTITIONS = Number(args.partitions);
const RUNS = Number(args.runs);
const THREADS = args.threads.split(',').map(Number);
const TIMEOUT_MS = Number(args.timeout) * 1000;
const COMMIT_MS = args['commit-interval-ms'] === undefined ? undefined : Number(args['commit-interval-ms']);
checkIntegerOptions([['events', EVENTS, 1], ['partitions', PARTITIONS, 1], ['runs', RUNS, 1], ['timeout', Number(args.timeout), 1], ...THREADS.map((t) => ['threads', t, 1] as const)]);
const BROKERS = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';

interface Run {
  variant: 'peer' | 'baseline';
  threads: number;
  records: number;
  seconds: number;
  recordsPerSecond: number;
  cpuSeconds: number;
  recordsPerCpuSecond: number;
  /** Alerts written (the baseline's summary; the peer's alerts topic once it stopped). */
  alerts: number;
}

async function once(variant: Run['variant'], threads: number, topic: string, total: number): Promise<Run> {
  const applicationId = `${topic}-${variant}-t${threads}-${Date.now()}`;
  const stateDir = await mkdtemp(join(tmpdir(), 'vigie-peer-'));
  const baseline = variant === 'baseline';
  const kafka = peerKafka(BROKERS, `${applicationId}-admin`);
  try {
    const peer = await startPeer({
      brokers: BROKERS, inputTopic: topic, alertsTopic: `${applicationId}-alerts`, applicationId, stateDir, threads,
      commitIntervalMs: baseline ? undefined : COMMIT_MS, jar: baseline ? args['baseline-jar'] : undefined, extraArgs: baseline ? ['--idle-exit', '10'] : [],
    });
    try {
      if (baseline) {
        const timer = setTimeout(() => void peer.stop(), TIMEOUT_MS);
        await peer.exited;
        clearTimeout(timer);
        const s = JSON.parse(peer.lines.at(-1) ?? '{}') as { records: number; seconds: number; recordsPerSecond: number; alerts: number };
        if (s.records !== total) throw new VigieError('VIGIE_ERR_PEER', `the baseline peer processed ${String(s.records)} of ${total} records`);
        const cpu = peer.cpuSeconds();
        return { variant, threads, records: s.records, seconds: s.seconds, recordsPerSecond: s.recordsPerSecond, cpuSeconds: cpu, recordsPerCpuSecond: s.records / cpu, alerts: s.alerts };
      }
      const d = await peer.waitProcessed(total, TIMEOUT_MS);
      await peer.stop();
      const admin = kafka.admin();
      await admin.connect();
      const alerts = (await admin.fetchTopicOffsets(`${applicationId}-alerts`)).reduce((n, p) => n + Number(p.high), 0);
      await admin.disconnect();
      const seconds = (d.lastMs - d.firstMs) / 1000;
      return { variant, threads, records: d.records, seconds, recordsPerSecond: d.recordsPerSecond, cpuSeconds: d.cpuSeconds, recordsPerCpuSecond: d.records / d.cpuSeconds, alerts };
    } finally {
      await peer.stop();
    }
  } finally {
    const admin = kafka.admin();
    await admin.connect();
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${applicationId}-`));
    await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.deleteGroups([applicationId]).catch(() => undefined);
    await admin.disconnect();
    await rm(stateDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  await ensurePeerJar();
  const topic = `bench-peer-${Date.now()}`;
  const kafka = peerKafka(BROKERS, 'vigie-bench-peer');
  const records = paymentRecords({
    events: EVENTS, seed: 7, keys: 10_000, zipf: 1.1, size: 0, outOfOrder: 0.1, maxDelay: 3000, fraudRate: 0.01,
    start: Date.parse('2026-01-01T00:00:00Z'), eventRate: 20, partitions: PARTITIONS,
  });
  const runs: Run[] = [];
  try {
    const total = await fillInputTopic(kafka, topic, PARTITIONS, records, 2 * 3_600_000);
    for (let r = 0; r < RUNS; r++) {
      for (const threads of THREADS) {
        const variants: Array<Run['variant']> = args['baseline-jar'] === undefined ? ['peer'] : r % 2 === 0 ? ['baseline', 'peer'] : ['peer', 'baseline'];
        for (const v of variants) {
          const run = await once(v, threads, topic, total);
          runs.push(run);
          if (!args.json) console.error(`${v} threads=${threads}: ${run.recordsPerSecond.toFixed(0)} records/s, ${run.recordsPerCpuSecond.toFixed(0)} records/CPU-s, ${run.alerts} alerts`);
        }
      }
    }
  } finally {
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  }
  const rows = THREADS.flatMap((threads) => (['baseline', 'peer'] as const).flatMap((variant) => {
    const rs = runs.filter((x) => x.variant === variant && x.threads === threads);
    if (rs.length === 0) return [];
    return [{
      variant, threads, runs: rs.length, recordsPerSecond: Math.round(median(rs.map((x) => x.recordsPerSecond))),
      recordsPerCpuSecond: Math.round(median(rs.map((x) => x.recordsPerCpuSecond))), seconds: Number(median(rs.map((x) => x.seconds)).toFixed(2)),
      cpuSeconds: Number(median(rs.map((x) => x.cpuSeconds)).toFixed(2)), alerts: [...new Set(rs.map((x) => x.alerts))].join('/'),
    }];
  }));
  const result = {
    at: new Date().toISOString(), bench: 'peer', events: EVENTS, records: EVENTS + PARTITIONS, partitions: PARTITIONS,
    commitIntervalMs: COMMIT_MS ?? 'default (30000)', baselineJar: args['baseline-jar'] ?? null, rows, runs,
  };
  await keepResult(join(repoRoot, 'load-tests', 'results'), 'peer', result);
  if (args.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  console.log(`bench:peer  ${EVENTS} payments, ${PARTITIONS} partitions, commit.interval.ms ${result.commitIntervalMs}; medians of ${RUNS} run(s)`);
  console.log('');
  console.log('| variant  | threads | records/s | drain s | CPU s  | records/CPU-s | alerts |');
  console.log('|----------|---------|-----------|---------|--------|---------------|--------|');
  for (const r of rows) {
    console.log(`| ${r.variant.padEnd(8)} | ${String(r.threads).padStart(7)} | ${String(r.recordsPerSecond).padStart(9)} | ${r.seconds.toFixed(1).padStart(7)} | ${r.cpuSeconds.toFixed(1).padStart(6)} | ${String(r.recordsPerCpuSecond).padStart(13)} | ${r.alerts.padStart(6)} |`);
  }
  if (args['baseline-jar'] !== undefined) console.log('\nbaseline: rate from its --idle-exit summary, CPU of the whole process (JVM start-up included).');
}

await main();
