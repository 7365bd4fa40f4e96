import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { aucRoc, averagePrecision, cardPrecisionAtK, DAY_MS, rankingReport, type CardScore } from '../../src/eval/ranking.js';

/** Every (fraud, genuine) pair: 1 when the fraud scores higher, 1/2 when tied. */
function naiveAuc(scores: number[], labels: boolean[]): number {
  let sum = 0;
  let pairs = 0;
  for (let i = 0; i < scores.length; i++) {
    if (!labels[i]) continue;
    for (let j = 0; j < scores.length; j++) {
      if (labels[j]) continue;
      pairs++;
      sum += scores[i] > scores[j] ? 1 : scores[i] === scores[j] ? 0.5 : 0;
    }
  }
  return pairs === 0 ? Number.NaN : sum / pairs;
}

/** Mean, over the frauds, of the precision of flagging everything scoring at least as high as it. */
function naiveAp(scores: number[], labels: boolean[]): number {
  const frauds = scores.filter((_, i) => labels[i]);
  if (frauds.length === 0) return Number.NaN;
  let sum = 0;
  for (const s of frauds) {
    const flagged = scores.map((x, i) => ({ x, y: labels[i] })).filter((t) => t.x >= s);
    sum += flagged.filter((t) => t.y).length / flagged.length;
  }
  return sum / frauds.length;
}

/** Card precision at k, written out day by day without shared helpers. */
function naiveCp(days: CardScore[][], k: number): number[] {
  const known: string[] = [];
  return days.map((day) => {
    const customers = [...new Set(day.map((t) => t.customer))].filter((c) => !known.includes(c));
    const cards = customers.map((c) => {
      const own = day.filter((t) => t.customer === c);
      return { c, score: Math.max(...own.map((t) => t.score)), fraud: own.some((t) => t.fraud) };
    });
    cards.sort((a, b) => b.score - a.score || (a.c < b.c ? -1 : a.c > b.c ? 1 : 0));
    const top = cards.slice(0, k).filter((x) => x.fraud);
    known.push(...top.map((x) => x.c));
    return top.length / k;
  });
}

const scored = fc
  .array(fc.record({ s: fc.integer({ min: 0, max: 6 }), y: fc.boolean() }), { minLength: 1, maxLength: 60 })
  .map((xs) => ({ scores: xs.map((x) => x.s / 2), labels: xs.map((x) => x.y) }));

const same = (a: number, b: number) => (Number.isNaN(a) ? Number.isNaN(b) : Math.abs(a - b) < 1e-12);

