import { Unpackr } from 'msgpackr';
import type { DeadLetter, DeadLetterReason, VEvent } from '../types.js';
import type { Mapping } from '../sources/mapping.js';
import { mappingStage, type MappingStage } from '../sources/mapping-stage.js';
import type { RawRecord, RecordFormat } from '../sources/types.js';
import { parseEventTime } from '../time/timestamp.js';
import { excerptBytes, textExcerpt } from '../sources/excerpt.js';

// Plain maps as objects; no msgpackr records extension: inputs come from other producers.
// 64-bit integers as numbers when exact (msgpackr's default makes every int64 a BigInt, even a
// timestamp a Go or Java producer wrote as int64); larger ones stay BigInt and become strings below.
// ('auto' is supported by msgpackr 2.x at run time but missing from its type declarations.)
const unpackr = new Unpackr({ mapsAsObjects: true, useRecords: false, int64AsType: 'auto' as 'bigint' });

/** Deepest accepted nesting of objects and arrays in a payload (the event itself is level 1). */
export const MAX_PAYLOAD_DEPTH = 64;
/** Accepted event times: years 1970 to 2199 (UTC). Anything else is a unit mistake or garbage. */
export const MIN_EVENT_TIME = 0;
export const MAX_EVENT_TIME = Date.UTC(2200, 0, 1) - 1;

/**
 * Keys that reach prototypes when assigned or merged, refused at any depth: `__proto__` always, and
 * `constructor` or `prototype` holding an object (the `constructor.prototype.x` pollution shape). A
 * plain value under those names (`"constructor": "ACME builders"`) is ordinary data.
 */
function isForbiddenKey(k: string, value: unknown): boolean {
  return k === '__proto__' || ((k === 'constructor' || k === 'prototype') && typeof value === 'object' && value !== null);
}

/**
 * Check a decoded payload: nesting depth, prototype keys; unsafe 64-bit integers (BigInt) are replaced
 * by their decimal text, in place. Returns why the payload is refused, or undefined. Recursion is bounded
 * by MAX_PAYLOAD_DEPTH, so hostile nesting cannot exhaust the stack here (nor later, in sinks).
 */
function checkPayload(v: object, depth: number): string | undefined {
  if (depth > MAX_PAYLOAD_DEPTH) return `nested deeper than ${MAX_PAYLOAD_DEPTH} levels`;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      if (typeof x === 'object' && x !== null) {
        const why = checkPayload(x, depth + 1);
        if (why !== undefined) return why;
      } else if (typeof x === 'bigint') v[i] = x.toString();
    }
    return undefined;
  }
  if (ArrayBuffer.isView(v)) return undefined;
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    const x = o[k];
    if (isForbiddenKey(k, x)) return `forbidden key "${k}"`;
    if (typeof x === 'object' && x !== null) {
      const why = checkPayload(x, depth + 1);
      if (why !== undefined) return why;
    } else if (typeof x === 'bigint') o[k] = x.toString();
  }
  return undefined;
}

/** A payload's own field: configured names such as "constructor" or "toString" must not find Object.prototype members. */
function own(payload: Record<string, unknown>, field: string): unknown {
  return Object.hasOwn(payload, field) ? payload[field] : undefined;
}

/** Per-partition memory of recent event ids (see `dedup` in the mapping). */
class SeenIds {
  /** id -> event time of its first accepted occurrence; insertion order is age order. */
  private readonly ids = new Map<string, number>();
  private maxTime = -Infinity;

  constructor(
    private readonly horizon: number,
    private readonly maxIds: number,
  ) {}

  /** True when `id` was seen within the horizon of `time`; otherwise remembers it and returns false. */
  duplicate(id: string, time: number): boolean {
    if (time > this.maxTime) {
      this.maxTime = time;
      // Forget ids behind the horizon, oldest first (stops at the first one still within it).
      const floor = time - this.horizon;
      for (const [k, t] of this.ids) {
        if (t >= floor) break;
        this.ids.delete(k);
      }
    }
    const seen = this.ids.get(id);
    if (seen !== undefined && Math.abs(time - seen) <= this.horizon) return true;
    if (seen !== undefined) this.ids.delete(id);
    this.ids.set(id, time);
    if (this.ids.size > this.maxIds) this.ids.delete(this.ids.keys().next().value as string);
    return false;
  }

  get size(): number {
    return this.ids.size;
  }

  snapshot(): SeenIdsSnapshot {
    return { maxTime: this.maxTime, ids: [...this.ids] };
  }

