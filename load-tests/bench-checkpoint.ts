/**
 * bench:checkpoint — what an incremental checkpoint costs next to a full one, as the state grows.
 *
 * A partition task with a tumbling 1 h window (count, sum, distinct) is filled with K keys, then 100
 * of them change. For each K it prints the encoded size and encoding time of the full checkpoint and
 * of the delta (what `RedisCheckpointStore.save` sends), and their ratio. No Redis needed: the figures
 * are the msgpack payloads themselves.
 *
 *   npm run bench:checkpoint            readable table
 *   npm run bench:checkpoint -- --json  one JSON object
 */
import { parseArgs } from 'node:util';
import { Packr } from 'msgpackr';
import { pipelineSchema } from '../src/config/pipeline.js';
import { Task } from '../src/engine/task.js';
import type { CheckpointDelta } from '../src/state/checkpoint-store.js';
import { emptyBatch } from '../src/types.js';

const { values: args } = parseArgs({ options: { json: { type: 'boolean', default: false } } });
const packr = new Packr({ useRecords: false, mapsAsObjects: true });
const PIPELINE = pipelineSchema.parse({
  name: 'per-key',
  key: 'k',
  window: { type: 'tumbling', size: 3_600_000 },
  aggregates: [{ name: 'n', fn: 'count' }, { name: 's', fn: 'sum', field: 'v' }, { name: 'd', fn: 'distinct', field: 'm' }],
});

function encode(d: CheckpointDelta): { bytes: number; ms: number } {
  const t0 = performance.now();
  let bytes = packr.pack(d.meta).byteLength;
  for (const [, , entries] of d.changes) if (entries !== null) bytes += packr.pack(entries).byteLength;
  return { bytes, ms: performance.now() - t0 };
}

const rows: Array<{ keys: number; changedKeys: number; fullBytes: number; deltaBytes: number; fullMs: number; deltaMs: number; ratio: number }> = [];
for (const keys of [1_000, 10_000, 100_000]) {
  const task = new Task('bench', [PIPELINE], { configVersion: 'bench', detectionTime: () => 0 }, { maxOutOfOrderness: 0, idleTimeout: 0 }, 0);
  task.trackChanges();
  let offset = 0;
  const feed = (n: number) => {
    const b = emptyBatch(0);
    b.partition = 0;
    for (let i = 0; i < n; i++) b.events.push({ time: 1000, id: `e${offset}`, partition: 0, offset: ++offset, source: 's', payload: { k: `k${i}`, v: offset % 100, m: `m${offset % 20}` } });
    b.wm = new Float64Array(b.events.map((e) => task.tracker.observe(0, e.time, 0)));
    b.watermark = task.tracker.watermark;
    for (const p of task.pipelines) p.process(b);
    task.lastOffset = offset;
  };
  feed(keys);
  const full = encode(task.checkpoint(1));
  feed(100);
  const deltaCp = task.checkpoint(2);
  const delta = encode(deltaCp);
  rows.push({ keys, changedKeys: deltaCp.changes.length, fullBytes: full.bytes, deltaBytes: delta.bytes, fullMs: Number(full.ms.toFixed(1)), deltaMs: Number(delta.ms.toFixed(2)), ratio: Number((delta.bytes / full.bytes).toFixed(5)) });
}

if (args.json) {
  process.stdout.write(`${JSON.stringify({ rows })}\n`);
} else {
  console.log('bench:checkpoint  tumbling 1h, count+sum+distinct; full checkpoint of K keys, then a delta after 100 keys changed\n');
  console.log('| keys    | full bytes | full ms | changed | delta bytes | delta ms | delta/full |');
  console.log('|---------|------------|---------|---------|-------------|----------|------------|');
  for (const r of rows) {
    console.log(`| ${String(r.keys).padEnd(7)} | ${String(r.fullBytes).padStart(10)} | ${String(r.fullMs).padStart(7)} | ${String(r.changedKeys).padStart(7)} | ${String(r.deltaBytes).padStart(11)} | ${String(r.deltaMs).padStart(8)} | ${String(r.ratio).padStart(10)} |`);
  }
}
