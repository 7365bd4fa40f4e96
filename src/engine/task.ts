import { createHash } from 'node:crypto';
import type { PipelineConfig } from './pipeline.js';
import { PipelineCore, type PipelineDeps } from './pipeline.js';
import { WatermarkTracker, type WatermarkOptions, type WatermarkSnapshot } from '../time/watermark.js';
import type { Checkpoint } from '../state/checkpoint-store.js';

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

  checkpoint(now: number): Checkpoint {
    return {
      v: 1,
      offset: this.lastOffset,
      watermark: this.tracker.snapshot(),
      pipelines: this.pipelines.map((p, i) => [p.name, this.hashes[i], p.snapshot()]),
      savedAt: now,
    };
  }

  /**
   * Restore what matches: pipelines whose definition changed start afresh. Returns the names restored.
   * `partition` is the partition's id in this process (ids are per process): a scoped task's watermark
   * is about that one partition, whatever id the process that saved it gave it.
   */
  restore(cp: Checkpoint, now: number, partition?: number): string[] {
    const wm = cp.watermark as WatermarkSnapshot;
    const partitions = partition === undefined ? wm.partitions : wm.partitions.map(([, max, finished]) => [partition, max, finished] as [number, number, boolean]);
    this.tracker.restore({ w: wm.w, partitions }, now);
    this.lastOffset = cp.offset;
    this.checkpointedOffset = cp.offset;
    const byName = new Map(cp.pipelines.map(([name, hash, snap]) => [name, { hash, snap }]));
    const restored: string[] = [];
    this.pipelines.forEach((p, i) => {
      const saved = byName.get(p.name);
      if (saved && saved.hash === this.hashes[i]) {
        p.restore(saved.snap);
        restored.push(p.name);
      }
    });
    return restored;
  }
}
