import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, tempDir, vigie } from '../helpers/cli.js';

/** The first line of a human alert entry: `HH:MM:SS SEVERITY detector  key K  observed ...`, the date first when not today's. */
const ALERT_ENTRY = /^(\d{4}-\d\d-\d\d )?\d\d:\d\d:\d\d (INFO|LOW|MEDIUM|HIGH|CRITICAL) +[a-z][\w-]* {2}key \S+ {2}observed /m;
const STATUS = /^\d\d:\d\d:\d\d INFO {2}status: [\d,]+ events? in \([\d,]+\/s\), [\d,]+ alerts?, [\d,]+ dead letters?, (watermark lag [\d.]+ s|no watermark yet)/m;
/** The demo must show an alert within this (docs: README, "Two commands"). */
const FIRST_ALERT_WITHIN_MS = 30_000;

const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;

interface Running {
  stdout: () => string;
  stderr: () => string;
  /** Resolves true once `done` holds for the output so far, false after `ms`. */
  until: (done: () => boolean, ms: number) => Promise<boolean>;
  /** Send `signal` (or, on a terminal, type Ctrl-C) and resolve with the exit code. */
  interrupt: () => Promise<number | null>;
}

/**
 * `vigie run` of the demo, its metrics on a port the system picks (0). With `terminal`, under
 * `script`, so stdout and stderr are a real terminal and Ctrl-C is typed, as a person would.
 */
function runDemo(args: string[], terminal = false): Running {
  const argv = ['bin/vigie.js', ...args, 'run', '-c', 'config/demo.yaml', '--metrics-port', '0'];
  const env = { ...process.env, VIGIE_LOG_LEVEL: 'info', NO_COLOR: '1' };
  const child = terminal
    ? // `exec`: the shell `script` starts (dash, when SHELL is unset or /bin/sh) would otherwise stay
      // the parent, and the typed Ctrl-C would kill it while Vigie stops cleanly.
      spawn('script', ['-qefc', `exec ${[process.execPath, ...argv].map((a) => `'${a}'`).join(' ')}`, '/dev/null'], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] })
    : spawn(process.execPath, argv, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d) => (out += String(d).replace(/\r\n/g, '\n')));
  child.stderr?.on('data', (d) => (err += String(d)));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return {
    stdout: () => out,
    stderr: () => err,
    async until(done, ms) {
      const end = Date.now() + ms;
      while (Date.now() < end && child.exitCode === null) {
        if (done()) return true;
        await new Promise((r) => setTimeout(r, 100));
      }
      return done();
    },
    async interrupt() {
      if (child.exitCode === null) {
        if (terminal) child.stdin?.write('\u0003');
        else child.kill('SIGINT');
      }
      const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

const isJson = (line: string): boolean => {
  try {
    return typeof JSON.parse(line) === 'object';
  } catch {
    return false;
  }
};

describe('vigie run for a person', () => {
  it('--log-format pretty: an alert entry within 30 s, a status line, readable logs and summary, a clean stop on SIGINT', async () => {
    const run = runDemo(['--log-format', 'pretty']);
    const started = Date.now();
    const alerted = await run.until(() => ALERT_ENTRY.test(run.stdout()), FIRST_ALERT_WITHIN_MS);
    const firstAlertMs = Date.now() - started;
    const status = await run.until(() => STATUS.test(run.stderr()), 20_000);
    const code = await run.interrupt();
    expect(alerted, `no alert within ${FIRST_ALERT_WITHIN_MS} ms; stdout:\n${run.stdout()}\nstderr:\n${run.stderr()}`).toBe(true);
    expect(firstAlertMs).toBeLessThan(FIRST_ALERT_WITHIN_MS);
    expect(status, run.stderr()).toBe(true);
    expect(code, run.stderr()).toBe(0);
    const entry = run.stdout().match(ALERT_ENTRY)![0];
    expect(isJson(entry)).toBe(false);
    // The explanation follows on its own indented line.
    const lines = run.stdout().split('\n');
    const at = lines.findIndex((l) => ALERT_ENTRY.test(l));
    expect(lines[at + 1]).toMatch(/^ {9,}\S/);
    // Logs are readable lines, none of them JSON; the summary is a table, not a JSON line.
    const logLines = run.stderr().trimEnd().split('\n');
    expect(logLines.filter(isJson)).toEqual([]);
    expect(run.stderr()).toMatch(/^\d\d:\d\d:\d\d INFO {2}engine started /m);
    expect(run.stdout()).toMatch(/^Run of demo \(config [0-9a-f]+\): /m);
    expect(run.stdout()).toMatch(/^ {2}detector +alerts +repeats suppressed$/m);
    expect(run.stdout()).not.toContain('"summary"');
  }, 90_000);

  it.skipIf(!hasScript)('on a terminal the human form is the default, and Ctrl-C stops it cleanly', async () => {
    const run = runDemo([], true);
    const alerted = await run.until(() => ALERT_ENTRY.test(run.stdout()), FIRST_ALERT_WITHIN_MS);
    const code = await run.interrupt();
    expect(alerted, run.stdout()).toBe(true);
    expect(code, run.stdout()).toBe(0);
    expect(run.stdout()).toMatch(/^\d\d:\d\d:\d\d INFO {2}engine started /m);
    expect(run.stdout()).toMatch(/^Run of demo /m);
    expect(run.stdout().split('\n').filter(isJson)).toEqual([]);
  }, 90_000);

  it('--log-format json: JSON log lines and the JSON summary line, on a terminal too', async () => {
    const run = runDemo(['--log-format', 'json'], hasScript);
    const logs = () => (hasScript ? run.stdout() : run.stderr());
    // The console sink's one-line form: scripts grep it.
    const alerted = await run.until(() => /^\S+Z (INFO|LOW|MEDIUM|HIGH|CRITICAL) \S+ key=/m.test(run.stdout()), FIRST_ALERT_WITHIN_MS);
    const code = await run.interrupt();
    expect(alerted, run.stdout()).toBe(true);
    expect(code, logs()).toBe(0);
    const records = logs()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg: string; level: number; summary?: { alerts: { total: number } } });
    expect(records.map((r) => r.msg)).toEqual(expect.arrayContaining(['engine started', 'summary']));
    expect(records.find((r) => r.msg === 'summary')!.summary!.alerts.total).toBeGreaterThan(0);
    if (!hasScript) expect(run.stderr().trimEnd().split('\n').every(isJson)).toBe(true);
    expect(logs()).not.toMatch(STATUS);
  }, 90_000);
});

describe('vigie options', () => {
  it('--version prints the package version', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = vigie([flag]);
      expect(r.status).toBe(0);
      expect(r.stdout).toBe(`${pkg.version}\n`);
    }
  });

  it('--log-level sets the level over VIGIE_LOG_LEVEL, and an unknown level is a usage error', () => {
    const input = join(tempDir(), 'payments.ndjson');
    expect(vigie(['generate', '--events', '300', '--out', input]).status).toBe(0);
    const replay = (args: string[]) => vigie([...args, 'replay', '-c', 'config/payments.yaml', '--input', input], { env: { VIGIE_LOG_LEVEL: 'warn' } });
    expect(replay([]).stderr).not.toContain('"msg":"engine started"');
    const r = replay(['--log-level', 'info']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('"msg":"engine started"');
    const bad = vigie(['--log-level', 'loud', 'validate', '-c', 'config/demo.yaml']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--log-level <level>' argument 'loud' is invalid/);
  });
});
