/**
 * A fleet of `vigie run` instances for end-to-end tests: N child processes of `bin/vigie.js` with one
 * config (one consumer group), each writing its alerts and window results to a JSONL file of its own;
 * stop one with SIGKILL or SIGTERM; wait (bounded) until a predicate over the union of their outputs
 * holds; compare that union with a `vigie replay` of the same events, as sets, with a readable diff.
 *
 * Every wait is bounded and every process started here is killed at the end: by `stopAll()` (call it
 * in `afterAll`), and failing that when the test process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, writeFileSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT, vigie } from './cli.js';

/** One line of a JSONL sink: an alert or a window result (other kinds are kept as they are). */
export interface OutLine {
  kind: string;
  id?: string;
  pipeline?: string;
  key?: string;
  start?: number;
  end?: number;
  revision?: number;
  count?: number;
  values?: unknown;
  window?: { start: number; end: number };
  eventTime?: number;
  [field: string]: unknown;
}

/** Complete lines of a JSONL file another process may be writing (a partial last line is left out). */
export function readLines(file: string): OutLine[] {
  if (!existsSync(file)) return [];
  const lines = readFileSync(file, 'utf8').split('\n');
  lines.pop();
  return lines.filter(Boolean).map((l) => JSON.parse(l) as OutLine);
}

/** Identity of a window result: what two runs over the same events must agree on. */
export const resultKey = (r: OutLine): string => JSON.stringify([r.pipeline, r.key, r.start, r.end, r.revision, r.values]);
/** Identity of an alert: its id (rule 12: detector, key, window or event, revision). */
export const alertKey = (a: OutLine): string => String(a.id);

/** Results and alerts of a run: the identities of its results, and its alert ids with what each is about (for diffs). */
export interface Outputs {
  results: Set<string>;
  alerts: Map<string, string>;
}

/** What an alert is about, in one line: detector, pipeline, key, window or event time, revision. */
const aboutAlert = (a: OutLine): string =>
  `${String(a.detector)} (${String(a.pipeline)}) key ${String(a.key)} ${a.window ? `window [${a.window.start}, ${a.window.end})` : `event at ${String(a.eventTime)}`} revision ${String(a.revision)}`;

/** The outputs among `lines` that `keep` accepts (default: all), as sets. */
export function outputsOf(lines: readonly OutLine[], keep: (l: OutLine) => boolean = () => true): Outputs {
  const kept = lines.filter(keep);
  return {
    results: new Set(kept.filter((l) => l.kind === 'result').map(resultKey)),
    alerts: new Map(kept.filter((l) => l.kind === 'alert').map((a) => [alertKey(a), aboutAlert(a)])),
  };
}

/** `expected` minus `actual` and `actual` minus `expected`. */
export function setDiff(expected: ReadonlySet<string> | ReadonlyMap<string, unknown>, actual: ReadonlySet<string> | ReadonlyMap<string, unknown>): { missing: string[]; extra: string[] } {
  return { missing: [...expected.keys()].filter((x) => !actual.has(x)), extra: [...actual.keys()].filter((x) => !expected.has(x)) };
}

/** Whether `actual` holds every result and alert of `expected` (it may hold more). */
export function covers(actual: Outputs, expected: Outputs): boolean {
  for (const r of expected.results) if (!actual.results.has(r)) return false;
  for (const a of expected.alerts.keys()) if (!actual.alerts.has(a)) return false;
  return true;
}

/**
 * A readable report of how `actual` differs from `expected` (empty when they are equal): per kind, the
 * counts and the first `limit` missing and extra entries, sorted.
 */
export function diffOutputs(expected: Outputs, actual: Outputs, limit = 10): string {
  const parts: string[] = [];
  for (const kind of ['results', 'alerts'] as const) {
    const { missing, extra } = setDiff(expected[kind], actual[kind]);
    if (missing.length === 0 && extra.length === 0) continue;
    parts.push(`${kind}: expected ${expected[kind].size}, got ${actual[kind].size}; ${missing.length} missing, ${extra.length} extra`);
    const show = (x: string, from: Outputs) => (kind === 'alerts' ? `${x}: ${from.alerts.get(x) ?? ''}` : x);
    if (missing.length > 0) parts.push(`  first missing:\n${missing.sort().slice(0, limit).map((m) => `    - ${show(m, expected)}`).join('\n')}`);
    if (extra.length > 0) parts.push(`  first extra:\n${extra.sort().slice(0, limit).map((m) => `    + ${show(m, actual)}`).join('\n')}`);
  }
  return parts.join('\n');
}

/** Wait until `cond` holds, at most `ms`; true when it held. */
export async function until(cond: () => boolean, ms: number, every = 250): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await sleep(every);
  }
  return cond();
}

// Every process any fleet started, killed when the test process exits whatever happened.
const started = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

export interface Instance {
  name: string;
  child: ChildProcess;
  /** Its JSONL sink (alerts and results). */
  out: string;
  /** Its stderr. */
  log: string;
  /** How it ended: null while it runs. */
  exit: { code: number | null; signal: NodeJS.Signals | null } | null;
  /** The last 4 KB of its stderr. */
  tail(): string;
}

export interface FleetOptions {
  /** Where configs, outputs and logs are written. */
  dir: string;
  /** How many instances. */
  size: number;
  /**
   * The config of an instance, given the path of the JSONL file its sink must write (alerts and
   * results); every instance gets the same config but for that path.
   */
  config: (out: string) => string;
  /** Extra environment of the instances (e.g. KAFKA_BROKERS, REDIS_URL). */
  env?: NodeJS.ProcessEnv;
  /** Prefix of the instances' names (files `<name>-<i>.{yaml,jsonl,log}`). */
  name?: string;
}

