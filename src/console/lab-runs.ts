/**
 * The lab's runs: each is `vigie replay` in a child process of its own (the built CLI, with the
 * console's Node), over one dataset, in a private temporary folder that holds everything it reads
 * and writes: the configs, a link to the dataset, `--out` (the alerts, instead of the configs'
 * sinks) and the HTML report. A run never opens a config's sinks: a what-if writes nowhere but
 * `--out`, and a backtest of one config is given `--out` as well, which replaces its sinks.
 *
 * Bounded: one run at a time (another gets 409), a time limit (the child is killed), the last
 * `keep` runs remembered (older ones dropped with their folder). Once a run ends, only its report
 * is kept on disk; closing the console kills a running child and removes every folder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { WhatIfReport } from '../backtest/compare.js';
import type { Summary } from '../engine/summary.js';
import { HttpError } from './http.js';
import { scrubValues } from './lab-env.js';
import { backtestSummary, countAlerts, failureOf, LAB_CODE, labError, whatIfSummary, type LabError, type LabMode, type LabSummary } from './lab-outcome.js';

/**
 * The built CLI: beside this module in dist/ (dist/src/console/ -> dist/src/cli/main.js); from the
 * TypeScript sources (tests), the build of the same checkout.
 */
export const CLI = fileURLToPath(new URL(/\/dist\/src\/console\/[^/]+$/.test(new URL(import.meta.url).pathname) ? '../cli/main.js' : '../../dist/src/cli/main.js', import.meta.url));

export const DEFAULT_TIMEOUT_MS = 5 * 60_000;
export const DEFAULT_KEEP = 20;
/** What is kept of a child's output (the summary and the end of its log). */
const MAX_STDOUT = 16 * 1024 * 1024;
const MAX_STDERR = 64 * 1024;

export type RunState = 'queued' | 'running' | 'done' | 'failed';

/** What a run is given: its configs' text, the dataset and where relative paths resolve. */
export interface RunSpec {
  mode: LabMode;
  /** What is replayed: a dataset of the lab folder for one source, or a time range of a Kafka topic for all. */
  input: FileInput | KafkaInput;
  /** The edited config. */
  candidate: string;
  /** The current config's text (what-if). */
  current?: string;
  /** The folder the configs' relative paths resolve from (the current config's). */
  baseDir: string;
  /** Score against the dataset's labels (`--labels`). */
  labels: boolean;
  /** Alerting detectors of the edited config (a backtest lists them even without alerts). */
  detectors: readonly string[];
  /** The environment of the child. */
  env: NodeJS.ProcessEnv;
}

export interface FileInput {
  dataset: { name: string; path: string };
  /** The source the dataset replaces. */
  source: string;
}

/** `replay --from-kafka TOPIC --since S [--until U]`, with the client of the config's kafka source. */
export interface KafkaRange {
  topic: string;
  since: string;
  until?: string;
}

export interface KafkaInput {
  kafka: KafkaRange;
}

/** How a run names its input. */
export function inputName(input: FileInput | KafkaInput): string {
  return 'kafka' in input ? `kafka topic ${input.kafka.topic}` : input.dataset.name;
}

/** A run as the API shows it. */
export interface RunView {
  id: string;
  mode: LabMode;
  /** The dataset's name, or "kafka topic NAME". */
  dataset: string;
  /** The source the dataset replaces ('' for a Kafka range, which replaces every source). */
  source: string;
  kafka?: KafkaRange;
  state: RunState;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  summary?: LabSummary;
  error?: LabError;
  /** Whether GET /lab/runs/ID/report has a report. */
  report: boolean;
}

interface Run {
  view: RunView;
  dir?: string;
  child?: ChildProcess;
  /** Settles once the run has ended and its folder is tidied. */
  settled?: Promise<void>;
}

export interface LabRunsOptions {
  logger: Logger;
  timeoutMs?: number;
  keep?: number;
  /** The CLI to run (default: the built one beside this module). */
  cli?: string;
}

const now = () => new Date().toISOString();

export class LabRuns {
  private readonly runs = new Map<string, Run>();
  private active: Run | undefined;
  private closed = false;

  constructor(private readonly opts: LabRunsOptions) {}

