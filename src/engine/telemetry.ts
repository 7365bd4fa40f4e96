/** The run's summary and its metrics: counted once per batch from what the batch and the pipelines report. */
import type { Logger } from 'pino';
import type { Clock } from '../types.js';
import type { VigieConfig } from '../config/schema.js';
import type { EngineMetrics } from '../metrics/registry.js';
import { KeyedState } from '../util/keyed-state.js';
import type { EngineBatch } from './batch.js';
import type { LabelReport } from './labels.js';
import type { DetectorSummary, EngineMode, PipelineSummary, Summary } from './summary.js';
import type { Task } from './task.js';

/** A shadow alert overlaps a live one for the same pipeline and key raised up to this long before it (event time). */
const SHADOW_OVERLAP_MS = 3_600_000;

/** What a pipeline's state bounds did since last logged. */
interface BoundCounts {
  windowKeysEvicted: number;
  windowLimited: number;
  detectorKeysEvicted: number;
  releasedEarly: number;
}

const newPipelineSummary = (): PipelineSummary => ({ processed: 0, filtered: 0, late: 0, missingKey: 0, results: 0 });
const newDetectorSummary = (pipeline: string): DetectorSummary => ({ pipeline, signals: 0, suppressed: 0, unmet: 0, keys: 0, evicted: 0 });
const newBoundCounts = (): BoundCounts => ({ windowKeysEvicted: 0, windowLimited: 0, detectorKeysEvicted: 0, releasedEarly: 0 });

/** Counts a run's batches into its summary and its metrics (never per event: once per batch). */
export class Telemetry {
  readonly summary: Summary;
  /** Last live alert time per pipeline and key, to tell whether shadow alerts overlap live ones. */
  private readonly liveAlerts = new KeyedState<number>(100_000);
  /** Per pipeline: state-bound events not logged yet, and when the last line was written. */
  private readonly boundsLog = new Map<string, { at: number; counts: BoundCounts }>();
  /** Window evictions already reported, per window core (cores count cumulatively, restores included). */
  private readonly windowEvictionsSeen = new WeakMap<object, number>();
  /** Pipelines already judged by {@link warnIfAllFiltered}, and when each first filtered an event. */
  private readonly allFilteredWarned = new Set<string>();
  private readonly firstFiltered = new Map<string, number>();

  constructor(
    config: VigieConfig,
    mode: EngineMode,
    version: string,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly metrics: EngineMetrics | undefined,
  ) {
    this.summary = {
      name: config.name,
      mode,
      configVersion: version,
      durationMs: 0,
      eventsPerSecond: 0,
      batches: 0,
      watermark: null,
      sources: {},
      pipelines: {},
      alerts: { total: 0, byDetector: {} },
      shadowAlerts: { total: 0, byDetector: {} },
      detectors: {},
      deadLetters: { total: 0, byReason: {} },
    };
    this.configure(config, version);
  }

  /** A source to count (its duplicates too when it drops redeliveries). */
  addSource(name: string, dedup: boolean): void {
    this.summary.sources[name] = { in: 0, events: 0, deadLettered: {} };
    if (dedup) this.summary.sources[name].duplicates = 0;
    this.metrics?.declare({ sources: [name] });
  }

  /** The running config changed (start, hot reload): its pipelines and detectors are counted from now on. */
  configure(config: VigieConfig, version: string, removedDetectors: ReadonlyMap<string, string> = new Map(), removedPipelines: readonly string[] = []): void {
    const s = this.summary;
    s.configVersion = version;
    for (const p of config.pipelines) {
      const ps = (s.pipelines[p.name] ??= newPipelineSummary());
      if (p.missing !== undefined) {
        ps.missingField ??= 0;
        ps.skipped ??= 0;
      }
      if (p.enrich !== undefined) {
        ps.enriched ??= 0;
        ps.missingRows ??= 0;
        for (const e of p.enrich) for (const outcome of ['hit', 'miss']) this.metrics?.enrichLookups.inc({ pipeline: p.name, table: e.table, outcome }, 0);
      }
      for (const d of p.detectors) (s.detectors[d.name] ??= newDetectorSummary(p.name)).pipeline = p.name;
    }
    for (const name of removedDetectors.keys()) s.detectors[name].keys = 0;
    const m = this.metrics;
    if (m) {
      // Series exist at zero from the start, so increase() sees the first alert after a start or a reload
      // (shadow detectors never alert on vigie_alerts_total).
      m.declare({ pipelines: config.pipelines.map((p) => p.name), detectors: config.pipelines.flatMap((p) => p.detectors.filter((d) => !d.shadow).map((d) => d.name)) });
      for (const name of removedPipelines) {
        m.openWindows.remove({ pipeline: name });
        m.stateKeys.remove({ pipeline: name });
      }
      for (const [name, pipeline] of removedDetectors) m.detectorKeys.remove({ pipeline, detector: name });
      m.setConfigVersion(version);
    }
  }

