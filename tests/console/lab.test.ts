/**
 * The console's lab over HTTP: datasets of a folder (and nothing outside it), validation as one types,
 * backtests and what-ifs run by the real `vigie replay` in a child process over a dataset written by
 * the generator, against a current config whose redis sink points at a stream of the real Redis of
 * the global setup (this run's own namespace): the lab must never write it.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokensFromEnv } from '../../src/console/auth.js';
import { REPORT_CSP } from '../../src/console/lab-routes.js';
import { startConsole, type ConsoleServer } from '../../src/console/server.js';
import { ERROR_CODES } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { tempDir, vigie } from '../helpers/cli.js';
import { labConfig } from '../helpers/lab-config.js';
import { deleteKeys } from '../helpers/redis-keys.js';
import { services } from '../infra/index.js';

const READ_TOKEN = `read-${randomUUID()}`;
const ANALYST_TOKEN = `analyst-${randomUUID()}`;
const ns = `vigie:test:console-lab:${randomUUID()}`;
const tokens = () => tokensFromEnv({ VIGIE_CONSOLE_TOKEN: READ_TOKEN, VIGIE_CONSOLE_ANALYST_TOKEN: ANALYST_TOKEN });

let redis: Redis;
let root: string;
let labDir: string;
let configFile: string;
let liveText: string;
let server: ConsoleServer;
/** Where the lab's runs put their folders (TMPDIR of this test process). */
let runsTmp: string;

type Json = any;

