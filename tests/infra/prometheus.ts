/**
 * A real Prometheus for tests: `prometheus` from PATH (Debian package `prometheus`) on a free loopback
 * port, with a generated configuration and its TSDB in a temp dir, killed with the process that
 * started it. Never the machine's own Prometheus service. Also `promtool`, and a small PromQL scanner
 * to check that rules and dashboards only name metrics that exist.
 *
 * Example:
 * ```ts
 * const prom = await startPrometheus({ jobs: [{ job: 'vigie', targets: [`127.0.0.1:${port}`] }], ruleFiles: [rules] });
 * try { const samples = await prom.query('up'); } finally { await prom.stop(); }
 * ```
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { ManagedProcess, freePort, ownedTempDir, sleep, tail, tempDirCleanup } from './proc.js';

export interface ScrapeJob {
  /** `job_name`, hence the `job` label. */
  job: string;
  /** `host:port` targets. */
  targets: string[];
  /** Default /metrics. */
  metricsPath?: string;
}

export interface StartPrometheusOptions {
  jobs?: ScrapeJob[];
  /** Global scrape interval, e.g. '1s' (default). */
  scrapeInterval?: string;
  /** Global rule evaluation interval, e.g. '1s' (default). */
  evaluationInterval?: string;
  /** Rule files to load (resolved against the working directory). */
  ruleFiles?: string[];
  /** How long to wait for /-/ready. Default 30 s. */
  readyTimeoutMs?: number;
  /** Path of the executable. Default `prometheus` from PATH. */
  binary?: string;
  /**
   * A configuration file to run as it is (its relative rule paths resolve from its own folder), instead
   * of one generated from `jobs`, the intervals and `ruleFiles`, which are then ignored.
   */
  configFile?: string;
}

/** One element of an instant vector from /api/v1/query. */
export interface PromSample {
  metric: Record<string, string>;
  /** The value as Prometheus writes it ("1", "0.25", "NaN", "+Inf"). */
  value: string;
  /** Seconds. */
  timestamp: number;
}

export interface PrometheusService {
  /** http://127.0.0.1:<port> */
  url: string;
  port: number;
  /** Temp dir holding prometheus.yml (unless `configFile` was given), the TSDB (data/) and prometheus.log. */
  dir: string;
  /** GET /api/v1/<path> with query parameters; resolves to `data`, throws on a non-success status. */
  api<T = unknown>(path: string, params?: Record<string, string>): Promise<T>;
  /** An instant query; a vector result as samples (a scalar as one sample without labels). */
  query(expr: string): Promise<PromSample[]>;
  /** The last lines of the server's log. */
  logs(lines?: number): string;
  /** SIGTERM (SIGKILL after 5 s), then removes the temp dir; safe to call twice. */
  stop(): Promise<void>;
}

const REQUEST_TIMEOUT_MS = 5000;

async function getJson(url: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON (e.g. /-/ready's plain text): keep the text
  }
  return { status: res.status, body };
}

/** The configuration file, as JSON (a YAML document too). */
export function prometheusConfig(opts: StartPrometheusOptions): string {
  const config = {
    global: {
      scrape_interval: opts.scrapeInterval ?? '1s',
      // At most the interval (Prometheus refuses a longer timeout), at most 10 s.
      scrape_timeout: parseDurationMs(opts.scrapeInterval ?? '1s') >= 10_000 ? '10s' : (opts.scrapeInterval ?? '1s'),
      evaluation_interval: opts.evaluationInterval ?? '1s',
    },
    rule_files: (opts.ruleFiles ?? []).map((f) => (isAbsolute(f) ? f : resolve(f))),
    scrape_configs: (opts.jobs ?? []).map((j) => ({
      job_name: j.job,
      metrics_path: j.metricsPath ?? '/metrics',
      static_configs: [{ targets: j.targets }],
    })),
  };
  return JSON.stringify(config, null, 2) + '\n';
}

