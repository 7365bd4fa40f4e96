/** Tables read from a Redis stream, against the run's shared Redis (unique stream names) and, for an outage, a private one. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { parseConfig, validateConfigText } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import { EngineMetrics } from '../../src/metrics/registry.js';
import { memorySource } from '../../src/sources/memory.js';
import { create, entryMillis, nextEntryId, schema } from '../../src/sources/tables/redis-stream.js';
import { freePort, services, startRedis } from '../infra/index.js';
import { collectSink } from '../helpers/collect.js';

const dir = mkdtempSync(join(tmpdir(), 'vigie-tables-stream-'));
let redis: Redis;
let url: string;
const used: string[] = [];
let n = 0;

beforeAll(() => {
  url = services().redisUrl;
  redis = new Redis(url);
});
afterAll(async () => {
  if (used.length > 0) await redis.del(...used);
  redis.disconnect();
  rmSync(dir, { recursive: true, force: true });
});

function uniqueStream(): string {
  const s = `vigie-test-stream-${process.pid}-${Date.now().toString(36)}-${n++}`;
  used.push(s);
  return s;
}

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

const metric = async (m: EngineMetrics, name: string, table: string): Promise<number> => {
  const line = (await m.text()).split('\n').find((l) => l.startsWith(`${name}{table="${table}"}`));
  return line === undefined ? NaN : Number(line.split(' ').pop());
};

function table(options: Record<string, unknown>, live: boolean, metrics?: EngineMetrics) {
  return create(schema.parse({ name: 'reports', type: 'redis-stream', url, ...options }), { baseDir: dir, logger: silentLogger, live, metrics });
}

describe('entry ids', () => {
  it('their milliseconds, and the id right after one', () => {
    expect(entryMillis('1700000000123-7')).toBe(1700000000123);
    expect(nextEntryId('5-0')).toBe('5-1');
    expect(nextEntryId('5-18446744073709551614')).toBe('5-18446744073709551615');
  });
});

describe('redis-stream table', () => {
  it('reads the whole stream in pages before the first event: versions by a time field, bad entries counted and skipped', async () => {
    const stream = uniqueStream();
    for (let i = 0; i < 10; i++) await redis.xadd(stream, '*', 'merchant', `m${i % 4}`, 'risk', String(i / 10), 'from', String(i * 1000));
    await redis.xadd(stream, '*', 'risk', '0.5', 'from', '1'); // no key
    await redis.xadd(stream, '*', 'merchant', 'm1', 'risk', 'high', 'from', '1'); // risk is declared a number
    await redis.xadd(stream, '*', 'merchant', 'm1', 'risk', '0.5', 'from', 'yesterday'); // no time
    const metrics = new EngineMetrics(false);
    const t = table({ stream, key: 'merchant', time: { field: 'from', format: 'ms' }, fields: { risk: 'number' }, count: 3 }, false, metrics);
    await t.load();
    try {
      expect(t.rows).toBe(4);
      // m1 has versions from 1000 (risk 0.1), 5000 (0.5) and 9000 (0.9).
      expect(t.lookup('m1', 999)).toBeUndefined();
      expect(t.lookup('m1', 1000)).toEqual({ merchant: 'm1', risk: 0.1, from: '1000' });
      expect(t.lookup('m1', 8999)).toMatchObject({ risk: 0.5 });
      expect(t.lookup('m1', 9000)).toMatchObject({ risk: 0.9 });
      expect(t.lookup('m3', 1e12)).toMatchObject({ risk: 0.7 });
      expect(t.count('m1', 0, 9000)).toBe(3);
      expect(await metric(metrics, 'vigie_table_bad_rows_total', 'reports')).toBe(3);
      expect(await metric(metrics, 'vigie_table_rows', 'reports')).toBe(4);
      // Replay: entries added after the load are not read.
      await redis.xadd(stream, '*', 'merchant', 'm9', 'risk', '1', 'from', '0');
      await sleep(200);
      expect(t.lookup('m9', 1)).toBeUndefined();
    } finally {
      await t.close();
    }
  });

  it('`time: entry` versions by the entry id; without `time`, the last entry of a key is its row', async () => {
    const stream = uniqueStream();
    await redis.xadd(stream, '1000-0', 'card', 'c1', 'status', 'open');
    await redis.xadd(stream, '2000-0', 'card', 'c1', 'status', 'blocked');
    await redis.xadd(stream, '2000-1', 'card', 'c2', 'status', 'open');
    const byEntry = table({ stream, key: 'card', time: 'entry' }, false);
    const current = table({ stream, key: 'card' }, false);
    await Promise.all([byEntry.load(), current.load()]);
    try {
      expect(byEntry.lookup('c1', 999)).toBeUndefined();
      expect(byEntry.lookup('c1', 1999)).toEqual({ card: 'c1', status: 'open' });
      expect(byEntry.lookup('c1', 2000)).toEqual({ card: 'c1', status: 'blocked' });
      expect(current.lookup('c1', 0)).toEqual({ card: 'c1', status: 'blocked' });
      expect(current.lookup('c2', 0)).toEqual({ card: 'c2', status: 'open' });
    } finally {
      await Promise.all([byEntry.close(), current.close()]);
    }
  });

  it('enriches events through a config (replay): a stream that does not exist yet is an empty table', async () => {
    const stream = uniqueStream();
    const missing = uniqueStream();
    await redis.xadd(stream, '*', 'id', 'm1', 'listed', 'true');
    const text = `
time: { maxOutOfOrderness: 0 }
sources: [{ name: pay, type: stdin }]
tables:
  - { name: watch, type: redis-stream, url: "${url}", stream: ${stream}, key: id, fields: { listed: boolean } }
  - { name: later, type: redis-stream, url: "${url}", stream: ${missing}, key: id }
pipelines:
  - name: p
    key: id
    enrich: [{ table: watch, on: merchant, missing: flag }, { table: later, on: merchant, missing: flag }]
    window: { type: tumbling, size: 1 }
    aggregates: [{ name: listed, fn: last, field: watch.listed }, { name: later, fn: last, field: later.missing }]
metrics: { enabled: false }
`;
    const file = join(dir, 'stream.yaml');
    writeFileSync(file, text);
    const sink = collectSink();
    const records = ['m1', 'm2'].map((m, i) => ({ id: m, ts: i, merchant: m }));
    const summary = await new Engine({ loaded: parseConfig(text, file), mode: 'replay', sources: [memorySource(records, { name: 'pay' })], sinks: [sink] }).run();
    expect(Object.fromEntries(sink.results.map((r) => [r.key, r.values]))).toEqual({ m1: { listed: 'true', later: 'true' }, m2: { listed: null, later: 'true' } });
    expect(summary.pipelines.p).toMatchObject({ enriched: 1, missingRows: 3 });
  });

  it('live: entries added after the load are seen by lookups shortly after; bad ones counted', async () => {
    const stream = uniqueStream();
    await redis.xadd(stream, '*', 'id', 'a', 'n', '1');
    const metrics = new EngineMetrics(false);
    const t = table({ stream, key: 'id', fields: { n: 'integer' }, block: 100 }, true, metrics);
    await t.load();
    try {
      expect(t.lookup('a', 0)).toEqual({ id: 'a', n: 1 });
      await redis.xadd(stream, '*', 'id', 'b', 'n', '2');
      await redis.xadd(stream, '*', 'id', 'a', 'n', '3');
      await redis.xadd(stream, '*', 'id', 'c', 'n', '1.5'); // not an integer
      await until('the new entries', () => t.lookup('b', 0) !== undefined && t.lookup('a', 0)?.n === 3);
      await until('the bad entry counted', async () => (await metric(metrics, 'vigie_table_bad_rows_total', 'reports')) === 1);
      expect(t.lookup('c', 0)).toBeUndefined();
      expect(await metric(metrics, 'vigie_table_rows', 'reports')).toBe(2);
    } finally {
      await t.close();
    }
    // Closed: no longer follows.
    await redis.xadd(stream, '*', 'id', 'd', 'n', '4');
    await sleep(300);
    expect(t.lookup('d', 0)).toBeUndefined();
  });

  it('reports keyed by the reported event, versioned by report time: an event looked up before its report has none, after it has it', async () => {
    const stream = uniqueStream();
    const t = table({ stream, key: 'event', time: { field: 'time', format: 'iso' }, block: 100 }, true);
    await t.load();
    try {
      expect(t.rows).toBe(0);
      // An analyst confirms payment tx-17 on 3 March at 10:00.
      await redis.xadd(stream, '*', 'event', 'tx-17', 'customer', 'c-4', 'terminal', 't-9', 'time', '2026-03-03T10:00:00Z', 'verdict', 'fraud');
      await until('the verdict', () => t.lookup('tx-17', Date.parse('2026-12-31T00:00:00Z')) !== undefined);
      expect(t.lookup('tx-17', Date.parse('2026-03-03T09:59:59.999Z'))).toBeUndefined();
      expect(t.lookup('tx-17', Date.parse('2026-03-03T10:00:00Z'))).toMatchObject({ verdict: 'fraud', customer: 'c-4' });
      expect(t.count('tx-17', Date.parse('2026-03-01T00:00:00Z'), Date.parse('2026-03-04T00:00:00Z'))).toBe(1);
      expect(t.lookup('tx-18', Date.parse('2026-12-31T00:00:00Z'))).toBeUndefined();
    } finally {
      await t.close();
    }
  });

  it('a model may learn from a reports stream versioned by time; one without `time` is refused', () => {
    const cfg = (time: string) => `
time: { maxOutOfOrderness: 0 }
sources: [{ name: pay, type: stdin, fields: { amount: number } }]
tables:
  - { name: reports, type: redis-stream, url: "redis://127.0.0.1:6391", stream: verdicts, key: event${time} }
pipelines:
  - name: cards
    key: customer
    detectors:
      - { name: risk, type: model, labels: { table: reports }, learnAfter: 7d, features: [{ name: amount, field: amount }], value: 0.9 }
metrics: { enabled: false }
`;
    const ok = validateConfigText(cfg(', time: { field: time }'), join(dir, 'model.yaml'));
    expect(ok.problems.map((p) => `${p.path}: ${p.message}`)).toEqual([]);
    const refused = validateConfigText(cfg(''), join(dir, 'model.yaml'));
    expect(refused.problems.map((p) => p.message).join('\n')).toMatch(/table "reports" has no `time`/);
  });

  it('cannot load: no server, or a key that is not a stream, fails with VIGIE_ERR_TABLE naming the table and the stream', async () => {
    const port = await freePort();
    const down = create(schema.parse({ name: 'gone', type: 'redis-stream', url: `redis://127.0.0.1:${port}`, stream: 'verdicts', key: 'event', connectTimeout: 1000 }), { baseDir: dir, logger: silentLogger, live: true });
    await expect(down.load()).rejects.toMatchObject({ code: 'VIGIE_ERR_TABLE', message: expect.stringMatching(/table "gone": cannot read stream verdicts from 127\.0\.0\.1:\d+: .*ECONNREFUSED/) });
    await down.close();
    const key = uniqueStream();
    await redis.set(key, 'not a stream');
    const wrong = table({ stream: key, key: 'event' }, false);
    await expect(wrong.load()).rejects.toMatchObject({ code: 'VIGIE_ERR_TABLE', message: expect.stringContaining('WRONGTYPE') });
    await wrong.close();
  });
});

describe('redis-stream table options', () => {
  const problems = (table: string) =>
    validateConfigText(
      `
sources: [{ name: pay, type: stdin }]
tables: [${table}]
pipelines: [{ name: p, key: id, enrich: [{ table: r, on: id }], window: { type: tumbling, size: 1 }, aggregates: [{ name: c, fn: count }] }]
`,
      join(dir, 'opts.yaml'),
    ).problems.map((p) => `${p.path}: ${p.message}`);

  it('a valid one passes; unknown options and a missing stream or key are refused, each by name', () => {
    expect(problems('{ name: r, type: redis-stream, stream: s, key: id, time: entry, block: 2s, count: 50 }')).toEqual([]);
    expect(problems('{ name: r, type: redis-stream, stream: s, key: id, prefix: "x:" }').join('\n')).toMatch(/prefix/);
    expect(problems('{ name: r, type: redis-stream, key: id }').join('\n')).toMatch(/tables\[0\]\.stream: is required/);
    expect(problems('{ name: r, type: redis-stream, stream: s }').join('\n')).toMatch(/tables\[0\]\.key: is required/);
    expect(problems('{ name: r, type: redis-stream, stream: s, key: id, time: record }').join('\n')).toMatch(/time/);
  });
});

describe('redis-stream table through an outage', () => {
  it('keeps its rows while Redis is down, warns and counts once, and follows again from where it was', async () => {
    const svc = await startRedis({ persistence: true });
    const own = new Redis(svc.url);
    const metrics = new EngineMetrics(false);
    const warnings: string[] = [];
    const logger = silentLogger.child({});
    logger.warn = ((o: unknown, msg?: string) => void warnings.push(msg ?? String(o))) as typeof logger.warn;
    const t = create(schema.parse({ name: 'verdicts', type: 'redis-stream', url: svc.url, stream: 'verdicts', key: 'event', block: 100 }), { baseDir: dir, logger: { child: () => logger } as never, live: true, metrics });
    try {
      await own.xadd('verdicts', '*', 'event', 'e1', 'verdict', 'fraud');
      await t.load();
      expect(t.lookup('e1', 0)).toMatchObject({ verdict: 'fraud' });
      own.disconnect();
      await svc.stopServer!();
      await until('the outage counted', async () => (await metric(metrics, 'vigie_table_reload_failures_total', 'verdicts')) === 1);
      await sleep(1500); // several retries fail meanwhile
      expect(t.lookup('e1', 0)).toMatchObject({ verdict: 'fraud' });
      await svc.startServer!();
      const back = new Redis(svc.url);
      try {
        await back.xadd('verdicts', '*', 'event', 'e2', 'verdict', 'fraud');
      } finally {
        back.disconnect();
      }
      await until('the entry after the outage', () => t.lookup('e2', 0) !== undefined);
      expect(await metric(metrics, 'vigie_table_reload_failures_total', 'verdicts')).toBe(1);
      expect(warnings.filter((w) => w.includes('cannot read the stream'))).toHaveLength(1);
    } finally {
      await t.close();
      own.disconnect();
      await svc.stop();
    }
  }, 60_000);
});
