/** The batch as the engine carries it: the pipelines' batch plus what the engine learnt of it on the way. */
import { emptyBatch, type Batch } from '../types.js';
import type { CheckpointDelta } from '../state/checkpoint-store.js';
import type { Task } from './task.js';
import type { OutMessage } from './rekey-outbox.js';

/** A checkpoint taken while processing a batch, written and then committed once the batch is delivered. */
export interface PendingCheckpoint {
  pid: number;
  task: Task;
  cp: CheckpointDelta;
}

export interface EngineBatch extends Batch {
  /** The task whose state processes the batch; undefined when its partition was revoked before processing. */
  task: Task | undefined;
  /** Redeliveries of seen ids dropped while ingesting it (sources with `dedup`). */
  duplicates: number;
  /** Checkpoints to write, then commit, once the batch is delivered (rule 13 of docs/semantics.md: in that order). */
  checkpoints: PendingCheckpoint[];
  /** Records for repartition topics, sent with the batch's outputs (see rekey.ts). */
  produce?: OutMessage[];
}

export function engineBatch(ingestedAt: number, task?: Task): EngineBatch {
  return Object.assign(emptyBatch(ingestedAt), { task, duplicates: 0, checkpoints: [] as PendingCheckpoint[] });
}
