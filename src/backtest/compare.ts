import { mkdir, rm } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { LoadedConfig } from '../config/load.js';
import { Engine, type Summary } from '../engine/engine.js';
import type { LabelOptions, LabelReport } from '../engine/labels.js';
import { VigieError } from '../errors.js';
import { createSource, type SourceConfig } from '../sources/index.js';
import type { RawBatch, Source } from '../sources/types.js';
import { systemClock, type Alert } from '../types.js';
import { AsyncQueue } from '../util/async-queue.js';
import { memorySink } from '../../sinks/memory.js';
import { createSink, sinkSchema } from '../../sinks/index.js';
import type { Sink, SinkBatch } from '../../sinks/types.js';

/*
 * What-if / backtest: run two configs (A, the reference, and B, the variant) over the same recorded
 * input and compare their alerts.
 *
 * One pass: the input is read once and every raw batch is handed to two engines (a source fan-out,
 * `teeSource`), each running its own config unchanged. Each engine therefore computes exactly what
 * `vigie replay` of its config over that input computes (same watermarks, windows, cooldowns, label
 * scores), while the file or topic is read, and the generator run, only once. B's `sources` section
 * is ignored: B runs over A's sources, so B's pipelines may only name sources A defines.
 *
 * The comparison itself (`compareAlerts`) is a pure function of two alert lists (and label reports).
 */

// ---------------------------------------------------------------------------------------------
// The comparison (pure)
// ---------------------------------------------------------------------------------------------

/** A cooldown summary repeats an alert already raised: it is not compared. */
export function isCooldownSummary(a: Pick<Alert, 'repeatsOf'>): boolean {
  return a.repeatsOf !== undefined;
}

/**
 * Alerts of A and B "match" when they have the same detector name, key, window (for alerts without
 * a window: the triggering event time) and revision.
 */
export function alertMatchKey(a: Pick<Alert, 'detector' | 'key' | 'window' | 'eventTime' | 'revision'>): string {
  const where = a.window ? `w${a.window.start}:${a.window.end}` : `t${a.eventTime}`;
  return `${a.detector}\u0000${a.key}\u0000${where}\u0000${a.revision}`;
}

/** UTC day (YYYY-MM-DD) of an event time. */
export function utcDay(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString().slice(0, 10) : 'unbounded';
}

export interface CountPair {
  a: number;
  b: number;
}

export interface PrecisionScore {
  alerts: number;
  truePositives: number;
  precision: number;
}

export interface DetectorComparison {
  detector: string;
  /** Which config defines the detector ('both', or only one of them). */
  in: 'both' | 'a' | 'b';
  /** Alerts (cooldown summaries excluded). */
  a: number;
  b: number;
  onlyA: number;
  onlyB: number;
  both: number;
  /** Distinct keys alerted: a coarser overlap (e.g. a changed threshold fires on another event of the same burst). */
  keys: { a: number; b: number; onlyA: number; onlyB: number; both: number };
  /** Cooldown summaries, counted apart and not compared. */
  summaries: CountPair;
  /** Alerts per UTC day of their event time. */
  perDay: Record<string, CountPair>;
  /** With labels: alerts citing a labelled event / alerts, per config. */
  precision?: { a?: PrecisionScore; b?: PrecisionScore };
}

export interface TypologyComparison {
  typology: string;
  cases: number;
  a?: { detectedCases: number; recall: number };
  b?: { detectedCases: number; recall: number };
}

export interface Comparison {
  detectors: DetectorComparison[];
  totals: { a: number; b: number; onlyA: number; onlyB: number; both: number; summaries: CountPair };
  /** Every UTC day with an alert, sorted. */
  days: string[];
  /** With labels: recall per typology for A and B. */
  labels?: { typologies: TypologyComparison[] };
}

export interface CompareInput {
  a: Iterable<Alert>;
  b: Iterable<Alert>;
  /** Detectors each config defines (shown even without alerts), in config order. */
  detectors?: { a?: readonly string[]; b?: readonly string[] };
  labels?: { a?: LabelReport; b?: LabelReport };
}

