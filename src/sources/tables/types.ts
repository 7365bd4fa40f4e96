/**
 * What every reference table shares: the options common to all types, how a record becomes a row
 * (key, validity time, typed fields), and the holder that swaps a freshly loaded table in whole.
 */
import type { Logger } from 'pino';
import { z } from 'zod';
import type { EngineMetrics } from '../../metrics/registry.js';
import { parseEventTime, timeFormatSchema, type TimeFormat } from '../../time/timestamp.js';
import { VersionedTable, type Row } from './versioned.js';

export const tableNameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]*$/i, 'letters, digits, "_" and "-" only')
  .describe('Table name, unique in the config; pipelines name it in `enrich`, and it labels metrics.');

export const tableTimeSchema = z
  .strictObject({
    field: z.string().min(1).describe('Field holding the time from which the row is valid.'),
    format: timeFormatSchema.default('auto').describe('auto: numbers are milliseconds and strings ISO-8601; ms or s: a number (or numeric string); iso: an ISO-8601 string (UTC when no zone is given).'),
  })
  .describe(
    'Event-time versioning: each row is valid from this time on, and several rows of one key are its versions. ' +
      'An event is enriched with the version valid at its own time (the largest validity time <= the event time). Absent: each key has one current row.',
  );

/** Options of every table type. */
export const commonTableShape = {
  name: tableNameSchema,
  fields: z
    .record(z.string(), z.enum(['string', 'number', 'integer', 'boolean']))
    .default({})
    .describe('Declared column types. CSV cells are text: declared columns are converted (empty cells are left out). A row whose declared field cannot be converted is a bad row: skipped and counted.'),
  maxVersions: z.number().int().min(1).max(10_000).default(16).describe('Versions kept per key at most (tables with `time`); beyond it the oldest are dropped and counted.'),
  maxRows: z.number().int().min(1).default(1_000_000).describe('Keys kept at most; beyond it the key written least recently is dropped and counted.'),
};

export type FieldType = 'string' | 'number' | 'integer' | 'boolean';

/** Where a table loader runs. */
export interface TableContext {
  /** Directory relative paths are resolved against. */
  baseDir: string;
  logger: Logger;
  metrics?: EngineMetrics;
  /** Live: tables follow their data (file changes, topic updates, refreshes). Replay: loaded once, whole. */
  live: boolean;
}

/** A table as pipelines see it. */
export interface TableLookup {
  readonly name: string;
  /** The row of `key` valid at event time `t`; for a table without `time`, its current row. */
  lookup(key: string, t: number): Row | undefined;
  /** How many versions of `key` became valid in the event-time span (from, to] (tables with `time`; 0 otherwise). */
  count(key: string, from: number, to: number): number;
}

/** A table as the engine sees it: loaded before the first batch, closed at the end. */
export interface Table extends TableLookup {
  readonly type: string;
  /** Keys held now. */
  readonly rows: number;
  /** Read the whole table once; throws a VigieError (VIGIE_ERR_TABLE) when it cannot be read. Then follows updates when live. */
  load(): Promise<void>;
  close(): Promise<void>;
}

/** Turns records into rows: key, validity time, declared types. */
export interface RowSpec {
  /** Field holding the key (undefined: the caller gives the key). */
  key: string | undefined;
  time: { field: string; format: TimeFormat } | undefined;
  fields: Readonly<Record<string, FieldType>>;
}

export type RowResult = { key: string; time: number; row: Row } | { error: string };

/** Convert a value to a declared type, or say why it cannot be. Text is converted (CSV, Redis hashes). */
export function coerce(v: unknown, type: FieldType): { value: unknown } | { error: string } {
  switch (type) {
    case 'string':
      return typeof v === 'string' ? { value: v } : typeof v === 'number' || typeof v === 'boolean' ? { value: String(v) } : { error: `expected a string, got ${kind(v)}` };
    case 'number':
    case 'integer': {
      const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(v) ? Number(v) : NaN;
      if (!Number.isFinite(n)) return { error: `expected a number, got ${kind(v)}` };
      if (type === 'integer' && !Number.isInteger(n)) return { error: 'expected an integer' };
      return { value: n };
    }
    case 'boolean':
      if (typeof v === 'boolean') return { value: v };
      if (v === 'true' || v === 'false') return { value: v === 'true' };
      return { error: `expected true or false, got ${kind(v)}` };
  }
}

function kind(v: unknown): string {
  if (typeof v === 'string') return 'text';
  return Array.isArray(v) ? 'an array' : v === null ? 'null' : typeof v;
}

