/**
 * bench:recovery — how long a process taking over a partition (rebalance, restart) needs to restore
 * the partition's state from Redis, for the standard fraud job (load-tests/standard-job.yaml) holding
 * K customers (1,000,000 by default).
 *
 * Build, in a child process: one partition task of the standard job (the engine's `Task`, the path a
 * Kafka partition takes; its detectors' `maxKeys` raised to K so that none evicts a customer) is fed
 * `--events` payments per customer (5), in batches of 1,000, so that every detector and the
 * tumbling-hour window hold state for every customer (see recovery-state.ts); then one full checkpoint
 * is written by `RedisCheckpointStore` to a private redis-server on a free loopback port (REDIS_URL if
 * set: a unique key prefix, the keys removed afterwards, never a flush). Measured: build seconds,
 * checkpoint payload bytes (meta value + hash values, what `save` sends) and Redis memory (INFO
 * used_memory growth, MEMORY USAGE of the two keys), write seconds; and the next (incremental)
 * checkpoint with nothing changed in between, written too (bytes, seconds). A probe (3 payments for each of 8
 * customers, see `probeEvents`) is then judged on that state; the building process exits.
 *
 * Restore: each run is a fresh `node` (same flags), as a new owner of the partition: a new task and a
 * connected store, then the clock starts; `acquire` (epoch), read (GET meta + HGETALL of the keys
 * hash), decode (msgpack), rebuild (`Task.restore`); then the clock stops: the state is ready to
 * process. Peak RSS is the child's `maxRSS`. Each child then checks its keys per detector and window
 * against the original and judges the same probe: its decision (alerts, results, dead letters) must be
 * the original's, or the run fails. Loaders (`--loaders`, alternated run by run): `current`, the store's
 * own; `legacy`, the store's former read (HGETALL into an object, then decode), kept here as the baseline.
 *
 *   npm run bench:recovery                               readable table
 *   npm run bench:recovery -- --json                     one JSON object
 *   npm run bench:recovery -- --keys 100000 --runs 3 --loaders current,legacy
 *
 * The JSON is also written to load-tests/results/bench-recovery.json (ignored by git).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { loadConfig } from '../src/config/load.js';
import { Task } from '../src/engine/task.js';
import { VigieError } from '../src/errors.js';
import { RedisCheckpointStore, decodeCheckpoint, stateSchema, type LoadedCheckpoint, type RawCheckpoint } from '../src/state/checkpoint-store.js';
import { emptyBatch } from '../src/types.js';
import { startRedis, type RedisService } from '../tests/infra/redis.js';
import { decision, differences, feedBatches, keyCounts, parseLoaders, probeEvents, runBatch, type Loader, type RecoveryFeed } from './recovery-state.js';
import { median, repoRoot, runBench, saveResult } from './replay-bench.js';

const BENCH = 'bench:recovery';
const BATCH = 1000;
const CHECKPOINT_ID = 'standard-job:payments:0';

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    keys: { type: 'string', default: '1000000' },
    events: { type: 'string', default: '5' },
    runs: { type: 'string', default: '3' },
    loaders: { type: 'string', default: 'current,legacy' },
    seed: { type: 'string', default: '7' },
    'timeout-s': { type: 'string', default: '600' },
    results: { type: 'string', default: join(repoRoot, 'load-tests', 'results') },
    // Internal: run as the restoring child.
    child: { type: 'string' },
  },
});

function positiveInt(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new VigieError('VIGIE_ERR_USAGE', `--${name} must be an integer >= 1 (got ${JSON.stringify(text)})`);
  return n;
}

const configFile = join(repoRoot, 'load-tests', 'standard-job.yaml');

/**
 * A partition task of the standard job, whose detectors and windows keep up to `keys` keys: their
 * `maxKeys` (100,000 by default for detectors, which would evict most customers) raised to the keys
 * fed, as bench:memory does.
 */
function makeTask(keys: number): Task {
  const loaded = loadConfig(configFile);
  for (const p of loaded.config.pipelines) {
    for (const d of p.detectors ?? []) if ('maxKeys' in d && d.maxKeys < keys) d.maxKeys = keys;
    // Windows keep 1,000,000 keys by default.
    if (p.window !== undefined && keys > 1_000_000) (p.window as { maxKeys?: number }).maxKeys = keys;
  }
  const wm = { maxOutOfOrderness: loaded.config.time.maxOutOfOrderness, idleTimeout: 0 };
  // Detection time is the watermark, as in replay: the probe's decision is the same in both processes.
  return new Task('payments:0', loaded.config.pipelines, { configVersion: loaded.version, detectionTime: (w) => w }, wm, 0);
}