async function call(path: string, opts: { token?: string | null; method?: string; body?: unknown } = {}): Promise<{ status: number; body: Json; headers: Headers; text: string }> {
  const token = opts.token === undefined ? ANALYST_TOKEN : opts.token;
  const headers: Record<string, string> = token === null ? {} : { authorization: `Bearer ${token}` };
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${server.url}${path}`, { method: opts.method ?? (opts.body === undefined ? 'GET' : 'POST'), headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  const text = await res.text();
  let body: Json;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, body, headers: res.headers, text };
}

async function finished(id: string, s: ConsoleServer = server): Promise<Json> {
  const deadline = Date.now() + 25_000;
  for (;;) {
    const r = await fetch(`${s.url}/api/lab/runs/${id}`, { headers: { authorization: `Bearer ${READ_TOKEN}` } });
    const run = await r.json();
    if (run.state === 'done' || run.state === 'failed') return run;
    if (Date.now() > deadline) throw new Error(`run ${id} still ${run.state}`);
    await new Promise((res) => setTimeout(res, 150));
  }
}

async function run(body: Record<string, unknown>): Promise<Json> {
  const r = await call('/api/lab/runs', { body });
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  return finished(r.body.id);
}

let savedTmp: string | undefined;

const withThreshold = (v: number) => liveText.replace('value: 3', `value: ${v}`);

beforeAll(async () => {
  const url = services().redisUrl;
  redis = new Redis(url, { lazyConnect: true });
  await redis.connect();
  root = tempDir('vigie-test-lab-');
  runsTmp = join(root, 'tmp');
  mkdirSync(runsTmp);
  savedTmp = process.env.TMPDIR;
  process.env.TMPDIR = runsTmp;
  labDir = join(root, 'lab');
  mkdirSync(labDir);
  mkdirSync(join(root, 'config', 'tables'), { recursive: true });
  configFile = join(root, 'config', 'live.yaml');
  liveText = labConfig(url, ns, { table: true });
  writeFileSync(configFile, liveText);
  writeFileSync(join(root, 'config', 'tables', 'vip.csv'), 'customer,tier\nC01127,gold\n');
  const gen = vigie(['generate', '-n', '3000', '--seed', '3', '--out', join(labDir, 'payments.jsonl')]);
  expect(gen.status, gen.stderr).toBe(0);
  // The same events without ground truth.
  const unlabelled = readFileSync(join(labDir, 'payments.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .slice(0, 1000)
    .map((l) => {
      const { label: _l, case: _c, ...rest } = JSON.parse(l);
      return JSON.stringify(rest);
    });
  writeFileSync(join(labDir, 'unlabelled.ndjson'), `${unlabelled.join('\n')}\n`);
  // Not datasets: another extension, a hidden file, a folder; and a file outside the lab folder.
  writeFileSync(join(labDir, 'notes.txt'), 'not a dataset\n');
  writeFileSync(join(labDir, '.hidden.jsonl'), '{}\n');
  mkdirSync(join(labDir, 'folder.jsonl'));
  writeFileSync(join(root, 'secret.jsonl'), '{"ts":1,"secret":true}\n');
  server = await startConsole({ target: { connection: { url }, streams: [`${ns}:alerts`] }, tokens: tokens(), logger: silentLogger, port: 0, lab: { dir: labDir, config: configFile } });
}, 60_000);

afterAll(async () => {
  process.env.TMPDIR = savedTmp;
  if (savedTmp === undefined) delete process.env.TMPDIR;
  delete process.env.LAB_TEST_SECRET;
  await server?.close();
  if (redis !== undefined) {
    await deleteKeys(redis, ns);
    redis.disconnect();
  }
  if (root !== undefined) rmSync(root, { recursive: true, force: true });
});

describe('lab datasets', () => {
  it('lists the replayable files of the lab folder only: name, size, modification time', async () => {
    const r = await call('/api/lab/datasets', { token: READ_TOKEN });
    expect(r.status).toBe(200);
    expect(r.body.datasets.map((d: Json) => d.name)).toEqual(['payments.jsonl', 'unlabelled.ndjson']);
    const p = r.body.datasets[0];
    expect(p.size).toBe(readFileSync(join(labDir, 'payments.jsonl')).length);
    expect(Date.parse(p.modified)).toBeGreaterThan(Date.now() - 600_000);
    expect(p.format).toBe('ndjson');
  });

  it('refuses paths and names not in the folder (400 or 404), and starts no run for them', async () => {
    const before = (await call('/api/lab/runs')).body.runs.length;
    const attempt = (dataset: unknown) => call('/api/lab/runs', { body: { dataset, mode: 'backtest', text: liveText } });
    for (const name of ['../secret.jsonl', '..', join(root, 'secret.jsonl'), '/etc/passwd', 'sub/../payments.jsonl', 'a\\b.jsonl', '', 42]) {
      const r = await attempt(name);
      expect(r.status, String(name)).toBe(400);
      expect(r.body.error.code).toBe('bad_request');
    }
    for (const name of ['secret.jsonl', 'notes.txt', '.hidden.jsonl', 'folder.jsonl', 'missing.jsonl']) {
      const r = await attempt(name);
      expect(r.status, name).toBe(404);
      expect(r.body.error.message).toContain('no dataset');
    }
    expect((await call('/api/lab/runs')).body.runs.length).toBe(before);
  });
});

describe('lab validation', () => {
  it('serves the current config with its sources; it validates without problems', async () => {
    const c = await call('/api/lab/config', { token: READ_TOKEN });
    expect(c.status).toBe(200);
    expect(c.body.current).toEqual({ name: 'live.yaml', text: liveText, sources: ['payments'] });
    const v = await call('/api/lab/validate', { body: { text: liveText } });
    expect(v.body).toEqual({ ok: true, problems: [], sources: ['payments'] });
    // Validation reads the current config's variables: read-only users may not.
    const refused = await call('/api/lab/validate', { token: READ_TOKEN, body: { text: liveText } });
    expect(refused.status).toBe(403);
  });

  it('reports a broken edit at its line and column', async () => {
    const lines = liveText.split('\n');
    const at = lines.findIndex((l) => l.includes('value: 3'));
    lines[at] = '        value: three';
    const v = await call('/api/lab/validate', { body: { text: lines.join('\n') } });
    expect(v.status).toBe(200);
    expect(v.body.ok).toBe(false);
    expect(v.body.problems).toEqual([expect.objectContaining({ line: at + 1, column: 16, path: 'pipelines[0].detectors[0].value', severity: 'error' })]);
    expect(v.body.problems[0].message).toContain('three');

    const yaml = await call('/api/lab/validate', { body: { text: liveText.replace("op: '>='", 'op: >=') } });
    expect(yaml.body.ok).toBe(false);
    expect(yaml.body.problems[0].line).toBe(lines.findIndex((l) => l.includes("op: '>='")) + 1);
  });

  it('validates with only the variables the current config names: others of the console are not readable', async () => {
    process.env.LAB_TEST_SECRET = 'do-not-show';
    const v = await call('/api/lab/validate', { body: { text: liveText.replace('name: lab-live', 'name: ${LAB_TEST_SECRET}') } });
    expect(v.body.ok).toBe(false);
    expect(v.body.problems[0].message).toContain('environment variable LAB_TEST_SECRET is not set');
    expect(JSON.stringify(v.body)).not.toContain('do-not-show');
  });

  it('never shows the value of a variable the current config names, even one an edit puts where it does not belong', async () => {
    const secret = 'hunter2-secret-value-that-is-long-enough-to-be-cut-in-a-message-xyz';
    process.env.LAB_NAMED_SECRET = secret;
    // The current config names the variable (a comment is enough for the lab to pass it on).
    writeFileSync(configFile, `# password: \${LAB_NAMED_SECRET}\n${liveText}`);
    try {
      const v = await call('/api/lab/validate', { body: { text: liveText.replace(/^sinks:/m, 'tables: ${LAB_NAMED_SECRET}\nsinks:') } });
      expect(v.body.ok).toBe(false);
      const text = JSON.stringify(v.body);
      expect(text).toContain('${LAB_NAMED_SECRET}');
      expect(text).not.toContain(secret.slice(0, 12));
      const r = await run({ dataset: 'payments.jsonl', mode: 'backtest', text: liveText.replace(/^sinks:/m, 'tables: ${LAB_NAMED_SECRET}\nsinks:') });
      expect(r.state).toBe('failed');
      expect(JSON.stringify(r)).toContain('${LAB_NAMED_SECRET}');
      expect(JSON.stringify(r)).not.toContain(secret.slice(0, 12));
    } finally {
      writeFileSync(configFile, liveText);
      delete process.env.LAB_NAMED_SECRET;
    }
  });

  it('refuses a text over 1 MB (413) and a body without text (400)', async () => {
    expect((await call('/api/lab/validate', { body: { text: `# ${'x'.repeat(1_000_001)}` } })).status).toBe(413);
    expect((await call('/api/lab/validate', { body: { nope: 1 } })).status).toBe(400);
  });
});

