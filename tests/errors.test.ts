import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../src/errors.js';
import { vigie } from './helpers/cli.js';

describe('error codes', () => {
  it('docs/errors.md lists exactly the codes of src/errors.ts, with the same meaning', () => {
    const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
    const rows = [...doc.matchAll(/^\| `(VIGIE_ERR_[A-Z_]+)` \| (.+) \|$/gm)].map((m) => [m[1], m[2]]);
    expect(Object.fromEntries(rows)).toEqual(ERROR_CODES);
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
