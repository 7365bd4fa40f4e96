import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { EngineMetrics } from '../../src/metrics/registry.js';
import { parseConfig, validateConfigText } from '../../src/config/load.js';
import { memorySource } from '../../src/sources/memory.js';
import { mappingSchema } from '../../src/sources/mapping.js';
import type { RawBatch, Source } from '../../src/sources/types.js';
import { collectSink } from '../helpers/collect.js';
import { VigieError } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'vigie-tables-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A pipeline whose windows hold one event each (keyed by the event id), showing the enriched fields. */
const pipeline = (name: string, enrich: string, extra = '') => `
  - name: ${name}
    key: id
    enrich: [${enrich}]
    window: { type: tumbling, size: 1 }
    aggregates:
      - { name: risk, fn: last, field: merchants.risk }
      - { name: missing, fn: last, field: merchants.missing }
      - { name: region, fn: last, field: merchants.region }${extra}`;

function configText(tables: string, pipelines: string): string {
  return `
time: { maxOutOfOrderness: 0 }
sources: [{ name: pay, type: stdin }]
tables:
${tables}
pipelines:${pipelines}
metrics: { enabled: false }
`;
}

const events = () => [
  { id: 'e1', ts: 1000, merchant: 'm1' }, // first version of m1
  { id: 'e2', ts: 5000, merchant: 'm1' }, // exactly at the second version's validity time
  { id: 'e3', ts: 4999, merchant: 'm1' }, // just before it (late events do not matter here: maxOutOfOrderness 0 and one window each... so keep order)
  { id: 'e4', ts: 6000, merchant: 'm2' }, // m2 is valid only from 7000
  { id: 'e5', ts: 7000, merchant: 'm9' }, // no row at all
  { id: 'e6', ts: 8000 }, // no merchant field
  { id: 'e7', ts: 9000, merchant: 'm2' },
];

async function replay(text: string, records: object[], name = 'enrich.yaml') {
  const file = join(dir, name);
  writeFileSync(file, text);
  const loaded = parseConfig(text, file);
  const sink = collectSink();
  const engine = new Engine({ loaded, mode: 'replay', sources: [memorySource(records, { name: 'pay', batchSize: 2 })], sinks: [sink] });
  const summary = await engine.run();
  const byPipeline = (p: string) => Object.fromEntries(sink.results.filter((r) => r.pipeline === p).map((r) => [r.key, r.values]));
  return { sink, summary, byPipeline };
}