/** Compare the alerts of A and B per detector: counts, only-A, only-B, both, per day; precision and recall with labels. */
export function compareAlerts(input: CompareInput): Comparison {
  const declaredA = input.detectors?.a ?? [];
  const declaredB = input.detectors?.b ?? [];
  const rows = new Map<string, Omit<DetectorComparison, 'keys'> & { matches: [Map<string, number>, Map<string, number>]; keySets: [Set<string>, Set<string>] }>();
  const row = (detector: string) => {
    let r = rows.get(detector);
    if (r === undefined) {
      r = { detector, in: 'both', a: 0, b: 0, onlyA: 0, onlyB: 0, both: 0, summaries: { a: 0, b: 0 }, perDay: {}, matches: [new Map(), new Map()], keySets: [new Set(), new Set()] };
      rows.set(detector, r);
    }
    return r;
  };
  for (const d of declaredA) row(d);
  for (const d of declaredB) row(d);
  const days = new Set<string>();
  const add = (alerts: Iterable<Alert>, side: 0 | 1) => {
    const v = side === 0 ? 'a' : 'b';
    for (const al of alerts) {
      const r = row(al.detector);
      if (isCooldownSummary(al)) {
        r.summaries[v]++;
        continue;
      }
      r[v]++;
      const day = utcDay(al.eventTime);
      days.add(day);
      const pd = (r.perDay[day] ??= { a: 0, b: 0 });
      pd[v]++;
      const k = alertMatchKey(al);
      r.matches[side].set(k, (r.matches[side].get(k) ?? 0) + 1);
      r.keySets[side].add(al.key);
    }
  };
  add(input.a, 0);
  add(input.b, 1);
  const hasA = new Set(declaredA);
  const hasB = new Set(declaredB);
  const detectors: DetectorComparison[] = [];
  const totals = { a: 0, b: 0, onlyA: 0, onlyB: 0, both: 0, summaries: { a: 0, b: 0 } };
  for (const r of rows.values()) {
    // Multisets: the same identity twice (it should not happen) pairs at most as often as it occurs on both sides.
    let both = 0;
    for (const [k, n] of r.matches[0]) both += Math.min(n, r.matches[1].get(k) ?? 0);
    const { matches: _m, keySets, ...rest } = r;
    let keysBoth = 0;
    for (const k of keySets[0]) if (keySets[1].has(k)) keysBoth++;
    const keys = { a: keySets[0].size, b: keySets[1].size, onlyA: keySets[0].size - keysBoth, onlyB: keySets[1].size - keysBoth, both: keysBoth };
    // Without a list of a side's detectors, every detector is taken to exist on that side.
    const inA = input.detectors?.a === undefined || hasA.has(r.detector);
    const inB = input.detectors?.b === undefined || hasB.has(r.detector);
    const out: DetectorComparison = {
      ...rest,
      in: inA === inB ? 'both' : inA ? 'a' : 'b',
      both,
      keys,
      onlyA: r.a - both,
      onlyB: r.b - both,
      perDay: Object.fromEntries(Object.entries(r.perDay).sort(([x], [y]) => x.localeCompare(y))),
    };
    const la = input.labels?.a?.detectors[r.detector];
    const lb = input.labels?.b?.detectors[r.detector];
    if (input.labels?.a !== undefined || input.labels?.b !== undefined) {
      out.precision = {};
      if (input.labels.a !== undefined) out.precision.a = la ? { alerts: la.alerts, truePositives: la.truePositives, precision: la.precision } : { alerts: 0, truePositives: 0, precision: 0 };
      if (input.labels.b !== undefined) out.precision.b = lb ? { alerts: lb.alerts, truePositives: lb.truePositives, precision: lb.precision } : { alerts: 0, truePositives: 0, precision: 0 };
    }
    detectors.push(out);
    totals.a += out.a;
    totals.b += out.b;
    totals.both += out.both;
    totals.onlyA += out.onlyA;
    totals.onlyB += out.onlyB;
    totals.summaries.a += out.summaries.a;
    totals.summaries.b += out.summaries.b;
  }
  const c: Comparison = { detectors, totals, days: [...days].sort() };
  const { a: labA, b: labB } = input.labels ?? {};
  if (labA !== undefined || labB !== undefined) {
    const names = [...new Set([...Object.keys(labA?.typologies ?? {}), ...Object.keys(labB?.typologies ?? {})])].sort();
    c.labels = {
      typologies: names.map((t) => {
        const ta = labA?.typologies[t];
        const tb = labB?.typologies[t];
        const out: TypologyComparison = { typology: t, cases: ta?.cases ?? tb?.cases ?? 0 };
        if (labA !== undefined) out.a = { detectedCases: ta?.detectedCases ?? 0, recall: ta?.recall ?? 0 };
        if (labB !== undefined) out.b = { detectedCases: tb?.detectedCases ?? 0, recall: tb?.recall ?? 0 };
        return out;
      }),
    };
  }
  return c;
}

