/**
 * Redis sink. Config, builder and error tests need nothing; the rest runs against the real Redis the
 * global setup (tests/setup/services.ts) starts (`services().redisUrl`), each test under keys and
 * streams of its own (removed afterwards), or against a private redis-server when it needs a
 * password, a flushed script cache or nothing listening at all.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sinkSchema } from '../../sinks/index.js';
import { create, schema, type RedisSinkConfig } from '../../sinks/redis.js';
import { ALERT_SCRIPT, ALERT_SCRIPT_SHA, alertFields, alertKeys, buildAlertCalls, packFields, streamName } from '../../sinks/redis-commands.js';
import { classifyError, isAuthError } from '../../sinks/redis-errors.js';
import type { RedisSink } from '../../sinks/redis-writer.js';
import { memorySink } from '../../sinks/memory.js';
import type { SinkContext } from '../../sinks/types.js';
import { Engine } from '../../src/engine/engine.js';
import { silentLogger } from '../../src/log.js';
import { EngineMetrics } from '../../src/metrics/registry.js';
import { describeRedisTarget, parseRedisUrl, redactUrl, redisOptions } from '../../src/redis/connection.js';
import { memorySource } from '../../src/sources/memory.js';
import type { Alert } from '../../src/types.js';
import { freePort, services, startRedis, type RedisService } from '../infra/index.js';
import { config } from '../helpers/collect.js';
import { alertBatch, ALERT_T0, sampleAlert } from '../helpers/alerts.js';
import { deleteKeys } from '../helpers/redis-keys.js';
import { END_EVENT, USER_PIPELINES, userBursts } from '../helpers/user-bursts.js';

const T = ALERT_T0;
const ctx: SinkContext = { baseDir: process.cwd(), stdout: process.stdout, logger: silentLogger };

const alert = sampleAlert;

const cfg = (over: Record<string, unknown>): RedisSinkConfig => schema.parse({ name: 'live', type: 'redis', ...over });

/** Stream entries as [id, { field: value }]. */
function entries(raw: Array<[string, string[]]>): Array<[string, Record<string, string>]> {
  return raw.map(([id, flat]) => {
    const o: Record<string, string> = {};
    for (let i = 0; i < flat.length; i += 2) o[flat[i]] = flat[i + 1];
    return [id, o];
  });
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('redis sink config', () => {
  it('applies defaults', () => {
    const c = sinkSchema.parse({ name: 'r', type: 'redis' });
    expect(c).toEqual({
      name: 'r',
      type: 'redis',
      outputs: ['alerts'],
      url: 'redis://127.0.0.1:6379',
      tls: false,
      connectTimeout: 5000,
      stream: 'vigie:alerts',
      shadowStream: 'vigie:alerts:shadow',
      maxLen: 1_000_000,
      dedupTtl: 7 * 86_400_000,
      stateTtl: 30 * 86_400_000,
      channel: 'vigie:alerts:live',
      prefix: 'vigie',
      retry: { initialDelay: 100, maxDelay: 10_000 },
      commandTimeout: 5000,
      replicaTimeout: 1000,
      maxPendingBatches: 16,
      closeTimeout: 10_000,
    });
  });

  it('accepts templates, durations, TLS files, Sentinel and Cluster', () => {
    const c = schema.parse({
      name: 'r',
      type: 'redis',
      url: 'rediss://analyst@redis.internal:6380/2',
      username: 'vigie',
      passwordEnv: 'REDIS_PASSWORD',
      tls: { caFile: '/etc/ca.pem' },
      stream: 'vigie:{detector}:{severity}',
      maxLen: 0,
      maxAge: '2d',
      dedupTtl: '1h',
      retry: { initialDelay: '50ms', maxDelay: '2s' },
      channel: '',
    });
    expect(c).toMatchObject({ stream: 'vigie:{detector}:{severity}', maxLen: 0, maxAge: 172_800_000, dedupTtl: 3_600_000, retry: { initialDelay: 50, maxDelay: 2000 }, channel: '' });
    expect(c.tls).toEqual({ caFile: '/etc/ca.pem', rejectUnauthorized: true });
    expect(schema.safeParse({ name: 'r', type: 'redis', sentinel: { name: 'mymaster', sentinels: [{ host: 's1', port: 26379 }] } }).success).toBe(true);
    expect(schema.safeParse({ name: 'r', type: 'redis', cluster: [{ host: 'n1', port: 7000 }, { host: 'n2', port: 7001 }] }).success).toBe(true);
  });

  it('rejects unknown placeholders, braces in the prefix, both sentinel and cluster, bad URLs and unknown fields', () => {
    const bad: Array<Record<string, unknown>> = [
      { stream: 'vigie:{key}' },
      { stream: 'vigie:{severity' },
      { stream: '' },
      { prefix: '{vigie}' },
      { prefix: '' },
      { outputs: ['results'] },
      { maxLen: -1 },
      { maxAge: '0s' },
      { dedupTtl: 'forever' },
      { retry: { initialDelay: '5s', maxDelay: '1s' } },
      { url: 'http://127.0.0.1:6379' },
      { url: 'redis://127.0.0.1:6379/x' },
      { sentinel: { name: 'm', sentinels: [{ host: 's', port: 1 }] }, cluster: [{ host: 'n', port: 1 }] },
      { cluster: [] },
      { cluster: [{ host: 'n', port: 1 }], minReplicas: 1 },
      { minReplicas: -1 },
      { password: 'secret' },
    ];
    for (const over of bad) expect(schema.safeParse({ name: 'r', type: 'redis', ...over }).success, JSON.stringify(over)).toBe(false);
    // The URL problem is reported without the password in it.
    const r = schema.safeParse({ name: 'r', type: 'redis', url: 'redis://:hunter2@host:port' });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error!.issues)).not.toContain('hunter2');
  });
});

