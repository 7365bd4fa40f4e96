/**
 * The real thing: an engine's metrics server scraped by a real Prometheus (from PATH, on a free
 * loopback port) that also loads ops/prometheus/vigie-alerts.yml. What Prometheus stores must be what
 * the engine counted, and the rules must evaluate cleanly against live Vigie series.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, type Summary } from '../../src/engine/engine.js';
import { EngineMetrics } from '../../src/metrics/registry.js';
import { startMetricsServer, type MetricsServer } from '../../src/metrics/server.js';
import { memorySource } from '../../src/sources/memory.js';
import { collectSink, config, type CollectSink } from '../helpers/collect.js';
import { startPrometheus, type PromSample, type PrometheusService } from '../infra/prometheus.js';

const RULES = fileURLToPath(new URL('../../ops/prometheus/vigie-alerts.yml', import.meta.url));
const RULE_COUNT = (parse(readFileSync(RULES, 'utf8')) as { groups: { rules: unknown[] }[] }).groups.flatMap((g) => g.rules).length;

// Two event detectors on one pipeline: a velocity burst (one alert, then one repeat after its cooldown)
// and an amount outlier (one alert), as in tests/detectors/engine.test.ts.
const CFG = `
time: { maxOutOfOrderness: 0 }
sources: [{ name: in, type: stdin }]
pipelines:
  - name: users
    key: user
    detectors:
      - { name: burst, type: velocity, lookback: 1m, value: 3, cooldown: 10m, maxKeys: 2 }
      - { name: jump, type: outlier, field: amount, minHistory: 5, value: 4 }
sinks: [{ name: c, type: console }]
metrics: { enabled: false }
`;

const T0 = Date.parse('2026-01-01T00:00:00Z');

function records(): object[] {
  const out: object[] = [];
  for (let i = 0; i < 10; i++) out.push({ id: `a${i}`, ts: T0 + i * 5000, user: 'u1', amount: i === 9 ? 900 : 100 + (i % 3) });
  for (let i = 0; i < 3; i++) out.push({ id: `b${i}`, ts: T0 + 60_000 + i * 1000, user: `v${i}`, amount: 5 });
  out.push({ id: 'bad', ts: 'not a time', user: 'u1', amount: 1 }); // dead-lettered: bad_timestamp
  out.push({ id: 'end', ts: T0 + 3_600_000, user: 'u9', amount: 1 });
  return out;
}

const DEADLINE_MS = 30_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns a value (not undefined) or the deadline passes; `describe` says what was last seen. */
async function until<T>(what: string, probe: () => Promise<T | undefined>, lastSeen: () => string): Promise<T> {
  const deadline = Date.now() + DEADLINE_MS;
  let lastError = '';
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) {
      throw new Error(`${what}: not seen within ${DEADLINE_MS / 1000}s; last seen ${lastSeen()}${lastError ? `; last error ${lastError}` : ''}\n${prom?.logs(20) ?? ''}`);
    }
    await sleep(250);
  }
}

const byLabel = (samples: PromSample[], label: string): Record<string, number> =>
  Object.fromEntries(samples.map((s) => [s.metric[label] ?? '', Number(s.value)]).sort(([a], [b]) => String(a).localeCompare(String(b))));

let metricsServer: MetricsServer | undefined;
let prom: PrometheusService | undefined;
let summary: Summary;
let sink: CollectSink;

beforeAll(async () => {
  const metrics = new EngineMetrics(); // with the vigie_ process metrics, as `vigie run` serves them
  metricsServer = await startMetricsServer({ port: 0, metrics, health: () => ({ live: true }), ready: () => ({ ready: true, reasons: [] }) });
  sink = collectSink();
  const engine = new Engine({ loaded: config(CFG), mode: 'replay', sources: [memorySource(records(), { name: 'in', batchSize: 3 })], sinks: [sink], metrics });
  // Prometheus starts while the engine replays; the metrics server stays up after the run.
  const [s, p] = await Promise.all([
    engine.run(),
    startPrometheus({ jobs: [{ job: 'vigie', targets: [`127.0.0.1:${metricsServer.port}`] }], scrapeInterval: '1s', evaluationInterval: '1s', ruleFiles: [RULES] }),
  ]);
  summary = s;
  prom = p;
}, 60_000);

afterAll(async () => {
  const bounded = (p: Promise<unknown> | undefined) => Promise.race([p?.catch(() => {}), sleep(10_000)]);
  await Promise.all([bounded(prom?.stop()), bounded(metricsServer?.close())]);
}, 30_000);