  /** Count a processed batch: inputs, dead letters, per pipeline and detector counters, results and alerts. */
  account(batch: EngineBatch, tasks: readonly Task[], seconds: number): void {
    this.inputs(batch);
    this.pipelines(tasks);
    this.outputs(batch);
    const m = this.metrics;
    if (m) {
      const now = this.clock.now();
      m.batchDuration.observe(seconds);
      m.batchEvents.observe(batch.events.length);
      const tracker = tasks[0].tracker;
      const w = tracker.watermark;
      if (Number.isFinite(w)) {
        m.watermark.set(w / 1000);
        m.watermarkLag.set(Math.max(0, (now - w) / 1000));
      }
      const seen = tracker.maxSeen;
      if (Number.isFinite(seen)) m.eventTimeLag.set(Math.max(0, (now - seen) / 1000));
    }
  }

  private inputs(batch: EngineBatch): void {
    const s = this.summary;
    const m = this.metrics;
    for (const [name, n] of batch.inputs) {
      s.sources[name].in += n;
      m?.eventsIn.inc({ source: name }, n);
    }
    // A raw batch holds one source's records: count its events once, not per event.
    // Re-keyed events keep their source's name: they count as events of the repartition source that read them.
    if (batch.events.length > 0) s.sources[batch.inputs.size > 0 ? (batch.inputs.keys().next().value as string) : batch.events[0].source].events += batch.events.length;
    if (batch.duplicates > 0) {
      for (const name of batch.inputs.keys()) {
        s.sources[name].duplicates = (s.sources[name].duplicates ?? 0) + batch.duplicates;
        m?.eventsDuplicate.inc({ source: name }, batch.duplicates);
      }
    }
    for (const dl of batch.deadLetters) {
      // Per source, only what never became an event (rule 15: in = events + dead-lettered at ingestion);
      // pipeline-level reasons (missing_key, late) are counted by their pipeline.
      if (dl.pipeline === undefined) {
        const src = s.sources[dl.source];
        src.deadLettered[dl.reason] = (src.deadLettered[dl.reason] ?? 0) + 1;
      }
      s.deadLetters.byReason[dl.reason] = (s.deadLetters.byReason[dl.reason] ?? 0) + 1;
      m?.eventsDeadLettered.inc({ source: dl.source, reason: dl.reason });
    }
    s.deadLetters.total += batch.deadLetters.length;
  }