function storeFor(url: string, prefix: string): RedisCheckpointStore {
  return new RedisCheckpointStore(stateSchema.parse({ store: 'redis', redisUrl: url, prefix }));
}

const rssMb = (bytes: number) => Math.round(bytes / 2 ** 20);

// ---------------------------------------------------------------------------------------------------
// The building child: the original state, its checkpoint and its decision on the probe.

interface BuildSpec {
  role: 'build';
  url: string;
  prefix: string;
  feed: RecoveryFeed;
  timeoutMs: number;
}

interface BuildResult {
  buildSeconds: number;
  alerts: number;
  heapUsedMb: number;
  checkpointBytes: number;
  hashFields: number;
  checkpointSeconds: number;
  checkpointWriteSeconds: number;
  /** The incremental checkpoint that follows with no input in between: keys written, bytes, seconds. */
  idleCheckpointKeys: number;
  idleCheckpointBytes: number;
  idleCheckpointSeconds: number;
  peakRssMb: number;
  counts: Record<string, number>;
  probe: string[];
}

async function build(spec: BuildSpec): Promise<BuildResult> {
  const task = makeTask(spec.feed.keys);
  task.trackChanges();
  const tb = performance.now();
  const deadline = tb + spec.timeoutMs;
  let alerts = 0;
  for (const events of feedBatches(spec.feed, BATCH)) {
    alerts += runBatch(task, events, () => emptyBatch(0)).alerts.length;
    if (performance.now() > deadline) throw new Error(`building the state took more than ${spec.timeoutMs / 1000} s`);
  }
  const buildSeconds = (performance.now() - tb) / 1000;
  const heapUsedMb = rssMb(process.memoryUsage().heapUsed);
  const counts = keyCounts(task);
  const store = storeFor(spec.url, spec.prefix);
  const tc = performance.now();
  let delta: ReturnType<Task['checkpoint']> | undefined = task.checkpoint(1);
  const epoch = await store.claim(CHECKPOINT_ID);
  const tw = performance.now();
  const checkpointBytes = await store.save(CHECKPOINT_ID, epoch, delta);
  const checkpointWriteSeconds = (performance.now() - tw) / 1000;
  const checkpointSeconds = (performance.now() - tc) / 1000;
  if (checkpointBytes < 0) throw new Error('checkpoint refused (fenced out)');
  const hashFields = delta.changes.length;
  delta = undefined;
  // The next checkpoint, nothing changed since: what every interval writes at least.
  const next = task.checkpoint(2);
  const tn = performance.now();
  const idleCheckpointBytes = await store.save(CHECKPOINT_ID, epoch, next);
  const idleCheckpointSeconds = (performance.now() - tn) / 1000;
  await store.close();
  const peakRssMb = rssMb(process.resourceUsage().maxRSS * 1024);
  // The original decision on the probe (after the checkpoint: it changes the state).
  const probe = decision(runBatch(task, probeEvents(spec.feed), () => emptyBatch(0)));
  return { buildSeconds, alerts, heapUsedMb, checkpointBytes, hashFields, checkpointSeconds, checkpointWriteSeconds, idleCheckpointKeys: next.changes.length, idleCheckpointBytes, idleCheckpointSeconds, peakRssMb, counts, probe };
}

// ---------------------------------------------------------------------------------------------------
// The restoring child.

interface ChildSpec {
  role: 'restore';
  url: string;
  prefix: string;
  loader: Loader;
  feed: RecoveryFeed;
}

export interface ChildResult {
  loader: Loader;
  restoreSeconds: number;
  /** User + system CPU of the restoring process over the restore (its GC threads included). */
  restoreCpuSeconds: number;
  readSeconds: number;
  decodeSeconds: number;
  rebuildSeconds: number;
  peakRssMb: number;
  rssBeforeMb: number;
  rssAfterMb: number;
  counts: Record<string, number>;
  probe: string[];
}

