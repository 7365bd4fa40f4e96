import type { Batch, DeadLetter, VEvent } from '../types.js';
import type { WindowCore } from '../../operators/types.js';
import { ChangedKeys } from '../util/key-order.js';
import { keyedEntries, type KeyedEntries } from '../util/keyed-state.js';
import type { DetectorSet, RestoreMatch } from '../../detectors/runtime.js';
import { buildPipeline, type BuildDeps } from '../config/build.js';
import { windowHash, type PipelineConfig } from '../config/pipeline.js';
import { VigieError } from '../errors.js';
import { JoinStage } from './join-stage.js';
import { MissingFields } from './missing-fields.js';
import { EnrichStage } from './enrich.js';

/** Counters of one pipeline since they were last taken (the engine reports them once per batch). */
export interface PipelineCounts {
  processed: number;
  filtered: number;
  late: number;
  missingKey: number;
  /** Refused by the window's per-key bound (maxWindowsPerKey, maxEventsPerKey). */
  limited: number;
  /** Dead-lettered by the `missing` policy (reason missing_field). */
  missingField: number;
  /** Left out by the `missing` policy (`skip`), not dead-lettered. */
  skipped: number;
}

export type PipelineDeps = BuildDeps;

/**
 * The pure core of a pipeline over batches: filter, key, window, aggregate, detect.
 * No RxJS here: the engine maps batches through `process`.
 */
