/**
 * Secrets never reach logs or error messages: the logger's redaction of secret fields, the redaction
 * of passwords in Redis URLs (messages, targets, config errors, config-reload logs), and the Kafka
 * client's log bridge, which forwards only broker, group and error text.
 */
import { describe, expect, it } from 'vitest';
import { schema as redisSinkSchema } from '../../sinks/redis.js';
import { redactSecrets } from '../../src/engine/reload-watch.js';
import { createKafka, kafkaClientSchema } from '../../src/kafka/client.js';
import { REDACT_CENSOR } from '../../src/log.js';
import { describeRedisTarget, parseRedisUrl, redactUrl, redisConnectionSchema } from '../../src/redis/connection.js';
import { capturedLogger } from '../helpers/capture.js';

const PW = 'Sup3r-Secret-pw';

describe('logger redaction', () => {
  it('hides the secret fields of connection options, however they are nested', () => {
    const out = capturedLogger();
    out.logger.info(
      {
        password: PW,
        redis: { username: 'vigie', password: PW },
        sink: { redis: { password: PW } },
        tls: { key: PW },
        source: { kafka: { sasl: { mechanism: 'scram-sha-512', username: 'svc', password: PW } } },
        sasl: { password: PW },
        headers: { authorization: `Bearer ${PW}`, cookie: `s=${PW}` },
        apiKey: PW,
        token: PW,
      },
      'connecting',
    );
    out.logger.child({ secret: PW }).error({ credentials: { password: PW } }, 'child');
    expect(out.text()).not.toContain(PW);
    expect(out.text()).toContain(REDACT_CENSOR);
    // What is not a secret stays readable.
    expect(out.text()).toContain('"username":"vigie"');
  });

  it('hides secret fields at any depth, and cuts what is nested too deep', () => {
    const out = capturedLogger();
    out.logger.info({ a: { b: { password: PW } } }, 'three levels');
    out.logger.info({ a: { b: { c: { d: { e: { Password: PW, apiKey: PW } } } } } }, 'six levels');
    out.logger.info({ l1: { l2: { l3: { l4: { l5: { l6: { l7: { l8: { l9: PW } } } } } } } } }, 'nine levels');
    expect(out.text()).not.toContain(PW);
    expect(out.text()).toContain('[too deep]');
    const lines = out.text().trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
    expect(lines[1].a.b.c.d.e).toEqual({ Password: REDACT_CENSOR, apiKey: REDACT_CENSOR });
  });

  it('hides passwords written inside texts: URLs under any field name, messages, errors and child bindings', () => {
    const out = capturedLogger();
    out.logger.warn({ target: `redis://vigie:${PW}@r1:6379/0`, upstream: { endpoint: `amqps://svc:${PW}@mq:5671` } }, 'connecting');
    out.logger.error(`cannot connect to rediss://:${PW}@r2:6380`);
    out.logger.info({ dsn: `host=db user=svc password=${PW} sslmode=require`, q: `https://api/x?token=${PW}&a=1` }, 'connection strings');
    out.logger.error({ err: new Error(`connect to redis://u:${PW}@h:1 refused`, { cause: new Error(`via kafka://u:${PW}@k:9092`) }) }, 'failed');
    out.logger.error(new Error(`plain error with redis://u:${PW}@h:1`));
    out.logger.child({ url: `redis://u:${PW}@h:1` }).info('child');
    const text = out.text();
    expect(text).not.toContain(PW);
    // What is not a secret stays readable.
    expect(text).toContain('redis://vigie:***@r1:6379/0');
    expect(text).toContain('cannot connect to rediss://:***@r2:6380');
    expect(text).toContain('token=***&a=1');
    expect(text).toContain('password=*** sslmode=require');
    expect(text).toContain('connect to redis://u:***@h:1 refused');
    // Errors keep their class name and their own fields.
    class ReplyError extends Error {
      code = 'WRONGPASS';
    }
    out.logger.warn({ err: new ReplyError(`WRONGPASS for redis://u:${PW}@h:1`) }, 'auth');
    const last = JSON.parse(out.text().trimEnd().split('\n').pop() as string) as { err: Record<string, unknown> };
    expect(last.err).toMatchObject({ type: 'ReplyError', code: 'WRONGPASS', message: 'WRONGPASS for redis://u:***@h:1' });
    expect(out.text()).not.toContain(PW);
  });

  it('hides entity keys (personal data) nested in log fields', () => {
    const out = capturedLogger();
    out.logger.warn({ alert: { key: '4111-1111-1111-1111', detector: 'card-testing' } }, 'alert');
    expect(out.text()).not.toContain('4111-1111-1111-1111');
    expect(out.text()).toContain('card-testing');
  });
});

