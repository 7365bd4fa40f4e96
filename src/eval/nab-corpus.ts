/**
 * A NAB-style corpus in memory, and a detector core run over it without the engine: the fast path for
 * cross-validation and for the cost benchmark. Rows are fed as the engine's replay feeds them with
 * `maxOutOfOrderness: 0`: a row whose time is before an earlier row's is late, gets no score and no
 * detection, and does not reach the core (a repeated timestamp is not late).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { listNabFiles } from './nab-run.js';
import { loadNabLabels, parseNabCsv } from './nab-score.js';
import type { CorpusSeries } from './nab-cv.js';
import { VigieError } from '../errors.js';

export interface LoadedSeries extends CorpusSeries {
  values: number[];
}

/** What a univariate detector core must offer to be run over the corpus. */
export interface SeriesDetector {
  update(time: number, value: number): { score: number; alert: boolean };
}

export interface SeriesRun {
  detections: boolean[];
  scores: Float64Array;
  lateRows: number;
}

/** Every series of `dir` (`data/<category>/*.csv`, `labels/combined_windows.json`), in a stable order. */
export async function loadNabCorpus(dir: string): Promise<LoadedSeries[]> {
  const files = await listNabFiles(dir);
  if (files.length === 0) throw new VigieError('VIGIE_ERR_INPUT', `no series found under ${join(dir, 'data')}/<category>/*.csv`);
  const labels = loadNabLabels(await readFile(join(dir, 'labels', 'combined_windows.json'), 'utf8'));
  const out: LoadedSeries[] = [];
  for (const f of files) {
    let parsed: { timestamps: number[]; values: number[] };
    try {
      parsed = parseNabCsv(await readFile(f.path, 'utf8'));
    } catch (err) {
      throw new VigieError('VIGIE_ERR_INPUT', `${f.id}: ${(err as Error).message}`);
    }
    out.push({ id: f.id, category: f.id.slice(0, f.id.indexOf('/')), timestamps: parsed.timestamps, values: parsed.values, windows: labels[f.id] ?? [] });
  }
  return out;
}

/** Runs a fresh detector over one series, row by row, in file order. */
export function runSeries(s: Pick<LoadedSeries, 'timestamps' | 'values'>, detector: SeriesDetector): SeriesRun {
  const n = s.values.length;
  const detections = new Array<boolean>(n).fill(false);
  const scores = new Float64Array(n);
  let lateRows = 0;
  let latest = -Infinity;
  for (let i = 0; i < n; i++) {
    const t = s.timestamps[i];
    if (t < latest) {
      lateRows++;
      continue;
    }
    latest = t;
    const out = detector.update(t, s.values[i]);
    scores[i] = out.score;
    detections[i] = out.alert;
  }
  return { detections, scores, lateRows };
}
