import { describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { evalScoring } from '../../src/eval/scoring.js';
import { generateCards } from '../../src/cli/generate-cards.js';

const DAY = 86_400_000;
const START = Date.parse('2026-01-01T00:00:00Z');

describe('config/cards.yaml, the shipped learned-scoring example', () => {
  it('on a world it was not tuned on, ranks frauds far better than the amount alone and the rules alone', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vigie-cards-'));
    try {
      // A smaller world than the benchmark's (2000 cards, 45 days), of a seed no setting was chosen on.
      await generateCards({ seed: 31, days: 45, out: dir, start: START, customers: 2000, terminals: 4000 });
      const r = await evalScoring({
        loaded: loadConfig('config/cards.yaml'),
        transactions: join(dir, 'transactions.ndjson'),
        reports: join(dir, 'reports.ndjson'),
        test: { start: START + 38 * DAY, days: 7 },
        k: 40,
      });
      const { detector: model, amount, rules } = r.scorers;
      expect(r.detector).toBe('risk');
      expect(r.scored).toBe(r.transactions);
      expect(r.frauds).toBeGreaterThan(50);
      expect(model.auc).toBeGreaterThan(0.9);
      expect(model.ap).toBeGreaterThan(rules.ap + 0.2);
      expect(model.ap).toBeGreaterThan(amount.ap + 0.2);
      expect(model.cpAtK.mean).toBeGreaterThan(rules.cpAtK.mean + 0.1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
