import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isAlias, isMap, isScalar, LineCounter, parseDocument, visit, type Document } from 'yaml';
import type { z } from 'zod';
import { configSchema, type VigieConfig } from './schema.js';
import { allowedKeys, checkFieldReferences, checkWhereValues, checkReferences, REFERENCE_CHECK, schemaAt, type RefIssue } from './refs.js';
import { closest } from '../util/suggest.js';
import { buildPipeline, PipelineBuildError } from './build.js';
import { durationSchema, positiveDurationSchema } from '../time/duration.js';
import { VigieError } from '../errors.js';

/** One problem in a config, located as precisely as the file allows. */
export interface ConfigProblem {
  file: string;
  /** Config path, e.g. `pipelines[0].window.size`. */
  path: string;
  line: number;
  column: number;
  message: string;
  /** Warnings do not make a config invalid; absent means error. */
  severity?: 'error' | 'warning';
}

/** Thrown when a config cannot be used; carries every problem found, not just the first. */
export class ConfigError extends VigieError {
  constructor(readonly problems: ConfigProblem[]) {
    super('VIGIE_ERR_CONFIG', problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
  }
}

export function formatProblem(p: ConfigProblem): string {
  return `${p.file}:${p.line}:${p.column}: ${p.path || '(root)'}: ${p.severity === 'warning' ? 'warning: ' : ''}${p.message}`;
}

/** Problems in file order (stable: problems at the same place keep their order). */
export function sortProblems(problems: readonly ConfigProblem[]): ConfigProblem[] {
  return problems.map((p, i) => [p, i] as const).sort(([a, i], [b, j]) => a.line - b.line || a.column - b.column || i - j).map(([p]) => p);
}

export interface LoadedConfig {
  config: VigieConfig;
  /** Short hash of the validated config: identifies the version that produced an output. */
  version: string;
  file: string;
  baseDir: string;
  /** What looks wrong without making the config invalid (e.g. a field name close to a declared one). */
  warnings?: ConfigProblem[];
}

function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out === '' ? String(seg) : `.${String(seg)}`;
  return out;
}

/** Locate a path in the YAML document: the deepest existing node on it (its key when `key` is asked). */
function locate(doc: Document, lc: LineCounter, path: ReadonlyArray<PropertyKey>, key?: string): { line: number; column: number } {
  let node: unknown = doc.contents;
  let offset = (doc.contents as { range?: [number, number, number] } | null)?.range?.[0] ?? 0;
  const segs = key === undefined ? path : [...path, key];
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i];
    if (!node || typeof node !== 'object') break;
    const items = (node as { items?: unknown[] }).items;
    if (!Array.isArray(items)) break;
    let next: unknown;
    if (isMap(node)) {
      const pair = items.find((p) => isScalar((p as { key: unknown }).key) && String(((p as { key: { value: unknown } }).key).value) === String(seg)) as
        | { key: { range?: [number, number, number] }; value: unknown }
        | undefined;
      if (!pair) break;
      offset = pair.key.range?.[0] ?? offset;
      // The key itself is the best place for "unknown key" and for the last segment of a missing value.
      if (i === segs.length - 1 && key !== undefined) break;
      next = pair.value;
    } else {
      next = typeof seg === 'number' ? items[seg] : undefined;
    }
    if (!next) break;
    node = next;
    const r = (next as { range?: [number, number, number] }).range;
    if (r) offset = r[0];
  }
  const { line, col } = lc.linePos(offset);
  return { line, column: col };
}

type Issue = z.core.$ZodIssue;

