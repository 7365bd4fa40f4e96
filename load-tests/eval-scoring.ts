/**
 * `npm run eval:scoring [-- --seeds 12,13,14 --days 120 --config config/cards.yaml --json]`: the learned
 * scoring config evaluated on simulated worlds it was not tuned on. Each seed is a world of its own
 * (customers, terminals, compromises, reports), generated once into `--dir` and reused; the model
 * learns online over the whole period and is measured on the last `--test-days` days (CP@100 per day,
 * AUC, average precision), against the amount alone and the rules alone. Prints a table (per seed,
 * the mean and the worst seed) or, with `--json`, one JSON object.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/load.js';
import { evalScoring, type ScoringEvalReport } from '../src/eval/scoring.js';
import { generateCards } from '../src/cli/generate-cards.js';

const DAY = 86_400_000;
const START = Date.parse('2026-01-01T00:00:00Z');
/** What the learned scorer must reach on worlds it was not tuned on (CP@100 and average precision). */
export const SCORING_TARGETS = { cpAt100: 0.3, ap: 0.6 } as const;

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '12,13,14' },
    days: { type: 'string', default: '120' },
    'test-days': { type: 'string', default: '7' },
    config: { type: 'string', default: 'config/cards.yaml' },
    dir: { type: 'string', default: 'out/cards' },
    json: { type: 'boolean', default: false },
  },
});
const seeds = values.seeds.split(',').map((s) => Number(s.trim()));
const days = Number(values.days);
const testDays = Number(values['test-days']);
if (seeds.some((s) => !Number.isInteger(s)) || !Number.isInteger(days) || !Number.isInteger(testDays) || testDays >= days) {
  process.stderr.write('eval:scoring: --seeds a,b,c (integers), --days N, --test-days M < N\n');
  process.exit(2);
}

const log = (m: string) => values.json || process.stderr.write(`${m}\n`);
const runs: Array<{ seed: number; report: ScoringEvalReport; seconds: number }> = [];
for (const seed of seeds) {
  const dir = resolve(values.dir, `s${seed}-d${days}`);
  const transactions = join(dir, 'transactions.ndjson');
  const reports = join(dir, 'reports.ndjson');
  if (!existsSync(transactions) || !existsSync(reports)) {
    log(`seed ${seed}: generating ${days} days into ${dir}`);
    await generateCards({ seed, days, out: dir, start: START });
  }
  const t0 = performance.now();
  const report = await evalScoring({ loaded: loadConfig(values.config), transactions, reports, test: { start: START + (days - testDays) * DAY, days: testDays } });
  const seconds = (performance.now() - t0) / 1000;
  runs.push({ seed, report, seconds });
  const d = report.scorers.detector;
  log(`seed ${seed}: CP@100 ${d.cpAtK.mean.toFixed(3)}, AUC ${d.auc.toFixed(3)}, AP ${d.ap.toFixed(3)} (${seconds.toFixed(0)} s)`);
}

type Scorer = keyof ScoringEvalReport['scorers'];
const SCORERS: Scorer[] = ['detector', 'amount', 'rules'];
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const summary = Object.fromEntries(
  SCORERS.map((s) => {
    const cp = runs.map((r) => r.report.scorers[s].cpAtK.mean);
    const auc = runs.map((r) => r.report.scorers[s].auc);
    const ap = runs.map((r) => r.report.scorers[s].ap);
    return [s, { mean: { cpAt100: mean(cp), auc: mean(auc), ap: mean(ap) }, worst: { cpAt100: Math.min(...cp), auc: Math.min(...auc), ap: Math.min(...ap) } }];
  }),
) as Record<Scorer, { mean: { cpAt100: number; auc: number; ap: number }; worst: { cpAt100: number; auc: number; ap: number } }>;
const model = summary.detector;
const pass = model.worst.cpAt100 >= SCORING_TARGETS.cpAt100 && model.worst.ap >= SCORING_TARGETS.ap;

if (values.json) {
  const perSeed = runs.map((r) => ({
    seed: r.seed,
    transactions: r.report.transactions,
    frauds: r.report.frauds,
    seconds: Math.round(r.seconds),
    ...Object.fromEntries(SCORERS.map((s) => [s, { cpAt100: r.report.scorers[s].cpAtK.mean, auc: r.report.scorers[s].auc, ap: r.report.scorers[s].ap }])),
  }));
  process.stdout.write(`${JSON.stringify({ config: values.config, days, testDays, seeds, perSeed, summary, targets: SCORING_TARGETS, pass })}\n`);
} else {
  const f = (x: number) => x.toFixed(3);
  const lines = [
    `Learned scoring, ${values.config}: ${days} simulated days per world, measured on the last ${testDays} (k = 100)`,
    '',
    '| world (seed) | model CP@100 | model AUC | model AP | amount CP@100 | amount AP | rules CP@100 | rules AP |',
    '|---|---|---|---|---|---|---|---|',
    ...runs.map(({ seed, report: { scorers: s } }) => `| ${seed} | ${f(s.detector.cpAtK.mean)} | ${f(s.detector.auc)} | ${f(s.detector.ap)} | ${f(s.amount.cpAtK.mean)} | ${f(s.amount.ap)} | ${f(s.rules.cpAtK.mean)} | ${f(s.rules.ap)} |`),
    ...(['mean', 'worst'] as const).map(
      (w) => `| ${w} | ${f(model[w].cpAt100)} | ${f(model[w].auc)} | ${f(model[w].ap)} | ${f(summary.amount[w].cpAt100)} | ${f(summary.amount[w].ap)} | ${f(summary.rules[w].cpAt100)} | ${f(summary.rules[w].ap)} |`,
    ),
    '',
    `${pass ? 'PASS' : 'FAIL'}: worst world CP@100 ${f(model.worst.cpAt100)} (target >= ${SCORING_TARGETS.cpAt100}), AP ${f(model.worst.ap)} (target >= ${SCORING_TARGETS.ap})`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
process.exitCode = pass ? 0 : 1;
