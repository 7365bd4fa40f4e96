import { extname, resolve } from 'node:path';
import { defaultIfEmpty, EMPTY, interval, lastValueFrom, map, merge, mergeMap, Observable, of, Subject, tap } from 'rxjs';
import type { Logger } from 'pino';
import type { Batch, Clock, DeadLetterReason, WindowResult } from '../types.js';
import { emptyBatch, systemClock } from '../types.js';
import type { LoadedConfig } from '../config/load.js';
import type { SourceConfig } from '../sources/index.js';
import { createSource } from '../sources/index.js';
import type { RawBatch, Source } from '../sources/types.js';
import { Ingestor, type SeenIdsSnapshot } from '../ingest/ingestor.js';
import { WatermarkTracker } from '../time/watermark.js';
import { Task } from './task.js';
import type { PipelineDeps } from './pipeline.js';
import { stableJson } from '../util/json.js';
import { RedisCheckpointStore, type CheckpointStore, type CheckpointDelta } from '../state/checkpoint-store.js';
import { Credits } from './credits.js';
import { batchStream, deliverInOrder, processEach } from './rx.js';
import { KeyedState } from '../util/keyed-state.js';
import { Pseudonymiser, loadKey } from '../privacy/pseudonymise.js';
import { LabelScorer, type LabelOptions, type LabelReport } from './labels.js';
import { createSink } from '../../sinks/index.js';
import type { Sink, SinkBatch } from '../../sinks/types.js';
import type { EngineMetrics } from '../metrics/registry.js';
import { silentLogger } from '../log.js';
import { VigieError } from '../errors.js';

export type EngineMode = 'live' | 'replay';

/** A shadow alert overlaps a live one for the same pipeline and key raised up to this long before it (event time). */
const SHADOW_OVERLAP_MS = 3_600_000;

export interface EngineOptions {
  loaded: LoadedConfig;
  mode: EngineMode;
  clock?: Clock;
  logger?: Logger;
  metrics?: EngineMetrics;
  /** Replace the config's sources with one file (replay --input). */
  input?: string;
  /** Replace the config's sinks (replay --out, tests, benchmarks). */
  sinks?: Sink[];
  /** Replace the config's sources (tests). */
  sources?: Source[];
  stdin?: NodeJS.ReadableStream;
  /** Where console sinks write (stderr in replay, so stdout carries the summary). */
  stdout?: NodeJS.WritableStream;
  labels?: LabelOptions;
  /** Override engine.batchSize. */
  batchSize?: number;
}

export interface SourceSummary {
  in: number;
  events: number;
  deadLettered: Partial<Record<DeadLetterReason, number>>;
  /** Events dropped as redeliveries of a seen id; present for sources with `dedup` (in = events + dead-lettered + duplicates). */
  duplicates?: number;
}

export interface PipelineSummary {
  processed: number;
  filtered: number;
  late: number;
  missingKey: number;
  /** Events refused by the window's per-key bound (dead-lettered as window_limit); absent when none. */
  windowLimited?: number;
  /** Events handed to event detectors early because more than maxPendingEvents waited; absent when none. */
  releasedEarly?: number;
  results: number;
}

/** What a pipeline's state bounds did since last logged. */
interface BoundCounts {
  windowKeysEvicted: number;
  windowLimited: number;
  detectorKeysEvicted: number;
  releasedEarly: number;
}

export interface Summary {
  name: string;
  mode: EngineMode;
  configVersion: string;
  durationMs: number;
  eventsPerSecond: number;
  batches: number;
  watermark: number | null;
  sources: Record<string, SourceSummary>;
  pipelines: Record<string, PipelineSummary>;
  alerts: { total: number; byDetector: Record<string, { total: number; bySeverity: Record<string, number> }> };
  /** Alerts of detectors in shadow mode, and how many came after a live alert for the same pipeline and key (within an hour). */
  shadowAlerts: { total: number; byDetector: Record<string, { total: number; overlapping: number }> };
  /** Per detector: situations found, repeats suppressed by cooldowns, signals whose conditions did not hold, keys held and evicted. */
  detectors: Record<string, { pipeline: string; signals: number; suppressed: number; unmet: number; keys: number; evicted: number }>;
  deadLetters: { total: number; byReason: Partial<Record<DeadLetterReason, number>> };
  labels?: LabelReport;
}

/** How a hot reload was asked for (a label of `vigie_config_reloads_total` and of the audit log). */
export type ReloadMechanism = 'signal' | 'file' | 'redis' | 'api';

/** Names sorted by what a reload does to their state. */
export interface ReloadChanges {
  /** New: start fresh. */
  added: string[];
  /** Same name, but their config (or, for detectors, the input they read) changed: start fresh. */
  changed: string[];
  /** No longer configured: dropped. */
  removed: string[];
  /** Keep their state. */
  unchanged: string[];
}

