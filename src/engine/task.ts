import { createHash } from 'node:crypto';
import type { PipelineConfig } from './pipeline.js';
import { PipelineCore, type PipelineDeps } from './pipeline.js';
import { WatermarkTracker, type WatermarkOptions, type WatermarkSnapshot } from '../time/watermark.js';
import type { Checkpoint, CheckpointDelta } from '../state/checkpoint-store.js';

/** Hash of one pipeline's config: a checkpoint restores a pipeline only into the same definition. */
export function pipelineHash(p: PipelineConfig): string {
  return createHash('sha256').update(JSON.stringify(p)).digest('hex').slice(0, 12);
}

/**
 * A unit of state: the pipelines and the watermark of a set of partitions. Files, stdin and the
 * generator share one task (W = min over their partitions); a Kafka partition is a task of its own,
 * so its state can be checkpointed, moved to another instance on rebalance, and restored there.
 */
export class Task {
  readonly pipelines: PipelineCore[];
  readonly tracker: WatermarkTracker;
  /** Last input offset processed (scoped tasks). */
  lastOffset = -1;
  /** Offset covered by the last checkpoint taken. */
  checkpointedOffset = -1;
  lastCheckpointAt: number;
  /** Ownership epoch of the partition's checkpoint (see CheckpointStore.acquire). */
  epoch = 0;
  /** The next checkpoint rewrites every key (nothing stored yet matches this state). */
  private full = true;
  private readonly hashes: string[];

  constructor(
    readonly id: string,
    configs: readonly PipelineConfig[],
    deps: PipelineDeps,
    wm: WatermarkOptions,
    now: number,
  ) {
    this.pipelines = configs.map((p) => new PipelineCore(p, deps));
    this.hashes = configs.map(pipelineHash);
    this.tracker = new WatermarkTracker(wm);
    this.lastCheckpointAt = now;
  }

  /** The last checkpoint was not stored: the next one must hold every key, not just the changed ones. */
  requireFull(): void {
    this.full = true;
  }

  /** Record which keys change from now on, for incremental checkpoints. */
  trackChanges(): void {
    for (const p of this.pipelines) p.window.changes.enable();
  }

  /**
   * An incremental checkpoint: the meta part (offset, watermark, per pipeline its hash, clock and
   * detectors) and the entries of the keys changed since the previous one (null: the key has no
   * state any more). Its cost follows the number of keys changed, not the size of the state.
   */
  checkpoint(now: number): CheckpointDelta {
    const full = this.full;
    this.full = false;
    const changes: CheckpointDelta['changes'] = [];
    this.pipelines.forEach((p, i) => {
      const changed = p.window.changes.take();
      const keys = full ? new Set(p.window.keys()) : changed;
      for (const key of keys) changes.push([i, key, p.window.snapshotKey(key) ?? null]);
    });
    const meta: Checkpoint = {
      v: 2,
      offset: this.lastOffset,
      watermark: this.tracker.snapshot(),
      pipelines: this.pipelines.map((p, i) => [p.name, this.hashes[i], p.snapshotMeta()]),
      savedAt: now,
    };
    return { meta, changes, full };
  }

  /**
   * Restore what matches: pipelines whose definition changed start afresh (and the next checkpoint is
   * then a full one). `entries[i]` holds the stored entries of pipeline i. `partition` is the
   * partition's id in this process: a scoped task's watermark is about that one partition, whatever
   * id the process that saved it gave it. Returns the names restored.
   */
  restore(cp: Checkpoint, entries: unknown[][], now: number, partition?: number): string[] {
    const wm = cp.watermark as WatermarkSnapshot;
    const partitions = partition === undefined ? wm.partitions : wm.partitions.map(([, max, finished]) => [partition, max, finished] as [number, number, boolean]);
    this.tracker.restore({ w: wm.w, partitions }, now);
    this.lastOffset = cp.offset;
    this.checkpointedOffset = cp.offset;
    const byName = new Map(cp.pipelines.map(([name, hash, meta], i) => [name, { hash, meta, i }]));
    const restored: string[] = [];
    this.pipelines.forEach((p, i) => {
      const saved = byName.get(p.name);
      if (saved && saved.hash === this.hashes[i]) {
        p.restoreParts(saved.meta as Parameters<PipelineCore['restoreParts']>[0], entries[saved.i] ?? []);
        restored.push(p.name);
      }
    });
    this.full = restored.length !== this.pipelines.length || cp.pipelines.length !== this.pipelines.length;
    return restored;
  }
}
