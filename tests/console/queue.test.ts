/**
 * The morning queue, end to end: a `model` detector's ranked queue (config/cards.yaml on generated
 * card payments) written by the real redis sink (`outputs: [alerts, queue]`) to the real Redis of the
 * global setup, read back by the console's API and shown by its page in Debian Chromium
 * (playwright-core with its executable path; no downloaded browser). The queue the console serves is
 * compared line for line with the queue the same replay gave a memory sink.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memorySink, type MemorySink } from '../../sinks/memory.js';
import { buildQueueCalls, queueKeys } from '../../sinks/redis-commands.js';
import { create, schema } from '../../sinks/redis.js';
import type { Sink, SinkContext } from '../../sinks/types.js';
import { tokensFromEnv } from '../../src/console/auth.js';
import { parseQueueLine, queueIndexKey, queuePeriodKey, QueueStore } from '../../src/console/queue-store.js';
import { startConsole, type ConsoleServer } from '../../src/console/server.js';
import { loadConfig } from '../../src/config/load.js';
import { Engine } from '../../src/engine/engine.js';
import { silentLogger } from '../../src/log.js';
import { emptyBatch, type QueueEntry } from '../../src/types.js';
import { ROOT, tempDir, vigie } from '../helpers/cli.js';
import { launchChromium } from '../helpers/console.js';
import { deleteKeys } from '../helpers/redis-keys.js';
import { services } from '../infra/index.js';

const SHOTS = join(ROOT, 'test-artifacts', 'console');
const TOKEN = `read-${randomUUID()}`;
const ns = `vigie:test:console-queue:${randomUUID()}`;
const ctx: SinkContext = { baseDir: process.cwd(), stdout: process.stdout, logger: silentLogger };
const auth = { authorization: `Bearer ${TOKEN}` };

let dir: string;
let redis: Redis;
let server: ConsoleServer;
let reference: MemorySink;

/** config/cards.yaml on the generated files, with a redis sink writing alerts and queues under `ns`. */
function cardsConfig(data: string, url: string): string {
  const text = readFileSync(join(ROOT, 'config', 'cards.yaml'), 'utf8').replaceAll('../data/cards/', `${data}/`);
  const sinks = text.indexOf('\nsinks:');
  expect(sinks).toBeGreaterThan(0);
  return `${text.slice(0, sinks)}\nsinks:\n  - { name: unit, type: redis, url: "${url}", stream: "${ns}:alerts", prefix: "${ns}", channel: "", outputs: [alerts, queue] }\n`;
}

async function replay(file: string): Promise<MemorySink> {
  const loaded = loadConfig(file);
  const mem = memorySink('ref', ['alerts', 'queue']);
  const redisSink = create(loaded.config.sinks[0] as never, ctx);
  await new Engine({ loaded, mode: 'replay', logger: silentLogger, sinks: [redisSink, mem] }).run();
  return mem;
}