/** What {@link Engine.reload} did. */
export interface ReloadResult {
  /** True once the new config runs (the swap happened between two batches). */
  applied: boolean;
  /** The config given is the one already running (or about to): nothing to do. */
  unchanged?: boolean;
  mechanism: ReloadMechanism;
  /** Version of the config given. */
  version: string;
  /** Version running before (still running when not applied). */
  previous: string;
  /** Detectors, by name (names are unique in a config). */
  changes: ReloadChanges;
  /** Pipelines: `changed` means the window part changed (window state restarted); their detectors are judged one by one. */
  pipelines: ReloadChanges;
  /** Why the change was rejected. */
  errors?: string[];
}

/** Top-level sections that a hot reload may not change (`pipelines` may; `reload` settings apply at the next start). */
const RESTART_SECTIONS = ['name', 'time', 'sources', 'sinks', 'engine', 'state', 'metrics', 'privacy'] as const;

const noChanges = (): ReloadChanges => ({ added: [], changed: [], removed: [], unchanged: [] });

/** Sources given by extension: .msgpack / .mpk / .msgpackr are MessagePack, anything else NDJSON. */
function inputSource(path: string, template: SourceConfig): SourceConfig {
  const { time, processingTime, id, fields, maxEventBytes } = template;
  const ext = extname(path).toLowerCase();
  const type = ext === '.msgpack' || ext === '.mpk' ? 'msgpack-file' : 'ndjson-file';
  return { name: template.name, type, path, time, processingTime, id, fields, maxEventBytes } as SourceConfig;
}

/**
 * Runs a config: sources -> ingest (decode, map, watermark) -> pipelines (windows, aggregates,
 * detectors) -> sinks -> acknowledgement, as one RxJS stream of batches. Live and replay share
 * this code; replay only differs in its sources (read as fast as possible) and its detection clock.
 */
export class Engine {
  /** The task of unpartitioned sources (files, stdin, generator): one watermark over their partitions. */
  readonly shared: Task;
  /** Tasks of partitioned sources (Kafka), by global partition id. */
  readonly scopedTasks = new Map<number, Task>();
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly abort = new AbortController();
  private readonly credits: Credits;
  private readonly partitionIds = new Map<string, number>();
  private readonly partitionOwners: Array<{ source: Source; local: number }> = [];
  private readonly taskOf = new WeakMap<Batch, Task>();
  /** Duplicates dropped while ingesting a batch (sources with `dedup`), counted when the batch is accounted. */
  private readonly duplicatesOf = new WeakMap<Batch, number>();
  private readonly checkpoints = new WeakMap<Batch, Array<{ pid: number; task: Task; cp: CheckpointDelta }>>();
  private store: CheckpointStore | undefined;
  private readonly makeTask: (id: string) => Task;
  /** The running config: its pipelines and version change with hot reloads, nothing else does. */
  private loaded: LoadedConfig;
  private readonly deps: () => PipelineDeps;
  /** Reloads accepted, applied at the start of the next batch (in order). */
  private readonly reloads: Array<{ next: LoadedConfig; mechanism: ReloadMechanism; resolve: (r: ReloadResult) => void }> = [];
  /** Asks for a batch now, so that accepted reloads are applied even without input. */
  private readonly reload$ = new Subject<void>();
  /** Asks for a tick now (a rebalance started): every partition with progress is checkpointed at once. */
  private readonly flush$ = new Subject<void>();
  private forceCheckpoint = false;
  private readonly summary: Summary;
  private readonly scorer: LabelScorer | undefined;
  private sources: Source[] = [];
  private sinks: Sink[] = [];
  /** Last live alert time per pipeline and key, to tell whether shadow alerts overlap live ones. */
  private readonly liveAlerts = new KeyedState<number>(100_000);
  /** Replaces personal identifiers at ingestion (config `privacy.pseudonymise`). */
  private readonly pseudonymiser: Pseudonymiser | undefined;
  /** Partitions whose checkpoint is being read (not ready until restored). */
  private restoring = 0;
  private ingestors = new Map<string, Ingestor>();
  private stopped = false;
  private started = false;
  /** The batch stream has ended. */
  private ended = false;
  /** Per partition, the highest input position whose outputs every acknowledging sink has made durable. */
  readonly durablePositions = new Map<number, number>();

  constructor(private readonly opts: EngineOptions) {
    const { config, version } = opts.loaded;
    this.loaded = opts.loaded;
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger ?? silentLogger;
    this.credits = new Credits(config.engine.maxInflightBatches);
    const pseudo = config.privacy?.pseudonymise;
    this.pseudonymiser = pseudo ? new Pseudonymiser(pseudo, loadKey(pseudo, opts.loaded.baseDir)) : undefined;
    const wm = { maxOutOfOrderness: config.time.maxOutOfOrderness, idleTimeout: opts.mode === 'live' ? config.time.idleTimeout : 0 };
    // Replay stamps detections with event time so that its output is byte-identical run after run.
    const detectionTime =
      opts.mode === 'replay' ? (w: number) => (Number.isFinite(w) ? w : this.eventClock()) : () => this.clock.now();
    this.deps = () => ({ configVersion: this.loaded.version, detectionTime });
    this.makeTask = (id) => new Task(id, this.loaded.config.pipelines, this.deps(), wm, this.clock.now());
    this.shared = this.makeTask('shared');
    this.scorer = opts.labels ? new LabelScorer(opts.labels) : undefined;
    this.summary = {
      name: config.name,
      mode: opts.mode,
      configVersion: version,
      durationMs: 0,
      eventsPerSecond: 0,
      batches: 0,
      watermark: null,
      sources: {},
      pipelines: Object.fromEntries(config.pipelines.map((p) => [p.name, { processed: 0, filtered: 0, late: 0, missingKey: 0, results: 0 }])),
      alerts: { total: 0, byDetector: {} },
      shadowAlerts: { total: 0, byDetector: {} },
      detectors: Object.fromEntries(
        config.pipelines.flatMap((p) => p.detectors.map((d) => [d.name, { pipeline: p.name, signals: 0, suppressed: 0, unmet: 0, keys: 0, evicted: 0 }])),
      ),
      deadLetters: { total: 0, byReason: {} },
    };
  }

