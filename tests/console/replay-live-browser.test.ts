/**
 * Alerts appear live on the console's page while a replay writes them: the page is open (Debian
 * Chromium via playwright-core, signed in), then `vigie replay` runs as its own process with the
 * payments rules and a redis sink (real Redis of the global setup), and every alert it stored shows
 * up without a reload, with the counts per detector the stream holds.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { entryFields } from '../../src/console/alert-entry.js';
import { tokensFromEnv } from '../../src/console/auth.js';
import { startConsole, type ConsoleServer } from '../../src/console/server.js';
import { silentLogger } from '../../src/log.js';
import { ROOT, tempDir, vigie } from '../helpers/cli.js';
import { launchChromium } from '../helpers/console.js';
import { deleteKeys } from '../helpers/redis-keys.js';
import { services } from '../infra/index.js';

const SHOTS = join(ROOT, 'test-artifacts', 'console');
const TOKEN = `read-${randomUUID()}`;
const ns = `vigie:test:console-replay:${randomUUID()}`;

let dir: string;
let redis: Redis;
let server: ConsoleServer;
let browser: Browser;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  dir = tempDir('vigie-console-replay-');
  const url = services().redisUrl;
  const rules = readFileSync(join(ROOT, 'config', 'payments.yaml'), 'utf8').replace(
    /^sinks:[\s\S]*?(?=^metrics:)/m,
    `sinks:\n  - { name: unit, type: redis, url: "${url}", stream: "${ns}:alerts", prefix: "${ns}" }\n`,
  );
  writeFileSync(join(dir, 'payments.yaml'), rules);
  const gen = vigie(['generate', '--scenario', 'payments', '--events', '6000', '--seed', '3', '--out', join(dir, 'payments.ndjson')]);
  expect(gen.status, gen.stderr).toBe(0);
  redis = new Redis(url, { lazyConnect: true });
  await redis.connect();
  server = await startConsole({ target: { connection: { url }, streams: [`${ns}:alerts`], prefix: ns }, tokens: tokensFromEnv({ VIGIE_CONSOLE_TOKEN: TOKEN }), logger: silentLogger, port: 0 });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (redis !== undefined) {
    await deleteKeys(redis, ns);
    redis.disconnect();
  }
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

it('shows, without a reload, every alert a replay stores while the page is open', async () => {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${server.url}/login`);
  await page.fill('#token', TOKEN);
  await Promise.all([page.waitForURL(`${server.url}/`), page.click('button[type=submit]')]);
  await page.waitForFunction(() => document.body.dataset.live === 'open');
  expect(await page.locator('#alerts tbody tr').count()).toBe(0);

  // Its own process, not awaited synchronously: the console (in this process) serves the page meanwhile.
  const child = spawn(process.execPath, [join(ROOT, 'bin/vigie.js'), 'replay', '-c', join(dir, 'payments.yaml'), '--input', `payments=${join(dir, 'payments.ndjson')}`], {
    cwd: ROOT,
    env: { ...process.env, VIGIE_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exit = await new Promise<number | null>((resolve) => child.once('close', resolve));
  expect(exit, stderr).toBe(0);
  const entries = await redis.xrange(`${ns}:alerts`, '-', '+');
  expect(entries.length).toBeGreaterThan(5);
  expect(entries.length).toBeLessThanOrEqual(500); // the page keeps the newest 500 rows

  await page.waitForFunction((n) => document.querySelectorAll('#alerts tbody tr').length === n, entries.length, { timeout: 20_000 });
  const perDetector: Record<string, number> = {};
  for (const [, flat] of entries) {
    const d = entryFields(flat).detector;
    perDetector[d] = (perDetector[d] ?? 0) + 1;
  }
  const shown: Record<string, number> = {};
  for (const li of await page.locator('#counts li').allTextContents()) {
    const m = /^(.+?)\s*(\d+)$/.exec(li.trim());
    if (m !== null) shown[m[1].trim()] = Number(m[2]);
  }
  expect(shown).toEqual(perDetector);
  const newest = entryFields(entries[entries.length - 1][1]);
  expect(await page.locator('#alerts tbody tr').first().textContent()).toContain(newest.explanation);
  await page.screenshot({ path: join(SHOTS, 'live-after-replay.png'), fullPage: true });
  expect(errors).toEqual([]);
  await page.close();
}, 120_000);
