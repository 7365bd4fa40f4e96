import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderReport } from '../../src/backtest/report.js';
import type { Alert } from '../../src/types.js';
import { tempDir, vigie } from '../helpers/cli.js';

/**
 * The HTML report opened in a real browser: headless Debian Chromium (/usr/bin/chromium, installed by
 * .ci/run) driven by playwright-core. No browser is downloaded; without Chromium the test fails.
 */
const CHROMIUM = '/usr/bin/chromium';
const A = join('config', 'payments.yaml');
const DETECTORS = ['card-testing', 'mule-fan-in', 'impossible-travel', 'account-takeover', 'takeover-risk'];

let dir: string;
let events: string;
let B: string;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: the report's browser test needs Debian's chromium (apt-get install -y --no-install-recommends chromium; .ci/run installs it)`);
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  dir = tempDir('vigie-report-');
  events = join(dir, 'payments.ndjson');
  const g = vigie(['generate', '--scenario', 'payments', '--events', '30000', '--seed', '3', '--out', events]);
  expect(g.status, g.stderr).toBe(0);
  B = join(dir, 'payments-b.yaml');
  const text = readFileSync(A, 'utf8');
  const changed = text.replace(/(- name: card-testing\n(?:\s+.*\n)*?\s+value: )8\n/, '$112\n');
  expect(changed).not.toBe(text);
  writeFileSync(B, changed);
}, 120_000);

afterAll(async () => {
  await browser?.close();
});

interface Opened {
  page: Page;
  problems: string[];
}

/** Open a file, recording console errors, page errors, dialogs and any request other than the file itself. */
async function open(file: string): Promise<Opened> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const url = pathToFileURL(file).href;
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('dialog', (d) => {
    problems.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  page.on('request', (r) => {
    if (r.url() !== url) problems.push(`request: ${r.url()}`);
  });
  const res = await page.goto(url, { waitUntil: 'load' });
  expect(res?.ok() ?? true).toBe(true);
  return { page, problems };
}

function isPng(file: string): boolean {
  const b = readFileSync(file);
  return b.length > 8 && b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
}

describe('vigie replay --report (in headless Chromium)', () => {
  it('renders the what-if report: sections, one chart per detector with bars, thresholds, top keys; no error', async () => {
    const report = join(dir, 'whatif.html');
    const r = vigie(['replay', '-c', A, '--input', events, '--compare', B, '--labels', '--report', report]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^What-if over /m);
    const html = readFileSync(report, 'utf8');
    // Self-contained: no script, nothing fetched.
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/(src|href)\s*=\s*["']?(https?:)?\/\//i);
    expect(html).not.toMatch(/@import|url\(/i);

    const { page, problems } = await open(report);
    expect(await page.locator('h1').textContent()).toBe('Vigie what-if report');
    expect(await page.locator('#summary h2').textContent()).toBe('Alerts per detector');
    expect(await page.locator('#recall h2').textContent()).toBe('Recall per typology');
    expect(await page.locator('#detectors h2').textContent()).toBe('Detectors');
    expect(await page.locator('#top-keys h2').textContent()).toBe('Top keys');
    // Summary: one row per detector, with A, B, only A, only B, both.
    expect(await page.locator('table.summary tbody tr').count()).toBe(DETECTORS.length);
    expect(await page.locator('table.summary thead th').allTextContents()).toEqual(expect.arrayContaining(['A', 'B', 'only A', 'only B', 'both', 'precision A', 'precision B']));
    expect(await page.locator('table.recall tbody tr').count()).toBeGreaterThan(0);

    const articles = page.locator('article.detector');
    expect(await articles.evaluateAll((els) => els.map((e) => e.getAttribute('data-detector')))).toEqual(DETECTORS);
    let withAlerts = 0;
    for (let i = 0; i < (await articles.count()); i++) {
      const art = articles.nth(i);
      const name = await art.getAttribute('data-detector');
      const alerts = Number(await art.getAttribute('data-alerts-a')) + Number(await art.getAttribute('data-alerts-b'));
      expect(await art.locator('figure.chart-time svg').count(), `${name}: time chart`).toBe(1);
      expect(await art.locator('figure.chart-observed svg').count(), `${name}: values chart`).toBe(1);
      if (alerts === 0) continue;
      withAlerts++;
      const box = await art.locator('figure.chart-time svg').boundingBox();
      expect(box!.width, `${name}: chart width`).toBeGreaterThan(300);
      expect(box!.height, `${name}: chart height`).toBeGreaterThan(100);
      expect(await art.locator('figure.chart-time svg rect.bar').count(), `${name}: bars over time`).toBeGreaterThan(0);
      expect(await art.locator('figure.chart-time svg rect.bar-a').count(), `${name}: A bars`).toBeGreaterThan(0);
      expect(await art.locator('figure.chart-time svg rect.bar-b').count(), `${name}: B bars`).toBeGreaterThan(0);
      expect(await art.locator('figure.chart-observed svg rect.bar').count(), `${name}: histogram bars`).toBeGreaterThan(0);
      expect(await art.locator('figure.chart-observed svg line.threshold').count(), `${name}: threshold marked`).toBeGreaterThan(0);
    }
    expect(withAlerts).toBeGreaterThanOrEqual(5);
    // The changed detector: both thresholds marked, and the distribution of every value they judge.
    const ct = page.locator('article[data-detector="card-testing"]');
    expect(await ct.locator('figure.chart-observed svg line.threshold-a').count()).toBe(1);
    expect(await ct.locator('figure.chart-observed svg line.threshold-b').count()).toBe(1);
    expect(await ct.locator('figure.chart-observed svg text.threshold-label').allTextContents()).toEqual(['A: >= 8', 'B: >= 12']);
    expect(await ct.locator('figure.chart-evaluated svg rect.bar').count()).toBeGreaterThan(0);
    expect(await ct.locator('.example.side-a').count()).toBe(1);
    expect(await ct.locator('.example.side-a strong').textContent()).toBe('Only in A, e.g.');
    // B (>= 12) fires on a later payment of bursts A (>= 8) also alerted: the same alerts, so none is only in B.
    expect(await ct.locator('.example.side-b').count()).toBe(0);

    const rows = page.locator('table.top-keys tbody tr');
    expect(await rows.count()).toBeGreaterThan(0);
    expect(await page.locator('table.top-keys thead th').allTextContents()).toEqual(['key', 'detector', 'alerts A', 'alerts B']);
    expect(await rows.first().locator('td').count()).toBe(4);
    expect(Number(await rows.first().locator('td').nth(2).textContent())).toBeGreaterThan(0);

    const shot = join(dir, 'whatif.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(isPng(shot)).toBe(true);
    expect(statSync(shot).size).toBeGreaterThan(20_000);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('works without --compare: the report of A alone, the summary on stdout', async () => {
    const report = join(dir, 'alone.html');
    const r = vigie(['replay', '-c', A, '--input', events, '--report', report]);
    expect(r.status, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.alerts.total).toBeGreaterThan(0);
    const { page, problems } = await open(report);
    expect(await page.locator('h1').textContent()).toBe('Vigie backtest report');
    expect(await page.locator('table.summary thead th').allTextContents()).toEqual(['detector', 'alerts']);
    expect(await page.locator('#recall').count()).toBe(0);
    expect(await page.locator('article.detector').count()).toBe(DETECTORS.length);
    expect(await page.locator('svg rect.bar-b').count()).toBe(0);
    expect(await page.locator('article[data-detector="card-testing"] figure.chart-time svg rect.bar-a').count()).toBeGreaterThan(0);
    expect(await page.locator('table.top-keys thead th').allTextContents()).toEqual(['key', 'detector', 'alerts']);
    expect(await page.locator('table.top-keys tbody tr').count()).toBeGreaterThan(0);
    const shot = join(dir, 'alone.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(isPng(shot)).toBe(true);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('escapes data: keys, names and explanations are shown as text, never run', async () => {
    const hostile = `<img src=x onerror="window.__pwned=1;alert(1)">`;
    const explanation = `</div><script>window.__pwned=2;alert(2)</script> & "quotes" 'too'`;
    const mk = (i: number, p: Partial<Alert> = {}): Alert => ({
      id: `id${i}`,
      detector: `d<b>${i % 2}</b>`,
      detectorType: 'threshold',
      pipeline: 'p',
      severity: 'high',
      key: hostile,
      window: null,
      revision: 0,
      eventTime: Date.parse('2026-01-01T00:00:00Z') + i * 3_600_000,
      detectedAt: 0,
      observed: 10 + i,
      threshold: 8,
      score: 1,
      explanation,
      evidence: [],
      configVersion: 'v',
      ...p,
    });
    const html = renderReport({
      input: `file <${hostile}>`,
      a: { config: `a<script>.yaml`, version: '"v"', events: 10, alerts: [mk(0), mk(1), mk(2)], detectors: ['d<b>0</b>', 'd<b>1</b>'], thresholds: new Map(), evaluated: new Map() },
      b: { config: 'b.yaml', version: 'w', events: 10, alerts: [mk(0), mk(3)], detectors: ['d<b>0</b>', 'd<b>1</b>'], thresholds: new Map(), evaluated: new Map() },
    });
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toContain('<img');
    expect(html).toContain('&lt;img src=x onerror=&quot;window.__pwned=1;alert(1)&quot;&gt;');
    const file = join(dir, 'hostile.html');
    writeFileSync(file, html);
    const { page, problems } = await open(file);
    expect(await page.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.locator('table.top-keys tbody tr td code').first().textContent()).toBe(hostile);
    expect(await page.locator('.example').first().textContent()).toContain(explanation);
    expect(await page.locator('article.detector').evaluateAll((els) => els.map((e) => e.getAttribute('data-detector')))).toEqual(['d<b>0</b>', 'd<b>1</b>']);
    expect(problems).toEqual([]);
    await page.close();
  });
});
