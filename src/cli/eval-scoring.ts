/** `vigie eval-scoring`: how well a config's scores rank card frauds over a test period (src/eval/scoring.ts). */
import type { Command } from 'commander';
import type { LoadedConfig } from '../config/load.js';
import { describeError, VigieError } from '../errors.js';
import { int } from './options.js';

interface EvalScoringArgs {
  config: string;
  transactions: string;
  reports: string;
  testStart: string;
  testDays: number;
  detector?: string;
  k: number;
  json?: boolean;
}

/** `load` reads the config, exiting with the config's problems when it is invalid. */
export function addEvalScoringCommand(program: Command, load: (file: string) => LoadedConfig, exitInvalid: number): void {
  program
    .command('eval-scoring')
    .description(
      "Replay a config over card transactions (as `vigie generate --scenario cards` writes them; the file replaces the config's source as `replay --input` does) " +
        'and measure, over the test period, how well the published scores (`scores: true`) rank the frauds of the `label` field: card precision at k (CP@k), AUC and average precision, ' +
        'for the detector evaluated, for the amount alone and for the rules alone (per transaction, the highest strength of the detectors that raise alerts, other than the one evaluated; every detector publishes its judgements for the evaluation). See docs/scoring-eval.md.',
    )
    .requiredOption('-c, --config <file>', 'config file (YAML) whose detectors publish scores')
    .requiredOption('--transactions <[name=]file>', "transactions (NDJSON: id, time, customer, amount, label on frauds) replacing the config's source NAME (bare FILE: the config has one source)")
    .requiredOption('--reports <file>', 'fraud reports (NDJSON, report-time order): every file table of the config (labels, entity reports) reads this file instead of its own')
    .requiredOption('--test-start <iso>', 'start of the first test day, ISO-8601 (e.g. 2026-03-01T00:00:00Z)')
    .option('--test-days <n>', 'test days, each 24 h from --test-start', int('test days', 1), 7)
    .option('--detector <name>', 'detector whose scores are evaluated (default: the first of type model, else the highest score of every detector, per transaction)')
    .option('--k <n>', 'cards investigated per day for the card precision', int('k', 1), 100)
    .option('--json', 'print one JSON object instead of a table')
    .action(async (opts: EvalScoringArgs) => {
      const { evalScoring, formatScoringReport } = await import('../eval/scoring.js');
      const loaded = load(opts.config);
      const start = /^\d{4}-\d\d-\d\d/.test(opts.testStart) ? Date.parse(opts.testStart) : Number.NaN;
      try {
        if (Number.isNaN(start)) throw new VigieError('VIGIE_ERR_USAGE', `--test-start ${opts.testStart}: not an ISO-8601 date-time such as 2026-03-01T00:00:00Z`);
        const report = await evalScoring({ loaded, transactions: opts.transactions, reports: opts.reports, test: { start, days: opts.testDays }, detector: opts.detector, k: opts.k });
        process.stdout.write(opts.json ? `${JSON.stringify(report)}\n` : formatScoringReport(report));
      } catch (err) {
        if (!(err instanceof VigieError && err.code === 'VIGIE_ERR_USAGE')) throw err;
        const { code, message, remedy } = describeError(err);
        process.stderr.write(`vigie: ${code}: ${message}\n  remedy: ${remedy}\n`);
        process.exit(exitInvalid);
      }
    });
}
