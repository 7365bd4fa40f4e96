import { Engine } from '../engine/engine.js';
import type { LoadedConfig } from '../config/load.js';
import type { LabelReport } from '../engine/labels.js';
import { memorySink } from '../../sinks/memory.js';
import { VigieError } from '../errors.js';

/** Recall and precision targets of the fraud evaluation. */
export const FRAUD_TARGETS = { recall: 0.9, precision: 0.8 } as const;

export interface FraudEvalRun {
  seed: number;
  events: number;
  report: LabelReport;
  durationMs: number;
}

export interface FraudEvalReport {
  runs: FraudEvalRun[];
  /** Per typology: the lowest recall over the seeds. */
  minRecall: Record<string, number>;
  /** Per detector: the lowest precision over the seeds (detectors that raised alerts). */
  minPrecision: Record<string, number>;
  /** True when every typology and detector meets the targets on every seed. */
  pass: boolean;
}

/**
 * Replay the config's generator source with several seeds (same settings otherwise) and score the
 * alerts against the generator's labels: recall per typology, precision per detector.
 * Seeds other than the one the config was written with show how well the rules generalise.
 */
export async function evalFraud(opts: { loaded: LoadedConfig; seeds: number[]; events?: number }): Promise<FraudEvalReport> {
  const gen = opts.loaded.config.sources.find((s) => s.type === 'generator');
  if (gen === undefined) throw new VigieError('VIGIE_ERR_USAGE', `config ${opts.loaded.file} has no generator source to evaluate on`);
  const runs: FraudEvalRun[] = [];
  for (const seed of opts.seeds) {
    const source = { ...gen, seed, realtime: false, events: opts.events ?? gen.events ?? 100_000 };
    const loaded: LoadedConfig = { ...opts.loaded, config: { ...opts.loaded.config, sources: [source] } };
    const t0 = performance.now();
    const engine = new Engine({ loaded, mode: 'replay', sinks: [memorySink('eval', [])], labels: { field: 'label', caseField: 'case' } });
    const summary = await engine.run();
    runs.push({ seed, events: source.events, report: summary.labels as LabelReport, durationMs: Math.round(performance.now() - t0) });
  }
  const minRecall: Record<string, number> = {};
  const minPrecision: Record<string, number> = {};
  for (const r of runs) {
    for (const [t, s] of Object.entries(r.report.typologies)) minRecall[t] = Math.min(minRecall[t] ?? 1, s.recall);
    for (const [d, s] of Object.entries(r.report.detectors)) if (s.alerts > 0) minPrecision[d] = Math.min(minPrecision[d] ?? 1, s.precision);
  }
  const pass =
    Object.values(minRecall).every((x) => x >= FRAUD_TARGETS.recall) && Object.values(minPrecision).every((x) => x >= FRAUD_TARGETS.precision);
  return { runs, minRecall, minPrecision, pass };
}

/** The report as readable tables. */
export function formatFraudReport(r: FraudEvalReport): string {
  const lines: string[] = [];
  const seeds = r.runs.map((x) => x.seed);
  const pct = (x: number | undefined) => (x === undefined ? '-' : x.toFixed(3));
  lines.push(`Recall per typology (cases detected / cases), seeds ${seeds.join(', ')}; target >= ${FRAUD_TARGETS.recall}`);
  lines.push(`| typology | ${seeds.map((s) => `seed ${s}`).join(' | ')} | min |`);
  lines.push(`|---|${seeds.map(() => '---').join('|')}|---|`);
  for (const t of Object.keys(r.minRecall).sort()) {
    const cells = r.runs.map((x) => {
      const s = x.report.typologies[t];
      return s ? `${s.detectedCases}/${s.cases} (${pct(s.recall)})` : '-';
    });
    lines.push(`| ${t} | ${cells.join(' | ')} | ${pct(r.minRecall[t])} |`);
  }
  lines.push('');
  lines.push(`Precision per detector (alerts citing a labelled event / alerts); target >= ${FRAUD_TARGETS.precision}`);
  lines.push(`| detector | ${seeds.map((s) => `seed ${s}`).join(' | ')} | min |`);
  lines.push(`|---|${seeds.map(() => '---').join('|')}|---|`);
  const detectors = [...new Set(r.runs.flatMap((x) => Object.keys(x.report.detectors)))].sort();
  for (const d of detectors) {
    const cells = r.runs.map((x) => {
      const s = x.report.detectors[d];
      return s ? `${s.truePositives}/${s.alerts} (${pct(s.precision)})` : '-';
    });
    lines.push(`| ${d} | ${cells.join(' | ')} | ${pct(r.minPrecision[d])} |`);
  }
  lines.push('');
  lines.push(`events per seed: ${r.runs.map((x) => x.events).join(', ')}; time: ${r.runs.map((x) => `${(x.durationMs / 1000).toFixed(1)} s`).join(', ')}`);
  lines.push(r.pass ? 'PASS: every typology and detector meets its target on every seed' : 'FAIL: some typology or detector is below target');
  return `${lines.join('\n')}\n`;
}
