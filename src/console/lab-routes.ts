/**
 * The lab's routes: the page (/lab), its datasets, the current config, validation as one types,
 * runs (backtest of the edited config, or what-if against the current one) and their reports.
 *
 *   GET  /lab                         the page (how to enable it when there is no --lab-dir)
 *   GET  /api/lab/datasets            { datasets: [{ name, size, modified, format }] }
 *   GET  /api/lab/config              { current: { name, text, sources } | null }
 *   POST /api/lab/validate { text }   { ok, problems: [{ line, column, path, message, severity }], sources? }
 *   POST /api/lab/runs { dataset, source?, text, mode } or { kafka: { topic, since, until? }, text, mode }
 *                                     202 { id } (analyst role; 409 while a run goes on)
 *   GET  /api/lab/runs                { runs } newest first
 *   GET  /api/lab/runs/ID             { id, state, startedAt, finishedAt, summary, error, report, ... }
 *   GET  /lab/runs/ID/report          the run's HTML report, under a CSP of its own
 */
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import type { Logger } from 'pino';
import { alertingDetectors } from '../backtest/configs.js';
import { parseTimeArg } from '../backtest/kafka-history.js';
import { formatProblem, sortProblems, validateConfigText, type ConfigProblem, type LoadedConfig } from '../config/load.js';
import { HttpError, readJsonBody, requireAnalyst, sendJson, type RouteContext, type Routes } from './http.js';
import { datasetPath, hasLabels, listDatasets } from './lab-datasets.js';
import { labEnv, scrubValues } from './lab-env.js';
import { labError, type LabMode } from './lab-outcome.js';
import { labPage } from './lab-page.js';
import { LabRuns, type KafkaRange } from './lab-runs.js';
import { sendHtml } from './page.js';

export interface LabOptions {
  /** The folder of recorded datasets (`--lab-dir`); without it the lab is off. */
  dir?: string;
  /** The current config (`--config`): what a what-if compares against, and where relative paths resolve. */
  config?: string;
  /** Time limit of one run (default 5 min). */
  timeoutMs?: number;
  /** Runs remembered (default 20). */
  keep?: number;
}

/** The largest config text accepted (validation and runs). */
export const MAX_TEXT_BYTES = 1_000_000;
/** The report's own policy: its inline style and images only, framed by the console's pages only. */
export const REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'";
const CANDIDATE = 'candidate.yaml';
const MODES: readonly LabMode[] = ['backtest', 'what-if'];

interface Current {
  name: string;
  text: string;
}

function configText(body: Record<string, unknown>): string {
  const text = body.text;
  if (typeof text !== 'string') throw new HttpError(400, 'bad_request', 'text: expected the config text (a string)');
  if (Buffer.byteLength(text, 'utf8') > MAX_TEXT_BYTES) throw new HttpError(413, 'too_large', `the config text is over ${MAX_TEXT_BYTES} bytes`);
  return text;
}

/** Problems as the page shows them: errors and warnings in file order, no variable's value in them. */
function shown(problems: readonly ConfigProblem[], env: NodeJS.ProcessEnv): Array<Omit<ConfigProblem, 'file'>> {
  return sortProblems(problems).map(({ line, column, path, message, severity }) => ({ line, column, path, message: scrubValues(message, env), severity: severity ?? 'error' }));
}

const MAX_LISTED = 10;

/** The first problems as the command line prints them (under the file's bare name), and how many more. */
function listed(problems: readonly ConfigProblem[], file: string, env: NodeJS.ProcessEnv): string {
  const sorted = sortProblems(problems);
  const more = sorted.length > MAX_LISTED ? `\n(${sorted.length - MAX_LISTED} more)` : '';
  return scrubValues(sorted.slice(0, MAX_LISTED).map((p) => formatProblem({ ...p, file })).join('\n') + more, env);
}

/** The source a dataset replaces: the one given (among the config's), or the config's only one. */
function chooseSource(loaded: LoadedConfig, given: unknown): string {
  const names = loaded.config.sources.map((s) => s.name);
  if (given !== undefined && given !== null && given !== '') {
    if (typeof given !== 'string' || !names.includes(given)) throw new HttpError(400, 'bad_request', `source: the config has no source "${String(given)}"; its sources: ${names.join(', ')}`);
    return given;
  }
  if (names.length !== 1) throw new HttpError(400, 'bad_request', `source: the config has ${names.length} sources (${names.join(', ')}): say which one the dataset replaces`);
  return names[0];
}