/** What identifies a run in outputs. */
export interface RunInfo {
  config: string;
  version: string;
  events: number;
  durationMs: number;
}

/** The JSON object `vigie replay --compare --json` prints. */
export interface WhatIfReport extends Comparison {
  a: RunInfo;
  b: RunInfo;
  input: string;
}

function table(head: string[], rows: string[][], right: boolean[]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const cell = (s: string, i: number) => (right[i] ? s.padStart(widths[i]) : s.padEnd(widths[i]));
  return [`| ${head.map(cell).join(' | ')} |`, `|${widths.map((w, i) => (right[i] ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)];
}

const frac = (x: number) => x.toFixed(3);

/** The comparison as readable tables (stdout of `vigie replay --compare`). */
export function formatComparison(r: WhatIfReport): string {
  const lines: string[] = [];
  lines.push(`What-if over ${r.input} (${r.a.events} events)`);
  lines.push(`  A: ${r.a.config} (version ${r.a.version})`);
  lines.push(`  B: ${r.b.config} (version ${r.b.version})`);
  lines.push('');
  lines.push('Alerts per detector (cooldown summaries excluded; an alert of A and one of B match on detector, key, window or event time, and revision;');
  lines.push('"keys": distinct keys alerted, and those alerted by both)');
  const mark = (d: DetectorComparison) => (d.in === 'a' ? ' (A only)' : d.in === 'b' ? ' (B only)' : '');
  lines.push(
    ...table(
      ['detector', 'A', 'B', 'B-A', 'only A', 'only B', 'both', 'keys A', 'keys B', 'keys both'],
      [
        ...r.detectors.map((d) => [
          `${d.detector}${mark(d)}`,
          ...[d.a, d.b].map(String),
          signed(d.b - d.a),
          ...[d.onlyA, d.onlyB, d.both, d.keys.a, d.keys.b, d.keys.both].map(String),
        ]),
        ['total', String(r.totals.a), String(r.totals.b), signed(r.totals.b - r.totals.a), String(r.totals.onlyA), String(r.totals.onlyB), String(r.totals.both), '', '', ''],
      ],
      [false, true, true, true, true, true, true, true, true, true],
    ),
  );
  if (r.days.length > 0) {
    lines.push('');
    lines.push('Alerts per day (UTC, event time), A / B');
    const ds = r.detectors.filter((d) => d.a + d.b > 0);
    lines.push(
      ...table(
        ['day', ...ds.map((d) => d.detector)],
        r.days.map((day) => [day, ...ds.map((d) => `${d.perDay[day]?.a ?? 0} / ${d.perDay[day]?.b ?? 0}`)]),
        [false, ...ds.map(() => true)],
      ),
    );
  }
  if (r.labels !== undefined) {
    lines.push('');
    lines.push('Precision per detector (alerts citing a labelled event / alerts)');
    const p = (s: PrecisionScore | undefined) => (s === undefined ? '-' : s.alerts === 0 ? '0/0' : `${s.truePositives}/${s.alerts} (${frac(s.precision)})`);
    lines.push(...table(['detector', 'A', 'B'], r.detectors.filter((d) => d.a + d.b > 0).map((d) => [d.detector, p(d.precision?.a), p(d.precision?.b)]), [false, true, true]));
    lines.push('');
    lines.push('Recall per typology (cases detected / cases)');
    const rc = (s: { detectedCases: number; recall: number } | undefined, cases: number) => (s === undefined ? '-' : `${s.detectedCases}/${cases} (${frac(s.recall)})`);
    lines.push(...table(['typology', 'A', 'B'], r.labels.typologies.map((t) => [t.typology, rc(t.a, t.cases), rc(t.b, t.cases)]), [false, true, true]));
  }
  lines.push('');
  lines.push(`time: A ${(r.a.durationMs / 1000).toFixed(1)} s, B ${(r.b.durationMs / 1000).toFixed(1)} s (one pass over the input)`);
  return `${lines.join('\n')}\n`;
}

function signed(n: number): string {
  return n > 0 ? `+${n}` : String(n);
}

// ---------------------------------------------------------------------------------------------
// Running configs over one input
// ---------------------------------------------------------------------------------------------

/** B runs over A's sources: B's pipelines may only name sources A defines. */
export function checkSameSources(a: LoadedConfig, b: LoadedConfig): void {
  const names = new Set(a.config.sources.map((s) => s.name));
  const problems: string[] = [];
  for (const p of b.config.pipelines) {
    for (const s of p.sources ?? []) {
      if (!names.has(s)) problems.push(`pipeline "${p.name}" reads source "${s}"`);
    }
  }
  if (problems.length > 0) {
    throw new VigieError(
      'VIGIE_ERR_USAGE',
      `--compare: ${b.file} runs over the sources of ${a.file}, which defines ${[...names].map((n) => `"${n}"`).join(', ')}; but ${problems.join(', ')}. ` +
        'Rename the sources in B to match A (B\'s own sources section is ignored).',
    );
  }
}

/**
 * Fan a source out to `n` readers: its batches are read once and handed to every branch, in order.
 * Bounded: the source waits until every open branch has room (the slowest reader paces the read);
 * a branch that is closed stops receiving; the source is closed with the last branch.
 */
export function teeSource(source: Source, n: number, capacity = 4): Source[] {
  const queues = Array.from({ length: n }, () => new AsyncQueue<RawBatch>(capacity));
  const open = new Set(queues.keys());
  let pumping: Promise<void> | undefined;
  let failure: unknown;
  let it: AsyncIterator<RawBatch> | undefined;
  const pump = async () => {
    it = source.batches()[Symbol.asyncIterator]();
    try {
      for (;;) {
        await Promise.all([...open].map((i) => new Promise<void>((r) => queues[i].onSpace(r))));
        if (open.size === 0) break;
        const next = await it.next();
        if (next.done) break;
        for (const i of open) queues[i].offer(next.value);
      }
    } catch (err) {
      failure = err;
    } finally {
      for (const q of queues) q.close();
    }
  };
  return queues.map((q, i) => ({
    name: source.name,
    type: source.type,
    format: source.format,
    mapping: source.mapping,
    recordMeta: source.recordMeta,
    scoped: false,
    partitions: () => source.partitions(),
    describePartition: source.describePartition ? (p: number) => source.describePartition!(p) : undefined,
    async *batches(): AsyncGenerator<RawBatch> {
      pumping ??= pump();
      for (;;) {
        const b = await q.take();
        if (b === undefined) {
          if (failure !== undefined) throw failure;
          return;
        }
        yield b;
      }
    },
    async close() {
      open.delete(i);
      q.close();
      if (open.size === 0) {
        // Close the source first: a pump waiting for its next batch (a topic with nothing more) is released.
        await source.close();
        await pumping;
        await it?.return?.(undefined);
      }
    },
  }));
}

/** Sinks of `replay --out DIR`: alerts.jsonl, results.jsonl, dead-letters.jsonl and scores.jsonl, started afresh. */
export async function replayOutSinks(out: string, logger: Logger, stdout: NodeJS.WritableStream = process.stderr): Promise<Sink[]> {
  const dir = resolve(out);
  await mkdir(dir, { recursive: true });
  const ctx = { baseDir: dir, stdout, logger };
  const files = [
    ['alerts', 'alerts.jsonl', 'alerts'],
    ['results', 'results.jsonl', 'results'],
    ['dead-letters', 'dead-letters.jsonl', 'deadLetters'],
    ['scores', 'scores.jsonl', 'scores'],
  ] as const;
  // Replays append nothing to an earlier run's files: each --out run starts them afresh.
  await Promise.all(files.map(([, file]) => rm(join(dir, file), { force: true })));
  return files.map(([name, file, output]) => createSink(sinkSchema.parse({ name, type: 'jsonl', path: join(dir, file), outputs: [output] }), ctx));
}

/** A bounded, deterministic sample of numbers (reservoir), with exact count, min and max. */
export class ValueSample {
  count = 0;
  min = Infinity;
  max = -Infinity;
  readonly values: number[] = [];
  private seed = 0x9e3779b9;

  constructor(readonly capacity = 50_000) {}

  add(v: number): void {
    this.count++;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
    if (this.values.length < this.capacity) {
      this.values.push(v);
      return;
    }
    // xorshift32: the same input always gives the same sample.
    let x = this.seed;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.seed = x >>> 0;
    const j = this.seed % this.count;
    if (j < this.capacity) this.values[j] = v;
  }
}

/** Threshold detectors' bounds, by detector name: what the report marks on value distributions. */
export function thresholdsOf(loaded: LoadedConfig): Map<string, { aggregate: string; op: string; value: number; minCount: number; pipeline: string }> {
  const out = new Map<string, { aggregate: string; op: string; value: number; minCount: number; pipeline: string }>();
  for (const p of loaded.config.pipelines) {
    for (const d of p.detectors) {
      if (d.type !== 'threshold' || d.emit === false) continue;
      const t = d as unknown as { aggregate: string; op: string; value: number; minCount?: number };
      out.set(d.name, { aggregate: t.aggregate, op: t.op, value: t.value, minCount: t.minCount ?? 0, pipeline: p.name });
    }
  }
  return out;
}

/** Detectors of a config that raise alerts (emit: false ones only feed others), in config order. */
export function alertingDetectors(loaded: LoadedConfig): string[] {
  return loaded.config.pipelines.flatMap((p) => p.detectors.filter((d) => d.emit !== false).map((d) => d.name));
}

/**
 * A sink that samples, per threshold detector, the value of its aggregate in every window result of
 * its pipeline: the distribution the threshold cuts through (for the report).
 */
function evaluatedValuesSink(loaded: LoadedConfig): { sink: Sink; samples: Map<string, ValueSample> } {
  const byPipeline = new Map<string, Array<{ detector: string; aggregate: string; minCount: number; sample: ValueSample }>>();
  const samples = new Map<string, ValueSample>();
  for (const [detector, t] of thresholdsOf(loaded)) {
    const sample = new ValueSample();
    samples.set(detector, sample);
    let list = byPipeline.get(t.pipeline);
    if (list === undefined) byPipeline.set(t.pipeline, (list = []));
    list.push({ detector, aggregate: t.aggregate, minCount: t.minCount, sample });
  }
  const sink: Sink = {
    name: 'backtest-values',
    type: 'memory',
    acknowledges: false,
    outputs: new Set(['results']),
    async write(b: SinkBatch) {
      for (const r of b.results) {
        const list = byPipeline.get(r.pipeline);
        if (list === undefined) continue;
        for (const e of list) {
          const v = r.values[e.aggregate];
          if (typeof v === 'number' && Number.isFinite(v) && r.count >= e.minCount) e.sample.add(v);
        }
      }
    },
    async close() {},
  };
  return { sink, samples };
}

export interface VariantRun {
  loaded: LoadedConfig;
  summary: Summary;
  /** Every alert, cooldown summaries included, in output order. */
  alerts: Alert[];
  /** Per threshold detector, the values its aggregate took (only when asked). */
  evaluated: Map<string, ValueSample>;
}

export interface RunVariantsOptions {
  /** A first: its sources are read (unless `input` or `source` replaces them); the others run over them. */
  variants: LoadedConfig[];
  /** Events file replacing A's sources (as `replay --input`). */
  input?: string;
  /** A ready source replacing A's sources (replay from Kafka). */
  source?: Source;
  labels?: LabelOptions;
  batchSize?: number;
  logger: Logger;
  /** Per variant, extra sinks (e.g. `--out` files). */
  sinks?: Array<Sink[] | undefined>;
  /** Sample the values threshold detectors judge (for the report). */
  sampleValues?: boolean;
  /** Where console sinks of configs would write; not used by the backtest sinks. */
  stdout?: NodeJS.WritableStream;
}

/** The source config of `--input FILE`: A's first source's field mapping over the file (as `vigie replay`). */
function inputSourceConfig(path: string, template: SourceConfig): SourceConfig {
  const { time, processingTime, id, fields, maxEventBytes } = template;
  const ext = extname(path).toLowerCase();
  const type = ext === '.msgpack' || ext === '.mpk' || ext === '.msgpackr' ? 'msgpack-file' : 'ndjson-file';
  return { name: template.name, type, path, time, processingTime, id, fields, maxEventBytes } as SourceConfig;
}

/** Run every variant over one read of the input (see the top of this file); resolves when all are done. */
export async function runVariants(o: RunVariantsOptions): Promise<VariantRun[]> {
  const [a, ...rest] = o.variants;
  for (const b of rest) checkSameSources(a, b);
  const batchSize = o.batchSize ?? a.config.engine.batchSize;
  const abort = new AbortController();
  let sources: Source[];
  if (o.source !== undefined) {
    sources = [o.source];
  } else {
    const ctx = { baseDir: a.baseDir, clock: systemClock, logger: o.logger, batchSize, stdin: process.stdin, signal: abort.signal };
    const configs: SourceConfig[] = o.input !== undefined ? [inputSourceConfig(resolve(o.input), a.config.sources[0])] : a.config.sources.map((s) => finite(s));
    sources = configs.map((s) => createSource(s, ctx));
  }
  const branches = sources.map((s) => teeSource(s, o.variants.length));
  const runs = o.variants.map((loaded, i) => {
    const alerts = memorySink('backtest-alerts', ['alerts']);
    const values = o.sampleValues ? evaluatedValuesSink(loaded) : undefined;
    const sinks: Sink[] = [alerts, ...(values ? [values.sink] : []), ...(o.sinks?.[i] ?? [])];
    // No checkpoint store: replays never read or write partition state.
    const engine = new Engine({ loaded: forReplay(loaded), mode: 'replay', logger: o.logger, sources: branches.map((b) => b[i]), sinks, labels: o.labels, batchSize, stdout: o.stdout ?? process.stderr });
    return { loaded, engine, alerts, values };
  });
  try {
    const summaries = await Promise.all(
      runs.map((r) =>
        r.engine.run().catch((err: unknown) => {
          abort.abort();
          throw err;
        }),
      ),
    );
    return runs.map((r, i) => ({ loaded: r.loaded, summary: summaries[i], alerts: r.alerts.alerts, evaluated: r.values?.samples ?? new Map() }));
  } finally {
    abort.abort();
  }
}

/** Replay needs finite input: generators run unpaced and must have `events`; live Kafka sources never end. */
function finite(s: SourceConfig): SourceConfig {
  if (s.type === 'kafka') {
    throw new VigieError('VIGIE_ERR_USAGE', `source "${s.name}" is a live kafka source, which never ends: give --input FILE or --from-kafka TOPIC --since TIME`);
  }
  if (s.type !== 'generator') return s;
  if (s.events === undefined) throw new VigieError('VIGIE_ERR_USAGE', `replay needs finite input: generator source "${s.name}" has no \`events\` (set it, or give --input)`);
  return { ...s, realtime: false };
}