describe('redis connection options', () => {
  it('parses URLs; passwordEnv and username override the URL; a missing variable is an error', () => {
    expect(parseRedisUrl('redis://127.0.0.1:6390/3')).toEqual({ host: '127.0.0.1', port: 6390, username: undefined, password: undefined, db: 3, tls: false });
    expect(parseRedisUrl('rediss://u:p%40ss@[::1]')).toEqual({ host: '::1', port: 6379, username: 'u', password: 'p@ss', db: undefined, tls: true });
    expect(redactUrl('redis://u:secret@h:1/0')).toBe('redis://u:***@h:1/0');
    expect(redactUrl('redis://:secret@h:1')).toBe('redis://:***@h:1');
    expect(describeRedisTarget({ url: 'redis://:secret@h:1/2' })).toBe('h:1/2');

    process.env.VIGIE_TEST_REDIS_PW = 'from-env';
    try {
      const o = redisOptions({ url: 'redis://user:from-url@h:7/1', passwordEnv: 'VIGIE_TEST_REDIS_PW', username: 'other' });
      expect(o).toMatchObject({ host: 'h', port: 7, db: 1, username: 'other', password: 'from-env', lazyConnect: true });
      expect(redisOptions({ url: 'rediss://h' }).tls).toEqual({});
      expect(redisOptions({ url: 'redis://h', tls: false }).tls).toBeUndefined();
    } finally {
      delete process.env.VIGIE_TEST_REDIS_PW;
    }
    expect(() => redisOptions({ url: 'redis://h', passwordEnv: 'VIGIE_TEST_REDIS_UNSET' })).toThrow(/environment variable VIGIE_TEST_REDIS_UNSET is not set/);
    expect(() => create(cfg({ passwordEnv: 'VIGIE_TEST_REDIS_UNSET' }), ctx)).toThrow(/^redis sink "live": redis password: environment variable VIGIE_TEST_REDIS_UNSET is not set$/);
    const sentinel = redisOptions({ url: 'redis://h', sentinel: { name: 'm', sentinels: [{ host: 's1', port: 26379 }] } });
    expect(sentinel).toMatchObject({ name: 'm', sentinels: [{ host: 's1', port: 26379 }] });
    expect(sentinel.host).toBeUndefined();
  });
});

