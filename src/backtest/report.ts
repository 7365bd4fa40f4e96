import type { LabelReport } from '../engine/labels.js';
import type { Alert } from '../types.js';
import { DEFAULT_EVENT_MATCH_MS, describeMatching, matchAlerts, type MatchOptions } from './alert-match.js';
import { compareAlerts, isCooldownSummary, type Comparison } from './compare.js';
import { alertingDetectors, thresholdsOf } from './configs.js';
import type { ValueSample } from './judged-values.js';
import {
  COLORS,
  barChart,
  emptyChart,
  esc,
  extent,
  fmt,
  histogram,
  type Marker,
  type Series,
  type Side,
} from './report-charts.js';
import { runInfo, type VariantRun } from './variant-run.js';

export { esc } from './report-charts.js';

/*
 * The HTML report of a backtest (`vigie replay --report out.html`): one self-contained file, inline
 * CSS and inline SVG (drawn in report-charts.ts), no script, font or anything fetched (a Content-Security-Policy
 * forbids it). Every piece of data (keys, explanations, names) is escaped.
 */

export interface ReportVariant {
  config: string;
  version: string;
  events: number;
  /** Every alert of the run (cooldown summaries are left out of counts and charts). */
  alerts: readonly Alert[];
  /** Detectors that can raise alerts, in config order. */
  detectors: readonly string[];
  /** Threshold detectors' bounds. */
  thresholds: ReadonlyMap<string, { aggregate: string; op: string; value: number }>;
  /** Per threshold detector, the values its aggregate took in every window result. */
  evaluated: ReadonlyMap<string, ValueSample>;
  labels?: LabelReport;
}

