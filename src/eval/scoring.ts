/**
 * `vigie eval-scoring`: replay a config over card transactions, collect the per-transaction scores
 * its detectors publish, and measure, over a test period, how well they rank frauds: card precision
 * at k, AUC and average precision, beside two baselines (the amount alone, the rules' strengths alone).
 */
import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';
import type { LoadedConfig } from '../config/load.js';
import { Engine } from '../engine/engine.js';
import { VigieError } from '../errors.js';
import { silentLogger } from '../log.js';
import { assignReplayInputs, parseReplayInput } from '../sources/replay-input.js';
import type { Score } from '../types.js';
import { didYouMean } from '../util/suggest.js';
import type { Sink, SinkBatch } from '../../sinks/types.js';
import { forReplay } from '../backtest/configs.js';
import { DAY_MS, rankingReport, type RankingReport, type ScoredTransaction, type TestPeriod } from './ranking.js';

export interface ScoringEvalOptions {
  loaded: LoadedConfig;
  /** Transactions file (NDJSON, as `vigie generate --scenario cards` writes), or NAME=FILE for a config with several sources. */
  transactions: string;
  /** Fraud reports file: read by the config's file tables (labels, entity reports) in place of their own file. */
  reports: string;
  test: TestPeriod;
  /** Detector whose scores are evaluated (default: the first of type `model`, else every detector's highest score). */
  detector?: string;
  k?: number;
  batchSize?: number;
  logger?: Logger;
}

export interface ScoringEvalReport {
  config: string;
  /** The detector evaluated, or undefined for every detector's highest score. */
  detector: string | undefined;
  test: { start: string; days: number; k: number };
  transactions: number;
  frauds: number;
  /** Test-period transactions the evaluated detector(s) scored (the others rank last). */
  scored: number;
  /** Test-period transactions some other detector gave a strength to (the others count 0). */
  withStrength: number;
  scorers: { detector: RankingReport; amount: RankingReport; rules: RankingReport };
}

interface Truth {
  customer: string;
  time: number;
  amount: number;
  fraud: boolean;
  /** Highest score of the evaluated detector(s), -Infinity when none. */
  score: number;
  /** Highest strength of the other detectors, -Infinity when none. */
  strength: number;
}

const usage = (m: string): never => {
  throw new VigieError('VIGIE_ERR_USAGE', m);
};

