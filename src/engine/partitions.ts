/**
 * Partitions of partitioned sources (Kafka): their ids, owners and tasks, restored on assignment from
 * the last checkpoint, and checkpointed then committed once what they processed is delivered.
 */
import type { Logger } from 'pino';
import type { Batch, Clock, DeadLetter } from '../types.js';
import type { CheckpointDelta, CheckpointStore } from '../state/checkpoint-store.js';
import type { EngineMetrics } from '../metrics/registry.js';
import type { Source } from '../sources/types.js';
import type { SeenIdsSnapshot } from '../ingest/ingestor.js';
import type { EngineBatch, PendingCheckpoint } from './batch.js';
import type { Task } from './task.js';

/** The ids a source remembers for de-duplication, per partition (kept in the partition's checkpoint). */
export interface SeenIds {
  snapshotSeen(source: string, pid: number): SeenIdsSnapshot | undefined;
  restoreSeen(source: string, pid: number, snapshot: SeenIdsSnapshot | undefined): void;
}

export interface PartitionsOptions {
  clock: Clock;
  logger: Logger;
  metrics: EngineMetrics | undefined;
  /** A fresh task for a partition of a source (the running config's pipelines that it runs). */
  makeTask(id: string, source: Source, local: number): Task;
  /** The running config's `state.interval`: the least time between two checkpoints of a partition. */
  interval(): number;
  seen: SeenIds;
}

export class Partitions {
  /** Tasks of partitioned sources, by global partition id (one per partition owned). */
  readonly tasks = new Map<number, Task>();
  /** Per partition, the highest input position whose outputs every acknowledging sink has made durable. */
  readonly durablePositions = new Map<number, number>();
  /** Where partition state is checkpointed; none: state is lost on restart. */
  store: CheckpointStore | undefined;
  /** Partitions whose checkpoint is being read (not ready until restored). */
  restoring = 0;
  /** The next due check checkpoints every partition with progress (a rebalance started). */
  forceCheckpoint = false;
  private readonly ids = new Map<string, number>();
  private readonly owners: Array<{ source: Source; local: number }> = [];

  constructor(private readonly o: PartitionsOptions) {}

  /** The engine-wide id of a source's partition (stable for the run). */
  id(source: Source, local: number): number {
    const k = `${source.name}\u0000${local}`;
    let id = this.ids.get(k);
    if (id === undefined) {
      id = this.ids.size;
      this.ids.set(k, id);
      this.owners[id] = { source, local };
    }
    return id;
  }

  /** Name dead letters' partition as their source knows it, not by the engine's id (from index `from` on). */
  localize(dead: DeadLetter[], source: Source, local: number, from = 0): void {
    const where = source.describePartition?.(local) ?? { partition: local };
    for (let i = from; i < dead.length; i++) {
      const dl = dead[i];
      dl.partition = where.partition;
      if (where.topic !== undefined) dl.topic = where.topic;
    }
  }

  /** {@link localize} for dead letters added to a batch by pipelines (they carry the engine's id). */
  localizeBatch(batch: Batch, from: number): void {
    const { source, local } = this.owners[batch.partition as number];
    this.localize(batch.deadLetters, source, local, from);
  }

  /** The source and source-local partition of an engine-wide partition id. */
  ownerOf(pid: number): { source: Source; local: number } | undefined {
    return this.owners[pid];
  }

  /** True while `task` is the one processing `pid` (not revoked or replaced since). */
  owns(pid: number, task: Task): boolean {
    return this.tasks.get(pid) === task;
  }

  /** A partition was given to us: build its task, restoring the last checkpoint; resolves with the offset to resume after. */
  async assign(source: Source, local: number): Promise<number | undefined> {
    const pid = this.id(source, local);
    const task = this.o.makeTask(`${source.name}:${local}`, source, local);
    this.tasks.set(pid, task);
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
    const restored = task.restore(cp, this.o.clock.now(), pid);
    this.o.seen.restoreSeen(source.name, pid, cp.meta.dedup as SeenIdsSnapshot | undefined);
    this.o.metrics?.restoreDuration.observe((performance.now() - t0) / 1000);
    this.o.logger.info({ source: source.name, partition: local, offset: cp.meta.offset, restored }, 'partition state restored');
    return cp.meta.offset;
  }

  /** Partitions taken away: their state goes; batches of theirs still in flight are dropped unprocessed. */
  revoke(source: Source, locals: readonly number[]): void {
    for (const local of locals) {
      const pid = this.id(source, local);
      this.tasks.delete(pid);
      this.durablePositions.delete(pid);
    }
    this.o.logger.info({ source: source.name, partitions: locals }, 'partitions revoked');
  }

  /** After a partition's batch is processed: take its checkpoint when due (written once the batch is delivered). */
  processed(batch: EngineBatch, task: Task): void {
    const pid = batch.partition as number;
    const offset = batch.positions.get(pid);
    if (offset !== undefined) task.lastOffset = offset;
    const now = this.o.clock.now();
    if (now - task.lastCheckpointAt < this.o.interval()) return;
    task.lastCheckpointAt = now;
    task.checkpointedOffset = task.lastOffset;
    batch.checkpoints.push({ pid, task, cp: this.checkpointOf(pid, task, now) });
  }

  /** Checkpoints of partitions that progressed and whose interval has passed (quiet ones too, so a successor does not start far behind). */
  due(now: number): PendingCheckpoint[] {
    const due: PendingCheckpoint[] = [];
    const interval = this.forceCheckpoint ? 0 : this.o.interval();
    this.forceCheckpoint = false;
    for (const [pid, task] of this.tasks) {
      if (task.lastOffset > task.checkpointedOffset && now - task.lastCheckpointAt >= interval) {
        task.lastCheckpointAt = now;
        task.checkpointedOffset = task.lastOffset;
        due.push({ pid, task, cp: this.checkpointOf(pid, task, now) });
      }
    }
    return due;
  }

  /** Everything processed is delivered (end of run): checkpoint and commit every partition once more. */
  async writeAll(): Promise<void> {
    const now = this.o.clock.now();
    for (const [pid, task] of this.tasks) await this.write({ pid, task, cp: this.checkpointOf(pid, task, now) });
  }

  /** A partition task's checkpoint, with the ids its source remembers for de-duplication. */
  private checkpointOf(pid: number, task: Task, now: number): CheckpointDelta {
    const cp = task.checkpoint(now);
    const seen = this.o.seen.snapshotSeen(this.owners[pid].source.name, pid);
    if (seen !== undefined) cp.meta.dedup = seen;
    return cp;
  }

  /** Write a partition's checkpoint, then commit the offsets it covers (rule 13 of docs/semantics.md: in that order). */
  async write({ pid, task, cp }: PendingCheckpoint): Promise<void> {
    if (cp.meta.offset < 0 || !this.owns(pid, task)) return;
    const { source, local } = this.owners[pid];
    const m = this.o.metrics;
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
        this.o.logger.warn({ source: source.name, partition: local, err: (err as Error).message }, 'checkpoint not written: input not committed; retrying with a full checkpoint next time');
        return;
      }
      if (bytes < 0) {
        // Another instance owns the partition now: its state wins; nothing of ours is committed.
        this.o.logger.warn({ source: source.name, partition: local }, 'checkpoint refused: partition owned by a newer member');
        return;
      }
      m?.checkpointBytes.observe(bytes);
      m?.checkpointDuration.observe((performance.now() - t0) / 1000);
    }
    // The partition may have been revoked while the checkpoint was written: its new owner commits now.
    if (!this.owns(pid, task)) return;
    await source.commit?.(new Map([[local, cp.meta.offset]]));
  }
}