  restore(s: SeenIdsSnapshot): void {
    this.ids.clear();
    this.maxTime = s.maxTime;
    // Oldest first, as saved; the bound applies if it was lowered since.
    const from = Math.max(0, s.ids.length - this.maxIds);
    for (let i = from; i < s.ids.length; i++) this.ids.set(s.ids[i][0], s.ids[i][1]);
  }
}

/** The ids a partition remembers for de-duplication, as checkpointed: oldest first. */
export interface SeenIdsSnapshot {
  maxTime: number;
  ids: Array<[string, number]>;
}

/** Text of a raw record for a dead letter: lines as they were, bytes as base64. */
function rawOf(data: RawRecord['data']): unknown {
  if (typeof data === 'string') return data;
  if (data instanceof Uint8Array) return { base64: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64') };
  return data;
}

/** Records must be plain objects: arrays, Maps, binary and decoder-specific values are not events. */
function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function typeMatches(value: unknown, declared: string): boolean {
  switch (declared) {
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'integer':
      return Number.isInteger(value);
    case 'boolean':
      return typeof value === 'boolean';
    default:
      return false;
  }
}

/**
 * Turns raw records of one source into events or dead letters (docs/semantics.md rules 1, 14).
 * Never throws on bad data: every record ends as exactly one event or one dead letter.
 */
export class Ingestor {
  private readonly declared: Array<[string, string]>;
  private readonly seen = new Map<number, SeenIds>();
  private duplicates = 0;
  /** Rename, derive, defaults, required (undefined when the mapping has none of them). */
  private readonly stage: MappingStage | undefined;
  private readonly missing: string[] = [];

  constructor(
    private readonly source: string,
    private readonly format: RecordFormat,
    private readonly mapping: Mapping,
    private readonly recordMeta?: { keyField?: string; timestampFromRecord: boolean },
  ) {
    this.declared = Object.entries(mapping.fields);
    this.stage = mappingStage(mapping);
  }

  /** Events dropped as duplicates since the last call (the engine counts them per batch). */
  takeDuplicates(): number {
    const n = this.duplicates;
    this.duplicates = 0;
    return n;
  }

  /** The ids remembered on a partition, for its checkpoint (undefined without `dedup` or before any id). */
  snapshotSeen(partition: number): SeenIdsSnapshot | undefined {
    return this.seen.get(partition)?.snapshot();
  }

  /** Restore a partition's remembered ids from its checkpoint (ignored without `dedup`). */
  restoreSeen(partition: number, s: SeenIdsSnapshot | undefined): void {
    const dedup = this.mapping.dedup;
    if (dedup === undefined) return;
    if (s === undefined || !Array.isArray(s.ids)) {
      this.seen.delete(partition);
      return;
    }
    const seen = new SeenIds(dedup.horizon, dedup.maxIds);
    seen.restore(s);
    this.seen.set(partition, seen);
  }

  /** Ids remembered for de-duplication on a partition (tests, introspection). */
  rememberedIds(partition: number): number {
    return this.seen.get(partition)?.size ?? 0;
  }

  /**
   * Decode and map one record; returns the event, or pushes a dead letter and returns undefined.
   * With `dedup`, a redelivered event also returns undefined, without a dead letter (see takeDuplicates).
   */
  ingest(rec: RawRecord, partition: number, arrival: number, dead: DeadLetter[]): VEvent | undefined {
    const data = rec.data;
    if (rec.size !== undefined) return this.tooLarge(dead, rec.size, rec, partition);
    let value: unknown;
    if (typeof data === 'string') {
      // Length in UTF-16 units bounds the byte length from below; exact bytes only when close to the limit.
      if (data.length > this.mapping.maxEventBytes / 3 && Buffer.byteLength(data) > this.mapping.maxEventBytes) {
        return this.tooLarge(dead, Buffer.byteLength(data), rec, partition);
      }
      try {
        value = JSON.parse(data);
      } catch (err) {
        return this.dead(dead, 'parse_error', `invalid JSON: ${(err as Error).message}`, rec, partition);
      }
    } else if (data instanceof Uint8Array) {
      if (data.byteLength > this.mapping.maxEventBytes) return this.tooLarge(dead, data.byteLength, rec, partition);
      if (this.format === 'json') {
        try {
          value = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
        } catch (err) {
          return this.dead(dead, 'parse_error', `invalid JSON: ${(err as Error).message}`, rec, partition);
        }
      } else {
        try {
          value = unpackr.unpack(data);
        } catch (err) {
          // msgpackr decodes recursively: hostile nesting exhausts the stack (caught here, harmlessly).
          const why = err instanceof RangeError && /call stack/i.test(err.message) ? 'nested too deeply' : (err as Error).message;
          return this.dead(dead, 'parse_error', `invalid MessagePack: ${why}`, rec, partition);
        }
      }
    } else {
      value = data;
    }
    if (!isPlainObject(value)) {
      const what = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value === 'object' ? `a ${value.constructor?.name ?? 'non-plain object'}` : typeof value;
      return this.dead(dead, 'not_an_object', `expected an object, got ${what}`, rec, partition);
    }
    let payload = value as Record<string, unknown>;
    const bad = checkPayload(payload, 1);
    if (bad !== undefined) return this.dead(dead, 'schema', bad, rec, partition);
    const meta = this.recordMeta;
    if (meta?.keyField !== undefined && rec.key !== undefined) payload[meta.keyField] = rec.key;
    // Rename, derive, defaults, required: before the time, id, types and dedup read the payload.
    if (this.stage !== undefined) {
      const missing = this.missing;
      payload = this.stage(payload, missing);
      if (missing.length > 0) {
        const detail = `missing required field${missing.length > 1 ? 's' : ''} ${missing.map((f) => `"${f}"`).join(', ')}`;
        missing.length = 0;
        return this.dead(dead, 'missing_field', detail, rec, partition);
      }
    }
    let time: number;
    if (this.mapping.processingTime) {
      time = arrival;
    } else if (meta?.timestampFromRecord) {
      if (rec.timestamp === undefined || !Number.isFinite(rec.timestamp)) return this.dead(dead, 'bad_timestamp', 'record has no timestamp', rec, partition);
      time = Math.floor(rec.timestamp);
      if (time < MIN_EVENT_TIME || time > MAX_EVENT_TIME) return this.dead(dead, 'bad_timestamp', 'record timestamp out of range (years 1970 to 2199)', rec, partition);
    } else {
      const t = parseEventTime(own(payload, this.mapping.time.field), this.mapping.time.format);
      if (typeof t === 'string') {
        return this.dead(dead, 'bad_timestamp', `field "${this.mapping.time.field}": ${t}`, rec, partition);
      }
      if (t < MIN_EVENT_TIME || t > MAX_EVENT_TIME) return this.dead(dead, 'bad_timestamp', `field "${this.mapping.time.field}": out of range (years 1970 to 2199)`, rec, partition);
      time = t;
    }
    for (let i = 0; i < this.declared.length; i++) {
      const [field, type] = this.declared[i];
      const v = own(payload, field);
      if (v !== undefined && v !== null && !typeMatches(v, type)) {
        return this.dead(dead, 'schema', `field "${field}": expected ${type}, got ${Array.isArray(v) ? 'array' : typeof v}`, rec, partition, time);
      }
    }
    const idValue = own(payload, this.mapping.id);
    const id = typeof idValue === 'string' ? idValue : typeof idValue === 'number' && Number.isFinite(idValue) ? String(idValue) : undefined;
    const dedup = this.mapping.dedup;
    if (dedup !== undefined && id !== undefined) {
      let seen = this.seen.get(partition);
      if (seen === undefined) this.seen.set(partition, (seen = new SeenIds(dedup.horizon, dedup.maxIds)));
      if (seen.duplicate(id, time)) {
        this.duplicates++;
        return undefined;
      }
    }
    return { time, id, partition, offset: rec.offset, source: this.source, payload };
  }

  /**
   * A record over maxEventBytes keeps only its first bytes and its size: the whole of it would make a dead
   * letter as large as the record, in memory and in every sink that stores dead letters.
   */
  private tooLarge(dead: DeadLetter[], size: number, rec: RawRecord, partition: number): undefined {
    const limit = excerptBytes(this.mapping.maxEventBytes);
    const data = rec.data;
    const head = typeof data === 'string' ? textExcerpt(data, limit) : data instanceof Uint8Array ? data.subarray(0, limit) : data;
    const detail = `record of ${size} bytes exceeds maxEventBytes ${this.mapping.maxEventBytes}`;
    dead.push({ reason: 'too_large', detail, source: this.source, partition, offset: rec.offset, raw: rawOf(head), size });
    return undefined;
  }

  private dead(dead: DeadLetter[], reason: DeadLetterReason, detail: string, rec: RawRecord, partition: number, time?: number): undefined {
    const dl: DeadLetter = { reason, detail, source: this.source, partition, offset: rec.offset, raw: rawOf(rec.data) };
    if (time !== undefined) dl.time = time;
    dead.push(dl);
    return undefined;
  }
}