describe('passwords in Redis URLs', () => {
  it('redactUrl replaces the password, keeps the rest', () => {
    expect(redactUrl(`redis://vigie:${PW}@10.0.0.1:6380/2`)).toBe('redis://vigie:***@10.0.0.1:6380/2');
    expect(redactUrl(`rediss://:${PW}@r.example:6379`)).toBe('rediss://:***@r.example:6379');
    expect(redactUrl('redis://vigie@r.example:6379')).toBe('redis://vigie@r.example:6379');
    expect(redactUrl('redis://r.example:6379')).toBe('redis://r.example:6379');
  });

  it('invalid URLs are reported without their password', () => {
    for (const url of [`redis://vigie:${PW}@host:6379/not-a-db`, `http://vigie:${PW}@host:6379`]) {
      let message = '';
      try {
        parseRedisUrl(url);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message, url).toMatch(/^invalid Redis URL/);
      expect(message, url).not.toContain(PW);
    }
  });

  it('config validation errors do not quote the password', () => {
    const bad = redisConnectionSchema.safeParse({ url: `redis://vigie:${PW}@host:6379/x` });
    expect(bad.success).toBe(false);
    expect(JSON.stringify(bad.error?.issues)).not.toContain(PW);
    const sink = redisSinkSchema.safeParse({ name: 's', type: 'redis', url: `ftp://vigie:${PW}@host` });
    expect(sink.success).toBe(false);
    expect(JSON.stringify(sink.error?.issues)).not.toContain(PW);
  });

  it('the target named in logs and errors has neither user nor password', () => {
    expect(describeRedisTarget({ url: `redis://vigie:${PW}@10.0.0.1:6380/2` })).toBe('10.0.0.1:6380/2');
    expect(describeRedisTarget({ url: `rediss://:${PW}@r.example` })).toBe('r.example:6379');
    expect(describeRedisTarget({ url: `redis://vigie:${PW}@host/x` })).not.toContain(PW);
    expect(describeRedisTarget({ url: 'redis://h', sentinel: { name: 'mymaster', sentinels: [{ host: 's1', port: 26379 }], passwordEnv: 'X' } })).toBe('sentinel master "mymaster"');
  });

  it('redactSecrets (config reload logs and audit) hides every URL password in a text', () => {
    const text = `connect to redis://vigie:${PW}@r1:6379 failed; fallback "rediss://:${PW}@r2:6380/1" too; kafka://u:${PW}@k:9092`;
    const red = redactSecrets(text);
    expect(red).not.toContain(PW);
    expect(red).toContain('redis://vigie:***@r1:6379');
    expect(red).toContain('rediss://:***@r2:6380/1');
  });
});

describe('Kafka client secrets', () => {
  it('a missing SASL password variable is named, no value is shown', () => {
    const cfg = kafkaClientSchema.parse({ brokers: ['127.0.0.1:1'], sasl: { mechanism: 'plain', username: 'svc', passwordEnv: 'VIGIE_SEC_UNSET_KAFKA_PW' } });
    expect(() => createKafka(cfg, capturedLogger().logger)).toThrow(/^kafka sasl password: environment variable VIGIE_SEC_UNSET_KAFKA_PW is not set$/);
  });

  it('refuses a password written in the config (only passwordEnv or passwordFile)', () => {
    const r = kafkaClientSchema.safeParse({ sasl: { mechanism: 'plain', username: 'svc', password: PW } });
    expect(r.success).toBe(false);
  });

  it('kafkajs log lines reach our logger with broker, group and error only, never their other fields', () => {
    process.env.VIGIE_SEC_KAFKA_PW = PW;
    try {
      const out = capturedLogger();
      const cfg = kafkaClientSchema.parse({ brokers: ['127.0.0.1:1'], sasl: { mechanism: 'scram-sha-512', username: 'svc', passwordEnv: 'VIGIE_SEC_KAFKA_PW' } });
      const kafka = createKafka(cfg, out.logger);
      // What kafkajs itself logs goes through the client's log creator.
      kafka.logger().error('Connection error', { broker: '127.0.0.1:1', error: 'ECONNREFUSED', sasl: { password: PW }, password: PW, request: { PW } });
      kafka.logger().warn('Retrying', { groupId: 'g', authenticationPayload: PW });
      kafka.logger().info('not forwarded', { password: PW });
      const text = out.text();
      expect(text).not.toContain(PW);
      expect(text).toContain('Connection error');
      expect(text).toContain('ECONNREFUSED');
      expect(text).not.toContain('not forwarded');
    } finally {
      delete process.env.VIGIE_SEC_KAFKA_PW;
    }
  });
});
