/**
 * bench:console — how fast `vigie console` answers over a full alert stream, against the least any
 * reader must do: the same XREVRANGE pages read and decoded by a plain client, in the same run.
 *
 * Setup: a Redis from tests/infra (REDIS_URL if set, else a private redis-server on a free loopback
 * port); N alerts (5 detectors, 20,000 keys) written by the real redis sink; a console on a free
 * port with the default scan limit (10,000 entries per request).
 * Measured, R requests each (medians and p95, milliseconds):
 * - `list`: GET /api/alerts?limit=100 (the page's first load);
 * - `by key`: GET /api/alerts?key=K&limit=100 for a rare key (scans the whole limit);
 * - `counts`: GET /api/counts (scans the whole limit);
 * - `by alert id`: GET /api/alerts/ID for an alert as old as the scan reaches (the worst case);
 * - baseline: XREVRANGE of the same 10,000 entries in pages of 500 and decoding each into an object,
 *   in this process (what the by-key and counts requests cannot do with less).
 * - `live`: from the sink's write of an alert to its arrival as a server-sent event (L alerts, one
 *   at a time, each awaited: a bounded loop).
 *
 *   npm run bench:console                 readable table
 *   npm run bench:console -- --json       one JSON object
 *   npm run bench:console -- --alerts 100000 --requests 30 --live 200
 */
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { create as createRedisSink, schema as redisSinkSchema } from '../sinks/redis.js';
import type { Sink } from '../sinks/types.js';
import { entryFields } from '../src/console/alert-entry.js';
import { tokensFromEnv } from '../src/console/auth.js';
import { startConsole, type ConsoleServer } from '../src/console/server.js';
import { VigieError } from '../src/errors.js';
import { silentLogger } from '../src/log.js';
import type { Alert, Severity } from '../src/types.js';
import { startRedis, type RedisService } from '../tests/infra/redis.js';
import { removeRunKeys } from './redis-cleanup.js';

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    alerts: { type: 'string', default: '100000' },
    requests: { type: 'string', default: '30' },
    live: { type: 'string', default: '200' },
    'timeout-ms': { type: 'string', default: '300000' },
  },
});
const N = Number(args.alerts);
const R = Number(args.requests);
const L = Number(args.live);
const TIMEOUT_MS = Number(args['timeout-ms']);
for (const [name, v, min] of [['alerts', N, 10_000], ['requests', R, 1], ['live', L, 1], ['timeout-ms', TIMEOUT_MS, 10_000]] as const) {
  if (!Number.isInteger(v) || v < min) throw new VigieError('VIGIE_ERR_USAGE', `--${name} must be an integer >= ${min}, got ${String(v)}`);
}
const KEYS = 20_000;
const SCAN = 10_000;
const START = Date.parse('2026-01-01T00:00:00Z');
const DETECTORS: Array<[string, string, Severity]> = [
  ['card-testing', 'threshold', 'high'],
  ['mule-fan-in', 'threshold', 'high'],
  ['impossible-travel', 'geo-velocity', 'critical'],
  ['amount-outlier', 'outlier', 'medium'],
  ['new-device', 'first-seen', 'low'],
];
const TOKEN = `bench-${randomUUID()}`;
const started = performance.now();

function deadline(what: string): void {
  if (performance.now() - started > TIMEOUT_MS) throw new VigieError('VIGIE_ERR_USAGE', `bench:console stopped after ${TIMEOUT_MS} ms, during ${what}`);
}

function alert(i: number, key = `c${(i * 7919) % KEYS}`): Alert {
  const [detector, detectorType, severity] = DETECTORS[i % DETECTORS.length];
  const t = START + i * 1000;
  return {
    id: `${i.toString(16).padStart(12, '0')}${randomUUID().slice(0, 4)}`,
    detector,
    detectorType,
    pipeline: 'payments',
    severity,
    key,
    window: { start: t - 300_000, end: t },
    revision: 0,
    eventTime: t,
    detectedAt: t + 800,
    observed: 12 + (i % 9),
    threshold: 10,
    score: 1.2,
    explanation: `${12 + (i % 9)} payments in 5m for ${key}, above 10`,
    evidence: [`p${i * 3}`, `p${i * 3 + 1}`, `p${i * 3 + 2}`],
    configVersion: 'bench',
    details: { amount: 120 + (i % 50) },
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function p95(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(0.95 * s.length) - 1)];
}

async function timeGet(server: ConsoleServer, path: string): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  await res.arrayBuffer();
  if (res.status !== 200) throw new VigieError('VIGIE_ERR_USAGE', `GET ${path} answered ${res.status}`);
  return performance.now() - t0;
}

/** The baseline: read and decode the newest SCAN entries, as the console's scans do. */
async function baseline(redis: Redis, stream: string): Promise<number> {
  const t0 = performance.now();
  let end = '+';
  let read = 0;
  while (read < SCAN) {
    const page = await redis.xrevrange(stream, end, '-', 'COUNT', 500);
    for (const [, fields] of page) {
      const f = entryFields(fields);
      JSON.parse(f.evidence);
      if (f.details !== undefined) JSON.parse(f.details);
    }
    read += page.length;
    if (page.length < 500) break;
    end = `(${page[page.length - 1][0]}`;
  }
  return performance.now() - t0;
}