/** Label a run for outputs. */
export function runInfo(r: VariantRun): RunInfo {
  let events = 0;
  for (const s of Object.values(r.summary.sources)) events += s.events;
  return { config: r.loaded.file, version: r.loaded.version, events, durationMs: r.summary.durationMs };
}

/** The what-if report of two runs. */
export function whatIf(a: VariantRun, b: VariantRun, input: string): WhatIfReport {
  const c = compareAlerts({
    a: a.alerts,
    b: b.alerts,
    detectors: { a: alertingDetectors(a.loaded), b: alertingDetectors(b.loaded) },
    labels: a.summary.labels || b.summary.labels ? { a: a.summary.labels, b: b.summary.labels } : undefined,
  });
  return { a: runInfo(a), b: runInfo(b), input, ...c };
}

// ---------------------------------------------------------------------------------------------
// `vigie replay` with --compare, --report, --from-kafka
// ---------------------------------------------------------------------------------------------

/** A replay never reads or writes partition checkpoints (its sources are not partition-scoped anyway). */
export function forReplay(loaded: LoadedConfig): LoadedConfig {
  return { ...loaded, config: { ...loaded.config, state: { ...loaded.config.state, store: 'none' } } };
}

export interface ReplayArgs {
  input?: string;
  compare?: string;
  json?: boolean;
  report?: string;
  fromKafka?: string;
  since?: string;
  until?: string;
  brokers?: string;
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
}

