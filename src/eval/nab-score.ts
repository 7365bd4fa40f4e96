import { VigieError, internalError } from '../errors.js';
/**
 * NAB (Numenta Anomaly Benchmark) scoring: the standard, reward_low_FP and reward_low_FN profiles.
 * Pure functions, no I/O.
 *
 * Definitions used (row indices are 0-based positions in the series, in file order):
 *
 * - Rows are scored in file order, whether or not their timestamps are sorted: NAB's real series step back
 *   in time or repeat a timestamp, and NAB's scorer takes the rows as they come.
 * - Probation: P = min(floor(0.15 * N), 750). Rows i < P are not scored: detections there are ignored.
 * - A window [start, end] (ms, inclusive) covers the rows whose own timestamp has start <= ts[i] <= end: its
 *   L rows r_1 < ... < r_L in file order. With sorted timestamps these are the consecutive rows a..b and
 *   L = b - a + 1 (NAB's sweeper enters a window at the row of its start and leaves it at the row of its end,
 *   which is the same thing when, as in NAB's labels, windows start and end on row timestamps). A row that
 *   steps back into a window's time range belongs to the window wherever it is in the file.
 * - sigma(y) = 2 / (1 + exp(5y)) - 1.
 * - True positive: a detection at the window's k-th row (k = 1..L) has relative position y = (k - 1 - L) / L,
 *   so y = -1 at its first row and y = 0 at the (virtual) row just past its last; with sorted rows,
 *   y = (i - b - 1) / L. It is worth A_TP * sigma(y) / sigma(-1) (exactly A_TP at the left edge, about
 *   A_TP * 2.5 / L / tanh(2.5) at the last row). Only the earliest scored detection in the window counts
 *   (sigma is decreasing, so the earliest is the best); later detections in the same window count for
 *   nothing, neither TP nor FP.
 * - False negative: a window with no scored detection (including one that covers no row) costs -A_FN.
 * - False positive: a scored detection at row i that no window covers. If some window with at least one row
 *   has its last row before i (the previous window: the one whose last row b is the latest, of those ending
 *   on the same row the one starting last; W rows), y = (i - b) / (W - 1) and the detection costs
 *   A_FP * sigma(y) (sigma < 0 for y > 0, so right after a window it costs little, far from it almost A_FP).
 *   If W = 1 (W - 1 = 0) y is taken as +Infinity, i.e. the full -A_FP. If no window precedes i the
 *   detection costs -A_FP.
 * - Corpus: null = the detector that never fires (= -A_FN per window); perfect = the detector that fires
 *   once per window at the window's first scored row (its first row at or past P) and nowhere else. When
 *   every window's first row is past probation this is A_TP per window ("perfect is the number of windows"
 *   for the standard profile); a window starting inside probation (or covering no row) is worth less, but
 *   no detector can do better on it, so the normalised score never exceeds 100.
 *   score = 100 * (raw - null) / (perfect - null).
 */

export interface NabProfile {
  name: string;
  tp: number;
  fn: number;
  fp: number;
}

export const PROFILES = {
  standard: { name: 'standard', tp: 1, fn: 1, fp: 0.11 },
  reward_low_FP: { name: 'reward_low_FP', tp: 1, fn: 1, fp: 0.22 },
  reward_low_FN: { name: 'reward_low_FN', tp: 1, fn: 2, fp: 0.11 },
} as const satisfies Record<string, NabProfile>;

export interface SeriesScore {
  raw: number;
  tp: number;
  fp: number;
  fn: number;
}

export interface NabSeries {
  timestamps: number[];
  detections: boolean[];
  windows: Array<[number, number]>;
}

export interface CorpusScore {
  score: number;
  raw: number;
  null: number;
  perfect: number;
}

/** The scaled sigmoid: 2 / (1 + exp(5y)) - 1 (in (-1, 1), 0 at y = 0, decreasing). */
export function sigma(y: number): number {
  return 2 / (1 + Math.exp(5 * y)) - 1;
}

const SIGMA_LEFT_EDGE = sigma(-1);

/** Number of leading rows that are not scored. */
export function probationRows(n: number): number {
  return Math.min(Math.floor(0.15 * n), 750);
}

/**
 * Rows of each window, in file order: the rows whose own timestamp lies in the window. Rows need not
 * be sorted by time (NAB's real series step back or repeat a timestamp, and NAB scores them in file
 * order), so a window's rows need not be contiguous.
 */
