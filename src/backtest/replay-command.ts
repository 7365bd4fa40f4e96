/** `vigie replay` with --compare, --report, --from-kafka: which options go together, the runs, and what is printed. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { LoadedConfig } from '../config/load.js';
import type { LabelOptions } from '../engine/labels.js';
import { VigieError } from '../errors.js';
import { assignReplayInputs, type ReplayInput } from '../sources/replay-input.js';
import type { Source } from '../sources/types.js';
import { createSink } from '../../sinks/index.js';
import type { Sink } from '../../sinks/types.js';
import type { MatchOptions } from './alert-match.js';
import { compareAlerts, type WhatIfReport } from './compare.js';
import { formatComparison } from './compare-format.js';
import { alertingDetectors } from './configs.js';
import { renderReport, reportInput } from './report.js';
import { parseReplayOutputs, replayOutSinks, type ReplayOutput } from './replay-outputs.js';
import { runVariants } from './run-variants.js';
import { runInfo, type VariantRun } from './variant-run.js';

/** The what-if report of two runs. */
export function whatIf(a: VariantRun, b: VariantRun, input: string, match?: MatchOptions): WhatIfReport {
  const c = compareAlerts({
    a: a.alerts,
    b: b.alerts,
    detectors: { a: alertingDetectors(a.loaded), b: alertingDetectors(b.loaded) },
    labels: a.summary.labels || b.summary.labels ? { a: a.summary.labels, b: b.summary.labels } : undefined,
    match,
  });
  return { a: runInfo(a), b: runInfo(b), input, ...c };
}

export interface ReplayArgs {
  input?: readonly string[];
  compare?: string;
  matchWithin?: number;
  json?: boolean;
  report?: string;
  fromKafka?: string;
  since?: string;
  until?: string;
  brokers?: string;
  out?: string;
  /** `--outputs LIST`, as given (see parseReplayOutputs). */
  outputs?: string;
}

/** Combinations of replay options that make no sense. */
export function checkReplayArgs(o: ReplayArgs): void {
  const usage = (m: string) => {
    throw new VigieError('VIGIE_ERR_USAGE', m);
  };
  if (o.fromKafka !== undefined && o.input !== undefined) usage('give either --input or --from-kafka, not both');
  if (o.fromKafka !== undefined && o.since === undefined) usage('--from-kafka needs --since TIME (ISO-8601, or a duration ago like 7d)');
  if (o.fromKafka === undefined) {
    for (const [flag, v] of [['--since', o.since], ['--until', o.until], ['--brokers', o.brokers]] as const) if (v !== undefined) usage(`${flag} only applies with --from-kafka TOPIC`);
  }
  if (o.json && o.compare === undefined) usage('--json only applies with --compare (the replay summary is always JSON)');
  if (o.matchWithin !== undefined && o.compare === undefined) usage('--match-within only applies with --compare (it says when alerts of A and B match)');
  if (o.outputs !== undefined && o.out === undefined) usage('--outputs only applies with --out DIR (it says which files are written there)');
  if (o.outputs !== undefined) parseReplayOutputs(o.outputs);
}

/**
 * What was replayed, for outputs: the file of a bare `--input`, else each `NAME=FILE` and the
 * sources read as configured.
 */
export function describeInputs(loaded: LoadedConfig, inputs: readonly ReplayInput[]): string {
  const names = loaded.config.sources.map((s) => s.name);
  if (inputs.length === 0) return `the sources of ${loaded.file} (${names.join(', ')})`;
  if (inputs.length === 1 && inputs[0].source === undefined) return inputs[0].path;
  const files = assignReplayInputs(loaded.config.sources, inputs);
  const kept = names.filter((n) => !files.has(n));
  const replaced = [...files].map(([n, f]) => `${n}=${f}`).join(', ');
  return kept.length === 0 ? replaced : `${replaced}, with ${kept.join(', ')} as configured in ${loaded.file}`;
}

export interface BacktestOptions {
  a: LoadedConfig;
  b?: LoadedConfig;
  inputs?: readonly ReplayInput[];
  /** Replay from Kafka: the history source and how to name it. */
  history?: { source: Source; describe: string };
  out?: string;
  /** What --out writes (default: alerts and dead letters). */
  outputs?: readonly ReplayOutput[];
  labels?: LabelOptions;
  batchSize?: number;
  json?: boolean;
  report?: string;
  /** How alerts of A and B match (--match-within). */
  match?: MatchOptions;
  logger: Logger;
}

/**
 * Replay A (and B) over one read of the input; write the HTML report when asked. Returns what goes
 * to stdout: the what-if table (or JSON) with B, A's replay summary (JSON) without.
 */
export async function backtest(o: BacktestOptions): Promise<string> {
  const variants = o.b ? [o.a, o.b] : [o.a];
  // As `vigie replay`: A alone writes to --out, or else to its configured sinks; a what-if writes
  // nowhere but --out (DIR/a, DIR/b), so that B never reaches A's destinations.
  let sinks: Sink[][] | undefined;
  if (o.out !== undefined) {
    const out = o.out;
    const files = (dir: string) => replayOutSinks(dir, o.logger, o.outputs);
    sinks = o.b ? [await files(join(out, 'a')), await files(join(out, 'b'))] : [await files(out)];
  }
  else if (o.b === undefined) sinks = [o.a.config.sinks.map((s) => createSink(s, { baseDir: o.a.baseDir, stdout: process.stderr, logger: o.logger }))];
  const runs = await runVariants({
    variants,
    inputs: o.inputs,
    source: o.history?.source,
    labels: o.labels,
    batchSize: o.batchSize,
    logger: o.logger,
    sinks,
    sampleValues: o.report !== undefined,
  });
  const input = o.history?.describe ?? describeInputs(o.a, o.inputs ?? []);
  if (o.report !== undefined) {
    const path = resolve(o.report);
    await mkdir(join(path, '..'), { recursive: true });
    await writeFile(path, renderReport(reportInput(runs[0], runs[1], input, new Date(), o.match)));
    o.logger.info({ report: path }, 'report written');
  }
  if (runs.length === 1) return `${JSON.stringify(runs[0].summary, null, 2)}\n`;
  const r = whatIf(runs[0], runs[1], input, o.match);
  return o.json ? `${JSON.stringify(r)}\n` : formatComparison(r);
}
