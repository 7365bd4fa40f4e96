/**
 * Redis over TLS, end to end, against private redis-servers listening on a TLS port only (the plain
 * port is off; tests/infra/redis.ts `startRedis({ tls })`) with throwaway certificates
 * (tests/infra/tls.ts): the redis sink and the checkpoint store connect as an ACL user trusting the
 * test CA; a client that does not trust that CA, or that speaks plain RESP to the TLS port, fails
 * quickly and says why; with `--tls-auth-clients yes` only a client presenting a certificate gets in.
 */
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create, schema, type RedisSinkConfig } from '../../sinks/redis.js';
import type { RedisSink } from '../../sinks/redis-writer.js';
import type { SinkContext } from '../../sinks/types.js';
import { createLogger } from '../../src/log.js';
import { RedisCheckpointStore, stateSchema, type CheckpointDelta } from '../../src/state/checkpoint-store.js';
import { startRedis, type RedisService } from '../infra/index.js';
import { makeTlsFiles, type TlsFiles } from '../infra/tls.js';
import { alertBatch, ALERT_T0, sampleAlert } from '../helpers/alerts.js';
import { capturedLogger, failure } from '../helpers/capture.js';

const ADMIN_PW = 'adm1n-Tls-Secret-3b7e';
const USER = 'vigie';
const USER_PW = 'vigie-Tls-Secret-8c14';
const PW_ENV = 'VIGIE_SEC_REDIS_TLS_PW';
/** What Node says when a server certificate does not chain to a trusted CA. */
const CERT_ERROR = /unable to verify the first certificate|self[- ]signed certificate|unable to get local issuer certificate/i;