describe('enrich: the row valid at the event time, and the missing-row policies', () => {
  writeFileSync(join(dir, 'merchants.csv'), 'id,risk,region,from\nm1,0.1,north,0\nm1,0.9,"south, coast",5000\nm2,0.5,east,7000\n');
  const TABLE = `  - { name: merchants, type: file, path: merchants.csv, key: id, time: { field: from, format: ms }, fields: { risk: number } }`;

  it('versions by event time; pass, flag, dead-letter and defaults; counts; the shared event is not changed', async () => {
    const records = events().filter((e) => e.id !== 'e3');
    const before = structuredClone(records);
    const { sink, summary, byPipeline } = await replay(
      configText(
        TABLE,
        pipeline('pass', '{ table: merchants, on: merchant }') +
          pipeline('flag', '{ table: merchants, on: merchant, missing: flag }') +
          pipeline('dead', '{ table: merchants, on: merchant, missing: dead-letter }') +
          pipeline('defaults', '{ table: merchants, on: merchant, fields: [risk], missing: { defaults: { risk: -1 } } }'),
      ),
      records,
    );
    expect(records).toEqual(before);
    expect(byPipeline('pass')).toEqual({
      e1: { risk: 0.1, missing: null, region: 'north' },
      e2: { risk: 0.9, missing: null, region: 'south, coast' },
      e4: { risk: null, missing: null, region: null },
      e5: { risk: null, missing: null, region: null },
      e6: { risk: null, missing: null, region: null },
      e7: { risk: 0.5, missing: null, region: 'east' },
    });
    expect(byPipeline('flag')).toMatchObject({ e1: { risk: 0.1, missing: 'false' }, e4: { missing: 'true' }, e5: { missing: 'true' }, e6: { missing: 'true' }, e7: { missing: 'false' } });
    expect(Object.keys(byPipeline('dead')).sort()).toEqual(['e1', 'e2', 'e7']);
    // Only the listed fields are copied; defaults stand in for a missing row.
    expect(byPipeline('defaults')).toMatchObject({ e1: { risk: 0.1, region: null }, e4: { risk: -1 }, e6: { risk: -1 }, e7: { risk: 0.5 } });
    const dead = sink.deadLetters.filter((d) => d.reason === 'missing_row');
    expect(dead.map((d) => [d.pipeline, (d.raw as { id: string }).id])).toEqual([
      ['dead', 'e4'],
      ['dead', 'e5'],
      ['dead', 'e6'],
    ]);
    expect(dead[0].detail).toBe('no row of table "merchants" valid at the event\'s time for field "merchant"');
    expect(dead[2].detail).toBe('no usable value in field "merchant"');
    expect(dead[0].raw).toEqual({ id: 'e4', ts: 6000, merchant: 'm2' }); // the event as it came, not enriched
    for (const p of ['pass', 'flag', 'dead', 'defaults']) expect(summary.pipelines[p]).toMatchObject({ enriched: 3, missingRows: 3 });
    expect(summary.pipelines.dead.processed).toBe(3);
    expect(summary.deadLetters.byReason.missing_row).toBe(3);
  });

  it('with time, an event keeps the row valid at its time though a later version is loaded; without time, the current row', async () => {
    writeFileSync(join(dir, 'current.ndjson'), '{"id":"m1","risk":0.1}\n{"id":"m1","risk":0.9}\n');
    const tables = `${TABLE}\n  - { name: cur, type: file, path: current.ndjson, key: id }`;
    const { byPipeline } = await replay(
      configText(
        tables,
        pipeline('versioned', '{ table: merchants, on: merchant }') +
          `
  - name: current
    key: id
    enrich: [{ table: cur, on: merchant, prefix: "" , fields: [risk] }]
    window: { type: tumbling, size: 1 }
    aggregates: [{ name: risk, fn: last, field: risk }]`,
      ),
      [{ id: 'a', ts: 1000, merchant: 'm1' }, { id: 'b', ts: 4999, merchant: 'm1' }, { id: 'c', ts: 5000, merchant: 'm1' }],
    );
    expect(byPipeline('versioned')).toMatchObject({ a: { risk: 0.1 }, b: { risk: 0.1 }, c: { risk: 0.9 } });
    expect(byPipeline('current')).toEqual({ a: { risk: 0.9 }, b: { risk: 0.9 }, c: { risk: 0.9 } });
  });

  it('where and the key may use enriched fields (filter on a watch list)', async () => {
    writeFileSync(join(dir, 'watch.csv'), 'card,listed\nc1,true\nc2,false\n');
    const { summary, sink } = await replay(
      configText(
        '  - { name: watchlist, type: file, path: watch.csv, key: card, fields: { listed: boolean } }',
        `
  - name: listed
    key: watchlist.card
    enrich: [{ table: watchlist, on: card }]
    where: { watchlist.listed: true }
    window: { type: tumbling, size: 10000 }
    aggregates: [{ name: n, fn: count }]`,
      ),
      [{ id: 'a', ts: 1, card: 'c1' }, { id: 'b', ts: 2, card: 'c2' }, { id: 'c', ts: 3, card: 'c3' }, { id: 'd', ts: 4, card: 'c1' }],
    );
    expect(sink.results.map((r) => [r.key, r.count])).toEqual([['c1', 2]]);
    expect(summary.pipelines.listed).toMatchObject({ processed: 2, filtered: 2, enriched: 3, missingRows: 1 });
  });

  it('a pipeline limited to `fields` shows only those fields in its missing_row dead letters', async () => {
    const { sink } = await replay(
      configText(
        TABLE,
        `
  - name: limited
    key: id
    fields: [id, merchant, merchants.risk]
    enrich: [{ table: merchants, on: merchant, fields: [risk], missing: dead-letter }]
    window: { type: tumbling, size: 1 }
    aggregates: [{ name: risk, fn: last, field: merchants.risk }]`,
      ),
      [{ id: 'x', ts: 1000, merchant: 'm9', name: 'Alice' }],
    );
    expect(sink.deadLetters.map((d) => d.raw)).toEqual([{ id: 'x', merchant: 'm9' }]);
  });

  it('a table that cannot be loaded stops the start with VIGIE_ERR_TABLE, naming the table and the file', async () => {
    const text = configText('  - { name: gone, type: file, path: nowhere.csv, key: id }', pipeline('p', '{ table: gone, on: merchant }'));
    const err = await replay(text, events()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VigieError);
    expect((err as VigieError).code).toBe('VIGIE_ERR_TABLE');
    expect((err as VigieError).message).toMatch(/table "gone": cannot read .*nowhere\.csv: ENOENT/);
  });
});

