import { z } from 'zod';
import type { Batch, DeadLetter, VEvent, WindowResult } from '../types.js';
import { aggregateSchema, createAggregates } from '../../operators/aggregates/index.js';
import { createWindow, windowSchema } from '../../operators/index.js';
import type { WindowCore } from '../../operators/types.js';
import { createDetector, detectorSchema } from '../../detectors/index.js';
import type { Detector } from '../../detectors/types.js';
import { VigieError } from '../errors.js';

const scalar = z.union([z.string(), z.number(), z.boolean()]);

/**
 * A pipeline: which events (sources, where), keyed by what, windowed how, aggregated into what,
 * and which detectors judge the results.
 */
export const pipelineSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/i, 'letters, digits, ".", "_" and "-" only').describe('Pipeline name, unique in the config; labels results and metrics.'),
  sources: z.array(z.string().min(1)).min(1).optional().describe('Names of the sources this pipeline reads; all sources when absent.'),
  where: z
    .record(z.string(), z.union([scalar, z.array(scalar).min(1)]))
    .optional()
    .describe('Keep only events whose fields equal these values (a list means any of them), e.g. `{ type: payment }`. Others are counted as filtered, not dead-lettered.'),
  key: z
    .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
    .describe('Field (or list of fields, joined with "|") whose value keys windows and alerts. An event without it is dead-lettered with reason missing_key.'),
  window: windowSchema.describe('The window operator: tumbling, hopping, sliding or session.'),
  aggregates: z.array(aggregateSchema).min(1).describe('What to compute per key and window.'),
  detectors: z.array(detectorSchema).default([]).describe('Detectors judging each window result.'),
  evidenceLimit: z.number().int().min(0).max(1000).default(20).describe('How many contributing event ids a result (and its alerts) carries at most.'),
});
export type PipelineConfig = z.infer<typeof pipelineSchema>;

/** Counters of one pipeline since they were last taken (the engine reports them once per batch). */
export interface PipelineCounts {
  processed: number;
  filtered: number;
  late: number;
  missingKey: number;
}

export interface PipelineDeps {
  configVersion: string;
  detectionTime(result: WindowResult): number;
}

/**
 * The pure core of a pipeline over batches: filter, key, window, aggregate, detect.
 * No RxJS here: the engine maps batches through `process`.
 */
export class PipelineCore {
  readonly name: string;
  readonly window: WindowCore;
  readonly detectors: Detector[];
  readonly counts: PipelineCounts = { processed: 0, filtered: 0, late: 0, missingKey: 0 };
  private readonly sources: ReadonlySet<string> | undefined;
  private readonly where: Array<[string, readonly unknown[]]>;
  private readonly keyFields: readonly string[];

  constructor(readonly config: PipelineConfig, deps: PipelineDeps) {
    this.name = config.name;
    this.sources = config.sources ? new Set(config.sources) : undefined;
    this.where = Object.entries(config.where ?? {}).map(([f, v]) => [f, Array.isArray(v) ? v : [v]]);
    this.keyFields = Array.isArray(config.key) ? config.key : [config.key];
    const aggregates = createAggregates(config.aggregates);
    this.window = createWindow(config.window, { pipeline: config.name, aggregates, evidenceLimit: config.evidenceLimit });
    const names = new Set<string>();
    this.detectors = config.detectors.map((d) => {
      if (names.has(d.name)) throw new Error(`pipeline "${config.name}": duplicate detector name "${d.name}"`);
      names.add(d.name);
      return createDetector(d, {
        pipeline: config.name,
        keyLabel: this.keyFields.join('|'),
        aggregates: aggregates.map((a) => a.name),
        windowType: config.window.type,
        configVersion: deps.configVersion,
        detectionTime: deps.detectionTime,
      });
    });
  }

