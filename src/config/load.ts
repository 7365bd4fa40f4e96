import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isMap, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { configSchema, type VigieConfig } from './schema.js';
import { VigieError } from '../errors.js';

/** One problem in a config, located as precisely as the file allows. */
export interface ConfigProblem {
  file: string;
  /** Config path, e.g. `pipelines[0].window.size`. */
  path: string;
  line: number;
  column: number;
  message: string;
}

/** Thrown when a config cannot be used; carries every problem found, not just the first. */
export class ConfigError extends VigieError {
  constructor(readonly problems: ConfigProblem[]) {
    super('VIGIE_ERR_CONFIG', problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
  }
}

export function formatProblem(p: ConfigProblem): string {
  return `${p.file}:${p.line}:${p.column}: ${p.path || '(root)'}: ${p.message}`;
}

export interface LoadedConfig {
  config: VigieConfig;
  /** Short hash of the validated config: identifies the version that produced an output. */
  version: string;
  file: string;
  baseDir: string;
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

function issueProblems(file: string, doc: Document, lc: LineCounter, issues: z.core.$ZodIssue[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const k of issue.keys) {
        const at = locate(doc, lc, issue.path, k);
        problems.push({ file, path: formatPath([...issue.path, k]), ...at, message: `unknown key "${k}"` });
      }
      continue;
    }
    if (issue.code === 'invalid_union' && 'note' in issue && issue.note === 'No matching discriminator') {
      const at = locate(doc, lc, issue.path, 'type');
      problems.push({ file, path: formatPath([...issue.path, 'type']), ...at, message: `unknown or missing type${'options' in issue ? '' : ''}: ${issue.message}` });
      continue;
    }
    const at = locate(doc, lc, issue.path);
    problems.push({ file, path: formatPath(issue.path), ...at, message: issue.message });
  }
  return problems.sort((a, b) => a.line - b.line || a.column - b.column);
}

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replace `${NAME}` and `${NAME:-default}` in string values with environment variables, so that
 * brokers, URLs and file paths can differ per deployment. Unset variables without default are problems.
 */
function expandEnv(value: unknown, path: PropertyKey[], env: NodeJS.ProcessEnv, missing: Array<{ path: PropertyKey[]; name: string }>): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_REF, (_m, name: string, def: string | undefined) => {
      const v = env[name];
      if (v !== undefined) return v;
      if (def !== undefined) return def;
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

/** Parse and validate config text; throws ConfigError listing every problem. */
export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const { line, col } = lc.linePos(e.pos[0]);
        return { file, path: '', line, column: col, message: `YAML: ${e.message.split('\n')[0]}` };
      }),
    );
  }
  const missing: Array<{ path: PropertyKey[]; name: string }> = [];
  const raw = expandEnv(doc.toJS({ maxAliasCount: 100 }), [], env, missing);
  if (missing.length > 0) {
    throw new ConfigError(missing.map(({ path, name }) => ({ file, path: formatPath(path), ...locate(doc, lc, path), message: `environment variable ${name} is not set (use \${${name}:-default} for a default)` })));
  }
  const parsed = configSchema.safeParse(raw ?? {});
  if (!parsed.success) throw new ConfigError(issueProblems(file, doc, lc, parsed.error.issues));
  const version = createHash('sha256').update(JSON.stringify(parsed.data)).digest('hex').slice(0, 12);
  return { config: parsed.data, version, file, baseDir: dirname(resolve(file)) };
}

/** Read, parse and validate a config file. */
export function loadConfig(file: string): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([{ file, path: '', line: 0, column: 0, message: `cannot read config: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }]);
  }
  return parseConfig(text, file);
}