  /** Throws 409 while a run is going on. */
  checkIdle(): void {
    if (this.active !== undefined) {
      throw new HttpError(409, 'busy', `run ${this.active.view.id} is still going on: the lab runs one at a time; wait for it to finish (GET /api/lab/runs/${this.active.view.id})`);
    }
  }

  /** A run that failed before it started (e.g. an invalid config): remembered like the others. */
  failed(mode: LabMode, dataset: string, source: string, error: LabError): RunView {
    const run = this.add(mode, dataset, source);
    Object.assign(run.view, { state: 'failed', startedAt: run.view.createdAt, finishedAt: run.view.createdAt, error });
    return { ...run.view };
  }

  /** Start a run (409 while another runs); it goes on in the background: poll get(id). */
  start(spec: RunSpec): RunView {
    this.checkIdle();
    const run = this.add(spec.mode, inputName(spec.input), 'source' in spec.input ? spec.input.source : '');
    if ('kafka' in spec.input) run.view.kafka = spec.input.kafka;
    this.active = run;
    // The outcome is shown once the folder is tidied and the lab is free again: whoever sees the run
    // finished may start the next one, and finds nothing of it left but its report.
    run.settled = this.execute(run, spec)
      .catch((err: unknown): Partial<RunView> => {
        this.opts.logger.warn({ run: run.view.id, err: err instanceof Error ? err.message : String(err) }, 'lab: run failed');
        return { state: 'failed', error: labError(LAB_CODE, 'the run could not be prepared or read back (see the console log)') };
      })
      .then(async (outcome) => {
        await this.tidy(run, outcome.report === true).catch((err: unknown) => this.opts.logger.warn({ run: run.view.id, err: err instanceof Error ? err.message : String(err) }, 'lab: cannot remove a run folder'));
        if (this.active === run) this.active = undefined;
        this.finish(run, outcome);
      });
    return { ...run.view };
  }

  get(id: string): RunView | undefined {
    const r = this.runs.get(id);
    return r === undefined ? undefined : { ...r.view };
  }

  /** Runs, newest first. */
  list(): RunView[] {
    return [...this.runs.values()].reverse().map((r) => ({ ...r.view }));
  }

  /** The report's path, when the run has one. */
  reportPath(id: string): string | undefined {
    const r = this.runs.get(id);
    return r?.view.report && r.dir !== undefined ? join(r.dir, 'report.html') : undefined;
  }

  /** Kill a running child, wait for its run to end, and remove every run's folder. */
  async close(): Promise<void> {
    this.closed = true;
    const active = this.active;
    active?.child?.kill('SIGKILL');
    // The child must be gone before its folder is removed (it may still be writing there).
    await active?.settled;
    const removed = await Promise.allSettled([...this.runs.values()].map((r) => this.remove(r)));
    this.runs.clear();
    for (const r of removed) if (r.status === 'rejected') this.opts.logger.warn({ err: String(r.reason) }, 'lab: cannot remove a run folder');
  }

  private add(mode: LabMode, dataset: string, source: string): Run {
    const run: Run = { view: { id: randomBytes(8).toString('hex'), mode, dataset, source, state: 'queued', createdAt: now(), report: false } };
    this.runs.set(run.view.id, run);
    const keep = this.opts.keep ?? DEFAULT_KEEP;
    for (const [id, r] of this.runs) {
      if (this.runs.size <= keep) break;
      if (r === this.active || r === run) continue;
      this.runs.delete(id);
      this.remove(r).catch((err: unknown) => this.opts.logger.warn({ run: id, err: String(err) }, 'lab: cannot remove a run folder'));
    }
    return run;
  }

  private finish(run: Run, patch: Partial<RunView>): void {
    if (run.view.state === 'done' || run.view.state === 'failed') return;
    Object.assign(run.view, { finishedAt: now(), ...patch });
  }