  /** Key of a payload, or undefined when a key field is missing or not a scalar. */
  keyOf(payload: Record<string, unknown>): string | undefined {
    const fields = this.keyFields;
    if (fields.length === 1) return scalarKey(payload[fields[0]]);
    let key = '';
    for (let i = 0; i < fields.length; i++) {
      const part = scalarKey(payload[fields[i]]);
      if (part === undefined) return undefined;
      key = i === 0 ? part : `${key}|${part}`;
    }
    return key;
  }

  /** Run a batch through the pipeline, appending results, alerts and dead letters to it. */
  process(batch: Batch): void {
    const { events, wm } = batch;
    const results = batch.results;
    const firstResult = results.length;
    const win = this.window;
    const where = this.where;
    const c = this.counts;
    for (let i = 0; i < events.length; i++) {
      const e = events[i];
      if (this.sources !== undefined && !this.sources.has(e.source)) continue;
      const w = wm[i];
      if (w > win.watermark) win.advance(w, results);
      if (where.length > 0 && !matches(e.payload, where)) {
        c.filtered++;
        continue;
      }
      const key = this.keyOf(e.payload);
      if (key === undefined) {
        c.missingKey++;
        batch.deadLetters.push(this.deadLetter('missing_key', `no usable value for key ${this.keyFields.join(', ')}`, e));
        continue;
      }
      if (!win.add(key, e, results)) {
        c.late++;
        batch.deadLetters.push(this.deadLetter('late', `every window of this event had closed (watermark ${w})`, e));
        continue;
      }
      c.processed++;
    }
    if (batch.watermark > win.watermark) win.advance(batch.watermark, results);
    if (results.length > firstResult && this.detectors.length > 0) {
      const mine = results.slice(firstResult);
      for (const d of this.detectors) d.onResults(mine, batch.alerts);
    }
  }

  /** Take and reset the counters. */
  takeCounts(): PipelineCounts {
    const out = { ...this.counts };
    this.counts.processed = this.counts.filtered = this.counts.late = this.counts.missingKey = 0;
    return out;
  }

  snapshot(): unknown {
    return { v: 1, window: this.window.snapshot(), detectors: this.detectors.map((d) => [d.name, d.snapshot()]) };
  }

  /** What is not per key: the window core's clock and the detectors' state (small). */
  snapshotMeta(): { window: { w: number; seq: number }; detectors: Array<[string, unknown]> } {
    return { window: this.window.snapshotMeta(), detectors: this.detectors.map((d) => [d.name, d.snapshot()]) };
  }

  /** Rebuild from an incremental checkpoint: the meta part and every key's entries. */
  restoreParts(meta: { window: { w: number; seq: number }; detectors: Array<[string, unknown]> }, entries: unknown[]): void {
    this.window.restoreParts(meta.window, entries);
    const byName = new Map(meta.detectors);
    for (const d of this.detectors) if (byName.has(d.name)) d.restore(byName.get(d.name));
  }

  restore(s: unknown): void {
    const snap = s as { v: number; window: unknown; detectors: Array<[string, unknown]> };
    if (snap?.v !== 1) throw new VigieError('VIGIE_ERR_SNAPSHOT', `pipeline "${this.name}": unsupported snapshot version`);
    this.window.restore(snap.window);
    const byName = new Map(snap.detectors);
    for (const d of this.detectors) if (byName.has(d.name)) d.restore(byName.get(d.name));
  }

  private deadLetter(reason: 'missing_key' | 'late', detail: string, e: VEvent): DeadLetter {
    return { reason, detail, source: e.source, pipeline: this.name, partition: e.partition, offset: e.offset, raw: e.payload, time: e.time };
  }
}

function scalarKey(v: unknown): string | undefined {
  if (typeof v === 'string') return v.length > 0 ? v : undefined;
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : undefined;
  if (typeof v === 'boolean') return String(v);
  return undefined;
}

function matches(payload: Record<string, unknown>, where: Array<[string, readonly unknown[]]>): boolean {
  for (let i = 0; i < where.length; i++) {
    const [field, allowed] = where[i];
    if (!allowed.includes(payload[field])) return false;
  }
  return true;
}