/** The store's former read: GET, and HGETALL into an object (ioredis builds one property per field). */
async function legacyRead(r: Redis, prefix: string): Promise<{ meta: Buffer | null; fields: Record<string, Buffer> }> {
  const [meta, fields] = await Promise.all([r.getBuffer(`${prefix}:checkpoint:${CHECKPOINT_ID}`), r.hgetallBuffer(`${prefix}:checkpoint:${CHECKPOINT_ID}:keys`)]);
  return { meta, fields };
}

/** Decoded as the store does, from the fields of that object. */
function legacyDecode(raw: { meta: Buffer | null; fields: Record<string, Buffer> }): LoadedCheckpoint | undefined {
  if (raw.meta === null) return undefined;
  const fields: Buffer[] = [];
  for (const [field, value] of Object.entries(raw.fields)) fields.push(Buffer.from(field), value);
  return decodeCheckpoint({ meta: raw.meta, fields });
}

async function child(spec: ChildSpec): Promise<ChildResult> {
  const task = makeTask(spec.feed.keys);
  task.trackChanges();
  const store = storeFor(spec.url, spec.prefix);
  // A process taking over a partition is already connected.
  await store.claim(`${CHECKPOINT_ID}:warm-up`);
  const legacyClient = spec.loader === 'legacy' ? new Redis(spec.url, { lazyConnect: true }) : undefined;
  await legacyClient?.connect();
  const rssBefore = process.memoryUsage().rss;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const epoch = await store.claim(CHECKPOINT_ID);
  let cp: LoadedCheckpoint | undefined;
  let t1: number;
  let t2: number;
  if (spec.loader === 'legacy') {
    const raw = await legacyRead(legacyClient as Redis, spec.prefix);
    t1 = performance.now();
    cp = legacyDecode(raw);
    t2 = performance.now();
  } else {
    const raw: RawCheckpoint | undefined = await store.read(CHECKPOINT_ID);
    t1 = performance.now();
    cp = raw === undefined ? undefined : decodeCheckpoint(raw);
    t2 = performance.now();
  }
  if (cp === undefined) throw new Error(`no checkpoint found under ${spec.prefix}`);
  task.epoch = epoch;
  task.restore(cp, 0, 0);
  const t3 = performance.now();
  const cpu = process.cpuUsage(c0);
  cp = undefined;
  const rssAfter = process.memoryUsage().rss;
  const counts = keyCounts(task);
  const probe = decision(runBatch(task, probeEvents(spec.feed), () => emptyBatch(0)));
  await store.close();
  legacyClient?.disconnect();
  return {
    loader: spec.loader,
    restoreSeconds: (t3 - t0) / 1000,
    restoreCpuSeconds: (cpu.user + cpu.system) / 1e6,
    readSeconds: (t1 - t0) / 1000,
    decodeSeconds: (t2 - t1) / 1000,
    rebuildSeconds: (t3 - t2) / 1000,
    peakRssMb: rssMb(process.resourceUsage().maxRSS * 1024),
    rssBeforeMb: rssMb(rssBefore),
    rssAfterMb: rssMb(rssAfter),
    counts,
    probe,
  };
}

/** Run this script as a child (same node flags) in `spec.role`; resolves with the JSON it prints last. */
function runChild<R>(spec: ChildSpec | BuildSpec, timeoutMs: number): Promise<R> {
  const script = fileURLToPath(import.meta.url);
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [...process.execArgv, script, '--child', JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.setEncoding('utf8');
    p.stdout.on('data', (d: string) => (out += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.once('error', reject);
    p.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`${spec.role} process exited (code ${code}, signal ${signal})`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as R);
      } catch (err) {
        reject(new Error(`${spec.role} process: no result (${(err as Error).message})`));
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------------
// The parent: build, checkpoint, probe, restores.

async function usedMemory(admin: Redis): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await admin.info('memory'))?.[1] ?? 0);
}

