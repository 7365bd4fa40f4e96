/**
 * Documentation generated from the config schemas: a JSON Schema of the config (for editors and
 * external validators) and a Markdown reference. Both are derived from the zod schemas, so they cannot
 * disagree with validation; `npm run docs` writes them to config/vigie.schema.json and
 * docs/config-reference.md, and a test fails when the committed copies drift.
 */
import { stringify as toYaml } from 'yaml';
import { z } from 'zod';
import { configSchema } from './schema.js';
import { durationSchema, formatDuration, positiveDurationSchema } from '../time/duration.js';
import { mappingShape } from '../sources/mapping.js';
import { SOURCES } from '../sources/index.js';
import { WINDOWS } from '../../operators/index.js';
import { AGGREGATES } from '../../operators/aggregates/index.js';
import { DETECTORS } from '../../detectors/index.js';
import { sinkRegistry } from '../../sinks/index.js';
import { internalError } from '../errors.js';

/** A JSON Schema node, loosely typed: this module only reads and decorates what zod produced. */
export type JsonSchema = { [key: string]: any };

/** `$id` of the config JSON Schema. */
export const CONFIG_SCHEMA_ID = 'vigie-config';

/**
 * Strings `parseDuration` accepts (surrounding spaces are trimmed): a decimal number and a unit.
 * It must also amount to a whole number of milliseconds ("1.5ms" matches but is rejected).
 */
export const DURATION_PATTERN = '^\\s*\\d+(?:\\.\\d+)?\\s*(?:ms|s|m|h|d)\\s*$';
/** The same, with at least one non-zero digit: durations that must be greater than 0. */
export const POSITIVE_DURATION_PATTERN = '^\\s*(?=[\\d.]*[1-9])\\d+(?:\\.\\d+)?\\s*(?:ms|s|m|h|d)\\s*$';

// Every duration schema (describe() and refine() clones included) shares durationSchema's input union.
const DURATION_INPUT = (durationSchema as any)._zod.def.in;
const POSITIVE_CHECKS: readonly unknown[] = (positiveDurationSchema as any)._zod.def.checks ?? [];

function isDuration(def: any): boolean {
  return def.type === 'pipe' && def.in === DURATION_INPUT;
}

function durationBranches(positive: boolean): JsonSchema[] {
  return [
    { type: 'string', pattern: positive ? POSITIVE_DURATION_PATTERN : DURATION_PATTERN },
    { type: 'integer', minimum: positive ? 1 : 0 },
  ];
}

/** Whether a JSON Schema node is a duration as written by `durationBranches`. */
function durationKind(node: JsonSchema): 'duration' | 'positive' | undefined {
  const p = node.anyOf?.[0]?.pattern;
  return p === DURATION_PATTERN ? 'duration' : p === POSITIVE_DURATION_PATTERN ? 'positive' : undefined;
}

/**
 * ASCII case-insensitive version of a regex source, for patterns zod declared with the `i` flag
 * (JSON Schema patterns have no flags, so zod drops it). Letters become both cases, in and out of classes.
 */
function caseInsensitive(source: string): string {
  let out = '';
  let inClass = false;
  const letter = (c: string | undefined) => c !== undefined && /^[a-z]$/i.test(c);
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') {
      out += c + (source[i + 1] ?? '');
      i++;
    } else if (inClass) {
      if (c === ']') {
        inClass = false;
        out += c;
      } else if (letter(c) && source[i + 1] === '-' && letter(source[i + 2])) {
        const hi = source[i + 2];
        out += `${c.toLowerCase()}-${hi.toLowerCase()}${c.toUpperCase()}-${hi.toUpperCase()}`;
        i += 2;
      } else {
        out += letter(c) ? c.toLowerCase() + c.toUpperCase() : c;
      }
    } else if (c === '[') {
      inClass = true;
      out += c;
      if (source[i + 1] === '^') {
        out += '^';
        i++;
      }
    } else {
      out += letter(c) ? `[${c.toLowerCase()}${c.toUpperCase()}]` : c;
    }
  }
  return out;
}

/**
 * Repairs what zod's converter loses in `io: 'input'` mode:
 * - durations are a union piped into a transform; zod emits `type: [string, number]`. They become
 *   `anyOf: [string matching DURATION_PATTERN, integer >= 0]` (>= 1 and a non-zero pattern when positive);
 * - zod drops `default` from any schema that transforms (the default is an output value), which loses
 *   every duration default and the defaults of objects holding durations. Ours are valid inputs too
 *   (milliseconds), so they are put back;
 * - regexes with the `i` flag lose it; the pattern is rewritten to match both cases.
 */
