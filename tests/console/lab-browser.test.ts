/**
 * The console's lab in a real browser: headless Debian Chromium (/usr/bin/chromium) driven by
 * playwright-core. An analyst signs in, opens the lab, picks a generated dataset, edits the current
 * config (an error shows at its line while typing, then is fixed, then a threshold changes), runs a
 * what-if and reads the report in its sandboxed frame. Screenshots go to test-artifacts/console/.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokensFromEnv } from '../../src/console/auth.js';
import { startConsole, type ConsoleServer } from '../../src/console/server.js';
import { silentLogger } from '../../src/log.js';
import { ROOT, tempDir, vigie } from '../helpers/cli.js';
import { launchChromium } from '../helpers/console.js';
import { labConfig } from '../helpers/lab-config.js';
import { deleteKeys } from '../helpers/redis-keys.js';
import { services } from '../infra/index.js';

const SHOTS = join(ROOT, 'test-artifacts', 'console');
const ANALYST_TOKEN = `analyst-${randomUUID()}`;
const READ_TOKEN = `read-${randomUUID()}`;
const ns = `vigie:test:console-lab-page:${randomUUID()}`;

let redis: Redis;
let server: ConsoleServer;
let browser: Browser;
let liveText: string;
let root: string | undefined;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  const url = services().redisUrl;
  redis = new Redis(url, { lazyConnect: true });
  await redis.connect();
  root = tempDir('vigie-test-lab-page-');
  const labDir = join(root, 'lab');
  mkdirSync(labDir);
  const gen = vigie(['generate', '-n', '3000', '--seed', '5', '--out', join(labDir, 'payments.jsonl')]);
  expect(gen.status, gen.stderr).toBe(0);
  liveText = labConfig(url, ns);
  const configFile = join(root, 'live.yaml');
  writeFileSync(configFile, liveText);
  server = await startConsole({
    target: { connection: { url }, streams: [`${ns}:alerts`] },
    tokens: tokensFromEnv({ VIGIE_CONSOLE_TOKEN: READ_TOKEN, VIGIE_CONSOLE_ANALYST_TOKEN: ANALYST_TOKEN }),
    logger: silentLogger,
    port: 0,
    lab: { dir: labDir, config: configFile },
  });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (redis !== undefined) {
    await deleteKeys(redis, ns);
    redis.disconnect();
  }
  if (root !== undefined) rmSync(root, { recursive: true, force: true });
});

async function signIn(context: BrowserContext, token: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${server.url}/login`);
  await page.fill('#token', token);
  await Promise.all([page.waitForURL(`${server.url}/`), page.click('button[type=submit]')]);
  return page;
}

/** Select `length` characters of the editor from the first `find`, offset by `skip`. */
async function select(page: Page, find: string, skip: number, length: number): Promise<void> {
  await page.locator('#config').evaluate(
    (t, [f, s, n]) => {
      const area = t as HTMLTextAreaElement;
      const at = area.value.indexOf(f as string) + (s as number);
      area.focus();
      area.setSelectionRange(at, at + (n as number));
    },
    [find, skip, length] as const,
  );
}

