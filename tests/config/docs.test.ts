import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import {
  CONFIG_SCHEMA_ID,
  configJsonSchema,
  configJsonSchemaText,
  configReference,
  DURATION_PATTERN,
  POSITIVE_DURATION_PATTERN,
  type JsonSchema,
} from '../../src/config/docs.js';
import { configSchema } from '../../src/config/schema.js';
import { pipelineSchema } from '../../src/config/pipeline.js';
import { SOURCES } from '../../src/sources/index.js';
import { durationSchema, parseDuration, positiveDurationSchema } from '../../src/time/duration.js';
import { WINDOWS } from '../../operators/index.js';
import { AGGREGATES } from '../../operators/aggregates/index.js';
import { DETECTORS } from '../../detectors/index.js';
import { sinkRegistry } from '../../sinks/index.js';
import { ROOT, vigie } from '../helpers/cli.js';

const REFERENCE = 'docs/config-reference.md';
const JSON_SCHEMA = 'config/vigie.schema.json';
const SHIPPED = ['config/demo.yaml', 'config/payments.yaml', 'config/nab.yaml', 'config/telemetry.yaml'];

const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

// ---------------------------------------------------------------------------------------------
// A minimal validator for the subset of JSON Schema that zod emits for the config. It refuses
// keywords it does not know, so a new construct in zod's output fails loudly instead of being ignored.

const ANNOTATIONS = new Set(['$schema', '$id', 'title', 'description', 'default', 'examples', 'format']);
const ASSERTIONS = new Set([
  'type',
  'const',
  'enum',
  'anyOf',
  'oneOf',
  'minLength',
  'pattern',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'minItems',
  'items',
  'properties',
  'required',
  'additionalProperties',
  'propertyNames',
]);

function isType(type: string, v: unknown): boolean {
  switch (type) {
    case 'object':
      return v !== null && typeof v === 'object' && !Array.isArray(v);
    case 'array':
      return Array.isArray(v);
    case 'string':
      return typeof v === 'string';
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'integer':
      return Number.isInteger(v);
    case 'boolean':
      return typeof v === 'boolean';
    case 'null':
      return v === null;
    default:
      throw new Error(`unsupported type ${type}`);
  }
}

function validate(schema: JsonSchema, v: unknown, path = '$'): string[] {
  for (const k of Object.keys(schema)) {
    if (!ANNOTATIONS.has(k) && !ASSERTIONS.has(k)) throw new Error(`${path}: the test validator does not support keyword "${k}"`);
  }
  if (schema.type !== undefined) {
    const types: string[] = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => isType(t, v))) return [`${path}: expected ${types.join(' or ')}`];
  }
  const errors: string[] = [];
  if ('const' in schema && JSON.stringify(schema.const) !== JSON.stringify(v)) errors.push(`${path}: expected ${JSON.stringify(schema.const)}`);
  if (schema.enum && !schema.enum.some((e: unknown) => JSON.stringify(e) === JSON.stringify(v))) errors.push(`${path}: not one of ${JSON.stringify(schema.enum)}`);
  if (schema.anyOf && !schema.anyOf.some((s: JsonSchema) => validate(s, v, path).length === 0)) errors.push(`${path}: matches no anyOf branch`);
  if (schema.oneOf) {
    const n = schema.oneOf.filter((s: JsonSchema) => validate(s, v, path).length === 0).length;
    if (n !== 1) errors.push(`${path}: matches ${n} oneOf branches`);
  }
  if (typeof v === 'string') {
    if (schema.minLength !== undefined && v.length < schema.minLength) errors.push(`${path}: shorter than ${schema.minLength}`);
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(v)) errors.push(`${path}: does not match ${schema.pattern}`);
  }
  if (typeof v === 'number') {
    if (schema.minimum !== undefined && v < schema.minimum) errors.push(`${path}: < ${schema.minimum}`);
    if (schema.maximum !== undefined && v > schema.maximum) errors.push(`${path}: > ${schema.maximum}`);
    if (schema.exclusiveMinimum !== undefined && v <= schema.exclusiveMinimum) errors.push(`${path}: <= ${schema.exclusiveMinimum}`);
    if (schema.exclusiveMaximum !== undefined && v >= schema.exclusiveMaximum) errors.push(`${path}: >= ${schema.exclusiveMaximum}`);
  }
  if (Array.isArray(v)) {
    if (schema.minItems !== undefined && v.length < schema.minItems) errors.push(`${path}: fewer than ${schema.minItems} items`);
    if (schema.items) v.forEach((item, i) => errors.push(...validate(schema.items, item, `${path}[${i}]`)));
  }
  if (isType('object', v)) {
    const obj = v as Record<string, unknown>;
    for (const k of schema.required ?? []) if (!(k in obj)) errors.push(`${path}: missing ${k}`);
    for (const [k, value] of Object.entries(obj)) {
      if (schema.propertyNames) errors.push(...validate(schema.propertyNames, k, `${path}.${k} (name)`));
      if (schema.properties && k in schema.properties) errors.push(...validate(schema.properties[k], value, `${path}.${k}`));
      else if (schema.additionalProperties === false) errors.push(`${path}: unknown key ${k}`);
      else if (typeof schema.additionalProperties === 'object') errors.push(...validate(schema.additionalProperties, value, `${path}.${k}`));
    }
  }
  return errors;
}

