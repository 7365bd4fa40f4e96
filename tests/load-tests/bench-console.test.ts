/**
 * bench:console on a small stream: it runs against the suite's Redis (REDIS_URL from the global
 * setup), reports every figure, delivers every live alert, and removes its keys.
 */
import { spawnSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { expect, it } from 'vitest';
import { services } from '../infra/index.js';

it('bench:console reports each request beside the scan baseline and the live delivery, and leaves no key behind', async () => {
  const url = services().redisUrl;
  const r = spawnSync(process.execPath, ['dist/load-tests/bench-console.js', '--alerts', '12000', '--requests', '2', '--live', '20', '--json'], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, REDIS_URL: url },
  });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  const out = JSON.parse(r.stdout) as Record<string, number | { medianMs: number; p95Ms: number; ratioToBaseline: number }>;
  expect(out.alerts).toBe(12_000);
  expect(out.baselineMedianMs).toBeGreaterThan(0);
  for (const name of ['list', 'byKey', 'counts', 'byAlertId']) {
    const row = out[name] as { medianMs: number; p95Ms: number; ratioToBaseline: number };
    expect(row.medianMs, name).toBeGreaterThan(0);
    expect(row.p95Ms, name).toBeGreaterThanOrEqual(row.medianMs);
  }
  expect(out.liveAlerts).toBe(20);
  expect(out.liveMaxMs).toBeGreaterThanOrEqual(out.liveMedianMs as number);
  const redis = new Redis(url);
  try {
    const left: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', 'bench-console*', 'COUNT', 10_000);
      cursor = next;
      left.push(...keys);
    } while (cursor !== '0');
    expect(left).toEqual([]);
  } finally {
    redis.disconnect();
  }
});
