/**
 * The mapping stage of a source: rename, derive, defaults, required (see `mappingShape`). Pure: a record's
 * payload in, the mapped payload out (a copy: the record is never changed), and the required fields it lacks.
 */
import type { Derivation, Mapping } from './mapping.js';

/** Maps a payload; pushes onto `missing` the required fields the mapped payload lacks (none: it is an event). */
export type MappingStage = (payload: Record<string, unknown>, missing: string[]) => Record<string, unknown>;

type Obj = Record<string, unknown>;

const isPlainObject = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v) && !ArrayBuffer.isView(v);
const absent = (v: unknown) => v === undefined || v === null;
const isScalar = (v: unknown): v is string | number | boolean => typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean';

/** A parsed field path: the name as written, and its parts when it reads into nested objects. */
interface FieldPath {
  name: string;
  parts: readonly string[] | undefined;
}

const pathOf = (name: string): FieldPath => ({ name, parts: name.includes('.') ? name.split('.') : undefined });

/**
 * The value at a field path: the top-level field of that exact name when there is one, else the nested
 * path through plain objects (arrays are not entered). Own properties only.
 */
export function readPath(payload: Obj, path: FieldPath | string): unknown {
  const p = typeof path === 'string' ? pathOf(path) : path;
  if (Object.hasOwn(payload, p.name)) return payload[p.name];
  if (p.parts === undefined) return undefined;
  let v: unknown = payload;
  for (const part of p.parts) {
    if (!isPlainObject(v) || !Object.hasOwn(v, part)) return undefined;
    v = v[part];
  }
  return v;
}

/** A copy of `obj` without the value at `parts` (objects along the path are copied, never changed). */
function withoutNested(obj: Obj, parts: readonly string[], i: number): Obj {
  const k = parts[i];
  if (!Object.hasOwn(obj, k)) return obj;
  const copy = { ...obj };
  if (i === parts.length - 1) delete copy[k];
  else {
    const inner = obj[k];
    if (!isPlainObject(inner)) return obj;
    copy[k] = withoutNested(inner, parts, i + 1);
  }
  return copy;
}

/** Remove a nested value that a rename read from `out` (a copy the stage owns at the top level). */
function removeNested(out: Obj, parts: readonly string[]): void {
  const top = out[parts[0]];
  if (!Object.hasOwn(out, parts[0]) || !isPlainObject(top)) return;
  out[parts[0]] = withoutNested(top, parts, 1);
}

type Derive = (payload: Obj) => unknown;

function compileDerivation(d: Derivation): Derive {
  if (d.concat !== undefined) {
    const inputs = d.concat.map(pathOf);
    const sep = d.separator ?? '|';
    return (payload) => {
      let text = '';
      for (let i = 0; i < inputs.length; i++) {
        const v = readPath(payload, inputs[i]);
        if (!isScalar(v)) return undefined;
        text = i === 0 ? String(v) : `${text}${sep}${String(v)}`;
      }
      return text;
    };
  }
  if (d.coalesce !== undefined) {
    const inputs = d.coalesce.map(pathOf);
    return (payload) => {
      for (const p of inputs) {
        const v = readPath(payload, p);
        if (!absent(v)) return v;
      }
      return undefined;
    };
  }
  if (d.copy !== undefined) {
    const p = pathOf(d.copy);
    return (payload) => {
      const v = readPath(payload, p);
      return absent(v) ? undefined : v;
    };
  }
  const lower = d.lower !== undefined;
  const p = pathOf((d.lower ?? d.upper) as string);
  return (payload) => {
    const v = readPath(payload, p);
    if (!isScalar(v)) return undefined;
    return lower ? String(v).toLowerCase() : String(v).toUpperCase();
  };
}

/** The stage of a source's mapping, or undefined when it has none of rename, derive, defaults and required. */
export function mappingStage(m: Pick<Mapping, 'rename' | 'derive' | 'defaults' | 'required'>): MappingStage | undefined {
  const renames = Object.entries(m.rename ?? {}).map(([from, to]) => [pathOf(from), to] as const);
  const derives = Object.entries(m.derive ?? {}).map(([name, d]) => [name, compileDerivation(d)] as const);
  const defaults = Object.entries(m.defaults ?? {});
  const required = m.required ?? [];
  if (renames.length + derives.length + defaults.length + required.length === 0) return undefined;
  const copies = renames.length + derives.length + defaults.length > 0;
  /** Top-level names renames read as they are (a dotted name too, when the record has a field of that exact name). */
  const renamedTop = new Set(renames.map(([p]) => p.name));
  const values: unknown[] = new Array(renames.length);
  return (payload, missing) => {
    // Renames read the record as it came (all at once), then move what they read (a null is dropped, not moved).
    // The copy is built without the renamed fields rather than by deleting them (faster objects).
    let out = payload;
    if (copies) {
      out = {};
      for (const k of Object.keys(payload)) {
        if (renamedTop.has(k)) continue;
        // The ingestor refuses `__proto__` keys before this stage; as a pure function, never reach a prototype.
        if (k === '__proto__') Object.defineProperty(out, k, { value: payload[k], enumerable: true, writable: true, configurable: true });
        else out[k] = payload[k];
      }
    }
    for (let i = 0; i < renames.length; i++) {
      const p = renames[i][0];
      const v = readPath(payload, p);
      values[i] = v;
      if (v !== undefined && p.parts !== undefined && !Object.hasOwn(payload, p.name)) removeNested(out, p.parts);
    }
    for (let i = 0; i < renames.length; i++) {
      if (!absent(values[i])) out[renames[i][1]] = values[i];
      values[i] = undefined;
    }
    // Derivations in the order written, each seeing the ones before it.
    for (let i = 0; i < derives.length; i++) {
      const [name, derive] = derives[i];
      const v = derive(out);
      if (v !== undefined) out[name] = v;
      else if (Object.hasOwn(out, name)) delete out[name];
    }
    for (let i = 0; i < defaults.length; i++) {
      const [f, v] = defaults[i];
      if (!Object.hasOwn(out, f) || absent(out[f])) out[f] = v;
    }
    for (let i = 0; i < required.length; i++) {
      const f = required[i];
      if (!Object.hasOwn(out, f) || absent(out[f])) missing.push(f);
    }
    return out;
  };
}
