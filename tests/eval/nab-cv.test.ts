import { describe, expect, it } from 'vitest';
import { assignFolds, crossValidate, formatCvReport, type CorpusSeries } from '../../src/eval/nab-cv.js';
import { runSeries } from '../../src/eval/nab-corpus.js';

const STEP = 300_000;

/** A series of n rows with one window of 20 rows centred on row `at`. */
function series(id: string, n = 400, at = 300): CorpusSeries {
  const timestamps = Array.from({ length: n }, (_, i) => i * STEP);
  return { id, category: id.slice(0, id.indexOf('/')), timestamps, windows: [[timestamps[at - 10], timestamps[at + 9]]] };
}

/** Detections firing once at `row` (by default the window's first row) on the series whose index passes `fire`. */
function detect(corpus: CorpusSeries[], fire: (i: number) => boolean, row = 290): boolean[][] {
  return corpus.map((s, i) => s.timestamps.map((_, r) => fire(i) && r === row));
}

describe('NAB cross-validation', () => {
  it('deals the series of each category over the folds in turn, so that every fold gets its share', () => {
    const ids = [...['a/1', 'a/2', 'a/3', 'a/4', 'a/5'], ...['b/1', 'b/2', 'b/3', 'b/4'], ...['c/1', 'c/2']];
    const corpus = ids.map((id) => series(id));
    const fold = assignFolds(corpus, 3);
    for (const cat of ['a', 'b', 'c']) {
      const counts = [0, 1, 2].map((f) => corpus.filter((s, i) => s.category === cat && fold[i] === f).length);
      expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    }
    const sizes = [0, 1, 2].map((f) => fold.filter((x) => x === f).length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    expect(assignFolds(corpus, 3)).toEqual(fold);
    // A repeat shuffles within categories: other folds, same balance.
    const again = assignFolds(corpus, 3, 1);
    expect(again).not.toEqual(fold);
    const sizes1 = [0, 1, 2].map((f) => again.filter((x) => x === f).length);
    expect(Math.max(...sizes1) - Math.min(...sizes1)).toBeLessThanOrEqual(1);
    expect(() => assignFolds(corpus, 1)).toThrow(/folds must be an integer >= 2/);
  });

  it('chooses on the training folds only and reports the held-out score of that choice', () => {
    const corpus = ['x/1', 'x/2', 'x/3', 'x/4', 'x/5', 'x/6'].map((id) => series(id));
    const fold = assignFolds(corpus, 3);
    // Folds by the deal: series 0 and 3 in fold 0, 1 and 4 in fold 1, 2 and 5 in fold 2.
    expect(fold).toEqual([0, 1, 2, 0, 1, 2]);
    // "lucky" finds every window outside fold 0 and none in it; "steady" finds one window in each fold.
    const lucky = { name: 'lucky', detections: detect(corpus, (i) => fold[i] !== 0) };
    const steady = { name: 'steady', detections: detect(corpus, (i) => i % 2 === 0) };
    const r = crossValidate(corpus, [lucky, steady], 3);
    const byFold = (f: number) => r.results.find((x) => x.fold === f)!;
    // Holding out fold 0, "lucky" is perfect on the training folds: chosen, it finds nothing held out.
    expect(byFold(0).chosen).toBe('lucky');
    expect(byFold(0).train).toBeCloseTo(100, 6);
    expect(byFold(0).test.standard).toBeCloseTo(0, 6);
    // Holding out fold 1 or 2, both find half of the training windows: the tie goes to the first listed.
    for (const f of [1, 2]) {
      expect(byFold(f).train).toBeCloseTo(50, 6);
      expect(byFold(f).chosen).toBe('lucky');
      expect(byFold(f).test.standard).toBeCloseTo(100, 6);
    }
    expect(r.worst.standard).toBeCloseTo(0, 6);
    expect(r.mean.standard).toBeCloseTo(200 / 3, 6);
    expect(r.chosen).toEqual({ lucky: 3 });
    // Listed first, "steady" wins the ties and scores 50 on every held-out fold.
    const r2 = crossValidate(corpus, [steady, lucky], 3);
    expect(r2.results.map((x) => x.chosen)).toEqual(['lucky', 'steady', 'steady']);
    expect(r2.results.map((x) => Math.round(x.test.standard))).toEqual([0, 50, 50]);
    expect(formatCvReport(r)).toMatch(/^\| worst +\| +\| +\| +\| +\| +0\.00 \|/m);
  });

  it('feeds a core as the engine does: rows stepping back in time are late, not fed, and counted', () => {
    const seen: number[] = [];
    const detector = { update: (t: number, v: number) => (seen.push(v), { score: v / 10, alert: v === 3 }) };
    const run = runSeries({ timestamps: [0, 1, 1, 0, 2, 1, 3], values: [1, 2, 3, 4, 5, 6, 7] }, detector);
    expect(seen).toEqual([1, 2, 3, 5, 7]);
    expect(run.lateRows).toBe(2);
    expect(Array.from(run.scores)).toEqual([0.1, 0.2, 0.3, 0, 0.5, 0, 0.7]);
    expect(run.detections).toEqual([false, false, true, false, false, false, false]);
  });
});