describe('Vigie scraped by a real Prometheus', () => {
  it('stores the alerts the engine raised, per detector', async () => {
    const expected = Object.fromEntries(Object.entries(summary.alerts.byDetector).map(([d, v]) => [d, v.total]));
    // The run is deterministic: a burst and its repeat after the cooldown, one amount jump.
    expect(expected).toEqual({ burst: 2, jump: 1 });
    const fromSink: Record<string, number> = {};
    for (const a of sink.alerts) fromSink[a.detector] = (fromSink[a.detector] ?? 0) + 1;
    expect(fromSink).toEqual(expected);

    let seen: PromSample[] = [];
    const got = await until(
      'sum by (detector) (vigie_alerts_total)',
      async () => {
        seen = await prom!.query('sum by (detector) (vigie_alerts_total{job="vigie"})');
        const counts = byLabel(seen, 'detector');
        return JSON.stringify(counts) === JSON.stringify(expected) ? counts : undefined;
      },
      () => JSON.stringify(byLabel(seen, 'detector')),
    );
    expect(got).toEqual(expected);

    // Severity split as in the summary.
    const bySeverity = await prom!.query('sum by (detector, severity) (vigie_alerts_total{job="vigie"}) > 0');
    const want = Object.entries(summary.alerts.byDetector).flatMap(([d, v]) => Object.entries(v.bySeverity).map(([sev, n]) => `${d}/${sev}=${n}`));
    expect(bySeverity.map((s) => `${s.metric.detector}/${s.metric.severity}=${Number(s.value)}`).sort()).toEqual(want.sort());
  });

  it('stores the detection latency histogram of every alert', async () => {
    const count = await prom!.query('sum(vigie_detection_latency_seconds_count{job="vigie"})');
    expect(count).toHaveLength(1);
    expect(Number(count[0].value)).toBeGreaterThan(0);
    expect(Number(count[0].value)).toBe(summary.alerts.total);
    const buckets = await prom!.query('vigie_detection_latency_seconds_bucket{job="vigie"}');
    expect(buckets.length).toBeGreaterThan(0);
    const inf = byLabel(await prom!.query('sum by (detector) (vigie_detection_latency_seconds_bucket{job="vigie",le="+Inf"})'), 'detector');
    expect(inf).toEqual({ burst: 2, jump: 1 });
    const p99 = await prom!.query('histogram_quantile(0.99, sum by (le, detector) (vigie_detection_latency_seconds_bucket{job="vigie"}))');
    expect(p99.map((s) => s.metric.detector).sort()).toEqual(['burst', 'jump']);
    for (const s of p99) expect(Number.isFinite(Number(s.value)), JSON.stringify(s)).toBe(true);
  });

  it('stores input, dead letters and process metrics, and sees the target up', async () => {
    const up = await prom!.query('up{job="vigie"}');
    expect(up).toHaveLength(1);
    expect(up[0].metric.instance).toBe(`127.0.0.1:${metricsServer!.port}`);
    expect(up[0].value).toBe('1');

    expect(byLabel(await prom!.query('sum by (source) (vigie_events_in_total{job="vigie"})'), 'source')).toEqual({ in: summary.sources.in.in });
    expect(summary.deadLetters.byReason).toEqual({ bad_timestamp: 1 });
    // Every reason has a series from the start (at zero until its first dead letter): compare those that counted.
    expect(byLabel(await prom!.query('sum by (reason) (vigie_events_dead_lettered_total{job="vigie"}) > 0'), 'reason')).toEqual(summary.deadLetters.byReason);
    expect(byLabel(await prom!.query('sum by (pipeline) (vigie_events_processed_total{job="vigie"})'), 'pipeline')).toEqual({ users: summary.pipelines.users.processed });
    for (const name of ['vigie_process_cpu_seconds_total', 'vigie_process_resident_memory_bytes', 'vigie_nodejs_eventloop_lag_p99_seconds']) {
      expect((await prom!.query(`${name}{job="vigie"}`)).length, name).toBeGreaterThan(0);
    }
  });

  it('loads the alerting rules and evaluates every one of them cleanly', async () => {
    interface RuleState {
      name: string;
      type: string;
      health: string;
      state?: string;
      lastError?: string;
      lastEvaluation: string;
    }
    interface Group {
      name: string;
      file: string;
      rules: RuleState[];
    }
    let groups: Group[] = [];
    const group = await until(
      'rule group vigie evaluated',
      async () => {
        groups = (await prom!.api<{ groups: Group[] }>('rules')).groups;
        const g = groups.find((x) => x.name === 'vigie');
        // health is "unknown" until a rule's first evaluation
        return g && g.rules.length === RULE_COUNT && g.rules.every((r) => r.health !== 'unknown') ? g : undefined;
      },
      () => JSON.stringify(groups.map((g) => ({ name: g.name, rules: g.rules.map((r) => `${r.name}:${r.health}`) }))),
    );
    expect(group.file).toBe(RULES);
    for (const r of group.rules) {
      expect(r.type, r.name).toBe('alerting');
      expect(r.health, `${r.name}: ${r.lastError ?? ''}`).toBe('ok');
    }
    // A healthy engine that just ran: nothing pending or firing (VigieDown least of all).
    const down = group.rules.find((r) => r.name === 'VigieDown');
    expect(down?.state).toBe('inactive');
    expect(group.rules.filter((r) => r.state !== 'inactive').map((r) => `${r.name}:${r.state}`)).toEqual([]);
  });
});