export interface BacktestOptions {
  a: LoadedConfig;
  b?: LoadedConfig;
  input?: string;
  /** Replay from Kafka: the history source and how to name it. */
  history?: { source: Source; describe: string };
  out?: string;
  labels?: LabelOptions;
  batchSize?: number;
  json?: boolean;
  report?: string;
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
  if (o.out !== undefined) sinks = o.b ? [await replayOutSinks(join(o.out, 'a'), o.logger), await replayOutSinks(join(o.out, 'b'), o.logger)] : [await replayOutSinks(o.out, o.logger)];
  else if (o.b === undefined) sinks = [o.a.config.sinks.map((s) => createSink(s, { baseDir: o.a.baseDir, stdout: process.stderr, logger: o.logger }))];
  const runs = await runVariants({
    variants,
    input: o.input,
    source: o.history?.source,
    labels: o.labels,
    batchSize: o.batchSize,
    logger: o.logger,
    sinks,
    sampleValues: o.report !== undefined,
  });
  const input = o.input ?? o.history?.describe ?? `the sources of ${o.a.file} (${o.a.config.sources.map((s) => s.name).join(', ')})`;
  if (o.report !== undefined) {
    const { renderReport, reportInput } = await import('./report.js');
    const { writeFile } = await import('node:fs/promises');
    const path = resolve(o.report);
    await mkdir(join(path, '..'), { recursive: true });
    await writeFile(path, renderReport(reportInput(runs[0], runs[1], input, new Date())));
    o.logger.info({ report: path }, 'report written');
  }
  if (runs.length === 1) return `${JSON.stringify(runs[0].summary, null, 2)}\n`;
  const r = whatIf(runs[0], runs[1], input);
  return o.json ? `${JSON.stringify(r)}\n` : formatComparison(r);
}