function repair(ctx: { zodSchema: unknown; jsonSchema: JsonSchema }): void {
  const zod = (ctx.zodSchema as any)._zod;
  const def = zod.def;
  const json = ctx.jsonSchema;
  if (isDuration(def)) {
    const positive = (def.checks ?? []).some((c: unknown) => POSITIVE_CHECKS.includes(c));
    delete json.type;
    json.anyOf = durationBranches(positive);
  }
  if (def.type === 'default' && !('default' in json)) {
    json.default = JSON.parse(JSON.stringify(def.defaultValue));
  }
  if (def.type === 'string' && typeof json.pattern === 'string') {
    for (const check of def.checks ?? []) {
      const re: unknown = check?._zod?.def?.pattern;
      if (re instanceof RegExp && re.flags.includes('i') && json.pattern === re.source) json.pattern = caseInsensitive(re.source);
    }
  }
}

function toJson(schema: z.ZodType): JsonSchema {
  const { $schema: _drop, ...json } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', override: repair }) as JsonSchema;
  return json;
}

/** zod leaves discriminators without a description; give them one so every property is described. */
function describeDiscriminators(union: JsonSchema, key: string, kind: string): void {
  for (const variant of union.oneOf ?? []) {
    const prop = variant.properties?.[key];
    if (prop && prop.const !== undefined && !prop.description) prop.description = `Selects the \`${prop.const}\` ${kind}.`;
  }
}

/** The JSON Schema (draft 2020-12) of a config file as written, i.e. before defaults and transforms. */
export function configJsonSchema(): JsonSchema {
  const body = toJson(configSchema);
  const pipeline = body.properties.pipelines.items;
  describeDiscriminators(body.properties.sources.items, 'type', 'source type');
  describeDiscriminators(pipeline.properties.window, 'type', 'window type');
  describeDiscriminators(pipeline.properties.aggregates.items, 'fn', 'aggregate function');
  describeDiscriminators(pipeline.properties.detectors.items, 'type', 'detector type');
  describeDiscriminators(body.properties.sinks.items, 'type', 'sink type');
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: CONFIG_SCHEMA_ID,
    title: 'Vigie configuration',
    description: 'Configuration of a Vigie job (YAML or JSON). Generated from the zod schemas by `npm run docs`; see docs/config-reference.md.',
    ...body,
  };
}

/** The config JSON Schema as written to config/vigie.schema.json. */
export function configJsonSchemaText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}

// ---------------------------------------------------------------------------------------------
// Markdown reference

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function anchor(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, '')
    .replace(/ /g, '-');
}

function link(heading: string, text = heading): string {
  return `[${text}](#${anchor(heading)})`;
}

/** Paragraph text: `<` and `&` escaped outside code spans, so that "observed <op> value" is not taken for HTML. */
function prose(text: string): string {
  return text
    .replace(/\s*\n\s*/g, ' ')
    .split(/(`[^`]*`)/)
    .map((part, i) => (i % 2 === 1 ? part : part.replace(/&/g, '&amp;').replace(/</g, '&lt;')))
    .join('');
}

/** Table-cell text: as prose, and pipes escaped everywhere (GFM splits cells before parsing code spans). */
function cell(text: string): string {
  return prose(text).replace(/\|/g, '\\|');
}

/** A value as inline JSON with spaces, in a code span. */
function code(value: unknown): string {
  return `\`${inline(value)}\``;
}

function inline(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(inline).join(', ')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${inline(v)}`);
    return entries.length === 0 ? '{}' : `{ ${entries.join(', ')} }`;
  }
  return JSON.stringify(value);
}

function range(node: JsonSchema): string {
  const safe = (v: unknown) => typeof v === 'number' && Math.abs(v) < Number.MAX_SAFE_INTEGER;
  const lo = safe(node.minimum) ? ['≥', node.minimum] : safe(node.exclusiveMinimum) ? ['>', node.exclusiveMinimum] : undefined;
  const hi = safe(node.maximum) ? ['≤', node.maximum] : safe(node.exclusiveMaximum) ? ['<', node.exclusiveMaximum] : undefined;
  if (lo && hi) return ` in ${lo[0] === '≥' ? '[' : '('}${lo[1]}, ${hi[1]}${hi[0] === '≤' ? ']' : ')'}`;
  if (lo) return ` ${lo[0]} ${lo[1]}`;
  if (hi) return ` ${hi[0]} ${hi[1]}`;
  return '';
}

/** Human type of a JSON Schema node, in Markdown. */
function typeOf(node: JsonSchema): string {
  const d = durationKind(node);
  if (d) return `${link('Durations', 'duration')}${d === 'positive' ? ' > 0' : ''}`;
  if (node.const !== undefined) return code(node.const);
  if (Array.isArray(node.enum)) return node.enum.map(code).join(' | ');
  const union = node.anyOf ?? node.oneOf;
  if (Array.isArray(union)) return union.map(typeOf).join(' | ');
  if (Array.isArray(node.type)) return node.type.join(' | ');
  switch (node.type) {
    case 'string': {
      const parts = ['string'];
      if (node.format === 'date-time') parts.push('(ISO-8601 date-time)');
      else if (node.pattern) parts.push(`matching \`${node.pattern}\``);
      else if (node.minLength === 1) parts.unshift('non-empty');
      return parts.join(' ');
    }
    case 'integer':
    case 'number':
      return `${node.type}${range(node)}`;
    case 'array': {
      const item = typeOf(node.items ?? {});
      const wrapped = / \| /.test(item) ? `(${item})` : item;
      return `${node.minItems >= 1 ? 'non-empty ' : ''}list of ${wrapped}`;
    }
    case 'object':
      if (!node.properties && node.additionalProperties && typeof node.additionalProperties === 'object') {
        const value = typeOf(node.additionalProperties);
        return `map of field name to ${/ \| /.test(value) ? `(${value})` : value}`;
      }
      return 'object';
    default:
      return node.type ?? 'any';
  }
}

