/**
 * Redis authentication, end to end, against a private redis-server started with `requirepass` and an
 * ACL user restricted to `vigie:*` keys: the redis sink and the checkpoint store connect as that user
 * with the password from an environment variable; wrong credentials fail quickly and clearly; the
 * password never reaches an error message or a log line.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create, schema, type RedisSinkConfig } from '../../sinks/redis.js';
import type { SinkContext } from '../../sinks/types.js';
import { RedisCheckpointStore, stateSchema, type CheckpointDelta } from '../../src/state/checkpoint-store.js';
import { startRedis, type RedisService } from '../infra/index.js';
import { alertBatch, ALERT_T0, sampleAlert } from '../helpers/alerts.js';
import { capturedLogger, failure } from '../helpers/capture.js';

const ADMIN_PW = 'adm1n-Secret-9f3c';
const USER = 'vigie';
const USER_PW = 'vigie-Secret-7d21';
const WRONG_PW = 'wr0ng-Secret-42aa';
const SECRETS = [ADMIN_PW, USER_PW, WRONG_PW];

const T = ALERT_T0;

const alert = sampleAlert;

function expectNoSecret(text: string, what: string): void {
  for (const s of SECRETS) expect(text, `${what} leaks a password`).not.toContain(s);
}

describe('Redis with requirepass and an ACL user', () => {
  let redis: RedisService;
  let admin: Redis;
  let base: string;
  const saved = { ...process.env };

  beforeAll(async () => {
    // `persistence` only to get a private server even when REDIS_URL names a shared one (ACL users are server-wide).
    redis = await startRedis({ password: ADMIN_PW, persistence: true });
    base = `redis://127.0.0.1:${redis.port}`;
    admin = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await admin.connect();
    // Only `vigie:*` keys and channels, no admin or dangerous commands but INFO (ioredis' ready check); the ACL SECURITY.md recommends.
    await admin.call('ACL', 'SETUSER', USER, 'reset', 'on', `>${USER_PW}`, '~vigie:*', '&vigie:*', '+@all', '-@admin', '-@dangerous', '+info');
    process.env.VIGIE_SEC_REDIS_PW = USER_PW;
    process.env.VIGIE_SEC_REDIS_WRONG = WRONG_PW;
  });

  afterAll(async () => {
    admin?.disconnect();
    await redis?.stop();
    for (const k of ['VIGIE_SEC_REDIS_PW', 'VIGIE_SEC_REDIS_WRONG']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });

  const sinkConfig = (over: Record<string, unknown>): RedisSinkConfig =>
    schema.parse({ name: 'secure', type: 'redis', url: base, stream: 'vigie:alerts:sec', channel: 'vigie:alerts:live', prefix: 'vigie', retry: { initialDelay: 50, maxDelay: 200 }, ...over });

  it('the redis sink writes as the ACL user (username + passwordEnv), and logs no password', async () => {
    const log = capturedLogger();
    const ctx: SinkContext = { baseDir: process.cwd(), stdout: process.stdout, logger: log.logger };
    const sink = create(sinkConfig({ username: USER, passwordEnv: 'VIGIE_SEC_REDIS_PW' }), ctx);
    try {
      await sink.write(alertBatch([alert('sec-1', 'card-1'), alert('sec-2', 'card-2')]));
    } finally {
      await sink.close();
    }
    expect(await admin.xlen('vigie:alerts:sec')).toBe(2);
    expect(await admin.hget('vigie:state:card-testing:card-1', 'lastAlertId')).toBe('sec-1');
    const clients = String(await admin.call('CLIENT', 'LIST'));
    expect(clients).not.toContain(USER_PW);
    expectNoSecret(log.text(), 'the log');
  });

  it('the ACL key pattern holds: a stream outside vigie:* is refused (NOPERM), fatally and without the password', async () => {
    const log = capturedLogger();
    const sink = create(sinkConfig({ username: USER, passwordEnv: 'VIGIE_SEC_REDIS_PW', stream: 'other:alerts' }), {
      baseDir: process.cwd(),
      stdout: process.stdout,
      logger: log.logger,
    });
    const t0 = Date.now();
    try {
      const err = await failure(sink.write(alertBatch([alert('sec-3', 'card-3')])));
      expect(err.message).toMatch(/NOPERM/);
      expectNoSecret(err.message, 'the error');
      expect(Date.now() - t0).toBeLessThan(5000);
    } finally {
      await sink.close();
    }
    expect(await admin.exists('other:alerts')).toBe(0);
    expectNoSecret(log.text(), 'the log');
  });

  it('the redis sink fails quickly and clearly on a wrong password, naming neither password', async () => {
    const log = capturedLogger();
    const ctx: SinkContext = { baseDir: process.cwd(), stdout: process.stdout, logger: log.logger };
    for (const over of [
      { username: USER, passwordEnv: 'VIGIE_SEC_REDIS_WRONG' },
      { username: 'nobody', passwordEnv: 'VIGIE_SEC_REDIS_PW' },
      { url: `redis://${USER}:${WRONG_PW}@127.0.0.1:${redis.port}` },
    ]) {
      const sink = create(sinkConfig(over), ctx);
      const t0 = Date.now();
      try {
        const err = await failure(sink.write(alertBatch([alert('sec-4', 'card-4')])));
        expect(err.message, JSON.stringify(over)).toMatch(/authentication to 127\.0\.0\.1:\d+ failed: WRONGPASS/);
        expectNoSecret(err.message, 'the error');
        expectNoSecret(String((err.cause as Error | undefined)?.message ?? ''), 'the error cause');
        expect(Date.now() - t0).toBeLessThan(5000);
      } finally {
        await sink.close();
      }
    }
    expectNoSecret(log.text(), 'the log');
  });

  it('the checkpoint store works as the ACL user (user in the URL, password from passwordEnv)', async () => {
    const store = new RedisCheckpointStore(
      stateSchema.parse({ store: 'redis', redisUrl: `redis://${USER}@127.0.0.1:${redis.port}`, passwordEnv: 'VIGIE_SEC_REDIS_PW', prefix: 'vigie' }),
    );
    try {
      const { epoch, checkpoint } = await store.acquire('sec-0');
      expect(checkpoint).toBeUndefined();
      const delta: CheckpointDelta = {
        meta: { v: 2, offset: 41, watermark: null, pipelines: [['p', 'h', null]], savedAt: T },
        changes: [[0, 'card-1', [1, 2, 3]]],
        full: true,
      };
      expect(await store.save('sec-0', epoch, delta)).toBeGreaterThan(0);
      const again = await store.acquire('sec-0');
      expect(again.checkpoint?.meta.offset).toBe(41);
      expect(again.checkpoint?.entries).toEqual([[1, 2, 3]]);
    } finally {
      await store.close();
    }
    expect(await admin.exists('vigie:checkpoint:sec-0')).toBe(1);
  });

  it('the checkpoint store rejects a wrong password within 5 s, without the password in the error', async () => {
    const store = new RedisCheckpointStore(
      stateSchema.parse({ store: 'redis', redisUrl: `redis://${USER}@127.0.0.1:${redis.port}`, passwordEnv: 'VIGIE_SEC_REDIS_WRONG', prefix: 'vigie' }),
    );
    const t0 = Date.now();
    try {
      const err = await failure(store.acquire('sec-1'));
      expect(err.message).toMatch(/WRONGPASS|NOAUTH/);
      expectNoSecret(err.message, 'the error');
      expect(Date.now() - t0).toBeLessThan(5000);
    } finally {
      await store.close();
    }
  });
});
