import { defaultIfEmpty, EMPTY, from, interval, lastValueFrom, map, merge, mergeMap, Observable, Subject, tap } from 'rxjs';
import type { Logger } from 'pino';
import type { Clock } from '../types.js';
import { systemClock } from '../types.js';
import type { LoadedConfig } from '../config/load.js';
import { createSource } from '../sources/index.js';
import { replaySources, type ReplayInput } from '../sources/replay-input.js';
import type { Source } from '../sources/types.js';
import { createTable, Tables } from '../sources/tables/index.js';
import { RedisCheckpointStore } from '../state/checkpoint-store.js';
import { Pseudonymiser, loadKey } from '../privacy/pseudonymise.js';
import type { EngineMetrics } from '../metrics/registry.js';
import { silentLogger } from '../log.js';
import { createSink } from '../../sinks/index.js';
import type { Sink } from '../../sinks/types.js';
import { engineBatch, type EngineBatch } from './batch.js';
import { Credits } from './credits.js';
import { writeToSinks } from './delivery.js';
import { IngestStage } from './ingest-stage.js';
import { LabelScorer, type LabelOptions } from './labels.js';
import { Partitions, type SeenIds } from './partitions.js';
import { Rekey, REPARTITION_SOURCE } from './rekey.js';
import type { InboxSnapshot } from './rekey-inbox.js';
import type { PipelineCore, PipelineDeps } from './pipeline.js';
import { noChanges } from './reload.js';
import { ReloadQueue, type ReloadHost, type ReloadMechanism, type ReloadResult } from './reload.js';
import { batchStream, deliverInOrder, processEach } from './rx.js';
import type { EngineMode, Summary } from './summary.js';
import { Task } from './task.js';
import { Telemetry } from './telemetry.js';

export type { EngineMode, PipelineSummary, SourceSummary, Summary } from './summary.js';
export type { ReloadChanges, ReloadMechanism, ReloadResult } from './reload.js';

export interface EngineOptions {
  loaded: LoadedConfig;
  mode: EngineMode;
  clock?: Clock;
  logger?: Logger;
  metrics?: EngineMetrics;
  /** Replay: files replacing configured sources (replay --input); the sources without one are made finite. */
  inputs?: readonly ReplayInput[];
  /** Replace the config's sinks (replay --out, tests, benchmarks). */
  sinks?: Sink[];
  /** Replace the config's sources (tests). */
  sources?: Source[];
  stdin?: NodeJS.ReadableStream;
  /** Where console sinks write (stderr in replay, so stdout carries the summary). */
  stdout?: NodeJS.WritableStream;
  /** A person reads the console: console sinks print alerts as short entries (see SinkContext.readable). */
  readable?: boolean;
  labels?: LabelOptions;
  /** Override engine.batchSize. */
  batchSize?: number;
}

/**
 * Runs a config: sources -> ingest (decode, map, watermark) -> pipelines (windows, aggregates,
 * detectors) -> sinks -> checkpoint and commit, as one RxJS stream of batches. Live and replay share
 * this code; replay only differs in its sources (read as fast as possible) and its detection clock.
 * The stages live beside this file (docs/architecture.md); this class wires them.
 */
export class Engine {
  /** The task of unpartitioned sources (files, stdin, generator): one watermark over their partitions. */
  readonly shared: Task;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly abort = new AbortController();
  private readonly credits: Credits;
  private readonly partitions: Partitions;
  private readonly ingest: IngestStage;
  private readonly telemetry: Telemetry;
  private readonly reloads: ReloadQueue;
  private readonly makeTask: (id: string, source?: Source, local?: number) => Task;
  /** Re-keying through repartition topics (live runs with pipelines keyed otherwise than their Kafka input). */
  private readonly rekey: Rekey;
  /** The running config: its pipelines and version change with hot reloads, nothing else does. */
  private loaded: LoadedConfig;
  private readonly deps: () => PipelineDeps;
  /** Asks for a batch now, so that accepted reloads are applied even without input. */
  private readonly reload$ = new Subject<void>();
  /** Asks for a tick now (a rebalance started): every partition with progress is checkpointed at once. */
  private readonly flush$ = new Subject<void>();
  private readonly scorer: LabelScorer | undefined;
  private sources: Source[] = [];
  private sinks: Sink[] = [];
  /** Reference tables (`tables:`): loaded before the first batch, closed at the end. */
  private readonly tables: Tables;
  private stopped = false;
  private started = false;
  /** The batch stream has ended. */
  private ended = false;