async function mustExist(flag: string, path: string): Promise<void> {
  try {
    await access(path);
  } catch (err) {
    throw new VigieError('VIGIE_ERR_SOURCE', `${flag} ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** The detectors of a config, in config order. */
function detectorsOf(loaded: LoadedConfig): { name: string; type: string }[] {
  return loaded.config.pipelines.flatMap((p) => p.detectors.map((d) => ({ name: d.name, type: d.type })));
}

/** The detector evaluated: the one named, else the first `model` detector, else undefined (all of them). */
export function chooseDetector(loaded: LoadedConfig, name: string | undefined): string | undefined {
  const all = detectorsOf(loaded);
  if (all.length === 0) usage(`${loaded.file} has no detector: there are no scores to evaluate`);
  if (name === undefined) return all.find((d) => d.type === 'model')?.name;
  if (!all.some((d) => d.name === name)) {
    const hint = didYouMean(name, all.map((d) => d.name));
    usage(`--detector ${name}: ${loaded.file} has no such detector${hint ? ` (${hint})` : ''}; its detectors: ${all.map((d) => d.name).join(', ')}`);
  }
  return name;
}

function timeOf(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string') {
    const t = Date.parse(v);
    return Number.isNaN(t) ? undefined : t;
  }
  return undefined;
}

/** The test-period transactions of the file, by id; and the span of all its transactions. */
async function readTruth(path: string, period: TestPeriod): Promise<{ byId: Map<string, Truth>; first: number; last: number }> {
  const end = period.start + period.days * DAY_MS;
  const byId = new Map<string, Truth>();
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  let line = 0;
  const bad = (m: string): never => {
    throw new VigieError('VIGIE_ERR_INPUT', `${path}:${line}: ${m}`);
  };
  for await (const text of createInterface({ input: createReadStream(path), crlfDelay: Infinity })) {
    line++;
    if (text.trim() === '') continue;
    let r: Record<string, unknown>;
    try {
      r = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return bad('not a JSON object');
    }
    if (r === null || typeof r !== 'object') bad('not a JSON object');
    const time = timeOf(r.time);
    if (time === undefined) bad('no `time` (epoch ms or ISO-8601)');
    const t = time as number;
    if (t < first) first = t;
    if (t > last) last = t;
    if (!(t >= period.start && t < end)) continue;
    const id = r.id;
    if (typeof id !== 'string' && typeof id !== 'number') return bad('no `id`');
    const amount = r.amount;
    if (typeof amount !== 'number' || !Number.isFinite(amount)) bad('no numeric `amount`');
    const fraud = typeof r.label === 'string' && r.label !== '';
    byId.set(String(id), { customer: String(r.customer ?? ''), time: t, amount: amount as number, fraud, score: Number.NEGATIVE_INFINITY, strength: Number.NEGATIVE_INFINITY });
  }
  return { byId, first, last };
}

/** A sink keeping, per test-period transaction, the evaluated detector's highest score and the rules' (alerting detectors') highest strength. */
function scoreCollector(byId: Map<string, Truth>, detector: string | undefined, rules: ReadonlySet<string>): Sink {
  const take = (s: Score) => {
    const t = byId.get(s.ref);
    if (t === undefined) return;
    if (detector === undefined || s.detector === detector) {
      if (Number.isFinite(s.score) && s.score > t.score) t.score = s.score;
    }
    if (rules.has(s.detector) && s.strength !== undefined && Number.isFinite(s.strength) && s.strength > t.strength) t.strength = s.strength;
  };
  return {
    name: 'eval-scoring',
    type: 'memory',
    acknowledges: true,
    outputs: new Set(['scores']),
    async write(b: SinkBatch) {
      for (const s of b.scores) take(s);
    },
    async close() {},
  };
}

export async function evalScoring(o: ScoringEvalOptions): Promise<ScoringEvalReport> {
  const k = o.k ?? 100;
  if (!Number.isInteger(k) || k < 1) usage(`--k must be a positive integer, got ${k}`);
  if (!Number.isFinite(o.test.start)) usage('--test-start must be an ISO-8601 date-time such as 2026-02-01T00:00:00Z');
  if (!Number.isInteger(o.test.days) || o.test.days < 1) usage(`--test-days must be a positive integer, got ${o.test.days}`);
  const input = parseReplayInput(o.transactions);
  // Before anything is read: a config with several sources must say which one the file replaces.
  assignReplayInputs(o.loaded.config.sources, [input]);
  await mustExist('--transactions', input.path);
  await mustExist('--reports', o.reports);
  // The reports replace the file of every file table (the labels and the entities' reports tables).
  const reports = resolvePath(o.reports);
  const cfg = o.loaded.config;
  const detector = chooseDetector(o.loaded, o.detector);
  // Every detector publishes its judgements here; the rules are the detectors that raise alerts (other than the one evaluated).
  const rules = new Set(cfg.pipelines.flatMap((p) => p.detectors.filter((d) => d.emit && d.name !== detector).map((d) => d.name)));
  const pipelines = cfg.pipelines.map((p) => ({ ...p, detectors: p.detectors.map((d) => ({ ...d, scores: true })) }));
  const loaded: LoadedConfig = { ...o.loaded, config: { ...cfg, pipelines, tables: cfg.tables?.map((t) => (t.type === 'file' ? { ...t, path: reports } : t)) } };

  const { byId, first, last } = await readTruth(input.path, o.test);
  const iso = (t: number) => new Date(t).toISOString();
  if (byId.size === 0) {
    const span = first <= last ? `its transactions span ${iso(first)} to ${iso(last)}` : 'it holds no transaction';
    usage(`no transaction of ${input.path} in the test period [${iso(o.test.start)}, ${iso(o.test.start + o.test.days * DAY_MS)}): ${span}; choose --test-start and --test-days within it`);
  }

  const engine = new Engine({ loaded: forReplay(loaded), mode: 'replay', inputs: [input], sinks: [scoreCollector(byId, detector, rules)], logger: o.logger ?? silentLogger, batchSize: o.batchSize });
  await engine.run();

  const truths = [...byId.values()];
  const scored = truths.filter((t) => t.score > Number.NEGATIVE_INFINITY).length;
  if (scored === 0) {
    usage(
      `${detector === undefined ? 'no detector of the config' : `detector ${detector}`} published a score for the transactions of the test period: ` +
        `set \`scores: true\` on ${detector ?? 'the detectors to evaluate'} (and check that its pipeline reads these transactions)`,
    );
  }
  const as = (f: (t: Truth) => number): ScoredTransaction[] => truths.map((t) => ({ customer: t.customer, time: t.time, score: f(t), fraud: t.fraud }));
  const withStrength = truths.filter((t) => t.strength > Number.NEGATIVE_INFINITY).length;
  const scorers = {
    detector: rankingReport(as((t) => t.score), o.test, k),
    amount: rankingReport(as((t) => t.amount), o.test, k),
    rules: rankingReport(as((t) => (t.strength > Number.NEGATIVE_INFINITY ? t.strength : 0)), o.test, k),
  };
  return {
    config: o.loaded.file,
    detector,
    test: { start: iso(o.test.start), days: o.test.days, k },
    transactions: truths.length,
    frauds: truths.filter((t) => t.fraud).length,
    scored,
    withStrength,
    scorers,
  };
}

/** The report as a readable table. */
export function formatScoringReport(r: ScoringEvalReport): string {
  const f = (x: number) => (Number.isNaN(x) ? '-' : x.toFixed(3));
  const k = r.test.k;
  const share = r.transactions === 0 ? 0 : (100 * r.frauds) / r.transactions;
  const lines = [
    `Test period: ${r.test.days} day${r.test.days === 1 ? '' : 's'} from ${r.test.start}: ${r.transactions} transactions, ${r.frauds} frauds (${share.toFixed(2)}%)`,
    '',
    `| scorer | CP@${k} | AUC | AP |`,
    '|---|---|---|---|',
  ];
  const rows: [string, RankingReport][] = [
    [r.detector === undefined ? 'all detectors (highest score)' : `detector ${r.detector}`, r.scorers.detector],
    ['amount alone', r.scorers.amount],
    ['rules alone (highest strength of the alerting detectors)', r.scorers.rules],
  ];
  for (const [name, m] of rows) lines.push(`| ${name} | ${f(m.cpAtK.mean)} | ${f(m.auc)} | ${f(m.ap)} |`);
  lines.push('');
  lines.push(`CP@${k} per day:`);
  for (const [name, m] of rows) lines.push(`  ${name}: ${m.cpAtK.perDay.map(f).join(' ')}`);
  lines.push('');
  lines.push(`scored by ${r.detector === undefined ? 'the detectors' : r.detector}: ${r.scored} of ${r.transactions} transactions (the others rank last)`);
  lines.push(`given a strength by the rules: ${r.withStrength} of ${r.transactions} (the others count 0)`);
  return `${lines.join('\n')}\n`;
}