describe('Redis over TLS only (requirepass, an ACL user, the test CA)', () => {
  let certs: TlsFiles;
  let otherCa: TlsFiles;
  let redis: RedisService;
  let admin: Redis;
  const saved = process.env[PW_ENV];

  beforeAll(async () => {
    certs = makeTlsFiles();
    otherCa = makeTlsFiles();
    redis = await startRedis({ password: ADMIN_PW, tls: { certFile: certs.serverCertFile, keyFile: certs.serverKeyFile, caFile: certs.caFile } });
    admin = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1, tls: { ca: [readPem(certs.caFile)] } });
    await admin.connect();
    await admin.call('ACL', 'SETUSER', USER, 'reset', 'on', `>${USER_PW}`, '~vigie:*', '&vigie:*', '+@all', '-@admin', '-@dangerous', '+info');
    process.env[PW_ENV] = USER_PW;
  });

  afterAll(async () => {
    admin?.disconnect();
    await redis?.stop();
    certs?.remove();
    otherCa?.remove();
    if (saved === undefined) delete process.env[PW_ENV];
    else process.env[PW_ENV] = saved;
  });

  const sinkConfig = (over: Record<string, unknown>): RedisSinkConfig =>
    schema.parse({
      name: 'tls',
      type: 'redis',
      url: `rediss://127.0.0.1:${redis.port}`,
      username: USER,
      passwordEnv: PW_ENV,
      stream: 'vigie:alerts:tls',
      channel: '',
      prefix: 'vigie',
      connectTimeout: 2000,
      retry: { initialDelay: 50, maxDelay: 200 },
      ...over,
    });

  it('the server has no plain port: its URL is rediss:// and the admin connection is TLS', async () => {
    expect(redis.url).toMatch(/^rediss:\/\//);
    const info = String(await admin.call('CONFIG', 'GET', 'port'));
    expect(info).toBe('port,0');
  });

  it('the redis sink writes alerts over rediss:// and over redis:// with `tls: { caFile }`, and they are readable', async () => {
    for (const [url, id] of [
      [`rediss://127.0.0.1:${redis.port}`, 'tls-1'],
      [`redis://127.0.0.1:${redis.port}`, 'tls-2'],
      [`rediss://localhost:${redis.port}`, 'tls-3'],
    ] as const) {
      const log = capturedLogger();
      const ctx: SinkContext = { baseDir: process.cwd(), stdout: process.stdout, logger: log.logger };
      const sink = create(sinkConfig({ url, tls: { caFile: certs.caFile } }), ctx);
      try {
        await sink.write(alertBatch([sampleAlert(id, `card-${id}`)]));
      } finally {
        await sink.close();
      }
    }
    const entries = await admin.xrange('vigie:alerts:tls', '-', '+');
    const ids = entries.map(([, fields]) => fields[fields.indexOf('id') + 1]);
    expect(ids).toEqual(['tls-1', 'tls-2', 'tls-3']);
    expect(await admin.hget('vigie:state:card-testing:card-tls-2', 'lastAlertId')).toBe('tls-2');
  });

  it('the checkpoint store saves and loads a checkpoint over TLS (username, passwordEnv, tls.caFile)', async () => {
    const log = capturedLogger();
    const store = new RedisCheckpointStore(
      stateSchema.parse({ store: 'redis', redisUrl: `rediss://127.0.0.1:${redis.port}`, username: USER, passwordEnv: PW_ENV, tls: { caFile: certs.caFile }, prefix: 'vigie' }),
      log.logger,
    );
    try {
      const { epoch, checkpoint } = await store.acquire('tls-0');
      expect(checkpoint).toBeUndefined();
      const delta: CheckpointDelta = {
        meta: { v: 2, offset: 77, watermark: null, pipelines: [['p', 'h', null]], savedAt: ALERT_T0 },
        changes: [[0, 'card-1', [4, 5, 6]]],
        full: true,
      };
      expect(await store.save('tls-0', epoch, delta)).toBeGreaterThan(0);
      const again = await store.acquire('tls-0');
      expect(again.epoch).toBe(epoch + 1);
      expect(again.checkpoint?.meta.offset).toBe(77);
      expect(again.checkpoint?.entries).toEqual([[4, 5, 6]]);
    } finally {
      await store.close();
    }
    expect(await admin.exists('vigie:checkpoint:tls-0')).toBe(1);
    expect(log.text()).toBe('');
  });

  it('a client that does not trust the CA (system CAs, or another CA) fails within 10 s with a certificate error', async () => {
    // ioredis directly: the handshake error itself
    for (const tls of [{}, { ca: [readPem(otherCa.caFile)] }]) {
      const client = new Redis({ host: '127.0.0.1', port: redis.port, password: ADMIN_PW, tls, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      const errors: Error[] = [];
      client.on('error', (e: Error) => errors.push(e));
      const t0 = Date.now();
      try {
        const err = await failure(client.connect());
        expect(Date.now() - t0).toBeLessThan(10_000);
        expect(`${err.message} ${errors.map((e) => e.message).join(' ')}`).toMatch(CERT_ERROR);
      } finally {
        client.disconnect();
      }
    }

    // the checkpoint store: its call rejects, naming the certificate problem
    for (const tls of [true, { caFile: otherCa.caFile }]) {
      const log = capturedLogger();
      const store = new RedisCheckpointStore(
        stateSchema.parse({ store: 'redis', redisUrl: `rediss://127.0.0.1:${redis.port}`, username: USER, passwordEnv: PW_ENV, tls, prefix: 'vigie' }),
        log.logger,
      );
      const t0 = Date.now();
      try {
        const err = await failure(store.acquire('tls-untrusted'));
        expect(Date.now() - t0).toBeLessThan(10_000);
        expect(err.message).toMatch(CERT_ERROR);
        expect(log.text()).toMatch(CERT_ERROR);
      } finally {
        await store.close();
      }
    }

    // the redis sink: an untrusted certificate is a configuration error, like a wrong password: the write fails at once, saying why
    const log = capturedLogger();
    const sink = create(sinkConfig({ tls: { caFile: otherCa.caFile } }), { baseDir: process.cwd(), stdout: process.stdout, logger: log.logger });
    const t0 = Date.now();
    try {
      const err = await failure(sink.write(alertBatch([sampleAlert('tls-untrusted', 'card-x')])));
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(err.message).toMatch(CERT_ERROR);
      expect(err.message).toMatch(/TLS certificate of .* is not trusted/);
      expect((sink as RedisSink).stats.retries).toBe(0);
    } finally {
      await sink.close().catch(() => {});
    }
    expect(await admin.exists('vigie:dedup:tls-untrusted')).toBe(0);
  });

  it('a plain (non-TLS) connection to the TLS port fails within 10 s', async () => {
    const client = new Redis({ host: '127.0.0.1', port: redis.port, password: ADMIN_PW, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: 2000 });
    client.on('error', () => {});
    const t0 = Date.now();
    try {
      const err = await failure(client.connect().then(() => client.ping()));
      expect(err.message).toMatch(/Connection is closed/);
    } finally {
      client.disconnect();
    }
    expect(Date.now() - t0).toBeLessThan(10_000);

    const store = new RedisCheckpointStore(stateSchema.parse({ store: 'redis', redisUrl: `redis://127.0.0.1:${redis.port}`, username: USER, passwordEnv: PW_ENV, prefix: 'vigie' }));
    const t1 = Date.now();
    try {
      expect((await failure(store.acquire('tls-plain'))).message).toMatch(/cannot reach Redis at 127\.0\.0\.1:\d+: .*(ECONNRESET|closed)/i);
    } finally {
      await store.close();
    }
    expect(Date.now() - t1).toBeLessThan(10_000);
    expect(await admin.exists('vigie:checkpoint:tls-plain:epoch')).toBe(0);
  });
});

describe('Redis over mutual TLS (--tls-auth-clients yes)', () => {
  let certs: TlsFiles;
  let redis: RedisService;
  const saved = process.env[PW_ENV];

  beforeAll(async () => {
    certs = makeTlsFiles();
    redis = await startRedis({
      tls: { certFile: certs.serverCertFile, keyFile: certs.serverKeyFile, caFile: certs.caFile, authClients: 'yes', probeCertFile: certs.clientCertFile, probeKeyFile: certs.clientKeyFile },
    });
    process.env[PW_ENV] = USER_PW;
  });

  afterAll(async () => {
    await redis?.stop();
    certs?.remove();
    if (saved === undefined) delete process.env[PW_ENV];
    else process.env[PW_ENV] = saved;
  });

  it('the sink and the checkpoint store get in with certFile/keyFile; without a client certificate the server refuses within 10 s', async () => {
    const mtls = { caFile: certs.caFile, certFile: certs.clientCertFile, keyFile: certs.clientKeyFile };
    const sink = create(schema.parse({ name: 'mtls', type: 'redis', url: redis.url, tls: mtls, stream: 'vigie:alerts:mtls', channel: '' }), {
      baseDir: process.cwd(),
      stdout: process.stdout,
      logger: createLogger({ level: 'silent' }),
    });
    try {
      await sink.write(alertBatch([sampleAlert('mtls-1', 'card-1')]));
    } finally {
      await sink.close();
    }
    const store = new RedisCheckpointStore(stateSchema.parse({ store: 'redis', redisUrl: redis.url, tls: mtls, prefix: 'vigie' }));
    try {
      const { epoch } = await store.acquire('mtls-0');
      expect(epoch).toBe(1);
    } finally {
      await store.close();
    }

    const reader = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1, tls: { ca: [readPem(certs.caFile)], cert: readPem(certs.clientCertFile), key: readPem(certs.clientKeyFile) } });
    await reader.connect();
    try {
      expect(await reader.xlen('vigie:alerts:mtls')).toBe(1);
      expect(await reader.get('vigie:checkpoint:mtls-0:epoch')).toBe('1');
    } finally {
      reader.disconnect();
    }

    const log = capturedLogger();
    const noCert = new RedisCheckpointStore(stateSchema.parse({ store: 'redis', redisUrl: redis.url, tls: { caFile: certs.caFile }, prefix: 'vigie' }), log.logger);
    const t0 = Date.now();
    try {
      const err = await failure(noCert.acquire('mtls-1'));
      // TLS 1.3: the client may see the server's 'certificate required' alert or just the reset that follows it.
      expect(err.message).toMatch(/cannot reach Redis at 127\.0\.0\.1:\d+: .*(alert certificate required|ECONNRESET)/);
    } finally {
      await noCert.close();
    }
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
});

function readPem(file: string): string {
  return readFileSync(file, 'utf8');
}
