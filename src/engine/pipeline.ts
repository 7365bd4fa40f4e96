import { z } from 'zod';
import type { Batch, DeadLetter, VEvent } from '../types.js';
import { aggregateSchema, createAggregates } from '../../operators/aggregates/index.js';
import { createWindow, windowSchema } from '../../operators/index.js';
import type { WindowCore } from '../../operators/types.js';
import { ChangedKeys } from '../../operators/types.js';
import { detectorSchema } from '../../detectors/index.js';
import { configHash, DetectorSet, type RestoreMatch } from '../../detectors/runtime.js';
import { VigieError } from '../errors.js';

const scalar = z.union([z.string(), z.number(), z.boolean()]);

/**
 * A pipeline: which events (sources, where), keyed by what, windowed how, aggregated into what,
 * and which detectors judge the results.
 */
export const pipelineSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/i, 'letters, digits, ".", "_" and "-" only').describe('Pipeline name, unique in the config; labels results and metrics.'),
  purpose: z.string().min(1).optional().describe('Why this pipeline processes these events (purpose limitation), e.g. "detect card testing on card payments"; recorded with the config.'),
  fields: z
    .array(z.string().min(1))
    .min(1)
    .optional()
    .describe(
      'The input fields this pipeline may use for its purpose. When given, the config is refused if its key, where, aggregates or detectors name any other field, and every other field is removed from its events before they enter its state or outputs.',
    ),
  alertFields: z
    .array(z.string().min(1))
    .optional()
    .describe(
      'Minimal alerts: the input fields whose values an alert may show in its explanation and details (a first-seen value, ' +
        'geo-velocity coordinates). Values of other fields are left out ("a new device"). Absent: every field the detectors read; ' +
        '`[]`: none. Keys, counts, aggregates and event ids are always shown; evidence carries event ids, never events.',
    ),
  sources: z.array(z.string().min(1)).min(1).optional().describe('Names of the sources this pipeline reads; all sources when absent.'),
  where: z
    .record(z.string(), z.union([scalar, z.array(scalar).min(1)]))
    .optional()
    .describe('Keep only events whose fields equal these values (a list means any of them), e.g. `{ type: payment }`. Others are counted as filtered, not dead-lettered.'),
  key: z
    .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
    .describe('Field (or list of fields, joined with "|") whose value keys windows and alerts. An event without it is dead-lettered with reason missing_key.'),
  window: windowSchema.optional().describe('The window operator: tumbling, hopping, sliding or session. Optional when every detector works on events.'),
  aggregates: z.array(aggregateSchema).default([]).describe('What to compute per key and window (needs a window).'),
  detectors: z.array(detectorSchema).default([]).describe('Detectors judging the events (event detectors) or the window results (threshold, ratio, rate-of-change, baseline).'),
  evidenceLimit: z.number().int().min(0).max(1000).default(20).describe('How many contributing event ids a result (and its alerts) carries at most.'),
  maxPendingEvents: z
    .number()
    .int()
    .positive()
    .default(1_000_000)
    .describe(
      'Most events waiting for the watermark before event detectors see them (they are released in event-time order once the watermark passes them). ' +
        'Beyond it, the detectors move on to the earliest waiting event at once; an event arriving later behind that point is late for them. ' +
        'Counted in vigie_events_released_early_total. A bound on memory when the input is more out of order than `maxOutOfOrderness` lets through.',
    ),
})
  .superRefine((p, ctx) => {
    if (p.window !== undefined && p.aggregates.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['aggregates'], message: 'a window needs at least one aggregate' });
    }
    if (p.window === undefined && p.aggregates.length > 0) {
      ctx.addIssue({ code: 'custom', path: ['window'], message: 'aggregates need a window: add one (tumbling, hopping, sliding or session)' });
    }
    if (p.window === undefined && p.detectors.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['detectors'], message: 'a pipeline without a window needs at least one detector' });
    }
  });
export type PipelineConfig = z.infer<typeof pipelineSchema>;

/**
 * Hash of the part of a pipeline its window state depends on (key, where, sources, window, aggregates,
 * evidenceLimit): a hot reload or a checkpoint keeps a pipeline's window state only when it is equal.
 * Detectors are not part of it: each carries its own hash (see DetectorSet).
 */
export function windowHash(p: PipelineConfig): string {
  return configHash({ key: p.key, where: p.where ?? null, sources: p.sources ?? null, window: p.window ?? null, aggregates: p.aggregates, evidenceLimit: p.evidenceLimit });
}

