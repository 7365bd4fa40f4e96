import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { configSchema } from '../../src/config/schema.js';
import { ConfigError, formatProblem, parseConfig, validateConfigFile, validateConfigText } from '../../src/config/load.js';
import { closest, didYouMean, editDistance, maxDistance } from '../../src/util/suggest.js';
import { tempDir, vigie } from '../helpers/cli.js';

/** Every line `validate` would print for a config text (errors and warnings, in file order). */
function lines(text: string, file = 'c.yaml', env: NodeJS.ProcessEnv = {}): { errors: string[]; warnings: string[] } {
  const r = validateConfigText(text, file, env);
  return { errors: r.problems.map(formatProblem), warnings: r.warnings.map(formatProblem) };
}

const TYPES = 'types: threshold, ratio, rate-of-change, baseline, velocity, distinct, first-seen, rule, geo-velocity, sequence, outlier, anomaly, score, model';

// YAML-valid, with seven independent mistakes: a source reference, a duration, an aggregate reference,
// a detector type, an option name, a duplicate detector name and a `requires` naming no detector.
const MANY = [
  'name: weekly',
  'sources:',
  '  - name: payments',
  '    type: generator',
  '    scenario: payments',
  '    fields: { amount: number, customer: string, card: string }',
  'pipelines:',
  '  - name: cards',
  '    sources: [paymnts]',
  '    key: card',
  '    window: { type: tumbling, size: 5 minutes }',
  '    aggregates:',
  '      - { name: payments, fn: count }',
  '    detectors:',
  '      - { name: many, type: threshold, aggregate: paymnts, value: 8 }',
  '      - name: burst',
  '        type: velocty',
  '        lookback: 10m',
  '        value: 5',
  '      - name: slow',
  '        type: velocity',
  '        lookbak: 1h',
  '        value: 20',
  '      - name: many',
  '        type: threshold',
  '        aggregate: payments',
  '        value: 20',
  '        requires: { detectors: [slw], within: 1h }',
  '',
].join('\n');

const MANY_EXPECTED = (f: string) => [
  `${f}:9:15: pipelines[0].sources[0]: unknown source "paymnts" (did you mean "payments"? defined: payments)`,
  `${f}:11:37: pipelines[0].window.size: invalid duration "5 minutes": expected a non-negative integer of milliseconds or a number with a unit (ms, s, m, h, d), e.g. "5m"`,
  `${f}:15:51: pipelines[0].detectors[0].aggregate: unknown aggregate "paymnts" (did you mean "payments"? defined in this pipeline: payments)`,
  `${f}:17:15: pipelines[0].detectors[1].type: unknown detector type "velocty" (did you mean "velocity"? ${TYPES})`,
  `${f}:22:9: pipelines[0].detectors[2].lookbak: unknown key "lookbak" (did you mean "lookback"?)`,
  `${f}:24:15: pipelines[0].detectors[3].name: duplicate detector name "many": detector names must be unique in the config (they identify alerts)`,
  `${f}:28:33: pipelines[0].detectors[3].requires.detectors[0]: unknown detector "slw" (did you mean "slow"? detectors of this pipeline: many, burst, slow)`,
];

