/**
 * bench:job-checkpoint — what each checkpoint of a partition of the standard job writes, and what it costs
 * to take, beside what the whole-state layout (detectors whole in the meta value, checkpoint version 2)
 * would write for the same state, measured in the same run.
 *
 * Work: one partition task of the standard job (load-tests/standard-job.yaml, the engine's `Task`, as
 * a Kafka partition runs it), fed the load generator's payments (`--keys` customers, Zipf 1.1, 10% out
 * of order, 1% fraud) at `--rate` events per second of event time, in batches of 1,000. Every `--every`
 * events (the events of one `state.interval` at the rate the partition drains) a checkpoint is taken
 * (`Task.checkpoint`) and encoded as the store encodes it (msgpack): keys written, bytes of the meta
 * value and of the fields, milliseconds to take and to encode. Beside it, the same state in the whole
 * layout: the meta value with every detector's whole snapshot, and the window entries of the keys
 * changed. At the end, a checkpoint with no input since the last (idle), in both layouts. No Redis: the
 * write itself is bench:recovery's part.
 *
 *   npm run bench:job-checkpoint                      readable table
 *   npm run bench:job-checkpoint -- --json            one JSON object
 *   npm run bench:job-checkpoint -- --keys 1000000 --rate 2000 --every 100000 --events 1000000
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Packr } from 'msgpackr';
import { loadConfig } from '../src/config/load.js';
import { Task } from '../src/engine/task.js';
import type { PipelineMeta } from '../src/engine/pipeline.js';
import type { Checkpoint, CheckpointDelta } from '../src/state/checkpoint-store.js';
import { emptyBatch, type VEvent } from '../src/types.js';
import { EventFactory } from './loadgen.js';
import { median, positiveInt, repoRoot, runBench, saveResult } from './replay-bench.js';

const BENCH = 'bench:job-checkpoint';
const packr = new Packr({ useRecords: false, mapsAsObjects: true });
const START = Date.UTC(2026, 11, 5, 10, 0, 0);

/** One checkpoint in one layout. */
interface Written {
  keys: number;
  metaBytes: number;
  fieldBytes: number;
  /** Taking the checkpoint (per-key layout: `Task.checkpoint`; whole layout: the snapshots). */
  takeMs: number;
  encodeMs: number;
}

interface Row {
  events: number;
  keysHeld: number;
  pending: number;
  perKey: Written;
  whole: Written;
}

function encode(meta: unknown, changes: CheckpointDelta['changes'], takeMs: number): Written {
  const t0 = performance.now();
  const metaBytes = packr.pack(meta).byteLength;
  let fieldBytes = 0;
  for (const [, , value] of changes) if (value !== null) fieldBytes += packr.pack(value).byteLength;
  return { keys: changes.length, metaBytes, fieldBytes, takeMs, encodeMs: performance.now() - t0 };
}

/** The same state as the whole layout held it: detectors whole in the meta value, window entries of the keys changed. */
function wholeLayout(task: Task, cp: CheckpointDelta): Written {
  const t0 = performance.now();
  const meta: Checkpoint = {
    ...cp.meta,
    v: 2,
    pipelines: task.pipelines.map((p, i) => [p.name, p.windowHash, { ...(cp.meta.pipelines[i][2] as PipelineMeta), detectors: p.detectors.snapshot() }]),
  };
  const changes = cp.changes.flatMap(([i, key, value]): CheckpointDelta['changes'] => {
    const windows = value === null ? [] : ((value as unknown[])[0] as unknown[]);
    return windows.length > 0 ? [[i, key, windows]] : [];
  });
  return encode(meta, changes, performance.now() - t0);
}

function checkpoint(task: Task, events: number): Row {
  const t0 = performance.now();
  const cp = task.checkpoint(0);
  const perKey = encode(cp.meta, cp.changes, performance.now() - t0);
  const held = task.pipelines.reduce((n, p) => n + p.detectors.keys().size, 0);
  const pending = task.pipelines.reduce((n, p) => n + ((p.snapshotMeta().detectors as { pending?: unknown[] }).pending?.length ?? 0), 0);
  return { events, keysHeld: held, pending, perKey, whole: wholeLayout(task, cp) };
}