/** Every schema node of the tree, with its JSON pointer-ish path. */
function* nodes(schema: JsonSchema, path = '$'): Generator<[string, JsonSchema]> {
  yield [path, schema];
  for (const [k, p] of Object.entries<JsonSchema>(schema.properties ?? {})) yield* nodes(p, `${path}.${k}`);
  if (schema.items) yield* nodes(schema.items, `${path}[]`);
  if (typeof schema.additionalProperties === 'object') yield* nodes(schema.additionalProperties, `${path}{}`);
  for (const key of ['anyOf', 'oneOf'] as const) {
    const list: JsonSchema[] = schema[key] ?? [];
    for (let i = 0; i < list.length; i++) yield* nodes(list[i], `${path}|${i}`);
  }
}

const isDurationNode = (n: JsonSchema) => n.anyOf?.[0]?.pattern === DURATION_PATTERN || n.anyOf?.[0]?.pattern === POSITIVE_DURATION_PATTERN;

// ---------------------------------------------------------------------------------------------

describe('generated config docs', () => {
  it('are up to date (run `npm run docs` after changing a schema)', () => {
    expect(read(REFERENCE), `${REFERENCE} is out of date: run \`npm run docs\``).toBe(configReference());
    expect(read(JSON_SCHEMA), `${JSON_SCHEMA} is out of date: run \`npm run docs\``).toBe(configJsonSchemaText());
  });

  it('are deterministic', () => {
    expect(configReference()).toBe(configReference());
    expect(configJsonSchemaText()).toBe(configJsonSchemaText());
  });

  it('are what `vigie docs` and `vigie schema` print', () => {
    const docs = vigie(['docs']);
    expect(docs.status, docs.stderr).toBe(0);
    expect(docs.stdout).toBe(configReference());
    const schema = vigie(['schema']);
    expect(schema.status, schema.stderr).toBe(0);
    expect(schema.stdout).toBe(configJsonSchemaText());
  });
});