describe('enrich: validation', () => {
  const problems = (tables: string, pipelines: string, sources = '[{ name: pay, type: stdin, fields: { amount: number } }]') =>
    validateConfigText(configText(tables, pipelines).replace('[{ name: pay, type: stdin }]', sources), 'v.yaml').problems.map((p) => `${p.path}: ${p.message}`);
  const T = '  - { name: merchants, type: file, path: m.csv, key: id }';

  it('an unknown table is refused with a suggestion', () => {
    expect(problems(T, pipeline('p', '{ table: merchant, on: merchant }'))).toEqual([
      'pipelines[0].enrich[0].table: unknown table "merchant" (did you mean "merchants"? tables declared: merchants)',
    ]);
    expect(problems('  []', pipeline('p', '{ table: merchants, on: merchant }'))).toEqual([
      'pipelines[0].enrich[0].table: unknown table "merchants" (tables declared: none (add a `tables:` section))',
    ]);
  });

  it('clashes with event fields are refused unless overwrite; duplicate table names; purpose fields must list `on`', () => {
    expect(problems(T, pipeline('p', '{ table: merchants, on: merchant, prefix: "" }'))).toEqual([
      'pipelines[0].enrich[0].prefix: an empty prefix copies every row field under its own name, which may replace event fields: list the `fields` to copy, set a prefix, or set `overwrite: true`',
    ]);
    expect(problems(T, pipeline('p', '{ table: merchants, on: merchant, prefix: "", fields: [amount] }'))).toEqual([
      'pipelines[0].enrich[0].fields: enriched field "amount" is a field of the events read: choose another prefix, or set `overwrite: true` to replace it',
    ]);
    expect(problems(T, pipeline('p', '{ table: merchants, on: merchant, prefix: "", fields: [amount], overwrite: true }'))).toEqual([]);
    expect(problems(T, pipeline('p', '{ table: merchants, on: merchant }, { table: merchants, on: merchant2 }'))).toEqual([
      'pipelines[0].enrich[1].prefix: enrich #2 writes the same fields as enrich #1: give one of them another prefix, or set `overwrite: true`',
    ]);
    expect(problems(`${T}\n${T}`, pipeline('p', '{ table: merchants, on: merchant }'))).toEqual(['tables[1].name: duplicate table name "merchants"']);
    const purpose = `
  - name: p
    key: id
    fields: [id, merchants.risk]
    enrich: [{ table: merchants, on: merchant }]
    where: { merchants.region: north }
    window: { type: tumbling, size: 1 }
    aggregates: [{ name: risk, fn: last, field: merchants.risk }]`;
    expect(problems(T, purpose)).toEqual([
      'pipelines[0].enrich[0].on: field "merchant" is not among the fields this pipeline declares for its purpose: add it to `fields`',
      'pipelines[0].where.merchants.region: field "merchants.region" is not among the fields this pipeline declares for its purpose (did you mean "merchants.risk"? declared: id, merchants.risk)',
    ]);
  });

  it('table options are checked by the schema (format from the extension)', () => {
    expect(problems('  - { name: m, type: file, path: m.xlsx, key: id }', pipeline('p', '{ table: m, on: merchant }'))[0]).toMatch(/tables\[0\]\.path: the extension says the format/);
  });
});

/** A live source: one batch, then (once `release` resolves) another, then the end. */
function twoPhaseSource(release: Promise<void>): Source {
  return {
    name: 'pay',
    type: 'test',
    format: 'object',
    mapping: mappingSchema.parse({}),
    partitions: () => [0],
    async *batches(): AsyncGenerator<RawBatch> {
      yield { partition: 0, records: [{ offset: 1, data: { id: 'a', ts: 1000, merchant: 'm1' } }], end: false };
      await release;
      yield { partition: 0, records: [{ offset: 2, data: { id: 'b', ts: 2000, merchant: 'm1' } }], end: false };
      yield { partition: 0, records: [{ offset: 3, data: { id: 'c', ts: 3000, merchant: 'm1' } }], end: true };
    },
    async close() {},
  };
}

