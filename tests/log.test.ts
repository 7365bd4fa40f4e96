import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, silentLogger } from '../src/log.js';

function sink() {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      text += String(chunk);
      cb();
    },
  });
  return { stream, lines: () => text.trimEnd().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>), raw: () => text };
}

const saved = process.env.VIGIE_LOG_LEVEL;
afterEach(() => {
  if (saved === undefined) delete process.env.VIGIE_LOG_LEVEL;
  else process.env.VIGIE_LOG_LEVEL = saved;
});

describe('createLogger', () => {
  it('redacts secrets at any of the first levels, in fields and child bindings', () => {
    const out = sink();
    const log = createLogger({ level: 'info', destination: out.stream });
    log.info(
      {
        password: 'hunter2-top',
        token: 'tok-top',
        source: { brokers: ['k:9092'], sasl: { mechanism: 'plain', username: 'svc-user', password: 'sasl-pass' } },
        sink: { redis: { password: 'deep-pass' }, secret: 'sink-secret' },
        headers: { authorization: 'Bearer abc.def' },
        tls: { key: '-----BEGIN PRIVATE KEY-----' },
      },
      'connecting',
    );
    log.child({ token: 'child-token' }).warn({ apiKey: 'ak-1' }, 'child');
    const text = out.raw();
    for (const secret of ['hunter2-top', 'tok-top', 'svc-user', 'sasl-pass', 'deep-pass', 'sink-secret', 'Bearer abc', 'PRIVATE KEY', 'child-token', 'ak-1']) {
      expect(text).not.toContain(secret);
    }
    const [first, second] = out.lines();
    expect(first.password).toBe('[redacted]');
    expect((first.source as { brokers: string[] }).brokers).toEqual(['k:9092']);
    expect(first.msg).toBe('connecting');
    expect(second.token).toBe('[redacted]');
    expect(second.level).toBe(40);
  });

  it('honours the level option and VIGIE_LOG_LEVEL', () => {
    const out = sink();
    createLogger({ level: 'warn', destination: out.stream }).info('hidden');
    expect(out.raw()).toBe('');

    process.env.VIGIE_LOG_LEVEL = 'debug';
    const out2 = sink();
    const log = createLogger({ destination: out2.stream });
    expect(log.level).toBe('debug');
    log.debug('shown');
    expect(out2.lines()[0].msg).toBe('shown');

    delete process.env.VIGIE_LOG_LEVEL;
    expect(createLogger({ destination: sink().stream }).level).toBe('info');
  });

  it('rejects unknown levels with a clear message', () => {
    expect(() => createLogger({ level: 'verbose', destination: sink().stream })).toThrow(/unknown log level "verbose"/);
  });

  it('provides a silent logger', () => {
    expect(silentLogger.level).toBe('silent');
    expect(silentLogger.isLevelEnabled('fatal')).toBe(false);
  });
});