  constructor(private readonly opts: EngineOptions) {
    const { config, version } = opts.loaded;
    this.loaded = opts.loaded;
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger ?? silentLogger;
    this.credits = new Credits(config.engine.maxInflightBatches);
    const wm = { maxOutOfOrderness: config.time.maxOutOfOrderness, idleTimeout: opts.mode === 'live' ? config.time.idleTimeout : 0 };
    // Replay stamps detections with event time so that its output is byte-identical run after run.
    const detectionTime =
      opts.mode === 'replay' ? (w: number) => (Number.isFinite(w) ? w : this.eventClock()) : () => this.clock.now();
    const tableCtx = { baseDir: opts.loaded.baseDir, logger: this.logger, metrics: opts.metrics, live: opts.mode === 'live' };
    this.tables = new Tables((config.tables ?? []).map((t) => createTable(t, tableCtx)));
    // Sinks given by the caller (replay --out, backtests) say whether anything takes scores; configured ones always may.
    const publishScores = opts.sinks === undefined || opts.sinks.some((s) => s.outputs.has('scores'));
    this.deps = () => ({ configVersion: this.loaded.version, detectionTime, tables: this.tables.lookups, publishScores });
    this.makeTask = (id, source, local) =>
      new Task(id, this.loaded.config.pipelines, this.deps(), wm, this.clock.now(), source === undefined ? undefined : this.rekey.select(source, local as number));
    this.shared = this.makeTask('shared');
    this.scorer = opts.labels ? new LabelScorer(opts.labels) : undefined;
    this.telemetry = new Telemetry(config, opts.mode, version, this.clock, this.logger, opts.metrics);
    const pseudo = config.privacy?.pseudonymise;
    const pseudonymiser = pseudo ? new Pseudonymiser(pseudo, loadKey(pseudo, opts.loaded.baseDir)) : undefined;
    // Partitions keep the ids the ingest stage remembers for de-duplication in their checkpoints.
    // A repartition topic's partition keeps there what it knows of its upstream partitions (watermarks, offsets).
    const seen = {
      snapshotSeen: (s, pid) => (s === REPARTITION_SOURCE ? this.rekey.snapshot(pid) : this.ingest.snapshotSeen(s, pid)),
      restoreSeen: (s, pid, snap) => (s === REPARTITION_SOURCE ? this.rekey.restore(pid, snap as unknown as InboxSnapshot | undefined, this.clock.now()) : this.ingest.restoreSeen(s, pid, snap)),
    } as SeenIds;
    this.partitions = new Partitions({ clock: this.clock, logger: this.logger, metrics: opts.metrics, makeTask: this.makeTask, interval: () => this.loaded.config.state.interval, seen });
    this.rekey = new Rekey(config, opts.mode === 'live' && opts.sources === undefined, this.partitions, this.logger, opts.metrics, wm);
    const guard = { ...config.time, live: opts.mode === 'live' };
    this.ingest = new IngestStage(this.shared, this.partitions, this.clock, pseudonymiser, guard, this.logger, this.rekey);
    this.reloads = new ReloadQueue(this.reloadHost());
  }

  /** Version of the running config (changes with hot reloads). */
  get version(): string {
    return this.loaded.version;
  }

  /** The running config (its pipelines change with hot reloads). */
  get config(): LoadedConfig {
    return this.loaded;
  }

  /** Tasks of partitioned sources (Kafka), by global partition id. */
  get scopedTasks(): ReadonlyMap<number, Task> {
    return this.partitions.tasks;
  }

  /** Per partition, the highest input position whose outputs every acknowledging sink has made durable. */
  get durablePositions(): ReadonlyMap<number, number> {
    return this.partitions.durablePositions;
  }