  /** Version of the running config (changes with hot reloads). */
  get version(): string {
    return this.loaded.version;
  }

  /** The running config (its pipelines change with hot reloads). */
  get config(): LoadedConfig {
    return this.loaded;
  }

  /**
   * Hot reload: run `next` from the next batch on, for every task at once (never in the middle of a
   * batch). Only pipelines can change; a config that changes anything else is rejected and nothing
   * changes. Window state is kept for pipelines whose window part is unchanged, detector state and
   * cooldowns for detectors whose config and input are unchanged; the rest starts fresh. Resolves
   * once the new config runs (or with the reason it does not). `next` must be valid (see loadConfig).
   */
  reload(next: LoadedConfig, mechanism: ReloadMechanism): Promise<ReloadResult> {
    const target = this.reloads.length > 0 ? this.reloads[this.reloads.length - 1].next : this.loaded;
    const result: ReloadResult = { applied: false, mechanism, version: next.version, previous: this.loaded.version, changes: noChanges(), pipelines: noChanges() };
    if (next.version === target.version) return Promise.resolve({ ...result, unchanged: true });
    const errors: string[] = [];
    if (this.stopped) errors.push('the engine is stopping');
    for (const section of RESTART_SECTIONS) {
      if (stableJson(next.config[section]) !== stableJson(target.config[section])) errors.push(`changes to ${section} need a restart (only pipelines can be reloaded)`);
    }
    // Build the new pipelines once now: what only shows when they are built is rejected here, not mid-stream.
    let trial: Task | undefined;
    try {
      trial = new Task('reload', next.config.pipelines, this.deps(), { maxOutOfOrderness: 0, idleTimeout: 0 }, 0);
    } catch (err) {
      errors.push(`pipelines: ${(err as Error).message}`);
    }
    if (trial) Object.assign(result, this.diff(trial));
    if (errors.length > 0) return Promise.resolve({ ...result, errors });
    return new Promise<ReloadResult>((resolve) => {
      this.reloads.push({ next, mechanism, resolve });
      // Not running (yet or any more): no batch is being processed, swap now.
      if (!this.started || this.ended) this.applyReloads();
      else this.reload$.next();
    });
  }

  /** What replacing the running pipelines by `trial`'s would keep, restart, add and drop. */
  private diff(trial: Task): Pick<ReloadResult, 'changes' | 'pipelines'> {
    const changes = noChanges();
    const pipelines = noChanges();
    const running = new Map(this.shared.pipelines.map((p) => [p.name, p]));
    const before = new Map<string, { pipeline: string; hash: string }>();
    for (const p of this.shared.pipelines) for (const [name, hash] of p.detectors.hashes()) before.set(name, { pipeline: p.name, hash });
    const after = new Set<string>();
    for (const p of trial.pipelines) {
      const old = running.get(p.name);
      (old === undefined ? pipelines.added : old.windowHash === p.windowHash ? pipelines.unchanged : pipelines.changed).push(p.name);
      for (const [name, hash] of p.detectors.hashes()) {
        after.add(name);
        const b = before.get(name);
        (b === undefined ? changes.added : b.pipeline === p.name && b.hash === hash ? changes.unchanged : changes.changed).push(name);
      }
    }
    const names = new Set(trial.pipelines.map((p) => p.name));
    for (const p of this.shared.pipelines) if (!names.has(p.name)) pipelines.removed.push(p.name);
    for (const name of before.keys()) if (!after.has(name)) changes.removed.push(name);
    return { changes, pipelines };
  }

  /** Swap in the accepted reloads, in order: between batches, every task at once. */
  private applyReloads(): void {
    for (const r of this.reloads.splice(0)) r.resolve(this.swap(r.next, r.mechanism));
  }

