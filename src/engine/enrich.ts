/**
 * The enrichment stage of a pipeline: for each `enrich` entry, the row of the table valid at the
 * event's time, copied into a copy of the event's payload (the shared event is never changed).
 * Pure: tables are looked up through {@link TableLookup}, nothing here does I/O.
 */
import type { Batch, VEvent } from '../types.js';
import { enrichPrefix, type EnrichConfig } from '../config/enrich.js';
import type { Row, TableLookup } from '../sources/tables/index.js';

/** Lookups of one enrich entry since last taken. */
export interface EnrichCounts {
  table: string;
  /** A row was valid at the event's time. */
  hits: number;
  /** No row (or no usable key in the event). */
  misses: number;
}

interface Step {
  table: string;
  lookup: TableLookup | undefined;
  on: string;
  /** [row field, event field] pairs; undefined: every field of the row. */
  copy: Array<[string, string]> | undefined;
  prefix: string;
  overwrite: boolean;
  missing: 'pass' | 'flag' | 'dead-letter' | 'defaults';
  defaults: Row | undefined;
  flagField: string;
  /** Row field -> event field, for `copy` undefined (built as rows are met; bounded by the table's columns). */
  names: Map<string, string>;
  counts: EnrichCounts;
}

const EMPTY: TableLookup = { name: '', lookup: () => undefined, count: () => 0 };

export class EnrichStage {
  private readonly steps: Step[];

  /**
   * `tables`: the run's tables by name (absent when only validating: every lookup then misses).
   * `allowed`: the pipeline's purpose `fields`, the only ones its dead letters may show.
   */
  constructor(
    private readonly pipeline: string,
    configs: readonly EnrichConfig[],
    tables: ReadonlyMap<string, TableLookup> | undefined,
    private readonly allowed?: readonly string[],
  ) {
    this.steps = configs.map((c) => {
      const prefix = enrichPrefix(c);
      const missing = typeof c.missing === 'object' ? 'defaults' : c.missing;
      return {
        table: c.table,
        lookup: tables?.get(c.table) ?? EMPTY,
        on: c.on,
        copy: c.fields?.map((f) => [f, prefix + f] as [string, string]),
        prefix,
        overwrite: c.overwrite,
        missing,
        defaults: typeof c.missing === 'object' ? c.missing.defaults : undefined,
        flagField: `${prefix}missing`,
        names: new Map(),
        counts: { table: c.table, hits: 0, misses: 0 },
      };
    });
  }

  /**
   * The event with its rows added, or undefined when a `dead-letter` entry found no row (the dead
   * letter is then on the batch). Returns `e` itself when nothing was added.
   */
  apply(e: VEvent, batch: Batch): VEvent | undefined {
    let out: Record<string, unknown> | undefined;
    for (let i = 0; i < this.steps.length; i++) {
      const s = this.steps[i];
      const payload = out ?? e.payload;
      const key = keyOf(payload[s.on]);
      const row = key === undefined ? undefined : s.lookup!.lookup(key, e.time);
      if (row !== undefined) s.counts.hits++;
      else {
        s.counts.misses++;
        if (s.missing === 'dead-letter') {
          const why = key === undefined ? `no usable value in field "${s.on}"` : `no row of table "${s.table}" valid at the event's time for field "${s.on}"`;
          const raw = this.allowed === undefined ? e.payload : Object.fromEntries(this.allowed.filter((f) => Object.hasOwn(e.payload, f)).map((f) => [f, e.payload[f]]));
          batch.deadLetters.push({ reason: 'missing_row', detail: why, source: e.source, pipeline: this.pipeline, partition: e.partition, offset: e.offset, raw, time: e.time });
          return undefined;
        }
      }
      const from = row ?? (s.missing === 'defaults' ? s.defaults : undefined);
      if (from === undefined && s.missing !== 'flag') continue;
      out ??= { ...e.payload };
      if (from !== undefined) {
        if (s.copy !== undefined) {
          for (let j = 0; j < s.copy.length; j++) {
            const [f, to] = s.copy[j];
            if (Object.hasOwn(from, f)) this.set(out, to, from[f], s.overwrite);
          }
        } else {
          for (const f of Object.keys(from)) {
            let to = s.names.get(f);
            if (to === undefined) {
              // The same string every time: V8 then finds the property without hashing a new name.
              to = s.prefix + f;
              if (s.names.size < 10_000) s.names.set(f, to);
            }
            this.set(out, to, from[f], s.overwrite);
          }
        }
      }
      if (s.missing === 'flag') this.set(out, s.flagField, row === undefined, s.overwrite);
    }
    return out === undefined ? e : { ...e, payload: out };
  }

  private set(out: Record<string, unknown>, field: string, value: unknown, overwrite: boolean): void {
    if (!overwrite && Object.hasOwn(out, field)) return;
    out[field] = value;
  }

  /** Take and reset the counts, one entry per `enrich` entry. */
  takeCounts(): EnrichCounts[] {
    return this.steps.map((s) => {
      const c = { ...s.counts };
      s.counts.hits = s.counts.misses = 0;
      return c;
    });
  }
}

function keyOf(v: unknown): string | undefined {
  if (typeof v === 'string') return v.length > 0 ? v : undefined;
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : undefined;
  if (typeof v === 'boolean') return String(v);
  return undefined;
}
