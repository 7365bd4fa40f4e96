import { fileURLToPath } from 'node:url';
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  PROFILES,
  type NabProfile,
  type NabSeries,
  loadNabLabels,
  normalise,
  parseNabCsv,
  parseNabTimestamp,
  perfectDetections,
  probationRows,
  scoreCorpus,
  scoreSeries,
  sigma,
} from '../../src/eval/nab-score.js';

const STD = PROFILES.standard;
// The development data ships beside the repository (../shared); VIGIE_NAB_DATA points elsewhere.
const NAB = process.env.VIGIE_NAB_DATA ?? fileURLToPath(new URL('../../../shared/data/nab', import.meta.url));

/** Series of n rows whose timestamps equal their row index, so windows can be written in rows. */
const rows = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const detect = (n: number, at: number[]): boolean[] => {
  const d = new Array<boolean>(n).fill(false);
  for (const i of at) d[i] = true;
  return d;
};
/** Independent form of the scaled sigmoid: 2 / (1 + e^{5y}) - 1 = -tanh(5y / 2). */
const sig = (y: number): number => -Math.tanh(2.5 * y);

describe('scaled sigmoid', () => {
  it('matches 2/(1+exp(5y))-1', () => {
    expect(sigma(0)).toBe(0);
    expect(sigma(-1)).toBeCloseTo(0.986614, 6); // tanh(2.5)
    expect(sigma(1)).toBeCloseTo(-0.986614, 6);
    for (const y of [-2, -0.8, -0.3, 0.1, 0.5, 3]) expect(sigma(y)).toBeCloseTo(sig(y), 12);
  });
});

