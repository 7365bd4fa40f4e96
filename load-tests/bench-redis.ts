/**
 * bench:redis — alerts/s of the redis sink (one Lua script per alert: dedup check, XADD, state hash,
 * PUBLISH; one pipeline per batch) against a plain pipelined XADD of the same entries (no dedup, no
 * state, no notification), on the same Redis, in the same run.
 *
 * Setup: a Redis from tests/infra (REDIS_URL if set, else a private redis-server on a free loopback
 * port); N pre-generated alerts with realistic fields (5 detectors, 50,000 keys, explanations,
 * evidence, details); batches of B alerts. Each run writes all N alerts, one batch after the other:
 * - baseline: one pipeline of B `XADD stream MAXLEN ~ 1000000 * <fields>` per batch, awaited;
 * - sink: `write()` of each batch (default options: maxLen 1,000,000, dedup 7d, state 30d, channel
 *   on, nobody subscribed), awaited; then the same N alerts again through a new sink with the same
 *   prefix ("replay": every alert is a duplicate, nothing is appended).
 * Each run uses its own stream and key prefix, removed afterwards. Runs alternate (baseline, sink)
 * after one warm-up pair; medians are reported.
 *
 *   npm run bench:redis                 readable table
 *   npm run bench:redis -- --json       one JSON object
 *   npm run bench:redis -- --alerts 500000 --batch-size 500 --runs 5
 */
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { create as createRedisSink, schema as redisSinkSchema } from '../sinks/redis.js';
import { alertFields } from '../sinks/redis-commands.js';
import type { Sink, SinkBatch } from '../sinks/types.js';
import { silentLogger } from '../src/log.js';
import type { Alert, Severity } from '../src/types.js';
import { startRedis, type RedisService } from '../tests/infra/redis.js';
import { removeRunKeys } from './redis-cleanup.js';

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    alerts: { type: 'string', default: '200000' },
    'batch-size': { type: 'string', default: '1000' },
    runs: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    'timeout-ms': { type: 'string', default: '120000' },
  },
});
const N = Number(args.alerts);
const BATCH = Number(args['batch-size']);
const RUNS = Number(args.runs);
const WARMUP = Number(args.warmup);
const RUN_TIMEOUT_MS = Number(args['timeout-ms']);
for (const [name, v, min] of [['alerts', N, 1], ['batch-size', BATCH, 1], ['runs', RUNS, 1], ['warmup', WARMUP, 0], ['timeout-ms', RUN_TIMEOUT_MS, 1000]] as const) {
  if (!Number.isInteger(v) || v < min) throw new Error(`--${name} must be an integer >= ${min}, got ${String(v)}`);
}
const MAX_LEN = 1_000_000;
const KEYS = 50_000;
const START = Date.parse('2026-01-01T00:00:00Z');

const DETECTORS: Array<{ name: string; type: string; pipeline: string; severity: Severity }> = [
  { name: 'card-testing', type: 'threshold', pipeline: 'card-bursts', severity: 'high' },
  { name: 'mule-fan-in', type: 'threshold', pipeline: 'beneficiary-fan-in', severity: 'high' },
  { name: 'impossible-travel', type: 'geo-velocity', pipeline: 'customers', severity: 'critical' },
  { name: 'amount-outlier', type: 'outlier', pipeline: 'customers', severity: 'medium' },
  { name: 'new-device', type: 'first-seen', pipeline: 'customers', severity: 'low' },
];

