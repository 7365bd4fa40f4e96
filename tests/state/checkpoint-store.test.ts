import { Redis } from 'ioredis';
import { Packr } from 'msgpackr';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, inject, it, vi } from 'vitest';
import { createLogger } from '../../src/log.js';
import { pipelineSchema } from '../../src/config/pipeline.js';
import { Task } from '../../src/engine/task.js';
import { RedisCheckpointStore, SAVE_CHUNK, decodeCheckpoint, stateSchema } from '../../src/state/checkpoint-store.js';
import { emptyBatch, type Batch, type VEvent } from '../../src/types.js';

/** Incremental checkpoints against the real Redis the test setup started. */
const PIPELINES = [
  pipelineSchema.parse({ name: 'tumbling', key: 'k', window: { type: 'tumbling', size: 60_000 }, aggregates: [{ name: 'n', fn: 'count' }, { name: 'd', fn: 'distinct', field: 'v' }] }),
  pipelineSchema.parse({ name: 'sessions', key: 'k', window: { type: 'session', gap: 30_000 }, aggregates: [{ name: 'n', fn: 'count' }] }),
  pipelineSchema.parse({ name: 'sliding', key: 'k', window: { type: 'sliding', lookback: 60_000 }, aggregates: [{ name: 's', fn: 'sum', field: 'v' }] }),
];
const prefix = `cp-test-${process.pid}-${Date.now()}`;
const store = new RedisCheckpointStore(stateSchema.parse({ store: 'redis', redisUrl: inject('redisUrl'), prefix }));

function task(): Task {
  const t = new Task('t', PIPELINES, { configVersion: 'x', detectionTime: () => 0 }, { maxOutOfOrderness: 0, idleTimeout: 0 }, 0);
  t.trackChanges();
  return t;
}

let offset = 0;
function feed(t: Task, keys: string[], time: number): Batch {
  const b = emptyBatch(0);
  b.partition = 0;
  for (const k of keys) {
    const e: VEvent = { time, id: `e${offset}`, partition: 0, offset: ++offset, source: 's', payload: { k, v: offset % 7 } };
    b.events.push(e);
  }
  const wm = new Float64Array(b.events.length);
  b.events.forEach((e, i) => (wm[i] = t.tracker.observe(0, e.time, 0)));
  b.wm = wm;
  b.watermark = t.tracker.watermark;
  for (const p of t.pipelines) p.process(b);
  t.lastOffset = offset;
  return b;
}

const canon = (t: Task) => t.pipelines.map((p) => JSON.stringify((Object.values(p.window.snapshot() as object).find(Array.isArray) as unknown[]).map((x) => JSON.stringify(x)).sort()));

afterAll(async () => {
  const r = new Redis(inject('redisUrl'));
  const keys = await r.keys(`${prefix}:*`);
  if (keys.length > 0) await r.del(...keys);
  r.disconnect();
  await store.close();
});