  /** Run the replay; resolves with the run's outcome (its state, summary or error). */
  private async execute(run: Run, spec: RunSpec): Promise<Partial<RunView>> {
    const dir = await mkdtemp(join(tmpdir(), 'vigie-lab-'));
    run.dir = dir;
    if (this.closed) return { state: 'failed', error: labError(LAB_CODE, 'the console stopped before the run started') };
    const whatIf = spec.mode === 'what-if';
    await writeFile(join(dir, 'candidate.yaml'), spec.candidate, { mode: 0o600 });
    if (whatIf) await writeFile(join(dir, 'current.yaml'), spec.current ?? '', { mode: 0o600 });
    const input = spec.input;
    // The dataset under its own name, so that the report names it and nothing of the server's paths.
    if ('dataset' in input) await symlink(input.dataset.path, join(dir, input.dataset.name));
    const read =
      'dataset' in input
        ? ['--input', `${input.source}=${input.dataset.name}`]
        : ['--from-kafka', input.kafka.topic, '--since', input.kafka.since, ...(input.kafka.until === undefined ? [] : ['--until', input.kafka.until])];
    const args = [
      this.opts.cli ?? CLI,
      'replay',
      ...(whatIf ? ['-c', 'current.yaml', '--compare', 'candidate.yaml', '--json'] : ['-c', 'candidate.yaml']),
      '--base-dir', spec.baseDir,
      ...read,
      '--out', 'out',
      '--report', 'report.html',
      ...(spec.labels ? ['--labels'] : []),
    ];
    // A console that stopped while the run was being prepared starts no child.
    if (this.closed) return { state: 'failed', error: labError(LAB_CODE, 'the console stopped before the run started') };
    Object.assign(run.view, { state: 'running', startedAt: now() });
    this.opts.logger.info({ run: run.view.id, mode: spec.mode, input: run.view.dataset, source: run.view.source }, 'lab: run started');
    const { exit, stdout, stderr, timedOut, overflow } = await this.spawn(run, args, dir, spec.env);
    if (timedOut) {
      const s = Math.round((this.opts.timeoutMs ?? DEFAULT_TIMEOUT_MS) / 1000);
      return { state: 'failed', error: labError(LAB_CODE, `the run took longer than ${s} s and was stopped`) };
    }
    if (overflow) return { state: 'failed', error: labError(LAB_CODE, `the replay's output was over ${MAX_STDOUT / 1024 / 1024} MB and it was stopped`) };
    if (exit !== 0) {
      const error = failureOf(stderr, exit);
      // Its messages may quote a variable's value (a secret put where it does not belong): never shown.
      error.message = scrubValues(error.message, spec.env);
      this.opts.logger.warn({ run: run.view.id, exit, code: error.code }, 'lab: replay failed');
      return { state: 'failed', error };
    }
    const report = await stat(join(dir, 'report.html')).then((s) => s.isFile(), () => false);
    const summary = whatIf
      ? whatIfSummary(JSON.parse(stdout) as WhatIfReport, await countLines(join(dir, 'out', 'a', 'dead-letters.jsonl')))
      : backtestSummary(JSON.parse(stdout) as Summary, countAlerts(await readFile(join(dir, 'out', 'alerts.jsonl'), 'utf8')), spec.detectors);
    this.opts.logger.info({ run: run.view.id, alerts: summary.totals }, 'lab: run done');
    return { state: 'done', summary, report };
  }

  private spawn(run: Run, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ exit: number | null; stdout: string; stderr: string; timedOut: boolean; overflow: boolean }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
      run.child = child;
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      let overflow = false;
      child.stdout.setEncoding('utf8').on('data', (s: string) => {
        if (overflow) return;
        stdout += s;
        if (stdout.length > MAX_STDOUT) {
          overflow = true;
          stdout = '';
          child.kill('SIGKILL');
        }
      });
      child.stderr.setEncoding('utf8').on('data', (s: string) => {
        stderr = (stderr + s).slice(-MAX_STDERR);
      });
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, this.opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.once('close', (exit) => {
        clearTimeout(timer);
        run.child = undefined;
        resolve({ exit, stdout, stderr, timedOut, overflow });
      });
    });
  }

  /** After a run: everything but its report goes (the alerts it wrote, the configs, the dataset link); without a report, the folder. */
  private async tidy(run: Run, keepReport: boolean): Promise<void> {
    const dir = run.dir;
    if (dir === undefined || !keepReport || !this.runs.has(run.view.id)) return this.remove(run);
    await Promise.all(['out', 'candidate.yaml', 'current.yaml', ...(run.view.kafka ? [] : [run.view.dataset])].map((f) => rm(join(dir, f), { recursive: true, force: true })));
  }

  private async remove(run: Run): Promise<void> {
    const dir = run.dir;
    run.dir = undefined;
    run.child?.kill('SIGKILL');
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  }
}

async function countLines(path: string): Promise<number> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.split('\n').filter((l) => l.trim() !== '').length;
}