export interface ReportInput {
  /** What was replayed (file, topic and range, or the config's sources). */
  input: string;
  a: ReportVariant;
  b?: ReportVariant;
  /** Shown in the header; omitted when absent (for reproducible files). */
  generatedAt?: Date;
  /** How alerts of A and B match (default: the default of --match-within). */
  match?: MatchOptions;
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

// ---------------------------------------------------------------------------------------------
// Time buckets
// ---------------------------------------------------------------------------------------------

const HOUR = 3_600_000;
const DAY = 86_400_000;

function timeBuckets(times: readonly number[]): { size: number; unit: string; start: number; count: number; label: (i: number) => string } | undefined {
  const [min, max] = extent(times);
  if (!Number.isFinite(min)) return undefined;
  let size = max - min <= 4 * DAY ? HOUR : DAY;
  // At most ~400 bars per chart.
  while ((max - min) / size > 400) size *= size === DAY ? 7 : 2;
  const start = Math.floor(min / size) * size;
  const count = Math.floor((max - start) / size) + 1;
  const unit = size === HOUR ? 'hour' : size === DAY ? 'day' : `${size / DAY} days`;
  const label = (i: number) => {
    const iso = new Date(start + i * size).toISOString();
    return size < DAY ? `${iso.slice(5, 10)} ${iso.slice(11, 13)}h` : iso.slice(0, 10);
  };
  return { size, unit, start, count, label };
}

// ---------------------------------------------------------------------------------------------
// The page
// ---------------------------------------------------------------------------------------------

const CSS = `
:root { color-scheme: light; --a: ${COLORS.a}; --b: ${COLORS.b}; --muted: #6b7280; --line: #e5e7eb; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: #111827; background: #f9fafb; }
main { max-width: 1080px; margin: 0 auto; padding: 24px; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 19px; margin: 32px 0 10px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 16px; margin: 0 0 8px; } h3 code { font-size: 15px; }
.muted, .subtitle { color: var(--muted); }
section, article { margin-bottom: 16px; }
article.detector { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 16px; margin: 14px 0; }
table { border-collapse: collapse; background: #fff; margin: 6px 0 12px; }
th, td { border: 1px solid var(--line); padding: 4px 10px; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f3f4f6; font-weight: 600; }
.tag-a { color: var(--a); font-weight: 600; } .tag-b { color: var(--b); font-weight: 600; }
.pill { display: inline-block; padding: 0 6px; border-radius: 9px; font-size: 12px; background: #f3f4f6; color: var(--muted); margin-left: 6px; }
figure { margin: 10px 0 14px; } figcaption { font-weight: 600; margin-bottom: 2px; }
svg.chart { width: 100%; height: auto; background: #fff; display: block; }
svg .grid { stroke: #eef0f3; } svg .axis { stroke: #9ca3af; fill: none; }
svg .tick, svg .axis-label, svg .legend-text, svg .muted { font-size: 11px; fill: #4b5563; }
svg .threshold { stroke-width: 2; stroke-dasharray: 5 3; } svg .threshold-label { font-size: 11px; font-weight: 600; paint-order: stroke; stroke: #fff; stroke-width: 3px; }
.example { border-left: 3px solid var(--line); padding: 4px 10px; margin: 6px 0; background: #fcfcfd; word-break: break-word; }
.example.side-a { border-color: var(--a); } .example.side-b { border-color: var(--b); }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
`;

interface DetectorView {
  name: string;
  inA: boolean;
  inB: boolean;
}

/** Render the report: a complete HTML document. */
export function renderReport(r: ReportInput): string {
  const hasB = r.b !== undefined;
  const sides: Side[] = hasB ? ['a', 'b'] : ['a'];
  const variant = (s: Side) => (s === 'a' ? r.a : (r.b as ReportVariant));
  const name = (s: Side) => (hasB ? (s === 'a' ? 'A' : 'B') : 'alerts');
  const match = r.match ?? { eventWithinMs: DEFAULT_EVENT_MATCH_MS };
  const cmp: Comparison = compareAlerts({
    a: r.a.alerts,
    b: r.b?.alerts ?? [],
    detectors: { a: r.a.detectors, b: r.b?.detectors ?? [] },
    labels: r.a.labels || r.b?.labels ? { a: r.a.labels, b: r.b?.labels } : undefined,
    match,
  });
  const views: DetectorView[] = cmp.detectors.map((d) => ({ name: d.detector, inA: d.in !== 'b', inB: hasB && d.in !== 'a' }));
  const alertsOf = (s: Side, det: string) => variant(s).alerts.filter((a) => a.detector === det && !isCooldownSummary(a));
  const allTimes = sides.flatMap((s) => variant(s).alerts.filter((a) => !isCooldownSummary(a)).map((a) => a.eventTime));
  const tb = timeBuckets(allTimes);

  const out: string[] = [];
  out.push('<!doctype html>');
  out.push('<html lang="en"><head><meta charset="utf-8">');
  out.push(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`);
  out.push('<meta name="viewport" content="width=device-width, initial-scale=1">');
  out.push(`<title>${esc(hasB ? 'Vigie what-if report' : 'Vigie backtest report')}</title>`);
  out.push(`<style>${CSS}</style></head><body><main>`);

  // Header.
  out.push(`<header id="header"><h1>${esc(hasB ? 'Vigie what-if report' : 'Vigie backtest report')}</h1>`);
  out.push(`<p class="subtitle">Replay of ${esc(r.input)}: ${esc(fmt(r.a.events))} events${r.generatedAt ? `, generated ${esc(r.generatedAt.toISOString())}` : ''}.</p>`);
  out.push('<table class="runs"><thead><tr><th></th><th>config</th><th>version</th><th class="num">alerts</th><th class="num">cooldown summaries</th></tr></thead><tbody>');
  for (const s of sides) {
    const v = variant(s);
    out.push(
      `<tr><th class="tag-${s}">${esc(hasB ? name(s) : 'A')}</th><td><code>${esc(v.config)}</code></td><td><code>${esc(v.version)}</code></td><td class="num">${fmt(cmp.totals[s])}</td><td class="num">${fmt(cmp.totals.summaries[s])}</td></tr>`,
    );
  }
  out.push('</tbody></table></header>');

  // Summary table.
  const labelled = cmp.labels !== undefined;
  out.push('<section id="summary"><h2>Alerts per detector</h2>');
  out.push(
    `<p class="muted">Cooldown summaries excluded.${hasB ? ` ${esc(capitalise(describeMatching(match)))}.` : ''}</p>`,
  );
  out.push('<table class="summary"><thead><tr><th>detector</th>');
  out.push(hasB ? '<th class="num tag-a">A</th><th class="num tag-b">B</th><th class="num">only A</th><th class="num">only B</th><th class="num">both</th>' : '<th class="num">alerts</th>');
  if (labelled) out.push(sides.map((s) => `<th class="num">precision${hasB ? ` ${name(s)}` : ''}</th>`).join(''));
  out.push('</tr></thead><tbody>');
  for (const d of cmp.detectors) {
    const tag = d.in === 'a' && hasB ? '<span class="pill">A only</span>' : d.in === 'b' ? '<span class="pill">B only</span>' : '';
    out.push(`<tr><td><a href="#det-${esc(slug(d.detector))}"><code>${esc(d.detector)}</code></a>${tag}</td>`);
    out.push(hasB ? [d.a, d.b, d.onlyA, d.onlyB, d.both].map((n) => `<td class="num">${fmt(n)}</td>`).join('') : `<td class="num">${fmt(d.a)}</td>`);
    if (labelled) {
      for (const s of sides) {
        const p = d.precision?.[s];
        out.push(`<td class="num">${p === undefined || p.alerts === 0 ? '-' : `${fmt(p.truePositives)}/${fmt(p.alerts)} (${pct(p.precision)})`}</td>`);
      }
    }
    out.push('</tr>');
  }
  out.push('</tbody></table></section>');

  // Recall.
  if (cmp.labels) {
    out.push('<section id="recall"><h2>Recall per typology</h2><p class="muted">Cases of the typology hit by at least one alert / cases in the input.</p>');
    out.push(`<table class="recall"><thead><tr><th>typology</th><th class="num">cases</th>${sides.map((s) => `<th class="num">recall${hasB ? ` ${name(s)}` : ''}</th>`).join('')}</tr></thead><tbody>`);
    for (const t of cmp.labels.typologies) {
      const cell = (s: Side) => {
        const x = t[s];
        return x === undefined ? '-' : `${fmt(x.detectedCases)}/${fmt(t.cases)} (${pct(x.recall)})`;
      };
      out.push(`<tr><td>${esc(t.typology)}</td><td class="num">${fmt(t.cases)}</td>${sides.map((s) => `<td class="num">${cell(s)}</td>`).join('')}</tr>`);
    }
    out.push('</tbody></table></section>');
  }

  // Per detector.
  out.push('<section id="detectors"><h2>Detectors</h2>');
  for (const v of views) {
    const present = sides.filter((s) => (s === 'a' ? v.inA : v.inB));
    const list = Object.fromEntries(sides.map((s) => [s, alertsOf(s, v.name)])) as Record<Side, Alert[]>;
    const legendName = (s: Side) => (hasB ? name(s) : 'alerts');
    out.push(
      `<article class="detector" id="det-${esc(slug(v.name))}" data-detector="${esc(v.name)}" data-alerts-a="${list.a.length}"${hasB ? ` data-alerts-b="${list.b.length}"` : ''}><h3><code>${esc(v.name)}</code></h3>`,
    );
    const counts = present.map((s) => `<span class="tag-${s}">${esc(hasB ? name(s) : 'alerts')}: ${fmt(list[s].length)}</span>`).join(' · ');
    out.push(`<p class="muted">${counts}</p>`);

    // Alerts over time.
    const timeCaption = `Alerts over time (per ${tb?.unit ?? 'hour'}, UTC event time)`;
    out.push(`<figure class="chart-time"><figcaption>${esc(timeCaption)}</figcaption>`);
    if (tb === undefined || present.every((s) => list[s].length === 0)) {
      out.push(emptyChart(timeCaption, 'no alerts'));
    } else {
      const series: Series[] = present.map((s) => {
        const counts2 = new Array<number>(tb.count).fill(0);
        for (const a of list[s]) if (Number.isFinite(a.eventTime)) counts2[Math.floor((a.eventTime - tb.start) / tb.size)]++;
        return { side: s, name: legendName(s), values: counts2 };
      });
      out.push(barChart({ label: `${v.name}: ${timeCaption}`, categories: Array.from({ length: tb.count }, (_, i) => tb.label(i)), series, yLabel: 'alerts' }));
    }
    out.push('</figure>');

    // Observed values of the alerts against the thresholds. A detector whose bound depends on the
    // key (outlier, baseline, anomaly) is shown as observed / threshold, the bound being 1.
    const markers: Marker[] = [];
    const varying = present.some((s) => variant(s).thresholds.get(v.name) === undefined && new Set(list[s].map((a) => a.threshold)).size > 1);
    for (const s of present) {
      const t = variant(s).thresholds.get(v.name);
      const who = hasB ? `${name(s)}: ` : '';
      if (varying) continue;
      if (t !== undefined) {
        markers.push({ side: s, x: t.value, label: `${who}${t.op} ${fmt(t.value)}` });
        continue;
      }
      const th = list[s].find((a) => Number.isFinite(a.threshold))?.threshold;
      if (th !== undefined) markers.push({ side: s, x: th, label: `${who}threshold ${fmt(th)}` });
    }
    if (varying) markers.push({ side: present[0], x: 1, label: 'threshold (ratio 1)' });
    const ratio = (a: Alert) => (a.threshold !== 0 && Number.isFinite(a.threshold) ? a.observed / a.threshold : NaN);
    const obsCaption = varying ? 'Observed value / threshold of each alert (the threshold varies per key)' : 'Observed values of the alerts, threshold marked';
    out.push(`<figure class="chart-observed"><figcaption>${esc(obsCaption)}</figcaption>`);
    if (present.every((s) => list[s].length === 0)) {
      out.push(emptyChart(obsCaption, 'no alerts'));
    } else {
      out.push(
        histogram({
          label: `${v.name}: ${obsCaption}`,
          series: present.map((s) => ({ side: s, name: legendName(s), values: list[s].map((a) => (varying ? ratio(a) : a.observed)) })),
          markers,
          yLabel: 'alerts',
        }),
      );
    }
    out.push('</figure>');

    // Every value the threshold judged (threshold detectors).
    const evaluated = present.map((s) => [s, variant(s).evaluated.get(v.name)] as const).filter((x): x is readonly [Side, ValueSample] => x[1] !== undefined && x[1].count > 0);
    if (evaluated.length > 0) {
      const t = variant(evaluated[0][0]).thresholds.get(v.name);
      const caption = `All values of ${t?.aggregate ?? 'the aggregate'} judged (every window result; log scale), threshold marked`;
      out.push(`<figure class="chart-evaluated"><figcaption>${esc(caption)}</figcaption>`);
      out.push(
        histogram({
          label: `${v.name}: ${caption}`,
          series: evaluated.map(([s, sample]) => ({ side: s, name: `${legendName(s)} (${fmt(sample.count)} results)`, values: sample.values, scale: sample.count / Math.max(1, sample.values.length) })),
          markers: markers.filter((m) => evaluated.some(([s]) => s === m.side)),
          log: true,
          yLabel: 'results (log)',
        }),
      );
      out.push('</figure>');
    }

    // Examples: what differs first.
    const examples = exampleAlerts(list.a, hasB ? list.b : undefined, match);
    if (examples.length > 0) {
      out.push('<div class="examples">');
      for (const ex of examples) {
        const a = ex.alert;
        out.push(
          `<div class="example side-${ex.side}"><div><strong class="tag-${ex.side}">${esc(ex.title)}</strong> <span class="muted">${esc(isoOrDash(a.eventTime))} · key <code>${esc(a.key)}</code> · observed ${esc(fmt(a.observed))} vs threshold ${esc(fmt(a.threshold))} · ${esc(a.severity)}</span></div><div>${esc(a.explanation)}</div></div>`,
        );
      }
      out.push('</div>');
    }
    out.push('</article>');
  }
  out.push('</section>');

  // Top keys.
  out.push('<section id="top-keys"><h2>Top keys</h2><p class="muted">Keys with the most alerts (any detector; cooldown summaries excluded).</p>');
  const byKey = new Map<string, { detector: string; key: string; a: number; b: number }>();
  for (const s of sides) {
    for (const al of variant(s).alerts) {
      if (isCooldownSummary(al)) continue;
      const k = `${al.detector}\u0000${al.key}`;
      let e = byKey.get(k);
      if (e === undefined) byKey.set(k, (e = { detector: al.detector, key: al.key, a: 0, b: 0 }));
      e[s]++;
    }
  }
  const top = [...byKey.values()].sort((x, y) => Math.max(y.a, y.b) - Math.max(x.a, x.b) || y.a + y.b - (x.a + x.b) || x.key.localeCompare(y.key)).slice(0, 25);
  out.push(`<table class="top-keys"><thead><tr><th>key</th><th>detector</th>${hasB ? '<th class="num tag-a">alerts A</th><th class="num tag-b">alerts B</th>' : '<th class="num">alerts</th>'}</tr></thead><tbody>`);
  for (const e of top) {
    out.push(`<tr><td><code>${esc(e.key)}</code></td><td><code>${esc(e.detector)}</code></td><td class="num">${fmt(e.a)}</td>${hasB ? `<td class="num">${fmt(e.b)}</td>` : ''}</tr>`);
  }
  if (top.length === 0) out.push(`<tr><td colspan="${hasB ? 4 : 3}" class="muted">no alerts</td></tr>`);
  out.push('</tbody></table></section>');
  out.push('<footer class="muted"><p>Generated by <code>vigie replay</code>. Self-contained: no script, no external resource.</p></footer>');
  out.push('</main></body></html>');
  return `${out.join('\n')}\n`;
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function slug(s: string): string {
  return s.replace(/[^a-z0-9_.-]/gi, '_');
}


function isoOrDash(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : '-';
}

/** The first alert only in A and the first only in B (or, alone, the first alert). */
function exampleAlerts(a: readonly Alert[], b: readonly Alert[] | undefined, match: MatchOptions): Array<{ side: Side; title: string; alert: Alert }> {
  if (b === undefined) return a.length > 0 ? [{ side: 'a', title: 'Example', alert: a[0] }] : [];
  const out: Array<{ side: Side; title: string; alert: Alert }> = [];
  const m = matchAlerts(a, b, match);
  const onlyA = m.onlyA[0];
  const onlyB = m.onlyB[0];
  if (onlyA) out.push({ side: 'a', title: 'Only in A, e.g.', alert: onlyA });
  if (onlyB) out.push({ side: 'b', title: 'Only in B, e.g.', alert: onlyB });
  if (out.length === 0 && a.length > 0) out.push({ side: 'a', title: 'In both, e.g.', alert: a[0] });
  return out;
}

/** The report input of one or two runs. */
export function reportInput(a: VariantRun, b: VariantRun | undefined, input: string, generatedAt?: Date, match?: MatchOptions): ReportInput {
  const v = (r: VariantRun): ReportVariant => {
    const info = runInfo(r);
    return {
      config: info.config,
      version: info.version,
      events: info.events,
      alerts: r.alerts,
      detectors: alertingDetectors(r.loaded),
      thresholds: thresholdsOf(r.loaded),
      evaluated: r.evaluated,
      labels: r.summary.labels,
    };
  };
  return { input, a: v(a), b: b ? v(b) : undefined, generatedAt, match };
}
