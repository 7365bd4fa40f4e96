/**
 * Checks of `tables:` and of the pipelines' `enrich` against them, on raw (possibly partly valid)
 * configs like the rest of refs.ts: a table named must exist, copied fields must not clash with
 * event fields unless `overwrite` says so, and a pipeline limited to `fields` must list what it joins on.
 */
import { closest } from '../util/suggest.js';

/** A problem at a config path (the same shape as refs.ts' RefIssue, which imports this file). */
export interface TableIssue {
  path: PropertyKey[];
  message: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/** What an enrich entry writes into events: exact names, or (all row fields) every name under a prefix. */
interface Writes {
  exact: string[];
  /** Set when every row field is copied: any name starting with this. */
  under: string | undefined;
}

function writesOf(e: Obj): Writes | undefined {
  if (typeof e.table !== 'string') return undefined;
  const prefix = typeof e.prefix === 'string' ? e.prefix : `${e.table}.`;
  const exact: string[] = [];
  const fields = Array.isArray(e.fields) ? e.fields.filter((f): f is string => typeof f === 'string') : undefined;
  if (fields !== undefined) exact.push(...fields.map((f) => prefix + f));
  if (e.missing === 'flag') exact.push(`${prefix}missing`);
  if (isObj(e.missing) && isObj(e.missing.defaults)) exact.push(...Object.keys(e.missing.defaults).map((f) => prefix + f));
  return { exact, under: fields === undefined ? prefix : undefined };
}

const writes = (w: Writes, field: string): boolean => w.exact.includes(field) || (w.under !== undefined && field.startsWith(w.under));

/** Whether a pipeline's `enrich` may put this field into its events (for the field checks of refs.ts). */
export function isEnrichedField(p: Obj, field: string): boolean {
  if (!Array.isArray(p.enrich)) return false;
  return p.enrich.some((e) => {
    const w = isObj(e) ? writesOf(e) : undefined;
    return w !== undefined && writes(w, field);
  });
}

/** Fields the sources declare (their `fields`, time and id fields), by source name. */
function declaredBySource(cfg: Obj): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (!Array.isArray(cfg.sources)) return out;
  for (const s of cfg.sources) {
    if (!isObj(s) || typeof s.name !== 'string') continue;
    const fields = isObj(s.fields) ? Object.keys(s.fields) : [];
    const time = isObj(s.time) && typeof s.time.field === 'string' ? s.time.field : 'ts';
    out.set(s.name, [...fields, time, typeof s.id === 'string' ? s.id : 'id']);
  }
  return out;
}

export function checkTables(cfg: unknown): TableIssue[] {
  const out: TableIssue[] = [];
  if (!isObj(cfg)) return out;
  const tables = Array.isArray(cfg.tables) ? cfg.tables : cfg.tables === undefined ? [] : undefined;
  const names = tables?.every((t) => isObj(t) && typeof t.name === 'string') ? tables.map((t) => (t as Obj).name as string) : undefined;
  const bySource = declaredBySource(cfg);
  if (!Array.isArray(cfg.pipelines)) return out;
  cfg.pipelines.forEach((p, i) => {
    if (!isObj(p) || !Array.isArray(p.enrich)) return;
    const read = Array.isArray(p.sources) ? p.sources.filter((s): s is string => typeof s === 'string') : [...bySource.keys()];
    const declared = new Set(read.flatMap((s) => bySource.get(s) ?? []));
    const purpose = Array.isArray(p.fields) ? p.fields.filter((f): f is string => typeof f === 'string') : undefined;
    const earlier: Array<{ j: number; w: Writes }> = [];
    p.enrich.forEach((e, j) => {
      if (!isObj(e)) return;
      const at = (...rest: PropertyKey[]) => ['pipelines', i, 'enrich', j, ...rest];
      if (typeof e.table === 'string' && names !== undefined && !names.includes(e.table)) {
        const near = closest(e.table, names);
        const rest = `tables declared: ${names.join(', ') || 'none (add a `tables:` section)'}`;
        out.push({ path: at('table'), message: `unknown table "${e.table}" (${near === undefined ? '' : `did you mean "${near}"? `}${rest})` });
      }
      if (purpose !== undefined && typeof e.on === 'string' && !purpose.includes(e.on) && !earlier.some((x) => writes(x.w, e.on as string))) {
        out.push({ path: at('on'), message: `field "${e.on}" is not among the fields this pipeline declares for its purpose: add it to \`fields\`` });
      }
      const w = writesOf(e);
      if (w === undefined || e.overwrite === true) {
        if (w !== undefined) earlier.push({ j, w });
        return;
      }
      if (w.under === '') {
        out.push({ path: at('prefix'), message: 'an empty prefix copies every row field under its own name, which may replace event fields: list the `fields` to copy, set a prefix, or set `overwrite: true`' });
      } else {
        const clash = [...declared].find((f) => writes(w, f));
        if (clash !== undefined) out.push({ path: at(w.under === undefined ? 'fields' : 'prefix'), message: `enriched field "${clash}" is a field of the events read: choose another prefix, or set \`overwrite: true\` to replace it` });
        const other = earlier.find((x) => w.exact.some((f) => writes(x.w, f)) || x.w.exact.some((f) => writes(w, f)) || (w.under !== undefined && w.under === x.w.under));
        if (other !== undefined) out.push({ path: at('prefix'), message: `enrich #${j + 1} writes the same fields as enrich #${other.j + 1}: give one of them another prefix, or set \`overwrite: true\`` });
      }
      earlier.push({ j, w });
    });
  });
  return out;
}