  private swap(next: LoadedConfig, mechanism: ReloadMechanism): ReloadResult {
    const previous = this.loaded.version;
    const old = this.shared.pipelines;
    this.loaded = next;
    const deps = this.deps();
    const swaps = this.shared.reconfigure(next.config.pipelines, deps);
    for (const task of this.scopedTasks.values()) task.reconfigure(next.config.pipelines, deps);
    // Every task has the same pipelines and detectors, so the shared one tells what happened.
    const changes = noChanges();
    const pipelines = noChanges();
    const detectorsBefore = new Map(old.flatMap((p) => p.detectors.slots.map((s) => [s.name, p.name] as const)));
    const detectorsAfter = new Set<string>();
    swaps.forEach((sw, i) => {
      (sw.window === 'added' ? pipelines.added : sw.window === 'kept' ? pipelines.unchanged : pipelines.changed).push(sw.name);
      const kept = new Set(sw.detectorsKept);
      for (const slot of this.shared.pipelines[i].detectors.slots) {
        detectorsAfter.add(slot.name);
        (kept.has(slot.name) ? changes.unchanged : detectorsBefore.has(slot.name) ? changes.changed : changes.added).push(slot.name);
      }
    });
    for (const p of old) if (!next.config.pipelines.some((c) => c.name === p.name)) pipelines.removed.push(p.name);
    for (const name of detectorsBefore.keys()) if (!detectorsAfter.has(name)) changes.removed.push(name);

    // Outputs and metrics follow the new config.
    const s = this.summary;
    const m = this.opts.metrics;
    s.configVersion = next.version;
    for (const p of next.config.pipelines) {
      s.pipelines[p.name] ??= { processed: 0, filtered: 0, late: 0, missingKey: 0, results: 0 };
      for (const d of p.detectors) {
        const ds = (s.detectors[d.name] ??= { pipeline: p.name, signals: 0, suppressed: 0, unmet: 0, keys: 0, evicted: 0 });
        ds.pipeline = p.name;
      }
    }
    if (m) {
      for (const name of pipelines.removed) {
        m.openWindows.remove({ pipeline: name });
        m.stateKeys.remove({ pipeline: name });
      }
      for (const name of changes.removed) m.detectorKeys.remove({ pipeline: detectorsBefore.get(name) as string, detector: name });
      m.setConfigVersion(next.version);
    }
    for (const name of changes.removed) s.detectors[name].keys = 0;
    this.logger.debug({ version: next.version, previous, mechanism, changes }, 'config swapped');
    return { applied: true, mechanism, version: next.version, previous, changes, pipelines };
  }

  /** Ask a live run to stop: sources stop, in-flight batches finish, sinks flush. Open windows do not fire. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.abort.abort();
    this.credits.drain();
  }

  /** True once sources are open and sinks built (for /readyz). */
  get ready(): boolean {
    return this.started && !this.stopped;
  }

  /** Readiness with reasons (for /readyz): running, every source able to read and every sink able to write. */
  readiness(): { ready: boolean; reasons: string[] } {
    const reasons: string[] = [];
    if (!this.started) reasons.push('engine not started');
    if (this.stopped) reasons.push('engine stopping');
    if (this.restoring > 0) reasons.push(`restoring the state of ${this.restoring} partition(s)`);
    for (const s of this.sources) if (s.healthy && !s.healthy()) reasons.push(`source ${s.name} cannot read (${s.downReason?.() ?? 'reconnecting'})`);
    for (const s of this.sinks) if (s.healthy && !s.healthy()) reasons.push(`sink ${s.name} cannot write (retrying)`);
    return { ready: reasons.length === 0, reasons };
  }

