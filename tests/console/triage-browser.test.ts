/**
 * The alert detail page and triage in a real browser: headless Debian Chromium (/usr/bin/chromium)
 * driven by playwright-core, against the real Redis of the global setup. Alerts are written by the real
 * redis sink under this run's own namespace, with the triage keys beside them (all removed afterwards).
 * Screenshots go to test-artifacts/console/.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALERT_T0, sampleAlert } from '../helpers/alerts.js';
import { ROOT } from '../helpers/cli.js';
import { consoleFixture, launchChromium, type ConsoleFixture } from '../helpers/console.js';

const SHOTS = join(ROOT, 'test-artifacts', 'console');
const READ_TOKEN = `read-${randomUUID()}`;
const ANALYST_TOKEN = `analyst-${randomUUID()}`;
const ns = `vigie:test:console-triage-page:${randomUUID()}`;
const T = ALERT_T0;
const COMMENT = 'Customer called: <b>not</b> their payments';

let fixture: ConsoleFixture;
let browser: Browser;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  fixture = await consoleFixture(ns, { VIGIE_CONSOLE_TOKEN: READ_TOKEN, VIGIE_CONSOLE_ANALYST_TOKEN: ANALYST_TOKEN }, [
    sampleAlert('k-old', 'card-7', { detector: 'velocity', detectorType: 'velocity', severity: 'medium', eventTime: T + 1000, explanation: '6 payments in 10 min for card-7', evidence: ['p-1'] }),
    sampleAlert('other', 'card-8', { eventTime: T + 2000, evidence: ['p-9'] }),
    sampleAlert('focus', 'card-7', { severity: 'critical', eventTime: T + 300_000, explanation: '14 payments in 5 min for card-7', evidence: ['p-2', 'p-3', 'p-4'], configVersion: 'cfg-42' }),
  ]);
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await fixture?.close();
});

/**
 * Runs `use` on a page of a fresh browser context signed in with `token`, recording every problem the
 * page meets (failed requests, script errors, requests elsewhere); the context is closed afterwards.
 */
async function asUser(token: string, use: (page: Page, problems: string[]) => Promise<void>): Promise<void> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`${r.status()}: ${r.request().method()} ${r.url()}`);
  });
  page.on('request', (r) => {
    if (!r.url().startsWith(fixture.server.url)) problems.push(`request: ${r.url()}`);
  });
  await page.goto(`${fixture.server.url}/login`);
  await page.fill('#token', token);
  await Promise.all([page.waitForURL(`${fixture.server.url}/`), page.click('button[type=submit]')]);
  await page.waitForSelector('body[data-live="open"]', { timeout: 10_000 });
  try {
    await use(page, problems);
  } finally {
    await context.close();
  }
}

const ready = (page: Page) => page.waitForSelector('body[data-detail="ready"]', { timeout: 10_000 });
const text = async (page: Page, selector: string) => ((await page.locator(selector).textContent()) ?? '').trim();