describe('lab runs', () => {
  it('refuses runs to the read-only role (403), which may still read runs', async () => {
    const r = await call('/api/lab/runs', { token: READ_TOKEN, body: { dataset: 'payments.jsonl', mode: 'backtest', text: liveText } });
    expect(r.status).toBe(403);
    expect(r.body.error.message).toContain('analyst');
    expect((await call('/api/lab/runs', { token: READ_TOKEN })).status).toBe(200);
  });

  it('what-if: a changed threshold changes the per-detector counts; the report is served under its own policy', async () => {
    const changed = await run({ dataset: 'payments.jsonl', mode: 'what-if', text: withThreshold(5) });
    expect(changed.state, JSON.stringify(changed.error)).toBe('done');
    expect(changed.source).toBe('payments');
    const s = changed.summary;
    expect(s).toMatchObject({ mode: 'what-if', events: 3000, deadLetters: 0, labelled: true });
    const d = s.detectors.find((x: Json) => x.detector === 'busy-customer');
    expect(d.current).toBeGreaterThan(d.candidate);
    expect(d.onlyCurrent).toBe(d.current - d.both);
    expect(d.onlyCandidate).toBe(0);
    expect(d.precision.current).toBeGreaterThanOrEqual(0);
    expect(s.recall.map((r: Json) => r.typology)).toContain('card_testing');
    expect(Date.parse(changed.finishedAt)).toBeGreaterThanOrEqual(Date.parse(changed.startedAt));

    const report = await call(`/lab/runs/${changed.id}/report`, { token: READ_TOKEN });
    expect(report.status).toBe(200);
    expect(report.headers.get('content-security-policy')).toBe(REPORT_CSP);
    expect(report.text).toContain('<svg');
    expect(report.text).toContain('busy-customer');
    expect(report.text).toContain('payments=payments.jsonl');
    expect(report.text).not.toContain(root);

    const same = await run({ dataset: 'payments.jsonl', mode: 'what-if', text: liveText });
    expect(same.state).toBe('done');
    const e = same.summary.detectors.find((x: Json) => x.detector === 'busy-customer');
    expect(e.candidate).toBe(e.current);
    expect(e.current).toBe(d.current);
    expect(same.summary.totals).toMatchObject({ onlyCurrent: 0, onlyCandidate: 0, both: e.current });
  });

  it('backtest of the edited config alone: its alerts per detector; no labels asked of a dataset without them', async () => {
    const b = await run({ dataset: 'unlabelled.ndjson', mode: 'backtest', text: withThreshold(2) });
    expect(b.state, JSON.stringify(b.error)).toBe('done');
    expect(b.summary).toMatchObject({ mode: 'backtest', events: 1000, labelled: false });
    expect(b.summary.detectors[0].detector).toBe('busy-customer');
    expect(b.summary.detectors[0].candidate).toBeGreaterThan(0);
    expect(b.summary.detectors[0].current).toBeUndefined();
    expect(b.summary.recall).toBeUndefined();
    expect(b.report).toBe(true);
  });

  it('never writes the live alert stream (nor any key of the config\'s redis sink)', async () => {
    // A backtest of one config writes its configured sinks unless told otherwise: the lab tells it.
    const b = await run({ dataset: 'payments.jsonl', mode: 'backtest', text: withThreshold(1) });
    expect(b.state).toBe('done');
    expect(b.summary.totals.candidate).toBeGreaterThan(100);
    expect(await redis.exists(`${ns}:alerts`)).toBe(0);
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${ns}*`, 'COUNT', 10_000);
      cursor = next;
      keys.push(...found);
    } while (cursor !== '0');
    expect(keys).toEqual([]);
  });

  it('runs one at a time: another run meanwhile gets 409', async () => {
    const first = await call('/api/lab/runs', { body: { dataset: 'payments.jsonl', mode: 'what-if', text: liveText } });
    expect(first.status).toBe(202);
    const second = await call('/api/lab/runs', { body: { dataset: 'payments.jsonl', mode: 'backtest', text: liveText } });
    expect(second.status).toBe(409);
    expect(second.body.error).toMatchObject({ code: 'busy' });
    expect(second.body.error.message).toContain('one at a time');
    expect((await finished(first.body.id)).state).toBe('done');
    // Free again once it is over.
    const third = await run({ dataset: 'payments.jsonl', mode: 'backtest', text: liveText });
    expect(third.state).toBe('done');
  });

  it('an invalid edited config fails with its problems by line, the code and its remedy; no stack', async () => {
    const lines = liveText.split('\n');
    const at = lines.findIndex((l) => l.includes('aggregate: payments'));
    const bad = await run({ dataset: 'payments.jsonl', mode: 'what-if', text: liveText.replace('aggregate: payments', 'aggregate: paymnts') });
    expect(bad.state).toBe('failed');
    expect(bad.error.code).toBe('VIGIE_ERR_CONFIG');
    expect(bad.error.message).toContain(`candidate.yaml:${at + 1}:`);
    expect(bad.error.message).toContain('paymnts');
    expect(bad.error.remedy).toBe(ERROR_CODES.VIGIE_ERR_CONFIG.remedy);
    expect(bad.summary).toBeUndefined();
    expect((await call(`/lab/runs/${bad.id}/report`)).status).toBe(404);
  });

  it('a run the replay refuses fails with the replay\'s own code and message: relative paths resolve from the current config\'s folder', async () => {
    const missing = await run({ dataset: 'payments.jsonl', mode: 'backtest', text: liveText.replace('tables/vip.csv', 'tables/absent.csv') });
    expect(missing.state).toBe('failed');
    expect(missing.error.code).toBe('VIGIE_ERR_TABLE');
    expect(missing.error.message).toContain('absent.csv');
    expect(missing.error.remedy).toBe(ERROR_CODES.VIGIE_ERR_TABLE.remedy);
    expect(missing.error.message).not.toMatch(/\n\s+at /);

    const other = await run({ dataset: 'payments.jsonl', mode: 'what-if', text: liveText.replace('key: customer\n    enrich', 'sources: [cards]\n    key: customer\n    enrich').replace('  - name: payments\n', '  - name: cards\n') });
    expect(other.state).toBe('failed');
    expect(other.error.code).toBe('VIGIE_ERR_USAGE');
    expect(other.error.message).toContain('"cards"');
  });

  it('asks which source the dataset replaces when the config has several; the others are read as configured', async () => {
    const field = '    fields: { amount: number, customer: string }\n';
    const two = liveText.replace(field, `${field}  - name: extra\n    type: generator\n    scenario: payments\n    events: 5\n    seed: 9\n${field}`);
    const v = await call('/api/lab/validate', { body: { text: two } });
    expect(v.body).toMatchObject({ ok: true, sources: ['payments', 'extra'] });
    const unsaid = await call('/api/lab/runs', { body: { dataset: 'payments.jsonl', mode: 'backtest', text: two } });
    expect(unsaid.status).toBe(400);
    expect(unsaid.body.error.message).toContain('2 sources (payments, extra): say which one');
    const r = await run({ dataset: 'payments.jsonl', mode: 'backtest', text: two, source: 'payments' });
    expect(r.state, JSON.stringify(r.error)).toBe('done');
    expect(r.source).toBe('payments');
    expect(r.summary.events).toBe(3005);
  });

  it('refuses an unknown source (400); of every finished run, only its report is left on disk', async () => {
    const r = await call('/api/lab/runs', { body: { dataset: 'payments.jsonl', mode: 'backtest', text: liveText, source: 'nope' } });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toContain('no source "nope"');
    const folders = readdirSync(runsTmp);
    expect(folders.length).toBeGreaterThan(0);
    for (const f of folders) expect(readdirSync(join(runsTmp, f))).toEqual(['report.html']);
  });
});

describe('lab limits and settings', () => {
  it('stops a run over its time limit', async () => {
    const quick = await startConsole({ target: { connection: { url: services().redisUrl }, streams: [`${ns}:alerts`] }, tokens: tokens(), logger: silentLogger, port: 0, lab: { dir: labDir, config: configFile, timeoutMs: 50 } });
    try {
      const r = await fetch(`${quick.url}/api/lab/runs`, { method: 'POST', headers: { authorization: `Bearer ${ANALYST_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ dataset: 'payments.jsonl', mode: 'what-if', text: liveText }) });
      expect(r.status).toBe(202);
      const run = await finished((await r.json()).id, quick);
      expect(run.state).toBe('failed');
      expect(run.error.code).toBe('VIGIE_ERR_LAB');
      expect(run.error.message).toContain('longer than');
    } finally {
      await quick.close();
    }
  });

  it('without --lab-dir the page says how to enable it and the API answers 404; without --config no what-if', async () => {
    const off = await startConsole({ target: { connection: { url: services().redisUrl }, streams: [`${ns}:alerts`] }, tokens: tokens(), logger: silentLogger, port: 0 });
    const noConfig = await startConsole({ target: { connection: { url: services().redisUrl }, streams: [`${ns}:alerts`] }, tokens: tokens(), logger: silentLogger, port: 0, lab: { dir: labDir } });
    try {
      const auth = { authorization: `Bearer ${READ_TOKEN}` };
      const page = await fetch(`${off.url}/lab`, { headers: auth });
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toContain('The lab is not enabled');
      expect(html).toContain('--lab-dir');
      const api = await fetch(`${off.url}/api/lab/datasets`, { headers: auth });
      expect(api.status).toBe(404);
      expect((await api.json()).error.message).toContain('--lab-dir');

      expect(await (await fetch(`${noConfig.url}/api/lab/config`, { headers: auth })).json()).toEqual({ current: null });
      const whatIf = await fetch(`${noConfig.url}/api/lab/runs`, { method: 'POST', headers: { authorization: `Bearer ${ANALYST_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ dataset: 'payments.jsonl', mode: 'what-if', text: liveText }) });
      expect(whatIf.status).toBe(400);
      expect((await whatIf.json()).error.message).toContain('--config');
    } finally {
      await off.close();
      await noConfig.close();
    }
  });

  it('says when the current config or the lab folder cannot be read (503), not a Redis failure', async () => {
    const gone = await startConsole({ target: { connection: { url: services().redisUrl }, streams: [`${ns}:alerts`] }, tokens: tokens(), logger: silentLogger, port: 0, lab: { dir: join(root, 'no-such-folder'), config: join(root, 'gone.yaml') } });
    try {
      const auth = { authorization: `Bearer ${READ_TOKEN}` };
      const config = await fetch(`${gone.url}/api/lab/config`, { headers: auth });
      expect(config.status).toBe(503);
      expect((await config.json()).error.message).toBe('cannot read the current config gone.yaml: ENOENT');
      const datasets = await fetch(`${gone.url}/api/lab/datasets`, { headers: auth });
      expect(datasets.status).toBe(503);
      expect((await datasets.json()).error.message).toBe('cannot read the lab folder: ENOENT');
    } finally {
      await gone.close();
    }
  });

  it('removes every run folder when the console closes', async () => {
    expect(readdirSync(runsTmp).length).toBeGreaterThan(0);
    await server.close();
    expect(readdirSync(runsTmp)).toEqual([]);
  });
});