/** '1s', '500ms', '1m' -> milliseconds (the subset of Prometheus durations used here). */
function parseDurationMs(d: string): number {
  const m = /^(\d+)(ms|s|m|h)$/.exec(d);
  if (!m) throw new Error(`unsupported duration "${d}"`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
}

export async function startPrometheus(opts: StartPrometheusOptions = {}): Promise<PrometheusService> {
  const dir = ownedTempDir('vigie-prometheus-');
  const removeDir = tempDirCleanup(dir);
  const configFile = opts.configFile === undefined ? join(dir, 'prometheus.yml') : resolve(opts.configFile);
  const outFile = join(dir, 'prometheus.log');
  const logs = (lines = 40): string => `--- ${outFile} (tail) ---\n${tail(outFile, lines)}`;
  const readyTimeout = opts.readyTimeoutMs ?? 30_000;
  let proc: ManagedProcess | undefined;
  let port = 0;

  try {
    if (opts.configFile === undefined) writeFileSync(configFile, prometheusConfig(opts));
    // A port picked as free can be taken before Prometheus binds it: then another port.
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      const args = [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--storage.tsdb.retention.time=1d',
        '--log.level=info',
      ];
      const p = new ManagedProcess(opts.binary ?? 'prometheus', args, { outFile, cwd: dir });
      proc = p;
      try {
        await waitReady(`http://127.0.0.1:${port}`, p, readyTimeout, logs);
        break;
      } catch (err) {
        await p.stop(5000);
        if (!/address already in use/i.test(tail(outFile, 20)) || attempt >= 3) throw err;
      }
    }
  } catch (err) {
    removeDir();
    throw err;
  }

  const url = `http://127.0.0.1:${port}`;
  const api = async <T>(path: string, params: Record<string, string> = {}): Promise<T> => {
    const qs = new URLSearchParams(params).toString();
    const { status, body } = await getJson(`${url}/api/v1/${path}${qs ? `?${qs}` : ''}`);
    const b = body as { status?: string; data?: T; error?: string; errorType?: string };
    if (status !== 200 || b.status !== 'success') {
      throw new Error(`Prometheus /api/v1/${path} ${JSON.stringify(params)}: HTTP ${status} ${b.errorType ?? ''} ${b.error ?? JSON.stringify(body)}`);
    }
    return b.data as T;
  };

  let stopped = false;
  return {
    url,
    port,
    dir,
    api,
    async query(expr) {
      const data = await api<{ resultType: string; result: unknown }>('query', { query: expr });
      if (data.resultType === 'vector') {
        return (data.result as { metric: Record<string, string>; value: [number, string] }[]).map((r) => ({
          metric: r.metric,
          timestamp: r.value[0],
          value: r.value[1],
        }));
      }
      if (data.resultType === 'scalar') {
        const [timestamp, value] = data.result as [number, string];
        return [{ metric: {}, timestamp, value }];
      }
      throw new Error(`query ${expr}: unexpected result type ${data.resultType}`);
    },
    logs,
    async stop() {
      if (stopped) return;
      stopped = true;
      await proc?.stop(5000);
      removeDir();
    },
  };
}

