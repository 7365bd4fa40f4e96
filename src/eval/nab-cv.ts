/**
 * Cross-validation on a NAB-style corpus: how well a detector's settings hold on series they were not
 * chosen on. Pure functions, no I/O.
 *
 * Folds are made by series, within each category: the series of a category (sorted by name, or shuffled
 * with a seed for a repeat) are dealt to the k folds in turn, each category starting where the previous
 * one stopped, so that every fold holds about the same share of every category. For each fold, the
 * candidate settings with the best standard score on the *other* folds are chosen (ties: the earlier
 * candidate, so list the default first), and that choice is scored on the held-out fold. The figures
 * reported are the held-out scores only: their mean over the folds and the worst fold.
 */
import { PROFILES, scoreCorpus, type NabSeries } from './nab-score.js';
import { VigieError } from '../errors.js';
import { mulberry32 } from '../util/mulberry32.js';

export type ProfileName = keyof typeof PROFILES;
export const PROFILE_NAMES = Object.keys(PROFILES) as ProfileName[];

/** A series of the corpus with its windows; `category` is the folder it came from. */
export interface CorpusSeries {
  id: string;
  category: string;
  timestamps: number[];
  windows: Array<[number, number]>;
}

/** The detections one candidate made on every series, in corpus order. */
export interface CandidateRun {
  name: string;
  detections: boolean[][];
}

export interface FoldResult {
  fold: number;
  /** Series (ids) held out. */
  series: string[];
  windows: number;
  chosen: string;
  /** Standard score of the chosen candidate on the training folds. */
  train: number;
  /** Held-out scores of the chosen candidate. */
  test: Record<ProfileName, number>;
}

export interface CvReport {
  folds: number;
  repeats: number;
  results: FoldResult[];
  mean: Record<ProfileName, number>;
  worst: Record<ProfileName, number>;
  /** How often each candidate was chosen. */
  chosen: Record<string, number>;
}

/**
 * Fold of each series (same order as `series`). Repeat 0 deals the series of each category in name order;
 * repeat r > 0 shuffles them with seed r first.
 */
export function assignFolds(series: ReadonlyArray<Pick<CorpusSeries, 'id' | 'category'>>, k: number, repeat = 0): number[] {
  if (!Number.isInteger(k) || k < 2) throw new VigieError('VIGIE_ERR_CONFIG', `folds must be an integer >= 2 (got ${k})`);
  const byCategory = new Map<string, number[]>();
  series.forEach((s, i) => {
    const list = byCategory.get(s.category) ?? [];
    list.push(i);
    byCategory.set(s.category, list);
  });
  const fold = new Array<number>(series.length).fill(0);
  const rand = mulberry32(0x5eed + repeat * 7919);
  let next = 0;
  for (const category of [...byCategory.keys()].sort()) {
    const members = byCategory.get(category)!.sort((a, b) => (series[a].id < series[b].id ? -1 : series[a].id > series[b].id ? 1 : 0));
    if (repeat > 0) {
      for (let i = members.length - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [members[i], members[j]] = [members[j], members[i]];
      }
    }
    for (const m of members) {
      fold[m] = next;
      next = (next + 1) % k;
    }
  }
  return fold;
}

function subsetScore(series: readonly CorpusSeries[], detections: boolean[][], keep: (i: number) => boolean, profile: ProfileName): number {
  const part: NabSeries[] = [];
  series.forEach((s, i) => {
    if (keep(i)) part.push({ timestamps: s.timestamps, detections: detections[i], windows: s.windows });
  });
  return scoreCorpus(part, PROFILES[profile]).score;
}

/** Cross-validates the candidates over `repeats` fold assignments of `k` folds each. */
export function crossValidate(series: readonly CorpusSeries[], candidates: readonly CandidateRun[], k: number, repeats = 1): CvReport {
  if (candidates.length === 0) throw new VigieError('VIGIE_ERR_CONFIG', 'cross-validation needs at least one candidate');
  for (const c of candidates) {
    if (c.detections.length !== series.length) throw new VigieError('VIGIE_ERR_CONFIG', `candidate ${c.name}: ${c.detections.length} series of detections for ${series.length} series`);
  }
  const results: FoldResult[] = [];
  const chosen: Record<string, number> = {};
  for (let r = 0; r < repeats; r++) {
    const fold = assignFolds(series, k, r);
    for (let f = 0; f < k; f++) {
      let best = candidates[0];
      let bestTrain = -Infinity;
      for (const c of candidates) {
        const train = subsetScore(series, c.detections, (i) => fold[i] !== f, 'standard');
        if (train > bestTrain) {
          bestTrain = train;
          best = c;
        }
      }
      const held = (i: number) => fold[i] === f;
      const test = Object.fromEntries(PROFILE_NAMES.map((p) => [p, subsetScore(series, best.detections, held, p)])) as Record<ProfileName, number>;
      chosen[best.name] = (chosen[best.name] ?? 0) + 1;
      const ids = series.filter((_, i) => held(i));
      results.push({ fold: r * k + f, series: ids.map((s) => s.id), windows: ids.reduce((n, s) => n + s.windows.length, 0), chosen: best.name, train: bestTrain, test });
    }
  }
  const mean = Object.fromEntries(PROFILE_NAMES.map((p) => [p, results.reduce((a, x) => a + x.test[p], 0) / results.length])) as Record<ProfileName, number>;
  const worst = Object.fromEntries(PROFILE_NAMES.map((p) => [p, Math.min(...results.map((x) => x.test[p]))])) as Record<ProfileName, number>;
  return { folds: k, repeats, results, mean, worst, chosen };
}

/** The report as a readable table: one row per held-out fold, then the mean and the worst fold. */
export function formatCvReport(r: CvReport): string {
  const f2 = (x: number) => x.toFixed(2);
  const header = ['fold', 'series', 'windows', 'chosen', 'train', 'standard', 'low_FP', 'low_FN'];
  const rows = r.results.map((x) => [String(x.fold), String(x.series.length), String(x.windows), x.chosen, f2(x.train), f2(x.test.standard), f2(x.test.reward_low_FP), f2(x.test.reward_low_FN)]);
  rows.push(['mean', '', '', '', '', f2(r.mean.standard), f2(r.mean.reward_low_FP), f2(r.mean.reward_low_FN)]);
  rows.push(['worst', '', '', '', '', f2(r.worst.standard), f2(r.worst.reward_low_FP), f2(r.worst.reward_low_FN)]);
  const width = header.map((h, j) => Math.max(h.length, ...rows.map((row) => row[j].length)));
  const line = (cells: string[]) => `| ${cells.map((c, j) => (j === 0 || j === 3 ? c.padEnd(width[j]) : c.padStart(width[j]))).join(' | ')} |`;
  const lines = [
    `Cross-validated NAB scores: ${r.folds} folds by series within category, ${r.repeats} assignment(s); settings chosen on the other folds (standard profile), scored on the held-out one`,
    line(header),
    `|${width.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.map(line),
    '',
    `chosen: ${Object.entries(r.chosen).map(([k, v]) => `${k} ×${v}`).join(', ')}`,
  ];
  return `${lines.join('\n')}\n`;
}
