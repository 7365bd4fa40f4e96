import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { memorySource } from '../../src/sources/memory.js';
import { collectSink, config } from '../helpers/collect.js';

const CFG = `
time: { maxOutOfOrderness: 0 }
sources: [{ name: in, type: stdin, fields: { amount: number }, maxEventBytes: 200 }]
pipelines:
  - name: per-card
    where: { type: payment }
    key: card
    window: { type: tumbling, size: 1m }
    aggregates: [{ name: n, fn: count }, { name: total, fn: sum, field: amount }]
sinks: [{ name: c, type: console }]
metrics: { enabled: false }
`;

const T0 = Date.parse('2026-01-01T00:00:00Z');
const ok = (i: number, extra: object = {}) => JSON.stringify({ id: `e${i}`, ts: T0 + i * 1000, type: 'payment', card: `c${i % 3}`, amount: 10, ...extra });

describe('dead letters (rule 14) and counting (rule 15)', () => {
  it('sends every kind of bad input to the dead-letter output with its reason, and keeps going', async () => {
    const lines = [
      ok(1),
      '{"ts": 1, "card": ',                                   // parse_error
      '[1,2,3]',                                              // not_an_object
      '42',                                                   // not_an_object
      JSON.stringify({ id: 'no-ts', type: 'payment', card: 'c1' }), // bad_timestamp (missing)
      JSON.stringify({ id: 'bad-ts', ts: 'yesterday', type: 'payment', card: 'c1' }), // bad_timestamp
      JSON.stringify({ id: 'nan-ts', ts: 'NaN', type: 'payment', card: 'c1' }), // bad_timestamp
      ok(2, { amount: 'ten' }),                               // schema
      JSON.stringify({ id: 'big', ts: T0, card: 'c1', pad: 'x'.repeat(300) }), // too_large
      ok(3, { card: undefined }),                             // missing_key
      ok(4, { card: { nested: true } }),                      // missing_key
      ok(5, { type: 'login' }),                               // filtered, not dead-lettered
      ok(200),                                                // moves W past the first window
      ok(6),                                                  // late: its window [0,60s) closed
      ok(201),
    ];
    const sink = collectSink();
    const engine = new Engine({ loaded: config(CFG), mode: 'replay', sources: [memorySource(lines, { name: 'in', batchSize: 4, mapping: { fields: { amount: 'number' }, maxEventBytes: 200 } })], sinks: [sink] });
    const summary = await engine.run();

    const reasons = sink.deadLetters.map((d) => d.reason);
    expect(reasons.filter((r) => r === 'parse_error')).toHaveLength(1);
    expect(reasons.filter((r) => r === 'not_an_object')).toHaveLength(2);
    expect(reasons.filter((r) => r === 'bad_timestamp')).toHaveLength(3);
    expect(reasons.filter((r) => r === 'schema')).toHaveLength(1);
    expect(reasons.filter((r) => r === 'too_large')).toHaveLength(1);
    expect(reasons.filter((r) => r === 'missing_key')).toHaveLength(2);
    expect(reasons.filter((r) => r === 'late')).toHaveLength(1);
    expect(sink.deadLetters).toHaveLength(11);

    // Each dead letter says where it came from and keeps the input.
    const parse = sink.deadLetters.find((d) => d.reason === 'parse_error')!;
    expect(parse.offset).toBe(2);
    expect(parse.raw).toBe('{"ts": 1, "card": ');
    expect(parse.detail).toMatch(/invalid JSON/);
    const late = sink.deadLetters.find((d) => d.reason === 'late')!;
    expect(late.pipeline).toBe('per-card');
    expect((late.raw as { id: string }).id).toBe('e6');
    expect(sink.deadLetters.find((d) => d.reason === 'schema')!.detail).toMatch(/amount.*expected number/);

    // Counting: in = events + dead-lettered at ingestion; routed = processed + filtered + late + missing key.
    const src = summary.sources.in;
    const ingestDead = Object.values(src.deadLettered).reduce((a, b) => a + (b ?? 0), 0);
    expect(src.in).toBe(lines.length);
    expect(src.in).toBe(src.events + ingestDead);
    const p = summary.pipelines['per-card'];
    expect(p.processed + p.filtered + p.late + p.missingKey).toBe(src.events);
    expect(p.filtered).toBe(1);
    expect(summary.deadLetters.total).toBe(11);

    // The pipeline kept going: good events after the bad ones made it into results.
    const total = sink.results.reduce((n, r) => n + r.count, 0);
    expect(total).toBe(p.processed);
    expect(sink.results.some((r) => r.evidence.includes('e201'))).toBe(true);
  });

  it('dead-letters undecodable MessagePack and non-object values', async () => {
    const { pack } = await import('msgpackr');
    const good = pack({ id: 'm1', ts: T0, type: 'payment', card: 'c1', amount: 1 });
    const records = [good, pack([1, 2]), good.subarray(0, 6), pack('text'), Uint8Array.from([0xc1])];
    const sink = collectSink();
    const engine = new Engine({ loaded: config(CFG), mode: 'replay', sources: [memorySource(records, { name: 'in' })], sinks: [sink] });
    const summary = await engine.run();
    expect(sink.deadLetters.map((d) => d.reason).sort()).toEqual(['not_an_object', 'not_an_object', 'not_an_object', 'parse_error']);
    expect(sink.deadLetters.find((d) => d.reason === 'parse_error')!.raw).toEqual({ base64: Buffer.from(good.subarray(0, 6)).toString('base64') });
    expect(summary.sources.in.events).toBe(1);
    expect(sink.results).toHaveLength(1);
  });
});

describe('durable positions', () => {
  it('advance only after the sinks acknowledged the batch that covers them', async () => {
    // One event per minute: each event closes the previous window, so every batch has results.
    const lines = Array.from({ length: 10 }, (_, i) => JSON.stringify({ id: `e${i}`, ts: T0 + i * 60_000, type: 'payment', card: 'c', amount: 1 }));
    const atWrite: Array<number | undefined> = [];
    let engine: Engine;
    const sink = { ...collectSink(), write: async () => void atWrite.push(engine.durablePositions.get(0)) };
    engine = new Engine({ loaded: config(CFG), mode: 'replay', sources: [memorySource(lines, { name: 'in', batchSize: 5 })], sinks: [sink] });
    await engine.run();
    expect(atWrite).toEqual([undefined, 5, 10]);
    expect(engine.durablePositions.get(0)).toBe(10);
  });
});