  /** Run until the input ends (replay, finite sources) or stop() is called; resolves with the summary. */
  async run(): Promise<Summary> {
    const { config, baseDir } = this.opts.loaded;
    const t0 = performance.now();
    const batchSize = this.opts.batchSize ?? config.engine.batchSize;
    const ctx = {
      baseDir,
      clock: this.clock,
      logger: this.logger,
      batchSize,
      stdin: this.opts.stdin ?? process.stdin,
      signal: this.abort.signal,
      metrics: this.opts.metrics,
      onAssign: (source: Source, local: number) => this.assign(source, local),
      onRevoke: (source: Source, locals: readonly number[]) => this.revoke(source, locals),
      onRebalancing: () => {
        this.forceCheckpoint = true;
        this.flush$.next();
      },
    };
    if (config.state.store === 'redis') this.store = new RedisCheckpointStore(config.state, this.logger);
    const sourceConfigs = this.opts.input ? [inputSource(resolve(this.opts.input), config.sources[0])] : config.sources.map((s) => this.forMode(s));
    this.sources = this.opts.sources ?? sourceConfigs.map((s) => createSource(s, ctx));
    for (const s of this.sources) {
      this.ingestors.set(s.name, new Ingestor(s.name, s.format, s.mapping, s.recordMeta));
      this.summary.sources[s.name] = { in: 0, events: 0, deadLettered: {} };
      if (s.mapping.dedup !== undefined) this.summary.sources[s.name].duplicates = 0;
      if (!s.scoped) for (const p of s.partitions()) this.shared.tracker.register(this.partitionId(s, p), this.clock.now());
      if (s.scoped && !this.store) this.logger.warn({ source: s.name }, 'state.store is none: partition state is not checkpointed and is lost on restart');
    }
    const sinkCtx = { baseDir, stdout: this.opts.stdout ?? process.stdout, logger: this.logger, metrics: this.opts.metrics };
    this.sinks = this.opts.sinks ?? config.sinks.map((s) => createSink(s, sinkCtx));
    if (!this.sinks.some((s) => s.acknowledges)) {
      this.logger.warn({ sinks: this.sinks.map((s) => s.name) }, 'no sink acknowledges writes: outputs are not durable');
    }
    this.started = true;
    this.opts.metrics?.setConfigVersion(this.version);
    this.logger.info({ mode: this.opts.mode, version: this.version, sources: this.sources.map((s) => s.name), pipelines: this.loaded.config.pipelines.map((p) => p.name) }, 'engine started');

    const raw$ = merge(...this.sources.map((s) => this.fromSource(s))).pipe(map(([s, rb]) => this.ingest(s, rb)));
    const ticks$ = merge(
      this.opts.mode === 'live' ? merge(interval(config.time.tick), this.flush$).pipe(mergeMap(() => this.tick())) : EMPTY,
      this.reload$.pipe(map(() => this.reloadBatch())),
    );
    const batches$ = batchStream(raw$, ticks$, () => this.finalBatch()).pipe(
      processEach((b) => this.process(b)),
      deliverInOrder((b) => this.deliver(b)),
      tap(() => this.summary.batches++),
      defaultIfEmpty(null),
    );
    try {
      await lastValueFrom(batches$);
      // Everything processed is delivered: checkpoint and commit every partition once more.
      for (const [pid, task] of this.scopedTasks) await this.checkpointAndCommit(pid, task, this.checkpointOf(pid, task, this.clock.now()));
    } finally {
      this.ended = true;
      for (const r of this.reloads.splice(0)) {
        r.resolve({
          applied: false,
          mechanism: r.mechanism,
          version: r.next.version,
          previous: this.loaded.version,
          changes: noChanges(),
          pipelines: noChanges(),
          errors: ['the engine stopped before the change could be applied'],
        });
      }
      await Promise.allSettled(this.sinks.map((s) => s.close()));
      await Promise.allSettled(this.sources.map((s) => s.close()));
      await this.store?.close();
      this.stopped = true;
    }
    const ms = performance.now() - t0;
    let events = 0;
    for (const s of Object.values(this.summary.sources)) events += s.events;
    this.summary.durationMs = Math.round(ms);
    this.summary.eventsPerSecond = ms > 0 ? Math.round((events * 1000) / ms) : 0;
    const w = this.shared.tracker.watermark;
    this.summary.watermark = Number.isFinite(w) ? w : null;
    if (this.scorer) this.summary.labels = this.scorer.report();
    this.logger.info({ durationMs: this.summary.durationMs, events, alerts: this.summary.alerts.total, deadLetters: this.summary.deadLetters.total }, 'engine stopped');
    return this.summary;
  }

  /** A partitioned source was given a partition: build its task, restoring the last checkpoint. */
  private async assign(source: Source, local: number): Promise<number | undefined> {
    const pid = this.partitionId(source, local);
    const task = this.makeTask(`${source.name}:${local}`);
    this.scopedTasks.set(pid, task);
    if (!this.store || !source.checkpointId) return undefined;
    task.trackChanges();
    const t0 = performance.now();
    this.restoring++;
    let acquired;
    try {
      acquired = await this.store.acquire(source.checkpointId(local));
    } finally {
      this.restoring--;
    }
    const { epoch, checkpoint: cp } = acquired;
    task.epoch = epoch;
    if (cp === undefined) return undefined;
    const restored = task.restore(cp.meta, cp.entries, this.clock.now(), pid);
    this.ingestors.get(source.name)?.restoreSeen(pid, cp.meta.dedup as SeenIdsSnapshot | undefined);
    this.opts.metrics?.restoreDuration.observe((performance.now() - t0) / 1000);
    this.logger.info({ source: source.name, partition: local, offset: cp.meta.offset, restored }, 'partition state restored');
    return cp.meta.offset;
  }

  /** Partitions taken away: their state goes; batches of theirs still in flight are dropped unprocessed. */
  private revoke(source: Source, locals: readonly number[]): void {
    for (const local of locals) {
      const pid = this.partitionId(source, local);
      this.scopedTasks.delete(pid);
      this.durablePositions.delete(pid);
    }
    this.logger.info({ source: source.name, partitions: locals }, 'partitions revoked');
  }

  /** Write a partition's checkpoint, then commit the offsets it covers (rule 13: in that order). */
  private async checkpointAndCommit(pid: number, task: Task, cp: CheckpointDelta): Promise<void> {
    if (cp.meta.offset < 0 || this.scopedTasks.get(pid) !== task) return;
    const { source, local } = this.partitionOwners[pid];
    const m = this.opts.metrics;
    if (this.store && source.checkpointId) {
      const t0 = performance.now();
      let bytes: number;
      try {
        bytes = await this.store.save(source.checkpointId(local), task.epoch, cp);
      } catch (err) {
        // The changes this delta held are gone from the task's tracking: the next checkpoint is full.
        // Nothing is committed, so the input is read again after a restart: no loss.
        task.requireFull();
        // Due again at the next interval, even if no new input arrives.
        if (task.checkpointedOffset >= cp.meta.offset) task.checkpointedOffset = cp.meta.offset - 1;
        m?.checkpointFailures.inc();
        this.logger.warn({ source: source.name, partition: local, err: (err as Error).message }, 'checkpoint not written: input not committed; retrying with a full checkpoint next time');
        return;
      }
      if (bytes < 0) {
        // Another instance owns the partition now: its state wins; nothing of ours is committed.
        this.logger.warn({ source: source.name, partition: local }, 'checkpoint refused: partition owned by a newer member');
        return;
      }
      m?.checkpointBytes.observe(bytes);
      m?.checkpointDuration.observe((performance.now() - t0) / 1000);
    }
    // The partition may have been revoked while the checkpoint was written: its new owner commits now.
    if (this.scopedTasks.get(pid) !== task) return;
    await source.commit?.(new Map([[local, cp.meta.offset]]));
  }