function windowRows(timestamps: number[], windows: Array<[number, number]>): Int32Array[] {
  const n = timestamps.length;
  let sorted = true;
  for (let i = 1; i < n && sorted; i++) sorted = timestamps[i] >= timestamps[i - 1];
  // Rows by time (ties in file order), so each window's rows are one range of this order.
  const byTime = Int32Array.from({ length: n }, (_, i) => i);
  if (!sorted) byTime.sort((x, y) => timestamps[x] - timestamps[y] || x - y);
  // First position in `byTime` whose time is >= t, or > t with `past`.
  const bound = (t: number, past: boolean): number => {
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const v = timestamps[byTime[mid]];
      if (v < t || (past && v === t)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  return windows.map(([start, end]) => {
    const from = bound(start, false);
    const rows = byTime.slice(from, Math.max(from, bound(end, true)));
    return sorted ? rows : rows.sort();
  });
}

export function scoreSeries(
  timestamps: number[],
  detections: boolean[],
  windows: Array<[number, number]>,
  profile: NabProfile,
): SeriesScore {
  const n = timestamps.length;
  if (detections.length !== n) {
    throw internalError(`detections (${detections.length}) and timestamps (${n}) differ in length`);
  }
  const probation = probationRows(n);
  const spans = windowRows(timestamps, windows);

  let raw = 0;
  let tp = 0;
  let fp = 0;
  let fn = 0;

  // True positives / false negatives, window by window.
  const inWindow = new Uint8Array(n);
  for (const rows of spans) {
    const width = rows.length;
    let hit = -1;
    for (let k = 0; k < width; k++) {
      const i = rows[k];
      inWindow[i] = 1;
      if (hit < 0 && i >= probation && detections[i]) hit = k;
    }
    if (hit < 0) {
      fn++;
      raw -= profile.fn;
    } else {
      tp++;
      raw += (profile.tp * sigma((hit - width) / width)) / SIGMA_LEFT_EDGE;
    }
  }

  // False positives: scored detections outside every window, weighed by the latest window that ended
  // (in file order) before them; of windows ending on the same row, the one starting last.
  const ends = spans
    .filter((rows) => rows.length > 0)
    .map((rows) => ({ first: rows[0], last: rows[rows.length - 1], width: rows.length }))
    .sort((x, y) => x.last - y.last || x.first - y.first);
  let k = 0;
  let prev: { last: number; width: number } | undefined;
  for (let i = 0; i < n; i++) {
    while (k < ends.length && ends[k].last < i) prev = ends[k++];
    if (i < probation || !detections[i] || inWindow[i] === 1) continue;
    fp++;
    if (prev === undefined) {
      raw -= profile.fp;
    } else {
      const y = prev.width > 1 ? (i - prev.last) / (prev.width - 1) : Infinity;
      raw += profile.fp * sigma(y);
    }
  }

  return { raw, tp, fp, fn };
}

export function normalise(raw: number, nullRaw: number, perfectRaw: number): number {
  return (100 * (raw - nullRaw)) / (perfectRaw - nullRaw);
}

/** The detector that never fires. */
export function nullDetections(s: Pick<NabSeries, 'timestamps'>): boolean[] {
  return new Array<boolean>(s.timestamps.length).fill(false);
}

/** The best possible detector: one detection at each window's first scored row, nothing else. */
export function perfectDetections(s: Pick<NabSeries, 'timestamps' | 'windows'>): boolean[] {
  const det = nullDetections(s);
  const probation = probationRows(s.timestamps.length);
  for (const rows of windowRows(s.timestamps, s.windows)) {
    const i = rows.find((r) => r >= probation);
    if (i !== undefined) det[i] = true;
  }
  return det;
}

export function scoreCorpus(series: NabSeries[], profile: NabProfile): CorpusScore {
  let raw = 0;
  let nullRaw = 0;
  let perfect = 0;
  for (const s of series) {
    raw += scoreSeries(s.timestamps, s.detections, s.windows, profile).raw;
    nullRaw += scoreSeries(s.timestamps, nullDetections(s), s.windows, profile).raw;
    perfect += scoreSeries(s.timestamps, perfectDetections(s), s.windows, profile).raw;
  }
  return { score: normalise(raw, nullRaw, perfect), raw, null: nullRaw, perfect };
}

const NAB_TIME = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?$/;

/** Parses a NAB timestamp ('YYYY-MM-DD HH:MM:SS', optionally with fractional seconds), as UTC, to ms. */
export function parseNabTimestamp(text: string): number {
  const m = NAB_TIME.exec(text.trim());
  if (!m) throw new VigieError('VIGIE_ERR_INPUT', `bad NAB timestamp: ${JSON.stringify(text)}`);
  const ms = m[7] ? Math.round(Number(`0.${m[7]}`) * 1000) : 0;
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], ms);
}

export function parseNabCsv(text: string): { timestamps: number[]; values: number[] } {
  const timestamps: number[] = [];
  const values: number[] = [];
  const lines = text.split(/\r?\n/);
  for (let li = 0; li < lines.length; li++) {
    const line = lines[li].trim();
    if (line === '') continue;
    const comma = line.indexOf(',');
    if (comma < 0) throw new VigieError('VIGIE_ERR_INPUT', `line ${li + 1}: expected 'timestamp,value'`);
    const ts = line.slice(0, comma).trim();
    const v = line.slice(comma + 1).trim();
    if (li === 0 && ts.toLowerCase() === 'timestamp') continue; // header
    const value = Number(v);
    if (v === '' || Number.isNaN(value)) throw new VigieError('VIGIE_ERR_INPUT', `line ${li + 1}: bad value ${JSON.stringify(v)}`);
    timestamps.push(parseNabTimestamp(ts));
    values.push(value);
  }
  return { timestamps, values };
}

export function loadNabLabels(json: string): Record<string, Array<[number, number]>> {
  const parsed: unknown = JSON.parse(json);
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new VigieError('VIGIE_ERR_INPUT', 'NAB labels: expected an object of series -> windows');
  }
  const out: Record<string, Array<[number, number]>> = {};
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (!Array.isArray(value)) throw new VigieError('VIGIE_ERR_INPUT', `NAB labels: ${key}: expected an array of windows`);
    out[key] = value.map((w, j) => {
      if (!Array.isArray(w) || w.length !== 2 || typeof w[0] !== 'string' || typeof w[1] !== 'string') {
        throw new VigieError('VIGIE_ERR_INPUT', `NAB labels: ${key}[${j}]: expected [start, end] timestamps`);
      }
      return [parseNabTimestamp(w[0]), parseNabTimestamp(w[1])] as [number, number];
    });
  }
  return out;
}