describe('validating a config reports every problem at once', () => {
  it('schema and cross-reference errors together, each located, with suggestions', () => {
    const { errors, warnings } = lines(MANY);
    expect(errors).toEqual(MANY_EXPECTED('c.yaml'));
    expect(warnings).toEqual([]);
  });

  it('the CLI prints them all on stderr and exits with 2', () => {
    const file = join(tempDir(), 'many.yaml');
    writeFileSync(file, MANY);
    const r = vigie(['validate', '-c', file]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`${[...MANY_EXPECTED(file), `vigie: VIGIE_ERR_CONFIG: 7 problems in ${file}`].join('\n')}\n`);
  });

  it('parseConfig throws one ConfigError carrying all of them', () => {
    try {
      parseConfig(MANY, 'c.yaml', {});
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems.map(formatProblem)).toEqual(MANY_EXPECTED('c.yaml'));
    }
  });

  it('reports every YAML syntax error, and nothing else then', () => {
    const text = ['sources:', '  - name: in', '    type: [stdin', 'pipelines:', '  - name: "p', ''].join('\n');
    expect(lines(text).errors).toEqual([
      'c.yaml:4:1: (root): YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
      'c.yaml:6:1: (root): YAML: Missing closing "quote',
    ]);
  });

  it('keeps checking after a duplicate key (the structure is intact)', () => {
    const text = ['sources: [{ name: in, type: stdin }]', 'pipelines:', '  - name: p', '    key: a', '    key: b', '    detectors: [{ name: d, type: velocity, lookback: 1m, value: ten }]', ''].join('\n');
    expect(lines(text).errors).toEqual(['c.yaml:5:5: (root): YAML: Map keys must be unique', 'c.yaml:6:65: pipelines[0].detectors[0].value: expected a number, got string "ten"']);
  });

  it('uses the default of ${NAME:-default} for a variable unset or empty, as a shell does; ${NAME} set empty stays empty', () => {
    const text = ['sources: [{ name: "${SRC:-in}", type: stdin }]', 'pipelines:', '  - { name: "p${SUFFIX}", key: "${KEY:-k}", window: { type: tumbling, size: 1m }, aggregates: [{ name: n, fn: count }] }', ''].join('\n');
    const config = (env: NodeJS.ProcessEnv) => parseConfig(text, 'c.yaml', env).config;
    expect(config({ SRC: '', KEY: '', SUFFIX: '' }).sources[0].name).toBe('in');
    expect(config({ SRC: '', KEY: '', SUFFIX: '' }).pipelines[0]).toMatchObject({ name: 'p', key: 'k' });
    expect(config({ SRC: 'src', KEY: 'card', SUFFIX: '2' }).pipelines[0]).toMatchObject({ name: 'p2', key: 'card' });
    expect(config({ SUFFIX: '' }).sources[0].name).toBe('in');
  });

  it('reports unset environment variables with the rest, and nothing more about the values they leave empty', () => {
    const text = ['sources: [{ name: "${SRC}", type: stdin }]', 'pipelines:', '  - { name: p, sources: [in], key: "${KEY}", window: { type: tumbling, size: 1x }, aggregates: [{ name: n, fn: count }] }', ''].join('\n');
    expect(lines(text).errors).toEqual([
      'c.yaml:1:19: sources[0].name: environment variable SRC is not set (use ${SRC:-default} for a default)',
      'c.yaml:3:36: pipelines[0].key: environment variable KEY is not set (use ${KEY:-default} for a default)',
      'c.yaml:3:78: pipelines[0].window.size: invalid duration "1x": expected a non-negative integer of milliseconds or a number with a unit (ms, s, m, h, d), e.g. "5m"',
    ]);
  });

  it('leaves the config schema checking references on its own too', () => {
    const r = configSchema.safeParse(parseYaml('sources: [{ name: in, type: stdin }]\npipelines: [{ name: p, sources: [inn], key: k, detectors: [{ name: d, type: velocity, lookback: 1m, value: 1 }] }]'));
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([['pipelines.0.sources.0', 'unknown source "inn" (did you mean "in"? defined: in)']]);
  });

  it('reports a problem once, even when found by both the schema and the raw checks', () => {
    const text = 'sources: [{ name: in, type: stdin }, { name: in, type: stdin }]\npipelines: [{ name: p, key: k, detectors: [{ name: d, type: velocity, lookback: 1m, value: 1 }] }]\n';
    expect(lines(text).errors).toEqual(['c.yaml:1:46: sources[1].name: duplicate source name "in"']);
  });
});