  /** Per pipeline, summed over every task (the first runs every pipeline; the others all or some of them, in config order). */
  private pipelines(tasks: readonly Task[]): void {
    const s = this.summary;
    const m = this.metrics;
    const detectorKeys = new Map<string, number>();
    tasks[0].pipelines.forEach((p, i) => {
      const c = { processed: 0, filtered: 0, late: 0, missingKey: 0, limited: 0, missingField: 0, skipped: 0 };
      let open = 0;
      let keys = 0;
      let evicted = 0;
      let detectorEvicted = 0;
      let releasedEarly = 0;
      let hits = 0;
      let misses = 0;
      for (const t of tasks) {
        const tp = t.pipelines[i]?.name === p.name ? t.pipelines[i] : t.pipelines.find((q) => q.name === p.name);
        if (tp === undefined) continue;
        const tc = tp.takeCounts();
        for (const ec of tp.enrich?.takeCounts() ?? []) {
          hits += ec.hits;
          misses += ec.misses;
          if (m && ec.hits > 0) m.enrichLookups.inc({ pipeline: p.name, table: ec.table, outcome: 'hit' }, ec.hits);
          if (m && ec.misses > 0) m.enrichLookups.inc({ pipeline: p.name, table: ec.table, outcome: 'miss' }, ec.misses);
        }
        c.processed += tc.processed;
        c.filtered += tc.filtered;
        c.late += tc.late;
        c.missingKey += tc.missingKey;
        c.limited += tc.limited;
        c.missingField += tc.missingField;
        c.skipped += tc.skipped;
        open += tp.window.openWindows;
        keys += tp.window.keyCount;
        const ev = tp.window.evicted ?? 0;
        // A restore may lower the count: report only increases.
        evicted += Math.max(0, ev - (this.windowEvictionsSeen.get(tp.window) ?? 0));
        this.windowEvictionsSeen.set(tp.window, ev);
        releasedEarly += tp.detectors.takeReleasedEarly();
        for (const [name, dc] of tp.detectors.takeCounts()) {
          const ds = s.detectors[name];
          ds.signals += dc.signals;
          ds.suppressed += dc.suppressed;
          ds.unmet += dc.unmet;
          ds.evicted += dc.evicted;
          detectorEvicted += dc.evicted;
          detectorKeys.set(name, (detectorKeys.get(name) ?? 0) + dc.keys);
          if (m) {
            const labels = { pipeline: p.name, detector: name };
            if (dc.signals > 0) m.detectorSignals.inc(labels, dc.signals);
            if (dc.suppressed > 0) m.alertsSuppressed.inc(labels, dc.suppressed);
            if (dc.unmet > 0) m.detectorUnmet.inc(labels, dc.unmet);
            if (dc.evicted > 0) m.detectorEvictions.inc(labels, dc.evicted);
          }
        }
      }
      for (const [name, n] of detectorKeys) {
        s.detectors[name].keys = n;
        m?.detectorKeys.set({ pipeline: p.name, detector: name }, n);
      }
      detectorKeys.clear();
      const ps = s.pipelines[p.name];
      ps.processed += c.processed;
      ps.filtered += c.filtered;
      ps.late += c.late;
      ps.missingKey += c.missingKey;
      if (hits + misses > 0) {
        ps.enriched = (ps.enriched ?? 0) + hits;
        ps.missingRows = (ps.missingRows ?? 0) + misses;
      }
      if (c.limited > 0) ps.windowLimited = (ps.windowLimited ?? 0) + c.limited;
      if (c.missingField > 0) ps.missingField = (ps.missingField ?? 0) + c.missingField;
      if (c.skipped > 0) ps.skipped = (ps.skipped ?? 0) + c.skipped;
      this.warnIfAllFiltered(p.name, ps);
      if (releasedEarly > 0) ps.releasedEarly = (ps.releasedEarly ?? 0) + releasedEarly;
      this.reportBounds(p.name, { windowKeysEvicted: evicted, windowLimited: c.limited, detectorKeysEvicted: detectorEvicted, releasedEarly });
      if (m) {
        m.eventsProcessed.inc({ pipeline: p.name }, c.processed);
        m.eventsFiltered.inc({ pipeline: p.name }, c.filtered);
        if (c.skipped > 0) m.eventsSkipped.inc({ pipeline: p.name }, c.skipped);
        m.eventsLate.inc({ pipeline: p.name }, c.late);
        m.openWindows.set({ pipeline: p.name }, open);
        m.stateKeys.set({ pipeline: p.name }, keys);
        if (evicted > 0) m.windowEvictions.inc({ pipeline: p.name }, evicted);
        if (releasedEarly > 0) m.eventsReleasedEarly.inc({ pipeline: p.name }, releasedEarly);
      }
    });
  }

