import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { EngineMetrics } from '../../src/metrics/registry.js';
import { exposedSeriesNames, metricNamesInPromQL, metricNamesInTemplateQuery, promtool } from '../infra/prometheus.js';

const FILE = fileURLToPath(new URL('../../ops/grafana/vigie-dashboard.json', import.meta.url));

interface Target {
  refId: string;
  expr: string;
  legendFormat?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: Target[];
  panels?: Panel[];
}
interface Variable {
  type: string;
  name: string;
  query?: string | { query: string };
  definition?: string;
}
interface Dashboard {
  title: string;
  uid: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Variable[] };
}

const text = readFileSync(FILE, 'utf8');
const dashboard = JSON.parse(text) as Dashboard;
const rows = dashboard.panels.filter((p) => p.type === 'row');
// Panels of expanded rows follow their row; collapsed rows hold theirs.
const panels = [...dashboard.panels.filter((p) => p.type !== 'row'), ...rows.flatMap((r) => r.panels ?? [])];
const targets = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p, target: t })));
const variables = dashboard.templating.list;
const variableQuery = (v: Variable): string => (typeof v.query === 'string' ? v.query : (v.query?.query ?? ''));

/** Grafana's own variables, always defined. */
const BUILTIN = new Set(['__rate_interval', '__interval', '__interval_ms', '__range', '__range_s', '__range_ms', '__all', '__name', '__dashboard', '__from', '__to']);

/** `$name`, `${name}`, `${name:format}` and `[[name]]` occurrences. */
function variablesIn(s: string): string[] {
  return [...s.matchAll(/\$\{(\w+)(?::[^}]*)?\}|\$(\w+)|\[\[(\w+)(?::[^\]]*)?\]\]/g)].map((m) => m[1] ?? m[2] ?? m[3]);
}

const tmp = mkdtempSync(join(tmpdir(), 'vigie-dashboard-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('Grafana dashboard (ops/grafana/vigie-dashboard.json)', () => {
  it('is a JSON dashboard of a recent schema, with a Prometheus data source variable', () => {
    expect(dashboard.title).toBe('Vigie');
    expect(dashboard.uid).toMatch(/^[\w-]{1,40}$/);
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const ds = variables.find((v) => v.name === 'DS_PROMETHEUS');
    expect(ds).toMatchObject({ type: 'datasource', query: 'prometheus' });
    for (const p of panels) {
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${DS_PROMETHEUS}' });
      for (const t of p.targets ?? []) expect(t.datasource ?? p.datasource, p.title).toEqual(p.datasource);
    }
  });

  it('has the rows an operator needs, each with panels', () => {
    expect(rows.map((r) => r.title)).toEqual(expect.arrayContaining(['Throughput', 'Time', 'State', 'Alerts', 'Sinks', 'Kafka', 'Checkpoints', 'Process']));
    // Every row is followed by at least one panel before the next row (or holds them when collapsed).
    dashboard.panels.forEach((p, i) => {
      if (p.type !== 'row') return;
      const next = dashboard.panels[i + 1];
      expect((p.panels ?? []).length > 0 || (next !== undefined && next.type !== 'row'), `row ${p.title} is empty`).toBe(true);
    });
  });

  it('gives every panel a unique id, a title, a place on the grid and PromQL targets', () => {
    const ids = [...rows, ...panels].map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(panels.length).toBeGreaterThanOrEqual(30);
    for (const p of panels) {
      expect(p.title.trim(), `panel ${p.id}`).not.toBe('');
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      const refIds = (p.targets ?? []).map((t) => t.refId);
      expect(new Set(refIds).size, p.title).toBe(refIds.length);
      for (const t of p.targets ?? []) expect(t.expr.trim(), `${p.title} ${t.refId}`).not.toBe('');
    }
  });

  it('names only metrics the engine exposes, in its panels and its variables', async () => {
    const exposed = exposedSeriesNames(await new EngineMetrics().registry.getMetricsAsJSON());
    exposed.add('up');
    const used = new Set<string>();
    for (const { panel, target } of targets) {
      const names = metricNamesInPromQL(target.expr);
      expect(names.length, `${panel.title}: ${target.expr}`).toBeGreaterThan(0);
      for (const n of names) {
        used.add(n);
        expect(exposed.has(n), `${panel.title}: unknown metric ${n} in ${target.expr}`).toBe(true);
      }
    }
    for (const v of variables.filter((x) => x.type === 'query')) {
      for (const n of metricNamesInTemplateQuery(variableQuery(v))) expect(exposed.has(n), `variable ${v.name}: unknown metric ${n}`).toBe(true);
    }
    // The panels cover the registry's engine metrics (process metrics: a selection).
    const engineMetrics = (await new EngineMetrics(false).registry.getMetricsAsJSON()).map((m) => m.name);
    const covered = (name: string) => [...used].some((u) => u === name || u.startsWith(`${name}_`));
    const missing = engineMetrics.filter((n) => !covered(n) && n !== 'vigie_config_info');
    expect(missing, 'engine metrics without a panel: add one to ops/grafana/vigie-dashboard.json').toEqual([]);
  });

  it('defines every template variable it uses, and templates detector, pipeline and sink', () => {
    const defined = new Set(variables.map((v) => v.name));
    for (const name of ['detector', 'pipeline', 'sink', 'job', 'instance']) expect(defined, name).toContain(name);
    const uses = (s: string) => variablesIn(s).filter((n) => !BUILTIN.has(n));
    for (const { panel, target } of targets) {
      for (const n of uses(target.expr)) expect(defined.has(n), `${panel.title}: $${n} is not defined`).toBe(true);
    }
    for (const v of variables) for (const n of uses(variableQuery(v))) expect(defined.has(n), `variable ${v.name}: $${n} is not defined`).toBe(true);
    // The whole file: no stray variable in a title, a description or a data source.
    for (const n of uses(text)) expect(defined.has(n), `$${n} is not defined`).toBe(true);
    // Each variable but the data source is used somewhere.
    const usedAnywhere = new Set(uses(targets.map((t) => t.target.expr).join('\n') + variables.map(variableQuery).join('\n')));
    for (const v of variables) if (v.type !== 'datasource') expect(usedAnywhere.has(v.name), `variable ${v.name} unused`).toBe(true);
  });

  it('has PromQL that Prometheus parses (every target, as a recording rule through promtool)', async () => {
    // Variables replaced as Grafana would for "All": regexes and a range.
    const substitute = (e: string) => e.replace(/\$__rate_interval|\$__interval|\$__range/g, '1m').replace(/\$\{?\w+\}?/g, '.*');
    const rules = targets.map(({ panel, target }) => ({ record: `vigie_dashboard:panel${panel.id}_${target.refId}`, expr: substitute(target.expr) }));
    const file = join(tmp, 'dashboard-rules.yml');
    writeFileSync(file, JSON.stringify({ groups: [{ name: 'dashboard', rules }] }));
    const r = await promtool(['check', 'rules', file]);
    expect(r.code, r.output).toBe(0);
    expect(r.stdout).toContain(`SUCCESS: ${rules.length} rules found`);
  });
});