  /** Replay reads everything as fast as possible: generators run unpaced and must be finite. */
  private forMode(s: SourceConfig): SourceConfig {
    if (this.opts.mode !== 'replay' || s.type !== 'generator') return s;
    if (s.events === undefined) {
      throw new VigieError('VIGIE_ERR_USAGE', `replay needs finite input: generator source "${s.name}" has no \`events\` (set it, or give --input)`);
    }
    return { ...s, realtime: false };
  }

  private partitionId(source: Source, partition: number): number {
    const k = `${source.name}\u0000${partition}`;
    let id = this.partitionIds.get(k);
    if (id === undefined) {
      id = this.partitionIds.size;
      this.partitionIds.set(k, id);
      this.partitionOwners[id] = { source, local: partition };
    }
    return id;
  }

  private eventClock(): number {
    const w = this.shared.tracker.watermark;
    if (Number.isFinite(w)) return w;
    const m = this.shared.tracker.maxSeen;
    return Number.isFinite(m) ? m : 0;
  }

  /** Pull batches from a source, one credit per batch: a slow sink slows the source down. */
  private fromSource(source: Source): Observable<[Source, RawBatch]> {
    return new Observable<[Source, RawBatch]>((subscriber) => {
      let closed = false;
      const it = source.batches()[Symbol.asyncIterator]();
      (async () => {
        for (;;) {
          await this.credits.acquire();
          if (closed || this.stopped) {
            this.credits.release();
            break;
          }
          const next = await it.next();
          if (next.done || closed) {
            this.credits.release();
            break;
          }
          subscriber.next([source, next.value]);
        }
        subscriber.complete();
      })().catch((err) => subscriber.error(new VigieError('VIGIE_ERR_SOURCE', `source "${source.name}": ${(err as Error).message}`, { cause: err })));
      return () => {
        closed = true;
        void it.return?.(undefined);
      };
    });
  }

  /** Decode and map a raw batch into an engine batch, computing the watermark after each event. */
  private ingest(source: Source, rb: RawBatch): Batch {
    const now = this.clock.now();
    const batch = emptyBatch(now);
    const pid = this.partitionId(source, rb.partition);
    batch.partition = pid;
    const task = source.scoped ? this.scopedTasks.get(pid) : this.shared;
    const ingestor = this.ingestors.get(source.name) as Ingestor;
    const records = rb.records;
    batch.inputs.set(source.name, records.length);
    if (task === undefined) {
      // Revoked between fetch and processing: the partition's new owner processes these records.
      return batch;
    }
    this.taskOf.set(batch, task);
    const wm = new Float64Array(records.length);
    const events = batch.events;
    const tracker = task.tracker;
    const dead = batch.deadLetters;
    for (let i = 0; i < records.length; i++) {
      const deadBefore = dead.length;
      const e = ingestor.ingest(records[i], pid, now, dead);
      // Personal identifiers become pseudonyms here, before any pipeline, state, log or output sees them.
      if (this.pseudonymiser !== undefined) {
        for (let d = deadBefore; d < dead.length; d++) this.pseudonymiser.deadLetter(dead[d]);
        if (e !== undefined) this.pseudonymiser.event(e);
      }
      if (e === undefined) continue;
      wm[events.length] = tracker.observe(pid, e.time, now);
      events.push(e);
    }
    const duplicates = ingestor.takeDuplicates();
    if (duplicates > 0) this.duplicatesOf.set(batch, duplicates);
    // Dead letters name the partition as the source knows it, not the engine's internal id.
    if (dead.length > 0) {
      const where = source.describePartition?.(rb.partition) ?? { partition: rb.partition };
      for (const dl of dead) {
        dl.partition = where.partition;
        if (where.topic !== undefined) dl.topic = where.topic;
      }
    }
    if (events.length === 0 && records.length > 0) tracker.touch(pid, now);
    batch.wm = wm.subarray(0, events.length);
    if (records.length > 0) batch.positions.set(pid, records[records.length - 1].offset);
    if (rb.end) tracker.finish(pid);
    batch.watermark = tracker.watermark;
    return batch;
  }

  /** Live: idle partitions may release the watermark without any input. */
  private tick(): Observable<Batch> {
    const tracker = this.shared.tracker;
    const before = tracker.watermark;
    const now = this.clock.now();
    const w = tracker.tick(now);
    const due = this.dueCheckpoints(now);
    if (!(w > before) && due.length === 0) return EMPTY;
    const b = emptyBatch(now);
    b.watermark = w;
    this.taskOf.set(b, this.shared);
    // Quiet partitions are checkpointed too, so that a successor does not start from far behind.
    if (due.length > 0) this.checkpoints.set(b, due);
    return of(b);
  }