describe('config reference (Markdown)', () => {
  const md = configReference();

  it('has a section for every registered source, window, aggregate, detector and sink', () => {
    const expected = [
      ...[...SOURCES.keys()].map((t) => `### Source \`${t}\``),
      ...[...WINDOWS.keys()].map((t) => `### Window \`${t}\``),
      ...Object.keys(AGGREGATES).map((t) => `### Aggregate \`${t}\``),
      ...[...DETECTORS.keys()].map((t) => `### Detector \`${t}\``),
      ...[...sinkRegistry.keys()].map((t) => `### Sink \`${t}\``),
    ];
    expect(expected.length).toBeGreaterThan(15);
    for (const heading of expected) expect(md.split('\n'), heading).toContain(heading);
  });

  it('has the top-level sections, the shared field-mapping options and a table per section', () => {
    for (const heading of ['## Top level', '## `time`', '## `engine`', '## `metrics`', '## Sources', '### Field-mapping options', '## Pipelines', '## Windows', '## Aggregates', '## Detectors', '## Sinks']) {
      expect(md.split('\n'), heading).toContain(heading);
    }
    expect(md).toContain('| `time.format` |');
    expect(md).toContain('| `maxEventBytes` |');
    expect(md).toMatch(/\| `sources` \*\*\(required\)\*\* \|/);
    expect(md).toMatch(/\| `maxOutOfOrderness` \| \[duration\]\(#durations\) \| `"5s"` \|/);
    expect(md).not.toMatch(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/); // no generation timestamp
  });

  it('links only to headings that exist', () => {
    const anchors = new Set(
      md
        .split('\n')
        .filter((l) => l.startsWith('#'))
        .map((l) => l.replace(/^#+ /, '').toLowerCase().replace(/[^a-z0-9 _-]/g, '').replace(/ /g, '-')),
    );
    const links = [...md.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]);
    expect(links.length).toBeGreaterThan(20);
    for (const l of links) expect(anchors, `#${l}`).toContain(l);
  });

  it('keeps every table row to four cells', () => {
    for (const line of md.split('\n').filter((l) => l.startsWith('| '))) {
      const cells = line.replace(/\\\|/g, '').split('|').length - 2;
      expect(cells, line).toBe(4);
    }
  });
});

describe('config JSON Schema', () => {
  const schema = configJsonSchema();

  it('identifies itself and lists exactly the top-level options of the config', () => {
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.$id).toBe(CONFIG_SCHEMA_ID);
    expect(schema.title).toBeTruthy();
    expect(Object.keys(schema.properties)).toEqual(Object.keys(configSchema.shape));
    expect(Object.keys(schema.properties)).toEqual(['name', 'time', 'sources', 'tables', 'pipelines', 'sinks', 'engine', 'state', 'repartition', 'metrics', 'reload', 'privacy']);
    expect(schema.required).toEqual(['sources', 'pipelines']);
  });

  it('rejects unknown keys in every object with named options', () => {
    let objects = 0;
    for (const [path, node] of nodes(schema)) {
      if (!node.properties) continue;
      objects++;
      expect(node.additionalProperties, path).toBe(false);
    }
    expect(objects).toBeGreaterThan(25);
  });

  it('describes every property', () => {
    for (const [path, node] of nodes(schema)) {
      for (const [k, p] of Object.entries<JsonSchema>(node.properties ?? {})) {
        expect(typeof p.description === 'string' && p.description.trim().length > 0, `${path}.${k} has no description`).toBe(true);
      }
    }
  });

  it('accepts the shipped configs', () => {
    for (const file of SHIPPED) {
      const config = parseYaml(read(file));
      expect(configSchema.safeParse(config).success, file).toBe(true);
      expect(validate(schema, config), file).toEqual([]);
    }
  });

  it('rejects what the config schema rejects', () => {
    const base = parseYaml(read('config/payments.yaml'));
    const variants: Array<[string, (c: any) => void]> = [
      ['unknown top-level key', (c) => (c.colour = 'red')],
      ['unknown source key', (c) => (c.sources[0].colour = 'red')],
      ['missing sources', (c) => delete c.sources],
      ['bad duration', (c) => (c.pipelines[0].window.lookback = '10 minutes')],
      ['zero positive duration', (c) => (c.pipelines[0].window.lookback = '0s')],
      ['negative duration', (c) => (c.time.maxOutOfOrderness = -1)],
      ['unknown window type', (c) => (c.pipelines[0].window.type = 'rolling')],
      ['unknown aggregate fn', (c) => (c.pipelines[0].aggregates[0].fn = 'median')],
      ['quantile without q', (c) => (c.pipelines[0].aggregates[0] = { name: 'p', fn: 'quantile', field: 'x' })],
      ['bad severity', (c) => (c.pipelines[0].detectors[0].severity = 'urgent')],
      ['bad pipeline name', (c) => (c.pipelines[0].name = '-card')],
      ['unknown sink type', (c) => (c.sinks[0].type = 'kafka')],
      ['bad field type', (c) => (c.sources[0].fields.amount = 'decimal')],
    ];
    for (const [what, mutate] of variants) {
      const config = structuredClone(base);
      mutate(config);
      expect(configSchema.safeParse(config).success, what).toBe(false);
      expect(validate(schema, config).length, what).toBeGreaterThan(0);
    }
    // Accepted by both: zod's case-insensitive name regex keeps its meaning in the JSON Schema.
    const upper = structuredClone(base);
    upper.pipelines[0].name = 'Card-Bursts';
    expect(configSchema.safeParse(upper).success).toBe(true);
    expect(validate(schema, upper)).toEqual([]);
  });

  it('documents durations as string | integer with a pattern that agrees with parseDuration', () => {
    const durations = [...nodes(schema)].filter(([, n]) => isDurationNode(n));
    expect(durations.length).toBeGreaterThan(10);
    for (const [path, n] of durations) {
      expect(n.type, path).toBeUndefined();
      expect(n.anyOf.map((b: JsonSchema) => b.type), path).toEqual(['string', 'integer']);
    }
    const samples = ['0ms', '0s', '5m', ' 5m ', '5 m', '1.5h', '0.5s', '250ms', '10d', '5', 'm', '5 minutes', '1e3s', '-1s', '5M', '1w', ''];
    for (const s of samples) {
      expect(new RegExp(DURATION_PATTERN, 'u').test(s), s).toBe(durationSchema.safeParse(s).success);
      expect(new RegExp(POSITIVE_DURATION_PATTERN, 'u').test(s), s).toBe(positiveDurationSchema.safeParse(s).success);
      expect(parseDuration(s) !== undefined, s).toBe(durationSchema.safeParse(s).success);
    }
    for (const n of [0, 1, 1000, -1, 1.5]) {
      expect(validate({ anyOf: [{ type: 'integer', minimum: 0 }] }, n).length === 0, String(n)).toBe(durationSchema.safeParse(n).success);
    }
  });

  it('shows the defaults zod applies, durations and objects holding them included', () => {
    const parsed = configSchema.parse(parseYaml('sources: [{ name: in, type: stdin }]\npipelines: [{ name: p, key: k, window: { type: tumbling, size: 1m }, aggregates: [{ name: n, fn: count }] }]'));
    const props = schema.properties;
    for (const key of ['name', 'time', 'sinks', 'engine', 'metrics'] as const) {
      expect(props[key].default, key).toEqual(parsed[key]);
    }
    for (const [path, n] of nodes(schema)) {
      if (isDurationNode(n) && 'default' in n) expect(durationSchema.parse(n.default), path).toBe(n.default);
    }
    const source = props.sources.items.oneOf.find((v: JsonSchema) => v.properties.type.const === 'stdin');
    expect(source.properties.time.default).toEqual(parsed.sources[0].time);
    const tumbling = props.pipelines.items.properties.window.oneOf.find((v: JsonSchema) => v.properties.type.const === 'tumbling');
    expect(tumbling.properties.grace.default).toBe(0);
    expect(tumbling.properties.offset.default).toBe(0);
    expect(pipelineSchema.shape.evidenceLimit.parse(undefined)).toBe(props.pipelines.items.properties.evidenceLimit.default);
  });
});