describe('scoreSeries: rules (N = 100, probation = 15 rows, window rows 50..59, L = 10)', () => {
  const N = 100;
  const ts = rows(N);
  const win: Array<[number, number]> = [[50, 59]];

  it('probation is min(floor(0.15 N), 750)', () => {
    expect(probationRows(100)).toBe(15);
    expect(probationRows(99)).toBe(14);
    expect(probationRows(4032)).toBe(604);
    expect(probationRows(10320)).toBe(750);
  });

  it('detections in the probationary period are ignored', () => {
    const r = scoreSeries(ts, detect(N, [0, 5, 14]), win, STD);
    expect(r).toEqual({ raw: -1, tp: 0, fp: 0, fn: 1 });
    // row 15 is the first scored row: a detection there is a FP before any window
    const r2 = scoreSeries(ts, detect(N, [15]), win, STD);
    expect(r2.fp).toBe(1);
    expect(r2.raw).toBeCloseTo(-0.11 - 1, 12);
  });

  it('the left edge is worth exactly A_TP', () => {
    expect(scoreSeries(ts, detect(N, [50]), win, STD)).toEqual({ raw: 1, tp: 1, fp: 0, fn: 0 });
    const lowFn = scoreSeries(ts, detect(N, [50]), win, PROFILES.reward_low_FN);
    expect(lowFn.raw).toBe(1);
  });

  it('only the earliest detection in a window counts; later ones are neither TP nor FP', () => {
    // row 52: y = (52 - 59 - 1) / 10 = -0.8 -> tanh(2) / tanh(2.5) = 0.964028 / 0.986614 = 0.977107
    const r = scoreSeries(ts, detect(N, [52, 55, 59]), win, STD);
    expect(r.tp).toBe(1);
    expect(r.fp).toBe(0);
    expect(r.fn).toBe(0);
    expect(r.raw).toBeCloseTo(0.977107, 5);
    expect(r.raw).toBeCloseTo(Math.tanh(2) / Math.tanh(2.5), 12);
    // later in the window is worth less
    const later = scoreSeries(ts, detect(N, [55]), win, STD);
    expect(later.raw).toBeCloseTo(sig(-0.5) / sig(-1), 12); // y = (55 - 60) / 10
    expect(later.raw).toBeLessThan(r.raw);
  });

  it('the right side of a window is worth almost nothing', () => {
    const n = 1000; // probation 150
    const w: Array<[number, number]> = [[300, 399]]; // L = 100
    const r = scoreSeries(rows(n), detect(n, [399]), w, STD);
    // y = (399 - 400) / 100 = -0.01 -> tanh(0.025) / tanh(2.5) = 0.024995 / 0.986614 = 0.025334
    expect(r.tp).toBe(1);
    expect(r.raw).toBeCloseTo(0.025334, 5);
    expect(r.raw).toBeGreaterThan(0);
  });

  it('a missed window costs -A_FN', () => {
    expect(scoreSeries(ts, detect(N, []), win, STD)).toEqual({ raw: -1, tp: 0, fp: 0, fn: 1 });
    expect(scoreSeries(ts, detect(N, []), win, PROFILES.reward_low_FN).raw).toBe(-2);
    // a window covering no row is missed too
    expect(scoreSeries(ts, detect(N, []), [[200, 300]], STD)).toEqual({ raw: -1, tp: 0, fp: 0, fn: 1 });
  });

  it('a FP before any window costs -A_FP', () => {
    const r = scoreSeries(ts, detect(N, [20, 50]), win, STD);
    expect(r.tp).toBe(1);
    expect(r.fp).toBe(1);
    expect(r.raw).toBeCloseTo(1 - 0.11, 12);
    expect(scoreSeries(ts, detect(N, [20]), [], STD)).toEqual({ raw: -0.11, tp: 0, fp: 1, fn: 0 });
  });

  it('a FP right after a window costs little, far after it almost A_FP', () => {
    // row 60: distance 1 past the last window row (59), width 10 -> y = 1 / 9
    const near = scoreSeries(ts, detect(N, [50, 60]), win, STD);
    expect(near.fp).toBe(1);
    const nearCost = near.raw - 1;
    expect(nearCost).toBeCloseTo(-0.11 * Math.tanh(2.5 / 9), 12); // -0.11 * 0.270888 = -0.029798
    expect(nearCost).toBeCloseTo(-0.029798, 5);
    // row 99: y = 40 / 9 -> sigma ~ -0.99999..., cost ~ -0.11
    const far = scoreSeries(ts, detect(N, [50, 99]), win, STD);
    expect(far.raw - 1).toBeCloseTo(-0.11, 6);
    expect(far.raw - 1).toBeGreaterThan(-0.11);
    // the FP is measured from the previous window, not the next one
    const two: Array<[number, number]> = [
      [30, 39],
      [70, 79],
    ];
    const between = scoreSeries(ts, detect(N, [30, 41, 70]), two, STD);
    expect(between.raw).toBeCloseTo(2 - 0.11 * Math.tanh((2.5 * 2) / 9), 12);
  });

  it('a one-row previous window gives a FP the full -A_FP', () => {
    const r = scoreSeries(ts, detect(N, [50, 51]), [[50, 50]], STD);
    expect(r.raw).toBeCloseTo(1 - 0.11, 12);
  });

  it('windows follow timestamps, inclusive on both ends', () => {
    const t = rows(100).map((i) => i * 60_000); // one row a minute
    const w: Array<[number, number]> = [[50 * 60_000 - 1, 59 * 60_000]]; // covers rows 50..59
    expect(scoreSeries(t, detect(100, [50]), w, STD).raw).toBe(1);
    expect(scoreSeries(t, detect(100, [49]), w, STD).fp).toBe(1);
    expect(scoreSeries(t, detect(100, [60]), w, STD).fp).toBe(1);
    expect(scoreSeries(t, detect(100, [59]), w, STD).tp).toBe(1);
  });

  it('rejects mismatched lengths', () => {
    expect(() => scoreSeries(ts, detect(10, []), win, STD)).toThrow();
  });
});

