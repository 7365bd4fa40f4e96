/**
 * Checks of the `model` detectors against `tables:`, on raw (possibly partly valid) configs like the
 * rest of refs.ts: every table a model reads (its labels, its table features, its queue's exclusions)
 * must exist, and those read at event time must be versioned by time, or the model would learn from
 * reports made after the events it scores.
 */
import { closest } from '../util/suggest.js';
import { needsRekey } from './repartition.js';
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
      const own = (p.detectors as unknown[]).filter(isObj).map((x) => x.name).filter((n): n is string => typeof n === 'string');
      if (Array.isArray(d.features)) {
        d.features.forEach((f, k) => {
          if (!isObj(f) || typeof f.detector !== 'string' || f.pipeline !== undefined) return;
          if (f.detector === d.name) out.push({ path: at('features', k, 'detector'), message: 'a model cannot read its own judgement' });
          else if (!own.includes(f.detector)) {
            const near = closest(f.detector, own);
            out.push({ path: at('features', k, 'detector'), message: `unknown detector "${f.detector}"${near === undefined ? '' : ` (did you mean "${near}"?)`} (detectors of this pipeline: ${own.join(', ')})` });
          }
        });
      }
      if (isObj(d.queue) && isObj(d.queue.exclude)) need(d.queue.exclude.table, at('queue', 'exclude', 'table'), 'the exclusions table', false);
    });
  });
  return out;
}

/** The `pipeline/detector` pairs that model features of other pipelines read (what a task's board records). */
export function boardReads(pipelines: ReadonlyArray<{ detectors: ReadonlyArray<unknown> }>): Set<string> {
  const out = new Set<string>();
  for (const p of pipelines) {
    for (const d of p.detectors) {
      if (!isObj(d) || d.type !== 'model' || !Array.isArray(d.features)) continue;
      for (const f of d.features) if (isObj(f) && typeof f.pipeline === 'string' && typeof f.detector === 'string') out.add(`${f.pipeline}/${f.detector}`);
    }
  }
  return out;
}

/**
 * Features that read another pipeline's judgements: the pipeline must come earlier in the config (it
 * judges each batch first), hold the detector, and run in the same task: neither may be re-keyed
 * through a topic of its own.
 */
export function checkBoardReads(cfg: unknown): TableIssue[] {
  const out: TableIssue[] = [];
  if (!isObj(cfg) || !Array.isArray(cfg.pipelines)) return out;
  const sources = Array.isArray(cfg.sources) ? cfg.sources.filter(isObj) : [];
  const rekeyed = (p: Obj): boolean => {
    if (typeof p.key !== 'string' && !Array.isArray(p.key)) return false;
    const listed = Array.isArray(p.sources) ? p.sources : undefined;
    return needsRekey(sources.filter((s) => listed === undefined || listed.includes(s.name)), p.key as string | string[]);
  };
  const pipelines = cfg.pipelines.filter(isObj);
  const names = pipelines.map((p) => p.name).filter((n): n is string => typeof n === 'string');
  cfg.pipelines.forEach((p, i) => {
    if (!isObj(p) || !Array.isArray(p.detectors)) return;
    p.detectors.forEach((d, j) => {
      if (!isObj(d) || d.type !== 'model' || !Array.isArray(d.features)) return;
      d.features.forEach((f, k) => {
        if (!isObj(f) || typeof f.pipeline !== 'string') return;
        const at = ['pipelines', i, 'detectors', j, 'features', k, 'pipeline'];
        const from = pipelines.findIndex((q) => q.name === f.pipeline);
        if (from < 0) {
          const near = closest(f.pipeline, names);
          out.push({ path: at, message: `unknown pipeline "${f.pipeline}"${near === undefined ? '' : ` (did you mean "${near}"?)`}` });
          return;
        }
        if (from >= i) {
          out.push({ path: at, message: `pipeline "${f.pipeline}" must come before pipeline "${String(p.name)}" in the config: it judges each batch first, so that an event reads what was judged up to its own time` });
          return;
        }
        const q = pipelines[from];
        const dets = Array.isArray(q.detectors) ? q.detectors.filter(isObj).map((x) => x.name) : [];
        if (typeof f.detector === 'string' && !dets.includes(f.detector)) {
          const near = closest(f.detector, dets.filter((n): n is string => typeof n === 'string'));
          out.push({ path: [...at.slice(0, -1), 'detector'], message: `pipeline "${f.pipeline}" has no detector "${f.detector}"${near === undefined ? '' : ` (did you mean "${near}"?)`}` });
        }
        if (rekeyed(q) || rekeyed(p)) {
          out.push({
            path: at,
            message:
              `pipeline "${f.pipeline}" or "${String(p.name)}" is re-keyed through a repartition topic (a Kafka source partitioned by another key), so they run in different tasks and cannot read each other's judgements at event time; ` +
              'read the entity\'s reports from a table instead (`table:` features), or drop `partitionedBy` when one partition holds all the data',
          });
        }
      });
    });
  });
  return out;
}
