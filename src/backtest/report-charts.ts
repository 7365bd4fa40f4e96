/** Inline SVG charts of the backtest report (grouped bars, histograms) and the escaping and number formatting they share with the page. */

export const COLORS = { a: '#2563eb', b: '#ea580c' } as const;
export type Side = 'a' | 'b';

/** Escape text for HTML content and attribute values (SVG included). */
export function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Number.isInteger(n)) return n.toLocaleString('en-US');
  const a = Math.abs(n);
  return a >= 1000 ? n.toFixed(0) : a >= 1 ? String(Number(n.toFixed(2))) : String(Number(n.toPrecision(3)));
}

/** Smallest and largest finite value (loops: lists may be too long to spread into Math.min). */
export function extent(xs: readonly number[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const x of xs) {
    if (!Number.isFinite(x)) continue;
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  return [lo, hi];
}

export interface Series {
  side: Side;
  name: string;
  values: readonly number[];
}

export interface Marker {
  x: number;
  label: string;
  side: Side;
}

const W = 720;
const H = 230;
const M = { top: 26, right: 16, bottom: 40, left: 52 };

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function legend(series: readonly Series[]): string {
  return series
    .map((s, i) => {
      const x = M.left + i * 150;
      return `<rect class="legend" x="${x}" y="6" width="12" height="12" fill="${COLORS[s.side]}"/><text x="${x + 17}" y="16" class="legend-text">${esc(s.name)}</text>`;
    })
    .join('');
}

export function emptyChart(label: string, message: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" class="chart empty" viewBox="0 0 ${W} 60" role="img" aria-label="${esc(label)}"><text x="${W / 2}" y="34" text-anchor="middle" class="muted">${esc(message)}</text></svg>`;
}

/**
 * Grouped bars: one group per category (time bucket), one bar per series. `log` scales counts as
 * log10(1 + n) (for distributions dominated by one value).
 */
export function barChart(o: { label: string; categories: readonly string[]; series: readonly Series[]; yLabel: string; log?: boolean; markers?: readonly Marker[]; xOf?: (x: number) => number; edges?: readonly number[] }): string {
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const n = o.categories.length;
  const max = Math.max(0, extent(o.series.flatMap((s) => s.values))[1]);
  const top = o.log ? Math.log10(1 + max) : niceMax(max);
  const y = (v: number) => M.top + ph - (ph * (o.log ? Math.log10(1 + v) : v)) / (top || 1);
  const band = pw / Math.max(1, n);
  const inner = Math.max(1, band * 0.84);
  const bw = inner / Math.max(1, o.series.length);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(o.label)}">`);
  parts.push(legend(o.series));
  // Grid and y axis.
  const ticks = o.log ? [0, max > 0 ? Math.round(Math.sqrt(max)) : 0, max] : [0, top / 2, top].filter(Number.isInteger);
  for (const t of [...new Set(ticks)]) {
    const ty = y(t);
    parts.push(`<line class="grid" x1="${M.left}" x2="${W - M.right}" y1="${ty.toFixed(1)}" y2="${ty.toFixed(1)}"/>`);
    parts.push(`<text class="tick" x="${M.left - 6}" y="${(ty + 4).toFixed(1)}" text-anchor="end">${esc(fmt(t))}</text>`);
  }
  parts.push(`<text class="axis-label" transform="translate(12 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`);
  parts.push(`<path class="axis" d="M${M.left} ${M.top}V${M.top + ph}H${W - M.right}"/>`);
  // Bars.
  for (let i = 0; i < n; i++) {
    o.series.forEach((s, j) => {
      const v = s.values[i] ?? 0;
      if (v <= 0) return;
      const x = M.left + i * band + (band - inner) / 2 + j * bw;
      const yy = y(v);
      parts.push(
        `<rect class="bar bar-${s.side}" x="${x.toFixed(2)}" y="${yy.toFixed(2)}" width="${Math.max(0.6, bw - 0.4).toFixed(2)}" height="${Math.max(0.5, M.top + ph - yy).toFixed(2)}" fill="${COLORS[s.side]}"><title>${esc(`${s.name}, ${o.categories[i]}: ${fmt(v)}`)}</title></rect>`,
      );
    });
  }
  // X labels: first, a few in between, last.
  const every = Math.max(1, Math.ceil(n / 6));
  for (let i = 0; i < n; i += every) parts.push(xLabel(M.left + i * band + band / 2, o.categories[i]));
  if (n > 1 && (n - 1) % every !== 0 && band * ((n - 1) % every) > 90) parts.push(xLabel(M.left + (n - 1) * band + band / 2, o.categories[n - 1]));
  // Threshold markers, placed on the category axis by value.
  if (o.markers && o.edges && o.edges.length > 1) {
    const lo = o.edges[0];
    const hi = o.edges[o.edges.length - 1];
    o.markers.forEach((m, k) => {
      const x = M.left + ((m.x - lo) / (hi - lo || 1)) * pw;
      if (!(x >= M.left - 0.5 && x <= W - M.right + 0.5)) return;
      parts.push(`<line class="threshold threshold-${m.side}" x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${M.top}" y2="${M.top + ph}" stroke="${COLORS[m.side]}"/>`);
      const anchor = x > W - 160 ? 'end' : 'start';
      parts.push(`<text class="threshold-label" x="${(x + (anchor === 'end' ? -4 : 4)).toFixed(1)}" y="${M.top + 12 + k * 13}" text-anchor="${anchor}" fill="${COLORS[m.side]}">${esc(m.label)}</text>`);
    });
  }
  parts.push('</svg>');
  return parts.join('');
}

