/**
 * "Did you mean …?" for near-misses in configs (unknown keys, types, enum values and names) and on
 * command lines (source names). On the ground floor because the config floor and the sources both use it.
 *
 * Distance: optimal string alignment (Damerau-Levenshtein restricted to adjacent transpositions),
 * i.e. insertions, deletions, substitutions and swaps of two neighbouring characters cost 1 each.
 */

/** Edit distance between two strings (insert, delete, substitute, swap adjacent characters). */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  // Three rows are enough: the transposition looks two rows back.
  let prev2 = new Array<number>(b.length + 1).fill(0);
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  let cur = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, prev2[j - 2] + 1);
      cur[j] = d;
    }
    [prev2, prev, cur] = [prev, cur, prev2];
  }
  return prev[b.length];
}

/**
 * Largest distance still worth a suggestion for a word: about a third of its length, at least 1
 * (one typo in a short word), and never the whole word ("ab" is not a typo of "cd").
 */
export function maxDistance(word: string): number {
  return Math.min(Math.max(1, Math.floor(word.length / 3)), word.length - 1);
}

/**
 * The candidate closest to `word`, when close enough to be a likely typo; ties go to the earliest
 * candidate. A difference of case only always counts as close.
 */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  const lower = word.toLowerCase();
  const limit = maxDistance(word);
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    if (c === word) continue;
    if (c.toLowerCase() === lower) return c;
    // Cheap reject: the length difference alone is a lower bound of the distance.
    if (Math.abs(c.length - word.length) > limit) continue;
    const d = editDistance(lower, c.toLowerCase());
    if (d <= limit && d < bestD) {
      best = c;
      bestD = d;
    }
  }
  return best;
}

/** `did you mean "x"?` for the closest candidate, or undefined when none is close. */
export function didYouMean(word: string, candidates: Iterable<string>): string | undefined {
  const c = closest(word, candidates);
  return c === undefined ? undefined : `did you mean "${c}"?`;
}
