import { createHash } from 'node:crypto';
import type { PipelineMeta } from './pipeline.js';
import { PipelineCore, type PipelineDeps } from './pipeline.js';
import { windowHash, type PipelineConfig } from '../config/pipeline.js';
import { WatermarkTracker, type WatermarkOptions, type WatermarkSnapshot } from '../time/watermark.js';
import type { Checkpoint, CheckpointDelta, LoadedCheckpoint } from '../state/checkpoint-store.js';
import { JudgementBoard } from '../../detectors/board.js';
import { boardReads } from '../config/model-refs.js';
import { keyedEntries } from '../util/keyed-state.js';

/**
 * Hash of one pipeline's whole config. Checkpoints written before hot reload carried it (they now
 * carry the pipeline's window hash, see `windowHash`): a saved hash equal to it means the very same
 * definition, whose detectors can be restored by name.
 */
export function pipelineHash(p: PipelineConfig): string {
  return createHash('sha256').update(JSON.stringify(p)).digest('hex').slice(0, 12);
}

/** What a hot reload did to one pipeline of a task. */
export interface PipelineSwap {
  name: string;
  /** `kept`: same window part, window state kept; `restarted`: window part changed; `added`: new pipeline. */
  window: 'kept' | 'restarted' | 'added';
  /** Detectors that kept their state. */
  detectorsKept: string[];
}

/**
 * A unit of state: the pipelines and the watermark of a set of partitions. Files, stdin and the
 * generator share one task (W = min over their partitions); a Kafka partition is a task of its own,
 * so its state can be checkpointed, moved to another instance on rebalance, and restored there.
 */
export class Task {
  private pipelines_: PipelineCore[];
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
  private tracking = false;
  /** Whole-config hashes, for checkpoints of older versions (see pipelineHash). */
  private legacyHashes: string[];

  constructor(
    readonly id: string,
    configs: readonly PipelineConfig[],
    deps: PipelineDeps,
    wm: WatermarkOptions,
    now: number,
    /** The pipelines this task runs (re-keying: a partition runs only those keyed as its topic is); absent: all. */
    private readonly select?: (p: PipelineConfig) => boolean,
  ) {
    if (select) configs = configs.filter(select);
    // One board per task: its pipelines read each other's judgements in config order (see board.ts).
    deps = { ...deps, board: new JudgementBoard(boardReads(configs)) };
    this.pipelines_ = configs.map((p) => new PipelineCore(p, deps));
    this.legacyHashes = configs.map(pipelineHash);
    this.tracker = new WatermarkTracker(wm);
    this.lastCheckpointAt = now;
  }

  /** The pipelines, in config order (replaced as a whole by a hot reload). */
  get pipelines(): readonly PipelineCore[] {
    return this.pipelines_;
  }

  /** The last checkpoint was not stored: the next one must hold every key, not just the changed ones. */
  requireFull(): void {
    this.full = true;
  }

  /** Record which keys change from now on, for incremental checkpoints. */
  trackChanges(): void {
    this.tracking = true;
    for (const p of this.pipelines_) p.trackChanges();
  }

  /**
   * Hot reload, between batches: build the new definitions and carry state over. A pipeline of the same
   * name and window part keeps its window state (otherwise it starts empty at the same clock); a detector
   * of the same config and input keeps its state and cooldowns; the rest starts fresh, and pipelines or
   * detectors no longer configured are dropped. The watermark is the task's and does not change. The
   * next checkpoint is a full one (the stored keys are laid out by pipeline index).
   */
  reconfigure(configs: readonly PipelineConfig[], deps: PipelineDeps): PipelineSwap[] {
    if (this.select) configs = configs.filter(this.select);
    // A fresh board: the judgements of detectors kept are carried over with their state.
    deps = { ...deps, board: new JudgementBoard(boardReads(configs)) };
    const before = new Map(this.pipelines_.map((p) => [p.name, p]));
    const swaps: PipelineSwap[] = [];
    const next = configs.map((c) => {
      const prev = before.get(c.name);
      const core = new PipelineCore(c, deps, prev && prev.windowHash === windowHash(c) ? { window: prev.window } : undefined);
      const detectorsKept = prev ? core.carryOver(prev) : [];
      swaps.push({ name: c.name, window: prev === undefined ? 'added' : core.window === prev.window ? 'kept' : 'restarted', detectorsKept });
      return core;
    });
    this.pipelines_ = next;
    this.legacyHashes = configs.map(pipelineHash);
    if (this.tracking) for (const p of next) p.trackChanges();
    this.full = true;
    return swaps;
  }

  /**
   * An incremental checkpoint: the meta part (offset, watermark, per pipeline its window hash, clock
   * and what its detectors keep beside their keys, each detector with its own hash) and the entries of
   * the keys changed since the previous one, windows and detectors alike (null: the key has no state
   * any more). Its cost follows the number of keys changed, not the size of the state.
   */
  checkpoint(now: number): CheckpointDelta {
    const full = this.full;
    this.full = false;
    const changes: CheckpointDelta['changes'] = [];
    this.pipelines_.forEach((p, i) => {
      for (const key of p.takeChangedKeys(full)) changes.push([i, key, p.snapshotKey(key)]);
    });
    const meta: Checkpoint = {
      v: 3,
      offset: this.lastOffset,
      watermark: this.tracker.snapshot(),
      pipelines: this.pipelines_.map((p) => [p.name, p.windowHash, p.snapshotMeta()]),
      savedAt: now,
    };
    return { meta, changes, full };
  }

  /**
   * Restore what matches, per pipeline: its window state when its window part is unchanged (else the
   * window starts empty at the saved clock), and each detector whose config and input are unchanged
   * (the others start fresh). `loaded.entries[i]` holds the window entries of pipeline i,
   * `loaded.keyed[i]` its detectors' entry per key. `partition` is the partition's id in this process:
   * a scoped task's watermark is about that one partition, whatever id the process that saved it gave it. Returns the names of the pipelines restored entirely; unless all
   * are, at their saved places, in the current layout, the next checkpoint is a full one.
   */
  restore(loaded: LoadedCheckpoint, now: number, partition?: number): string[] {
    const { meta: cp, entries, keyed } = loaded;
    const wm = cp.watermark as WatermarkSnapshot;
    const partitions = partition === undefined ? wm.partitions : wm.partitions.map(([, max, finished]) => [partition, max, finished] as [number, number, boolean]);
    this.tracker.restore({ w: wm.w, partitions }, now);
    this.lastOffset = cp.offset;
    this.checkpointedOffset = cp.offset;
    const byName = new Map(cp.pipelines.map(([name, hash, meta], i) => [name, { hash, meta, i }]));
    const restored: string[] = [];
    let inPlace = true;
    this.pipelines_.forEach((p, i) => {
      const saved = byName.get(p.name);
      if (saved === undefined) {
        inPlace = false;
        return;
      }
      // A checkpoint of an older version names the whole definition: equal means everything matches.
      const legacy = saved.hash === this.legacyHashes[i];
      const window = legacy || saved.hash === p.windowHash;
      const meta = saved.meta as PipelineMeta;
      const detectors = p.restoreParts(meta, window ? (entries[saved.i] ?? []) : [], keyed[saved.i] ?? keyedEntries(), { window, match: legacy ? 'by-name' : 'by-hash' });
      if (window && detectors.length === p.detectors.size) restored.push(p.name);
      if (!window || saved.i !== i) inPlace = false;
    });
    // A checkpoint of version 2 kept detectors whole in its meta part: the next one writes every key.
    this.full = !inPlace || cp.pipelines.length !== this.pipelines_.length || cp.v !== 3;
    return restored;
  }
}