describe('console lab (in headless Chromium)', () => {
  let context: BrowserContext;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await signIn(context, ANALYST_TOKEN);
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('response', (r) => {
      if (r.status() >= 400) problems.push(`${r.status()}: ${r.request().method()} ${r.url()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('request', (r) => {
      if (!r.url().startsWith(server.url)) problems.push(`request: ${r.url()}`);
    });
  });

  afterAll(async () => {
    await context?.close();
  });

  it('opens the lab from the navigation: datasets listed, the current config in the editor, valid', async () => {
    await Promise.all([page.waitForURL(`${server.url}/lab`), page.click('header nav a[href="/lab"]')]);
    await page.waitForSelector('body[data-ready="1"]', { timeout: 10_000 });
    expect(await page.locator('header nav a[aria-current="page"]').textContent()).toBe('Lab');
    expect(await page.locator('#dataset option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value))).toEqual(['payments.jsonl']);
    await page.selectOption('#dataset', 'payments.jsonl');
    expect(await page.locator('#config').inputValue()).toBe(liveText);
    expect(await page.locator('#validity').textContent()).toBe('Valid');
    // One source: nothing to choose.
    expect(await page.locator('#source-field').isHidden()).toBe(true);
    expect(await page.locator('#gutter div').count()).toBe(liveText.split('\n').length);
    // A Kafka time range instead of a dataset: its fields, and a topic needed to run.
    await page.selectOption('#input-kind', 'kafka');
    expect(await page.locator('#dataset-field').isHidden()).toBe(true);
    expect(await page.locator('#kafka-fields').isVisible()).toBe(true);
    expect(await page.locator('#k-since').inputValue()).toBe('24h');
    expect(await page.locator('#run').isDisabled()).toBe(true);
    await page.fill('#k-topic', 'payments');
    expect(await page.locator('#run').isDisabled()).toBe(false);
    await page.selectOption('#input-kind', 'dataset');
    expect(await page.locator('#kafka-fields').isHidden()).toBe(true);
  });

  it('reports an error at its line while typing, jumps to it from the list, and clears it once fixed', async () => {
    const line = liveText.split('\n').findIndex((l) => l.includes('value: 3')) + 1;
    await select(page, 'value: 3', 7, 1);
    await page.keyboard.type('x');
    await page.waitForSelector(`#problems li.error[data-line="${line}"]`, { timeout: 10_000 });
    expect(await page.locator('#validity').textContent()).toBe('1 problem');
    const item = await page.locator('#problems li.error button').textContent();
    expect(item).toContain(`line ${line}: pipelines[0].detectors[0].value`);
    expect(await page.locator(`#gutter .mark-error`).textContent()).toBe(String(line));
    await page.screenshot({ path: join(SHOTS, 'lab-error.png'), fullPage: true });

    // The list takes the caret to the line.
    await select(page, 'name: lab-live', 0, 0);
    await page.click('#problems li.error button');
    const caretLine = await page.locator('#config').evaluate((t) => {
      const area = t as HTMLTextAreaElement;
      return area.value.slice(0, area.selectionStart).split('\n').length;
    });
    expect(caretLine).toBe(line);

    await select(page, 'value: x', 7, 1);
    await page.keyboard.type('3');
    await page.waitForSelector('body[data-valid="yes"]', { timeout: 10_000 });
    expect(await page.locator('#problems li').count()).toBe(0);
    expect(await page.locator('#gutter .mark-error').count()).toBe(0);
  });

  it('runs a what-if of a changed threshold: the summary per detector, then the report in its sandboxed frame', async () => {
    await select(page, 'value: 3', 7, 1);
    await page.keyboard.type('5');
    await page.waitForSelector('body[data-valid="yes"]', { timeout: 10_000 });
    expect(await page.locator('#config').inputValue()).toContain('value: 5');
    expect(await page.locator('input[name=mode][value="what-if"]').isChecked()).toBe(true);
    await page.click('#run');
    await page.waitForFunction(() => document.getElementById('run-status')?.textContent === 'Done', undefined, { timeout: 25_000 });
    const row = page.locator('#summary tbody tr[data-detector="busy-customer"]');
    const cells = (await row.locator('td').allTextContents()).map((c) => c.trim());
    expect(cells[0]).toBe('busy-customer');
    const [current, edited] = [Number(cells[1]), Number(cells[2])];
    expect(current).toBeGreaterThan(edited);
    expect(await row.getAttribute('class')).toBe('changed');
    expect(await page.locator('#recall').isVisible()).toBe(true);

    const frame = page.locator('#report');
    expect(await frame.getAttribute('sandbox')).toBe('');
    const report = page.frameLocator('#report');
    await report.locator('table.summary').waitFor({ timeout: 10_000 });
    expect(await report.locator('table.summary').textContent()).toContain('busy-customer');
    expect(await report.locator('svg').count()).toBeGreaterThan(0);
    expect(await report.locator('article.detector[data-detector="busy-customer"]').getAttribute('data-alerts-a')).toBe(String(current));
    expect(await report.locator('article.detector[data-detector="busy-customer"]').getAttribute('data-alerts-b')).toBe(String(edited));

    // A full-page capture leaves the sandboxed frame blank: a viewport tall enough for the whole page instead.
    const shot = join(SHOTS, 'lab.png');
    await page.setViewportSize({ width: 1280, height: 2000 });
    await report.locator('table.summary').waitFor();
    await page.screenshot({ path: shot });
    await page.setViewportSize({ width: 1280, height: 900 });
    expect(statSync(shot).size).toBeGreaterThan(20_000);
    const src = await frame.getAttribute('src');
    const full = await context.newPage();
    await full.goto(`${server.url}${src}`);
    await full.screenshot({ path: join(SHOTS, 'lab-report.png'), fullPage: true });
    expect(await full.locator('svg').count()).toBeGreaterThan(0);
    await full.close();

    expect(await page.locator('#runs li').count()).toBe(1);
    expect(problems).toEqual([]);
    // Nothing reached the live stream.
    expect(await redis.exists(`${ns}:alerts`)).toBe(0);
  });

  it('shows a failed run with its code, message and remedy', async () => {
    await select(page, 'aggregate: payments', 11, 8);
    await page.keyboard.type('paymnts');
    await page.waitForSelector('body[data-valid="no"]', { timeout: 10_000 });
    await page.click('#run');
    await page.waitForFunction(() => document.getElementById('run-status')?.textContent?.startsWith('Failed') === true, undefined, { timeout: 25_000 });
    expect(await page.locator('#run-error .error-code').textContent()).toBe('VIGIE_ERR_CONFIG');
    expect(await page.locator('#run-error .message').textContent()).toContain('paymnts');
    expect(await page.locator('#run-error .remedy').textContent()).toContain('Fix each listed problem');
    expect(await page.locator('#report').isHidden()).toBe(true);
    await page.screenshot({ path: join(SHOTS, 'lab-failed.png'), fullPage: true });
  });

  it('lets a read-only user read the runs but not start one', async () => {
    const ro = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      const p = await signIn(ro, READ_TOKEN);
      await p.goto(`${server.url}/lab`);
      await p.waitForSelector('body[data-ready="1"]', { timeout: 10_000 });
      expect(await p.locator('#run').isDisabled()).toBe(true);
      expect(await p.locator('#runs li').count()).toBe(2);
      await p.locator('#runs li.done button').click();
      await p.frameLocator('#report').locator('table.summary').waitFor({ timeout: 10_000 });
    } finally {
      await ro.close();
    }
  });
});