describe('aucRoc and averagePrecision', () => {
  it('match the textbook example (scikit-learn: 0.75 and 0.8333)', () => {
    const scores = [0.1, 0.4, 0.35, 0.8];
    const labels = [false, false, true, true];
    expect(aucRoc(scores, labels)).toBeCloseTo(0.75, 12);
    expect(averagePrecision(scores, labels)).toBeCloseTo(0.8333333333, 9);
  });

  it('agree with the pairwise and per-fraud definitions, ties included', () => {
    fc.assert(
      fc.property(scored, ({ scores, labels }) => {
        expect(same(aucRoc(scores, labels), naiveAuc(scores, labels))).toBe(true);
        expect(same(averagePrecision(scores, labels), naiveAp(scores, labels))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('all tied: AUC 1/2 and AP the fraud share; perfect ranking: 1 and 1; reversed: AUC 0', () => {
    const labels = [true, false, false, true, false];
    expect(aucRoc([1, 1, 1, 1, 1], labels)).toBe(0.5);
    expect(averagePrecision([1, 1, 1, 1, 1], labels)).toBeCloseTo(0.4, 12);
    const perfect = labels.map((y) => (y ? 2 : 1));
    expect(aucRoc(perfect, labels)).toBe(1);
    expect(averagePrecision(perfect, labels)).toBe(1);
    expect(aucRoc(perfect.map((x) => -x), labels)).toBe(0);
  });

  it('are NaN without frauds (and AUC without genuine transactions); refuse NaN scores and unequal lengths', () => {
    expect(aucRoc([1, 2], [false, false])).toBeNaN();
    expect(aucRoc([1, 2], [true, true])).toBeNaN();
    expect(averagePrecision([1, 2], [false, false])).toBeNaN();
    expect(averagePrecision([1, 2], [true, true])).toBe(1);
    expect(() => aucRoc([1, Number.NaN], [true, false])).toThrow(RangeError);
    expect(() => averagePrecision([1], [true, false])).toThrow(RangeError);
  });

  it('rank -Infinity (not scored) last', () => {
    expect(aucRoc([Number.NEGATIVE_INFINITY, 0], [false, true])).toBe(1);
  });
});

describe('cardPrecisionAtK', () => {
  it('ranks cards by their highest score of the day and removes the cards found on earlier days', () => {
    const day1: CardScore[] = [
      { customer: 'a', score: 0.9, fraud: true },
      { customer: 'a', score: 0.1, fraud: false },
      { customer: 'b', score: 0.2, fraud: false },
      { customer: 'b', score: 0.8, fraud: false },
      { customer: 'c', score: 0.5, fraud: true },
    ];
    // Day 2: a (found on day 1) would rank first; it is left out, so c and b are the top 2.
    const day2: CardScore[] = [
      { customer: 'a', score: 1, fraud: true },
      { customer: 'b', score: 0.3, fraud: false },
      { customer: 'c', score: 0.4, fraud: true },
      { customer: 'd', score: 0.1, fraud: true },
    ];
    const r = cardPrecisionAtK([day1, day2], 2);
    // Day 1: top 2 = a (0.9, fraud), b (0.8): 1/2. Day 2: c (fraud, not found on day 1), b: 1/2.
    expect(r.perDay).toEqual([0.5, 0.5]);
    expect(r.mean).toBe(0.5);
    // With k = 3, c is found on day 1 already: day 2 ranks only b and d.
    expect(cardPrecisionAtK([day1, day2], 3).perDay).toEqual([2 / 3, 1 / 3]);
  });

  it('divides by k even when fewer cards are active; a day without transactions counts 0', () => {
    const r = cardPrecisionAtK([[{ customer: 'a', score: 1, fraud: true }], []], 100);
    expect(r.perDay).toEqual([0.01, 0]);
    expect(r.mean).toBeCloseTo(0.005, 12);
    expect(cardPrecisionAtK([], 5).mean).toBeNaN();
    expect(() => cardPrecisionAtK([], 0)).toThrow(RangeError);
  });

  it('agrees with a day-by-day reference', () => {
    const tx = fc.record({ customer: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), score: fc.integer({ min: 0, max: 4 }), fraud: fc.boolean() });
    fc.assert(
      fc.property(fc.array(fc.array(tx, { maxLength: 15 }), { maxLength: 5 }), fc.integer({ min: 1, max: 4 }), (days, k) => {
        expect(cardPrecisionAtK(days, k).perDay).toEqual(naiveCp(days, k));
      }),
      { numRuns: 300 },
    );
  });
});

describe('rankingReport', () => {
  it('keeps the test period only, cut into days from its start', () => {
    const start = Date.UTC(2026, 0, 10);
    const txs = [
      { customer: 'x', time: start - 1, score: 9, fraud: true },
      { customer: 'a', time: start, score: 0.9, fraud: true },
      { customer: 'b', time: start + 1000, score: 0.1, fraud: false },
      { customer: 'a', time: start + DAY_MS, score: 0.9, fraud: true },
      { customer: 'b', time: start + DAY_MS + 5, score: 0.5, fraud: false },
      { customer: 'y', time: start + 2 * DAY_MS, score: 9, fraud: true },
    ];
    const r = rankingReport(txs, { start, days: 2 }, 1);
    expect(r.transactions).toBe(4);
    expect(r.frauds).toBe(2);
    // Day 2: a was found on day 1, so b is the only card left.
    expect(r.cpAtK).toEqual({ k: 1, perDay: [1, 0], mean: 0.5 });
    expect(r.auc).toBe(1);
    expect(r.ap).toBe(1);
    expect(r.days).toBe(2);
  });
});