  private outputs(batch: EngineBatch): void {
    const s = this.summary;
    const m = this.metrics;
    for (const r of batch.results) {
      s.pipelines[r.pipeline].results++;
      m?.windowResults.inc({ pipeline: r.pipeline, kind: r.kind });
    }
    for (const a of batch.alerts) {
      let d = s.alerts.byDetector[a.detector];
      if (d === undefined) {
        d = { total: 0, bySeverity: {} };
        s.alerts.byDetector[a.detector] = d;
      }
      d.total++;
      d.bySeverity[a.severity] = (d.bySeverity[a.severity] ?? 0) + 1;
      if (m) {
        m.alerts.inc({ detector: a.detector, severity: a.severity });
        m.detectionLatency.observe({ detector: a.detector }, Math.max(0, (a.detectedAt - a.eventTime) / 1000));
      }
    }
    s.alerts.total += batch.alerts.length;
    // Shadow alerts, and whether live alerts covered the same pipeline and key shortly before.
    for (const a of batch.alerts) this.liveAlerts.set(`${a.pipeline}\u0000${a.key}`, a.eventTime);
    for (const a of batch.shadowAlerts) {
      let d = s.shadowAlerts.byDetector[a.detector];
      if (d === undefined) {
        d = { total: 0, overlapping: 0 };
        s.shadowAlerts.byDetector[a.detector] = d;
      }
      d.total++;
      const live = this.liveAlerts.peek(`${a.pipeline}\u0000${a.key}`);
      const overlapping = live !== undefined && live <= a.eventTime && a.eventTime - live <= SHADOW_OVERLAP_MS;
      if (overlapping) d.overlapping++;
      if (m) {
        m.shadowAlerts.inc({ detector: a.detector, severity: a.severity });
        if (overlapping) m.shadowOverlap.inc({ detector: a.detector });
      }
    }
    s.shadowAlerts.total += batch.shadowAlerts.length;
  }

  /**
   * A pipeline whose `where` has filtered out every event for a minute (or 10,000 events) matches
   * nothing: most likely a misspelt value. Said once per pipeline, as a warning.
   */
  private warnIfAllFiltered(pipeline: string, ps: PipelineSummary): void {
    if (ps.filtered === 0 || this.allFilteredWarned.has(pipeline)) return;
    if (ps.processed + ps.late + ps.missingKey + (ps.missingField ?? 0) + (ps.skipped ?? 0) > 0) {
      this.allFilteredWarned.add(pipeline);
      return;
    }
    const now = this.clock.now();
    const since = this.firstFiltered.get(pipeline) ?? now;
    this.firstFiltered.set(pipeline, since);
    if (ps.filtered < 10_000 && now - since < 60_000) return;
    this.allFilteredWarned.add(pipeline);
    this.logger.warn(
      { pipeline, filtered: ps.filtered },
      'pipeline has filtered out every event so far: its `where` matches nothing (a misspelt value?); `vigie validate` names values that never occur in built-in generators',
    );
  }

  /**
   * State bounds reached (window or detector keys evicted, events refused by a per-key window bound,
   * events released early) are counted in metrics at once, and logged as one warning per pipeline a
   * minute at most.
   */
  private reportBounds(pipeline: string, counts: BoundCounts): void {
    const names = Object.keys(counts) as Array<keyof BoundCounts>;
    let b = this.boundsLog.get(pipeline);
    if (b === undefined) {
      if (names.every((k) => counts[k] === 0)) return;
      this.boundsLog.set(pipeline, (b = { at: -Infinity, counts: newBoundCounts() }));
    }
    for (const k of names) b.counts[k] += counts[k];
    const now = this.clock.now();
    if (names.every((k) => b.counts[k] === 0) || now - b.at < 60_000) return;
    this.logger.warn(
      { pipeline, ...b.counts },
      'state bounds reached: keys evicted, events refused or released early (maxKeys, maxWindowsPerKey, maxPendingEvents); raise the bounds or narrow the pipeline if this persists',
    );
    b.at = now;
    for (const k of names) b.counts[k] = 0;
  }

  /** Close the summary: duration, rate and the final watermark. */
  finish(ms: number, watermark: number, labels: LabelReport | undefined): Summary {
    const s = this.summary;
    let events = 0;
    for (const src of Object.values(s.sources)) events += src.events;
    s.durationMs = Math.round(ms);
    s.eventsPerSecond = ms > 0 ? Math.round((events * 1000) / ms) : 0;
    s.watermark = Number.isFinite(watermark) ? watermark : null;
    if (labels) s.labels = labels;
    return s;
  }
}