describe('messages say what was expected and what was found', () => {
  const pipeline = (detector: string, extra = '') =>
    `sources: [{ name: in, type: stdin }]\npipelines:\n  - name: p\n    key: k\n${extra}    detectors:\n      - ${detector}\n`;

  it('types, enums (with suggestions), bounds, integers, durations and empty strings', () => {
    const { errors } = lines(
      [
        'sources: [{ name: in, type: stdin }]',
        'metrics: { port: 70000 }',
        'engine: { batchSize: 1.5 }',
        'pipelines:',
        '  - name: p',
        '    key: ""',
        '    detectors:',
        '      - { name: a, type: velocity, lookback: true, value: ten, severity: hgh }',
        '',
      ].join('\n'),
    );
    expect(errors).toEqual([
      'c.yaml:2:18: metrics.port: must be <= 65535, got 70000',
      'c.yaml:3:22: engine.batchSize: expected an integer, got number 1.5',
      'c.yaml:6:10: pipelines[0].key: must not be empty',
      'c.yaml:8:46: pipelines[0].detectors[0].lookback: expected a duration like "250ms", "30s", "5m", "2h" or "1d", or an integer of milliseconds, got boolean true',
      'c.yaml:8:59: pipelines[0].detectors[0].value: expected a number, got string "ten"',
      'c.yaml:8:74: pipelines[0].detectors[0].severity: expected one of "info", "low", "medium", "high", "critical", got string "hgh" (did you mean "high"?)',
    ]);
  });

  it('missing and unknown types, and unknown aggregate functions, list the choices', () => {
    const { errors } = lines(
      [
        'sources: [{ name: in }]',
        'pipelines:',
        '  - name: p',
        '    key: k',
        '    window: { type: tumbling, size: 1m }',
        '    aggregates: [{ name: n, fn: cout }]',
        '    detectors: [{ name: d, type: 3, value: 1 }]',
        '',
      ].join('\n'),
    );
    expect(errors).toEqual([
      'c.yaml:1:11: sources[0].type: missing source type (types: generator, ndjson-file, msgpack-file, stdin, kafka)',
      'c.yaml:6:33: pipelines[0].aggregates[0].fn: unknown aggregate fn "cout" (did you mean "count"? functions: count, sum, min, max, mean, stddev, distinct, quantile, first, last)',
      `c.yaml:7:34: pipelines[0].detectors[0].type: detector type must be a string, got number 3 (${TYPES})`,
    ]);
  });

  it('a required option written with a typo is one problem, not two', () => {
    expect(lines(pipeline('{ name: d, type: velocity, lokback: 1m, value: 1 }')).errors).toEqual([
      'c.yaml:6:36: pipelines[0].detectors[0].lokback: unknown key "lokback" (did you mean "lookback"?)',
    ]);
    expect(lines('sources: [{ name: in, type: stdin }]\npipeline: []\n').errors).toEqual(['c.yaml:2:1: pipeline: unknown key "pipeline" (did you mean "pipelines"?)']);
  });

  it('unknown keys inside field conditions are suggested from the condition operators', () => {
    expect(lines(pipeline('{ name: d, type: velocity, lookback: 1m, value: 1, match: { amount: { gtt: 3 } } }')).errors).toEqual([
      'c.yaml:6:77: pipelines[0].detectors[0].match.amount: give at least one of gt, gte, lt, lte, ne',
      'c.yaml:6:79: pipelines[0].detectors[0].match.amount.gtt: unknown key "gtt" (did you mean "gt"?)',
    ]);
  });

  it('does not report references into a section whose key is misspelt', () => {
    const text = pipeline('{ name: d, type: threshold, aggregate: n, value: 1 }', '    window: { type: tumbling, size: 1m }\n    agregates: [{ name: n, fn: count }]\n');
    expect(lines(text).errors).toEqual(['c.yaml:6:5: pipelines[0].agregates: unknown key "agregates" (did you mean "aggregates"?)']);
  });

  it('explains a reference to a detector of another pipeline', () => {
    const text = [
      'sources: [{ name: in, type: stdin }]',
      'pipelines:',
      '  - { name: p, key: k, detectors: [{ name: a, type: velocity, lookback: 1m, value: 1, requires: { detectors: [b], within: 1h } }] }',
      '  - { name: q, key: k, detectors: [{ name: b, type: velocity, lookback: 1m, value: 1 }] }',
      '',
    ].join('\n');
    expect(lines(text).errors).toEqual([
      'c.yaml:3:111: pipelines[0].detectors[0].requires.detectors[0]: unknown detector "b" in this pipeline: it is defined in pipeline "q", and detectors can only refer to detectors of their own pipeline',
    ]);
  });
});