describe('incremental checkpoints in Redis', () => {
  it('write only the keys that changed, delete emptied ones, and restore the same state', async () => {
    const a = task();
    const { epoch: epoch0, checkpoint: none } = await store.acquire('p0');
    expect(none).toBeUndefined();
    const keys = Array.from({ length: 2000 }, (_, i) => `key-${i}`);
    feed(a, keys, 1_000);
    // Moves W past the first events, so their sliding evaluations are done before the first checkpoint.
    feed(a, ['zzz'], 1_500);
    const first = a.checkpoint(1);
    expect(first.full).toBe(true);
    const bytesFull = await store.save('p0', epoch0, first);

    // Same time as the watermark: W does not move, so exactly these keys change.
    feed(a, ['key-1', 'key-2', 'key-3'], 1_500);
    const second = a.checkpoint(2);
    expect(second.full).toBe(false);
    // Three keys changed in each of the three pipelines.
    expect(new Set(second.changes.map(([i, k]) => `${i}/${k}`)).size).toBe(9);
    const bytesDelta = await store.save('p0', epoch0, second);
    expect(bytesDelta * 50).toBeLessThan(bytesFull);

    // Far ahead: every earlier window, session and sliding entry closes; their keys are deleted.
    feed(a, ['key-9'], 10_000_000);
    const third = a.checkpoint(3);
    expect(third.changes.filter(([, , e]) => e === null).length).toBeGreaterThan(5000);
    await store.save('p0', epoch0, third);

    const { epoch: epoch1, checkpoint: loaded } = await store.acquire('p0');
    expect(epoch1).toBe(epoch0 + 1);
    expect(loaded?.meta.offset).toBe(offset);
    // The previous owner is fenced out: its late write is refused and changes nothing.
    expect(await store.save('p0', epoch0, a.checkpoint(4))).toBe(-1);
    const b = task();
    expect(b.restore(loaded!, 0)).toEqual(['tumbling', 'sessions', 'sliding']);
    expect(canon(b)).toEqual(canon(a));
    const r = new Redis(inject('redisUrl'));
    expect(await r.hlen(`${prefix}:checkpoint:p0:keys`)).toBe(3);
    expect(await r.pttl(`${prefix}:checkpoint:p0:keys`)).toBeGreaterThan(0);
    r.disconnect();

    // And the restored state goes on exactly like the original.
    const at = offset;
    const outA = feed(a, ['key-9', 'key-10'], 10_000_100);
    offset = at;
    const outB = feed(b, ['key-9', 'key-10'], 10_000_100);
    expect(outB.results.map((x) => JSON.stringify(x))).toEqual(outA.results.map((x) => JSON.stringify(x)));
    expect(canon(b)).toEqual(canon(a));
  });

  it('a pipeline whose definition changed starts afresh and the next checkpoint rewrites every key', async () => {
    const a = task();
    feed(a, ['x', 'y'], 1_000);
    const { epoch } = await store.acquire('p1');
    await store.save('p1', epoch, a.checkpoint(1));
    const { checkpoint: loaded } = await store.acquire('p1');
    const changed = { ...loaded!.meta, pipelines: loaded!.meta.pipelines.map((p, i) => (i === 0 ? [p[0], 'other-hash', p[2]] : p)) as typeof loaded.meta.pipelines };
    const b = task();
    expect(b.restore({ ...loaded!, meta: changed }, 0)).toEqual(['sessions', 'sliding']);
    expect(b.checkpoint(2).full).toBe(true);
  });
});

describe('checkpoints larger than one write', () => {
  it('are staged in chunks and swapped in whole (full) or merged (incremental); a fenced-out staged write changes nothing', async () => {
    // 40,000 keys in each of three pipelines: 240,000 arguments and more, past what one call could be
    // given at once (a single script for the whole checkpoint failed there: maximum call stack size exceeded).
    const n = Math.max(40_000, Math.ceil(SAVE_CHUNK * 1.2));
    const keys = Array.from({ length: n }, (_, i) => `big-${i}`);
    const a = task();
    feed(a, keys, 1_000);
    feed(a, ['zzz'], 1_500);
    const { epoch } = await store.acquire('big');
    const full = a.checkpoint(1);
    // Every key of the three pipelines: more fields than one write takes.
    expect(full.full).toBe(true);
    expect(full.changes.length).toBeGreaterThan(3 * SAVE_CHUNK);
    expect(await store.save('big', epoch, full)).toBeGreaterThan(0);
    const r = new Redis(inject('redisUrl'));
    try {
      expect(await r.hlen(`${prefix}:checkpoint:big:keys`)).toBe(full.changes.length);
      const { checkpoint: loaded } = await store.acquire('big');
      const b = task();
      expect(b.restore(loaded!, 0)).toEqual(['tumbling', 'sessions', 'sliding']);
      expect(canon(b)).toEqual(canon(a));

      // Far ahead: the windows of all those keys close; an incremental checkpoint deletes them.
      feed(a, ['big-1'], 10_000_000);
      const second = a.checkpoint(2);
      expect(second.full).toBe(false);
      expect(second.changes.filter(([, , e]) => e === null).length).toBeGreaterThan(SAVE_CHUNK);
      const { epoch: epoch2 } = await store.acquire('big');
      expect(await store.save('big', epoch2, second)).toBeGreaterThan(0);
      const { checkpoint: after } = await store.acquire('big');
      const c = task();
      c.restore(after!, 0);
      expect(canon(c)).toEqual(canon(a));
      expect(await r.hlen(`${prefix}:checkpoint:big:keys`)).toBeLessThan(10);

      // A superseded owner's large write is refused; what is stored stays; no staging hash is left.
      const stale = task();
      feed(stale, keys, 1_000);
      expect(await store.save('big', epoch2, stale.checkpoint(3))).toBe(-1);
      expect(await r.hlen(`${prefix}:checkpoint:big:keys`)).toBeLessThan(10);
      expect(await r.keys(`${prefix}:checkpoint:big:keys:staging:*`)).toEqual([]);
    } finally {
      r.disconnect();
    }
  });

  it('decodes the stored fields by pipeline index, and a meta value of an unknown version as no checkpoint', () => {
    const p = new Packr({ useRecords: false, mapsAsObjects: true });
    // Version 3: a key's field holds [its windows' entries, its detectors' entry or null].
    const meta = { v: 3, offset: 7, watermark: null, pipelines: [['a', 'h', null], ['b', 'h', null]], savedAt: 0 };
    const fields = [Buffer.from('1:x:1'), p.pack([[3, 4], ['d']]), Buffer.from('0:y'), p.pack([[1], null]), Buffer.from('9:z'), p.pack([[9], null]), Buffer.from('x:q'), p.pack([[8], null])];
    expect(decodeCheckpoint({ meta: p.pack(meta), fields })).toEqual({ meta, entries: [[1], [3, 4]], keyed: [{ keys: [], entries: [] }, { keys: ['x:1'], entries: [['d']] }] });
    // Version 2 (read only): a key's field held its windows' entries; the detectors were whole in the meta part.
    const v2 = { ...meta, v: 2 };
    const v2Fields = [Buffer.from('1:x'), p.pack([3, 4]), Buffer.from('0:y'), p.pack([1])];
    expect(decodeCheckpoint({ meta: p.pack(v2), fields: v2Fields })).toEqual({ meta: v2, entries: [[1], [3, 4]], keyed: [{ keys: [], entries: [] }, { keys: [], entries: [] }] });
    expect(decodeCheckpoint({ meta: p.pack({ ...meta, v: 1 }), fields })).toBeUndefined();
    // A field of version 3 that is not [windows, detectors]: a snapshot error naming the pipeline, not a crash later.
    expect(() => decodeCheckpoint({ meta: p.pack(meta), fields: [Buffer.from('0:y'), p.pack(5)] })).toThrow(/bad entry for a key of pipeline 0/);
  });
});