function xLabel(x: number, text: string): string {
  return `<text class="tick" x="${x.toFixed(1)}" y="${H - M.bottom + 16}" text-anchor="middle">${esc(text)}</text>`;
}

/** Bins over the values of every series and the markers: one per integer when they are few integers, else 30. */
function bins(all: readonly number[], markers: readonly number[]): { edges: number[]; labels: string[]; index: (v: number) => number } {
  const xs = [...all, ...markers].filter(Number.isFinite);
  let [lo, hi] = extent(xs);
  if (xs.length === 0) {
    lo = 0;
    hi = 1;
  }
  const ints = xs.every(Number.isInteger);
  if (ints && hi - lo <= 60) {
    const edges: number[] = [];
    for (let v = lo; v <= hi + 1; v++) edges.push(v - 0.5);
    return { edges, labels: edges.slice(0, -1).map((e) => fmt(e + 0.5)), index: (v) => Math.round(v) - lo };
  }
  if (hi === lo) {
    lo -= 1;
    hi += 1;
  }
  const k = 30;
  const w = (hi - lo) / k;
  const edges = Array.from({ length: k + 1 }, (_, i) => lo + i * w);
  return { edges, labels: edges.slice(0, -1).map((e) => fmt(e + w / 2)), index: (v) => Math.min(k - 1, Math.max(0, Math.floor((v - lo) / w))) };
}

export function histogram(o: { label: string; series: Array<{ side: Side; name: string; values: readonly number[]; scale?: number }>; markers: Marker[]; log?: boolean; yLabel: string }): string {
  const b = bins(
    o.series.flatMap((s) => s.values),
    o.markers.map((m) => m.x),
  );
  const series: Series[] = o.series.map((s) => {
    const counts = new Array<number>(b.edges.length - 1).fill(0);
    for (const v of s.values) if (Number.isFinite(v)) counts[b.index(v)] += s.scale ?? 1;
    return { side: s.side, name: s.name, values: counts.map((c) => Math.round(c)) };
  });
  return barChart({ label: o.label, categories: b.labels, series, yLabel: o.yLabel, log: o.log, markers: o.markers, edges: b.edges });
}