  /**
   * Hot reload: run `next` from the next batch on, for every task at once (never in the middle of a
   * batch). Only pipelines can change; a config that changes anything else is rejected and nothing
   * changes. See {@link ReloadQueue.request}. `next` must be valid (see loadConfig).
   */
  reload(next: LoadedConfig, mechanism: ReloadMechanism): Promise<ReloadResult> {
    const refused = this.rekey.refuse(next.config);
    if (refused !== undefined && next.version !== this.loaded.version) {
      return Promise.resolve({ applied: false, mechanism, version: next.version, previous: this.loaded.version, changes: noChanges(), pipelines: noChanges(), errors: [refused] });
    }
    return this.reloads.request(next, mechanism);
  }

  private reloadHost(): ReloadHost {
    const engine = this;
    return {
      get running() {
        return engine.loaded;
      },
      get stopped() {
        return engine.stopped;
      },
      get idle() {
        return !engine.started || engine.ended;
      },
      pipelines: () => this.shared.pipelines,
      deps: () => this.deps(),
      wake: () => this.reload$.next(),
      swap: (next) => {
        this.loaded = next;
        this.rekey.configure(next.config.pipelines);
        const deps = this.deps();
        this.shared.reconfigure(next.config.pipelines, deps);
        for (const task of this.partitions.tasks.values()) task.reconfigure(next.config.pipelines, deps);
      },
      swapped: (result, before: readonly PipelineCore[]) => {
        const pipelineOf = new Map(before.flatMap((p) => p.detectors.slots.map((s) => [s.name, p.name] as const)));
        const removed = new Map(result.changes.removed.map((name) => [name, pipelineOf.get(name) as string]));
        this.telemetry.configure(this.loaded.config, result.version, removed, result.pipelines.removed);
        this.logger.debug({ version: result.version, previous: result.previous, mechanism: result.mechanism, changes: result.changes }, 'config swapped');
      },
    };
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
    if (this.partitions.restoring > 0) reasons.push(`restoring the state of ${this.partitions.restoring} partition(s)`);
    for (const s of this.sources) if (s.healthy && !s.healthy()) reasons.push(`source ${s.name} cannot read (${s.downReason?.() ?? 'reconnecting'})`);
    for (const s of this.sinks) if (s.healthy && !s.healthy()) reasons.push(`sink ${s.name} cannot write (retrying)`);
    return { ready: reasons.length === 0, reasons };
  }

  /**
   * The run so far, for a status line: records read, alerts, dead letters, and the lowest watermark
   * of the tasks that have one (null before any).
   */
  progress(): { records: number; alerts: number; deadLetters: number; watermark: number | null } {
    const s = this.telemetry.summary;
    let records = 0;
    for (const src of Object.values(s.sources)) records += src.in;
    let watermark = Infinity;
    for (const t of [this.shared, ...this.partitions.tasks.values()]) {
      const w = t.tracker.watermark;
      if (Number.isFinite(w) && w < watermark) watermark = w;
    }
    return { records, alerts: s.alerts.total, deadLetters: s.deadLetters.total, watermark: Number.isFinite(watermark) ? watermark : null };
  }