async function waitReady(url: string, p: ManagedProcess, timeoutMs: number, logs: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'none';
  while (Date.now() < deadline) {
    if (p.exit) {
      const why = p.exit.error ? `could not be started (${p.exit.error.message})` : `exited (code ${p.exit.code}, signal ${p.exit.signal})`;
      throw new Error(`prometheus ${why} before it was ready.\n${logs()}`);
    }
    try {
      const { status, body } = await getJson(`${url}/-/ready`);
      if (status === 200) return;
      last = `HTTP ${status} ${String(body).trim()}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await sleep(100);
  }
  throw new Error(`Prometheus at ${url} not ready after ${timeoutMs / 1000}s (last: ${last}).\n${logs()}`);
}

export interface ToolResult {
  /** Exit code; null when killed (timeout) or not started. */
  code: number | null;
  stdout: string;
  stderr: string;
  /** The command line and both outputs, for failure messages. */
  output: string;
}

/** Runs `promtool <args>` (never throws on a non-zero exit; see `code`). */
export function promtool(args: string[], opts: { cwd?: string; timeoutMs?: number; binary?: string } = {}): Promise<ToolResult> {
  const cmd = opts.binary ?? 'promtool';
  return new Promise((resolvePromise) => {
    execFile(cmd, args, { cwd: opts.cwd, timeout: opts.timeoutMs ?? 60_000, windowsHide: true, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string }) | null;
      const code = e === null ? 0 : typeof e.code === 'number' ? e.code : null;
      const out = String(stdout);
      const errText = String(stderr) + (e !== null && typeof e.code !== 'number' ? `\n${e.message}` : '');
      resolvePromise({ code, stdout: out, stderr: errText, output: `$ ${cmd} ${args.join(' ')}\n${out}${errText}` });
    });
  });
}

// ---- PromQL metric names ---------------------------------------------------------------------

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'atan2', 'inf', 'nan']);

/**
 * The metric names an expression selects (rules and dashboard queries): what remains once strings,
 * label matchers, ranges, grouping clauses, Grafana variables, numbers, durations, function calls and
 * keywords are removed. Good enough for the expressions we write (no `{__name__=...}` selectors).
 */
export function metricNamesInPromQL(expr: string): string[] {
  let s = expr;
  s = s.replace(/#[^\n]*/g, ' '); // comments
  s = s.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""'); // strings
  s = s.replace(/\{[^{}]*\}/g, ' '); // label matchers (after strings: values may hold braces)
  s = s.replace(/\$\{[^}]*\}|\$\w+/g, ' '); // Grafana variables
  s = s.replace(/\[[^\]]*\]/g, ' '); // ranges and subqueries
  s = s.replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' '); // grouping labels
  s = s.replace(/(?<![\w:.])\d[\w.]*(?:[eE][+-]?\d+)?/g, ' '); // numbers and durations (5m, 1e3, 0.99)
  const names = new Set<string>();
  for (const m of s.matchAll(/[A-Za-z_:][\w:]*(\s*\()?/g)) {
    if (m[1] !== undefined) continue; // a function or an aggregation
    const name = m[0];
    if (KEYWORDS.has(name.toLowerCase())) continue;
    names.add(name);
  }
  return [...names].sort();
}

/**
 * The series names a registry exposes (`getMetricsAsJSON()`): histograms and summaries with their
 * suffixes. prom-client's typings declare `type` a numeric enum; at runtime it is 'counter', 'histogram'...
 */
export function exposedSeriesNames(metrics: Iterable<{ name: string; type: unknown }>): Set<string> {
  const out = new Set<string>();
  for (const { name, type } of metrics) {
    const t = typeof type === 'number' ? ['counter', 'gauge', 'histogram', 'summary'][type] : String(type);
    out.add(name);
    if (t === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) out.add(name + suffix);
    if (t === 'summary') for (const suffix of ['_sum', '_count']) out.add(name + suffix);
  }
  return out;
}

/**
 * The metric names a Grafana templating query names: `label_values(<selector>, <label>)` reads its
 * selector, `query_result(<expr>)` its expression; `label_values(<label>)`, `label_names()` and
 * `metrics(<regex>)` name none.
 */
export function metricNamesInTemplateQuery(query: string): string[] {
  const q = query.trim();
  const lv = /^label_values\((.*),\s*[A-Za-z_]\w*\s*\)$/s.exec(q);
  if (lv) return metricNamesInPromQL(lv[1]);
  if (/^(label_values|label_names|metrics)\(/.test(q)) return [];
  const qr = /^query_result\((.*)\)$/s.exec(q);
  return metricNamesInPromQL(qr ? qr[1] : q);
}