/** Key of a row: a non-empty string, or a finite number or boolean as text. */
export function rowKey(v: unknown): string | undefined {
  if (typeof v === 'string') return v.length > 0 ? v : undefined;
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : undefined;
  if (typeof v === 'boolean') return String(v);
  return undefined;
}

/**
 * A record as a row. Empty strings of declared non-string fields are left out (an empty CSV cell).
 * `givenKey`: the key when it does not come from a field (a Kafka record key, a Redis key);
 * `fallbackTime`: the validity time when the table has no `time` (or, for Kafka, the record timestamp).
 */
export function toRow(record: Record<string, unknown>, spec: RowSpec, givenKey?: string, fallbackTime = 0): RowResult {
  const row: Record<string, unknown> = {};
  for (const [f, v] of Object.entries(record)) {
    const type = spec.fields[f];
    if (type === undefined || v === undefined || v === null) {
      if (v !== undefined) row[f] = v;
      continue;
    }
    if (v === '' && type !== 'string') continue;
    const c = coerce(v, type);
    if ('error' in c) return { error: `field "${f}": ${c.error}` };
    row[f] = c.value;
  }
  const key = spec.key === undefined ? givenKey : rowKey(row[spec.key]);
  if (key === undefined) return { error: spec.key === undefined ? 'no key' : `no usable value for key field "${spec.key}"` };
  let time = fallbackTime;
  if (spec.time !== undefined) {
    const t = parseEventTime(row[spec.time.field], spec.time.format);
    if (typeof t === 'string') return { error: `time field "${spec.time.field}": ${t}` };
    time = t;
  }
  return { key, time, row };
}

/** Bad rows of one load: how many, and the first few (line and why), for one warning. */
export class BadRows {
  count = 0;
  readonly first: string[] = [];
  add(where: string, why: string): void {
    this.count++;
    if (this.first.length < 5) this.first.push(`${where}: ${why}`);
  }
}

/**
 * The loaded content of a table and its lookups. Loads build a new {@link VersionedTable} and swap it
 * in whole (a reload never shows half a file); Kafka updates go into the current one.
 */
export class TableHolder implements TableLookup {
  private core: VersionedTable;
  private reportedDrops = 0;

  constructor(
    readonly name: string,
    readonly versioned: boolean,
    private readonly bounds: { maxVersions: number; maxRows: number },
    private readonly metrics: EngineMetrics | undefined,
  ) {
    this.core = this.fresh();
    metrics?.tableRows.set({ table: name }, 0);
    metrics?.tableReloadFailures.inc({ table: name }, 0);
    metrics?.tableBadRows.inc({ table: name }, 0);
    metrics?.tableDropped.inc({ table: name }, 0);
  }

  /** An empty table with this table's bounds (for a load to fill, then {@link swap}). */
  fresh(): VersionedTable {
    return new VersionedTable(this.bounds);
  }

  get current(): VersionedTable {
    return this.core;
  }

  get rows(): number {
    return this.core.size;
  }

  lookup(key: string, t: number): Row | undefined {
    return this.versioned ? this.core.get(key, t) : this.core.current(key);
  }

  count(key: string, from: number, to: number): number {
    return this.versioned ? this.core.count(key, from, to) : 0;
  }

  /** Replace the whole content (a load or reload succeeded). */
  swap(next: VersionedTable, loadedAt: number): void {
    this.core = next;
    this.reportedDrops = 0;
    this.report();
    this.metrics?.tableLoadedAt.set({ table: this.name }, loadedAt / 1000);
  }

  /** Update the metrics after changes to the current content. */
  report(): void {
    const m = this.metrics;
    if (m === undefined) return;
    m.tableRows.set({ table: this.name }, this.core.size);
    const drops = this.core.droppedRows + this.core.droppedVersions;
    if (drops > this.reportedDrops) m.tableDropped.inc({ table: this.name }, drops - this.reportedDrops);
    this.reportedDrops = drops;
  }
}

/** A table served by its holder: the name, type, row count and lookups every table type shares, and its own load and close. */
export function heldTable(name: string, type: string, holder: TableHolder, io: Pick<Table, 'load' | 'close'>): Table {
  return {
    name,
    type,
    get rows() {
      return holder.rows;
    },
    lookup: (key, t) => holder.lookup(key, t),
    count: (key, from, to) => holder.count(key, from, to),
    load: () => io.load(),
    close: () => io.close(),
  };
}