describe('profiles', () => {
  it('have the published weights', () => {
    expect(PROFILES.standard).toMatchObject({ tp: 1, fn: 1, fp: 0.11 });
    expect(PROFILES.reward_low_FP).toMatchObject({ tp: 1, fn: 1, fp: 0.22 });
    expect(PROFILES.reward_low_FN).toMatchObject({ tp: 1, fn: 2, fp: 0.11 });
  });

  it('weigh TP, FP and FN as A_TP - A_FP - A_FN on one hit, one early FP, one miss', () => {
    const N = 100;
    const w: Array<[number, number]> = [
      [40, 49],
      [70, 79],
    ];
    const d = detect(N, [20, 40]);
    const expected: Array<[NabProfile, number]> = [
      [PROFILES.standard, 1 - 0.11 - 1],
      [PROFILES.reward_low_FP, 1 - 0.22 - 1],
      [PROFILES.reward_low_FN, 1 - 0.11 - 2],
    ];
    for (const [p, raw] of expected) {
      const r = scoreSeries(rows(N), d, w, p);
      expect(r.raw).toBeCloseTo(raw, 12);
      expect([r.tp, r.fp, r.fn]).toEqual([1, 1, 1]);
    }
  });
});

describe('normalisation', () => {
  it('is 100 (raw - null) / (perfect - null)', () => {
    expect(normalise(-3, -3, 3)).toBe(0);
    expect(normalise(3, -3, 3)).toBe(100);
    expect(normalise(0, -3, 3)).toBe(50);
  });

  it('scoreCorpus on a hand case', () => {
    const N = 100;
    const s: NabSeries = {
      timestamps: rows(N),
      detections: detect(N, [40]),
      windows: [
        [40, 49],
        [70, 79],
      ],
    };
    const r = scoreCorpus([s], STD);
    expect(r).toEqual({ score: 50, raw: 0, null: -2, perfect: 2 });
    const lowFn = scoreCorpus([s], PROFILES.reward_low_FN);
    // (-1 - -4) / (2 - -4) = 3 / 6
    expect(lowFn).toEqual({ score: 50, raw: -1, null: -4, perfect: 2 });
  });

  it('a window starting inside probation: perfect fires at the first scored row', () => {
    const N = 100; // probation 15
    const s = { timestamps: rows(N), windows: [[10, 19]] as Array<[number, number]> };
    const p = perfectDetections(s);
    expect(p.findIndex(Boolean)).toBe(15);
    const r = scoreCorpus([{ ...s, detections: p }], STD);
    expect(r.perfect).toBeCloseTo(sig(-0.5) / sig(-1), 12);
    expect(r.score).toBeCloseTo(100, 12);
  });
});

describe('parsing', () => {
  it('parseNabCsv reads timestamp,value as UTC ms', () => {
    const r = parseNabCsv('timestamp,value\r\n2014-07-01 00:00:00,10844\r\n2014-07-01 00:30:00,8127.5\n\n');
    expect(r.timestamps).toEqual([Date.UTC(2014, 6, 1, 0, 0, 0), Date.UTC(2014, 6, 1, 0, 30, 0)]);
    expect(r.values).toEqual([10844, 8127.5]);
    expect(() => parseNabCsv('timestamp,value\n2014-07-01,1\n')).toThrow();
    expect(() => parseNabCsv('timestamp,value\n2014-07-01 00:00:00,abc\n')).toThrow();
  });

  it('loadNabLabels reads windows (with fractional seconds) as ms', () => {
    const l = loadNabLabels(
      '{"a/x.csv": [["2014-04-10 07:15:00.000000", "2014-04-11 16:45:00.000000"]], "b/y.csv": []}',
    );
    expect(l).toEqual({
      'a/x.csv': [[Date.UTC(2014, 3, 10, 7, 15), Date.UTC(2014, 3, 11, 16, 45)]],
      'b/y.csv': [],
    });
    expect(parseNabTimestamp('2014-04-10 07:15:00.250000')).toBe(Date.UTC(2014, 3, 10, 7, 15, 0, 250));
    expect(() => loadNabLabels('[]')).toThrow();
  });
});