/** Deterministic alerts, as the engine makes them (ids are 16 hex digits, like the engine's hashes). */
function makeAlerts(): Alert[] {
  let s = 12345;
  const rnd = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  const out: Alert[] = new Array(N);
  for (let i = 0; i < N; i++) {
    const d = DETECTORS[Math.floor(rnd() * DETECTORS.length)];
    const key = `c${Math.floor(rnd() * KEYS)}`;
    const end = START + Math.floor((i * 3_600_000) / N);
    const observed = 8 + Math.floor(rnd() * 20);
    const evidence = Array.from({ length: 3 + Math.floor(rnd() * 3) }, (_, j) => `p${i * 7 + j}`);
    out[i] = {
      id: (i * 2654435761 + 0x9e3779b9).toString(16).padStart(16, '0').slice(-16),
      detector: d.name,
      detectorType: d.type,
      pipeline: d.pipeline,
      severity: d.severity,
      key,
      window: { start: end - 600_000, end },
      revision: 0,
      eventTime: end,
      detectedAt: end + 1500,
      observed,
      threshold: 8,
      score: Math.round((observed / 8) * 1000) / 1000,
      explanation: `${observed} payments on card ${key} within 10m (threshold 8); ${Math.floor(rnd() * 5) + 1} distinct merchants`,
      evidence,
      configVersion: '3f9a1c2e',
      details: { merchants: Math.floor(rnd() * 5) + 1, amount: Math.round(rnd() * 50_000) / 100, country: 'FR' },
    };
  }
  return out;
}

const uid = () => randomBytes(4).toString('hex');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function batches(alerts: Alert[]): SinkBatch[] {
  const out: SinkBatch[] = [];
  for (let i = 0; i < alerts.length; i += BATCH) out.push({ alerts: alerts.slice(i, i + BATCH), results: [], deadLetters: [], scores: [], shadowAlerts: [], queue: [] });
  return out;
}

function checkDeadline(start: number, what: string, done: number): void {
  if (performance.now() - start > RUN_TIMEOUT_MS) throw new Error(`${what} timed out after ${RUN_TIMEOUT_MS / 1000}s with ${done}/${N} alerts`);
}

async function usedMemory(admin: Redis): Promise<number> {
  const info = await admin.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
}

interface RunResult {
  alertsPerSecond: number;
  bytesPerAlert: number;
}

async function baselineRun(admin: Redis, url: string, work: SinkBatch[]): Promise<RunResult> {
  const stream = `bench-redis:${uid()}:base`;
  const client = new Redis(url, { lazyConnect: true, enableOfflineQueue: false });
  await client.connect();
  const before = await usedMemory(admin);
  const t0 = performance.now();
  let done = 0;
  try {
    for (const b of work) {
      const p = client.pipeline();
      // Fields built per batch, as the sink does inside write().
      for (const a of b.alerts) p.xadd(stream, 'MAXLEN', '~', MAX_LEN, '*', ...alertFields(a));
      const replies = await p.exec();
      for (const [err] of replies ?? []) if (err) throw err;
      done += b.alerts.length;
      checkDeadline(t0, 'baseline run', done);
    }
    const s = (performance.now() - t0) / 1000;
    const len = await admin.xlen(stream);
    if (len !== N) throw new Error(`baseline stream holds ${len} entries, expected ${N}`);
    return { alertsPerSecond: N / s, bytesPerAlert: ((await usedMemory(admin)) - before) / N };
  } finally {
    client.disconnect();
    await admin.unlink(stream);
  }
}

interface SinkRunResult extends RunResult {
  replayAlertsPerSecond: number;
}

async function sinkRun(admin: Redis, url: string, work: SinkBatch[]): Promise<SinkRunResult> {
  const id = uid();
  const stream = `bench-redis:${id}:sink`;
  const prefix = `bench-redis-${id}`;
  const config = redisSinkSchema.parse({ name: 'bench', type: 'redis', url, stream, prefix, maxLen: MAX_LEN });
  const ctx = { baseDir: process.cwd(), stdout: process.stdout, logger: silentLogger };
  const timed = async (sink: Sink, what: string): Promise<number> => {
    const t0 = performance.now();
    let done = 0;
    try {
      for (const b of work) {
        await sink.write(b);
        done += b.alerts.length;
        checkDeadline(t0, what, done);
      }
    } finally {
      await sink.close();
    }
    return (performance.now() - t0) / 1000;
  };
  try {
    const before = await usedMemory(admin);
    const s = await timed(createRedisSink(config, ctx), 'sink run');
    const len = await admin.xlen(stream);
    if (len !== N) throw new Error(`sink stream holds ${len} entries, expected ${N}`);
    const bytesPerAlert = ((await usedMemory(admin)) - before) / N;
    const replay = await timed(createRedisSink(config, ctx), 'sink replay');
    const after = await admin.xlen(stream);
    if (after !== N) throw new Error(`the replay appended ${after - N} entries, expected none`);
    return { alertsPerSecond: N / s, bytesPerAlert, replayAlertsPerSecond: N / replay };
  } finally {
    await removeRunKeys(admin, stream, prefix);
  }
}