  /** Run until the input ends (replay, finite sources) or stop() is called; resolves with the summary. */
  async run(): Promise<Summary> {
    const t0 = performance.now();
    // Every table whole before the first event: in replay, results then never depend on load timing.
    await this.tables.load();
    try {
      await this.open();
    } catch (err) {
      await this.tables.close();
      throw err;
    }
    const raw$ = merge(...this.sources.map((s) => this.ingest.fromSource(s, this.credits, () => this.stopped))).pipe(map(([s, rb]) => this.ingest.ingest(s, rb)));
    const ticks$ = merge(
      this.opts.mode === 'live' ? merge(interval(this.loaded.config.time.tick), this.flush$).pipe(mergeMap(() => this.tick())) : EMPTY,
      // An empty batch that only carries accepted reloads to the stream (applied at its start).
      this.reload$.pipe(map(() => this.emptyBatch())),
    );
    const batches$ = batchStream<EngineBatch>(raw$, ticks$, () => this.finalBatch()).pipe(
      processEach((b) => this.process(b)),
      deliverInOrder((b) => this.deliver(b)),
      tap(() => this.telemetry.summary.batches++),
      defaultIfEmpty(null),
    );
    try {
      await lastValueFrom(batches$);
      await this.partitions.writeAll();
    } finally {
      this.ended = true;
      this.reloads.abandon();
      await Promise.allSettled(this.sinks.map((s) => s.close()));
      await Promise.allSettled(this.sources.map((s) => s.close()));
      await this.tables.close();
      await this.rekey.close().catch(() => undefined);
      await this.partitions.store?.close();
      this.stopped = true;
    }
    const summary = this.telemetry.finish(performance.now() - t0, this.shared.tracker.watermark, this.scorer?.report());
    let events = 0;
    for (const s of Object.values(summary.sources)) events += s.events;
    this.logger.info({ durationMs: summary.durationMs, events, alerts: summary.alerts.total, deadLetters: summary.deadLetters.total }, 'engine stopped');
    return summary;
  }

  /** Open the checkpoint store, sources (and the repartition topics) and sinks. */
  private async open(): Promise<void> {
    const { config, baseDir } = this.opts.loaded;
    const ctx = {
      baseDir,
      clock: this.clock,
      logger: this.logger,
      batchSize: this.opts.batchSize ?? config.engine.batchSize,
      stdin: this.opts.stdin ?? process.stdin,
      signal: this.abort.signal,
      metrics: this.opts.metrics,
      onAssign: (source: Source, local: number) => {
        this.rekey.assigned(source, local, this.clock.now());
        return this.partitions.assign(source, local);
      },
      onRevoke: (source: Source, locals: readonly number[]) => {
        this.rekey.revoked(source, locals);
        this.partitions.revoke(source, locals);
      },
      onRebalancing: () => {
        this.partitions.forceCheckpoint = true;
        this.flush$.next();
      },
    };
    if (config.state.store === 'redis') this.partitions.store = new RedisCheckpointStore(config.state, this.logger);
    // The same sources as a backtest of this config (src/backtest/run-variants.ts): a replay must equal its backtest.
    const sourceConfigs = () => (this.opts.mode === 'replay' ? replaySources(config.sources, this.opts.inputs ?? [], this.logger) : config.sources);
    this.sources = this.opts.sources ?? sourceConfigs().map((s) => createSource(s, ctx));
    // Re-keying: the repartition topics exist and their producer is connected before any input is read.
    const downstream = await this.rekey.start(config, ctx);
    if (downstream !== undefined) this.sources.push(downstream);
    // A reload applied while the topics were being set up runs already: the upstream follows it.
    this.rekey.configure(this.loaded.config.pipelines);
    for (const s of this.sources) {
      this.ingest.add(s);
      this.telemetry.addSource(s.name, s.mapping.dedup !== undefined);
      if (s.scoped && !this.partitions.store) this.logger.warn({ source: s.name }, 'state.store is none: partition state is not checkpointed and is lost on restart');
    }
    const sinkCtx = { baseDir, stdout: this.opts.stdout ?? process.stdout, readable: this.opts.readable, logger: this.logger, metrics: this.opts.metrics };
    this.sinks = this.opts.sinks ?? config.sinks.map((s) => createSink(s, sinkCtx));
    this.opts.metrics?.declare({ sinks: this.sinks.map((s) => ({ name: s.name, outputs: [...s.outputs] })) });
    if (!this.sinks.some((s) => s.acknowledges)) {
      this.logger.warn({ sinks: this.sinks.map((s) => s.name) }, 'no sink acknowledges writes: outputs are not durable');
    }
    this.started = true;
    this.opts.metrics?.setConfigVersion(this.version);
    this.logger.info({ mode: this.opts.mode, version: this.version, sources: this.sources.map((s) => s.name), pipelines: this.loaded.config.pipelines.map((p) => p.name) }, 'engine started');
  }

