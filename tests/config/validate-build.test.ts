/**
 * What `vigie validate` accepts, `vigie run` and `replay` must be able to run: for configs made of every
 * documented detector, window and aggregate type with combinations of their options (values drawn from
 * each option's schema: enums, bounds, optional options present and absent, the documented examples),
 * a config the validator accepts builds its pipelines and processes events without throwing, and a
 * config it rejects is rejected with problems located at a config path.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parse as parseYaml, stringify } from 'yaml';
import { configJsonSchema, POSITIVE_DURATION_PATTERN, DURATION_PATTERN, type JsonSchema } from '../../src/config/docs.js';
import { CANNOT_RUN, validateConfigText } from '../../src/config/load.js';
import type { PipelineConfig } from '../../src/config/pipeline.js';
import { Task } from '../../src/engine/task.js';
import { emptyBatch, type VEvent } from '../../src/types.js';
import { ROOT } from '../helpers/cli.js';

type Obj = Record<string, unknown>;

const SCHEMA = configJsonSchema();
const PIPELINE: JsonSchema = SCHEMA.properties.pipelines.items;
const variants = (node: JsonSchema, key: string): Map<string, JsonSchema> =>
  new Map((node.oneOf ?? node.anyOf).map((v: JsonSchema) => [v.properties[key].const as string, v]));
const DETECTOR_TYPES = variants(PIPELINE.properties.detectors.items, 'type');
const WINDOW_TYPES = variants(PIPELINE.properties.window, 'type');
const AGGREGATE_FNS = variants(PIPELINE.properties.aggregates.items, 'fn');

/** Marks an option left out of the config. */
const ABSENT = Symbol('absent');
type Value = unknown;

