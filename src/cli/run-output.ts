/**
 * What `vigie run` prints for a person at a terminal besides alerts and logs: a status line every
 * few seconds and a short table when the run ends. Scripts get neither: they read the metrics and the
 * JSON summary line instead.
 */
import type { Logger } from 'pino';
import type { Summary } from '../engine/summary.js';

/** How often the status line is printed. */
export const STATUS_INTERVAL_MS = 10_000;

export interface Progress {
  records: number;
  alerts: number;
  deadLetters: number;
  watermark: number | null;
}

const count = (n: number): string => n.toLocaleString('en-US');

/** `1.8 s`, `2m 05s`, `1h 02m`. */
export function formatLag(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const two = (n: number) => String(Math.floor(n)).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)}m ${two(s % 60)}s`;
  return `${Math.floor(s / 3600)}h ${two((s % 3600) / 60)}m`;
}

/** `status: 2,534 events in (25/s), 4 alerts, 0 dead letters, watermark lag 2.1 s` */
export function formatStatus(p: Progress, perSecond: number, now: number): string {
  const lag = p.watermark === null ? 'no watermark yet' : `watermark lag ${formatLag(now - p.watermark)}`;
  const plural = (n: number, one: string, many: string) => `${count(n)} ${n === 1 ? one : many}`;
  return `status: ${plural(p.records, 'event', 'events')} in (${count(Math.round(perSecond))}/s), ${plural(p.alerts, 'alert', 'alerts')}, ${plural(p.deadLetters, 'dead letter', 'dead letters')}, ${lag}`;
}

/** Log the status line every `intervalMs` until the returned function is called. */
export function startStatus(progress: () => Progress, logger: Logger, now: () => number = Date.now, intervalMs = STATUS_INTERVAL_MS): () => void {
  let before = progress();
  let at = now();
  const timer = setInterval(() => {
    const p = progress();
    const t = now();
    logger.info(formatStatus(p, ((p.records - before.records) * 1000) / Math.max(1, t - at), t));
    before = p;
    at = t;
  }, intervalMs);
  // The status must never be what keeps a stopping process alive.
  timer.unref();
  return () => clearInterval(timer);
}

/** Columns padded to their widest cell; numbers aligned right. */
function table(rows: (string | number)[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r) => `  ${r.map((c, i) => (typeof c === 'number' ? count(c).padStart(widths[i]) : String(c).padEnd(widths[i]))).join('   ')}`.trimEnd());
}

/** The end-of-run summary as a few aligned lines. */
export function formatSummaryTable(s: Summary): string {
  const lines: string[] = [];
  lines.push(`Run of ${s.name} (config ${s.configVersion}): ${formatLag(s.durationMs)}, ${count(s.eventsPerSecond)} events/s`);
  const sources: (string | number)[][] = [['source', 'records', 'events', 'dead letters']];
  for (const [name, src] of Object.entries(s.sources)) {
    let dead = 0;
    for (const n of Object.values(src.deadLettered)) dead += n ?? 0;
    sources.push([name, src.in, src.events, dead]);
  }
  lines.push(...table(sources));
  const detectors: (string | number)[][] = [['detector', 'alerts', 'repeats suppressed']];
  for (const [name, d] of Object.entries(s.detectors)) detectors.push([name, s.alerts.byDetector[name]?.total ?? 0, d.suppressed]);
  lines.push(...table(detectors));
  const reasons = Object.entries(s.deadLetters.byReason).map(([r, n]) => `${r} ${count(n ?? 0)}`);
  let total = `  ${count(s.alerts.total)} alert${s.alerts.total === 1 ? '' : 's'}`;
  if (s.shadowAlerts.total > 0) total += `, ${count(s.shadowAlerts.total)} in shadow mode`;
  total += `, ${count(s.deadLetters.total)} dead letter${s.deadLetters.total === 1 ? '' : 's'}${reasons.length > 0 ? ` (${reasons.join(', ')})` : ''}`;
  lines.push(total);
  return `${lines.join('\n')}\n`;
}