/** A problem before it is located in the file. */
interface Found {
  path: PropertyKey[];
  message: string;
  /** Locate at the key of the last path segment rather than at its value. */
  atKey?: boolean;
  /** An unknown key here is probably this key misspelt. */
  meant?: PropertyKey[];
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function valueAt(root: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let v = root;
  for (const seg of path) v = isObj(v) || Array.isArray(v) ? (v as Record<string, unknown>)[String(seg)] : undefined;
  return v;
}

/** A value as found in the config, for messages: `string "ten"`, `number 3`, `a list`. */
function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return v.length === 0 ? 'an empty list' : 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v)}`;
  return `${typeof v} ${String(v)}`;
}

/** What a schema type expects, for people: "a number", "an integer", "a list". */
function expectedText(type: string): string {
  switch (type) {
    case 'array':
      return 'a list';
    case 'object':
    case 'record':
      return 'a mapping';
    case 'int':
      return 'an integer';
    case 'boolean':
      return 'a boolean (true or false)';
    default:
      return `${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}`;
  }
}

const DURATION_TEXT = 'a duration like "250ms", "30s", "5m", "2h" or "1d", or an integer of milliseconds';

/** What a pipe schema reads (durations are a pipe from string | number; `.describe()` and `.refine()` copy the pipe but keep this). */
const pipeInput = (s: unknown): unknown => (s as { _zod?: { def?: { type: string; in?: unknown } } } | undefined)?._zod?.def?.in;
const DURATION_INPUTS = new Set([pipeInput(durationSchema), pipeInput(positiveDurationSchema)]);

/** Whether the config expects a duration at this path. */
function isDurationAt(raw: unknown, path: ReadonlyArray<PropertyKey>): boolean {
  const input = pipeInput(schemaAt(configSchema, path, raw, true));
  return input !== undefined && DURATION_INPUTS.has(input);
}

/** The types a union expected when every branch failed on the value's type itself, else undefined. */
function typeMismatch(branches: readonly Issue[][]): string[] | undefined {
  const out: string[] = [];
  for (const b of branches) {
    if (b.length !== 1 || b[0].path.length !== 0) return undefined;
    const i = b[0];
    if (i.code === 'invalid_type') out.push(i.expected);
    else if (i.code === 'invalid_union' && !('note' in i && i.note)) {
      const sub = typeMismatch(i.errors);
      if (sub === undefined) return undefined;
      out.push(...sub);
    } else return undefined;
  }
  return [...new Set(out)];
}

/** A list for people: "a, b or c". */
function orList(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

/** The kind of thing a path designates, for messages: `pipelines[0].detectors[2]` -> "detector". */
function kindAt(path: ReadonlyArray<PropertyKey>): string {
  for (let i = path.length - 1; i >= 0; i--) {
    const seg = path[i];
    if (typeof seg !== 'string') continue;
    return typeof path[i + 1] === 'number' && seg.endsWith('s') ? seg.slice(0, -1) : seg;
  }
  return 'config';
}

/** Readable messages, with suggestions, for one zod issue (several for unknown keys and unions). */
function explain(issue: Issue, prefix: readonly PropertyKey[], raw: unknown): Found[] {
  const path = [...prefix, ...issue.path];
  const input = 'input' in issue ? issue.input : valueAt(raw, path);
  const got = describeValue(input);
  switch (issue.code) {
    case 'unrecognized_keys': {
      const present = valueAt(raw, path);
      const allowed = (allowedKeys(configSchema, path, raw) ?? []).filter((k) => !(isObj(present) && k in present));
      return issue.keys.map((k) => {
        const near = closest(k, allowed);
        const message = `unknown key "${k}"${near === undefined ? '' : ` (did you mean "${near}"?)`}`;
        return { path: [...path, k], atKey: true, message, ...(near === undefined ? {} : { meant: [...path, near] }) };
      });
    }
    case 'invalid_union': {
      if ('note' in issue && issue.note === 'No matching discriminator' && 'discriminator' in issue) {
        const disc = String(issue.discriminator);
        const at = path[path.length - 1] === disc ? path : [...path, disc];
        const options = ((issue as { options?: unknown[] }).options ?? []).map(String);
        const kind = kindAt(at.slice(0, -1));
        const list = `${disc === 'fn' ? 'functions' : `${disc}s`}: ${options.join(', ')}`;
        const value = valueAt(raw, at);
        if (value === undefined) return [{ path: at, message: `missing ${kind} ${disc} (${list})` }];
        if (typeof value !== 'string') return [{ path: at, message: `${kind} ${disc} must be a string, got ${describeValue(value)} (${list})` }];
        const near = closest(value, options);
        return [{ path: at, message: `unknown ${kind} ${disc} "${value}" (${near === undefined ? '' : `did you mean "${near}"? `}${list})` }];
      }
      const branches = issue.errors;
      const types = typeMismatch(branches);
      if (types !== undefined || branches.length === 0) {
        const expected = isDurationAt(raw, path) ? DURATION_TEXT : orList((types ?? []).map(expectedText)) || 'something else';
        return [input === undefined ? { path, message: `is required (expected ${expected})` } : { path, message: `expected ${expected}, got ${got}` }];
      }
      // The value has the kind of some branches: explain the closest one (fewest issues).
      const candidates = branches.filter((b) => typeMismatch([b]) === undefined);
      const best = candidates.reduce((a, b) => (b.length < a.length ? b : a));
      return best.flatMap((i) => explain(i, path, raw));
    }
    case 'invalid_type': {
      const expected = isDurationAt(raw, path) ? DURATION_TEXT : expectedText(issue.expected);
      return [input === undefined ? { path, message: `is required (expected ${expected})` } : { path, message: `expected ${expected}, got ${got}` }];
    }
    case 'invalid_value': {
      const values = issue.values.map((v) => (typeof v === 'string' ? JSON.stringify(v) : String(v)));
      const expected = values.length === 1 ? values[0] : `one of ${values.join(', ')}`;
      if (input === undefined) return [{ path, message: `is required (expected ${expected})` }];
      const near = typeof input === 'string' ? closest(input, issue.values.filter((v): v is string => typeof v === 'string')) : undefined;
      return [{ path, message: `expected ${expected}, got ${got}${near === undefined ? '' : ` (did you mean "${near}"?)`}` }];
    }
    case 'too_small':
    case 'too_big': {
      const small = issue.code === 'too_small';
      const bound = Number(small ? (issue as { minimum: unknown }).minimum : (issue as { maximum: unknown }).maximum);
      const inclusive = issue.inclusive !== false;
      const least = small ? 'at least' : 'at most';
      if (issue.origin === 'string') {
        if (small && bound === 1) return [{ path, message: 'must not be empty' }];
        return [{ path, message: `must have ${least} ${bound} character${bound === 1 ? '' : 's'}, got ${got}` }];
      }
      if (issue.origin === 'array' || issue.origin === 'set') {
        const n = Array.isArray(input) ? input.length : undefined;
        return [{ path, message: `must have ${least} ${bound} item${bound === 1 ? '' : 's'}${n === undefined ? '' : `, got ${n === 0 ? 'none' : n}`}` }];
      }
      const op = small ? (inclusive ? '>=' : '>') : inclusive ? '<=' : '<';
      return [{ path, message: `must be ${op} ${bound}, got ${typeof input === 'number' ? input : got}` }];
    }
    case 'not_multiple_of':
      return [{ path, message: `must be a multiple of ${String(issue.divisor)}, got ${got}` }];
    case 'invalid_format':
      return [{ path, message: `${issue.message}, got ${got}` }];
    default:
      return [{ path, message: issue.message }];
  }
}

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replace `${NAME}` and `${NAME:-default}` in string values with environment variables, so that
 * brokers, URLs and file paths can differ per deployment. As in a shell (and Docker Compose), the
 * default replaces a variable that is unset or empty. Unset variables without default are problems.
 */
function expandEnv(value: unknown, path: PropertyKey[], env: NodeJS.ProcessEnv, missing: Array<{ path: PropertyKey[]; name: string }>): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_REF, (_m, name: string, def: string | undefined) => {
      const v = env[name];
      if (def !== undefined) return v === undefined || v === '' ? def : v;
      if (v !== undefined) return v;
      missing.push({ path, name });
      return '';
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => expandEnv(v, [...path, i], env, missing));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandEnv(v, [...path, k], env, missing)]));
  }
  return value;
}

/** A copy of a config with the values at these paths replaced by null (unknown to the checks). */
function unsetAsUnknown(raw: unknown, paths: ReadonlyArray<ReadonlyArray<PropertyKey>>): unknown {
  const copy = structuredClone(raw);
  for (const path of paths) {
    const parent = valueAt(copy, path.slice(0, -1));
    if (path.length > 0 && (isObj(parent) || Array.isArray(parent))) (parent as Record<string, unknown>)[String(path[path.length - 1])] = null;
  }
  return copy;
}

/** Starts the message of a problem found by building a pipeline rather than by the schema. */
export const CANNOT_RUN = 'this pipeline cannot run:';

/**
 * Build every pipeline of a valid config once, as the engine will: what a part refuses then is a
 * problem of the config, so that `run` and `replay` refuse nothing that validation accepted. The
 * schema states every rule it knows of; this catches a rule only a part knows.
 */
function buildProblems(config: VigieConfig): Found[] {
  const out: Found[] = [];
  config.pipelines.forEach((p, i) => {
    try {
      buildPipeline(p, { configVersion: '', detectionTime: (w) => w });
    } catch (err) {
      const at = err instanceof PipelineBuildError ? err.path : [];
      out.push({ path: ['pipelines', i, ...at], message: `${CANNOT_RUN} ${(err as Error).message}` });
    }
  });
  return out;
}

/** What validating a config found: the config when valid, every problem, and warnings (which never invalidate it). */
export interface ConfigReport {
  loaded?: LoadedConfig;
  /** Errors, in file order, without duplicates. */
  problems: ConfigProblem[];
  /** Warnings, in file order, without duplicates. */
  warnings: ConfigProblem[];
}

function unique(problems: readonly ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return sortProblems(problems).filter((p) => {
    const k = formatProblem(p);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/**
 * Validate config text and report every problem at once: YAML syntax errors (all of them; nothing
 * else is checked then, except after duplicate keys, since the structure read from a broken file
 * would mislead), unset environment variables, schema errors with what was expected and found, and
 * cross-reference errors even where other parts of the config do not parse, with "did you mean"
 * suggestions for near-misses. Warnings (field names close to declared ones) are kept apart.
 */
export function validateConfigText(text: string, file: string, env: NodeJS.ProcessEnv = process.env): ConfigReport {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const atOffset = (offset: number) => {
    const { line, col } = lc.linePos(offset);
    return { line, column: col };
  };
  const yamlWarnings = doc.warnings.map((e): ConfigProblem => ({ file, path: '', ...atOffset(e.pos[0]), message: `YAML: ${e.message.split('\n')[0]}`, severity: 'warning' }));
  const yamlErrors = doc.errors.map((e): ConfigProblem => ({ file, path: '', ...atOffset(e.pos[0]), message: `YAML: ${e.message.split('\n')[0]}${yamlHint(text, e.pos[0])}` }));
  // A duplicate key leaves the structure intact (the last value wins): the rest is still worth checking.
  if (doc.errors.some((e) => e.code !== 'DUPLICATE_KEY')) return { problems: unique(yamlErrors), warnings: unique(yamlWarnings) };
  let js: unknown;
  try {
    js = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // Unresolvable aliases only show here: point at them when possible.
    const aliases: ConfigProblem[] = [];
    visit(doc, {
      Alias: (_, node) => {
        if (isAlias(node) && node.resolve(doc) === undefined) {
          aliases.push({ file, path: '', ...atOffset(node.range?.[0] ?? 0), message: `YAML: unresolved alias *${node.source} (the anchor must be set before the alias)` });
        }
      },
    });
    const problems = aliases.length > 0 ? aliases : [{ file, path: '', line: 1, column: 1, message: `YAML: ${(err as Error).message.split('\n')[0]}` }];
    return { problems: unique([...yamlErrors, ...problems]), warnings: unique(yamlWarnings) };
  }

  const located = (f: Found | RefIssue, severity?: 'warning'): ConfigProblem => {
    const at = f.atKey && f.path.length > 0 ? locate(doc, lc, f.path.slice(0, -1), String(f.path[f.path.length - 1])) : locate(doc, lc, f.path);
    return { file, path: formatPath(f.path), ...at, message: f.message, ...(severity ? { severity } : {}) };
  };
  const missing: Array<{ path: PropertyKey[]; name: string }> = [];
  const raw = expandEnv(js, [], env, missing) ?? {};
  const problems: ConfigProblem[] = [...yamlErrors, ...missing.map(({ path, name }) => located({ path, message: `environment variable ${name} is not set (use \${${name}:-default} for a default)` }))];
  // A value left empty by an unset variable is already reported: nothing more about it or below it.
  const isUnset = (path: ReadonlyArray<PropertyKey>) => missing.some((m) => m.path.length <= path.length && m.path.every((seg, i) => seg === path[i]));

  const parsed = configSchema.safeParse(raw, { reportInput: true });
  const schemaIssues = parsed.success ? [] : parsed.error.issues.filter((i) => !(i.code === 'custom' && i.params?.[REFERENCE_CHECK] === true));
  let found: Found[] = schemaIssues.flatMap((issue) => explain(issue, [], raw));
  // Next to `unknown key "lookbak" (did you mean "lookback"?)`, what the schema says about the absent
  // `lookback` ("is required", "a window needs at least one aggregate") is the same problem again.
  const meant = new Set(found.flatMap((f) => (f.meant ? [formatPath(f.meant)] : [])));
  found = found.filter((f) => !meant.has(formatPath(f.path)));
  // The schema checks references only when (most of) the config parses: check them on the raw config,
  // with unset variables as unknown values (a name left empty must not make references to it unknown).
  const known = missing.length === 0 ? raw : unsetAsUnknown(raw, missing.map((m) => m.path));
  found.push(...checkReferences(known));
  problems.push(...found.filter((f) => !isUnset(f.path)).map((f) => located(f)));
  const warnings = [...yamlWarnings, ...[...checkFieldReferences(known), ...checkWhereValues(known)].filter((f) => !isUnset(f.path)).map((f) => located(f, 'warning'))];

  if (parsed.success && problems.length === 0) problems.push(...buildProblems(parsed.data).map((f) => located(f)));
  const report: ConfigReport = { problems: unique(problems), warnings: unique(warnings) };
  if (parsed.success && report.problems.length === 0) {
    const version = createHash('sha256').update(JSON.stringify(parsed.data)).digest('hex').slice(0, 12);
    report.loaded = { config: parsed.data, version, file, baseDir: dirname(resolve(file)), warnings: report.warnings };
  }
  return report;
}

/** Read and validate a config file (see validateConfigText); an unreadable file is a problem too. */
export function validateConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): ConfigReport {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { problems: [{ file, path: '', line: 0, column: 0, message: `cannot read config: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }], warnings: [] };
  }
  return validateConfigText(text, file, env);
}

