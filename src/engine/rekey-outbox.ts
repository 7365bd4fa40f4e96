/**
 * The upstream side of re-keying: after ingestion, the events of a partition of a `partitionedBy`
 * source become records of the repartition topics of the pipelines keyed otherwise, followed by a
 * watermark marker to every partition of those topics when the partition's watermark moved. Pure:
 * it builds the records; the engine sends them (src/kafka/repartition.ts) as an output of the batch.
 */
import { Packr } from 'msgpackr';
import type { DeadLetter, VEvent } from '../types.js';
import type { PipelineConfig } from '../config/pipeline.js';
import { keyFields } from '../config/repartition.js';
import { matches, restrict, scalarKey } from './pipeline.js';

/** Plain msgpack maps, readable by any tool; keeps ±Infinity. */
export const rekeyPackr = new Packr({ useRecords: false, mapsAsObjects: true });

/** An event on its way through a repartition topic. */
export interface RekeyRecord {
  /** Event time. */
  t: number;
  id: string | undefined;
  /** The source the event was read from. */
  src: string;
  /** Upstream partition (source-local) and offset. */
  p: number;
  o: number;
  /** Upstream partition's watermark after the event. */
  w: number;
  payload: Record<string, unknown>;
}

/** A watermark marker: upstream partition `p` of `src` (one of `n`) has reached watermark `w`. */
export interface RekeyMarker {
  m: 1;
  src: string;
  p: number;
  n: number;
  w: number;
}

export interface OutMessage {
  topic: string;
  /** Record key: the pipeline's key (records); absent for markers, which name their partition. */
  key?: string;
  partition?: number;
  value: Buffer;
  /** Processing time at ingestion, ms (the hop's latency is measured from it). */
  timestamp: string;
}

/** One re-keyed pipeline as its upstream sees it: which events, restricted to which fields, keyed how. */
interface Route {
  pipeline: string;
  topic: string;
  sources: ReadonlySet<string> | undefined;
  where: Array<[string, readonly unknown[]]>;
  fields: readonly string[] | undefined;
  key: readonly string[];
}

export class RekeyOutbox {
  private routes: Route[] = [];
  /** Per upstream partition (engine id), the watermark last announced by a marker. */
  private readonly announced = new Map<number, number>();

  constructor(
    /** Topic of each re-keyed pipeline. */
    private readonly topics: ReadonlyMap<string, string>,
    /** Partition count of each repartition topic. */
    private readonly partitionsOf: ReadonlyMap<string, number>,
    /** Largest record value sent; a larger event is dead-lettered (too_large). */
    private readonly maxRecordBytes = 900 * 1024,
  ) {}

  /** The re-keyed pipelines' definitions (at start and after each hot reload). */
  configure(pipelines: readonly PipelineConfig[]): void {
    this.routes = pipelines
      .filter((p) => this.topics.has(p.name))
      .map((p) => ({
        pipeline: p.name,
        topic: this.topics.get(p.name) as string,
        sources: p.sources ? new Set(p.sources) : undefined,
        where: Object.entries(p.where ?? {}).map(([f, v]) => [f, Array.isArray(v) ? v : [v]] as [string, readonly unknown[]]),
        fields: p.fields,
        key: keyFields(p.key),
      }));
  }

  /** Forget what was announced for a partition (revoked: its next owner announces again). */
  forget(pid: number): void {
    this.announced.delete(pid);
  }

  /**
   * The records of a batch of upstream partition `local` (engine id `pid`) of source `src`, which has
   * `n` partitions: one per event and re-keyed pipeline reading it (events its `where` filters out or
   * whose key is missing are not sent; the latter are dead-lettered as the pipeline would), then
   * markers when the partition's watermark `w` moved since the last ones.
   */
  build(src: string, local: number, pid: number, n: number, events: readonly VEvent[], wm: ArrayLike<number>, w: number, now: number, out: OutMessage[], dead: DeadLetter[]): void {
    const timestamp = String(now);
    const topics = new Set<string>();
    for (const r of this.routes) {
      if (r.sources !== undefined && !r.sources.has(src)) continue;
      topics.add(r.topic);
      for (let i = 0; i < events.length; i++) {
        const e = events[i];
        const payload = r.fields === undefined ? e.payload : restrict(e.payload, r.fields);
        if (r.where.length > 0 && !matches(payload, r.where)) continue;
        const key = keyOf(payload, r.key);
        if (key === undefined) {
          dead.push({ reason: 'missing_key', detail: `no usable value for key ${r.key.join(', ')}`, source: e.source, pipeline: r.pipeline, partition: e.partition, offset: e.offset, raw: payload, time: e.time });
          continue;
        }
        const rec: RekeyRecord = { t: e.time, id: e.id, src, p: local, o: e.offset, w: wm[i], payload };
        const value = rekeyPackr.pack(rec);
        if (value.length > this.maxRecordBytes) {
          dead.push({ reason: 'too_large', detail: `${value.length} bytes: too large for the repartition topic (at most ${this.maxRecordBytes})`, source: e.source, pipeline: r.pipeline, partition: e.partition, offset: e.offset, raw: payload, size: value.length, time: e.time });
          continue;
        }
        out.push({ topic: r.topic, key, value, timestamp });
      }
    }
    const before = this.announced.get(pid) ?? -Infinity;
    if (!(w > before) || topics.size === 0) return;
    this.announced.set(pid, w);
    const marker: RekeyMarker = { m: 1, src, p: local, n, w };
    const value = rekeyPackr.pack(marker);
    for (const topic of topics) {
      const count = this.partitionsOf.get(topic) ?? 1;
      for (let partition = 0; partition < count; partition++) out.push({ topic, partition, value, timestamp });
    }
  }
}

function keyOf(payload: Record<string, unknown>, fields: readonly string[]): string | undefined {
  if (fields.length === 1) return scalarKey(payload[fields[0]]);
  const parts: string[] = [];
  for (const f of fields) {
    const part = scalarKey(payload[f]);
    if (part === undefined) return undefined;
    parts.push(part);
  }
  return parts.join('|');
}
