/**
 * The console's live page in a real browser: headless Debian Chromium (/usr/bin/chromium, installed by
 * .ci/run) driven by playwright-core, against the real Redis of the global setup. Alerts are written
 * by the real redis sink under this run's own namespace (removed afterwards). No browser is
 * downloaded; without Chromium the test fails. Screenshots go to test-artifacts/console/.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create, schema } from '../../sinks/redis.js';
import type { Sink, SinkContext } from '../../sinks/types.js';
import { tokensFromEnv } from '../../src/console/auth.js';
import { startConsole, type ConsoleServer } from '../../src/console/server.js';
import { silentLogger } from '../../src/log.js';
import type { Alert } from '../../src/types.js';
import { alertBatch, ALERT_T0, sampleAlert } from '../helpers/alerts.js';
import { ROOT } from '../helpers/cli.js';
import { deleteKeys } from '../helpers/redis-keys.js';
import { services } from '../infra/index.js';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = join(ROOT, 'test-artifacts', 'console');
const TOKEN = `read-${randomUUID()}`;
const ns = `vigie:test:console-page:${randomUUID()}`;
const ctx: SinkContext = { baseDir: process.cwd(), stdout: process.stdout, logger: silentLogger };
const T = ALERT_T0;

let redis: Redis;
let writer: Sink;
let server: ConsoleServer;
let browser: Browser;

async function write(alerts: Alert[]): Promise<void> {
  for (const a of alerts) await writer.write(alertBatch([a]));
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: the console's browser test needs Debian's chromium (apt-get install -y --no-install-recommends chromium; .ci/run installs it)`);
  }
  mkdirSync(SHOTS, { recursive: true });
  const url = services().redisUrl;
  redis = new Redis(url, { lazyConnect: true });
  await redis.connect();
  writer = create(schema.parse({ name: 'page', type: 'redis', url, stream: `${ns}:alerts`, prefix: `${ns}:page`, channel: '' }), ctx);
  await write([
    sampleAlert('old-1', 'card-1', { eventTime: T + 1000 }),
    sampleAlert('old-2', 'card-2', { detector: 'velocity', severity: 'medium', eventTime: T + 2000, explanation: '<img src=x onerror="window.pwned=1"> 3 payments' }),
    sampleAlert('old-3', 'card-3', { severity: 'critical', eventTime: T + 3000 }),
  ]);
  server = await startConsole({ target: { connection: { url }, streams: [`${ns}:alerts`] }, tokens: tokensFromEnv({ VIGIE_CONSOLE_TOKEN: TOKEN }), logger: silentLogger, port: 0 });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await writer?.close();
  if (redis !== undefined) {
    await deleteKeys(redis, ns);
    redis.disconnect();
  }
});

describe('console sign-in over HTTP', () => {
  const login = (token: string) =>
    fetch(`${server.url}/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token }) });

  it('trades a valid token for an HttpOnly, SameSite=Strict session cookie; a wrong one gets the form again with 401', async () => {
    // Another site cannot sign a browser in, even with a valid token.
    const crossSite = (headers: Record<string, string>) =>
      fetch(`${server.url}/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams({ token: TOKEN }) });
    for (const headers of [{ 'sec-fetch-site': 'cross-site' }, { 'sec-fetch-site': 'same-site' }, { origin: 'http://evil.example' }]) {
      const r = await crossSite(headers);
      expect(r.status, JSON.stringify(headers)).toBe(403);
      expect(r.headers.get('set-cookie')).toBeNull();
    }
    expect((await crossSite({ 'sec-fetch-site': 'same-origin' })).status).toBe(303);
    const bad = await login('not-the-token-at-all');
    expect(bad.status).toBe(401);
    expect(bad.headers.get('set-cookie')).toBeNull();
    expect(await bad.text()).toContain('That token is not valid.');

    const ok = await login(TOKEN);
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/');
    const cookie = ok.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^vigie_console=[0-9a-f]{64}; HttpOnly; SameSite=Strict; Path=\//);
    const session = cookie.split(';')[0];
    expect((await fetch(`${server.url}/api/alerts`, { headers: { cookie: session } })).status).toBe(200);
    expect((await fetch(`${server.url}/api/alerts`, { headers: { cookie: 'vigie_console=' + 'a'.repeat(64) } })).status).toBe(401);

    // Signing out with the cookie needs a same-origin request.
    const logout = (headers: Record<string, string>) => fetch(`${server.url}/logout`, { method: 'POST', redirect: 'manual', headers: { cookie: session, ...headers } });
    expect((await logout({})).status).toBe(403);
    expect((await logout({ origin: 'http://evil.example' })).status).toBe(403);
    expect((await logout({ 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await fetch(`${server.url}/api/alerts`, { headers: { cookie: session } })).status).toBe(200);
    const out = await logout({ origin: server.url });
    expect(out.status).toBe(303);
    expect(out.headers.get('location')).toBe('/login');
    expect((await fetch(`${server.url}/api/alerts`, { headers: { cookie: session } })).status).toBe(401);
  });

  it('redirects a page load without a session to /login; the API still answers 401 JSON', async () => {
    const page = await fetch(`${server.url}/`, { redirect: 'manual' });
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe('/login');
    const api = await fetch(`${server.url}/api/counts`);
    expect(api.status).toBe(401);
    expect((await api.json()).error.code).toBe('unauthorized');
    expect((await fetch(`${server.url}/assets/console.js`)).status).toBe(401);
    const form = await fetch(`${server.url}/login`);
    expect(form.status).toBe(200);
    expect(form.headers.get('content-security-policy')).toContain("default-src 'self'");
  });
});

describe('console live page (in headless Chromium)', () => {
  let context: BrowserContext;
  let page: Page;
  const problems: string[] = [];
  const ids = () => page.locator('#alerts tbody tr').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.id));
  const count = (detector: string) => page.locator(`#counts li[data-detector="${detector}"] .n`).textContent();
  const live = () => page.waitForSelector('body[data-live="open"]', { timeout: 10_000 });

  beforeAll(async () => {
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    page.on('console', (m) => {
      // The refused sign-in (401) is the one failed load expected.
      const refusedSignIn = m.text().includes('status of 401') && m.location().url === `${server.url}/login`;
      if ((m.type() === 'error' || m.type() === 'warning') && !refusedSignIn) problems.push(`console ${m.type()}: ${m.text()} (${m.location().url})`);
    });
    page.on('response', (r) => {
      const refusedSignIn = r.status() === 401 && r.request().method() === 'POST' && r.url() === `${server.url}/login`;
      if (r.status() >= 400 && !refusedSignIn) problems.push(`${r.status()}: ${r.request().method()} ${r.url()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('request', (r) => {
      if (!r.url().startsWith(server.url)) problems.push(`request: ${r.url()}`);
    });
  });

  afterAll(async () => {
    await context?.close();
  });

  it('sends a visitor without a session to the sign-in form, and refuses a wrong token', async () => {
    await page.goto(`${server.url}/`);
    expect(new URL(page.url()).pathname).toBe('/login');
    await page.fill('#token', 'not-the-token-at-all');
    const [refused] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/login') && r.request().method() === 'POST'), page.click('button[type=submit]')]);
    expect(refused.status()).toBe(401);
    expect(await page.locator('.error').textContent()).toContain('not valid');
    expect((await context.cookies()).length).toBe(0);
  });

  it('after signing in, lists the existing alerts newest first, with counts per detector', async () => {
    await page.fill('#token', TOKEN);
    await Promise.all([page.waitForURL(`${server.url}/`), page.click('button[type=submit]')]);
    await live();
    expect(await ids()).toEqual(['old-3', 'old-2', 'old-1']);
    const first = await page.locator('#alerts tbody tr').first().locator('td').allTextContents();
    expect(first).toEqual(['2026-01-01 10:00:03', 'critical', 'card-testing', 'card-3', '14 > 10 for card-3', '14 / 10']);
    // Alert data is text, never markup.
    expect(await page.locator('#alerts tbody tr[data-id="old-2"] td').nth(4).textContent()).toBe('<img src=x onerror="window.pwned=1"> 3 payments');
    expect(await page.locator('#alerts img').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
    expect(await count('card-testing')).toBe('2');
    expect(await count('velocity')).toBe('1');
    const cookie = (await context.cookies()).find((c) => c.name === 'vigie_console');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
  });

  it('shows an alert appended after the page loaded, without reload', async () => {
    await write([sampleAlert('new-1', 'card-4', { severity: 'high', eventTime: T + 4000 })]);
    await page.waitForSelector('#alerts tbody tr[data-id="new-1"]', { timeout: 10_000 });
    expect(await ids()).toEqual(['new-1', 'old-3', 'old-2', 'old-1']);
    await page.waitForFunction(() => document.querySelector('#counts li[data-detector="card-testing"] .n')?.textContent === '3');
    const shot = join(SHOTS, 'live.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(statSync(shot).size).toBeGreaterThan(10_000);
  });

  it('filters by severity, detector and event time, and keeps the live feed filtered; a time it cannot read is said', async () => {
    await page.selectOption('#f-severity', 'critical');
    await live();
    expect(await ids()).toEqual(['old-3']);
    await write([sampleAlert('new-2', 'card-5', { severity: 'low' }), sampleAlert('new-3', 'card-5', { severity: 'critical' })]);
    await page.waitForSelector('#alerts tbody tr[data-id="new-3"]', { timeout: 10_000 });
    expect(await ids()).toEqual(['new-3', 'old-3']);

    await page.selectOption('#f-severity', '');
    await page.fill('#f-detector', 'velocity');
    await page.click('#filters button[type=submit]');
    await live();
    expect(await ids()).toEqual(['old-2']);
    expect(await page.locator('#counts li').count()).toBe(1);
    await page.screenshot({ path: join(SHOTS, 'filtered.png'), fullPage: true });

    await page.fill('#f-detector', '');
    // Event-time bounds: since inclusive (ms), until exclusive (ISO-8601).
    await page.fill('#f-since', String(T + 2000));
    await page.fill('#f-until', new Date(T + 3000).toISOString());
    await page.click('#filters button[type=submit]');
    await live();
    expect(await ids()).toEqual(['old-2']);
    // A time the server cannot read: its message, and no feed retrying in a loop.
    const before = problems.length;
    await page.fill('#f-since', 'yesterday');
    await page.click('#filters button[type=submit]');
    await page.waitForSelector('body[data-live="error"]', { timeout: 10_000 });
    expect(await page.locator('#status').textContent()).toContain('since: "yesterday" is neither an ISO-8601 time');
    expect(await page.locator('#alerts tbody tr').count()).toBe(0);
    // The refused request is this step's own (the browser reports it); nothing else went wrong.
    expect(problems.slice(before).every((p) => p.includes('since=yesterday'))).toBe(true);
    problems.splice(before);
    await page.fill('#f-since', '');
    await page.fill('#f-until', '');
    await page.click('#filters button[type=submit]');
    await live();
    expect(await ids()).toEqual(['new-3', 'new-2', 'new-1', 'old-3', 'old-2', 'old-1']);
  });

  it('holds new alerts back while paused, counting them, and shows them on resume', async () => {
    await page.click('#pause');
    expect(await page.locator('#pause').textContent()).toBe('Resume');
    await write([sampleAlert('held-1', 'card-6', { eventTime: T + 6000 }), sampleAlert('held-2', 'card-7', { eventTime: T + 7000 })]);
    await page.waitForFunction(() => document.getElementById('queued')?.textContent === '2 new while paused', undefined, { timeout: 10_000 });
    expect(await page.locator('#alerts tbody tr[data-id^="held-"]').count()).toBe(0);
    expect(await count('card-testing')).toBe('7');
    await page.screenshot({ path: join(SHOTS, 'paused.png'), fullPage: true });
    await page.click('#pause');
    expect(await page.locator('#pause').textContent()).toBe('Pause');
    expect((await ids()).slice(0, 3)).toEqual(['held-2', 'held-1', 'new-3']);
    expect(await page.locator('#queued').textContent()).toBe('');
    expect(problems).toEqual([]);
  });

  it('signs out: the page goes back to the sign-in form', async () => {
    await Promise.all([page.waitForURL(`${server.url}/login`), page.click('header button[type=submit]')]);
    await page.goto(`${server.url}/`);
    expect(new URL(page.url()).pathname).toBe('/login');
  });
});