/** Counters of one pipeline since they were last taken (the engine reports them once per batch). */
export interface PipelineCounts {
  processed: number;
  filtered: number;
  late: number;
  missingKey: number;
  /** Refused by the window's per-key bound (maxWindowsPerKey, maxEventsPerKey). */
  limited: number;
}

export interface PipelineDeps {
  configVersion: string;
  /** Time of detection for something emitted at watermark `w` (processing time live; `w` in replay). */
  detectionTime(w: number): number;
}

/**
 * The pure core of a pipeline over batches: filter, key, window, aggregate, detect.
 * No RxJS here: the engine maps batches through `process`.
 */
export class PipelineCore {
  readonly name: string;
  readonly window: WindowCore;
  readonly detectors: DetectorSet;
  readonly counts: PipelineCounts = { processed: 0, filtered: 0, late: 0, missingKey: 0, limited: 0 };
  private readonly sources: ReadonlySet<string> | undefined;
  private readonly where: Array<[string, readonly unknown[]]>;
  private readonly keyFields: readonly string[];
  /** The fields declared for the pipeline's purpose (undefined: no restriction). */
  private readonly allowed: readonly string[] | undefined;
  private readonly windowed: boolean;
  /** See {@link windowHash}. */
  readonly windowHash: string;
  private w = -Infinity;
  /** Results of the current batch already handed to the detectors. */
  private fed = 0;

  /** `window`: the window core of the previous definition, kept by a hot reload (same {@link windowHash}). */
  constructor(readonly config: PipelineConfig, deps: PipelineDeps, reuse?: { window?: WindowCore }) {
    this.name = config.name;
    this.windowHash = windowHash(config);
    this.sources = config.sources ? new Set(config.sources) : undefined;
    this.where = Object.entries(config.where ?? {}).map(([f, v]) => [f, Array.isArray(v) ? v : [v]]);
    this.keyFields = Array.isArray(config.key) ? config.key : [config.key];
    this.allowed = config.fields;
    const aggregates = createAggregates(config.aggregates);
    this.windowed = config.window !== undefined;
    this.window =
      reuse?.window ??
      (config.window ? createWindow(config.window, { pipeline: config.name, aggregates, evidenceLimit: config.evidenceLimit }) : new NoWindow());
    this.detectors = new DetectorSet(config.detectors, {
      pipeline: config.name,
      keyLabel: this.keyFields.join('|'),
      aggregates: aggregates.map((a) => a.name),
      windowType: config.window?.type ?? 'none',
      evidenceLimit: config.evidenceLimit,
      maxPending: config.maxPendingEvents,
      mayShow: config.alertFields === undefined ? () => true : ((shown: ReadonlySet<string>) => (field: string) => shown.has(field))(new Set(config.alertFields)),
      configVersion: deps.configVersion,
      detectionTime: deps.detectionTime,
      // Event (and signal) detectors hold state per key; result detectors also depend on the window.
      stateScope: { event: JSON.stringify(this.keyFields), signal: JSON.stringify(this.keyFields), result: this.windowHash },
    });
  }

  /**
   * Hot reload: take over the state of the previous definition of this pipeline. Its window core when
   * it was handed to the constructor (same window part), else a fresh window moved to the same clock;
   * the detectors' watermark and pending events; the state and cooldowns of the detectors whose hash
   * is unchanged. Returns the names of the detectors that kept their state.
   */
  carryOver(prev: PipelineCore): string[] {
    this.w = prev.w;
    // A fresh window starts at the pipeline's clock (empty: nothing fires), so no event behind it is taken.
    if (this.window !== prev.window && this.w > this.window.watermark) this.window.advance(this.w, []);
    if (this.detectors.size === 0) return [];
    const kept = this.detectors.restore(prev.detectors.snapshot(), 'by-hash');
    this.detectors.carryCounters(prev.detectors, kept);
    return kept;
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
    const win = this.window;
    const det = this.detectors;
    const where = this.where;
    const c = this.counts;
    this.fed = batch.results.length;
    for (let i = 0; i < events.length; i++) {
      let e = events[i];
      if (this.sources !== undefined && !this.sources.has(e.source)) continue;
      // Purpose limitation: this pipeline sees only the fields it declared (state, outputs and dead letters too).
      if (this.allowed !== undefined) e = { ...e, payload: restrict(e.payload, this.allowed) };
      const w = wm[i];
      if (w > this.w) this.advanceTo(w, batch);
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
      if (this.windowed) {
        const limited = win.limited;
        if (!win.add(key, e, batch.results)) {
          if (win.limited !== limited) {
            c.limited++;
            batch.deadLetters.push(this.deadLetter('window_limit', `key has the most open windows (or buffered events) its window allows`, e));
            continue;
          }
          c.late++;
          batch.deadLetters.push(this.deadLetter('late', `every window of this event had closed (watermark ${this.w})`, e));
          continue;
        }
        // Late events within grace are not replayed to event detectors, which have already moved past them.
        det.offer(key, e, batch);
      } else if (!det.offer(key, e, batch)) {
        c.late++;
        batch.deadLetters.push(this.deadLetter('late', `the watermark (${this.w}) had passed the event's time`, e));
        continue;
      }
      c.processed++;
    }
    if (batch.watermark > this.w) this.advanceTo(batch.watermark, batch);
    this.feedResults(batch);
  }