/** The default of an object made of its options' defaults, when every option has one. */
function childDefaults(node: JsonSchema): unknown {
  if (!node.properties) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries<JsonSchema>(node.properties)) {
    if (!('default' in v)) return undefined;
    out[k] = v.default;
  }
  return out;
}

function defaultOf(node: JsonSchema, required: boolean): string {
  if (required || !('default' in node)) return '—';
  const value = node.default;
  if (durationKind(node) && typeof value === 'number') return value === 0 ? '`0`' : code(formatDuration(value));
  if (node.type === 'object' && node.properties && JSON.stringify(value) === JSON.stringify(childDefaults(node))) return "its options' defaults";
  return code(value);
}

interface TableOptions {
  /** Option names left out of this table (documented elsewhere). */
  omit?: ReadonlySet<string>;
  /** Type text replacing the computed one, by option name (e.g. a link to the section of a union). */
  types?: Readonly<Record<string, string>>;
  /** Also list the options of nested objects, as `parent.child` rows. */
  expand?: boolean;
}

function tableRows(node: JsonSchema, prefix: string, opts: TableOptions, rows: string[]): void {
  const required = new Set<string>(node.required ?? []);
  for (const [name, prop] of Object.entries<JsonSchema>(node.properties ?? {})) {
    if (prefix === '' && opts.omit?.has(name)) continue;
    const path = prefix + name;
    const req = required.has(name);
    const option = `\`${path}\`${req ? ' **(required)**' : ''}`;
    const type = opts.types?.[path] ?? cell(typeOf(prop));
    rows.push(`| ${option} | ${type} | ${cell(defaultOf(prop, req))} | ${cell(prop.description ?? '')} |`);
    const inner = objectNode(prop);
    if (opts.expand && inner.properties) tableRows(inner, `${path}.`, opts, rows);
  }
}

/** The object inside a node that may be wrapped (optional or refined objects come as `anyOf`/`allOf`). */
function objectNode(node: JsonSchema): JsonSchema {
  if (node.properties) return node;
  for (const branch of [...(node.anyOf ?? []), ...(node.allOf ?? []), ...(node.oneOf ?? [])] as JsonSchema[]) {
    const inner = objectNode(branch);
    if (inner.properties) return inner;
  }
  return node;
}

function table(node: JsonSchema, opts: TableOptions = {}): string {
  const rows = ['| option | type | default | description |', '| --- | --- | --- | --- |'];
  tableRows(node, '', opts, rows);
  return rows.join('\n');
}

/** The variant of a discriminated union whose discriminator is `value`; a missing one is a bug here. */
function variant(union: JsonSchema, key: string, value: string): JsonSchema {
  const found = (union.oneOf ?? []).find((v: JsonSchema) => v.properties?.[key]?.const === value);
  if (!found) throw internalError(`config reference: no ${key} "${value}" in the config schema`);
  return found;
}

function yamlBlock(text: string): string {
  return ['```yaml', text.trimEnd(), '```'].join('\n');
}