describe('redis sink builder', () => {
  const opts = { stream: 'vigie:alerts', prefix: 'vg', maxLen: 100, maxAge: 0, dedupTtl: 1000, stateTtl: 2000, channel: 'live' };

  it('fills stream templates', () => {
    expect(streamName('s', alert('a', 'k'))).toBe('s');
    expect(streamName('s:{severity}:{detector}:{severity}', alert('a', 'k'))).toBe('s:high:card-testing:high');
  });

  it('writes every field of an alert, flat, JSON only for evidence and details', () => {
    const a = alert('a1', 'C42', { revision: 2, suppressed: 5, repeatsOf: 'a0', trigger: 'e2' });
    const f = alertFields(a);
    const o = Object.fromEntries(Array.from({ length: f.length / 2 }, (_, i) => [f[2 * i], f[2 * i + 1]]));
    expect(o).toEqual({
      id: 'a1',
      detector: 'card-testing',
      detectorType: 'threshold',
      pipeline: 'cards',
      severity: 'high',
      key: 'C42',
      revision: '2',
      eventTime: String(T + 300_000),
      detectedAt: String(T + 301_000),
      windowStart: String(T),
      windowEnd: String(T + 300_000),
      observed: '14',
      threshold: '10',
      score: '1.4',
      explanation: '14 > 10 for C42',
      evidence: '["e1","e2"]',
      configVersion: 'v1',
      details: '{"note":"café ☕","nested":{"n":1}}',
      suppressed: '5',
      repeatsOf: 'a0',
      trigger: 'e2',
    });
    const bare = alertFields(alert('a2', 'k', { window: null, details: undefined }));
    expect(bare).not.toContain('windowStart');
    expect(bare).not.toContain('details');
    expect(bare).not.toContain('suppressed');
    expect(bare).not.toContain('trigger');
    // BigInts and cycles in details degrade instead of failing the batch.
    const details: Record<string, unknown> = { big: 10n ** 20n };
    details.self = details;
    const d = alertFields(alert('a3', 'k', { details }));
    expect(JSON.parse(d[d.indexOf('details') + 1])).toEqual({ big: '100000000000000000000', self: '[Circular]' });
  });

  it('builds one script call per alert: keys, status, notification', () => {
    const calls = buildAlertCalls(opts, [alert('a1', 'C42'), alert('a2', 'C7', { suppressed: 3, repeatsOf: 'a1', severity: 'low' })]);
    expect(calls.map((c) => c.keys)).toEqual([
      ['vg:dedup:a1', 'vigie:alerts', 'vg:state:card-testing:C42'],
      ['vg:dedup:a2', 'vigie:alerts', 'vg:state:card-testing:C7'],
    ]);
    expect(calls[0].args.slice(0, 15)).toEqual([
      '1000', '2000', '100', '0', 'live',
      '{"id":"a1","detector":"card-testing","severity":"high","key":"C42","stream":"vigie:alerts","entryId":"',
      'a1', String(T + 300_000), 'high', 'open', '0', '0', 'card-testing', 'C42', String(T + 301_000),
    ]);
    expect(calls[0].args).toHaveLength(16);
    expect(JSON.parse(calls[0].args[15])).toEqual(alertFields(alert('a1', 'C42')));
    expect(calls[1].args[9]).toBe('suppressed');
    expect(calls[1].args[10]).toBe('3');
    // No channel: no notification text.
    expect(buildAlertCalls({ ...opts, channel: '' }, [alert('a1', 'k')])[0].args[5]).toBe('');
    expect(ALERT_SCRIPT_SHA).toMatch(/^[0-9a-f]{40}$/);
  });

  it('packs the entry fields as JSON, lone surrogates replaced as the wire would', () => {
    expect(packFields(['a', 'x\ud83d\ude00y', 'bad\ud800', '\udc00'])).toBe(JSON.stringify(['a', 'x\ud83d\ude00y', 'bad\ufffd', '\ufffd']));
  });

  it('tags every key of an alert with its stream on a cluster, so that they share a slot', () => {
    expect(alertKeys({ prefix: 'vg', cluster: true }, 'vigie:alerts:high', alert('a1', 'C42'))).toEqual([
      'vg:dedup:{vigie:alerts:high}:a1',
      'vigie:alerts:high',
      'vg:state:{vigie:alerts:high}:card-testing:C42',
    ]);
  });

  it('tells errors a retry can fix from the others', () => {
    const reply = (message: string) => Object.assign(new Error(message), { name: 'ReplyError' });
    expect(classifyError(new Error('connect ECONNREFUSED 127.0.0.1:1'))).toBe('retriable');
    expect(classifyError(new Error('Command timed out'))).toBe('retriable');
    for (const m of ['LOADING Redis is loading the dataset in memory', 'READONLY You can\'t write against a read only replica.', 'BUSY Redis is busy', 'OOM command not allowed', 'CLUSTERDOWN The cluster is down']) {
      expect(classifyError(reply(m)), m).toBe('retriable');
    }
    expect(classifyError(reply('NOSCRIPT No matching script.'))).toBe('noscript');
    for (const m of ['WRONGTYPE Operation against a key holding the wrong kind of value', 'NOPERM this user has no permissions', 'WRONGPASS invalid username-password pair', 'ERR syntax error']) {
      expect(classifyError(reply(m)), m).toBe('fatal');
    }
    expect(isAuthError(reply('WRONGPASS invalid username-password pair or user is disabled.'))).toBe(true);
    expect(isAuthError(reply('NOAUTH Authentication required.'))).toBe(true);
    expect(isAuthError(reply('ERR invalid password'))).toBe(true);
    expect(isAuthError(new Error('connect ECONNREFUSED'))).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------
// Against the suite's Redis

/** Users u0..u{n-1}: bursts of events (velocity alerts, one cooldown summary each) and busy minutes (threshold alerts). */
const CFG = (sink: string) => `
time: { maxOutOfOrderness: 0 }
sources: [{ name: in, type: stdin }]
${USER_PIPELINES}
sinks: [${sink}]
metrics: { enabled: false }
`;

function records(users: number, perUser: number): object[] {
  return [...userBursts(users, perUser), END_EVENT];
}

describe('redis sink against a real Redis', () => {
  let url: string;
  let redis: Redis;
  const run = randomUUID().slice(0, 8);
  /** Every key of this file starts with this. */
  const ns = `vigie-test-${run}`;

  beforeAll(async () => {
    url = services().redisUrl;
    redis = new Redis(url, { lazyConnect: true });
    await redis.connect();
  });

  afterAll(async () => {
    if (redis === undefined) return;
    await deleteKeys(redis, ns);
    redis.disconnect();
  });

  /** A sink config for a test: streams, keys and channel under this test's namespace. */
  const sinkCfg = (test: string, over: Record<string, unknown> = {}): RedisSinkConfig =>
    cfg({ url, stream: `${ns}:${test}:alerts`, prefix: `${ns}:${test}`, channel: `${ns}:${test}:live`, ...over });

  async function runEngine(test: string, recs: object[], over: Record<string, unknown> = {}) {
    const c = sinkCfg(test, over);
    const metrics = new EngineMetrics(false);
    const sink = create(c, { ...ctx, metrics }) as RedisSink;
    const engine = new Engine({ loaded: config(CFG(`{ name: c, type: console }`)), mode: 'replay', sources: [memorySource(recs, { name: 'in', batchSize: 7 })], sinks: [sink], metrics });
    const summary = await engine.run();
    return { summary, sink, config: c };
  }

  async function reference(recs: object[]): Promise<Alert[]> {
    const mem = memorySink('ref', ['alerts']);
    await new Engine({ loaded: config(CFG(`{ name: c, type: console }`)), mode: 'replay', sources: [memorySource(recs, { name: 'in', batchSize: 7 })], sinks: [mem] }).run();
    return mem.alerts;
  }

  it('stores each alert once across two replays of the same input, with its fields, state and one notification', async () => {
    const recs = records(6, 12);
    const expected = await reference(recs);
    const ids = new Set(expected.map((a) => a.id));
    expect(ids.size).toBe(expected.length);
    expect(expected.length).toBeGreaterThan(20);
    expect(expected.some((a) => a.suppressed !== undefined)).toBe(true);

    const channel = `${ns}:once:live`;
    const sub = new Redis(url, { lazyConnect: true });
    const notes: Array<Record<string, string>> = [];
    try {
      await sub.connect();
      sub.on('message', (ch: string, msg: string) => {
        if (ch === channel) notes.push(JSON.parse(msg));
      });
      await sub.subscribe(channel);

      const first = await runEngine('once', recs);
      expect(first.sink.stats).toMatchObject({ stored: expected.length, duplicates: 0, retries: 0 });
      const second = await runEngine('once', recs);
      expect(second.summary.alerts.total).toBe(expected.length);
      expect(second.sink.stats).toMatchObject({ stored: 0, duplicates: expected.length });

      const stream = first.config.stream;
      expect(await redis.xlen(stream)).toBe(ids.size);
      const stored = entries((await redis.xrange(stream, '-', '+')) as Array<[string, string[]]>);
      // In the order the engine emitted them, each with the fields of the alert.
      expect(stored.map(([, f]) => f.id)).toEqual(expected.map((a) => a.id));
      for (const [i, [, f]] of stored.entries()) {
        const a = expected[i];
        const want = alertFields(a);
        expect(Object.keys(f)).toEqual(want.filter((_, j) => j % 2 === 0));
        expect(f).toMatchObject({ id: a.id, detector: a.detector, severity: a.severity, key: a.key, revision: String(a.revision), eventTime: String(a.eventTime) });
        expect(JSON.parse(f.evidence)).toEqual(a.evidence);
        expect(Number(f.score)).toBe(a.score);
        if (a.suppressed !== undefined) expect([f.suppressed, f.repeatsOf]).toEqual([String(a.suppressed), a.repeatsOf]);
      }

      // One state hash per detector and key, with a TTL.
      const pairs = new Map<string, Alert[]>();
      for (const a of expected) pairs.set(`${a.detector}:${a.key}`, [...(pairs.get(`${a.detector}:${a.key}`) ?? []), a]);
      for (const [pair, list] of pairs) {
        const key = `${ns}:once:state:${pair}`;
        const h = await redis.hgetall(key);
        const last = list.reduce((x, y) => (y.eventTime >= x.eventTime ? y : x));
        const suppressed = list.reduce((n, a) => n + (a.suppressed ?? 0), 0);
        expect(h, key).toMatchObject({
          count: String(list.length),
          detector: last.detector,
          key: last.key,
          lastAlertId: last.id,
          lastEventTime: String(last.eventTime),
          severity: last.severity,
          status: last.suppressed !== undefined ? 'suppressed' : 'open',
          firstEventTime: String(Math.min(...list.map((a) => a.eventTime))),
          lastStream: stream,
        });
        expect(h.suppressedTotal ?? '0').toBe(String(suppressed));
        expect(stored.find(([id]) => id === h.lastEntryId)?.[1].id).toBe(last.id);
        const ttl = await redis.pttl(key);
        expect(ttl).toBeGreaterThan(30 * 86_400_000 - 60_000);
        expect(ttl).toBeLessThanOrEqual(30 * 86_400_000);
      }

      // One notification per stored alert, none for the replay's duplicates.
      await until('notifications', () => notes.length >= ids.size);
      await new Promise((r) => setTimeout(r, 200));
      expect(notes).toHaveLength(ids.size);
      expect(notes.map((n) => n.id)).toEqual(expected.map((a) => a.id));
      expect(notes[0]).toEqual({ id: expected[0].id, detector: expected[0].detector, severity: expected[0].severity, key: expected[0].key, stream, entryId: stored[0][0] });
    } finally {
      sub.disconnect();
    }
  });

  it('splits alerts into streams by severity and detector', async () => {
    const recs = records(3, 12);
    const expected = await reference(recs);
    const template = `${ns}:split:{detector}:{severity}`;
    await runEngine('split', recs, { stream: template });
    const byStream = new Map<string, string[]>();
    for (const a of expected) {
      const s = `${ns}:split:${a.detector}:${a.severity}`;
      byStream.set(s, [...(byStream.get(s) ?? []), a.id]);
    }
    expect([...byStream.keys()].sort()).toEqual([`${ns}:split:burst:high`, `${ns}:split:busy:medium`]);
    for (const [s, list] of byStream) {
      const got = entries((await redis.xrange(s, '-', '+')) as Array<[string, string[]]>);
      expect(got.map(([, f]) => f.id), s).toEqual(list);
    }
  });

  it('bounds streams by length and age; dedup keys expire', async () => {
    const sink = create(sinkCfg('retention', { maxLen: 10, dedupTtl: '10m' }), ctx);
    const aged = create(sinkCfg('age', { maxLen: 0, maxAge: '1s' }), ctx);
    try {
      const many = Array.from({ length: 500 }, (_, i) => alert(`len-${i}`, `k${i % 7}`));
      for (let i = 0; i < many.length; i += 50) await sink.write(alertBatch(many.slice(i, i + 50)));
      const len = await redis.xlen(`${ns}:retention:alerts`);
      // Approximate trimming (MAXLEN ~) removes whole stream nodes: at most one node (100 entries) more.
      expect(len).toBeGreaterThanOrEqual(10);
      expect(len).toBeLessThanOrEqual(10 + 100);
      const last = entries((await redis.xrevrange(`${ns}:retention:alerts`, '+', '-', 'COUNT', 1)) as Array<[string, string[]]>);
      expect(last[0][1].id).toBe('len-499');
      const ttl = await redis.pttl(`${ns}:retention:dedup:len-0`);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(600_000);

      const old = Array.from({ length: 300 }, (_, i) => alert(`old-${i}`, 'k'));
      await aged.write(alertBatch(old));
      const cutoff = Date.now();
      await new Promise((r) => setTimeout(r, 1200));
      const fresh = Array.from({ length: 300 }, (_, i) => alert(`new-${i}`, 'k'));
      await aged.write(alertBatch(fresh));
      const got = entries((await redis.xrange(`${ns}:age:alerts`, '-', '+')) as Array<[string, string[]]>);
      const olds = got.filter(([, f]) => f.id.startsWith('old-'));
      // MINID ~ also trims whole nodes: old entries may survive only in the node the first new ones share.
      expect(olds.length).toBeLessThan(100);
      expect(got.filter(([, f]) => f.id.startsWith('new-'))).toHaveLength(300);
      for (const [id] of olds) expect(Number(id.split('-')[0])).toBeLessThan(cutoff + 1000);
    } finally {
      await Promise.all([sink.close(), aged.close()]);
    }
  });

  it('serves consumer groups: XREADGROUP reads what was written, XACK empties the pending list', async () => {
    const stream = `${ns}:group:alerts`;
    await redis.xgroup('CREATE', stream, 'analysts', '$', 'MKSTREAM');
    const sink = create(sinkCfg('group'), ctx);
    try {
      const written = [alert('g1', 'k1'), alert('g2', 'k2', { severity: 'critical' }), alert('g3', 'k1', { revision: 1 })];
      await sink.write(alertBatch(written));
      await sink.write(alertBatch(written)); // a retry of the same batch: nothing new
      const read = (await redis.xreadgroup('GROUP', 'analysts', 'alice', 'COUNT', 10, 'STREAMS', stream, '>')) as Array<[string, Array<[string, string[]]>]>;
      const got = entries(read[0][1]);
      expect(got.map(([, f]) => [f.id, f.severity, f.revision])).toEqual([
        ['g1', 'high', '0'],
        ['g2', 'critical', '0'],
        ['g3', 'high', '1'],
      ]);
      expect(((await redis.xpending(stream, 'analysts')) as [number])[0]).toBe(3);
      expect(await redis.xack(stream, 'analysts', ...got.map(([id]) => id))).toBe(3);
      expect(((await redis.xpending(stream, 'analysts')) as [number])[0]).toBe(0);
    } finally {
      await sink.close();
    }
  });

  it('rejects a write to a key of the wrong type, naming the sink and the stream, and writes nothing', async () => {
    const stream = `${ns}:wrongtype:alerts`;
    await redis.set(stream, 'not a stream');
    const sink = create(sinkCfg('wrongtype'), ctx);
    try {
      await expect(sink.write(alertBatch([alert('w1', 'k')]))).rejects.toThrow(new RegExp(`^redis sink "live": cannot write to stream "${stream}": WRONGTYPE`));
      expect(await redis.exists(`${ns}:wrongtype:dedup:w1`)).toBe(0);
      expect(sink.healthy!()).toBe(false);
    } finally {
      await sink.close();
    }
  });

  it('with minReplicas, a batch no replica has is retried, not acknowledged (the sink reports itself down)', async () => {
    // The suite's Redis has no replica: WAIT 1 never reaches 1.
    const sink = create(sinkCfg('replicas', { minReplicas: 1, replicaTimeout: '50ms', retry: { initialDelay: 20, maxDelay: 100 } }), ctx) as RedisSink;
    let settled = false;
    const write = sink.write(alertBatch([alert('r1', 'k')])).finally(() => (settled = true));
    write.catch(() => {});
    try {
      const t0 = Date.now();
      while (sink.stats.retries < 3 && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 20));
      expect(sink.stats.retries).toBeGreaterThanOrEqual(3);
      expect(settled).toBe(false);
      expect(sink.healthy!()).toBe(false);
      // Written once on the master (retries skip it), just not acknowledged.
      expect(await redis.xlen(`${ns}:replicas:alerts`)).toBe(1);
    } finally {
      await sink.close().catch(() => {});
    }
    await expect(write).rejects.toThrow();
    // Sentinel connections default to one replica; direct ones to none.
    const parse = (over: Record<string, unknown>) => schema.parse({ name: 'r', type: 'redis', ...over });
    expect((create(parse({ sentinel: { name: 'm', sentinels: [{ host: '127.0.0.1', port: 1 }] } }), ctx) as unknown as { minReplicas: number }).minReplicas).toBe(1);
    expect((create(parse({}), ctx) as unknown as { minReplicas: number }).minReplicas).toBe(0);
  });

  it('stores text exactly as given: quotes, control characters, emoji, any Unicode', async () => {
    const texts = ['quote " backslash \\ slash /', 'new\nline\ttab\u0000nul\u001f', 'emoji 😀 café 中文 \u2028', '', '{"json":[1,2]}'];
    const sink = create(sinkCfg('text'), ctx);
    try {
      await sink.write(alertBatch(texts.map((t, i) => alert(`t${i}`, `key ${t}`, { explanation: t, details: { t } }))));
      const got = entries((await redis.xrange(`${ns}:text:alerts`, '-', '+')) as Array<[string, string[]]>);
      expect(got.map(([, f]) => f.explanation)).toEqual(texts);
      expect(got.map(([, f]) => f.key)).toEqual(texts.map((t) => `key ${t}`));
      expect(got.map(([, f]) => JSON.parse(f.details).t)).toEqual(texts);
    } finally {
      await sink.close();
    }
  });

  it('keeps batch order, resolves empty batches without connecting, closes twice, refuses writes after close', async () => {
    const idle = create(sinkCfg('idle', { url: `redis://127.0.0.1:${await freePort()}` }), ctx);
    await idle.write(alertBatch([]));
    await idle.close();
    await idle.close();
    await expect(idle.write(alertBatch([alert('x', 'k')]))).rejects.toThrow(/redis sink "live" is closed/);

    const sink = create(sinkCfg('order'), ctx);
    try {
      const writes = Array.from({ length: 20 }, (_, i) => sink.write(alertBatch([alert(`o${i}a`, 'k'), alert(`o${i}b`, 'k')])));
      await Promise.all(writes);
      expect(sink.bufferFill!()).toBe(0);
      const got = entries((await redis.xrange(`${ns}:order:alerts`, '-', '+')) as Array<[string, string[]]>);
      expect(got.map(([, f]) => f.id)).toEqual(Array.from({ length: 20 }, (_, i) => [`o${i}a`, `o${i}b`]).flat());
    } finally {
      await sink.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Against private servers: a password, a flushed script cache, nothing listening

describe('redis sink against a private redis-server', () => {
  let secured: RedisService;

  beforeAll(async () => {
    secured = await startRedis({ password: 's3cret-pw' });
  });

  afterAll(async () => {
    await secured?.stop();
  });

  it('rejects a write with a wrong password quickly and clearly, without the password in the message', async () => {
    const port = new URL(secured.url).port;
    process.env.VIGIE_TEST_WRONG_PW = 'not-the-password';
    try {
      for (const over of [{ url: `redis://127.0.0.1:${port}`, passwordEnv: 'VIGIE_TEST_WRONG_PW' }, { url: `redis://127.0.0.1:${port}` }]) {
        const sink = create(cfg({ ...over, stream: 'auth:alerts', retry: { initialDelay: 50, maxDelay: 200 } }), ctx);
        const t0 = Date.now();
        try {
          const err = await sink.write(alertBatch([alert('p1', 'k')])).then(
            () => undefined,
            (e: Error) => e,
          );
          expect(err, JSON.stringify(over)).toBeInstanceOf(Error);
          expect(err!.message).toMatch(new RegExp(`^redis sink "live": cannot write to stream "auth:alerts": authentication to 127.0.0.1:${port} failed: (WRONGPASS|NOAUTH)`));
          expect(err!.message).not.toContain('not-the-password');
          expect(Date.now() - t0).toBeLessThan(5000);
        } finally {
          await sink.close();
        }
      }
    } finally {
      delete process.env.VIGIE_TEST_WRONG_PW;
    }
    // The right password works.
    process.env.VIGIE_TEST_RIGHT_PW = 's3cret-pw';
    const ok = create(cfg({ url: `redis://127.0.0.1:${port}`, passwordEnv: 'VIGIE_TEST_RIGHT_PW', stream: 'auth:alerts' }), ctx);
    try {
      await ok.write(alertBatch([alert('p1', 'k')]));
    } finally {
      await ok.close();
      delete process.env.VIGIE_TEST_RIGHT_PW;
    }
  });

  it('loads the script again after SCRIPT FLUSH (NOSCRIPT), without duplicating', async () => {
    const admin = new Redis(secured.url);
    const sink = create(cfg({ url: secured.url, stream: 'noscript:alerts', prefix: 'noscript' }), ctx) as RedisSink;
    try {
      await sink.write(alertBatch([alert('n1', 'k')]));
      expect(await admin.script('EXISTS', ALERT_SCRIPT_SHA)).toEqual([1]);
      await admin.script('FLUSH');
      await sink.write(alertBatch([alert('n1', 'k'), alert('n2', 'k')]));
      expect(await admin.xlen('noscript:alerts')).toBe(2);
      expect(sink.stats).toMatchObject({ stored: 2, duplicates: 1, retries: 0 });
      expect(await admin.script('EXISTS', ALERT_SCRIPT_SHA)).toEqual([1]);
      expect(ALERT_SCRIPT).toContain('XADD');
    } finally {
      await sink.close();
      admin.disconnect();
    }
  });

  it('retries while nothing listens, reports itself down, and fails pending writes when closed', async () => {
    const port = await freePort();
    const metrics = new EngineMetrics(false);
    const sink = create(
      cfg({ url: `redis://127.0.0.1:${port}`, stream: 'down:alerts', connectTimeout: 200, retry: { initialDelay: 20, maxDelay: 100 }, closeTimeout: 800, maxPendingBatches: 4 }),
      { ...ctx, metrics },
    ) as RedisSink;
    const first = sink.write(alertBatch([alert('d1', 'k')]));
    const second = sink.write(alertBatch([alert('d2', 'k')]));
    const settled = { first: false, second: false };
    void first.catch(() => undefined).finally(() => (settled.first = true));
    void second.catch(() => undefined).finally(() => (settled.second = true));
    await until('retries', () => sink.stats.retries >= 3, 5000);
    expect(sink.healthy!()).toBe(false);
    expect(sink.bufferFill!()).toBe(0.5);
    expect(settled).toEqual({ first: false, second: false });
    const retries = (await metrics.sinkRetries.get()).values.find((v) => v.labels.sink === 'live')?.value ?? 0;
    expect(retries).toBeGreaterThanOrEqual(3);
    expect((await metrics.sinkUp.get()).values.find((v) => v.labels.sink === 'live')?.value).toBe(0);
    const t0 = Date.now();
    await sink.close();
    expect(Date.now() - t0).toBeLessThan(3000);
    await expect(first).rejects.toThrow(/^redis sink "live": (closed before|cannot write)/);
    await expect(second).rejects.toThrow(/^redis sink "live"/);
  });
});

// ---------------------------------------------------------------------------------------------
// Against a one-node Redis Cluster: scripts may only touch keys of one slot (CROSSSLOT otherwise)

describe('redis sink against a Redis Cluster', () => {
  let node: RedisService;

  beforeAll(async () => {
    node = await startRedis({ cluster: true });
  });

  afterAll(async () => {
    await node?.stop();
  });

  it('keeps every key of an alert in its stream\'s slot, one pipeline per stream, once per id', async () => {
    const port = node.port;
    const sink = create(
      cfg({ cluster: [{ host: '127.0.0.1', port }], stream: 'c:{severity}', prefix: 'cl', channel: 'c:live' }),
      ctx,
    ) as RedisSink;
    const admin = new Redis(node.url);
    try {
      const alerts = [alert('c1', 'k1'), alert('c2', 'k2', { severity: 'low' }), alert('c3', 'k1'), alert('c4', 'k3', { severity: 'low' })];
      await sink.write(alertBatch(alerts));
      await sink.write(alertBatch(alerts));
      expect(sink.stats).toMatchObject({ stored: 4, duplicates: 4, retries: 0 });
      const ids = async (s: string) => entries((await admin.xrange(s, '-', '+')) as Array<[string, string[]]>).map(([, f]) => f.id);
      expect(await ids('c:high')).toEqual(['c1', 'c3']);
      expect(await ids('c:low')).toEqual(['c2', 'c4']);
      expect(await admin.exists('cl:dedup:{c:high}:c1')).toBe(1);
      expect(await admin.exists('cl:state:{c:low}:card-testing:k3')).toBe(1);
      expect(await admin.hget('cl:state:{c:high}:card-testing:k1', 'count')).toBe('2');
    } finally {
      await sink.close();
      admin.disconnect();
    }
  });
});