/** Parse and validate config text; throws ConfigError listing every problem (warnings are in `warnings`). */
export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const report = validateConfigText(text, file, env);
  if (report.loaded === undefined) throw new ConfigError(report.problems);
  return report.loaded;
}

/** Read, parse and validate a config file; throws ConfigError listing every problem. */
export function loadConfig(file: string): LoadedConfig {
  const report = validateConfigFile(file);
  if (report.loaded === undefined) throw new ConfigError(report.problems);
  return report.loaded;
}

/**
 * A remedy for YAML errors that a config author meets for a reason YAML does not name: `op: >=` or
 * `op: <` unquoted start a block scalar (`>`, `|`) or a tag or alias (`!`, `&`, `*`), not a string.
 */
function yamlHint(text: string, offset: number): string {
  const lineStart = text.lastIndexOf('\n', Math.max(0, offset - 1)) + 1;
  const lineEnd = text.indexOf('\n', offset);
  const line = text.slice(lineStart, lineEnd < 0 ? undefined : lineEnd);
  const m = /^\s*(?:-\s+)?([A-Za-z_][\w.-]*):\s+([>|!&*@`%][^\s#,}]*)/.exec(line) ?? /[{,]\s*([A-Za-z_][\w.-]*):\s+([>|!&*@`%][^\s#,}]*)/.exec(line);
  if (!m) return '';
  return ` (a value starting with "${m[2][0]}" must be quoted in YAML: write ${m[1]}: '${m[2]}')`;
}
