/**
 * A table in a file: CSV with a header line, or NDJSON (one JSON object a line), by extension.
 * Loaded whole at start; live, reloaded whole when the file changes (polled, debounced). A reload
 * that fails (unreadable file, unterminated quote, no valid row) keeps the previous rows.
 */
import { readFile } from 'node:fs/promises';
import { unwatchFile, watchFile, type Stats } from 'node:fs';
import { extname, resolve } from 'node:path';
import { z } from 'zod';
import { VigieError } from '../../errors.js';
import { durationSchema, positiveDurationSchema } from '../../time/duration.js';
import { parseCsv } from './csv.js';
import { BadRows, commonTableShape, TableHolder, tableTimeSchema, toRow, type RowSpec, type Table, type TableContext, heldTable } from './types.js';
import type { VersionedTable } from './versioned.js';

export const type = 'file';

export const schema = z
  .strictObject({
    ...commonTableShape,
    type: z.literal(type).describe('Selects the file table.'),
    path: z
      .string()
      .min(1)
      .regex(/\.(csv|ndjson|jsonl)$/i, 'the extension says the format: .csv, .ndjson or .jsonl')
      .describe('Path of the file, relative to the config file: `.csv` (header line, RFC 4180 quoting) or `.ndjson` / `.jsonl` (one JSON object a line).'),
    key: z.string().min(1).describe('Column (field) holding the row key, matched against the event field named by `enrich.on`.'),
    time: tableTimeSchema.optional(),
    watch: z.boolean().default(true).describe('`vigie run`: reload the file when it changes (never in replay, which loads it once).'),
    poll: positiveDurationSchema.default(1000).describe('How often the file is checked for changes.'),
    debounce: durationSchema.default(200).describe('Wait this long after the last change seen before reloading (a file being written is read once, whole).'),
  })
  .describe('A table in a CSV or NDJSON file, reloaded when it changes.');
export type Config = z.infer<typeof schema>;

/** What reading the file gave: a filled table and its bad rows, or why the whole file is refused. */
export type FileLoad = { table: VersionedTable; bad: BadRows; rows: number } | { error: string; line?: number };

/** Parse a table file's text into `into` (pure: no I/O; exported for tests). */
export function parseTableFile(text: string, format: 'csv' | 'ndjson', spec: RowSpec, into: VersionedTable): FileLoad {
  const bad = new BadRows();
  let rows = 0;
  const add = (record: Record<string, unknown>, line: number) => {
    const r = toRow(record, spec);
    if ('error' in r) return bad.add(`line ${line}`, r.error);
    into.put(r.key, r.time, r.row);
    rows++;
  };
  if (format === 'csv') {
    const csv = parseCsv(text);
    if ('error' in csv) return csv;
    if (spec.key !== undefined && !csv.header.includes(spec.key)) return { error: `no column "${spec.key}" (the key) in the header`, line: 1 };
    for (const rec of csv.records) {
      if (rec.fields.length !== csv.header.length) {
        bad.add(`line ${rec.line}`, `${rec.fields.length} fields, the header has ${csv.header.length}`);
        continue;
      }
      const o: Record<string, unknown> = {};
      csv.header.forEach((h, j) => (o[h] = rec.fields[j]));
      add(o, rec.line);
    }
  } else {
    const lines = text.split('\n');
    lines.forEach((raw, j) => {
      const s = raw.trim();
      if (s === '') return;
      let v: unknown;
      try {
        v = JSON.parse(s.charCodeAt(0) === 0xfeff ? s.slice(1) : s);
      } catch {
        return bad.add(`line ${j + 1}`, 'not valid JSON');
      }
      if (v === null || typeof v !== 'object' || Array.isArray(v)) return bad.add(`line ${j + 1}`, 'not a JSON object');
      add(v as Record<string, unknown>, j + 1);
    });
  }
  if (rows === 0 && bad.count > 0) return { error: `no valid row (${bad.first[0]})` };
  return { table: into, bad, rows };
}

export function create(config: Config, ctx: TableContext): Table {
  const path = resolve(ctx.baseDir, config.path);
  const format = extname(path).toLowerCase() === '.csv' ? 'csv' : 'ndjson';
  const spec: RowSpec = { key: config.key, time: config.time, fields: config.fields };
  const holder = new TableHolder(config.name, config.time !== undefined, config, ctx.metrics);
  const log = ctx.logger.child({ table: config.name });
  let timer: NodeJS.Timeout | undefined;
  let watching = false;
  let closed = false;
  /** Number of the latest reload started: an older one finishing later must not swap its rows in. */
  let seq = 0;

  async function read(): Promise<FileLoad> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      return { error: `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
    }
    return parseTableFile(text, format, spec, holder.fresh());
  }

  function reported(r: Extract<FileLoad, { table: unknown }>): void {
    if (r.bad.count > 0) {
      ctx.metrics?.tableBadRows.inc({ table: config.name }, r.bad.count);
      log.warn({ file: path, badRows: r.bad.count, first: r.bad.first }, 'table rows skipped: malformed');
    }
  }

  async function reload(): Promise<void> {
    const mine = ++seq;
    const r = await read();
    if (closed || mine !== seq) return;
    if ('error' in r) {
      ctx.metrics?.tableReloadFailures.inc({ table: config.name });
      log.warn({ file: path, line: r.line, reason: r.error }, 'table reload failed: keeping the previous rows');
      return;
    }
    reported(r);
    holder.swap(r.table, Date.now());
    log.info({ file: path, rows: holder.rows }, 'table reloaded');
  }

  const onChange = (cur: Stats, prev: Stats) => {
    if (cur.mtimeMs === prev.mtimeMs && cur.size === prev.size && cur.ino === prev.ino) return;
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      void reload();
    }, config.debounce);
  };

  return heldTable(config.name, type, holder, {
    async load() {
      const r = await read();
      if ('error' in r) {
        throw new VigieError('VIGIE_ERR_TABLE', `table "${config.name}": ${r.error}${r.line !== undefined ? ` (${path}, line ${r.line})` : ` (${path})`}`);
      }
      reported(r);
      holder.swap(r.table, Date.now());
      log.info({ file: path, rows: holder.rows }, 'table loaded');
      if (ctx.live && config.watch && !closed) {
        watchFile(path, { interval: config.poll, persistent: false }, onChange);
        watching = true;
      }
    },
    async close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      if (watching) unwatchFile(path, onChange);
    },
  });
}