  /** An empty batch that only carries accepted reloads to the stream (applied at its start). */
  private reloadBatch(): Batch {
    const b = emptyBatch(this.clock.now());
    b.watermark = this.shared.tracker.watermark;
    this.taskOf.set(b, this.shared);
    return b;
  }

  /** Checkpoints of partition tasks that progressed and whose interval has passed. */
  private dueCheckpoints(now: number): Array<{ pid: number; task: Task; cp: CheckpointDelta }> {
    const due: Array<{ pid: number; task: Task; cp: CheckpointDelta }> = [];
    const interval = this.forceCheckpoint ? 0 : this.loaded.config.state.interval;
    this.forceCheckpoint = false;
    for (const [pid, task] of this.scopedTasks) {
      if (task.lastOffset > task.checkpointedOffset && now - task.lastCheckpointAt >= interval) {
        task.lastCheckpointAt = now;
        task.checkpointedOffset = task.lastOffset;
        due.push({ pid, task, cp: this.checkpointOf(pid, task, now) });
      }
    }
    return due;
  }

  /** After the last input: W = +Infinity fires every window (rule 6), unless the run was stopped. */
  private finalBatch(): Batch {
    const b = emptyBatch(this.clock.now());
    b.watermark = this.stopped ? this.shared.tracker.watermark : this.shared.tracker.finishAll();
    if (!this.stopped) for (const t of this.scopedTasks.values()) t.tracker.finishAll();
    b.final = true;
    return b;
  }

  private process(batch: Batch): void {
    const t0 = performance.now();
    // Between two batches: the only place where pipelines may be replaced.
    if (this.reloads.length > 0) this.applyReloads();
    this.scorer?.observe(batch.events);
    if (batch.final) {
      // End of input: every task fires what it holds (a stopped run has left W unchanged).
      for (const task of [this.shared, ...this.scopedTasks.values()]) {
        batch.watermark = task.tracker.watermark;
        for (const p of task.pipelines) p.process(batch);
      }
    } else {
      const task = this.taskOf.get(batch);
      // A task replaced or dropped since ingestion (rebalance): the batch is not ours any more.
      if (task !== undefined && (batch.partition === undefined || task === this.shared || this.scopedTasks.get(batch.partition) === task)) {
        const before = batch.deadLetters.length;
        for (const p of task.pipelines) p.process(batch);
        if (batch.deadLetters.length > before && batch.partition !== undefined) this.localize(batch, before);
        if (task !== this.shared) this.maybeCheckpoint(batch, task);
      }
    }
    this.scorer?.score(batch.alerts);
    this.account(batch, (performance.now() - t0) / 1000);
  }

  /** Pipeline-level dead letters (missing_key, late) carry the engine's partition id: name it as the source does. */
  private localize(batch: Batch, from: number): void {
    const { source, local } = this.partitionOwners[batch.partition as number];
    const where = source.describePartition?.(local) ?? { partition: local };
    for (let i = from; i < batch.deadLetters.length; i++) {
      const dl = batch.deadLetters[i];
      dl.partition = where.partition;
      if (where.topic !== undefined) dl.topic = where.topic;
    }
  }

  /** Take a checkpoint of a partition task when due; it is written and committed once the batch is delivered. */
  private maybeCheckpoint(batch: Batch, task: Task): void {
    const pid = batch.partition as number;
    const offset = batch.positions.get(pid);
    if (offset !== undefined) task.lastOffset = offset;
    const now = this.clock.now();
    if (now - task.lastCheckpointAt < this.loaded.config.state.interval) return;
    task.lastCheckpointAt = now;
    task.checkpointedOffset = task.lastOffset;
    this.checkpoints.set(batch, [{ pid, task, cp: this.checkpointOf(pid, task, now) }]);
  }

  /** A partition task's checkpoint, with the ids its source remembers for de-duplication. */
  private checkpointOf(pid: number, task: Task, now: number): CheckpointDelta {
    const cp = task.checkpoint(now);
    const seen = this.ingestors.get(this.partitionOwners[pid].source.name)?.snapshotSeen(pid);
    if (seen !== undefined) cp.meta.dedup = seen;
    return cp;
  }

