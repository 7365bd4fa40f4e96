/**
 * Triage over the console's API against the real Redis of the global setup: alerts written by the real
 * redis sink, triage state, audit and labels streams under this run's own namespace (removed afterwards).
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entryFields } from '../../src/console/alert-entry.js';
import type { ConsoleServer } from '../../src/console/server.js';
import { ALERT_T0, sampleAlert } from '../helpers/alerts.js';
import { consoleFixture, type ConsoleFixture } from '../helpers/console.js';

const READ_TOKEN = `read-${randomUUID()}`;
const ANALYST_TOKEN = `analyst-${randomUUID()}`;
const ns = `vigie:test:console-triage:${randomUUID()}`;
const T = ALERT_T0;

let fixture: ConsoleFixture;
let redis: Redis;
let server: ConsoleServer;
let keys: ConsoleFixture['keys'];

type Json = Record<string, any>;

async function call(method: string, path: string, opts: { token?: string | null; body?: unknown; headers?: Record<string, string> } = {}): Promise<{ status: number; body: Json; headers: Headers }> {
  const token = opts.token === undefined ? ANALYST_TOKEN : opts.token;
  const headers: Record<string, string> = { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...opts.headers };
  let body: string | undefined;
  if (opts.body !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  }
  const res = await fetch(`${server.url}${path}`, { method, headers, body });
  const text = await res.text();
  let parsed: Json;
  try {
    parsed = JSON.parse(text) as Json;
  } catch {
    parsed = { text };
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

const triage = (body: unknown, opts: { token?: string | null; headers?: Record<string, string> } = {}) => call('POST', '/api/triage', { ...opts, body });

async function stream(name: string): Promise<Array<Record<string, string>>> {
  return (await redis.xrange(name, '-', '+')).map(([, flat]) => entryFields(flat));
}

beforeAll(async () => {
  fixture = await consoleFixture(ns, { VIGIE_CONSOLE_TOKEN: READ_TOKEN, VIGIE_CONSOLE_ANALYST_TOKEN: ANALYST_TOKEN }, [
    sampleAlert('t1', 'card-1', { eventTime: T + 1000, evidence: ['e1', 'e2'] }),
    sampleAlert('t2', 'card-1', { detector: 'velocity', eventTime: T + 2000, evidence: ['e2', 'e3'] }),
    sampleAlert('t3', 'card-2', { eventTime: T + 3000, evidence: ['e9'] }),
  ]);
  ({ redis, server, keys } = fixture);
});

afterAll(async () => {
  await fixture?.close();
});

describe('console triage API', () => {
  it('an analyst marks an alert: the state is stored, one audit entry is written, one label per evidence event', async () => {
    const before = Date.now();
    const r = await triage({ subject: 'alert', id: 't1', state: 'confirmed_fraud', comment: '  customer confirmed: stolen card  ' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ subject: 'alert', id: 't1', key: 'card-1', previous: null, state: 'confirmed_fraud', comment: 'customer confirmed: stolen card', role: 'analyst', labels: 2 });
    const at = r.body.at as number;
    expect(at).toBeGreaterThanOrEqual(before);

    expect(await redis.hgetall(`${keys.prefix}:alert:t1`)).toEqual({
      state: 'confirmed_fraud',
      comment: 'customer confirmed: stolen card',
      role: 'analyst',
      at: String(at),
      key: 'card-1',
      detector: 'card-testing',
    });

    const audit = await stream(keys.auditStream);
    expect(audit).toEqual([{ subject: 'alert', id: 't1', key: 'card-1', state: 'confirmed_fraud', comment: 'customer confirmed: stolen card', role: 'analyst', time: String(at), previous: '' }]);
    expect(JSON.stringify(audit)).not.toContain(ANALYST_TOKEN);

    expect(await stream(keys.labelsStream)).toEqual([
      { event: 'e1', key: 'card-1', verdict: 'confirmed_fraud', alert: 't1', subject: 'alert', time: String(at) },
      { event: 'e2', key: 'card-1', verdict: 'confirmed_fraud', alert: 't1', subject: 'alert', time: String(at) },
    ]);

    const got = await call('GET', '/api/triage?subject=alert&id=t1', { token: READ_TOKEN });
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ subject: 'alert', id: 't1', status: { state: 'confirmed_fraud', comment: 'customer confirmed: stolen card', role: 'analyst', at, key: 'card-1' }, truncated: false });
    expect(got.body.history).toHaveLength(1);
    expect(got.body.history[0]).toMatchObject({ previous: '', state: 'confirmed_fraud', time: at });
  });

  it('a second change records the previous state; the history is newest first', async () => {
    const r = await triage({ subject: 'alert', id: 't1', state: 'false_positive' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ previous: 'confirmed_fraud', state: 'false_positive', comment: '' });
    const got = await call('GET', '/api/triage?subject=alert&id=t1');
    expect(got.body.status).toMatchObject({ state: 'false_positive', comment: '' });
    expect(got.body.history.map((h: Json) => [h.previous, h.state])).toEqual([
      ['confirmed_fraud', 'false_positive'],
      ['', 'confirmed_fraud'],
    ]);
    expect(await redis.xlen(keys.auditStream)).toBe(2);
    expect(await redis.xlen(keys.labelsStream)).toBe(4);
    // Never triaged: no state, no history.
    expect((await call('GET', '/api/triage?subject=alert&id=t3')).body).toMatchObject({ status: null, history: [] });
  });

  it('refuses a read-only user (403) and writes nothing', async () => {
    const audit = await redis.xlen(keys.auditStream);
    const r = await triage({ subject: 'alert', id: 't3', state: 'investigating' }, { token: READ_TOKEN });
    expect(r.status).toBe(403);
    expect(r.body.error).toMatchObject({ code: 'forbidden', message: expect.stringContaining('analyst role') });
    expect(await redis.exists(`${keys.prefix}:alert:t3`)).toBe(0);
    expect(await redis.xlen(keys.auditStream)).toBe(audit);
  });

  it('refuses an invalid request with 400 and a message naming the problem', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ subject: 'alert', id: 't3', state: 'fraud' }, /state/],
      [{ subject: 'card', id: 't3', state: 'new' }, /subject/],
      [{ subject: 'alert', state: 'new' }, /id/],
      [{ subject: 'alert', id: 't3', state: 'new', comment: 'x'.repeat(2001) }, /comment: at most 2000 characters/],
      [{ subject: 'alert', id: 't3', state: 'new', comment: 'bell \u0007' }, /comment: plain text only/],
      [{ subject: 'alert', id: 't3', state: 'new', extra: 1 }, /extra/],
      ['{not json', /not valid JSON/],
      [[1, 2], /JSON object/],
    ];
    for (const [body, message] of cases) {
      const r = await triage(body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.code).toBe('bad_request');
      expect(r.body.error.message).toMatch(message);
    }
    const plain = await triage('state=new', { headers: { 'content-type': 'text/plain' } });
    expect(plain.status).toBe(400);
    for (const q of ['subject=card&id=x', 'subject=alert', 'id=t1']) expect((await call('GET', `/api/triage?${q}`)).status, q).toBe(400);
    expect(await redis.exists(`${keys.prefix}:alert:t3`)).toBe(0);
  });

  it('answers 404 for an unknown alert or a key without alerts, and writes nothing', async () => {
    const audit = await redis.xlen(keys.auditStream);
    const r = await triage({ subject: 'alert', id: 'no-such-alert', state: 'confirmed_fraud' });
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('not_found');
    expect((await triage({ subject: 'key', id: 'card-none', state: 'confirmed_fraud' })).status).toBe(404);
    expect(await redis.xlen(keys.auditStream)).toBe(audit);
    expect(await redis.exists(`${keys.prefix}:alert:no-such-alert`)).toBe(0);
  });

  it('refuses a cross-site POST carried by the session cookie (403); the same request from the page passes', async () => {
    const login = await fetch(`${server.url}/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: ANALYST_TOKEN }) });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
    expect(cookie).toMatch(/^vigie_console=/);
    const body = { subject: 'alert', id: 't3', state: 'investigating' };
    for (const headers of [{}, { 'sec-fetch-site': 'cross-site' }, { origin: 'http://evil.example' }]) {
      const r = await triage(body, { token: null, headers: { cookie, ...headers } });
      expect(r.status, JSON.stringify(headers)).toBe(403);
    }
    expect(await redis.exists(`${keys.prefix}:alert:t3`)).toBe(0);
    const ok = await triage(body, { token: null, headers: { cookie, 'sec-fetch-site': 'same-origin' } });
    expect(ok.status).toBe(200);
    expect(await redis.hget(`${keys.prefix}:alert:t3`, 'state')).toBe('investigating');
  });

  it('a key subject labels the evidence events of every alert of the key, once each', async () => {
    const r = await triage({ subject: 'key', id: 'card-1', state: 'confirmed_fraud', comment: 'card reported stolen' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ subject: 'key', id: 'card-1', key: 'card-1', labels: 3 });
    expect(await redis.hgetall(`${keys.prefix}:key:card-1`)).toEqual({ state: 'confirmed_fraud', comment: 'card reported stolen', role: 'analyst', at: String(r.body.at) });
    const labels = (await stream(keys.labelsStream)).slice(-3);
    expect(labels.map((l) => l.event).sort()).toEqual(['e1', 'e2', 'e3']);
    for (const l of labels) expect(l).toMatchObject({ key: 'card-1', verdict: 'confirmed_fraud', alert: '', subject: 'key', time: String(r.body.at) });
    expect((await call('GET', '/api/triage?subject=key&id=card-1')).body.history).toHaveLength(1);
  });

  it('exports the labels: newest first as JSON, and the latest verdict per event as a JSON-lines attachment (both roles)', async () => {
    // e1 was confirmed, then marked false positive (alert t1), then confirmed again with its key.
    const newest = await call('GET', '/api/labels?limit=2', { token: READ_TOKEN });
    expect(newest.status).toBe(200);
    expect(newest.body.labels).toHaveLength(2);
    expect(newest.body.labels.every((l: Json) => l.subject === 'key' && typeof l.time === 'number')).toBe(true);
    expect((await call('GET', '/api/labels?limit=0')).status).toBe(400);

    // A later verdict on e3 only.
    const later = await triage({ subject: 'alert', id: 't2', state: 'false_positive' });
    expect(later.status).toBe(200);
    for (const token of [READ_TOKEN, ANALYST_TOKEN]) {
      const res = await fetch(`${server.url}/api/labels.jsonl`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
      expect(res.headers.get('content-disposition')).toBe('attachment; filename="labels.jsonl"');
      const lines = (await res.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Json);
      const byEvent = Object.fromEntries(lines.map((l) => [l.event, [l.verdict, l.alert, l.subject]]));
      expect(lines).toHaveLength(4);
      expect(byEvent).toEqual({ e1: ['confirmed_fraud', '', 'key'], e2: ['false_positive', 't2', 'alert'], e3: ['false_positive', 't2', 'alert'], e9: ['investigating', 't3', 'alert'] });
      // Oldest verdict first.
      expect(lines.map((l) => l.event).slice(0, 2)).toEqual(['e9', 'e1']);
      expect(lines[1]).toEqual({ event: 'e1', key: 'card-1', verdict: 'confirmed_fraud', alert: '', subject: 'key', time: expect.any(Number) });
    }
    expect((await fetch(`${server.url}/api/labels.jsonl`)).status).toBe(401);
  });
});

describe('console alert detail page', () => {
  it('serves the page shell with its own script and style; controls for analysts only', async () => {
    const page = async (token: string) => {
      const res = await fetch(`${server.url}/alerts/${encodeURIComponent('t1')}`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
      return res.text();
    };
    const analyst = await page(ANALYST_TOKEN);
    expect(analyst).toContain('<script src="/assets/detail.js"></script>');
    expect(analyst).toContain('/assets/detail.css');
    expect(analyst.match(/class="triage-form"/g)).toHaveLength(2);
    const readOnly = await page(READ_TOKEN);
    expect(readOnly).not.toContain('triage-form');
    expect(readOnly).toContain('Read-only');
    for (const asset of ['/assets/detail.js', '/assets/detail.css']) {
      const res = await fetch(`${server.url}${asset}`, { headers: { authorization: `Bearer ${READ_TOKEN}` } });
      expect(res.status, asset).toBe(200);
    }
    expect((await fetch(`${server.url}/alerts/t1`, { redirect: 'manual' })).status).toBe(401);
    expect((await call('GET', '/alerts/%E0%A4%A')).status).toBe(400);
  });
});