describe('shared NAB data', () => {
  const labels = loadNabLabels(readFileSync(join(NAB, 'labels/combined_windows.json'), 'utf8'));
  const load = (name: string) => ({ ...parseNabCsv(readFileSync(join(NAB, 'data', name), 'utf8')), windows: labels[name] });
  const picked = [
    'realKnownCause/nyc_taxi.csv',
    'realAdExchange/exchange-2_cpc_results.csv',
    'realTraffic/occupancy_6005.csv',
    'artificialWithAnomaly/art_daily_jumpsup.csv',
    'artificialNoAnomaly/art_flatline.csv',
  ];
  const series = picked.map(load);
  const nWindows = series.reduce((a, s) => a + s.windows.length, 0);

  it('labels cover the 36 series and 60 windows of the README', () => {
    expect(Object.keys(labels)).toHaveLength(36);
    expect(Object.values(labels).reduce((a, w) => a + w.length, 0)).toBe(60);
    expect(nWindows).toBeGreaterThanOrEqual(4);
  });

  it('never-firing scores 0 and perfect scores 100; null = -A_FN and perfect = A_TP per window', () => {
    for (const p of Object.values(PROFILES)) {
      const never = scoreCorpus(
        series.map((s) => ({ ...s, detections: new Array<boolean>(s.timestamps.length).fill(false) })),
        p,
      );
      expect(never.score).toBe(0);
      expect(never.null).toBeCloseTo(-p.fn * nWindows, 9);
      expect(never.perfect).toBeCloseTo(p.tp * nWindows, 9);
      const perfect = scoreCorpus(
        series.map((s) => ({ ...s, detections: perfectDetections(s) })),
        p,
      );
      expect(perfect.score).toBeCloseTo(100, 9);
      expect(perfect.raw).toBeCloseTo(p.tp * nWindows, 9);
    }
  });

  it('on all 36 shared series, every window starts after probation, so perfect = number of windows', () => {
    const all = Object.keys(labels).map(load);
    const r = scoreCorpus(
      all.map((s) => ({ ...s, detections: perfectDetections(s) })),
      STD,
    );
    expect(r.perfect).toBeCloseTo(60, 9);
    expect(r.null).toBeCloseTo(-60, 9);
    expect(r.score).toBeCloseTo(100, 9);
  });
});

describe('property: the normalised score never exceeds 100', () => {
  // A series: strictly increasing timestamps, non-overlapping windows (in timestamps), any detections.
  const seriesArb = fc
    .record({
      gaps: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 5, maxLength: 200 }),
      cuts: fc.uniqueArray(fc.integer({ min: 0, max: 1000 }), { maxLength: 8 }),
      bits: fc.array(fc.boolean(), { maxLength: 200 }),
    })
    .map(({ gaps, cuts, bits }): NabSeries => {
      const timestamps: number[] = [];
      let t = 0;
      for (const g of gaps) timestamps.push((t += g));
      const ends = [...cuts].sort((a, b) => a - b);
      const windows: Array<[number, number]> = [];
      for (let j = 0; j + 1 < ends.length; j += 2) windows.push([ends[j], ends[j + 1]]);
      const detections = timestamps.map((_, i) => bits[i % Math.max(bits.length, 1)] ?? false);
      return { timestamps, detections, windows };
    });

  it('holds for every profile', () => {
    fc.assert(
      fc.property(fc.array(seriesArb, { minLength: 1, maxLength: 4 }), fc.constantFrom(...Object.values(PROFILES)), (corpus, p) => {
        const r = scoreCorpus(corpus, p);
        fc.pre(r.perfect > r.null);
        expect(r.score).toBeLessThanOrEqual(100 + 1e-9);
        // and the raw score is bounded below by null minus A_FP per detection
        const dets = corpus.reduce((a, s) => a + s.detections.filter(Boolean).length, 0);
        expect(r.raw).toBeGreaterThanOrEqual(r.null - p.fp * dets - 1e-9);
      }),
      { numRuns: 500 },
    );
  });
});

