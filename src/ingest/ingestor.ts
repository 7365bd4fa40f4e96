import { Unpackr } from 'msgpackr';
import type { DeadLetter, DeadLetterReason, VEvent } from '../types.js';
import type { Mapping } from '../sources/mapping.js';
import type { RawRecord, RecordFormat } from '../sources/types.js';
import { parseEventTime } from '../time/timestamp.js';

// Plain maps as objects; no msgpackr records extension: inputs come from other producers.
const unpackr = new Unpackr({ mapsAsObjects: true, useRecords: false });

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
 * Turns raw records of one source into events or dead letters (SEMANTICS.md rules 1, 14).
 * Never throws on bad data: every record ends as exactly one event or one dead letter.
 */
export class Ingestor {
  private readonly declared: Array<[string, string]>;

  constructor(
    private readonly source: string,
    private readonly format: RecordFormat,
    private readonly mapping: Mapping,
    private readonly recordMeta?: { keyField?: string; timestampFromRecord: boolean },
  ) {
    this.declared = Object.entries(mapping.fields);
  }

  /** Decode and map one record; returns the event, or pushes a dead letter and returns undefined. */
  ingest(rec: RawRecord, partition: number, arrival: number, dead: DeadLetter[]): VEvent | undefined {
    const data = rec.data;
    let value: unknown;
    if (typeof data === 'string') {
      // Length in UTF-16 units bounds the byte length from below; exact bytes only when close to the limit.
      if (data.length > this.mapping.maxEventBytes / 3 && Buffer.byteLength(data) > this.mapping.maxEventBytes) {
        return this.dead(dead, 'too_large', `record of ${Buffer.byteLength(data)} bytes exceeds maxEventBytes ${this.mapping.maxEventBytes}`, rec, partition);
      }
      try {
        value = JSON.parse(data);
      } catch (err) {
        return this.dead(dead, 'parse_error', `invalid JSON: ${(err as Error).message}`, rec, partition);
      }
    } else if (data instanceof Uint8Array) {
      if (data.byteLength > this.mapping.maxEventBytes) {
        return this.dead(dead, 'too_large', `record of ${data.byteLength} bytes exceeds maxEventBytes ${this.mapping.maxEventBytes}`, rec, partition);
      }
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
          return this.dead(dead, 'parse_error', `invalid MessagePack: ${(err as Error).message}`, rec, partition);
        }
      }
    } else {
      value = data;
    }
    if (!isPlainObject(value)) {
      const what = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value === 'object' ? `a ${value.constructor?.name ?? 'non-plain object'}` : typeof value;
      return this.dead(dead, 'not_an_object', `expected an object, got ${what}`, rec, partition);
    }
    const payload = value as Record<string, unknown>;
    const meta = this.recordMeta;
    if (meta?.keyField !== undefined && rec.key !== undefined) payload[meta.keyField] = rec.key;
    let time: number;
    if (this.mapping.processingTime) {
      time = arrival;
    } else if (meta?.timestampFromRecord) {
      if (rec.timestamp === undefined || !Number.isFinite(rec.timestamp)) return this.dead(dead, 'bad_timestamp', 'record has no timestamp', rec, partition);
      time = rec.timestamp;
    } else {
      const t = parseEventTime(payload[this.mapping.time.field], this.mapping.time.format);
      if (typeof t === 'string') {
        return this.dead(dead, 'bad_timestamp', `field "${this.mapping.time.field}": ${t}`, rec, partition);
      }
      time = t;
    }
    for (let i = 0; i < this.declared.length; i++) {
      const [field, type] = this.declared[i];
      const v = payload[field];
      if (v !== undefined && v !== null && !typeMatches(v, type)) {
        return this.dead(dead, 'schema', `field "${field}": expected ${type}, got ${Array.isArray(v) ? 'array' : typeof v}`, rec, partition, time);
      }
    }
    const idValue = payload[this.mapping.id];
    const id = typeof idValue === 'string' ? idValue : typeof idValue === 'number' && Number.isFinite(idValue) ? String(idValue) : undefined;
    return { time, id, partition, offset: rec.offset, source: this.source, payload };
  }

  private dead(dead: DeadLetter[], reason: DeadLetterReason, detail: string, rec: RawRecord, partition: number, time?: number): undefined {
    const dl: DeadLetter = { reason, detail, source: this.source, partition, offset: rec.offset, raw: rawOf(rec.data) };
    if (time !== undefined) dl.time = time;
    dead.push(dl);
    return undefined;
  }
}