const INTRO = `# Configuration reference

<!-- Generated from the zod schemas by \`npm run docs\` (src/config/docs.ts). Do not edit by hand. -->

A Vigie job is described by one YAML file; \`vigie validate -c <file>\` checks it and reports every problem
with its line and column. This reference is generated from the zod schemas that validate configs, as is the
JSON Schema [\`config/vigie.schema.json\`](../config/vigie.schema.json) (also printed by \`vigie schema\`), which
editors can use for completion and checks.

- Options marked **(required)** must be given. The others take the default shown; \`—\` means no default:
  the option is simply absent (its description says what that means).
- Every object rejects unknown options, so a misspelt option is an error rather than silently ignored.
- Checks that involve several options (unique names, references between sections, \`offset < size\`...) are
  made by \`vigie validate\` but are not expressed in the JSON Schema.

## Durations

A duration is either a string with a unit, \`ms\`, \`s\`, \`m\`, \`h\` or \`d\` (\`"250ms"\`, \`"30s"\`, \`"5m"\`,
\`"1.5h"\`, \`"1d"\`), or a non-negative integer number of milliseconds (\`300000\`). It must come to a whole
number of milliseconds. \`duration > 0\` marks durations that must not be zero. Defaults are shown with the
largest exact unit.`;

function section(level: number, heading: string, ...body: Array<string | undefined>): string {
  return [`${'#'.repeat(level)} ${heading}`, ...body.filter((b): b is string => b !== undefined && b !== '')].join('\n\n');
}

function list(items: string[]): string {
  return items.map((i) => `- ${i}`).join('\n');
}

