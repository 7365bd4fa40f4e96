/**
 * examples/redis-consumer.mjs, run as a child process (plain `node`, as an analyst would) against the
 * suite's Redis, reading alerts the redis sink wrote.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create, schema } from '../../sinks/redis.js';
import type { Sink } from '../../sinks/types.js';
import { silentLogger } from '../../src/log.js';
import type { Alert, Severity } from '../../src/types.js';
import { services } from '../infra/index.js';
import { ROOT } from '../helpers/cli.js';

const EXAMPLE = join(ROOT, 'examples', 'redis-consumer.mjs');
const T = Date.UTC(2026, 0, 1, 10, 0, 0);

function alert(i: number, severity: Severity = 'high'): Alert {
  return {
    id: `alert-${i}`,
    detector: i % 2 ? 'card-testing' : 'velocity',
    detectorType: 'threshold',
    pipeline: 'cards',
    severity,
    key: `C${100 + i}`,
    window: null,
    revision: 0,
    eventTime: T + i * 1000,
    detectedAt: T + i * 1000 + 5,
    observed: 10 + i,
    threshold: 10,
    score: 1 + i / 10,
    explanation: `${10 + i} payments on card C${100 + i} in 10m`,
    evidence: [`e${i}`],
    configVersion: 'v1',
  };
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function consumer(env: Record<string, string>, args: string[]): Promise<Run> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    // Bounded: a consumer that does not exit by itself is killed after 20 s (code null, the test fails).
    execFile(process.execPath, [EXAMPLE, ...args], { cwd: ROOT, env: { ...process.env, ...env }, timeout: 20_000 }, (err, stdout, stderr) => {
      const exit = (err as { code?: unknown } | null)?.code;
      const code = err === null ? 0 : typeof exit === 'number' ? exit : null;
      resolve({ code, stdout: String(stdout), stderr: String(stderr), ms: Date.now() - t0 });
    });
  });
}

describe('examples/redis-consumer.mjs', () => {
  let url: string;
  let redis: Redis;
  const ns = `vigie-test-consumer-${randomUUID().slice(0, 8)}`;
  const sinks: Sink[] = [];

  function sink(stream: string): Sink {
    // A prefix per sink: the dedup keys of one would make the other skip the same alert ids.
    const s = create(schema.parse({ name: 'redis', type: 'redis', url, stream, prefix: `${ns}:${sinks.length}`, channel: '' }), {
      baseDir: ROOT,
      stdout: process.stdout,
      logger: silentLogger,
    });
    sinks.push(s);
    return s;
  }

  const write = (s: Sink, alerts: Alert[]) => s.write({ alerts, results: [], deadLetters: [], scores: [], shadowAlerts: [], queue: [] });
  const pending = async (stream: string, group: string) => ((await redis.xpending(stream, group)) as [number])[0];

  beforeAll(async () => {
    url = services().redisUrl;
    redis = new Redis(url, { lazyConnect: true });
    await redis.connect();
  });

  afterAll(async () => {
    await Promise.all(sinks.map((s) => s.close()));
    if (redis === undefined) return;
    const keys = await redis.keys(`${ns}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it('creates the group, prints each alert once and acknowledges it, and stops at --count', async () => {
    const stream = `${ns}:alerts`;
    const alerts = Array.from({ length: 6 }, (_, i) => alert(i));
    await write(sink(stream), alerts);
    const r = await consumer({ REDIS_URL: url, STREAM: stream, GROUP: 'analysts', CONSUMER: 'alice' }, ['--start', '0', '--count', '6', '--idle-ms', '5000']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(6);
    lines.forEach((line, i) => {
      const a = alerts[i];
      expect(line).toBe(`${new Date(a.eventTime).toISOString()} HIGH ${a.detector} key=${a.key} id=${a.id} ${a.explanation}`);
    });
    expect(r.stderr).toContain('6 alert(s) printed and acknowledged');
    expect(await pending(stream, 'analysts')).toBe(0);
    const [info] = (await redis.xinfo('GROUPS', stream)) as unknown[][];
    const fields = Object.fromEntries(Array.from({ length: info.length / 2 }, (_, i) => [info[2 * i], info[2 * i + 1]]));
    expect(fields).toMatchObject({ name: 'analysts', consumers: 1, pending: 0 });

    // A second run of the group sees only what is new: the group remembers where it was.
    await write(sink(stream), [alert(6, 'critical')]);
    const again = await consumer({ REDIS_URL: url, STREAM: stream, GROUP: 'analysts', CONSUMER: 'alice' }, ['--count', '5', '--idle-ms', '800', '--block-ms', '200']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout.trim().split('\n')).toEqual([expect.stringContaining('CRITICAL velocity key=C106 id=alert-6')]);
    expect(await pending(stream, 'analysts')).toBe(0);
  });

  it('claims the entries a dead consumer left pending, across several streams', async () => {
    const high = `${ns}:split:high`;
    const low = `${ns}:split:low`;
    await write(sink(`${ns}:split:{severity}`), [alert(1, 'high'), alert(2, 'low'), alert(3, 'high'), alert(4, 'low')]);
    for (const s of [high, low]) await redis.xgroup('CREATE', s, 'team', '0');
    // "bob" takes the high entries and dies without acknowledging them.
    const taken = (await redis.xreadgroup('GROUP', 'team', 'bob', 'COUNT', 10, 'STREAMS', high, '>')) as Array<[string, unknown[]]>;
    expect(taken[0][1]).toHaveLength(2);
    expect(await pending(high, 'team')).toBe(2);
    await new Promise((r) => setTimeout(r, 150));

    const r = await consumer({ REDIS_URL: url, GROUP: 'team', CONSUMER: 'carol' }, ['--stream', `${high},${low}`, '--claim-idle-ms', '100', '--idle-ms', '800', '--block-ms', '200', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const got = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
    expect(got.map((a) => a.id).sort()).toEqual(['alert-1', 'alert-2', 'alert-3', 'alert-4']);
    expect(got.find((a) => a.id === 'alert-2')).toMatchObject({ stream: low, severity: 'low', key: 'C102', explanation: '12 payments on card C102 in 10m' });
    expect(await pending(high, 'team')).toBe(0);
    expect(await pending(low, 'team')).toBe(0);
  });

  it('exits by itself after --idle-ms when nothing comes', async () => {
    const r = await consumer({ REDIS_URL: url, STREAM: `${ns}:empty`, GROUP: 'g', CONSUMER: 'c' }, ['--idle-ms', '500', '--block-ms', '200']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.ms).toBeLessThan(10_000);
    expect(await redis.exists(`${ns}:empty`)).toBe(1); // MKSTREAM
  });
});