/** Write L alerts one at a time; the time from each write's start to its server-sent event. */
async function live(server: ConsoleServer, sink: Sink, first: number): Promise<number[]> {
  const latencies: number[] = [];
  const waiting = new Map<string, (t: number) => void>();
  let buffer = '';
  let ready!: () => void;
  const isReady = new Promise<void>((r) => (ready = r));
  const req = request(`${server.url}/api/live`, { headers: { authorization: `Bearer ${TOKEN}` } }, (res) => {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buffer += chunk;
      let cut: number;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const message = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        if (message.startsWith(': ready')) ready();
        const data = /^data: (.*)$/m.exec(message)?.[1];
        if (data !== undefined) waiting.get((JSON.parse(data) as { id: string }).id)?.(performance.now());
      }
    });
  });
  req.end();
  await isReady;
  try {
    for (let i = 0; i < L; i++) {
      deadline('the live feed');
      const a = alert(first + i);
      const got = new Promise<number>((resolve, reject) => {
        waiting.set(a.id, resolve);
        setTimeout(() => reject(new VigieError('VIGIE_ERR_USAGE', `alert ${a.id} not delivered live within 10 s`)), 10_000).unref();
      });
      const t0 = performance.now();
      await sink.write({ alerts: [a], results: [], deadLetters: [], scores: [], shadowAlerts: [], queue: [] });
      latencies.push((await got) - t0);
      waiting.delete(a.id);
    }
  } finally {
    req.destroy();
  }
  return latencies;
}

async function main(): Promise<void> {
  let svc: RedisService | undefined;
  let server: ConsoleServer | undefined;
  let sink: Sink | undefined;
  let redis: Redis | undefined;
  const id = randomUUID().slice(0, 8);
  const stream = `bench-console:${id}:alerts`;
  const prefix = `bench-console-${id}`;
  try {
    svc = await startRedis();
    redis = new Redis(svc.url, { lazyConnect: true });
    await redis.connect();
    sink = createRedisSink(redisSinkSchema.parse({ name: 'bench', type: 'redis', url: svc.url, stream, prefix }), { baseDir: process.cwd(), stdout: process.stdout, logger: silentLogger });
    // The oldest alert the scan reaches, and a key with a single alert in the whole stream.
    const rareKey = 'rare-key';
    for (let i = 0; i < N; i += 1000) {
      deadline('writing the alerts');
      const batch: Alert[] = [];
      for (let j = i; j < Math.min(N, i + 1000); j++) batch.push(j === N - SCAN + 1 ? alert(j, rareKey) : alert(j));
      await sink.write({ alerts: batch, results: [], deadLetters: [], scores: [], shadowAlerts: [], queue: [] });
    }
    const deepId = alert(N - SCAN + 1).id.slice(0, 12);
    const [deep] = (await redis.xrevrange(stream, '+', '-', 'COUNT', SCAN)).slice(-2, -1);
    const deepAlertId = entryFields(deep[1]).id;
    if (!deepAlertId.startsWith(deepId)) throw new VigieError('VIGIE_ERR_USAGE', 'the stream does not hold the alerts in the order written');

    server = await startConsole({ target: { connection: { url: svc.url }, streams: [stream], prefix }, tokens: tokensFromEnv({ VIGIE_CONSOLE_TOKEN: TOKEN }), logger: silentLogger, port: 0 });
    const paths: Record<string, string> = {
      list: '/api/alerts?limit=100',
      byKey: `/api/alerts?key=${rareKey}&limit=100`,
      counts: '/api/counts',
      byAlertId: `/api/alerts/${encodeURIComponent(deepAlertId)}`,
    };
    const times: Record<string, number[]> = { list: [], byKey: [], counts: [], byAlertId: [], baseline: [] };
    await timeGet(server, paths.list); // warm-up
    await baseline(redis, stream);
    for (let r = 0; r < R; r++) {
      deadline('the requests');
      times.baseline.push(await baseline(redis, stream));
      for (const [name, path] of Object.entries(paths)) times[name].push(await timeGet(server, path));
    }
    const liveMs = await live(server, sink, N);
    const base = median(times.baseline);
    const row = (name: string) => ({ medianMs: round(median(times[name])), p95Ms: round(p95(times[name])), ratioToBaseline: round(median(times[name]) / base, 3) });
    const out = {
      alerts: N,
      scanLimit: SCAN,
      requests: R,
      baselineMedianMs: round(base),
      list: row('list'),
      byKey: row('byKey'),
      counts: row('counts'),
      byAlertId: row('byAlertId'),
      liveAlerts: L,
      liveMedianMs: round(median(liveMs)),
      liveP95Ms: round(p95(liveMs)),
      liveMaxMs: round(Math.max(...liveMs)),
    };
    if (args.json) {
      process.stdout.write(`${JSON.stringify(out)}\n`);
      return;
    }
    const lines = [
      `bench:console: ${N} alerts in one stream, scan limit ${SCAN}, ${R} requests each (ms)`,
      '',
      'request                              median     p95   ratio to baseline',
      `baseline: XREVRANGE+decode ${SCAN}  ${fmt(base)}`,
      ...(['list', 'byKey', 'counts', 'byAlertId'] as const).map((n) => `${n.padEnd(36)} ${fmt(out[n].medianMs)} ${fmt(out[n].p95Ms)}   ${out[n].ratioToBaseline}`),
      '',
      `live: write -> server-sent event, ${L} alerts: median ${out.liveMedianMs} ms, p95 ${out.liveP95Ms} ms, max ${out.liveMaxMs} ms`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await server?.close();
    await sink?.close();
    if (redis !== undefined) {
      await removeRunKeys(redis, stream, prefix);
      redis.disconnect();
    }
    await svc?.stop();
  }
}

const round = (x: number, d = 1) => Number(x.toFixed(d));
const fmt = (x: number) => x.toFixed(1).padStart(7);

main().catch((err: unknown) => {
  process.stderr.write(`bench:console: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
