import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Engine } from '../engine/engine.js';
import type { LoadedConfig } from '../config/load.js';
import { memorySource } from '../sources/memory.js';
import { memorySink } from '../../sinks/memory.js';
import { PROFILES, loadNabLabels, parseNabTimestamp, scoreCorpus, type CorpusScore, type NabSeries } from './nab-score.js';
import { VigieError } from '../errors.js';

/** One series of a NAB-style corpus: `data/<category>/<name>.csv`. */
export interface NabFile {
  /** Path relative to `data/`, as NAB's labels name it: `<category>/<name>.csv`. */
  id: string;
  path: string;
}

/** What one series gave: its rows, the rows the engine alerted on and the rows it found late. */
export interface NabSeriesReport {
  id: string;
  rows: number;
  alerts: number;
  /** Rows behind the watermark when they arrived (the series stepped back in time): scored 0, never alerted. */
  lateRows: number;
}

export interface NabEvalReport {
  series: number;
  rows: number;
  alerts: number;
  lateRows: number;
  perSeries: NabSeriesReport[];
  /** Normalised corpus score per profile. */
  scores: Record<keyof typeof PROFILES, CorpusScore>;
  /** Standard score per category (folder) that has labelled windows: where the detector is weak. */
  categories: Record<string, number>;
  durationMs: number;
}

