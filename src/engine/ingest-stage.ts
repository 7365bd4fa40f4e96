/** The ingest stage: pulls raw batches from sources under credits, decodes them into events and moves the watermark. */
import { Observable } from 'rxjs';
import type { Logger } from 'pino';
import type { Clock, DeadLetter, VEvent } from '../types.js';
import { TimeGuard, type Refusal } from '../time/time-guard.js';
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
  /** Keeps implausible event times away from the watermark (rule 3 of docs/semantics.md). */
  private readonly guard: TimeGuard;
  /** Scratch array of the guard's refusals, reused batch after batch. */
  private readonly refusals: Refusal[] = [];
  /** Events refused by the guard and not logged yet, and when the last warning was written. */
  private refusedLog = { at: -Infinity, count: 0 };

  constructor(
    /** The task of unpartitioned sources (files, stdin, generator). */
    private readonly shared: Task,
    private readonly partitions: Partitions,
    private readonly clock: Clock,
    /** Replaces personal identifiers at ingestion (config `privacy.pseudonymise`). */
    private readonly pseudonymiser: Pseudonymiser | undefined,
    guard: { maxFutureSkew: number; maxJump: number; jumpPatience: number; live: boolean },
    private readonly logger: Logger,
    /** Re-keying: the records of repartition topics are decoded there (they are events already). */
    private readonly rekey?: { isDownstream(source: Source): boolean; ingest(source: Source, rb: RawBatch, task: Task, batch: EngineBatch, now: number): void },
  ) {
    this.guard = new TimeGuard({ maxFutureSkew: guard.maxFutureSkew, maxJump: guard.maxJump, patience: guard.jumpPatience }, guard.live);
  }

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
    if (this.rekey?.isDownstream(source)) {
      this.rekey.ingest(source, rb, task, batch, now);
      return batch;
    }
    const ingestor = this.ingestors.get(source.name) as Ingestor;
    const pseudonymiser = this.pseudonymiser;
    const guard = this.guard.active ? this.guard : undefined;
    const refusals = this.refusals;
    const events = batch.events;
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
      if (guard === undefined) events.push(e);
      else guard.offer(pid, e, now, events, refusals);
    }
    if (guard !== undefined && rb.end) guard.finish(pid, events, refusals);
    batch.duplicates = ingestor.takeDuplicates();
    if (refusals.length > 0) this.refuse(source, rb.partition, refusals, dead);
    if (dead.length > 0) this.partitions.localize(dead, source, rb.partition);
    // The watermark after each event, in the order the pipelines see them.
    const tracker = task.tracker;
    const wm = new Float64Array(events.length);
    for (let i = 0; i < events.length; i++) wm[i] = tracker.observe(pid, events[i].time, now);
    if (events.length === 0 && records.length > 0) tracker.touch(pid, now);
    batch.wm = wm;
    if (records.length > 0) batch.positions.set(pid, records[records.length - 1].offset);
    if (rb.end) tracker.finish(pid);
    batch.watermark = tracker.watermark;
    return batch;
  }

  /** Dead-letter the events the guard refused (future_time) and warn, at most once a minute. */
  private refuse(source: Source, local: number, refusals: Refusal[], dead: DeadLetter[]): void {
    for (const { event: e, detail } of refusals) {
      // The payload is already pseudonymised: the dead letter carries it as the decoded record.
      dead.push({ reason: 'future_time', detail, source: source.name, partition: local, offset: e.offset, raw: e.payload, time: e.time });
    }
    const log = this.refusedLog;
    log.count += refusals.length;
    const now = this.clock.now();
    if (now - log.at >= 60_000) {
      this.logger.warn(
        { source: source.name, refused: log.count, example: refusals[0].detail },
        'events with implausible times dead-lettered (future_time): they do not move the watermark; check the producer clock or time field (time.maxFutureSkew, time.maxJump)',
      );
      log.at = now;
      log.count = 0;
    }
    refusals.length = 0;
  }
}
