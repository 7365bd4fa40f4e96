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

describe('createLogger, pretty format', () => {
  it('writes one readable line per record, not JSON: time, level, message, fields', () => {
    const out = sink();
    const log = createLogger({ level: 'info', destination: out.stream, format: 'pretty' });
    log.info({ source: 'payments', partitions: [0, 1, 2], ok: true }, 'engine started');
    log.warn('no sink acknowledges writes');
    const lines = out.raw().trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(() => JSON.parse(l)).toThrow();
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d INFO {2}engine started source=payments partitions=0,1,2 ok=true$/);
    expect(lines[1]).toMatch(/^\d\d:\d\d:\d\d WARN {2}no sink acknowledges writes$/);
  });

  it('hides the same secrets as the JSON form', () => {
    const out = sink();
    const log = createLogger({ level: 'info', destination: out.stream, format: 'pretty' });
    log.info(
      {
        password: 'hunter2-top',
        source: { sasl: { username: 'svc-user', password: 'sasl-pass' } },
        sink: { redis: { password: 'deep-pass' }, secret: 'sink-secret' },
        headers: { authorization: 'Bearer abc.def' },
        window: { key: 'C00042' },
        url: 'redis://vigie:url-pass@cache:6379',
      },
      'connecting to redis://admin:msg-pass@cache:6379',
    );
    log.child({ token: 'child-token' }).error(new Error('AUTH failed for rediss://u:err-pass@host'));
    const text = out.raw();
    for (const secret of ['hunter2-top', 'svc-user', 'sasl-pass', 'deep-pass', 'sink-secret', 'Bearer abc', 'C00042', 'url-pass', 'msg-pass', 'child-token', 'err-pass']) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain('[redacted]');
    expect(text).toMatch(/ERROR AUTH failed for rediss:\/\/u:\*\*\*@host/);
  });

  it('prints an error as its class and message, its stack only at debug level', () => {
    const quiet = sink();
    createLogger({ level: 'info', destination: quiet.stream, format: 'pretty' }).error({ err: new TypeError('bad thing') }, 'failed');
    expect(quiet.raw()).toMatch(/ERROR failed err="TypeError: bad thing"\n$/);
    expect(quiet.raw()).not.toMatch(/^\s+at /m);
    const loud = sink();
    createLogger({ level: 'debug', destination: loud.stream, format: 'pretty' }).error({ err: new TypeError('bad thing') }, 'failed');
    expect(loud.raw()).toMatch(/^ {4}at /m);
  });

  it('keeps a record on one line whatever its text holds, and colours levels only when asked', () => {
    const out = sink();
    const log = createLogger({ level: 'info', destination: out.stream, format: 'pretty' });
    log.info({ detail: 'a\nb\u001b[2Jc' }, 'line\nbreak');
    expect(out.raw().trimEnd().split('\n')).toHaveLength(1);
    expect(out.raw()).not.toContain('\u001b');
    const colored = sink();
    createLogger({ level: 'info', destination: colored.stream, format: 'pretty', color: true }).warn('careful');
    expect(colored.raw()).toContain('\u001b[33mWARN');
  });
});
