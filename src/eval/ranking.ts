/**
 * Ranking metrics of a fraud scorer, pure functions: card precision at k per day (the daily
 * investigation budget), and the area under the ROC curve and average precision at transaction level.
 */

export const DAY_MS = 86_400_000;

/** A transaction as the card metric sees it. */
export interface CardScore {
  customer: string;
  score: number;
  fraud: boolean;
}

export interface CardPrecision {
  /** Card precision at k of each test day, in day order. */
  perDay: number[];
  /** Their mean (NaN without days). */
  mean: number;
}

/**
 * Card precision at k: for each day, every card (customer) gets the highest score of its transactions
 * that day and is fraudulent when one of them is; the k cards with the highest scores are "investigated"
 * and the day's precision is the number of fraudulent cards among them divided by k (by k even when
 * fewer cards were active). Cards found fraudulent in a day's top k are known compromised from then on:
 * they are left out of the later days' rankings. Ties in score are broken by customer, in code-point
 * order, so that the result is deterministic.
 */
export function cardPrecisionAtK(days: readonly (readonly CardScore[])[], k: number): CardPrecision {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`k must be a positive integer, got ${k}`);
  const detected = new Set<string>();
  const perDay: number[] = [];
  for (const day of days) {
    const cards = new Map<string, { score: number; fraud: boolean }>();
    for (const t of day) {
      if (detected.has(t.customer)) continue;
      const c = cards.get(t.customer);
      if (c === undefined) cards.set(t.customer, { score: t.score, fraud: t.fraud });
      else {
        if (t.score > c.score) c.score = t.score;
        if (t.fraud) c.fraud = true;
      }
    }
    const ranked = [...cards].sort(([ca, a], [cb, b]) => (a.score === b.score ? (ca < cb ? -1 : ca > cb ? 1 : 0) : b.score > a.score ? 1 : -1));
    let hits = 0;
    for (let i = 0; i < Math.min(k, ranked.length); i++) {
      const [customer, c] = ranked[i];
      if (!c.fraud) continue;
      hits++;
      detected.add(customer);
    }
    perDay.push(hits / k);
  }
  const mean = perDay.length === 0 ? Number.NaN : perDay.reduce((a, b) => a + b, 0) / perDay.length;
  return { perDay, mean };
}

function checkLengths(scores: ArrayLike<number>, labels: ArrayLike<boolean>): void {
  if (scores.length !== labels.length) throw new RangeError(`scores (${scores.length}) and labels (${labels.length}) differ in length`);
  for (let i = 0; i < scores.length; i++) if (Number.isNaN(scores[i])) throw new RangeError(`score ${i} is NaN`);
}

/** Indices sorted by score, highest first. */
function byScoreDesc(scores: ArrayLike<number>): Int32Array {
  const idx = Int32Array.from({ length: scores.length }, (_, i) => i);
  return idx.sort((a, b) => (scores[b] > scores[a] ? 1 : scores[b] < scores[a] ? -1 : 0));
}

/** Groups of equal scores, highest first: how many frauds and genuine transactions each holds. */
function tieGroups(scores: ArrayLike<number>, labels: ArrayLike<boolean>): { pos: Int32Array; neg: Int32Array } {
  const order = byScoreDesc(scores);
  const pos: number[] = [];
  const neg: number[] = [];
  for (let i = 0; i < order.length; ) {
    let j = i;
    let p = 0;
    let n = 0;
    while (j < order.length && scores[order[j]] === scores[order[i]]) {
      if (labels[order[j]]) p++;
      else n++;
      j++;
    }
    pos.push(p);
    neg.push(n);
    i = j;
  }
  return { pos: Int32Array.from(pos), neg: Int32Array.from(neg) };
}

/**
 * Area under the ROC curve: the probability that a fraud scores above a genuine transaction, ties
 * counting one half (Mann-Whitney with mid-ranks). NaN without frauds or without genuine transactions.
 */
export function aucRoc(scores: ArrayLike<number>, labels: ArrayLike<boolean>): number {
  checkLengths(scores, labels);
  const g = tieGroups(scores, labels);
  let pos = 0;
  let neg = 0;
  for (let i = 0; i < g.pos.length; i++) {
    pos += g.pos[i];
    neg += g.neg[i];
  }
  if (pos === 0 || neg === 0) return Number.NaN;
  // Each group's frauds are above the genuine transactions of the later groups, tied with its own.
  let above = 0;
  let negAfter = neg;
  for (let i = 0; i < g.pos.length; i++) {
    negAfter -= g.neg[i];
    above += g.pos[i] * negAfter + 0.5 * g.pos[i] * g.neg[i];
  }
  return above / (pos * neg);
}

/**
 * Average precision: the precision at each score threshold weighted by the recall it adds,
 * sum over thresholds t (highest first) of (R(t) - R(previous t)) * P(t), where P(t) and R(t) are the
 * precision and recall of flagging every transaction scoring t or more (so tied transactions are
 * flagged together, as scikit-learn's average_precision_score does). NaN without frauds.
 */
export function averagePrecision(scores: ArrayLike<number>, labels: ArrayLike<boolean>): number {
  checkLengths(scores, labels);
  const g = tieGroups(scores, labels);
  let pos = 0;
  for (let i = 0; i < g.pos.length; i++) pos += g.pos[i];
  if (pos === 0) return Number.NaN;
  let tp = 0;
  let flagged = 0;
  let ap = 0;
  for (let i = 0; i < g.pos.length; i++) {
    tp += g.pos[i];
    flagged += g.pos[i] + g.neg[i];
    ap += (g.pos[i] / pos) * (tp / flagged);
  }
  return ap;
}

/** A scored transaction with its ground truth. */
export interface ScoredTransaction {
  customer: string;
  /** Event time, epoch ms. */
  time: number;
  score: number;
  fraud: boolean;
}

export interface TestPeriod {
  /** Start of the first test day, epoch ms. */
  start: number;
  days: number;
}

export interface RankingReport {
  /** Card precision at k per test day, and its mean. */
  cpAtK: CardPrecision & { k: number };
  auc: number;
  ap: number;
  days: number;
  /** Transactions and frauds in the test period. */
  transactions: number;
  frauds: number;
}

/**
 * The metrics of a scorer over a test period: the transactions in [start, start + days x 24 h), day d
 * being [start + d x 24 h, start + (d + 1) x 24 h). The others are ignored.
 */
export function rankingReport(txs: Iterable<ScoredTransaction>, period: TestPeriod, k = 100): RankingReport {
  if (!Number.isInteger(period.days) || period.days < 1) throw new RangeError(`days must be a positive integer, got ${period.days}`);
  const end = period.start + period.days * DAY_MS;
  const days: CardScore[][] = Array.from({ length: period.days }, () => []);
  const scores: number[] = [];
  const labels: boolean[] = [];
  let frauds = 0;
  for (const t of txs) {
    if (!(t.time >= period.start && t.time < end)) continue;
    days[Math.floor((t.time - period.start) / DAY_MS)].push({ customer: t.customer, score: t.score, fraud: t.fraud });
    scores.push(t.score);
    labels.push(t.fraud);
    if (t.fraud) frauds++;
  }
  const cp = cardPrecisionAtK(days, k);
  return { cpAtK: { k, ...cp }, auc: aucRoc(scores, labels), ap: averagePrecision(scores, labels), days: period.days, transactions: scores.length, frauds };
}