async function main(): Promise<void> {
  const feed: RecoveryFeed = { keys: positiveInt('keys', args.keys), events: positiveInt('events', args.events), seed: Number(args.seed) };
  const runs = positiveInt('runs', args.runs);
  const loaders = parseLoaders(args.loaders);
  const timeoutMs = positiveInt('timeout-s', args['timeout-s']) * 1000;
  const log = (s: string) => {
    if (!args.json) process.stderr.write(`${s}\n`);
  };
  // A private redis-server unless REDIS_URL names one (never Docker: the server's settings are ours to know).
  process.env.VIGIE_DOCKER ??= '0';
  let svc: RedisService | undefined;
  let admin: Redis | undefined;
  const prefix = `bench-recovery-${randomBytes(4).toString('hex')}`;
  const keys = [`${prefix}:checkpoint:${CHECKPOINT_ID}`, `${prefix}:checkpoint:${CHECKPOINT_ID}:keys`, `${prefix}:checkpoint:${CHECKPOINT_ID}:epoch`, `${prefix}:checkpoint:${CHECKPOINT_ID}:warm-up:epoch`];
  try {
    svc = await startRedis();
    admin = new Redis(svc.url, { lazyConnect: true });
    await admin.connect();
    const redisVersion = /redis_version:(\S+)/.exec(await admin.info('server'))?.[1] ?? '?';

    // Build and checkpoint, in a process of its own: this one holds no state while the restores run.
    const memBefore = await usedMemory(admin);
    const b = await runChild<BuildResult>({ role: 'build', url: svc.url, prefix, feed, timeoutMs }, 2 * timeoutMs);
    const { counts, probe, checkpointBytes: bytes, hashFields } = b;
    const redisBytes = (await usedMemory(admin)) - memBefore;
    const metaBytes = await admin.strlen(keys[0]);
    const metaUsage = Number(await admin.call('MEMORY', 'USAGE', keys[0]));
    const hashUsage = Number(await admin.call('MEMORY', 'USAGE', keys[1], 'SAMPLES', '0'));
    log(`built ${feed.keys} keys x ${feed.events} events in ${b.buildSeconds.toFixed(1)} s (${b.alerts} alerts, heap ${b.heapUsedMb} MiB)`);
    log(`checkpoint: ${bytes} payload bytes (meta ${metaBytes}, ${hashFields} hash fields), written in ${b.checkpointWriteSeconds.toFixed(1)} s; Redis +${rssMb(redisBytes)} MiB; building process peak RSS ${b.peakRssMb} MiB`);
    log(`next checkpoint, nothing changed: ${b.idleCheckpointKeys} keys, ${b.idleCheckpointBytes} bytes, written in ${b.idleCheckpointSeconds.toFixed(1)} s`);

    // Restores, loaders alternated.
    const results: ChildResult[] = [];
    for (let r = 0; r < runs; r++) {
      for (const loader of loaders) {
        const res = await runChild<ChildResult>({ role: 'restore', url: svc.url, prefix, loader, feed }, timeoutMs);
        const diff = differences(counts, res.counts);
        if (diff.length > 0) throw new Error(`restore (${loader}) holds other keys than the original: ${diff.join('; ')}`);
        if (JSON.stringify(res.probe) !== JSON.stringify(probe)) throw new Error(`restore (${loader}) decides the probe otherwise:\n  original ${JSON.stringify(probe)}\n  restored ${JSON.stringify(res.probe)}`);
        results.push(res);
        log(`run ${r + 1}/${runs} ${loader}: restore ${res.restoreSeconds.toFixed(2)} s, ${res.restoreCpuSeconds.toFixed(2)} CPU-s (read ${res.readSeconds.toFixed(2)}, decode ${res.decodeSeconds.toFixed(2)}, rebuild ${res.rebuildSeconds.toFixed(2)}), peak RSS ${res.peakRssMb} MiB; verified`);
      }
    }

    const per = (l: Loader) => {
      const rs = results.filter((x) => x.loader === l);
      const m = (f: (x: ChildResult) => number) => Number(median(rs.map(f)).toFixed(3));
      const restoreSeconds = m((x) => x.restoreSeconds);
      return {
        restoreSeconds,
        readSeconds: m((x) => x.readSeconds),
        decodeSeconds: m((x) => x.decodeSeconds),
        rebuildSeconds: m((x) => x.rebuildSeconds),
        restoreKeysPerSecond: Math.round(feed.keys / restoreSeconds),
        restoreCpuSeconds: m((x) => x.restoreCpuSeconds),
        peakRssMb: Math.round(median(rs.map((x) => x.peakRssMb))),
        rssBeforeMb: Math.round(median(rs.map((x) => x.rssBeforeMb))),
        runsRestoreSeconds: rs.map((x) => Number(x.restoreSeconds.toFixed(3))),
      };
    };
    const byLoader = Object.fromEntries(loaders.map((l) => [l, per(l)])) as Record<Loader, ReturnType<typeof per>>;
    const main = byLoader[loaders[0]];
    const result = {
      bench: 'recovery',
      keys: feed.keys,
      eventsPerKey: feed.events,
      buildSeconds: Number(b.buildSeconds.toFixed(1)),
      buildHeapUsedMb: b.heapUsedMb,
      checkpointBytes: bytes,
      checkpointMetaBytes: metaBytes,
      checkpointHashFields: hashFields,
      checkpointRedisBytes: redisBytes,
      checkpointRedisUsage: { meta: metaUsage, hash: hashUsage },
      checkpointSeconds: Number(b.checkpointSeconds.toFixed(3)),
      checkpointWriteSeconds: Number(b.checkpointWriteSeconds.toFixed(3)),
      idleCheckpoint: { keys: b.idleCheckpointKeys, bytes: b.idleCheckpointBytes, seconds: Number(b.idleCheckpointSeconds.toFixed(3)) },
      /** Peak RSS of the building process, checkpoint written. */
      buildPeakRssMb: b.peakRssMb,
      loader: loaders[0],
      restoreSeconds: main.restoreSeconds,
      restoreKeysPerSecond: main.restoreKeysPerSecond,
      peakRssMb: main.peakRssMb,
      loaders: byLoader,
      ...(byLoader.current && byLoader.legacy ? { legacyOverCurrent: Number((byLoader.legacy.restoreSeconds / byLoader.current.restoreSeconds).toFixed(2)) } : {}),
      keyCounts: counts,
      probeDecisions: probe.length,
      runs,
      nodeFlags: process.execArgv,
      redis: svc.kind,
      redisVersion,
      node: process.version,
      at: new Date().toISOString(),
    };
    if (await saveResult(args.results, 'bench-recovery.json', result, args.json)) return;
    const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
    console.log(`${BENCH}  standard job, ${fmt(feed.keys)} keys x ${feed.events} payments, ${runs} restores per loader (median), Redis ${redisVersion} (${svc.kind})`);
    console.log('');
    console.log(`build ${result.buildSeconds} s; checkpoint ${fmt(bytes)} payload bytes (meta ${fmt(metaBytes)}, ${fmt(hashFields)} hash fields), Redis +${fmt(redisBytes / 2 ** 20)} MiB; write ${result.checkpointWriteSeconds} s`);
    console.log(`next checkpoint with nothing changed: ${fmt(b.idleCheckpointKeys)} keys, ${fmt(b.idleCheckpointBytes)} bytes, write ${b.idleCheckpointSeconds.toFixed(1)} s`);
    console.log('');
    console.log('| loader  | restore s | CPU s  | read s | decode s | rebuild s | keys/s    | peak RSS MiB | runs (s)             |');
    console.log('|---------|-----------|--------|--------|----------|-----------|-----------|--------------|----------------------|');
    for (const l of loaders) {
      const x = byLoader[l];
      console.log(
        `| ${l.padEnd(7)} | ${x.restoreSeconds.toFixed(2).padStart(9)} | ${x.restoreCpuSeconds.toFixed(2).padStart(6)} | ${x.readSeconds.toFixed(2).padStart(6)} | ${x.decodeSeconds.toFixed(2).padStart(8)} | ${x.rebuildSeconds.toFixed(2).padStart(9)} | ${fmt(x.restoreKeysPerSecond).padStart(9)} | ${fmt(x.peakRssMb).padStart(12)} | ${x.runsRestoreSeconds.join(', ').padEnd(20)} |`,
      );
    }
    console.log('');
    console.log(`verified: keys per detector and window equal to the original's (${Object.entries(counts).map(([k, v]) => `${k} ${fmt(v)}`).join(', ')}); probe: same ${probe.length} decisions`);
  } finally {
    if (admin !== undefined) {
      await admin.unlink(...keys).catch(() => undefined);
      admin.disconnect();
    }
    await svc?.stop();
  }
}

async function entry(): Promise<void> {
  if (args.child !== undefined) {
    const spec = JSON.parse(args.child) as ChildSpec | BuildSpec;
    process.stdout.write(`${JSON.stringify(spec.role === 'build' ? await build(spec) : await child(spec))}\n`);
    return;
  }
  await main();
}

await runBench(BENCH, entry);