  /** Write the batch to every sink; resolves once the acknowledging ones have it durable. */
  private async deliver(batch: Batch): Promise<void> {
    const out: SinkBatch = { alerts: batch.alerts, results: batch.results, deadLetters: batch.deadLetters, scores: batch.scores, shadowAlerts: batch.shadowAlerts };
    const m = this.opts.metrics;
    if (out.alerts.length + out.results.length + out.deadLetters.length + out.scores.length + out.shadowAlerts.length > 0) {
      await Promise.all(
        this.sinks.map(async (sink) => {
          const t0 = performance.now();
          try {
            await sink.write(out);
          } catch (err) {
            m?.sinkWriteErrors.inc({ sink: sink.name });
            throw new VigieError('VIGIE_ERR_SINK', `sink "${sink.name}": ${(err as Error).message}`, { cause: err });
          }
          if (m) {
            m.sinkWrites.inc({ sink: sink.name });
            m.sinkWriteDuration.observe({ sink: sink.name }, (performance.now() - t0) / 1000);
            for (const output of sink.outputs) {
              const n = out[output].length;
              if (n > 0) m.sinkRecords.inc({ sink: sink.name, output }, n);
            }
          }
        }),
      );
      if (m && out.alerts.length > 0) {
        const seconds = Math.max(0, (this.clock.now() - batch.ingestedAt) / 1000);
        for (const a of out.alerts) m.deliveryLatency.observe({ detector: a.detector }, seconds);
      }
    }
    if (m) {
      for (const s of this.sinks) {
        if (s.healthy) m.sinkUp.set({ sink: s.name }, s.healthy() ? 1 : 0);
        if (s.bufferFill) m.sinkBufferFill.set({ sink: s.name }, s.bufferFill());
      }
    }
    // Sinks resolved in order, so everything up to these positions is as durable as the sinks make it.
    for (const [pid, offset] of batch.positions) this.durablePositions.set(pid, offset);
    for (const { pid, task, cp } of this.checkpoints.get(batch) ?? []) await this.checkpointAndCommit(pid, task, cp);
    // Inputs without a credit: ticks and the final batch.
    if (batch.inputs.size > 0) this.credits.release();
    m?.inflightBatches.set(this.credits.inUse);
  }

  /** Per pipeline: state-bound events not logged yet, and when the last line was written. */
  private readonly boundsLog = new Map<string, { at: number; counts: BoundCounts }>();

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
      this.boundsLog.set(pipeline, (b = { at: -Infinity, counts: { windowKeysEvicted: 0, windowLimited: 0, detectorKeysEvicted: 0, releasedEarly: 0 } }));
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

  /** Window evictions already reported, per window core (cores count cumulatively, restores included). */
  private readonly windowEvictionsSeen = new WeakMap<object, number>();

  /** Counters and metrics, once per batch. */
  private account(batch: Batch, seconds: number): void {
    const s = this.summary;
    const m = this.opts.metrics;
    for (const [name, n] of batch.inputs) {
      s.sources[name].in += n;
      m?.eventsIn.inc({ source: name }, n);
    }
    // A raw batch holds one source's records: count its events once, not per event.
    if (batch.events.length > 0) s.sources[batch.events[0].source].events += batch.events.length;
    const duplicates = this.duplicatesOf.get(batch);
    if (duplicates !== undefined) {
      // Ingested batches hold one source's records.
      for (const name of batch.inputs.keys()) {
        s.sources[name].duplicates = (s.sources[name].duplicates ?? 0) + duplicates;
        m?.eventsDuplicate.inc({ source: name }, duplicates);
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
    const tasks = [this.shared, ...this.scopedTasks.values()];
    const detectorKeys = new Map<string, number>();
    this.shared.pipelines.forEach((p, i) => {
      let open = 0;
      let keys = 0;
      let evicted = 0;
      const c = { processed: 0, filtered: 0, late: 0, missingKey: 0, limited: 0 };
      let detectorEvicted = 0;
      let releasedEarly = 0;
      for (const t of tasks) {
        // Every task builds the config's pipelines in the same order.
        const tp = t.pipelines[i];
        const tc = tp.takeCounts();
        c.processed += tc.processed;
        c.filtered += tc.filtered;
        c.late += tc.late;
        c.missingKey += tc.missingKey;
        c.limited += tc.limited;
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
      if (c.limited > 0) ps.windowLimited = (ps.windowLimited ?? 0) + c.limited;
      if (releasedEarly > 0) ps.releasedEarly = (ps.releasedEarly ?? 0) + releasedEarly;
      this.reportBounds(p.name, { windowKeysEvicted: evicted, windowLimited: c.limited, detectorKeysEvicted: detectorEvicted, releasedEarly });
      if (m) {
        m.eventsProcessed.inc({ pipeline: p.name }, c.processed);
        m.eventsFiltered.inc({ pipeline: p.name }, c.filtered);
        m.eventsLate.inc({ pipeline: p.name }, c.late);
        m.openWindows.set({ pipeline: p.name }, open);
        m.stateKeys.set({ pipeline: p.name }, keys);
        if (evicted > 0) m.windowEvictions.inc({ pipeline: p.name }, evicted);
        if (releasedEarly > 0) m.eventsReleasedEarly.inc({ pipeline: p.name }, releasedEarly);
      }
    });
    for (const r of batch.results) {
      s.pipelines[r.pipeline].results++;
      m?.windowResults.inc({ pipeline: r.pipeline, kind: r.kind });
    }
    const now = this.clock.now();
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
    if (m) {
      m.batchDuration.observe(seconds);
      m.batchEvents.observe(batch.events.length);
      const w = this.shared.tracker.watermark;
      if (Number.isFinite(w)) {
        m.watermark.set(w / 1000);
        m.watermarkLag.set(Math.max(0, (now - w) / 1000));
      }
      const seen = this.shared.tracker.maxSeen;
      if (Number.isFinite(seen)) m.eventTimeLag.set(Math.max(0, (now - seen) / 1000));
    }
  }
}
