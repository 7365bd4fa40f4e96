/** The ingest stage: pulls raw batches from sources under credits, decodes them into events and moves the watermark. */
import { Observable } from 'rxjs';
import type { Clock } from '../types.js';
import type { RawBatch, Source } from '../sources/types.js';
import { Ingestor, type SeenIdsSnapshot } from '../ingest/ingestor.js';
import type { Pseudonymiser } from '../privacy/pseudonymise.js';
import { VigieError } from '../errors.js';
import { engineBatch, type EngineBatch } from './batch.js';
import type { Credits } from './credits.js';
import type { Partitions, SeenIds } from './partitions.js';
import type { Task } from './task.js';

export class IngestStage implements SeenIds {
  private readonly ingestors = new Map<string, Ingestor>();

  constructor(
    /** The task of unpartitioned sources (files, stdin, generator). */
    private readonly shared: Task,
    private readonly partitions: Partitions,
    private readonly clock: Clock,
    /** Replaces personal identifiers at ingestion (config `privacy.pseudonymise`). */
    private readonly pseudonymiser: Pseudonymiser | undefined,
  ) {}

  /** Decode this source's records from now on; unpartitioned sources' partitions join the shared watermark. */
  add(source: Source): void {
    this.ingestors.set(source.name, new Ingestor(source.name, source.format, source.mapping, source.recordMeta));
    if (!source.scoped) for (const p of source.partitions()) this.shared.tracker.register(this.partitions.id(source, p), this.clock.now());
  }

  snapshotSeen(source: string, pid: number): SeenIdsSnapshot | undefined {
    return this.ingestors.get(source)?.snapshotSeen(pid);
  }

  restoreSeen(source: string, pid: number, snapshot: SeenIdsSnapshot | undefined): void {
    this.ingestors.get(source)?.restoreSeen(pid, snapshot);
  }

  /** Pull batches from a source, one credit per batch: a slow sink slows the source down. */
  fromSource(source: Source, credits: Credits, stopped: () => boolean): Observable<[Source, RawBatch]> {
    return new Observable<[Source, RawBatch]>((subscriber) => {
      let closed = false;
      const it = source.batches()[Symbol.asyncIterator]();
      (async () => {
        for (;;) {
          await credits.acquire();
          if (closed || stopped()) {
            credits.release();
            break;
          }
          const next = await it.next();
          if (next.done || closed) {
            credits.release();
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
  ingest(source: Source, rb: RawBatch): EngineBatch {
    const now = this.clock.now();
    const pid = this.partitions.id(source, rb.partition);
    const task = source.scoped ? this.partitions.tasks.get(pid) : this.shared;
    const batch = engineBatch(now, task);
    batch.partition = pid;
    const records = rb.records;
    batch.inputs.set(source.name, records.length);
    // Revoked between fetch and processing: the partition's new owner processes these records.
    if (task === undefined) return batch;
    const ingestor = this.ingestors.get(source.name) as Ingestor;
    const pseudonymiser = this.pseudonymiser;
    const wm = new Float64Array(records.length);
    const events = batch.events;
    const tracker = task.tracker;
    const dead = batch.deadLetters;
    for (let i = 0; i < records.length; i++) {
      const deadBefore = dead.length;
      const e = ingestor.ingest(records[i], pid, now, dead);
      // Personal identifiers become pseudonyms here, before any pipeline, state, log or output sees them.
      if (pseudonymiser !== undefined) {
        for (let d = deadBefore; d < dead.length; d++) pseudonymiser.deadLetter(dead[d]);
        if (e !== undefined) pseudonymiser.event(e);
      }
      if (e === undefined) continue;
      wm[events.length] = tracker.observe(pid, e.time, now);
      events.push(e);
    }
    batch.duplicates = ingestor.takeDuplicates();
    if (dead.length > 0) this.partitions.localize(dead, source, rb.partition);
    if (events.length === 0 && records.length > 0) tracker.touch(pid, now);
    batch.wm = wm.subarray(0, events.length);
    if (records.length > 0) batch.positions.set(pid, records[records.length - 1].offset);
    if (rb.end) tracker.finish(pid);
    batch.watermark = tracker.watermark;
    return batch;
  }
}