async function main(): Promise<void> {
  const alerts = makeAlerts();
  const work = batches(alerts);
  let entryBytes = 0;
  for (let i = 0; i < Math.min(N, 10_000); i++) for (const f of alertFields(alerts[i])) entryBytes += Buffer.byteLength(f);
  entryBytes /= Math.min(N, 10_000);

  let svc: RedisService | undefined;
  const onSignal = () => {
    void (svc?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let admin: Redis | undefined;
  try {
    svc = await startRedis();
    admin = new Redis(svc.url, { lazyConnect: true });
    await admin.connect();
    const version = /redis_version:(\S+)/.exec(await admin.info('server'))?.[1] ?? '?';
    const base: RunResult[] = [];
    const sink: SinkRunResult[] = [];
    for (let r = -WARMUP; r < RUNS; r++) {
      const a = await baselineRun(admin, svc.url, work);
      const b = await sinkRun(admin, svc.url, work);
      if (r >= 0) {
        base.push(a);
        sink.push(b);
      }
      if (!args.json) {
        process.stderr.write(
          `${r < 0 ? 'warm-up' : `run ${r + 1}/${RUNS}`}: baseline ${Math.round(a.alertsPerSecond)}/s, sink ${Math.round(b.alertsPerSecond)}/s, replay ${Math.round(b.replayAlertsPerSecond)}/s\n`,
        );
      }
      await sleep(200);
    }
    const baseRate = median(base.map((x) => x.alertsPerSecond));
    const sinkRate = median(sink.map((x) => x.alertsPerSecond));
    const replayRate = median(sink.map((x) => x.replayAlertsPerSecond));
    const out = {
      alerts: N,
      batchSize: BATCH,
      runs: RUNS,
      warmupRuns: WARMUP,
      sinkAlertsPerSecond: Math.round(sinkRate),
      baselineAlertsPerSecond: Math.round(baseRate),
      ratio: Number((sinkRate / baseRate).toFixed(3)),
      sinkReplayAlertsPerSecond: Math.round(replayRate),
      entryBytes: Math.round(entryBytes),
      sinkRedisBytesPerAlert: Math.round(median(sink.map((x) => x.bytesPerAlert))),
      baselineRedisBytesPerAlert: Math.round(median(base.map((x) => x.bytesPerAlert))),
      redis: svc.kind,
      redisVersion: version,
      node: process.version,
    };
    if (args.json) {
      process.stdout.write(`${JSON.stringify(out)}\n`);
      return;
    }
    const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
    const row = (name: string, xs: number[], med: number) =>
      `| ${name.padEnd(40)} | ${fmt(med).padStart(17)} | ${fmt(Math.min(...xs)).padStart(9)} | ${fmt(Math.max(...xs)).padStart(9)} |`;
    console.log(
      `bench:redis  ${N.toLocaleString('en-US')} alerts (~${out.entryBytes} B of fields each), batches of ${BATCH}, ${RUNS} runs (median), Redis ${version} (${svc.kind})`,
    );
    console.log('');
    console.log(`| ${'writer'.padEnd(40)} | alerts/s (median) | min       | max       |`);
    console.log(`|${'-'.repeat(42)}|-------------------|-----------|-----------|`);
    console.log(row('plain XADD pipeline (baseline)', base.map((x) => x.alertsPerSecond), baseRate));
    console.log(row('redis sink (dedup + XADD + state + pub)', sink.map((x) => x.alertsPerSecond), sinkRate));
    console.log(row('redis sink, replay (all duplicates)', sink.map((x) => x.replayAlertsPerSecond), replayRate));
    console.log('');
    console.log(`ratio (sink / baseline): ${out.ratio}`);
    console.log(`Redis memory per alert: sink ${fmt(out.sinkRedisBytesPerAlert)} B (entry + dedup key + state), baseline ${fmt(out.baselineRedisBytesPerAlert)} B (entry)`);
  } finally {
    admin?.disconnect();
    await svc?.stop();
  }
}

await main();