/** The `Example: \`...\`` of a module's doc comment (detectors/<type>.ts, operators/<type>.ts), parsed. */
function documentedExample(file: string): Obj {
  const text = readFileSync(`${ROOT}${file}`, 'utf8').replace(/\n\s*\*\s*/g, ' ');
  const m = /Example: `([^`]+)`/.exec(text);
  if (m === null) throw new Error(`${file}: no documented example`);
  const parsed = parseYaml(m[1]) as Obj;
  return (parsed.window as Obj | undefined) ?? parsed;
}

/** Option values by name: where the option's type alone says too little (names of fields, aggregates, detectors). */
const BY_NAME: Record<string, { valid: Value[]; invalid: Value[] }> = {
  name: { valid: ['d'], invalid: ['two words'] },
  description: { valid: ['a rule'], invalid: [] },
  field: { valid: ['amount', 'lat', 'customer'], invalid: [''] },
  latField: { valid: ['lat', 'lon', 'pos'], invalid: [''] },
  lonField: { valid: ['lon', 'lat', 'pos'], invalid: [''] },
  aggregate: { valid: ['n', 'total'], invalid: ['missing'] },
  numerator: { valid: ['n', 'total'], invalid: ['missing'] },
  denominator: { valid: ['total', 'n'], invalid: ['missing'] },
  match: { valid: [{}, { type: 'payment' }, { amount: { gte: 10 } }], invalid: [{ amount: {} }] },
  when: {
    valid: [{ amount: { '>': 10 } }, { amount: { '>=': 1, '<': 100 }, type: { in: ['payment'] } }, { customer: { exists: true } }, { type: { '!=': 'refund' }, amount: { '==': 5 } }],
    invalid: [{}, { amount: {} }, { amount: { '>': 'x' } }, { amount: { in: [] } }, { amount: { gt: 1 } }],
  },
  requires: {
    valid: [{ detectors: ['a'], within: '1m' }, { detectors: ['a', 'b'], mode: 'any', within: '1h' }],
    invalid: [{ detectors: ['d'], within: '1m' }, { detectors: ['zz'], within: '1m' }, { detectors: [], within: '1m' }],
  },
  features: {
    valid: [
      [{ name: 'amt', field: 'amount' }],
      [{ name: 'amt', field: 'amount', transform: 'log' }, { name: 'v', detector: 'a' }, { name: 'r', table: 'reports-by-terminal', on: 'device', stat: 'count', within: '1d' }],
    ],
    invalid: [[], [{ name: 'x' }], [{ name: 'v', detector: 'zz' }], [{ name: 'r', table: 'reports-by-terminal', on: 'device', stat: 'count' }], [{ name: 'r', table: 'nope', on: 'device' }]],
  },
  labels: { valid: [{ table: 'reports' }, { table: 'reports', field: 'verdict', positive: ['fraud', 'chargeback'] }], invalid: [{}, { table: 'nope' }, { table: 'untimed' }] },
  queue: { valid: [{}, { k: 5, every: '1h', exclude: { table: 'reports-by-terminal' } }], invalid: [{ k: 0 }, { exclude: { table: 'nope' } }] },
  inputs: {
    valid: [[{ detector: 'a', weight: 30 }], [{ detector: 'a', weight: 30 }, { detector: 'b', weight: -10 }]],
    invalid: [[{ detector: 'a', weight: 1 }, { detector: 'a', weight: 2 }], [{ detector: 'd', weight: 1 }], [{ detector: 'zz', weight: 1 }], []],
  },
  steps: {
    valid: [
      [{ name: 'login', match: { type: 'login' } }, { name: 'pay', match: { type: 'payment' } }],
      [{ name: 'any', match: {} }, { name: 'big', match: { amount: { gte: 10 } } }, { name: 'again', match: {} }],
    ],
    invalid: [[{ name: 'only', match: {} }], []],
  },
  settings: {
    valid: [{}, { warmupRows: 2, minHistory: 2 }, { levelWindows: [3], contextScales: [1, 4] }, { tailLowQuantile: 0.8, tailHighQuantile: 0.95 }],
    invalid: [
      { warmUpRows: 2 },
      { historyRows: 1 },
      { tailLowQuantile: 0.99 },
      { tailLowQuantile: 0.5, tailHighQuantile: 0.4 },
      { levelWindows: 3 },
      { warmupRows: [1] },
      { alertProbability: 2 },
    ],
  },
};

const NUMBERS = [-1, 0, 0.1, 0.5, 1, 1.5, 2, 3, 5, 10, 50, 20_000];

/** Values for one option from its JSON Schema: in range (valid) and out of it (invalid). */
function optionValues(name: string, node: JsonSchema): { valid: Value[]; invalid: Value[] } {
  if (name in BY_NAME) return BY_NAME[name];
  if (node.const !== undefined) return { valid: [node.const], invalid: [] };
  if (Array.isArray(node.enum)) return { valid: node.enum, invalid: ['nope'] };
  const pattern = node.anyOf?.[0]?.pattern;
  if (pattern === DURATION_PATTERN || pattern === POSITIVE_DURATION_PATTERN) {
    return { valid: ['30s', '1m', '1h', '2d', ...(pattern === DURATION_PATTERN ? [0] : [])], invalid: ['soon', ...(pattern === POSITIVE_DURATION_PATTERN ? [0] : [])] };
  }
  const type = Array.isArray(node.type) ? node.type[0] : node.type;
  if (type === 'boolean') return { valid: [true, false], invalid: ['yes'] };
  if (type === 'integer' || type === 'number') {
    const inRange = (v: number) =>
      (type === 'number' || Number.isInteger(v)) &&
      (node.minimum === undefined || v >= node.minimum) &&
      (node.exclusiveMinimum === undefined || v > node.exclusiveMinimum) &&
      (node.maximum === undefined || v <= node.maximum) &&
      (node.exclusiveMaximum === undefined || v < node.exclusiveMaximum);
    const bounds = [node.minimum, node.maximum, node.default].filter((v): v is number => typeof v === 'number' && Math.abs(v) < 1e9);
    const all = [...new Set([...NUMBERS, ...bounds, ...bounds.map((b) => b + 1), ...bounds.map((b) => b - 1)])].sort((a, b) => a - b);
    return { valid: all.filter(inRange), invalid: all.filter((v) => !inRange(v)).slice(0, 3) };
  }
  if (type === 'string') return { valid: ['x'], invalid: [''] };
  return { valid: [], invalid: [] };
}

/** Every option of a variant with its values; optional options (and those with defaults) may also be absent. */
function optionSpace(variant: JsonSchema, fixed: readonly string[]): Array<{ name: string; valid: Value[]; invalid: Value[] }> {
  const required = new Set<string>(variant.required ?? []);
  return Object.entries<JsonSchema>(variant.properties)
    .filter(([name]) => !fixed.includes(name))
    .map(([name, node]) => {
      const { valid, invalid } = optionValues(name, node);
      return { name, valid: required.has(name) ? valid : [ABSENT, ...valid], invalid: required.has(name) ? [ABSENT, ...invalid] : invalid };
    });
}

const build = (entries: Array<[string, Value]>): Obj => Object.fromEntries(entries.filter(([, v]) => v !== ABSENT));

/**
 * Configs of one variant: the base (documented example), each option at each of its values (valid or
 * not) with the others as in the base, and random combinations of valid values of every option.
 */
function combinations(variant: JsonSchema, base: Obj, fixed: Obj, random: number, seed: number): Obj[] {
  const space = optionSpace(variant, Object.keys(fixed));
  const out: Obj[] = [{ ...base, ...fixed }];
  for (const { name, valid, invalid } of space) {
    for (const v of [...valid, ...invalid]) {
      const c: Obj = { ...base, ...fixed };
      if (v === ABSENT) delete c[name];
      else c[name] = v;
      out.push(c);
    }
  }
  const arb = fc.tuple(...space.map(({ name, valid }) => fc.constantFrom(...valid).map((v): [string, Value] => [name, v])));
  for (const entries of fc.sample(arb, { seed, numRuns: random })) out.push({ ...build(entries), ...fixed });
  return out;
}

// ---------------------------------------------------------------------------------------------

const SOURCE = { name: 'in', type: 'stdin' };
const AGGREGATES = [
  { name: 'n', fn: 'count' },
  { name: 'total', fn: 'sum', field: 'amount' },
];
/** Detectors the detector under test may require or score. */
const HELPERS = [
  { name: 'a', type: 'velocity', lookback: '10m', value: 2, emit: false },
  { name: 'b', type: 'velocity', lookback: '1h', value: 3, emit: false },
];

/** Events of two keys over two hours: payments and logins, amounts, positions far apart. */
function events(): VEvent[] {
  const out: VEvent[] = [];
  const places = [
    [48.85, 2.35],
    [40.71, -74.0],
    [35.68, 139.69],
  ];
  for (let i = 0; i < 24; i++) {
    const t = i * 5 * 60_000;
    const [lat, lon] = places[i % 3];
    const payload = {
      card: i % 4 === 0 ? 'c2' : 'c1',
      type: i % 5 === 0 ? 'login' : 'payment',
      amount: i % 7 === 0 ? 5000 : 10 + i,
      customer: `u${i % 6}`,
      device: `dev${i % 3}`,
      lat,
      lon,
      latency_ms: 100 + i,
      p99_ms: i % 9 === 0 ? 900 : 120,
      status: i % 2 === 0 ? 'ok' : 'error',
      user: `u${i % 5}`,
      ip: `10.0.0.${i % 7}`,
      new_device: i % 8 === 0,
    };
    out.push({ time: t, id: `e${i}`, partition: 0, offset: i, source: 'in', payload });
  }
  return out;
}
const EVENTS = events();

/** Build the pipelines of a validated config as the engine does, and run events through them. */
function buildAndRun(config: readonly PipelineConfig[]): void {
  const task = new Task('t', config, { configVersion: 'test', detectionTime: (w) => w }, { maxOutOfOrderness: 0, idleTimeout: 0 }, 0);
  const batch = emptyBatch(0);
  batch.events = EVENTS;
  batch.wm = Float64Array.from(EVENTS, (e) => task.tracker.observe(e.partition, e.time, 0));
  batch.watermark = task.tracker.watermark;
  const end = emptyBatch(0);
  end.watermark = Infinity;
  for (const p of task.pipelines) {
    p.process(batch);
    p.process(end);
  }
}

interface Walk {
  cases: number;
  accepted: number;
  rejected: number;
  failures: string[];
}

/** Validate each config; accepted ones must build and run, rejected ones must say where. */
function walk(label: string, configs: Obj[]): Walk {
  const out: Walk = { cases: 0, accepted: 0, rejected: 0, failures: [] };
  const seen = new Set<string>();
  for (const cfg of configs) {
    const text = stringify(cfg);
    if (seen.has(text)) continue;
    seen.add(text);
    out.cases++;
    const report = validateConfigText(text, 'case.yaml', {});
    if (report.loaded !== undefined) {
      out.accepted++;
      try {
        buildAndRun(report.loaded.config.pipelines);
      } catch (err) {
        out.failures.push(`${label}: accepted but failed to run: ${(err as Error).message}\n${JSON.stringify(cfg.pipelines)}`);
      }
      continue;
    }
    out.rejected++;
    const unlocated = report.problems.filter((p) => p.path === '' || p.line < 1 || p.column < 1);
    if (report.problems.length === 0 || unlocated.length > 0) {
      out.failures.push(`${label}: rejected without a config path: ${JSON.stringify(report.problems)}\n${JSON.stringify(cfg.pipelines)}`);
    }
    // Validation's trial build is a backstop: every rule must be stated by the schema, with its own message.
    const backstop = report.problems.filter((p) => p.message.startsWith(CANNOT_RUN));
    if (backstop.length > 0) out.failures.push(`${label}: a rule the schema does not state: ${JSON.stringify(backstop)}\n${JSON.stringify(cfg.pipelines)}`);
  }
  return out;
}

const RESULT_DETECTORS = new Set([...DETECTOR_TYPES].filter(([, v]) => 'aggregate' in v.properties || 'numerator' in v.properties).map(([t]) => t));

/** A config with one pipeline holding the detector under test (named `d`) and its helpers. */
function detectorConfig(type: string, detector: Obj, windowed: boolean): Obj {
  const pipeline: Obj = { name: 'p', key: 'card', detectors: [...HELPERS, detector] };
  if (windowed) Object.assign(pipeline, { window: { type: 'tumbling', size: '10m' }, aggregates: AGGREGATES });
  // Tables a `model` reads (labels and entity reports); never loaded by validation.
  const tables =
    type === 'model'
      ? {
          tables: [
            { name: 'reports', type: 'file', path: 'reports.csv', key: 'id', time: { field: 'reported_at' } },
            { name: 'reports-by-terminal', type: 'file', path: 'reports.csv', key: 'terminal', time: { field: 'reported_at' } },
            { name: 'untimed', type: 'file', path: 'reports.csv', key: 'id' },
          ],
        }
      : {};
  return { sources: [SOURCE], pipelines: [pipeline], metrics: { enabled: false }, name: `case-${type}`, ...tables };
}

/** The documented example of a detector, made to fit the test pipeline (its name is `d`, its references exist). */
function detectorBase(type: string): Obj {
  const ex = documentedExample(`detectors/${type}.ts`);
  const base: Obj = { ...ex, name: 'd' };
  for (const k of ['aggregate', 'numerator'] as const) if (k in base) base[k] = 'n';
  if ('denominator' in base) base.denominator = 'total';
  if (Array.isArray(base.inputs)) base.inputs = (base.inputs as Obj[]).map((inp, i) => ({ ...inp, detector: ['a', 'b'][i] }));
  return base;
}

describe('every config validate accepts can be run', () => {
  it('finds the documented examples of every detector and window type', () => {
    for (const t of DETECTOR_TYPES.keys()) expect(documentedExample(`detectors/${t}.ts`).type).toBe(t);
    for (const t of WINDOW_TYPES.keys()) expect(documentedExample(`operators/${t}.ts`).type).toBe(t);
  });

  it.each([...DETECTOR_TYPES.keys()])('detector %s: every combination of options', (type) => {
    const variant = DETECTOR_TYPES.get(type)!;
    const result = RESULT_DETECTORS.has(type);
    // Judges events (`field`) or window results (`aggregate`), as its options say.
    const either = result && 'field' in variant.properties;
    const combos = combinations(variant, detectorBase(type), { type, name: 'd' }, 20, type.length * 7919);
    // Event detectors run with and without a window; every third combination is enough for that.
    const configs = combos.flatMap((d, i) => [detectorConfig(type, d, result), ...((!result || either) && i % 3 === 0 ? [detectorConfig(type, d, !result)] : [])]);
    const r = walk(`detector ${type}`, configs);
    expect(r.failures).toEqual([]);
    // Both sides are walked: configs that pass and configs that are refused.
    expect(r.accepted).toBeGreaterThan(20);
    expect(r.rejected).toBeGreaterThan(0);
  });

  /** A config whose one pipeline has this window and these aggregates, judged by a threshold on `n`. */
  const windowConfig = (window: Obj, aggregates: Obj[]): Obj => ({
    sources: [SOURCE],
    metrics: { enabled: false },
    pipelines: [{ name: 'p', key: 'card', window, aggregates, detectors: [{ name: 'many', type: 'threshold', aggregate: 'n', value: 2 }] }],
  });

  it.each([...WINDOW_TYPES.keys()])('window %s: every combination of options', (type) => {
    const variant = WINDOW_TYPES.get(type)!;
    const windows = combinations(variant, documentedExample(`operators/${type}.ts`), { type }, 20, type.length * 104_729);
    const r = walk(`window ${type}`, windows.map((w) => windowConfig(w, AGGREGATES)));
    expect(r.failures).toEqual([]);
    expect(r.accepted).toBeGreaterThan(20);
    expect(r.rejected).toBeGreaterThan(0);
  });

  it('every aggregate function: every combination of options, under every window type', () => {
    const windows = [...WINDOW_TYPES.keys()].map((t) => documentedExample(`operators/${t}.ts`));
    const configs: Obj[] = [];
    for (const [fn, v] of AGGREGATE_FNS) {
      for (const ex of (v.examples ?? []) as Obj[]) {
        combinations(v, ex, { fn, name: 'agg' }, 4, fn.length).forEach((a, i) => configs.push(windowConfig(windows[i % windows.length], [{ name: 'n', fn: 'count' }, a])));
      }
    }
    const r = walk('aggregates', configs);
    expect(r.failures).toEqual([]);
    expect(r.accepted).toBeGreaterThan(20);
    expect(r.rejected).toBeGreaterThan(0);
  });

  it('pipelines of several detectors referring to one another (requires, score inputs), with and without a window', () => {
    const names = ['a', 'b', 'c', 'r'];
    // Mostly other detectors of the pipeline; sometimes itself, or one that does not exist.
    const refOf = (name: string) =>
      fc.oneof({ arbitrary: fc.constantFrom(...names.filter((n) => n !== name)), weight: 18 }, { arbitrary: fc.constantFrom(name, 'zz'), weight: 1 });
    const detector = (name: string) =>
      fc
        .record({
          kind: fc.constantFrom('velocity', 'threshold', 'score', 'distinct'),
          requires: fc.option(fc.uniqueArray(refOf(name), { minLength: 1, maxLength: 2 }), { nil: undefined, freq: 2 }),
          inputs: fc.uniqueArray(refOf(name), { minLength: 1, maxLength: 3 }),
          emit: fc.boolean(),
        })
        .map(({ kind, requires, inputs, emit }): Obj => {
          const common = { name, emit, ...(requires ? { requires: { detectors: requires, within: '1h' } } : {}) };
          if (kind === 'velocity') return { ...common, type: kind, lookback: '10m', value: 3 };
          if (kind === 'distinct') return { ...common, type: kind, field: 'customer', lookback: '1h', value: 2 };
          if (kind === 'threshold') return { ...common, type: kind, aggregate: 'n', value: 2 };
          return { ...common, type: kind, within: '1h', value: 20, inputs: inputs.map((d, i) => ({ detector: d, weight: 10 * (i + 1) })) };
        });
    const arb = fc.record({
      detectors: fc.tuple(...names.map(detector)),
      windowed: fc.boolean(),
      fields: fc.option(fc.constantFrom(['card', 'amount', 'customer'], ['card']), { nil: undefined, freq: 2 }),
      alertFields: fc.option(fc.constantFrom([], ['amount']), { nil: undefined }),
      evidenceLimit: fc.constantFrom(0, 1, 20),
      maxPendingEvents: fc.constantFrom(1, 1_000_000),
    });
    const configs = fc.sample(arb, { seed: 7, numRuns: 200 }).map(({ detectors, windowed, ...rest }): Obj => ({
      sources: [SOURCE],
      metrics: { enabled: false },
      pipelines: [
        {
          name: 'p',
          key: 'card',
          detectors,
          ...(windowed ? { window: { type: 'sliding', lookback: '10m' }, aggregates: AGGREGATES } : {}),
          ...build(Object.entries(rest).map(([k, v]) => [k, v ?? ABSENT])),
        },
      ],
    }));
    const r = walk('pipeline', configs);
    expect(r.failures).toEqual([]);
    expect(r.accepted).toBeGreaterThan(20);
    expect(r.rejected).toBeGreaterThan(20);
  });
});

describe('rules across options are reported at the option to change', () => {
  const WINDOW = ['    window: { type: tumbling, size: 1h }', '    aggregates: [{ name: n, fn: count }]'];
  const lines = (detectors: string[]) => ['sources: [{ name: in, type: stdin }]', 'pipelines:', '  - name: p', '    key: card', ...WINDOW, '    detectors:', ...detectors.map((d) => `      - ${d}`)];
  /** Each problem as `line:column path: message`. */
  const problems = (detectors: string[]) =>
    validateConfigText(`${lines(detectors).join('\n')}\n`, 'c.yaml', {}).problems.map((p) => `${p.line}:${p.column} ${p.path}: ${p.message}`);
  /** Where `marker` is in the line of `detector`: the position the problem must point at. */
  const at = (detectors: string[], detector: string, marker: string) => {
    const all = lines(detectors);
    const line = all.findIndex((l) => l.endsWith(detector));
    return `${line + 1}:${all[line].indexOf(marker) + 1}`;
  };

  it.each([
    ['velocity', '{ name: d, type: velocity, measure: sum, lookback: 1m, value: 3 }', '{ name', 'field', 'measure: sum needs `field`: the numeric field to add up'],
    ['baseline', '{ name: d, type: baseline, aggregate: n, model: seasonal }', '{ name', 'season', 'model: seasonal needs `season`'],
    ['baseline', '{ name: d, type: baseline, aggregate: n, season: hour-of-day }', 'hour-of-day', 'season', 'season is only used with model: seasonal'],
    ['geo-velocity', '{ name: d, type: geo-velocity, latField: lon }', 'lon }', 'latField', 'latField and lonField are both "lon"'],
    ['outlier', '{ name: d, type: outlier, field: amount, history: 5, minHistory: 6 }', '6 }', 'minHistory', 'minHistory (6) is larger than history (5)'],
    ['distinct', '{ name: d, type: distinct, field: customer, lookback: 1h, op: "<", value: 0 }', '0 }', 'value', 'a distinct count < 0 can never hold'],
    ['anomaly', '{ name: d, type: anomaly, field: v, settings: { historyRows: 1 } }', '1 }', 'settings.historyRows', 'must be an integer >= 2 (got 1)'],
    ['score', '{ name: d, type: score, within: 1h, value: 1, inputs: [{ detector: a, weight: 1 }, { detector: a, weight: 2 }] }', 'a, weight: 2', 'inputs[1].detector', 'detector "a" is already input 1'],
  ])('%s: %s', (type, detector, marker, path, message) => {
    const detectors = ['{ name: a, type: velocity, lookback: 1m, value: 3 }', detector];
    const found = problems(detectors);
    expect(found).toHaveLength(1);
    expect(found[0]).toContain(`${at(detectors, detector, marker)} pipelines[0].detectors[1].${path}: ${message}`);
  });

  it('detectors requiring or scoring one another in a circle', () => {
    const detectors = [
      '{ name: a, type: velocity, lookback: 1m, value: 3, requires: { detectors: [c], within: 1h } }',
      '{ name: b, type: velocity, lookback: 1m, value: 3, requires: { detectors: [a], within: 1h } }',
      '{ name: c, type: score, within: 1h, value: 1, inputs: [{ detector: b, weight: 1 }] }',
    ];
    expect(problems(detectors)).toEqual([
      `${at(detectors, detectors[1], 'a], within')} pipelines[0].detectors[1].requires.detectors[0]: detectors "a" -> "c" -> "b" -> "a" depend on each other in a circle (through requires or score inputs): remove one of these references`,
    ]);
  });
});