/** Markdown reference of every config option, generated from the schemas. Deterministic. */
export function configReference(): string {
  const schema = configJsonSchema();
  const top = schema.properties;
  const pipeline: JsonSchema = top.pipelines.items;
  const sources: JsonSchema = top.sources.items;
  const windows: JsonSchema = pipeline.properties.window;
  const aggregates: JsonSchema = pipeline.properties.aggregates.items;
  const detectors: JsonSchema = pipeline.properties.detectors.items;
  const sinks: JsonSchema = top.sinks.items;

  const mappingKeys = new Set(Object.keys(mappingShape));
  const sourceTypes = [...SOURCES.keys()];
  const windowTypes = [...WINDOWS.keys()];
  const aggregateFns = Object.keys(AGGREGATES);
  const detectorTypes = [...DETECTORS.keys()];
  const sinkTypes = [...sinkRegistry.keys()];

  const h = {
    top: 'Top level',
    time: '`time`',
    engine: '`engine`',
    metrics: '`metrics`',
    state: '`state`',
    reload: '`reload`',
    privacy: '`privacy`',
    sources: 'Sources',
    mapping: 'Field-mapping options',
    source: (t: string) => `Source \`${t}\``,
    pipelines: 'Pipelines',
    windows: 'Windows',
    join: 'Join',
    window: (t: string) => `Window \`${t}\``,
    aggregates: 'Aggregates',
    aggregate: (t: string) => `Aggregate \`${t}\``,
    detectors: 'Detectors',
    detector: (t: string) => `Detector \`${t}\``,
    sinks: 'Sinks',
    sink: (t: string) => `Sink \`${t}\``,
  };
  const typeLinks = (types: string[], heading: (t: string) => string) => types.map((t) => link(heading(t), `\`${t}\``)).join(', ');
  const nonEmpty = (node: JsonSchema) => (node.minItems >= 1 ? 'non-empty ' : '');

  const contents = list([
    link('Durations'),
    link(h.top),
    `${link(h.time)}, ${link(h.engine)}, ${link(h.metrics)}, ${link(h.state)}, ${link(h.reload)}, ${link(h.privacy)}`,
    `${link(h.sources)}: ${link(h.mapping)}, ${typeLinks(sourceTypes, h.source)}`,
    link(h.pipelines),
    `${link(h.windows)}: ${typeLinks(windowTypes, h.window)}`,
    `${link(h.aggregates)}: ${typeLinks(aggregateFns, h.aggregate)}`,
    `${link(h.detectors)}: ${typeLinks(detectorTypes, h.detector)}`,
    `${link(h.sinks)}: ${typeLinks(sinkTypes, h.sink)}`,
  ]);

  const parts: string[] = [INTRO, section(2, 'Contents', contents)];

  parts.push(
    section(
      2,
      h.top,
      table(schema, {
        types: {
          time: `object, see ${link(h.time)}`,
          engine: `object, see ${link(h.engine)}`,
          metrics: `object, see ${link(h.metrics)}`,
          state: `object, see ${link(h.state)}`,
          reload: `object, see ${link(h.reload)}`,
          privacy: `object, see ${link(h.privacy)}`,
          sources: `${nonEmpty(top.sources)}list of ${link(h.sources, 'sources')}`,
          pipelines: `${nonEmpty(top.pipelines)}list of ${link(h.pipelines, 'pipelines')}`,
          sinks: `${nonEmpty(top.sinks)}list of ${link(h.sinks, 'sinks')}`,
        },
      }),
    ),
  );
  // Every nested option with its default: `parent.child` rows for the objects inside a section.
  for (const key of ['time', 'engine', 'metrics', 'state', 'reload', 'privacy'] as const) {
    parts.push(section(2, h[key], prose(top[key].description ?? ''), table(objectNode(top[key]), { expand: true })));
  }

  // Sources: the shared mapping once, then each type's own options.
  const first = variant(sources, 'type', sourceTypes[0]);
  const mappingNode: JsonSchema = {
    properties: Object.fromEntries(Object.entries<JsonSchema>(first.properties).filter(([k]) => mappingKeys.has(k))),
  };
  parts.push(
    section(
      2,
      h.sources,
      `Each entry of \`sources\` reads events from somewhere; its \`type\` selects one of ${typeLinks(sourceTypes, h.source)}. ` +
        `Every source also takes the ${link(h.mapping, 'field-mapping options')}, which say how its records become events.`,
    ),
    section(3, h.mapping, 'Shared by every source type.', table(mappingNode, { expand: true })),
  );
  for (const t of sourceTypes) {
    const v = variant(sources, 'type', t);
    parts.push(section(3, h.source(t), prose(v.description ?? ''), table(v, { omit: mappingKeys }), `Plus the ${link(h.mapping, 'field-mapping options')}.`));
  }

  parts.push(
    section(
      2,
      h.pipelines,
      'Each entry of `pipelines` selects events, keys them, windows them, computes aggregates per key and window, and runs detectors on each window result.',
      table(pipeline, {
        types: {
          window: `object, see ${link(h.windows, 'windows')}`,
          join: `object, see ${link(h.join, 'join')}`,
          aggregates: `${nonEmpty(pipeline.properties.aggregates)}list of ${link(h.aggregates, 'aggregates')}`,
          detectors: `${nonEmpty(pipeline.properties.detectors)}list of ${link(h.detectors, 'detectors')}`,
        },
      }),
    ),
  );

  parts.push(section(2, h.join, prose(pipeline.properties.join.description ?? ''), table(objectNode(pipeline.properties.join), { expand: true })));
  parts.push(section(2, h.windows, `A pipeline's \`window\`; its \`type\` selects one of ${typeLinks(windowTypes, h.window)}.`));
  for (const t of windowTypes) {
    const v = variant(windows, 'type', t);
    parts.push(section(3, h.window(t), prose(v.description ?? ''), table(v)));
  }

  parts.push(section(2, h.aggregates, `Each entry of a pipeline's \`aggregates\`; its \`fn\` selects one of ${typeLinks(aggregateFns, h.aggregate)}.`));
  for (const fn of aggregateFns) {
    const v = variant(aggregates, 'fn', fn);
    const examples: unknown[] = Array.isArray(v.examples) ? v.examples : [];
    const example = examples.length > 0 ? yamlBlock(['aggregates:', ...examples.map((e) => `  - ${toYaml(e, { collectionStyle: 'flow', lineWidth: 0 }).trim()}`)].join('\n')) : undefined;
    parts.push(section(3, h.aggregate(fn), prose(v.description ?? ''), table(v), example && `${examples.length > 1 ? 'Examples' : 'Example'}:\n\n${example}`));
  }

  parts.push(section(2, h.detectors, `Each entry of a pipeline's \`detectors\`; its \`type\` selects one of ${typeLinks(detectorTypes, h.detector)}.`));
  for (const t of detectorTypes) {
    const v = variant(detectors, 'type', t);
    parts.push(section(3, h.detector(t), prose(v.description ?? ''), table(v)));
  }

  parts.push(section(2, h.sinks, `Each entry of \`sinks\`; its \`type\` selects one of ${typeLinks(sinkTypes, h.sink)}.`));
  for (const t of sinkTypes) {
    const v = variant(sinks, 'type', t);
    const mod = sinkRegistry.get(t);
    parts.push(
      section(
        3,
        h.sink(t),
        mod?.summary && prose(mod.summary),
        prose(v.description ?? ''),
        table(v),
        mod?.example && `Example:\n\n${yamlBlock(mod.example)}`,
      ),
    );
  }

  return `${parts.join('\n\n')}\n`;
}