async function main(): Promise<void> {
  const { values: args } = parseArgs({
    options: {
      keys: { type: 'string', default: '25000' },
      rate: { type: 'string', default: '5000' },
      every: { type: 'string', default: '50000' },
      events: { type: 'string', default: '400000' },
      seed: { type: 'string', default: '7' },
      json: { type: 'boolean', default: false },
      results: { type: 'string', default: join(repoRoot, 'load-tests', 'results') },
    },
  });
  const keys = positiveInt('keys', args.keys);
  const rate = positiveInt('rate', args.rate);
  const every = positiveInt('every', args.every);
  const total = positiveInt('events', args.events);
  const loaded = loadConfig(join(repoRoot, 'load-tests', 'standard-job.yaml'));
  for (const p of loaded.config.pipelines) for (const d of p.detectors ?? []) if ('maxKeys' in d && d.maxKeys < keys) d.maxKeys = keys;
  const task = new Task('payments:0', loaded.config.pipelines, { configVersion: loaded.version, detectionTime: (w) => w }, { maxOutOfOrderness: loaded.config.time.maxOutOfOrderness, idleTimeout: 0 }, 0);
  task.trackChanges();
  task.tracker.register(0, 0);
  const factory = new EventFactory({ keys, zipf: 1.1, size: 0, outOfOrder: 0.1, maxDelay: 3000, fraudRate: 0.01, seed: positiveInt('seed', args.seed, 0) });
  const rows: Row[] = [];
  for (let n = 0; n < total; ) {
    const b = emptyBatch(0);
    b.partition = 0;
    for (let i = 0; i < 1000 && n < total; i++, n++) {
      const payload = factory.next(START + Math.floor((n * 1000) / rate)) as unknown as Record<string, unknown>;
      b.events.push({ time: payload.ts as number, id: payload.id as string, partition: 0, offset: n, source: 'payments', payload } as VEvent);
    }
    b.wm = Float64Array.from(b.events, (e) => task.tracker.observe(0, e.time, 0));
    b.watermark = task.tracker.watermark;
    for (const p of task.pipelines) p.process(b);
    task.lastOffset = n - 1;
    if (n % every === 0 || n === total) rows.push(checkpoint(task, n));
  }
  const idle = checkpoint(task, total);
  // The first checkpoint writes every key in both layouts: the medians are of the later ones.
  const later = rows.slice(1);
  const med = (f: (r: Row) => number) => Math.round(median(later.map(f)));
  const bytes = (w: Written) => w.metaBytes + w.fieldBytes;
  const result = {
    bench: 'job-checkpoint',
    at: new Date().toISOString(),
    keys,
    rate,
    every,
    events: total,
    checkpoints: rows.length,
    medianKeysWritten: med((r) => r.perKey.keys),
    medianBytes: med((r) => bytes(r.perKey)),
    medianBytesWholeLayout: med((r) => bytes(r.whole)),
    bytesRatio: Number((median(later.map((r) => bytes(r.perKey))) / median(later.map((r) => bytes(r.whole)))).toFixed(3)),
    medianMs: med((r) => r.perKey.takeMs + r.perKey.encodeMs),
    medianMsWholeLayout: med((r) => r.whole.takeMs + r.whole.encodeMs),
    idle: { bytes: bytes(idle.perKey), ms: Math.round(idle.perKey.takeMs + idle.perKey.encodeMs), bytesWholeLayout: bytes(idle.whole), msWholeLayout: Math.round(idle.whole.takeMs + idle.whole.encodeMs) },
    rows,
  };
  if (await saveResult(args.results, 'bench-job-checkpoint.json', result, args.json)) return;
  const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
  console.log(`${BENCH}  standard job, one partition: ${fmt(keys)} customers, ${fmt(rate)} events/s of event time, a checkpoint every ${fmt(every)} events`);
  console.log('| events | keys held | pending events | keys written | meta bytes | field bytes | ms take + encode | whole layout: meta bytes | field bytes | ms |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of [...rows, idle]) {
    const label = r === idle ? `${fmt(r.events)} (idle)` : fmt(r.events);
    console.log(`| ${label} | ${fmt(r.keysHeld)} | ${fmt(r.pending)} | ${fmt(r.perKey.keys)} | ${fmt(r.perKey.metaBytes)} | ${fmt(r.perKey.fieldBytes)} | ${fmt(r.perKey.takeMs + r.perKey.encodeMs)} | ${fmt(r.whole.metaBytes)} | ${fmt(r.whole.fieldBytes)} | ${fmt(r.whole.takeMs + r.whole.encodeMs)} |`);
  }
  console.log(`median of the checkpoints after the first: ${fmt(result.medianBytes)} bytes (whole layout ${fmt(result.medianBytesWholeLayout)}, ratio ${result.bytesRatio}), ${result.medianMs} ms (whole layout ${result.medianMsWholeLayout} ms)`);
}

await runBench(BENCH, main);
