/**
 * Checks across the parts of a config (names that refer to other names, fields that sources declare),
 * written for configs that may be only partly valid: they read the raw (env-expanded) object
 * defensively and judge only the parts that look right, so that they can run alongside schema
 * validation and every problem comes out in one run. The config schema runs the same checks on
 * parsed configs, so both agree.
 */
import type { z } from 'zod';
import { SCENARIO_VALUES } from '../generator/values.js';
import { detectorSchema } from '../../detectors/index.js';
import { pipelineSchema } from './pipeline.js';
import { closest } from '../util/suggest.js';
import { mappingIssues } from '../sources/mapping.js';
import { checkKafkaGroups, checkMappingPrivacy } from './refs-sources.js';
import { checkTables, isEnrichedField } from './table-refs.js';
import { checkBoardReads, checkModelTables } from './model-refs.js';
import { checkRepartition } from './repartition.js';

/** Marks (in `params`) the schema issues that come from `checkReferences`. */
export const REFERENCE_CHECK = 'vigieReferenceCheck';

/** A problem found by a check, at a config path (at the key of the last segment when `atKey`). */
export interface RefIssue {
  path: PropertyKey[];
  message: string;
  atKey?: boolean;
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The names of a list's items, or undefined when one item has no string name (the set is then unknowable). */
function namesOf(list: readonly unknown[]): string[] | undefined {
  const out: string[] = [];
  for (const it of list) {
    if (!isObj(it) || typeof it.name !== 'string') return undefined;
    out.push(it.name);
  }
  return out;
}

/** ` (did you mean "x"? <rest>)`, ` (<rest>)` or ` (did you mean "x"?)`. */
function hint(word: string, candidates: readonly string[], rest?: string): string {
  const c = closest(word, candidates);
  const parts = [c === undefined ? undefined : `did you mean "${c}"?`, rest].filter((p) => p !== undefined);
  return parts.length === 0 ? '' : ` (${parts.join(' ')})`;
}

// ---------------------------------------------------------------------------------------------
// Walking a zod schema along a config path (to find the allowed keys of an object, for instance).

interface Def {
  type: string;
  [k: string]: unknown;
}

const defOf = (s: unknown): Def | undefined => (s as { _zod?: { def?: Def } } | undefined)?._zod?.def;

/** The schema that judges `value`, wrappers removed and unions resolved by the value where possible. */
function unwrap(schema: unknown, value: unknown, depth = 0): unknown {
  let s = schema;
  for (let i = 0; i < 32 && depth < 8; i++) {
    const d = defOf(s);
    if (d === undefined) return undefined;
    switch (d.type) {
      case 'optional':
      case 'default':
      case 'prefault':
      case 'nullable':
      case 'nonoptional':
      case 'readonly':
      case 'catch':
        s = d.innerType;
        continue;
      case 'pipe':
        s = d.in;
        continue;
      case 'lazy':
        s = (d.getter as () => unknown)();
        continue;
      case 'union': {
        const options = d.options as unknown[];
        const disc = d.discriminator as string | undefined;
        if (disc !== undefined) {
          const v = isObj(value) ? value[disc] : undefined;
          const match = options.find((o) => (o as { _zod?: { propValues?: Record<string, Set<unknown>> } })._zod?.propValues?.[disc]?.has(v));
          if (match === undefined) return s;
          s = match;
          continue;
        }
        // A plain union: the option of the value's kind (object or list), if exactly one.
        const kind = Array.isArray(value) ? 'array' : isObj(value) ? 'object' : undefined;
        if (kind === undefined) return s;
        const fits = options.map((o) => unwrap(o, value, depth + 1)).filter((o) => defOf(o)?.type === kind);
        return fits.length === 1 ? fits[0] : s;
      }
      default:
        return s;
    }
  }
  return s;
}

/** Remove optional/default wrappers only (keeps refinements and pipes, e.g. to recognise a duration). */
function stripOptional(schema: unknown): unknown {
  let s = schema;
  for (let d = defOf(s); d !== undefined && ['optional', 'default', 'prefault', 'nullable'].includes(d.type); d = defOf(s)) s = d.innerType;
  return s;
}

/**
 * The schema at a path of a config (given the config's value, to resolve unions), or undefined.
 * `exact`: the schema as declared there (only optional/default removed), not what it wraps.
 */
export function schemaAt(root: z.ZodType, path: ReadonlyArray<PropertyKey>, value: unknown, exact = false): unknown {
  let s: unknown = root;
  let v = value;
  for (const seg of path) {
    const u = unwrap(s, v);
    const d = defOf(u);
    if (d === undefined) return undefined;
    if (d.type === 'object') s = (d.shape as Obj)[String(seg)];
    else if (d.type === 'array') s = d.element;
    else if (d.type === 'record') s = d.valueType;
    else return undefined;
    if (s === undefined) return undefined;
    v = isObj(v) || Array.isArray(v) ? (v as Obj)[String(seg)] : undefined;
  }
  return exact ? stripOptional(s) : unwrap(s, v);
}

/** The keys an object at this path may have, or undefined when it is not a fixed-key object. */
export function allowedKeys(root: z.ZodType, path: ReadonlyArray<PropertyKey>, value: unknown): string[] | undefined {
  const d = defOf(schemaAt(root, path, value));
  return d?.type === 'object' ? Object.keys(d.shape as Obj) : undefined;
}

const PIPELINE_KEYS = Object.keys(pipelineSchema.shape);

/** Whether an object has an unknown key that is most likely a typo of `key` (so its value is unknowable). */
function misspells(obj: Obj, allowed: readonly string[], key: string): boolean {
  return Object.keys(obj).some((k) => !allowed.includes(k) && closest(k, allowed) === key);
}

/** The options a detector of this (raw) config may have, or undefined when its type is unknown. */
function detectorKeys(d: Obj): string[] | undefined {
  const d2 = defOf(unwrap(detectorSchema, d));
  return d2?.type === 'object' ? Object.keys(d2.shape as Obj) : undefined;
}

// ---------------------------------------------------------------------------------------------

/**
 * Cross-reference checks: unique names, and names that must exist (sources of a pipeline, aggregates
 * judged by detectors, detectors required or scored by others). Safe on any value.
 */
export function checkReferences(cfg: unknown): RefIssue[] {
  const out: RefIssue[] = [];
  if (!isObj(cfg)) return out;
  const unique = (list: unknown, section: string) => {
    if (!Array.isArray(list)) return;
    const seen = new Set<string>();
    list.forEach((it, i) => {
      const name = isObj(it) ? it.name : undefined;
      if (typeof name !== 'string') return;
      if (seen.has(name)) out.push({ path: [section, i, 'name'], message: `duplicate ${section.slice(0, -1)} name "${name}"` });
      seen.add(name);
    });
  };
  unique(cfg.sources, 'sources');
  unique(cfg.pipelines, 'pipelines');
  unique(cfg.sinks, 'sinks');
  if (Array.isArray(cfg.sources)) {
    cfg.sources.forEach((src, i) => {
      for (const issue of mappingIssues(src)) out.push({ path: ['sources', i, ...issue.path], message: issue.message });
    });
    out.push(...checkMappingPrivacy(cfg));
    out.push(...checkKafkaGroups(cfg.sources));
  }
  unique(cfg.tables, 'tables');

  const sourceNames = Array.isArray(cfg.sources) ? namesOf(cfg.sources) : undefined;
  const pipelines = Array.isArray(cfg.pipelines) ? cfg.pipelines : [];
  // Where each detector name is defined (first definition), to help with references across pipelines.
  const definedIn = new Map<string, number>();
  pipelines.forEach((p, i) => {
    if (!isObj(p) || !Array.isArray(p.detectors)) return;
    for (const d of p.detectors) if (isObj(d) && typeof d.name === 'string' && !definedIn.has(d.name)) definedIn.set(d.name, i);
  });
  const pipelineName = (i: number) => {
    const p = pipelines[i];
    return isObj(p) && typeof p.name === 'string' ? `"${p.name}"` : `#${i + 1}`;
  };

  const seenDetectors = new Set<string>();
  pipelines.forEach((p, i) => {
    if (!isObj(p)) return;
    if (sourceNames !== undefined && Array.isArray(p.sources)) {
      p.sources.forEach((s, j) => {
        if (typeof s === 'string' && !sourceNames.includes(s)) {
          out.push({ path: ['pipelines', i, 'sources', j], message: `unknown source "${s}"${hint(s, sourceNames, `defined: ${sourceNames.join(', ') || 'none'}`)}` });
        }
      });
    }

    if (sourceNames !== undefined && isObj(p.join)) {
      for (const side of ['left', 'right'] as const) {
        const js = p.join[side];
        if (!isObj(js) || !Array.isArray(js.sources)) continue;
        js.sources.forEach((s, j) => {
          if (typeof s === 'string' && !sourceNames.includes(s)) {
            out.push({ path: ['pipelines', i, 'join', side, 'sources', j], message: `unknown source "${s}"${hint(s, sourceNames, `defined: ${sourceNames.join(', ') || 'none'}`)}` });
          }
        });
      }
    }

    // Aggregates: absent means none, unless a misspelt key probably holds them.
    const aggregates = p.aggregates === undefined ? (misspells(p, PIPELINE_KEYS, 'aggregates') ? undefined : []) : Array.isArray(p.aggregates) ? p.aggregates : undefined;
    const aggNames = new Set<string>();
    aggregates?.forEach((a, j) => {
      const name = isObj(a) ? a.name : undefined;
      if (typeof name !== 'string') return;
      if (aggNames.has(name)) out.push({ path: ['pipelines', i, 'aggregates', j, 'name'], message: `duplicate aggregate name "${name}"` });
      aggNames.add(name);
    });
    const knownAggregates = aggregates !== undefined && namesOf(aggregates) !== undefined ? [...aggNames] : undefined;
    const hasWindow = p.window !== undefined || misspells(p, PIPELINE_KEYS, 'window');

    const detectors = Array.isArray(p.detectors) ? p.detectors : [];
    const inPipeline = namesOf(detectors);
    /** Detector name -> the detectors of this pipeline it refers to, each with where it does. */
    const dependsOn = new Map<string, Array<[string, PropertyKey[]]>>();
    detectors.forEach((d, j) => {
      if (!isObj(d)) return;
      const at = (...rest: PropertyKey[]) => ['pipelines', i, 'detectors', j, ...rest];
      const name = typeof d.name === 'string' ? d.name : undefined;
      if (name !== undefined) {
        if (seenDetectors.has(name)) {
          out.push({ path: at('name'), message: `duplicate detector name "${name}": detector names must be unique in the config (they identify alerts)` });
        }
        seenDetectors.add(name);
      }
      // Only the options this detector's type has (an unknown key is reported by the schema).
      const keys = detectorKeys(d);
      const has = (k: string) => keys === undefined || keys.includes(k);
      for (const field of ['aggregate', 'numerator', 'denominator'] as const) {
        const ref = d[field];
        if (typeof ref !== 'string' || !has(field)) continue;
        if (!hasWindow) {
          out.push({ path: at('type'), message: `detector type "${String(d.type)}" judges window results, but this pipeline has no window` });
          break;
        }
        if (knownAggregates !== undefined && !aggNames.has(ref)) {
          out.push({ path: at(field), message: `unknown aggregate "${ref}"${hint(ref, knownAggregates, `defined in this pipeline: ${knownAggregates.join(', ') || 'none'}`)}` });
        }
      }
      const refs: Array<[unknown, PropertyKey[]]> = [];
      const requires = d.requires;
      if (isObj(requires) && Array.isArray(requires.detectors)) requires.detectors.forEach((n, k) => refs.push([n, at('requires', 'detectors', k)]));
      if (has('inputs') && Array.isArray(d.inputs)) d.inputs.forEach((inp, k) => isObj(inp) && refs.push([inp.detector, at('inputs', k, 'detector')]));
      for (const [n, path] of refs) {
        if (typeof n !== 'string') continue;
        if (n === name) out.push({ path, message: `detector "${n}" cannot refer to itself` });
        else if (inPipeline !== undefined && !inPipeline.includes(n)) {
          const elsewhere = definedIn.get(n);
          const message =
            elsewhere !== undefined && elsewhere !== i
              ? `unknown detector "${n}" in this pipeline: it is defined in pipeline ${pipelineName(elsewhere)}, and detectors can only refer to detectors of their own pipeline`
              : `unknown detector "${n}"${hint(n, inPipeline.filter((x) => x !== name), `detectors of this pipeline: ${[...new Set(inPipeline)].join(', ')}`)}`;
          out.push({ path, message });
        } else if (name !== undefined) dependsOn.set(name, [...(dependsOn.get(name) ?? []), [n, path]]);
      }
    });
    out.push(...circles(dependsOn));
  });
  out.push(...checkPurposeFields(cfg));
  out.push(...checkRepartition(cfg));
  out.push(...checkTables(cfg));
  out.push(...checkModelTables(cfg), ...checkBoardReads(cfg));
  pipelines.forEach((p, i) => isObj(p) && out.push(...checkJoinedFields(p, i)));
  return out;
}

/**
 * After a join, a pipeline's where, aggregates, detectors and alertFields see joined events, whose
 * fields are the key and `<as>.<field>`: a plain field name there would never be found.
 */
function checkJoinedFields(p: Obj, i: number): RefIssue[] {
  const j = p.join;
  if (!isObj(j) || !isObj(j.left) || !isObj(j.right) || typeof j.left.as !== 'string' || typeof j.right.as !== 'string') return [];
  const names = [j.left.as, j.right.as];
  const keys = Array.isArray(p.key) ? p.key : [p.key];
  const out: RefIssue[] = [];
  for (const ref of fieldRefs({ ...p, join: undefined }, i)) {
    if (ref.path[2] === 'key' || keys.includes(ref.field) || names.some((n) => ref.field.startsWith(`${n}.`))) continue;
    out.push({
      path: ref.path,
      atKey: ref.atKey,
      message: `field "${ref.field}" is not a field of the joined events, which carry the key and each side's fields as "<as>.<field>" (did you mean ${names.map((n) => `"${n}.${ref.field}"`).join(' or ')}?)`,
    });
  }
  return out;
}

/**
 * Detectors that require or score one another in a circle: each must see the others' signals first,
 * so none can run. One problem per circle, at the reference that closes it.
 */
function circles(dependsOn: ReadonlyMap<string, ReadonlyArray<[string, PropertyKey[]]>>): RefIssue[] {
  const out: RefIssue[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (name: string): void => {
    state.set(name, 'visiting');
    stack.push(name);
    for (const [next, path] of dependsOn.get(name) ?? []) {
      const st = state.get(next);
      if (st === 'visiting') {
        const circle = [...stack.slice(stack.indexOf(next)), next].map((n) => `"${n}"`).join(' -> ');
        out.push({ path, message: `detectors ${circle} depend on each other in a circle (through requires or score inputs): remove one of these references` });
      } else if (st === undefined) visit(next);
    }
    stack.pop();
    state.set(name, 'done');
  };
  for (const name of dependsOn.keys()) if (!state.has(name)) visit(name);
  return out;
}

// ---------------------------------------------------------------------------------------------

/** Where a pipeline names payload fields: [path, field, whether the path ends at a key naming the field]. */
function fieldRefs(p: Obj, i: number): Array<{ path: PropertyKey[]; field: string; atKey: boolean }> {
  const out: Array<{ path: PropertyKey[]; field: string; atKey: boolean }> = [];
  const base: PropertyKey[] = ['pipelines', i];
  const value = (v: unknown, path: PropertyKey[]) => typeof v === 'string' && out.push({ path, field: v, atKey: false });
  const keys = (m: unknown, path: PropertyKey[]) => {
    if (isObj(m)) for (const k of Object.keys(m)) out.push({ path: [...path, k], field: k, atKey: true });
  };
  if (Array.isArray(p.key)) p.key.forEach((k, j) => value(k, [...base, 'key', j]));
  else value(p.key, [...base, 'key']);
  keys(p.where, [...base, 'where']);
  keys(p.missing, [...base, 'missing']);
  if (Array.isArray(p.alertFields)) p.alertFields.forEach((f, j) => value(f, [...base, 'alertFields', j]));
  if (Array.isArray(p.aggregates)) p.aggregates.forEach((a, j) => isObj(a) && value(a.field, [...base, 'aggregates', j, 'field']));
  if (Array.isArray(p.detectors)) {
    p.detectors.forEach((d, j) => {
      if (!isObj(d)) return;
      const at: PropertyKey[] = [...base, 'detectors', j];
      for (const f of ['field', 'latField', 'lonField']) value(d[f], [...at, f]);
      // geo-velocity reads `lat` and `lon` unless told otherwise.
      if (d.type === 'geo-velocity') {
        if (d.latField === undefined) value('lat', [...at, 'latField']);
        if (d.lonField === undefined) value('lon', [...at, 'lonField']);
      }
      keys(d.match, [...at, 'match']);
      if (Array.isArray(d.steps)) d.steps.forEach((s, k) => isObj(s) && keys(s.match, [...at, 'steps', k, 'match']));
    });
  }
  if (!isObj(p.join)) return out;
  // After a join, fields are named `<as>.<field>`: judged as the input field they come from.
  const j = p.join;
  const sides = [j.left, j.right].map((s) => (isObj(s) && typeof s.as === 'string' ? `${s.as}.` : undefined));
  const joined: typeof out = [];
  for (const ref of out) {
    const prefix = sides.find((x) => x !== undefined && ref.field.startsWith(x));
    if (prefix === undefined) joined.push(ref);
    else if (!(prefix === sides[1] && ref.field === `${prefix}matched`)) joined.push({ ...ref, field: ref.field.slice(prefix.length) });
  }
  const n = out.length;
  for (const side of ['left', 'right'] as const) {
    const js = j[side];
    if (isObj(js)) keys(js.where, [...base, 'join', side, 'where']);
  }
  for (const list of ['differ', 'equal'] as const) if (Array.isArray(j[list])) j[list].forEach((f, k) => value(f, [...base, 'join', list, k]));
  return joined.concat(out.slice(n));
}

/**
 * Warnings about payload fields a pipeline names but its sources do not declare. Sources are often
 * incomplete on purpose (`fields` lists the fields worth type-checking), so only near-misses of a
 * declared field are reported: `amout` when `amount` is declared, not `merchant`. Only pipelines all
 * of whose sources declare fields are checked; each source's time and id fields count as declared.
 */
export function checkFieldReferences(cfg: unknown): RefIssue[] {
  const out: RefIssue[] = [];
  if (!isObj(cfg) || !Array.isArray(cfg.sources) || !Array.isArray(cfg.pipelines)) return out;
  const sources = new Map<string, { fields: string[]; implicit: string[] }>();
  for (const s of cfg.sources) {
    if (!isObj(s) || typeof s.name !== 'string') return out;
    const fields = isObj(s.fields) ? Object.keys(s.fields) : [];
    const time = isObj(s.time) && typeof s.time.field === 'string' ? s.time.field : 'ts';
    const id = typeof s.id === 'string' ? s.id : 'id';
    // Fields the mapping makes count as declared.
    const mapped = [...(isObj(s.rename) ? Object.values(s.rename).filter((f): f is string => typeof f === 'string') : []), ...(isObj(s.derive) ? Object.keys(s.derive) : []), ...(isObj(s.defaults) ? Object.keys(s.defaults) : [])];
    sources.set(s.name, { fields, implicit: [time, id, ...mapped] });
  }
  cfg.pipelines.forEach((p, i) => {
    if (!isObj(p)) return;
    const read = p.sources === undefined ? [...sources.keys()] : Array.isArray(p.sources) ? p.sources : [];
    if (read.length === 0 || !read.every((n) => typeof n === 'string' && (sources.get(n)?.fields.length ?? 0) > 0)) return;
    const names = read as string[];
    const declared = [...new Set(names.flatMap((n) => sources.get(n)!.fields))];
    const known = new Set([...declared, ...names.flatMap((n) => sources.get(n)!.implicit)]);
    const where = names.length === 1 ? `source "${names[0]}"` : `sources ${names.map((n) => `"${n}"`).join(', ')}`;
    for (const ref of fieldRefs(p, i)) {
      if (known.has(ref.field) || isEnrichedField(p, ref.field)) continue;
      const near = closest(ref.field, declared);
      if (near === undefined) continue;
      out.push({ path: ref.path, atKey: ref.atKey, message: `field "${ref.field}" is not declared in the fields of ${where} (did you mean "${near}"?)` });
    }
  });
  return out;
}

/**
 * `where` values no event of the pipeline's sources can carry (warnings): a value a built-in generator
 * never gives its field (`type: paymnet`) filters out every event, silently. Checked where a source
 * says what values a field takes: generator scenarios.
 */
export function checkWhereValues(cfg: unknown): RefIssue[] {
  const out: RefIssue[] = [];
  if (!isObj(cfg) || !Array.isArray(cfg.sources) || !Array.isArray(cfg.pipelines)) return out;
  const values = new Map<string, Readonly<Record<string, readonly string[]>> | undefined>();
  for (const s of cfg.sources) {
    if (!isObj(s) || typeof s.name !== 'string') return out;
    const scenario = s.type === 'generator' && typeof s.scenario === 'string' ? (SCENARIO_VALUES as Record<string, Record<string, readonly string[]>>)[s.scenario] : undefined;
    values.set(s.name, scenario);
  }
  cfg.pipelines.forEach((p, i) => {
    if (!isObj(p) || !isObj(p.where)) return;
    const read = p.sources === undefined ? [...values.keys()] : Array.isArray(p.sources) ? (p.sources as unknown[]) : [];
    const known = read.map((n) => (typeof n === 'string' ? values.get(n) : undefined));
    // Only when every source read says what values the field takes: another source may carry any value.
    if (known.length === 0 || known.some((k) => k === undefined)) return;
    for (const [field, want] of Object.entries(p.where)) {
      const taken = known.map((k) => k?.[field]);
      if (taken.some((t) => t === undefined)) continue;
      const all = [...new Set(taken.flat() as string[])];
      const list = Array.isArray(want) ? want : [want];
      list.forEach((v, j) => {
        if (typeof v !== 'string' || all.includes(v)) return;
        const near = closest(v, all);
        const path = ['pipelines', i, 'where', field, ...(Array.isArray(want) ? [j] : [])];
        out.push({ path, message: `"${v}" never occurs in field "${field}" of the events read (${all.join(', ')}): this pipeline would filter out every event${near ? ` (did you mean "${near}"?)` : ''}` });
      });
    }
  });
  return out;
}

/**
 * Purpose limitation: a pipeline that declares the `fields` it may use must not name any other field
 * (key, where, aggregates, detectors). Errors, not warnings: the engine strips undeclared fields from
 * the pipeline's events, so such a reference could only ever see nothing.
 */
export function checkPurposeFields(cfg: unknown): RefIssue[] {
  const out: RefIssue[] = [];
  if (!isObj(cfg) || !Array.isArray(cfg.pipelines)) return out;
  cfg.pipelines.forEach((p, i) => {
    if (!isObj(p) || !Array.isArray(p.fields)) return;
    const allowed = p.fields.filter((f): f is string => typeof f === 'string');
    const set = new Set(allowed);
    for (const ref of fieldRefs(p, i)) {
      if (set.has(ref.field)) continue;
      out.push({
        path: ref.path,
        atKey: ref.atKey,
        message: `field "${ref.field}" is not among the fields this pipeline declares for its purpose${hint(ref.field, allowed, `declared: ${allowed.join(', ') || 'none'}`)}`,
      });
    }
  });
  return out;
}