describe('scoreSeries: rows out of time order are scored in file order, matched to windows by timestamp', () => {
  const N = 100; // probation = 15 rows
  // Rows 0..59 at times 0..59, then back ten: rows 60..99 at times 50..89 (rows 60..69 repeat 50..59).
  const back = rows(N).map((i) => (i < 60 ? i : i - 10));
  const win: Array<[number, number]> = [[50, 59]]; // rows 50..59 and 60..69: 20 rows

  it('a window holds every row whose time it covers, wherever the row is', () => {
    expect(scoreSeries(back, detect(N, [50]), win, STD)).toEqual({ raw: 1, tp: 1, fp: 0, fn: 0 });
    // Row 60 (time 50 again) is the window's 11th row of 20: y = (11 - 1 - 20) / 20.
    const r = scoreSeries(back, detect(N, [60]), win, STD);
    expect(r).toMatchObject({ tp: 1, fp: 0, fn: 0 });
    expect(r.raw).toBeCloseTo(sig(-0.5) / sig(-1), 12);
    // Only the earliest detection in file order counts.
    expect(scoreSeries(back, detect(N, [65, 52]), win, STD).raw).toBeCloseTo(sig(-0.9) / sig(-1), 12);
  });

  it('a FP is weighed by the window whose last row (in file order) precedes it', () => {
    // Row 75 (time 65): the window's last row is 69 and it has 20 rows.
    const r = scoreSeries(back, detect(N, [60, 75]), win, STD);
    expect(r).toMatchObject({ tp: 1, fp: 1, fn: 0 });
    expect(r.raw).toBeCloseTo(sig(-0.5) / sig(-1) + 0.11 * sig((75 - 69) / 19), 12);
  });

  it('a row that steps back out of a window while it runs is a FP', () => {
    // Rows 55..59 step back to times 40..44, then rows 60.. go on at 55..: the window's rows are 50..54 and 60..64.
    const t = rows(N).map((i) => (i < 55 ? i : i < 60 ? i - 15 : i - 5));
    const r = scoreSeries(t, detect(N, [57, 61]), win, STD);
    expect(r).toMatchObject({ tp: 1, fp: 1, fn: 0 });
    // Row 61 is the window's 7th row of 10; row 57 has no window before it.
    expect(r.raw).toBeCloseTo(sig(-0.4) / sig(-1) - 0.11, 12);
  });

  it('repeated timestamps are rows of their own', () => {
    const t = rows(N).map((i) => Math.floor(i / 2)); // every time twice: window [25, 29] is rows 50..59
    expect(scoreSeries(t, detect(N, [51]), [[25, 29]], STD).raw).toBeCloseTo(sig(-0.9) / sig(-1), 12);
  });

  it("perfect fires at each window's first scored row in file order, and scores 100", () => {
    const s: NabSeries = { timestamps: back, detections: detect(N, []), windows: win };
    expect(perfectDetections(s).flatMap((d, i) => (d ? [i] : []))).toEqual([50]);
    for (const p of Object.values(PROFILES)) expect(scoreCorpus([{ ...s, detections: perfectDetections(s) }], p).score).toBeCloseTo(100, 12);
  });

  it('the normalised score never exceeds 100 on shuffled series either', () => {
    const shuffled = fc
      .record({
        times: fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 5, maxLength: 200 }),
        cuts: fc.uniqueArray(fc.integer({ min: 0, max: 300 }), { maxLength: 8 }),
        bits: fc.array(fc.boolean(), { maxLength: 200 }),
      })
      .map(({ times, cuts, bits }): NabSeries => {
        const ends = [...cuts].sort((a, b) => a - b);
        const windows: Array<[number, number]> = [];
        for (let j = 0; j + 1 < ends.length; j += 2) windows.push([ends[j], ends[j + 1]]);
        return { timestamps: times, detections: times.map((_, i) => bits[i % Math.max(bits.length, 1)] ?? false), windows };
      });
    fc.assert(
      fc.property(fc.array(shuffled, { minLength: 1, maxLength: 4 }), fc.constantFrom(...Object.values(PROFILES)), (corpus, p) => {
        const r = scoreCorpus(corpus, p);
        fc.pre(r.perfect > r.null);
        expect(r.score).toBeLessThanOrEqual(100 + 1e-9);
      }),
    );
  });
});