  /** Detection time in replay when the watermark is not finite: the event time reached so far. */
  private eventClock(): number {
    const w = this.shared.tracker.watermark;
    if (Number.isFinite(w)) return w;
    const m = this.shared.tracker.maxSeen;
    return Number.isFinite(m) ? m : 0;
  }

  /** A batch without input, at the shared watermark. */
  private emptyBatch(): EngineBatch {
    const b = engineBatch(this.clock.now(), this.shared);
    b.watermark = this.shared.tracker.watermark;
    return b;
  }

  /** Live: idle partitions may release the watermark without any input; quiet partitions are checkpointed. */
  private tick(): Observable<EngineBatch> {
    const tracker = this.shared.tracker;
    const before = tracker.watermark;
    const now = this.clock.now();
    const w = tracker.tick(now);
    const due = this.partitions.due(now);
    const released = this.rekey.ticks(now, (task, pid) => Object.assign(engineBatch(now, task), { partition: pid }));
    if (!(w > before) && due.length === 0) return from(released);
    const b = engineBatch(now, this.shared);
    b.watermark = w;
    b.checkpoints = due;
    return from([...released, b]);
  }

  /** After the last input: W = +Infinity fires every window (rule 6 of docs/semantics.md), unless the run was stopped. */
  private finalBatch(): EngineBatch {
    const b = engineBatch(this.clock.now());
    b.watermark = this.stopped ? this.shared.tracker.watermark : this.shared.tracker.finishAll();
    if (!this.stopped) for (const t of this.partitions.tasks.values()) t.tracker.finishAll();
    b.final = true;
    return b;
  }

  private process(batch: EngineBatch): void {
    const t0 = performance.now();
    // Between two batches: the only place where pipelines may be replaced.
    if (this.reloads.pending) this.reloads.applyAll();
    this.scorer?.observe(batch.events);
    const tasks = [this.shared, ...this.partitions.tasks.values()];
    if (batch.final) {
      // End of input: every task fires what it holds (a stopped run has left W unchanged).
      for (const task of tasks) {
        batch.watermark = task.tracker.watermark;
        for (const p of task.pipelines) p.process(batch);
      }
    } else {
      const task = batch.task;
      const pid = batch.partition;
      // A task replaced or dropped since ingestion (rebalance): the batch is not ours any more.
      if (task !== undefined && (pid === undefined || task === this.shared || this.partitions.owns(pid, task))) {
        const before = batch.deadLetters.length;
        for (const p of task.pipelines) p.process(batch);
        // Pipeline-level dead letters (missing_key, late) carry the engine's partition id: name it as the source does.
        if (batch.deadLetters.length > before && pid !== undefined) this.partitions.localizeBatch(batch, before);
        // Re-keying: this partition's events go on to the repartition topics of the pipelines keyed otherwise.
        if (this.rekey.active && task !== this.shared && pid !== undefined) this.rekey.upstream(batch, task, this.clock.now());
        if (task !== this.shared) this.partitions.processed(batch, task);
      }
    }
    this.scorer?.score(batch.alerts);
    this.telemetry.account(batch, tasks, (performance.now() - t0) / 1000);
    // Sinks take the outputs only: the input events need not wait in memory for the batch's delivery.
    batch.events = [];
  }

  /** Deliver to the sinks, then mark positions durable, write checkpoints and commit, and give the credit back. */
  private async deliver(batch: EngineBatch): Promise<void> {
    // Repartition records are an output like the sinks': the checkpoint and commit wait for both.
    await Promise.all([writeToSinks(batch, this.sinks, this.opts.metrics, this.clock), this.rekey.send(batch)]);
    // Sinks resolved in order, so everything up to these positions is as durable as the sinks make it.
    for (const [pid, offset] of batch.positions) this.partitions.durablePositions.set(pid, offset);
    for (const p of batch.checkpoints) await this.partitions.write(p);
    // Inputs without a credit: ticks and the final batch.
    if (batch.inputs.size > 0) this.credits.release();
    this.opts.metrics?.inflightBatches.set(this.credits.inUse);
  }
}
