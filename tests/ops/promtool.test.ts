import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { EngineMetrics } from '../../src/metrics/registry.js';
import { exposedSeriesNames, metricNamesInPromQL, promtool } from '../infra/prometheus.js';

const RULES = fileURLToPath(new URL('../../ops/prometheus/vigie-alerts.yml', import.meta.url));
const RULE_TESTS = fileURLToPath(new URL('../../ops/prometheus/vigie-alerts.test.yml', import.meta.url));

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const groups = (parse(readFileSync(RULES, 'utf8')) as { groups: { name: string; rules: Rule[] }[] }).groups;
const rules = groups.flatMap((g) => g.rules);

describe('Prometheus alerting rules (ops/prometheus/vigie-alerts.yml)', () => {
  it('pass promtool check rules', async () => {
    const r = await promtool(['check', 'rules', RULES]);
    expect(r.code, r.output).toBe(0);
    expect(r.stdout).toContain(`SUCCESS: ${rules.length} rules found`);
  });

  it('pass their promtool unit tests', async () => {
    const r = await promtool(['test', 'rules', RULE_TESTS]);
    expect(r.code, r.output).toBe(0);
    expect(r.stdout).toContain('SUCCESS');
  });

  it('are unit-tested, each where it fires and where it does not', () => {
    const tests = (parse(readFileSync(RULE_TESTS, 'utf8')) as { tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[] }).tests;
    const cases = tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const rule of rules) {
      const mine = cases.filter((c) => c.alertname === rule.alert);
      expect(mine.some((c) => (c.exp_alerts ?? []).length > 0), `${rule.alert}: no firing case`).toBe(true);
      expect(mine.some((c) => (c.exp_alerts ?? []).length === 0), `${rule.alert}: no quiet case`).toBe(true);
    }
  });

  it('are one group "vigie" of alerts, each with a severity, a summary, a description and a runbook', () => {
    expect(groups.map((g) => g.name)).toEqual(['vigie']);
    const names = rules.map((r) => r.alert);
    for (const required of [
      'VigieDown',
      'VigieConsumerLagGrowing',
      'VigieDeadLettersRising',
      'VigieSinkFailing',
      'VigieSinkBufferFull',
      'VigieDetectionLatencyHigh',
      'VigieAlertStorm',
      'VigieWatermarkStalled',
      'VigieCheckpointFailing',
      'VigieCheckpointStalled',
    ]) {
      expect(names).toContain(required);
    }
    expect(new Set(names).size).toBe(names.length);
    for (const r of rules) {
      expect(r.alert, r.expr).toMatch(/^Vigie[A-Z]\w+$/);
      expect(['critical', 'warning', 'info'], r.alert).toContain(r.labels?.severity);
      expect(r.annotations?.summary, r.alert).toBeTruthy();
      expect(r.annotations?.description, r.alert).toMatch(/\{\{ \$labels\.\w+ \}\}/);
      expect(r.annotations?.runbook, r.alert).toMatch(/^ops\/prometheus\/README\.md#[a-z]+: \S/);
      expect(r.annotations?.runbook).toContain(`#${r.alert!.toLowerCase()}:`);
    }
    // Every runbook anchor exists in the README.
    const readme = readFileSync(fileURLToPath(new URL('../../ops/prometheus/README.md', import.meta.url)), 'utf8');
    for (const r of rules) expect(readme, r.alert).toContain(`<a id="${r.alert!.toLowerCase()}"></a>\`${r.alert}\``);
  });

  it('name only metrics the engine exposes', async () => {
    const exposed = exposedSeriesNames(await new EngineMetrics().registry.getMetricsAsJSON());
    exposed.add('up'); // Prometheus' own, per target
    const used = new Set<string>();
    for (const r of rules) {
      const names = metricNamesInPromQL(r.expr);
      expect(names.length, r.expr).toBeGreaterThan(0);
      for (const n of names) {
        used.add(n);
        expect(exposed.has(n), `${r.alert}: unknown metric ${n} in ${r.expr}`).toBe(true);
      }
    }
    expect(used.has('up')).toBe(true);
    expect(used.has('vigie_detection_latency_seconds_bucket')).toBe(true);
  });
});

describe('metricNamesInPromQL', () => {
  it('keeps metric names, drops functions, labels, strings, durations, numbers and keywords', () => {
    expect(
      metricNamesInPromQL(
        'histogram_quantile(0.99, sum by (le, detector) (rate(vigie_detection_latency_seconds_bucket{job=~"vigie.*",le!="+Inf"}[5m] offset 1h))) > 1e3',
      ),
    ).toEqual(['vigie_detection_latency_seconds_bucket']);
    expect(
      metricNamesInPromQL(
        'sum by (job, source, reason) (rate(a_total[5m])) / on (job, source) group_left sum(rate(b_total{x="{y}"}[$__rate_interval])) without (instance) > bool 0.01 and c unless up == 0 or vector(0)',
      ),
    ).toEqual(['a_total', 'b_total', 'c', 'up']);
    expect(metricNamesInPromQL('max(x:recorded:rate5m{a="1"}) * 60 - time()')).toEqual(['x:recorded:rate5m']);
  });
});