describe('alert detail page and triage (in headless Chromium)', () => {
  it('an analyst opens an alert from the live list, sees its detail, marks it confirmed_fraud; it persists and is exported', async () => {
    await asUser(ANALYST_TOKEN, async (page, problems) => {
      await Promise.all([page.waitForURL(`${fixture.server.url}/alerts/focus`), page.click('#alerts tbody tr[data-id="focus"] a')]);
      await ready(page);
      expect(await text(page, '#explanation')).toBe('14 payments in 5 min for card-7');
      expect(await text(page, '#observed')).toBe('14 against 10');
      expect(await text(page, '#severity')).toBe('critical');
      expect(await text(page, '#detector')).toBe('card-testing (threshold)');
      expect(await text(page, '#pipeline')).toBe('cards');
      expect(await text(page, '#key')).toBe('card-7');
      expect(await text(page, '#window')).toBe('2026-01-01 10:00:00.000 to 2026-01-01 10:05:00.000');
      expect(await text(page, '#config-version')).toBe('cfg-42');
      expect(await page.locator('#evidence li').allTextContents()).toEqual(['p-2', 'p-3', 'p-4']);
      expect(await page.locator('#details tbody tr').count()).toBe(2);
      // The key's other alert, linking to its own page; nothing of the other key.
      expect(await page.locator('#history tbody tr').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.id))).toEqual(['k-old']);
      expect(await page.locator('#history tbody tr a').getAttribute('href')).toBe('/alerts/k-old');
      expect(await text(page, '#alert-state')).toBe('new (not triaged)');
      expect(await page.locator('#alert-state-select').isEnabled()).toBe(true);

      await page.selectOption('#alert-state-select', 'confirmed_fraud');
      await page.fill('#alert-comment', COMMENT);
      await page.click('#alert-save');
      await page.waitForFunction(() => document.getElementById('alert-saved')?.textContent?.startsWith('saved'), undefined, { timeout: 10_000 });
      expect(await text(page, '#alert-saved')).toBe('saved (3 events labelled)');
      expect(await text(page, '#alert-state')).toBe('confirmed_fraud');

      await page.reload();
      await ready(page);
      expect(await text(page, '#alert-state')).toBe('confirmed_fraud');
      expect(await text(page, '#alert-current-comment')).toBe(COMMENT);
      expect(await page.locator('#alert-state-select').inputValue()).toBe('confirmed_fraud');
      expect(await page.locator('#alert-comment').inputValue()).toBe(COMMENT);
      expect(await page.locator('#alert-audit li').allTextContents()).toEqual([expect.stringMatching(/: none → confirmed_fraud \(analyst\): Customer called: <b>not<\/b> their payments$/)]);
      // The comment is text, never markup.
      expect(await page.locator('#triage-alert b').count()).toBe(0);
      expect(await text(page, '#key-state')).toBe('new (not triaged)');
      await page.screenshot({ path: join(SHOTS, 'detail.png'), fullPage: true });
      expect(statSync(join(SHOTS, 'detail.png')).size).toBeGreaterThan(10_000);

      const exported = await page.evaluate(async () => {
        const res = await fetch('/api/labels.jsonl');
        return { type: res.headers.get('content-type'), lines: (await res.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
      });
      expect(exported.type).toMatch(/^application\/x-ndjson/);
      expect(exported.lines.map((l) => [l.event, l.verdict, l.alert, l.key])).toEqual([
        ['p-2', 'confirmed_fraud', 'focus', 'card-7'],
        ['p-3', 'confirmed_fraud', 'focus', 'card-7'],
        ['p-4', 'confirmed_fraud', 'focus', 'card-7'],
      ]);
      expect(problems).toEqual([]);
    });
  });

  it('marks the whole key from the detail page, and follows the history link to the other alert', async () => {
    await asUser(ANALYST_TOKEN, async (page, problems) => {
      await page.goto(`${fixture.server.url}/alerts/focus`);
      await ready(page);
      await page.selectOption('#key-state-select', 'investigating');
      await page.click('#key-save');
      await page.waitForFunction(() => document.getElementById('key-saved')?.textContent?.startsWith('saved'), undefined, { timeout: 10_000 });
      expect(await text(page, '#key-state')).toBe('investigating');
      await Promise.all([page.waitForURL(`${fixture.server.url}/alerts/k-old`), page.click('#history tbody tr a')]);
      await ready(page);
      expect(await text(page, '#explanation')).toBe('6 payments in 10 min for card-7');
      // The key's triage is the same from any of its alerts; this alert's own is not.
      expect(await text(page, '#key-state')).toBe('investigating');
      expect(await text(page, '#alert-state')).toBe('new (not triaged)');
      expect(await fixture.redis.hget(`${fixture.keys.prefix}:key:card-7`, 'state')).toBe('investigating');
      expect(problems).toEqual([]);
    });
  });

  it('shows a read-only user the triage without any enabled control', async () => {
    await asUser(READ_TOKEN, async (page, problems) => {
      await page.goto(`${fixture.server.url}/alerts/focus`);
      await ready(page);
      expect(await text(page, '#alert-state')).toBe('confirmed_fraud');
      expect(await text(page, '#alert-current-comment')).toBe(COMMENT);
      const enabled = await page.locator('#triage-section select, #triage-section textarea, #triage-section button').evaluateAll((els) => els.filter((e) => !(e as HTMLButtonElement).disabled).length);
      expect(enabled).toBe(0);
      expect(await page.locator('#triage-section .readonly').count()).toBe(2);
      await page.screenshot({ path: join(SHOTS, 'detail-read-only.png'), fullPage: true });
      expect(problems).toEqual([]);
    });
  });

  it('says so when the alert is not among the recent entries', async () => {
    await asUser(READ_TOKEN, async (page) => {
      await page.goto(`${fixture.server.url}/alerts/${encodeURIComponent('no such/alert')}`);
      await page.waitForSelector('body[data-detail="error"]', { timeout: 10_000 });
      expect(await text(page, '#status')).toBe('no alert "no such/alert" among the recent entries');
    });
  });
});