describe('checkpoint store connection options', () => {
  it('takes the redis sink\'s username and tls options (tls off by default, unknown keys refused)', () => {
    expect(stateSchema.parse({ store: 'redis' })).toMatchObject({ redisUrl: 'redis://127.0.0.1:6379', tls: false });
    expect(stateSchema.parse(undefined)).toMatchObject({ store: 'none', tls: false });
    const cfg = stateSchema.parse({ store: 'redis', redisUrl: 'rediss://r:6380', username: 'vigie', tls: { caFile: '/ca.pem' } });
    expect(cfg.username).toBe('vigie');
    expect(cfg.tls).toEqual({ caFile: '/ca.pem', rejectUnauthorized: true });
    expect(stateSchema.safeParse({ store: 'redis', tls: { ca: '/ca.pem' } }).success).toBe(false);
    expect(stateSchema.safeParse({ store: 'redis', username: '' }).success).toBe(false);
  });

  it('a refused login rejects the call and goes to the logger, never raw to stderr', async () => {
    let logged = '';
    const logger = createLogger({
      level: 'warn',
      destination: new Writable({
        write(chunk: Buffer | string, _enc, cb) {
          logged += String(chunk);
          cb();
        },
      }),
    });
    const url = new URL(inject('redisUrl'));
    url.username = 'no-such-user';
    process.env.VIGIE_CP_TEST_PW = 'not-the-password';
    const errors = vi.spyOn(console, 'error');
    const bad = new RedisCheckpointStore(stateSchema.parse({ store: 'redis', redisUrl: url.toString(), passwordEnv: 'VIGIE_CP_TEST_PW', prefix }), logger);
    try {
      await expect(bad.acquire('p9')).rejects.toThrow(/WRONGPASS|NOAUTH/);
      expect(logged).toMatch(/checkpoint store: redis connection error/);
      expect(logged).toMatch(/WRONGPASS|NOAUTH/);
      expect(logged).not.toContain('not-the-password');
      expect(errors).not.toHaveBeenCalled();
    } finally {
      await bad.close();
      errors.mockRestore();
      delete process.env.VIGIE_CP_TEST_PW;
    }
  });
});