/** `{ topic, since, until? }` of a Kafka range: a topic name, and times as `vigie replay --since/--until` takes them. */
function kafkaRange(v: unknown): KafkaRange {
  const bad = (m: string) => new HttpError(400, 'bad_request', `kafka: ${m}`);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('expected { topic, since, until? }');
  const { topic, since, until } = v as Record<string, unknown>;
  if (typeof topic !== 'string' || !/^[A-Za-z0-9._-]{1,249}$/.test(topic)) throw bad('topic: expected a Kafka topic name (letters, digits, ".", "_", "-")');
  const time = (name: string, t: unknown): string | undefined => {
    if (t === undefined || t === null || t === '') return undefined;
    if (typeof t !== 'string' || t.length > 64) throw bad(`${name}: expected a time`);
    try {
      parseTimeArg(t, Date.now(), name);
    } catch (err) {
      throw bad(err instanceof Error ? err.message : String(err));
    }
    return t.trim();
  };
  const from = time('since', since);
  if (from === undefined) throw bad('since: required (ISO-8601, or a duration ago like 24h)');
  const to = time('until', until);
  return { topic, since: from, ...(to === undefined ? {} : { until: to }) };
}

export class Lab {
  readonly runs: LabRuns;

  constructor(
    private readonly opts: LabOptions,
    private readonly logger: Logger,
  ) {
    this.runs = new LabRuns({ logger, timeoutMs: opts.timeoutMs, keep: opts.keep });
  }

  /** The route module (one of server.ts's modules). */
  readonly routes: Routes = (ctx) => this.route(ctx);

  close(): Promise<void> {
    return this.runs.close();
  }