describe('field references (warnings)', () => {
  const CONFIG = [
    'sources:',
    '  - name: payments',
    '    type: stdin',
    '    time: { field: at }',
    '    fields: { amount: number, card: string }',
    'pipelines:',
    '  - name: p',
    '    key: crd',
    '    where: { at: 1, type: payment }',
    '    window: { type: tumbling, size: 1m }',
    '    aggregates:',
    '      - { name: total, fn: sum, field: amout }',
    '      - { name: merchants, fn: distinct, field: merchant }',
    '    detectors:',
    '      - { name: d, type: velocity, lookback: 1m, value: 1, match: { cards: x, id: 3 } }',
    '',
  ].join('\n');

  it('warn about near-misses of declared fields only (not about undeclared fields in general, nor time and id)', () => {
    const r = validateConfigText(CONFIG, 'w.yaml', {});
    expect(r.problems).toEqual([]);
    expect(r.loaded?.warnings).toEqual(r.warnings);
    expect(r.warnings.map(formatProblem)).toEqual([
      'w.yaml:8:10: pipelines[0].key: warning: field "crd" is not declared in the fields of source "payments" (did you mean "card"?)',
      'w.yaml:12:40: pipelines[0].aggregates[0].field: warning: field "amout" is not declared in the fields of source "payments" (did you mean "amount"?)',
      'w.yaml:15:69: pipelines[0].detectors[0].match.cards: warning: field "cards" is not declared in the fields of source "payments" (did you mean "card"?)',
    ]);
  });

  it('are not checked when a source of the pipeline declares no fields', () => {
    const text = CONFIG.replace('pipelines:', '  - { name: other, type: stdin }\npipelines:');
    expect(validateConfigText(text, 'w.yaml', {}).warnings).toEqual([]);
    expect(validateConfigText(text.replace('  - name: p\n', '  - name: p\n    sources: [payments]\n'), 'w.yaml', {}).warnings).toHaveLength(3);
  });

  it('alone leave the config valid: the CLI prints them and exits with 0', () => {
    const file = join(tempDir(), 'warn.yaml');
    writeFileSync(file, CONFIG);
    const r = vigie(['validate', '-c', file]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/valid \(version [0-9a-f]{12}\), 3 warnings\n$/);
    expect(r.stderr).toContain(`${file}:12:40: pipelines[0].aggregates[0].field: warning: field "amout"`);
    expect(r.stderr.trim().split('\n')).toHaveLength(3);
  });

  it('are counted apart from errors', () => {
    const file = join(tempDir(), 'both.yaml');
    writeFileSync(file, CONFIG.replace('value: 1,', 'value: one,'));
    const r = vigie(['validate', '-c', file]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('1 problem, 3 warnings in');
  });

  it('the shipped configs have neither problems nor warnings', () => {
    for (const f of ['config/demo.yaml', 'config/payments.yaml', 'config/kafka.yaml', 'config/nab.yaml']) {
      const r = validateConfigFile(f, {});
      expect(r.problems.map(formatProblem), f).toEqual([]);
      expect(r.warnings.map(formatProblem), f).toEqual([]);
      expect(r.loaded).toBeDefined();
    }
  });
});

describe('suggestions', () => {
  it('edit distance counts insertions, deletions, substitutions and adjacent swaps', () => {
    expect(editDistance('', '')).toBe(0);
    expect(editDistance('abc', '')).toBe(3);
    expect(editDistance('', 'ab')).toBe(2);
    expect(editDistance('lookback', 'lookback')).toBe(0);
    expect(editDistance('lookbak', 'lookback')).toBe(1); // insertion
    expect(editDistance('velocity', 'velocty')).toBe(1); // deletion
    expect(editDistance('amount', 'amoumt')).toBe(1); // substitution
    expect(editDistance('tumbilng', 'tumbling')).toBe(1); // swap
    expect(editDistance('ca', 'abc')).toBe(3); // optimal string alignment: no edits of a swapped pair
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('threshold', 'ratio')).toBeGreaterThan(4);
  });

  it('is symmetric', () => {
    for (const [a, b] of [['lookbak', 'lookback'], ['abcdef', 'badcfe'], ['x', 'xyz']]) expect(editDistance(a, b)).toBe(editDistance(b, a));
  });

  it('allows about a third of the word, at least one edit, never the whole word', () => {
    expect(maxDistance('a')).toBe(0);
    expect(maxDistance('id')).toBe(1);
    expect(maxDistance('card')).toBe(1);
    expect(maxDistance('amount')).toBe(2);
    expect(maxDistance('maxOutOfOrderness')).toBe(5);
  });

  it('suggests the closest candidate when close enough, the first one on a tie', () => {
    expect(closest('velocty', ['threshold', 'velocity', 'distinct'])).toBe('velocity');
    expect(closest('lookbak', ['lookback', 'lookahead'])).toBe('lookback');
    expect(closest('Lookback', ['lookback'])).toBe('lookback'); // case only
    expect(closest('gtt', ['gt', 'gte', 'lt'])).toBe('gt');
    expect(closest('amout', ['card', 'amount'])).toBe('amount');
    expect(didYouMean('hgh', ['low', 'high'])).toBe('did you mean "high"?');
  });

  it('suggests nothing when far, for exact matches, or without candidates', () => {
    expect(closest('colour', ['name', 'type', 'time', 'fields'])).toBeUndefined();
    expect(closest('merchant', ['amount', 'card', 'customer'])).toBeUndefined();
    expect(closest('ab', ['cd'])).toBeUndefined();
    expect(closest('a', ['b'])).toBeUndefined();
    expect(closest('card', ['cart', 'card'].filter((c) => c !== 'cart'))).toBeUndefined();
    expect(closest('x', [])).toBeUndefined();
    expect(closest('crd', ['card'])).toBe('card');
    expect(closest('cd', ['card'])).toBeUndefined(); // two edits in a two-letter word
    expect(didYouMean('other', ['in'])).toBeUndefined();
  });
});
