import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ERROR_CODES, VigieError, describeError } from '../src/errors.js';
import { vigie } from './helpers/cli.js';

describe('error codes', () => {
  it('docs/errors.md lists exactly the codes of src/errors.ts, with the same meaning and remedy', () => {
    const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
    const rows = [...doc.matchAll(/^\| `(VIGIE_ERR_[A-Z_]+)` \| (.+?) \| (.+) \|$/gm)].map((m) => [m[1], { meaning: m[2], remedy: m[3] }]);
    expect(Object.fromEntries(rows)).toEqual(ERROR_CODES);
  });

  it('shipped code raises no plain Error: what a user can cause has a code (TypeError and RangeError stay for API misuse)', () => {
    const root = new URL('..', import.meta.url).pathname;
    const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', 'src', 'operators', 'detectors', 'sinks'], { cwd: root, encoding: 'utf8' })
      .split('\n')
      .filter((f) => f.endsWith('.ts'));
    const plain: string[] = [];
    for (const f of files) {
      readFileSync(join(root, f), 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (/new Error\(/.test(line)) plain.push(`${f}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(plain).toEqual([]);
  });

  it('an error without a code is shown as VIGIE_ERR_INTERNAL with its remedy, never as a bare stack', () => {
    const d = describeError(new TypeError('x is undefined'));
    expect(d).toEqual({ code: 'VIGIE_ERR_INTERNAL', message: 'x is undefined', remedy: ERROR_CODES.VIGIE_ERR_INTERNAL.remedy });
    expect(describeError(new VigieError('VIGIE_ERR_SINK', 'down')).remedy).toBe(ERROR_CODES.VIGIE_ERR_SINK.remedy);
  });

  it('the CLI prints the remedy under the code, and no stack trace unless VIGIE_LOG_LEVEL=debug', () => {
    const args = ['replay', '-c', 'config/payments.yaml', '--input', '/nonexistent/events.ndjson'];
    const r = vigie(args);
    expect(r.stderr).toContain(`\n  remedy: ${ERROR_CODES.VIGIE_ERR_SOURCE.remedy}\n`);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    const debug = vigie(args, { env: { ...process.env, VIGIE_LOG_LEVEL: 'debug' } });
    expect(debug.stderr).toMatch(/^\s+at /m);
  });

  it('a metrics port in use is VIGIE_ERR_METRICS naming --metrics-port', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const port = (blocker.address() as AddressInfo).port;
      const r = vigie(['run', '-c', 'config/demo.yaml', '--metrics-port', String(port)]);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`vigie: VIGIE_ERR_METRICS: cannot serve metrics on 127.0.0.1:${port}: the port is in use (EADDRINUSE; choose another with --metrics-port or metrics.port)`);
      expect(r.stderr).not.toMatch(/^\s+at /m);
    } finally {
      blocker.close();
    }
  });

  it('a missing input file fails with VIGIE_ERR_SOURCE and exit code 1', () => {
    const r = vigie(['replay', '-c', 'config/payments.yaml', '--input', '/nonexistent/events.ndjson']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/vigie: VIGIE_ERR_SOURCE: source "payments": ENOENT/);
  });

  it('replay refuses an endless generator instead of running forever', () => {
    const r = vigie(['replay', '-c', 'config/demo.yaml']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('VIGIE_ERR_USAGE: replay needs finite input: generator source "payments"');
  });
});