export class PipelineCore {
  readonly name: string;
  readonly window: WindowCore;
  readonly detectors: DetectorSet;
  readonly counts: PipelineCounts = { processed: 0, filtered: 0, late: 0, missingKey: 0, limited: 0, missingField: 0, skipped: 0 };
  private readonly sources: ReadonlySet<string> | undefined;
  private readonly where: Array<[string, readonly unknown[]]>;
  private readonly keyFields: readonly string[];
  private readonly missing: MissingFields | undefined;
  /** The fields declared for the pipeline's purpose (undefined: no restriction). */
  private readonly allowed: readonly string[] | undefined;
  private readonly windowed: boolean;
  /** The interval join the input events go through first (see docs/joins.md). */
  private join: JoinStage | undefined;
  /** See {@link windowHash}. */
  readonly windowHash: string;
  /** Reference data added to events (`enrich`); undefined without it. */
  readonly enrich: EnrichStage | undefined;
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
    this.missing = MissingFields.of(config);
    this.allowed = config.fields;
    this.windowed = config.window !== undefined;
    this.enrich = config.enrich ? new EnrichStage(config.name, config.enrich, deps.tables, config.fields) : undefined;
    const parts = buildPipeline(config, deps, reuse?.window);
    this.window = parts.window ?? new NoWindow();
    this.detectors = parts.detectors;
    if (config.join) this.join = new JoinStage(config.join, this.keyFields, (p) => this.keyOf(p), (r, d, e) => this.deadLetter(r, d, e));
  }

  /**
   * Hot reload: take over the state of the previous definition of this pipeline. Its window core when
   * it was handed to the constructor (same window part), else a fresh window moved to the same clock;
   * the detectors' watermark and pending events; the state and cooldowns of the detectors whose hash
   * is unchanged. Returns the names of the detectors that kept their state.
   */
  carryOver(prev: PipelineCore): string[] {
    this.w = prev.w;
    if (this.join !== undefined && prev.join !== undefined && prev.windowHash === this.windowHash) this.join = prev.join;
    else if (this.join !== undefined) this.join.advance(this.w);
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
    this.fed = batch.results.length;
    this.detectors.beginBatch();
    for (let i = 0; i < events.length; i++) {
      let e = events[i];
      if (this.sources !== undefined && !this.sources.has(e.source)) continue;
      if (this.enrich !== undefined) {
        const enriched = this.enrich.apply(e, batch);
        if (enriched === undefined) continue;
        e = enriched;
      }
      // Purpose limitation: this pipeline sees only the fields it declared (state, outputs and dead letters too).
      if (this.allowed !== undefined) e = { ...e, payload: restrict(e.payload, this.allowed) };
      const w = wm[i];
      if (w > this.w) this.advanceTo(w, batch);
      if (this.join === undefined) this.route(e, batch);
      else for (const j of this.join.input(e, batch, this.counts)) this.route(j, batch);
    }
    if (batch.watermark > this.w) this.advanceTo(batch.watermark, batch);
    this.feedResults(batch);
  }

  /** An event (an input event, or a joined one) through where, key, window and detectors. */
  private route(event: VEvent, batch: Batch): void {
    let e = event;
    const win = this.window;
    const det = this.detectors;
    const where = this.where;
    const c = this.counts;
    if (where.length > 0 && !matches(e.payload, where)) {
      c.filtered++;
      return;
    }
    if (this.missing !== undefined) {
      const v = this.missing.judge(e);
      if (v.action === 'skip') {
        c.skipped++;
        return;
      }
      if (v.action === 'dead-letter') {
        c.missingField++;
        batch.deadLetters.push(this.deadLetter('missing_field', `missing field${v.fields.length > 1 ? 's' : ''} ${v.fields.map((f) => `"${f}"`).join(', ')}`, e));
        return;
      }
      e = v.event;
    }
    const key = this.keyOf(e.payload);
    if (key === undefined) {
      c.missingKey++;
      batch.deadLetters.push(this.deadLetter('missing_key', `no usable value for key ${this.keyFields.join(', ')}`, e));
      return;
    }
    if (this.windowed) {
      const limited = win.limited;
      if (!win.add(key, e, batch.results)) {
        if (win.limited !== limited) {
          c.limited++;
          batch.deadLetters.push(this.deadLetter('window_limit', `key has the most open windows (or buffered events) its window allows`, e));
          return;
        }
        c.late++;
        batch.deadLetters.push(this.deadLetter('late', `every window of this event had closed (watermark ${this.w})`, e));
        return;
      }
      // Late events within grace are not replayed to event detectors, which have already moved past them.
      det.offer(key, e, batch);
    } else if (!det.offer(key, e, batch)) {
      c.late++;
      batch.deadLetters.push(this.deadLetter('late', `the watermark (${this.w}) had passed the event's time`, e));
      return;
    }
    // Joined events are counted at the join, by their input rows.
    if (this.join === undefined) c.processed++;
  }

  /** Left rows a left join emits alone, then window results (so that they see the state before the move), then the detectors' clock. */
  private advanceTo(w: number, batch: Batch): void {
    if (this.join !== undefined) for (const j of this.join.advance(w)) this.route(j, batch);
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
    this.counts.processed = this.counts.filtered = this.counts.late = this.counts.missingKey = this.counts.limited = this.counts.missingField = this.counts.skipped = 0;
    return out;
  }

  snapshot(): unknown {
    return { v: 2, w: this.w, window: this.window.snapshot(), detectors: this.detectors.snapshot(), ...(this.join ? { join: this.join.snapshot() } : {}) };
  }

  /** What is not per key: the window core's clock, the detectors' meta part (see detectors/runtime-state.ts), the join. */
  snapshotMeta(): PipelineMeta {
    return { v: 2, w: this.w, window: this.window.snapshotMeta(), detectors: this.detectors.snapshotMeta(), ...(this.join ? { join: this.join.snapshot() } : {}) };
  }

  /** Record which keys change from now on, in the window and in the detectors (incremental checkpoints). */
  trackChanges(): void {
    this.window.changes.enable();
    this.detectors.changes.enable();
  }

  /** The keys changed since last taken (all the keys held, when `all`); the record starts afresh. */
  takeChangedKeys(all: boolean): Set<string> {
    const keys = this.window.changes.take();
    const detectors = this.detectors.changes.take();
    if (all) {
      keys.clear();
      for (const k of this.window.keys()) keys.add(k);
      for (const k of this.detectors.keys()) keys.add(k);
    } else for (const k of detectors) keys.add(k);
    return keys;
  }

  /** A key's checkpoint entry: [its windows' entries, its detectors' entry or null]; null when it holds nothing. */
  snapshotKey(key: string): KeyEntry | null {
    const windows = this.window.snapshotKey(key);
    const detectors = this.detectors.snapshotKey(key);
    return windows === undefined && detectors === undefined ? null : [windows ?? [], detectors ?? null];
  }

  /**
   * Rebuild from an incremental checkpoint: the meta part, every key's window entries and the
   * detectors' entries per key. `window: false` (the window part changed since) leaves
   * the window empty, at the saved clock; detectors are matched as `match` says. Returns the names of
   * the detectors restored.
   */
  restoreParts(meta: PipelineMeta, entries: unknown[], keyed: KeyedEntries, opts: { window?: boolean; match?: RestoreMatch } = {}): string[] {
    if (meta?.v !== 2) throw new VigieError('VIGIE_ERR_SNAPSHOT', `pipeline "${this.name}": unsupported snapshot version`);
    if (opts.window !== false) {
      this.window.restoreParts(meta.window, entries);
      if (this.join !== undefined && meta.join !== undefined) this.join.restore(meta.join);
    } else if (meta.w > this.window.watermark) this.window.advance(meta.w, []);
    if (this.join !== undefined && meta.w > this.join.core.watermark) this.join.advance(meta.w);
    this.w = meta.w;
    return this.detectors.restoreParts(meta.detectors, keyed, opts.match ?? 'by-hash');
  }

  restore(s: unknown): void {
    const snap = s as { v: number; w: number; window: unknown; detectors: unknown; join?: unknown };
    if (snap?.v !== 2) throw new VigieError('VIGIE_ERR_SNAPSHOT', `pipeline "${this.name}": unsupported snapshot version`);
    this.window.restore(snap.window);
    if (this.join !== undefined && snap.join !== undefined) this.join.restore(snap.join);
    this.w = snap.w;
    this.detectors.restore(snap.detectors);
  }

  private deadLetter(reason: 'missing_key' | 'missing_field' | 'late' | 'window_limit', detail: string, e: VEvent): DeadLetter {
    return { reason, detail, source: e.source, pipeline: this.name, partition: e.partition, offset: e.offset, raw: e.payload, time: e.time };
  }
}

/** A key's entry in a checkpoint: its windows' entries and its detectors' entry (see detectors/runtime-state.ts). */
export type KeyEntry = [unknown[], unknown[] | null];

export interface PipelineMeta {
  v: 2;
  w: number;
  window: { w: number; seq: number };
  detectors: unknown;
  /** The interval join's state (pipelines with a join). */
  join?: unknown;
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
export function restrict(payload: Record<string, unknown>, fields: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i];
    if (Object.hasOwn(payload, f)) out[f] = payload[f];
  }
  return out;
}

export function scalarKey(v: unknown): string | undefined {
  if (typeof v === 'string') return v.length > 0 ? v : undefined;
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : undefined;
  if (typeof v === 'boolean') return String(v);
  return undefined;
}

export function matches(payload: Record<string, unknown>, where: Array<[string, readonly unknown[]]>): boolean {
  for (let i = 0; i < where.length; i++) {
    const [field, allowed] = where[i];
    if (!allowed.includes(payload[field])) return false;
  }
  return true;
}
