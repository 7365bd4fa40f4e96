/**
 * Checks of the `model` detectors against `tables:`, on raw (possibly partly valid) configs like the
 * rest of refs.ts: every table a model reads (its labels, its table features, its queue's exclusions)
 * must exist, and those read at event time must be versioned by time, or the model would learn from
 * reports made after the events it scores.
 */
import { closest } from '../util/suggest.js';
import type { TableIssue } from './table-refs.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

export function checkModelTables(cfg: unknown): TableIssue[] {
  const out: TableIssue[] = [];
  if (!isObj(cfg) || !Array.isArray(cfg.pipelines)) return out;
  const tables = Array.isArray(cfg.tables) ? cfg.tables.filter(isObj) : [];
  const byName = new Map(tables.filter((t) => typeof t.name === 'string').map((t) => [t.name as string, t]));
  const names = [...byName.keys()];
  cfg.pipelines.forEach((p, i) => {
    if (!isObj(p) || !Array.isArray(p.detectors)) return;
    p.detectors.forEach((d, j) => {
      if (!isObj(d) || d.type !== 'model') return;
      const at = (...rest: PropertyKey[]) => ['pipelines', i, 'detectors', j, ...rest];
      const need = (name: unknown, path: PropertyKey[], what: string, timed: boolean): void => {
        if (typeof name !== 'string') return;
        const t = byName.get(name);
        if (t === undefined) {
          const near = closest(name, names);
          out.push({ path, message: `unknown table "${name}" (${near === undefined ? '' : `did you mean "${near}"? `}tables declared: ${names.join(', ') || 'none (add a `tables:` section)'})` });
          return;
        }
        if (timed && t.time === undefined) {
          out.push({ path, message: `table "${name}" has no \`time\`: ${what} must be versioned by time (the report time), or the model would use reports made after the events it scores` });
        }
      };
      if (isObj(d.labels)) need(d.labels.table, at('labels', 'table'), 'the labels table', true);
      if (Array.isArray(d.features)) {
        d.features.forEach((f, k) => {
          if (isObj(f) && typeof f.table === 'string') need(f.table, at('features', k, 'table'), `a table a feature ${f.stat === 'field' ? 'reads' : 'counts or checks'}`, f.stat === 'count');
        });
      }
      if (isObj(d.queue) && isObj(d.queue.exclude)) need(d.queue.exclude.table, at('queue', 'exclude', 'table'), 'the exclusions table', false);
    });
  });
  return out;
}