/** Every `data/<category>/<series>.csv` under a NAB-style folder, in a stable order. */
export async function listNabFiles(dataDir: string): Promise<NabFile[]> {
  const out: NabFile[] = [];
  if (!existsSync(join(dataDir, 'data')) || !existsSync(join(dataDir, 'labels', 'combined_windows.json'))) {
    throw new VigieError('VIGIE_ERR_INPUT', `no NAB corpus at ${dataDir}: expected data/<category>/<series>.csv and labels/combined_windows.json under it`);
  }
  const categories = (await readdir(join(dataDir, 'data'), { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  for (const c of categories) {
    const files = (await readdir(join(dataDir, 'data', c))).filter((f) => f.endsWith('.csv')).sort();
    for (const f of files) out.push({ id: `${c}/${f}`, path: join(dataDir, 'data', c, f) });
  }
  return out;
}

/** Rows of a NAB CSV as text (kept verbatim for the output) and parsed. */
function readRows(text: string, id: string): Array<{ ts: string; value: string; time: number; x: number }> {
  const rows: Array<{ ts: string; value: string; time: number; x: number }> = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '' || (i === 0 && line.toLowerCase().startsWith('timestamp'))) continue;
    const comma = line.indexOf(',');
    if (comma < 0) throw new VigieError('VIGIE_ERR_INPUT', `${id}: line ${i + 1}: expected 'timestamp,value'`);
    const ts = line.slice(0, comma).trim();
    const value = line.slice(comma + 1).trim();
    rows.push({ ts, value, time: parseNabTimestamp(ts), x: Number(value) });
  }
  return rows;
}

/**
 * Run the anomaly config over every series of a NAB-style corpus through the engine's replay path:
 * each series is replayed as a stream of events `{ series, timestamp, value }` keyed by series, with
 * the config's detectors as shipped. Writes `OUT/<category>/<series>.csv` with
 * `timestamp,value,anomaly_score,alert` (alert: the engine raised an alert at that row), one line per
 * input row in input order, and scores the alerts with NAB's three profiles. A row the engine finds late
 * (its time is behind the watermark: the series stepped back) is written with score 0 and alert 0,
 * scored as a row without detection, and counted.
 */
export async function evalNab(opts: { data: string; out: string; loaded: LoadedConfig; onSeries?: (s: NabSeriesReport) => void }): Promise<NabEvalReport> {
  const t0 = performance.now();
  const files = await listNabFiles(opts.data);
  if (files.length === 0) throw new VigieError('VIGIE_ERR_INPUT', `no series found under ${join(opts.data, 'data')}/<category>/*.csv`);
  const labels = loadNabLabels(await readFile(join(opts.data, 'labels', 'combined_windows.json'), 'utf8'));
  const corpus: NabSeries[] = [];
  let rows = 0;
  let alertsTotal = 0;
  let lateTotal = 0;
  const perSeries: NabSeriesReport[] = [];
  for (const f of files) {
    const parsed = readRows(await readFile(f.path, 'utf8'), f.id);
    const name = f.id.replace(/\.csv$/, '');
    const records = parsed.map((r, i) => ({ id: String(i), series: name, timestamp: r.time, value: Number.isFinite(r.x) ? r.x : null }));
    const source = memorySource(records, { name: 'nab', batchSize: 1024, mapping: { time: { field: 'timestamp', format: 'ms' }, id: 'id' } });
    const sink = memorySink('eval', ['alerts', 'scores', 'deadLetters']);
    const engine = new Engine({ loaded: opts.loaded, mode: 'replay', sources: [source], sinks: [sink] });
    await engine.run();
    const score = new Float64Array(parsed.length);
    const alert = new Uint8Array(parsed.length);
    for (const s of sink.scores) score[Number(s.ref)] = s.score;
    const late = new Uint8Array(parsed.length);
    let lateRows = 0;
    for (const d of sink.deadLetters) {
      if (d.reason !== 'late') continue;
      // The memory source numbers records from 1 in input order; each pipeline of the config reports
      // the row once, so a row is counted once however many pipelines found it late.
      const row = d.offset - 1;
      if (row >= 0 && row < parsed.length && late[row] === 0) {
        late[row] = 1;
        lateRows++;
      }
    }
    let alerts = 0;
    for (const a of sink.alerts) {
      if (a.repeatsOf !== undefined) continue; // cooldown summaries are not detections
      for (const ref of a.evidence) {
        const row = Number(ref);
        if (Number.isInteger(row) && row >= 0 && row < parsed.length && alert[row] === 0) {
          alert[row] = 1;
          alerts++;
        }
      }
    }
    let csv = 'timestamp,value,anomaly_score,alert\n';
    for (let i = 0; i < parsed.length; i++) csv += `${parsed[i].ts},${parsed[i].value},${score[i]},${alert[i]}\n`;
    const outPath = join(opts.out, f.id);
    await mkdir(dirname(outPath), { recursive: true });
    await writeFile(outPath, csv);
    const windows = labels[f.id] ?? [];
    corpus.push({ timestamps: parsed.map((r) => r.time), detections: Array.from(alert, (v) => v === 1), windows });
    rows += parsed.length;
    alertsTotal += alerts;
    lateTotal += lateRows;
    const report: NabSeriesReport = { id: f.id, rows: parsed.length, alerts, lateRows };
    perSeries.push(report);
    opts.onSeries?.(report);
  }
  const scores = {
    standard: scoreCorpus(corpus, PROFILES.standard),
    reward_low_FP: scoreCorpus(corpus, PROFILES.reward_low_FP),
    reward_low_FN: scoreCorpus(corpus, PROFILES.reward_low_FN),
  };
  const categories: Record<string, number> = {};
  for (const c of [...new Set(files.map((f) => f.id.slice(0, f.id.indexOf('/'))))]) {
    const part = corpus.filter((_, i) => files[i].id.startsWith(`${c}/`));
    if (part.some((x) => x.windows.length > 0)) categories[c] = scoreCorpus(part, PROFILES.standard).score;
  }
  return { series: files.length, rows, alerts: alertsTotal, lateRows: lateTotal, perSeries, scores, categories, durationMs: Math.round(performance.now() - t0) };
}

/** The report as readable tables: the scores per profile, then rows, alerts and late rows per series. */
export function formatNabReport(r: NabEvalReport, configVersion: string): string {
  const lines = [
    `NAB scores, ${r.series} series, ${r.rows} rows, ${r.alerts} alerts, ${r.lateRows} late rows, ${(r.durationMs / 1000).toFixed(1)} s (config ${configVersion})`,
    '| profile       |  score |',
    '|---------------|--------|',
    ...Object.entries(r.scores).map(([p, s]) => `| ${p.padEnd(13)} | ${s.score.toFixed(2).padStart(6)} |`),
    '',
  ];
  const catWidth = Math.max('category'.length, ...Object.keys(r.categories).map((c) => c.length));
  lines.push(`| ${'category'.padEnd(catWidth)} | standard |`, `|${'-'.repeat(catWidth + 2)}|----------|`);
  for (const [c, v] of Object.entries(r.categories)) lines.push(`| ${c.padEnd(catWidth)} | ${v.toFixed(2).padStart(8)} |`);
  lines.push('');
  const idWidth = Math.max('series'.length, ...r.perSeries.map((s) => s.id.length));
  const num = (x: number, width: number) => String(x).padStart(width);
  lines.push(`| ${'series'.padEnd(idWidth)} |   rows | alerts | late rows |`);
  lines.push(`|${'-'.repeat(idWidth + 2)}|--------|--------|-----------|`);
  for (const s of r.perSeries) lines.push(`| ${s.id.padEnd(idWidth)} | ${num(s.rows, 6)} | ${num(s.alerts, 6)} | ${num(s.lateRows, 9)} |`);
  return `${lines.join('\n')}\n`;
}