  /** Window results first (so that they see the state before the move), then the detectors' clock. */
  private advanceTo(w: number, batch: Batch): void {
    this.window.advance(w, batch.results);
    this.feedResults(batch);
    this.w = w;
    if (this.detectors.size > 0) this.detectors.advance(w, batch);
  }

  private feedResults(batch: Batch): void {
    const results = batch.results;
    if (results.length > this.fed && this.detectors.size > 0) {
      this.detectors.onResults(this.fed === 0 ? results : results.slice(this.fed), batch);
    }
    this.fed = results.length;
  }

  /** Take and reset the counters. */
  takeCounts(): PipelineCounts {
    const out = { ...this.counts };
    this.counts.processed = this.counts.filtered = this.counts.late = this.counts.missingKey = this.counts.limited = 0;
    return out;
  }

  snapshot(): unknown {
    return { v: 2, w: this.w, window: this.window.snapshot(), detectors: this.detectors.snapshot() };
  }

  /** What is not per key: the window core's clock and the detectors' state. */
  snapshotMeta(): PipelineMeta {
    return { v: 2, w: this.w, window: this.window.snapshotMeta(), detectors: this.detectors.snapshot() };
  }

  /**
   * Rebuild from an incremental checkpoint: the meta part and every key's entries. `window: false`
   * (the window part changed since) leaves the window empty, at the saved clock; detectors are matched
   * as `match` says. Returns the names of the detectors restored.
   */
  restoreParts(meta: PipelineMeta, entries: unknown[], opts: { window?: boolean; match?: RestoreMatch } = {}): string[] {
    if (meta?.v !== 2) throw new VigieError('VIGIE_ERR_SNAPSHOT', `pipeline "${this.name}": unsupported snapshot version`);
    if (opts.window !== false) this.window.restoreParts(meta.window, entries);
    else if (meta.w > this.window.watermark) this.window.advance(meta.w, []);
    this.w = meta.w;
    return this.detectors.restore(meta.detectors, opts.match ?? 'by-hash');
  }

  restore(s: unknown): void {
    const snap = s as { v: number; w: number; window: unknown; detectors: unknown };
    if (snap?.v !== 2) throw new VigieError('VIGIE_ERR_SNAPSHOT', `pipeline "${this.name}": unsupported snapshot version`);
    this.window.restore(snap.window);
    this.w = snap.w;
    this.detectors.restore(snap.detectors);
  }

  private deadLetter(reason: 'missing_key' | 'late' | 'window_limit', detail: string, e: VEvent): DeadLetter {
    return { reason, detail, source: e.source, pipeline: this.name, partition: e.partition, offset: e.offset, raw: e.payload, time: e.time };
  }
}

export interface PipelineMeta {
  v: 2;
  w: number;
  window: { w: number; seq: number };
  detectors: unknown;
}

/** The window core of a pipeline without a window: holds nothing, accepts everything. */
class NoWindow implements WindowCore {
  readonly changes = new ChangedKeys();
  readonly openWindows = 0;
  readonly keyCount = 0;
  watermark = -Infinity;
  add(): boolean {
    return true;
  }
  advance(w: number): void {
    if (w > this.watermark) this.watermark = w;
  }
  snapshot(): unknown {
    return { w: this.watermark };
  }
  restore(s: unknown): void {
    this.watermark = (s as { w: number }).w;
  }
  keys(): IterableIterator<string> {
    return [][Symbol.iterator]();
  }
  snapshotKey(): undefined {
    return undefined;
  }
  snapshotMeta(): { w: number; seq: number } {
    return { w: this.watermark, seq: 0 };
  }
  restoreParts(meta: { w: number; seq: number }): void {
    this.watermark = meta.w;
  }
}

/** A copy of a payload with only the given fields (own properties only). */
function restrict(payload: Record<string, unknown>, fields: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i];
    if (Object.hasOwn(payload, f)) out[f] = payload[f];
  }
  return out;
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