  private async current(): Promise<Current | undefined> {
    if (this.opts.config === undefined) return undefined;
    const name = basename(this.opts.config);
    const text = await readFile(this.opts.config, 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new HttpError(503, 'unavailable', `cannot read the current config ${name}: ${err.code ?? err.message}`);
    });
    return { name, text };
  }

  /** The folder relative paths resolve from: the current config's (else the lab folder's). */
  private baseDir(): string {
    return resolve(this.opts.config !== undefined ? dirname(this.opts.config) : (this.opts.dir ?? '.'));
  }

  private dir(): string {
    if (this.opts.dir === undefined) throw new HttpError(404, 'not_found', 'the lab is not enabled: start the console with --lab-dir DIR (a folder of recorded datasets)');
    return this.opts.dir;
  }

  private validate(text: string, file: string, env: NodeJS.ProcessEnv) {
    return validateConfigText(text, resolve(this.baseDir(), file), env);
  }

  private async route(ctx: RouteContext): Promise<boolean> {
    const { req, res, path, role } = ctx;
    if (path === '/lab' && req.method === 'GET') {
      sendHtml(res, 200, labPage({ enabled: this.opts.dir !== undefined, current: this.opts.config !== undefined ? basename(this.opts.config) : undefined, analyst: role === 'analyst' }));
      return true;
    }
    const report = /^\/lab\/runs\/([0-9a-f]{16})\/report$/.exec(path);
    if (report !== null && req.method === 'GET') {
      await this.sendReport(ctx, report[1]);
      return true;
    }
    if (!path.startsWith('/api/lab/')) return false;
    const dir = this.dir();
    const method = req.method ?? 'GET';
    const route = `${method} ${path}`;
    if (route === 'GET /api/lab/datasets') {
      sendJson(res, 200, { datasets: await listDatasets(dir) });
    } else if (route === 'GET /api/lab/config') {
      const current = await this.current();
      const sources = current === undefined ? [] : (this.validate(current.text, current.name, labEnv(current.text)).loaded?.config.sources.map((s) => s.name) ?? []);
      sendJson(res, 200, { current: current === undefined ? null : { ...current, sources } });
    } else if (route === 'POST /api/lab/validate') {
      // Validation reads the current config's variables (its secrets too): only for those who may run it.
      requireAnalyst(role, 'validating an edited config');
      const text = configText(await readJsonBody(req, 2 * MAX_TEXT_BYTES));
      const current = await this.current();
      const env = labEnv(current?.text);
      const report = this.validate(text, CANDIDATE, env);
      const problems = shown([...report.problems, ...report.warnings], env);
      sendJson(res, 200, { ok: report.loaded !== undefined, problems, ...(report.loaded ? { sources: report.loaded.config.sources.map((s) => s.name) } : {}) });
    } else if (route === 'POST /api/lab/runs') {
      requireAnalyst(role, 'running a backtest');
      sendJson(res, 202, await this.startRun(await readJsonBody(req, 2 * MAX_TEXT_BYTES), dir));
    } else if (route === 'GET /api/lab/runs') {
      sendJson(res, 200, { runs: this.runs.list() });
    } else if (method === 'GET' && path.startsWith('/api/lab/runs/')) {
      const run = this.runs.get(path.slice('/api/lab/runs/'.length));
      if (run === undefined) throw new HttpError(404, 'not_found', 'no such run (the lab remembers the most recent ones only)');
      sendJson(res, 200, run);
    } else {
      const known = ['/api/lab/datasets', '/api/lab/config', '/api/lab/validate', '/api/lab/runs'].includes(path) || path.startsWith('/api/lab/runs/');
      throw known ? new HttpError(405, 'method_not_allowed', `${method} is not allowed on ${path}`) : new HttpError(404, 'not_found', `no such endpoint: ${path}`);
    }
    return true;
  }

  private async startRun(body: Record<string, unknown>, dir: string): Promise<{ id: string }> {
    const mode = body.mode;
    if (typeof mode !== 'string' || !(MODES as readonly string[]).includes(mode)) throw new HttpError(400, 'bad_request', `mode: expected one of ${MODES.join(', ')}`);
    const text = configText(body);
    const kafka = body.kafka === undefined || body.kafka === null ? undefined : kafkaRange(body.kafka);
    const dataset = kafka === undefined ? await datasetPath(dir, body.dataset) : undefined;
    const current = await this.current();
    if (mode === 'what-if' && current === undefined) {
      throw new HttpError(400, 'bad_request', 'a what-if needs the current config: start the console with --config FILE (or run a backtest of the edited config alone)');
    }
    this.runs.checkIdle();
    const env = labEnv(current?.text);
    const candidate = this.validate(text, CANDIDATE, env);
    const reference = mode === 'what-if' && current !== undefined ? this.validate(current.text, current.name, env) : candidate;
    const failed = (file: string, problems: readonly ConfigProblem[]) => {
      const error = labError('VIGIE_ERR_CONFIG', `${problems.length} problem${problems.length === 1 ? '' : 's'} in ${file}:\n${listed(problems, file, env)}`);
      const name = dataset?.name ?? `kafka topic ${kafka?.topic ?? ''}`;
      return { id: this.runs.failed(mode as LabMode, name, typeof body.source === 'string' ? body.source : '', error).id };
    };
    if (reference.loaded === undefined && current !== undefined && reference !== candidate) return failed(current.name, reference.problems);
    if (candidate.loaded === undefined) return failed(CANDIDATE, candidate.problems);
    const input = dataset !== undefined ? { dataset, source: chooseSource(reference.loaded ?? candidate.loaded, body.source) } : { kafka: kafka as KafkaRange };
    const run = this.runs.start({
      mode: mode as LabMode,
      input,
      candidate: text,
      current: current?.text,
      baseDir: this.baseDir(),
      // A topic's records are not looked at before the run: no labels asked of them.
      labels: dataset !== undefined && (await hasLabels(dataset.path, dataset.format)),
      detectors: alertingDetectors(candidate.loaded),
      env,
    });
    this.logger.info({ run: run.id, mode }, 'lab: run accepted');
    return { id: run.id };
  }

  private async sendReport(ctx: RouteContext, id: string): Promise<void> {
    const path = this.runs.reportPath(id);
    if (path === undefined) throw new HttpError(404, 'not_found', 'this run has no report (not finished, failed, or no longer remembered)');
    const html = await readFile(path, 'utf8').catch(() => undefined);
    if (html === undefined) throw new HttpError(404, 'not_found', 'the report of this run is gone');
    sendHtml(ctx.res, 200, html, { 'content-security-policy': REPORT_CSP });
  }
}
