/**
 * `vigie console` API against the real Redis of the global setup: alerts are written by the real redis
 * sink (as `vigie run` or `vigie replay` would), under streams and keys of this run's own namespace
 * (removed afterwards), then read back over HTTP with the bearer tokens.
 */
import { randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { get, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create, schema } from '../../sinks/redis.js';
import type { Sink, SinkContext } from '../../sinks/types.js';
import { tokensFromEnv } from '../../src/console/auth.js';
import { startConsole, type ConsoleServer } from '../../src/console/server.js';
import { expandStreams, targetFromConfig } from '../../src/console/target.js';
import { parseConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import type { Alert } from '../../src/types.js';
import { ROOT, vigie } from '../helpers/cli.js';
import { alertBatch, ALERT_T0, sampleAlert } from '../helpers/alerts.js';
import { deleteKeys } from '../helpers/redis-keys.js';
import { USER_PIPELINES } from '../helpers/user-bursts.js';
import { services } from '../infra/index.js';

const READ_TOKEN = `read-${randomUUID()}`;
const ANALYST_TOKEN = `analyst-${randomUUID()}`;
const ns = `vigie:test:console:${randomUUID()}`;
const ctx: SinkContext = { baseDir: process.cwd(), stdout: process.stdout, logger: silentLogger };

let redis: Redis;
let url: string;

/** A redis sink writing under this run's namespace. */
function sink(name: string, stream: string): Sink {
  return create(schema.parse({ name, type: 'redis', url, stream: `${ns}:${stream}`, prefix: `${ns}:${name}`, channel: '' }), ctx);
}

async function write(s: Sink, alerts: Alert[]): Promise<void> {
  for (const a of alerts) await s.write(alertBatch([a]));
}

async function api(server: ConsoleServer, path: string, token: string | null = READ_TOKEN): Promise<{ status: number; body: any }> {
  const res = await fetch(`${server.url}${path}`, { headers: token === null ? {} : { authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.json() };
}

function consoleOn(streams: string[]): Promise<ConsoleServer> {
  return startConsole({
    target: { connection: { url }, streams },
    tokens: tokensFromEnv({ VIGIE_CONSOLE_TOKEN: READ_TOKEN, VIGIE_CONSOLE_ANALYST_TOKEN: ANALYST_TOKEN }),
    logger: silentLogger,
    port: 0,
  });
}

beforeAll(async () => {
  url = services().redisUrl;
  redis = new Redis(url, { lazyConnect: true });
  await redis.connect();
});

afterAll(async () => {
  await deleteKeys(redis, ns);
  redis.disconnect();
});

describe('console API', () => {
  let server: ConsoleServer;
  let writer: Sink;
  const T = ALERT_T0;
  // Written in this order: the API lists them the other way round.
  const alerts = [
    sampleAlert('a1', 'card-1', { eventTime: T + 1000 }),
    sampleAlert('a2', 'card-2', { detector: 'velocity', severity: 'medium', eventTime: T + 2000 }),
    sampleAlert('a3', 'card-1', { detector: 'velocity', severity: 'low', eventTime: T + 3000, window: null }),
    sampleAlert('a4', 'card-3', { eventTime: T + 4000, suppressed: 3, repeatsOf: 'a1' }),
    sampleAlert('a5', 'card-1', { severity: 'critical', eventTime: T + 5000 }),
  ];

  beforeAll(async () => {
    writer = sink('api', 'alerts');
    await write(writer, alerts);
    server = await consoleOn([`${ns}:alerts`]);
  });

  afterAll(async () => {
    await server?.close();
    await writer?.close();
  });

  it('refuses a request without a token, or with a wrong one, with 401 and a JSON error', async () => {
    for (const token of [null, 'not-the-token-at-all', `${READ_TOKEN}x`]) {
      const r = await api(server, '/api/alerts', token);
      expect(r.status).toBe(401);
      expect(r.body).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
    }
    const raw = await fetch(`${server.url}/api/alerts`, { headers: { authorization: READ_TOKEN } });
    expect(raw.status).toBe(401);
    expect((await api(server, '/api/nothing', null)).status).toBe(401);
    expect((await api(server, '/api/alerts', ANALYST_TOKEN)).status).toBe(200);
  });

  it('lists the alerts newest first, exactly as stored', async () => {
    const r = await api(server, '/api/alerts');
    expect(r.status).toBe(200);
    expect(r.body.alerts.map((a: Alert) => a.id)).toEqual(['a5', 'a4', 'a3', 'a2', 'a1']);
    expect(r.body).toMatchObject({ scanned: 5, truncated: false });
    const { entryId, stream, ...stored } = r.body.alerts[1];
    expect(entryId).toMatch(/^\d+-\d+$/);
    expect(stream).toBe(`${ns}:alerts`);
    expect(stored).toEqual(JSON.parse(JSON.stringify(alerts[3])));
    expect(r.body.alerts[2].window).toBeNull();
  });

  it('filters by detector, severity, key and event time, and bounds the count', async () => {
    const ids = async (q: string) => (await api(server, `/api/alerts?${q}`)).body.alerts.map((a: Alert) => a.id);
    expect(await ids('detector=velocity')).toEqual(['a3', 'a2']);
    expect(await ids('severity=high')).toEqual(['a4', 'a1']);
    expect(await ids('key=card-1')).toEqual(['a5', 'a3', 'a1']);
    expect(await ids('key=card-1&detector=card-testing')).toEqual(['a5', 'a1']);
    expect(await ids(`since=${T + 2000}&until=${new Date(T + 5000).toISOString()}`)).toEqual(['a4', 'a3', 'a2']);
    expect(await ids('limit=2')).toEqual(['a5', 'a4']);
    expect(await ids('detector=none')).toEqual([]);
  });

  it('refuses bad parameters with 400', async () => {
    for (const q of ['limit=0', 'limit=1001', 'limit=x', 'severity=urgent', 'since=yesterday']) {
      const r = await api(server, `/api/alerts?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.body.error.code).toBe('bad_request');
    }
    const post = await fetch(`${server.url}/api/alerts`, { method: 'POST', headers: { authorization: `Bearer ${ANALYST_TOKEN}` } });
    expect(post.status).toBe(405);
    expect((await api(server, '/api/unknown')).status).toBe(404);
    expect((await api(server, '/api/alerts/%E0%A4%A')).body.error.code).toBe('bad_request');
  });

  it('shows one alert, by alert id or entry id, with the other alerts of its key', async () => {
    const r = await api(server, '/api/alerts/a3');
    expect(r.status).toBe(200);
    expect(r.body.alert).toMatchObject({ id: 'a3', key: 'card-1', detector: 'velocity' });
    expect(r.body.history.map((a: Alert) => a.id)).toEqual(['a5', 'a1']);
    const byEntry = await api(server, `/api/alerts/${r.body.alert.entryId}`);
    expect(byEntry.body).toEqual(r.body);
    const missing = await api(server, '/api/alerts/nope');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
  });

  it('counts alerts per detector', async () => {
    expect((await api(server, '/api/counts')).body).toEqual({ counts: { 'card-testing': 3, velocity: 2 }, scanned: 5, truncated: false });
    expect((await api(server, '/api/counts?key=card-1')).body.counts).toEqual({ 'card-testing': 2, velocity: 1 });
  });

  it('says when the scan stopped before the oldest entries', async () => {
    const small = await startConsole({ target: { connection: { url }, streams: [`${ns}:alerts`] }, tokens: tokensFromEnv({ VIGIE_CONSOLE_TOKEN: READ_TOKEN }), logger: silentLogger, port: 0, scanLimit: 3 });
    try {
      const r = await api(small, '/api/alerts?detector=card-testing');
      expect(r.body).toMatchObject({ scanned: 3, truncated: true });
      expect(r.body.alerts.map((a: Alert) => a.id)).toEqual(['a5', 'a4']);
    } finally {
      await small.close();
    }
  });

  it('streams an alert appended after the client connected (server-sent events)', async () => {
    const events: Array<{ event: string; data: any }> = [];
    let text = '';
    let response: IncomingMessage | undefined;
    const ready = new Promise<void>((resolve, reject) => {
      get(`${server.url}/api/live?detector=card-testing`, { headers: { authorization: `Bearer ${READ_TOKEN}` } }, (res) => {
        response = res;
        expect(res.statusCode).toBe(200);
        expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
          if (text.includes(': ready\n\n')) resolve();
          let end: number;
          while ((end = text.indexOf('\n\n')) >= 0) {
            const block = text.slice(0, end);
            text = text.slice(end + 2);
            const event = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (event !== undefined && data !== undefined) events.push({ event, data: JSON.parse(data) });
          }
        });
      }).on('error', reject);
    });
    await ready;
    try {
      await write(writer, [sampleAlert('live-1', 'card-9', { detector: 'velocity' }), sampleAlert('live-2', 'card-9', { eventTime: T + 9000 })]);
      const deadline = Date.now() + 10_000;
      while (events.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ event: 'alert', data: { id: 'live-2', key: 'card-9', detector: 'card-testing', stream: `${ns}:alerts` } });
    } finally {
      response?.destroy();
    }
    // The client's reader connection is gone once it left.
    const deadline = Date.now() + 5000;
    const readers = async () => ((await redis.client('LIST')) as string).split('\n').filter((l) => l.includes('name=vigie-console-live')).length;
    while ((await readers()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await readers()).toBe(0);
  });
  it('sends heartbeats on an idle live feed', async () => {
    const quick = await startConsole({ target: { connection: { url }, streams: [`${ns}:idle`] }, tokens: tokensFromEnv({ VIGIE_CONSOLE_TOKEN: READ_TOKEN }), logger: silentLogger, port: 0, heartbeatMs: 100 });
    let text = '';
    let response: IncomingMessage | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        get(`${quick.url}/api/live`, { headers: { authorization: `Bearer ${READ_TOKEN}` } }, (res) => {
          response = res;
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            text += chunk;
            if ((text.match(/: heartbeat\n\n/g) ?? []).length >= 2) resolve();
          });
        }).on('error', reject);
        setTimeout(() => reject(new Error(`no heartbeat within 5 s: ${JSON.stringify(text)}`)), 5000);
      });
      expect(text.startsWith(': ready\n\n')).toBe(true);
    } finally {
      response?.destroy();
      await quick.close();
    }
  });
});

describe('console over several streams', () => {
  it('merges the streams of a {severity} template newest first', async () => {
    const writer = sink('split', 'split:{severity}');
    const server = await consoleOn(expandStreams(`${ns}:split:{severity}`, undefined));
    try {
      // Entries of different streams are ordered by the millisecond of their id: a few apart, as alerts of a live run are.
      for (const a of [sampleAlert('s1', 'k', { severity: 'low' }), sampleAlert('s2', 'k', { severity: 'high' }), sampleAlert('s3', 'k', { severity: 'low' })]) {
        await write(writer, [a]);
        await new Promise((r) => setTimeout(r, 3));
      }
      const r = await api(server, '/api/alerts');
      expect(r.body.alerts.map((a: Alert) => [a.id, a.severity])).toEqual([
        ['s3', 'low'],
        ['s2', 'high'],
        ['s1', 'low'],
      ]);
      expect((await api(server, '/api/alerts/s2')).body.history.map((a: Alert) => a.id)).toEqual(['s3', 's1']);
    } finally {
      await server.close();
      await writer.close();
    }
  });
});

describe('console start', () => {
  it('refuses to start without a token, or with a short one', () => {
    expect(() => tokensFromEnv({})).toThrow(expect.objectContaining({ code: 'VIGIE_ERR_CONSOLE' }));
    expect(() => tokensFromEnv({ VIGIE_CONSOLE_TOKEN: '', VIGIE_CONSOLE_ANALYST_TOKEN: '' })).toThrow(/no access token/);
    expect(() => tokensFromEnv({ VIGIE_CONSOLE_ANALYST_TOKEN: 'short' })).toThrow(expect.objectContaining({ code: 'VIGIE_ERR_CONSOLE' }));
    expect(tokensFromEnv({ VIGIE_CONSOLE_ANALYST_TOKEN: ANALYST_TOKEN }).digests.map((d) => d.role)).toEqual(['analyst']);
  });

  it('vigie console exits with VIGIE_ERR_CONSOLE and its remedy when no token is set, without printing a token', () => {
    const r = vigie(['console', '--redis-url', url, '--port', '0'], { env: { VIGIE_CONSOLE_TOKEN: '', VIGIE_CONSOLE_ANALYST_TOKEN: '' } });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('vigie: VIGIE_ERR_CONSOLE: no access token');
    expect(r.stderr).toContain('remedy: Export `VIGIE_CONSOLE_TOKEN`');
    const short = vigie(['console', '--redis-url', url, '--port', '0'], { env: { VIGIE_CONSOLE_TOKEN: 'tiny-secret' } });
    expect(short.stderr).toContain('VIGIE_ERR_CONSOLE');
    expect(short.stderr + short.stdout).not.toContain('tiny-secret');
  });

  it('vigie console serves the API until SIGTERM, then exits 0', async () => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/vigie.js'), 'console', '--redis-url', url, '--stream', `${ns}:alerts`, '--port', '0'], {
      cwd: ROOT,
      env: { ...process.env, VIGIE_LOG_LEVEL: 'info', VIGIE_CONSOLE_TOKEN: '', VIGIE_CONSOLE_ANALYST_TOKEN: ANALYST_TOKEN },
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 20_000;
      while (!/"url":"(http:[^"]+)"/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const base = /"url":"(http:[^"]+)"/.exec(out)?.[1];
      expect(base, out).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const ok = await fetch(`${base}/api/alerts?key=card-3`, { headers: { authorization: `Bearer ${ANALYST_TOKEN}` } });
      expect(ok.status).toBe(200);
      expect((await ok.json()).alerts.map((a: Alert) => a.id)).toEqual(['a4']);
      expect((await fetch(`${base}/api/alerts`)).status).toBe(401);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(out).toContain('console stopped');
    expect(out).not.toContain(ANALYST_TOKEN);
  });

  it("reads the Redis and the streams of a config's redis sink", () => {
    const yaml = (sinks: string) => `sources: [{ name: in, type: stdin }]\n${USER_PIPELINES}\nsinks:\n${sinks}`;
    const one = parseConfig(yaml(`  - name: analysts\n    type: redis\n    url: redis://10.0.0.1:6380/2\n    stream: "alerts:{detector}:{severity}"\n`), 'c.yaml', {});
    const t = targetFromConfig(one);
    expect(t.connection.url).toBe('redis://10.0.0.1:6380/2');
    expect(t.streams).toHaveLength(10);
    expect(t.streams).toContain('alerts:busy:critical');
    expect(t.streams).toContain('alerts:burst:info');
    const none = parseConfig(yaml('  - name: out\n    type: console\n'), 'c.yaml', {});
    expect(() => targetFromConfig(none)).toThrow(expect.objectContaining({ code: 'VIGIE_ERR_CONSOLE', message: expect.stringContaining('has no redis sink') }));
    const two = parseConfig(yaml('  - name: a\n    type: redis\n  - name: b\n    type: redis\n    prefix: other\n'), 'c.yaml', {});
    expect(() => targetFromConfig(two)).toThrow(/choose one with --sink/);
    expect(targetFromConfig(two, 'b').streams).toEqual(['vigie:alerts']);
  });
});