const get = async (path: string, headers: Record<string, string> = auth) => {
  const res = await fetch(`${server.url}${path}`, { headers });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

beforeAll(async () => {
  dir = tempDir('vigie-queue-');
  const gen = vigie(['generate', '--scenario', 'cards', '--days', '10', '--customers', '300', '--terminals', '200', '--out', join(dir, 'data')]);
  expect(gen.status, gen.stderr).toBe(0);
  const url = services().redisUrl;
  redis = new Redis(url, { lazyConnect: true });
  await redis.connect();
  writeFileSync(join(dir, 'cards.yaml'), cardsConfig(join(dir, 'data'), url));
  reference = await replay(join(dir, 'cards.yaml'));
  server = await startConsole({
    target: { connection: { url }, streams: [`${ns}:alerts`], prefix: ns },
    tokens: tokensFromEnv({ VIGIE_CONSOLE_TOKEN: TOKEN }),
    logger: silentLogger,
    port: 0,
  });
}, 120_000);

afterAll(async () => {
  await server?.close();
  if (redis !== undefined) {
    await deleteKeys(redis, ns);
    redis.disconnect();
  }
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/** The reference queue's periods, newest first, each with its lines by rank. */
function referencePeriods(): Array<{ start: number; lines: QueueEntry[] }> {
  const by = new Map<number, QueueEntry[]>();
  for (const q of reference.queue) {
    const list = by.get(q.start) ?? [];
    list.push(q);
    by.set(q.start, list);
  }
  return [...by].sort((a, b) => b[0] - a[0]).map(([start, lines]) => ({ start, lines: lines.sort((a, b) => a.rank - b.rank) }));
}

describe('the redis sink writes ranked queues', () => {
  it('builds one script call per line, under the prefix, with a hash tag on a cluster', () => {
    const line: QueueEntry = { pipeline: 'cards', detector: 'risk', start: 0, end: 86_400_000, rank: 1, key: 'c1', score: 0.9, ref: 'tx-1', time: 5 };
    const [call] = buildQueueCalls({ prefix: 'p', stateTtl: 1000 }, [line]);
    expect(call.script).toBe('queue');
    expect(call.keys.slice(0, 2)).toEqual(['p:queue:risk:0', 'p:queue:index']);
    expect(call.args[1]).toBe('c1');
    expect(parseQueueLine(call.args[2])).toEqual(line);
    expect(JSON.parse(call.args[4])).toEqual({ detector: 'risk', pipeline: 'cards', start: 0, end: 86_400_000 });
    expect(queueKeys({ prefix: 'p', cluster: true }, 'risk', 0)).toEqual(['{p:queue}:risk:0', '{p:queue}:index']);
    expect(queuePeriodKey('p', 'risk', 0, true)).toBe('{p:queue}:risk:0');
    expect(queueIndexKey('p', true)).toBe('{p:queue}:index');
  });

  it('stores every period the replay published, line for line, with an expiry', async () => {
    const periods = referencePeriods();
    expect(periods.length).toBeGreaterThanOrEqual(3);
    expect(await redis.zcard(queueIndexKey(ns))).toBe(periods.length);
    for (const p of periods) {
      const hash = await redis.hgetall(queuePeriodKey(ns, 'risk', p.start));
      const stored = Object.entries(hash)
        .filter(([f]) => f.startsWith('k:'))
        .map(([, t]) => parseQueueLine(t) as QueueEntry);
      expect(stored.sort((a, b) => a.rank - b.rank)).toEqual(p.lines);
      expect(await redis.pttl(queuePeriodKey(ns, 'risk', p.start))).toBeGreaterThan(0);
    }
  });

  it('merges the lines several tasks publish for one period, ranked by risk then key; publishing again changes nothing', async () => {
    const at = `${ns}:tasks`;
    const sink = create(schema.parse({ name: 'tasks', type: 'redis', url: services().redisUrl, prefix: at, channel: '', outputs: ['queue'] }), ctx);
    const line = (key: string, score: number, rank: number): QueueEntry => ({ pipeline: 'cards', detector: 'risk', start: 0, end: 86_400_000, rank, key, score, ref: `tx-${key}`, time: 1000 });
    // Two partitions' tasks: each ranks its own keys 1, 2...
    const taskA = [line('a1', 0.9, 1), line('a2', 0.5, 2)];
    const taskB = [line('b1', 0.7, 1), line('b2', 0.5, 2)];
    const write = (lines: QueueEntry[]) => sink.write({ ...emptyBatch(0), queue: lines });
    await write(taskA);
    await write(taskB);
    await write(taskA);
    await sink.close();
    const store = new QueueStore(redis, at);
    const ranked = await store.lines('risk', 0, 10);
    expect(ranked?.map((q) => [q.key, q.rank])).toEqual([['a1', 1], ['b1', 2], ['a2', 3], ['b2', 4]]);
    expect((await store.lines('risk', 0, 2))?.map((q) => q.key)).toEqual(['a1', 'b1']);
    expect(await store.periods(10)).toEqual([{ detector: 'risk', pipeline: 'cards', start: 0, end: 86_400_000, lines: 4 }]);
  });
});

describe('the console serves the morning queue', () => {
  it('lists the periods newest first and serves each period as the replay published it, cut to the capacity asked for', async () => {
    const expected = referencePeriods();
    const { status, body } = await get('/api/queue/periods');
    expect(status).toBe(200);
    const periods = body.periods as Array<{ detector: string; start: number; end: number; lines: number }>;
    expect(periods.map((p) => p.start)).toEqual(expected.map((p) => p.start));
    expect(periods.map((p) => p.lines)).toEqual(expected.map((p) => p.lines.length));
    expect(periods.every((p) => p.detector === 'risk' && p.end - p.start === 86_400_000)).toBe(true);

    for (const p of expected) {
      const r = await get(`/api/queue?detector=risk&start=${p.start}`);
      expect(r.status).toBe(200);
      expect(r.body.lines).toEqual(p.lines);
    }
    const latest = await get('/api/queue?k=5');
    expect(latest.body.period).toMatchObject({ detector: 'risk', start: expected[0].start });
    expect(latest.body.lines).toEqual(expected[0].lines.slice(0, 5));
  });

  it('refuses bad parameters, unknown periods and requests without a token', async () => {
    expect((await get('/api/queue?detector=risk&start=yesterday')).status).toBe(400);
    expect((await get('/api/queue?start=0')).status).toBe(400);
    expect((await get('/api/queue?detector=risk&start=99999999999999999')).status).toBe(400);
    expect((await get('/api/queue?k=0')).status).toBe(400);
    const missing = await get('/api/queue?detector=risk&start=0');
    expect(missing.status).toBe(404);
    expect((missing.body.error as { message: string }).message).toContain('no queue of detector "risk"');
    expect((await get('/api/queue', {})).status).toBe(401);
    expect((await get('/api/queue/periods', { authorization: 'Bearer wrong-token-1234567890' })).status).toBe(401);
  });
});

describe('the morning queue page', () => {
  let browser: Browser;
  beforeAll(async () => {
      mkdirSync(SHOTS, { recursive: true });
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });

  it('shows the newest queue ranked, cut to the capacity, and opens a key on its payments and alerts', async () => {
    const expected = referencePeriods()[0].lines;
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(`${server.url}/login`);
    await page.fill('#token', TOKEN);
    await Promise.all([page.waitForURL(`${server.url}/`), page.click('button[type=submit]')]);
    await page.click('nav a[href="/queue"]');
    await page.waitForSelector('#queue tbody tr');
    expect(await page.locator('#queue tbody tr').count()).toBe(Math.min(20, expected.length));
    await page.fill('#q-k', '5');
    await page.click('#queue-form button[type=submit]');
    await page.waitForFunction(() => document.querySelectorAll('#queue tbody tr').length === 5);
    const keys = await page.locator('#queue tbody tr button.key').allTextContents();
    expect(keys).toEqual(expected.slice(0, 5).map((q) => q.key));

    // The best-ranked key with alerts opens on them, on the payments they name and on its riskiest payment.
    const withAlerts = new Set(reference.alerts.map((a) => a.key));
    const target = expected.find((q) => withAlerts.has(q.key));
    if (target === undefined) throw new Error('no key of the newest queue has alerts: the generated data changed');
    await page.fill('#q-k', String(Math.max(5, target.rank)));
    await page.click('#queue-form button[type=submit]');
    await page.waitForFunction((n) => document.querySelectorAll('#queue tbody tr').length === n, Math.max(5, target.rank));
    await page.click(`#queue tbody tr[data-key="${target.key}"] button.key`);
    const details = page.locator('#queue tr.details');
    await details.locator('h3', { hasText: 'Alerts' }).waitFor();
    expect(await details.locator('ul.payments li').first().textContent()).toContain(target.ref);
    expect(await details.locator('p.triage').textContent()).toContain('not triaged yet');
    const alertsOfKey = reference.alerts.filter((a) => a.key === target.key);
    expect(await details.locator('ul.alerts li').count()).toBe(Math.min(50, alertsOfKey.length));
    expect(await details.locator('ul.alerts a').first().getAttribute('href')).toMatch(/^\/alerts\//);
    for (const ref of alertsOfKey.flatMap((a) => a.evidence).slice(0, 5)) expect(await details.locator('ul.payments').textContent()).toContain(ref);
    const shot = join(SHOTS, 'queue.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(statSync(shot).size).toBeGreaterThan(10_000);
    expect(errors).toEqual([]);
    await page.close();
  });
});
