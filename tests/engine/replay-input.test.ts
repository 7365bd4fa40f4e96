import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { VigieError } from '../../src/errors.js';
import { mappingSchema, mappingShape } from '../../src/sources/mapping.js';
import { assignReplayInputs, inputFileSource, parseReplayInput, replaySources } from '../../src/sources/replay-input.js';
import { capturedLogger } from '../helpers/capture.js';
import { tempDir } from '../helpers/cli.js';
import { collectSink, config } from '../helpers/collect.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');

const PIPELINES = `
pipelines:
  - name: p
    sources: [payments]
    key: card
    window: { type: tumbling, size: 1m }
    aggregates: [{ name: n, fn: count }]
  - name: q
    sources: [telemetry]
    key: service
    window: { type: tumbling, size: 1m }
    aggregates: [{ name: n, fn: count }]
sinks: [{ name: c, type: console }]
`;

/** A source that sets every mapping option to something other than its default. */
const MAPPED = config(`
sources:
  - name: payments
    type: stdin
    time: { field: when, format: s }
    processingTime: true
    id: ref
    fields: { amount: number, card: string }
    maxEventBytes: 500
    dedup: { horizon: 1h, maxIds: 7 }
    rename: { cust_id: customer }
    derive: { person: { concat: [country, nid] } }
    defaults: { channel: web }
    required: [customer]
  - { name: telemetry, type: stdin }
${PIPELINES}`);

const usageError = (f: () => unknown): VigieError => {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(VigieError);
    expect((err as VigieError).code).toBe('VIGIE_ERR_USAGE');
    return err as VigieError;
  }
  throw new Error('expected a VIGIE_ERR_USAGE error');
};

describe('replay input: the file keeps the settings of the source it replaces', () => {
  it('every mapping option (dedup included) is copied; only the type and path change', () => {
    const src = MAPPED.config.sources[0] as unknown as Record<string, unknown>;
    const defaults = mappingSchema.parse({}) as Record<string, unknown>;
    // The fixture must exercise every option: one added to mappingShape without a value here fails this line.
    for (const k of Object.keys(mappingShape)) expect(src[k], `fixture sets ${k}`).not.toEqual(defaults[k]);
    for (const [file, type] of [['/d/x.ndjson', 'ndjson-file'], ['/d/x.msgpackr', 'msgpack-file']] as const) {
      const out = inputFileSource(file, MAPPED.config.sources[0]) as unknown as Record<string, unknown>;
      for (const k of Object.keys(mappingShape)) expect(out[k], k).toEqual(src[k]);
      expect(out).toMatchObject({ name: 'payments', type, path: file });
    }
  });

  it('a replay through an input file de-duplicates as the configured source does', async () => {
    const dir = tempDir();
    const lines = [0, 1, 2, 1, 3, 2].map((i) => JSON.stringify({ id: `e${i}`, ts: T0 + i * 1000, card: 'c1' }));
    const file = join(dir, 'p.ndjson');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const yaml = (path: string) => `
sources:
  - { name: payments, type: ndjson-file, path: ${path}, dedup: { horizon: 1h } }
  - { name: telemetry, type: ndjson-file, path: ${join(dir, 't.ndjson')} }
${PIPELINES}`;
    writeFileSync(join(dir, 't.ndjson'), `${JSON.stringify({ ts: T0, service: 's' })}\n`);
    const configured = await new Engine({ loaded: config(yaml(file)), mode: 'replay', sinks: [collectSink()] }).run();
    const fromInput = await new Engine({ loaded: config(yaml(join(dir, 'elsewhere.ndjson'))), mode: 'replay', sinks: [collectSink()], inputs: [{ source: 'payments', path: file }] }).run();
    expect(configured.sources.payments).toMatchObject({ in: 6, events: 4, duplicates: 2 });
    expect(fromInput.sources).toEqual(configured.sources);
    expect(fromInput.pipelines).toEqual(configured.pipelines);
  });
});

describe('replay input: which source each file replaces', () => {
  it('reads NAME=FILE as a named input, and a prefix with a path separator as part of a path', () => {
    expect(parseReplayInput('payments=a.ndjson')).toEqual({ source: 'payments', path: 'a.ndjson' });
    expect(parseReplayInput('a.ndjson')).toEqual({ path: 'a.ndjson' });
    expect(parseReplayInput('./a=b.ndjson')).toEqual({ path: './a=b.ndjson' });
    expect(parseReplayInput('data/x=1.ndjson')).toEqual({ path: 'data/x=1.ndjson' });
    expect(parseReplayInput('=x.ndjson')).toEqual({ path: '=x.ndjson' });
  });

  it('a bare file replaces the only source; with several sources it is a usage error naming them', () => {
    const one = config(`sources: [{ name: in, type: stdin }]\npipelines: [{ name: p, key: k, window: { type: tumbling, size: 1m }, aggregates: [{ name: n, fn: count }] }]\nsinks: [{ name: c, type: console }]`);
    expect([...assignReplayInputs(one.config.sources, [{ path: 'a.ndjson' }])]).toEqual([['in', 'a.ndjson']]);
    const e = usageError(() => assignReplayInputs(MAPPED.config.sources, [{ path: 'a.ndjson' }]));
    expect(e.message).toContain('"payments", "telemetry"');
    expect(e.message).toContain('--input NAME=FILE');
  });

  it('an unknown name is a usage error with a suggestion; a source given twice too', () => {
    const e = usageError(() => assignReplayInputs(MAPPED.config.sources, [{ source: 'telemetri', path: 't.ndjson' }]));
    expect(e.message).toContain('no source "telemetri"');
    expect(e.message).toContain('did you mean "telemetry"?');
    const twice = usageError(() => assignReplayInputs(MAPPED.config.sources, [{ source: 'telemetry', path: 'a' }, { path: 'b', source: 'telemetry' }]));
    expect(twice.message).toContain('source "telemetry" is given two files');
  });

  it('replaces the named sources in place, makes the others finite, and logs which file replaces which source', () => {
    const loaded = config(`
sources:
  - { name: payments, type: kafka, topics: [p], groupId: g, timestampFrom: record }
  - { name: telemetry, type: generator, scenario: telemetry, realtime: false, events: 10 }
${PIPELINES}`);
    const { logger, text } = capturedLogger();
    const out = replaySources(loaded.config.sources, [{ source: 'payments', path: 'p.ndjson' }], logger);
    expect(out.map((s) => [s.name, s.type])).toEqual([['payments', 'ndjson-file'], ['telemetry', 'generator']]);
    expect(text()).toContain('p.ndjson replaces source \\"payments\\"');
    expect(text()).toContain('\\"telemetry\\" read as configured');
    // A file has no Kafka record timestamp: said, not silently changed.
    expect(text()).toContain('takes event time from the Kafka record timestamp');
    // The Kafka source not replaced never ends: a usage error, as without --input.
    expect(usageError(() => replaySources(loaded.config.sources, [{ source: 'telemetry', path: 't.ndjson' }])).message).toContain('source "payments" is a live kafka source');
  });
});