/** A JSONL sink of alerts and results at `path`, as a YAML `sinks:` section. */
export const jsonlSinkYaml = (path: string): string => `sinks:\n  - { name: out, type: jsonl, path: "${path}", outputs: [alerts, results] }\n`;

export class Fleet {
  readonly instances: Instance[] = [];
  private readonly logs: WriteStream[] = [];

  constructor(private readonly o: FleetOptions) {}

  /** Start the instances (one more with `add()`). */
  static start(o: FleetOptions): Fleet {
    const f = new Fleet(o);
    for (let i = 0; i < o.size; i++) f.add();
    return f;
  }

  /** Start one more instance. */
  add(): Instance {
    const name = `${this.o.name ?? 'run'}-${this.instances.length}`;
    const out = join(this.o.dir, `${name}.jsonl`);
    const cfg = join(this.o.dir, `${name}.yaml`);
    const logFile = join(this.o.dir, `${name}.log`);
    writeFileSync(cfg, this.o.config(out));
    const child = spawn(process.execPath, [join(ROOT, 'bin/vigie.js'), 'run', '-c', cfg], {
      cwd: ROOT,
      env: { ...process.env, VIGIE_LOG_LEVEL: 'warn', ...this.o.env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    started.add(child);
    let err = '';
    const log = createWriteStream(logFile);
    this.logs.push(log);
    child.stderr?.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-4096);
      log.write(d);
    });
    const inst: Instance = { name, child, out, log: logFile, exit: null, tail: () => err };
    child.on('exit', (code, signal) => {
      inst.exit = { code, signal };
      started.delete(child);
    });
    this.instances.push(inst);
    return inst;
  }

  /** The instances still running. */
  running(): Instance[] {
    return this.instances.filter((i) => i.exit === null);
  }

  /**
   * Send `signal` to instance `i` and wait for it to exit, at most `ms` (then SIGKILL, and again at most
   * `ms`). Resolves with how it ended.
   */
  async stop(i: number, signal: NodeJS.Signals = 'SIGTERM', ms = 30_000): Promise<Instance['exit']> {
    const inst = this.instances[i];
    if (inst.exit !== null) return inst.exit;
    const exited = new Promise<void>((resolve) => inst.child.once('exit', () => resolve()));
    const bounded = (t: number) => Promise.race([exited, sleep(t)]);
    inst.child.kill(signal);
    await bounded(ms);
    if (inst.exit === null && signal !== 'SIGKILL') {
      inst.child.kill('SIGKILL');
      await bounded(ms);
    }
    return inst.exit;
  }

  /** Stop every running instance (SIGTERM, SIGKILL after `ms`), and close the logs. Safe to call twice. */
  async stopAll(signal: NodeJS.Signals = 'SIGTERM', ms = 30_000): Promise<void> {
    await Promise.all(this.instances.map((inst, i) => (inst.exit === null ? this.stop(i, signal, ms) : undefined)));
    await Promise.all(this.logs.map((l) => new Promise<void>((resolve) => l.end(() => resolve()))));
  }

  /** Every complete line written so far by every instance (the union, in instance order). */
  lines(): OutLine[] {
    return this.instances.flatMap((i) => readLines(i.out));
  }

  /** The union of the outputs so far, those `keep` accepts, as sets. */
  outputs(keep?: (l: OutLine) => boolean): Outputs {
    return outputsOf(this.lines(), keep);
  }

  /**
   * Wait until `cond` holds over the union of the outputs, at most `ms`. Gives up early when every
   * instance has exited. True when it held.
   */
  async until(cond: (lines: OutLine[]) => boolean, ms: number): Promise<boolean> {
    return until(() => cond(this.lines()) || this.running().length === 0, ms).then(() => cond(this.lines()));
  }

  /** How each instance ended (or "running"), and the tail of the logs of those that failed: for failure messages. */
  describe(): string {
    return this.instances
      .map((i) => {
        const state = i.exit === null ? 'running' : i.exit.signal !== null ? `killed by ${i.exit.signal}` : `exited ${i.exit.code}`;
        const failed = i.exit !== null && i.exit.signal === null && i.exit.code !== 0;
        return `${i.name}: ${state}, ${readLines(i.out).length} lines in ${i.out}${failed ? `\n${i.tail()}` : ''}`;
      })
      .join('\n');
  }
}

/**
 * `vigie replay -c config --input NAME=FILE... --out DIR`: the reference run. Throws with its stderr
 * when it fails; returns every line of its alerts and results files and its summary.
 */
export function replay(o: { config: string; inputs: Record<string, string>; out: string; env?: NodeJS.ProcessEnv }): { lines: OutLine[]; summary: Record<string, unknown> } {
  const args = ['replay', '-c', o.config, '--out', o.out, '--outputs', 'alerts,results,dead-letters'];
  for (const [name, file] of Object.entries(o.inputs)) args.push('--input', `${name}=${file}`);
  const r = vigie(args, { env: o.env });
  if (r.status !== 0) throw new Error(`vigie replay exited ${r.status}:\n${r.stderr.slice(-4000)}`);
  return { lines: [...readLines(join(o.out, 'results.jsonl')), ...readLines(join(o.out, 'alerts.jsonl'))], summary: JSON.parse(r.stdout) as Record<string, unknown> };
}