describe('enrich: a file table reloads when it changes (live)', () => {
  it('a good rewrite is picked up; a broken one keeps the previous rows and is counted', async () => {
    const path = join(dir, 'live.csv');
    writeFileSync(path, 'id,risk\nm1,0.1\n');
    const text = configText('  - { name: merchants, type: file, path: live.csv, key: id, fields: { risk: number }, poll: 20ms, debounce: 10ms }', pipeline('p', '{ table: merchants, on: merchant }'));
    const file = join(dir, 'live.yaml');
    writeFileSync(file, text);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const sink = collectSink();
    const metrics = new EngineMetrics(false);
    const engine = new Engine({ loaded: parseConfig(text, file), mode: 'live', sources: [twoPhaseSource(gate)], sinks: [sink], metrics });
    const done = engine.run();
    const metric = async (re: RegExp) => {
      for (let i = 0; i < 200; i++) {
        const m = re.exec(await metrics.text());
        if (m) return m;
        await sleep(20);
      }
      throw new Error(`metric ${re} never seen`);
    };
    await metric(/vigie_table_rows\{table="merchants"\} 1/);
    await sleep(100);
    writeFileSync(path, 'id,risk\nm1,0.7\nm2,0.2\n');
    await metric(/vigie_table_rows\{table="merchants"\} 2/);
    // A half-written file (an open quote): refused, the rows stay.
    writeFileSync(path, 'id,risk\nm1,"0.3\n');
    await metric(/vigie_table_reload_failures_total\{table="merchants"\} 1/);
    release();
    const summary = await done;
    const risk = Object.fromEntries(sink.results.map((r) => [r.key, r.values.risk]));
    expect(risk).toEqual({ a: 0.1, b: 0.7, c: 0.7 });
    expect(summary.pipelines.p).toMatchObject({ enriched: 3, missingRows: 0 });
  }, 20_000);
});

describe('vigie validate (the command)', () => {
  it('refuses an unknown table name with a suggestion, at its line, exit code 2', async () => {
    const { tempDir, vigie } = await import('../helpers/cli.js');
    const file = join(tempDir(), 'tables.yaml');
    writeFileSync(
      file,
      [
        'sources: [{ name: pay, type: stdin }]',
        'tables: [{ name: merchants, type: file, path: m.csv, key: id }]',
        'pipelines:',
        '  - name: p',
        '    key: id',
        '    enrich: [{ table: merchnats, on: merchant }]',
        '    window: { type: tumbling, size: 1s }',
        '    aggregates: [{ name: n, fn: count }]',
        '',
      ].join('\n'),
    );
    const r = vigie(['validate', '-c', file]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${file}:6:23: pipelines[0].enrich[0].table: unknown table "merchnats" (did you mean "merchants"? tables declared: merchants)`);
  });
});

describe('enrich and hot reload', () => {
  it('a reload may add `enrich` to pipelines; a change to `tables` needs a restart', async () => {
    writeFileSync(join(dir, 'reload.csv'), 'id,risk\nm1,0.4\n');
    writeFileSync(join(dir, 'other.csv'), 'id,risk\nm1,0.8\n');
    const table = (path: string) => `  - { name: merchants, type: file, path: ${path}, key: id, fields: { risk: number } }`;
    const plain = `
  - name: p
    key: id
    window: { type: tumbling, size: 1 }
    aggregates: [{ name: n, fn: count }]`;
    const file = join(dir, 'reload.yaml');
    const v1 = configText(table('reload.csv'), plain);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const sink = collectSink();
    const engine = new Engine({ loaded: parseConfig(v1, file), mode: 'live', sources: [twoPhaseSource(gate)], sinks: [sink] });
    const done = engine.run();
    await sleep(200);
    const other = await engine.reload(parseConfig(configText(table('other.csv'), plain), file), 'api');
    expect(other).toMatchObject({ applied: false, errors: ['changes to tables need a restart (only pipelines can be reloaded)'] });
    const r = await engine.reload(parseConfig(configText(table('reload.csv'), plain + pipeline('q', '{ table: merchants, on: merchant }')), file), 'api');
    expect(r).toMatchObject({ applied: true, pipelines: { added: ['q'], unchanged: ['p'] } });
    release();
    const summary = await done;
    expect(Object.fromEntries(sink.results.filter((x) => x.pipeline === 'q').map((x) => [x.key, x.values.risk]))).toEqual({ b: 0.4, c: 0.4 });
    expect(summary.pipelines.q).toMatchObject({ enriched: 2, missingRows: 0 });
  }, 20_000);
});
