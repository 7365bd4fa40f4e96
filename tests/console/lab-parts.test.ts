/**
 * The lab's pure parts: how a replay's failure is read back (code, problems, remedy, no stack), which
 * variables a run may see, which dataset names are plain names, and which datasets carry labels.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { hasLabels, isPlainName, listDatasets } from '../../src/console/lab-datasets.js';
import { labEnv, namedVariables } from '../../src/console/lab-env.js';
import { countAlerts, failureOf, labError } from '../../src/console/lab-outcome.js';
import { LabRuns } from '../../src/console/lab-runs.js';
import { ERROR_CODES } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { tempDir } from '../helpers/cli.js';

describe('failureOf', () => {
  it('takes the code line, the config problems before it and the remedy; drops log lines and stack frames', () => {
    const stderr = [
      '{"level":30,"msg":"engine started"}',
      'candidate.yaml:12:9: pipelines[0].detectors[0].value: expected a number',
      'candidate.yaml:14:3: sinks: is required',
      'vigie: VIGIE_ERR_CONFIG: 2 problems in candidate.yaml',
      '  remedy: Fix each listed problem at its line',
      '    at loadConfig (file:///x/dist/src/config/load.js:1:1)',
    ].join('\n');
    const e = failureOf(stderr, 2);
    expect(e.code).toBe('VIGIE_ERR_CONFIG');
    expect(e.message).toBe('2 problems in candidate.yaml\ncandidate.yaml:12:9: pipelines[0].detectors[0].value: expected a number\ncandidate.yaml:14:3: sinks: is required');
    expect(e.remedy).toBe(ERROR_CODES.VIGIE_ERR_CONFIG.remedy);
  });

  it('falls back on the last error the log recorded, then on the exit code', () => {
    expect(failureOf('{"level":50,"msg":"sink failed","err":"disk full"}\nError: x\n    at y (z.js:1:1)', 1)).toMatchObject({ code: 'VIGIE_ERR_LAB', message: 'the replay failed: sink failed (disk full)' });
    const unknown = failureOf('TypeError: boom\n    at f (a.js:1:1)', 1);
    expect(unknown.message).toBe('the replay stopped with exit code 1 without saying why');
    expect(unknown.message).not.toContain('boom');
    expect(failureOf('', null).message).toContain('stopped before it finished');
    // A code Vigie does not have is not trusted.
    expect(failureOf('vigie: VIGIE_ERR_NOPE: what', 1).code).toBe('VIGIE_ERR_LAB');
  });
});

describe('countAlerts', () => {
  it('counts alerts per detector, cooldown summaries left out', () => {
    const lines = [{ detector: 'a' }, { detector: 'a' }, { detector: 'a', repeatsOf: 'x' }, { detector: 'b' }].map((a) => JSON.stringify(a));
    expect(Object.fromEntries(countAlerts(`${lines.join('\n')}\nnot json\n`))).toEqual({ a: 2, b: 1 });
  });
});

describe('labEnv', () => {
  it("passes only the variables the current config names, never the console's tokens", () => {
    const text = 'url: ${REDIS_URL}\nname: ${NAME:-x}\npasswordEnv: REDIS_PASSWORD\nkey: ${VIGIE_CONSOLE_TOKEN}\n';
    expect([...namedVariables(text)].sort()).toEqual(['NAME', 'REDIS_PASSWORD', 'REDIS_URL', 'VIGIE_CONSOLE_TOKEN']);
    const env = { PATH: '/bin', REDIS_URL: 'redis://r', REDIS_PASSWORD: 'pw', OTHER_SECRET: 's', VIGIE_CONSOLE_TOKEN: 't', VIGIE_CONSOLE_ANALYST_TOKEN: 'u' };
    expect(labEnv(text, env)).toEqual({ PATH: '/bin', REDIS_URL: 'redis://r', REDIS_PASSWORD: 'pw' });
    expect(labEnv(undefined, env)).toEqual({ PATH: '/bin' });
  });
});

describe('datasets', () => {
  it('takes plain file names only', () => {
    for (const ok of ['a.jsonl', 'x=y.ndjson', '..a.jsonl', 'a..b.jsonl']) expect(isPlainName(ok), ok).toBe(true);
    for (const bad of ['', '.', '..', '../a.jsonl', 'a/b.jsonl', 'a\\b.jsonl', '/etc/passwd', 'a\0.jsonl', 'x'.repeat(256)]) expect(isPlainName(bad), bad).toBe(false);
  });

  it('sees labels in the first record of NDJSON and MessagePack files', async () => {
    const dir = tempDir('vigie-test-lab-parts-');
    writeFileSync(join(dir, 'l.jsonl'), '\n{"ts":1,"label":null,"case":null}\n{"ts":2}\n');
    writeFileSync(join(dir, 'u.jsonl'), '{"ts":1}\n{"ts":2,"label":"x"}\n');
    writeFileSync(join(dir, 'broken.ndjson'), '{"ts":\n');
    writeFileSync(join(dir, 'l.msgpack'), Buffer.concat([pack({ ts: 1, label: 'card_testing' }), pack({ ts: 2, label: null })]));
    writeFileSync(join(dir, 'u.msgpack'), Buffer.concat([pack({ ts: 1 }), pack({ ts: 2 })]));
    expect(await hasLabels(join(dir, 'l.jsonl'), 'ndjson')).toBe(true);
    expect(await hasLabels(join(dir, 'u.jsonl'), 'ndjson')).toBe(false);
    expect(await hasLabels(join(dir, 'broken.ndjson'), 'ndjson')).toBe(false);
    expect(await hasLabels(join(dir, 'l.msgpack'), 'msgpack')).toBe(true);
    expect(await hasLabels(join(dir, 'u.msgpack'), 'msgpack')).toBe(false);
    expect((await listDatasets(dir)).map((d) => [d.name, d.format])).toEqual([
      ['broken.ndjson', 'ndjson'],
      ['l.jsonl', 'ndjson'],
      ['l.msgpack', 'msgpack'],
      ['u.jsonl', 'ndjson'],
      ['u.msgpack', 'msgpack'],
    ]);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('LabRuns', () => {
  it('remembers the most recent runs only, newest first', async () => {
    const runs = new LabRuns({ logger: silentLogger, keep: 2 });
    const ids = ['a', 'b', 'c'].map((d) => runs.failed('backtest', `${d}.jsonl`, 'payments', labError('VIGIE_ERR_CONFIG', 'x')).id);
    expect(runs.list().map((r) => r.dataset)).toEqual(['c.jsonl', 'b.jsonl']);
    expect(runs.get(ids[0])).toBeUndefined();
    expect(runs.get(ids[2])).toMatchObject({ state: 'failed', report: false, error: { code: 'VIGIE_ERR_CONFIG', remedy: ERROR_CODES.VIGIE_ERR_CONFIG.remedy } });
    expect(runs.reportPath(ids[2])).toBeUndefined();
    await runs.close();
    expect(runs.list()).toEqual([]);
  });
});
