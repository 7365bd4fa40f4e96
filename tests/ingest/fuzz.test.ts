/**
 * Fuzzing the ingestion boundary: whatever producers send, the Ingestor (and the engine around it)
 * never crashes nor hangs, turns every record into exactly one event, one dead letter (with a reason
 * from DEAD_LETTER_REASONS) or one counted duplicate, and never lets a payload touch Object.prototype.
 */
import fc from 'fast-check';
import { pack } from 'msgpackr';
import { afterAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { Ingestor, MAX_EVENT_TIME, MAX_PAYLOAD_DEPTH, MIN_EVENT_TIME } from '../../src/ingest/ingestor.js';
import { mappingSchema, type Mapping } from '../../src/sources/mapping.js';
import { memorySource } from '../../src/sources/memory.js';
import type { RecordFormat } from '../../src/sources/types.js';
import { DEAD_LETTER_REASONS, type DeadLetter, type VEvent } from '../../src/types.js';
import { collectSink, config } from '../helpers/collect.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const MAX_BYTES = 4096;
const RUNS = { numRuns: 300, seed: 20261130 };
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

afterAll(() => {
  // Nothing leaked into the shared prototypes.
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).toBe(false);
});

function mapping(extra: Record<string, unknown> = {}): Mapping {
  return mappingSchema.parse({ fields: { amount: 'number', n: 'integer', flag: 'boolean', name: 'string' }, maxEventBytes: MAX_BYTES, ...extra });
}

type Outcome = { kind: 'event'; event: VEvent } | { kind: 'dead'; dl: DeadLetter } | { kind: 'duplicate' };

/** Ingest one record and check the invariants that hold for any input. */
function ingestOne(ing: Ingestor, data: string | Uint8Array | object, offset = 1): Outcome {
  const dead: DeadLetter[] = [];
  const e = ing.ingest({ offset, data }, 0, T0, dead);
  const dups = ing.takeDuplicates();
  // Exactly one outcome.
  expect((e ? 1 : 0) + dead.length + dups).toBe(1);
  if (e) {
    expect(Number.isInteger(e.time)).toBe(true);
    expect(e.time).toBeGreaterThanOrEqual(MIN_EVENT_TIME);
    expect(e.time).toBeLessThanOrEqual(MAX_EVENT_TIME);
    expect(e.offset).toBe(offset);
    expect([Object.prototype, null]).toContain(Object.getPrototypeOf(e.payload));
    expect(depthAndKeys(e.payload, 1)).toBeLessThanOrEqual(MAX_PAYLOAD_DEPTH);
    // Sinks serialize payloads: that must work (no BigInt, no runaway nesting).
    expect(() => JSON.stringify(e.payload)).not.toThrow();
    return { kind: 'event', event: e };
  }
  if (dead.length === 1) {
    const dl = dead[0];
    expect(DEAD_LETTER_REASONS).toContain(dl.reason);
    expect(dl.detail.length).toBeGreaterThan(0);
    expect(dl.offset).toBe(offset);
    return { kind: 'dead', dl };
  }
  return { kind: 'duplicate' };
}

/** Depth of a value; fails on prototype keys (`__proto__`, or constructor/prototype holding an object) and BigInts. */
function depthAndKeys(v: unknown, depth: number): number {
  if (typeof v === 'bigint') throw new Error('BigInt in payload');
  if (typeof v !== 'object' || v === null || ArrayBuffer.isView(v)) return depth - 1;
  let max = depth;
  for (const k of Object.keys(v)) {
    const x = (v as Record<string, unknown>)[k];
    if (k === '__proto__' || (FORBIDDEN.has(k) && typeof x === 'object' && x !== null)) throw new Error(`forbidden key ${k} in payload`);
    max = Math.max(max, depthAndKeys((v as Record<string, unknown>)[k], depth + 1));
  }
  return max;
}

const ingestors = (m = mapping()): Record<'json' | 'msgpack' | 'object', Ingestor> => ({
  json: new Ingestor('fuzz', 'json' as RecordFormat, m),
  msgpack: new Ingestor('fuzz', 'msgpack' as RecordFormat, m),
  object: new Ingestor('fuzz', 'object' as RecordFormat, m),
});

/** A valid event, to check that the decoder still works after hostile input. */
const GOOD = { id: 'good', ts: T0, amount: 1.5, n: 2, flag: true, name: 'x' };
function stillWorks(ings: Record<'json' | 'msgpack' | 'object', Ingestor>): void {
  const a = ingestOne(ings.json, JSON.stringify(GOOD));
  const b = ingestOne(ings.msgpack, pack(GOOD));
  for (const o of [a, b]) {
    expect(o.kind).toBe('event');
    if (o.kind === 'event') expect(o.event.payload).toEqual(GOOD);
  }
}

const event = fc.record(
  {
    id: fc.oneof(fc.string({ maxLength: 8 }), fc.integer()),
    ts: fc.integer({ min: T0, max: T0 + 86_400_000 }),
    amount: fc.double({ noNaN: true, noDefaultInfinity: true }),
    n: fc.integer(),
    flag: fc.boolean(),
    name: fc.string({ maxLength: 12 }),
    extra: fc.jsonValue({ maxDepth: 3 }),
  },
  { requiredKeys: ['ts'] },
);

describe('fuzzing the ingestor', () => {
  it('random bytes and text: decoded or dead-lettered, never thrown', () => {
    const ings = ingestors();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 300 }), (bytes, text) => {
        for (const o of [ingestOne(ings.msgpack, bytes), ingestOne(ings.json, bytes), ingestOne(ings.json, text)]) {
          if (o.kind === 'dead') expect(['parse_error', 'not_an_object', 'bad_timestamp', 'schema', 'too_large']).toContain(o.dl.reason);
        }
      }),
      RUNS,
    );
    stillWorks(ings);
  });

  it('truncated JSON and MessagePack: parse_error (or a shorter valid value)', () => {
    const ings = ingestors();
    fc.assert(
      fc.property(event, fc.nat(), (e, cut) => {
        const text = JSON.stringify(e);
        const bytes = pack(e);
        const t = ingestOne(ings.json, text.slice(0, cut % text.length));
        // A JSON object cut anywhere before its end is never valid JSON.
        expect(t.kind === 'dead' && t.dl.reason).toBe('parse_error');
        expect(t.kind === 'dead' && t.dl.detail).toMatch(/invalid JSON/);
        const m = ingestOne(ings.msgpack, bytes.subarray(0, cut % bytes.length));
        expect(m.kind).toBe('dead');
        // Whole records go through.
        expect(ingestOne(ings.json, text).kind).toBe('event');
        expect(ingestOne(ings.msgpack, bytes).kind).toBe('event');
      }),
      RUNS,
    );
    stillWorks(ings);
  });

  it('wrong types: not_an_object for non-objects, schema for declared fields of another type', () => {
    const ings = ingestors();
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 3 }), fc.constantFrom('amount', 'n', 'flag', 'name'), fc.jsonValue({ maxDepth: 2 }), (v, field, fv) => {
        const top = ingestOne(ings.json, JSON.stringify(v));
        if (typeof v !== 'object' || v === null || Array.isArray(v)) expect(top.kind === 'dead' && top.dl.reason).toBe('not_an_object');
        const ok =
          fv === null ||
          (field === 'amount' && typeof fv === 'number') ||
          (field === 'n' && Number.isInteger(fv)) ||
          (field === 'flag' && typeof fv === 'boolean') ||
          (field === 'name' && typeof fv === 'string');
        for (const o of [ingestOne(ings.json, JSON.stringify({ ts: T0, [field]: fv })), ingestOne(ings.msgpack, pack({ ts: T0, [field]: fv })), ingestOne(ings.object, { ts: T0, [field]: fv })]) {
          if (ok) expect(o.kind).toBe('event');
          else {
            expect(o.kind === 'dead' && o.dl.reason).toBe('schema');
            expect(o.kind === 'dead' && o.dl.detail).toContain(`"${field}"`);
          }
        }
      }),
      RUNS,
    );
  });

  it('timestamps: accepted in years 1970..2199 only, anything else is bad_timestamp', () => {
    const ings = ingestors();
    const ts = fc.oneof(
      fc.double(),
      fc.constantFrom(NaN, Infinity, -Infinity, -1, 0, MAX_EVENT_TIME, MAX_EVENT_TIME + 1, Date.UTC(9999, 0, 1), Number.MAX_SAFE_INTEGER, -Number.MAX_VALUE),
      fc.integer({ min: -1e15, max: 1e15 }),
      fc.date({ min: new Date(Date.UTC(1800, 0, 1)), max: new Date(Date.UTC(3000, 0, 1)), noInvalidDate: true }).map((d) => d.toISOString()),
      fc.string({ maxLength: 10 }),
    );
    fc.assert(
      fc.property(ts, (t) => {
        const expected =
          typeof t === 'number'
            ? Number.isFinite(t) && Math.floor(t) >= MIN_EVENT_TIME && Math.floor(t) <= MAX_EVENT_TIME
              ? Math.floor(t)
              : undefined
            : /^\d{4}-/.test(t) && Date.parse(t) >= MIN_EVENT_TIME && Date.parse(t) <= MAX_EVENT_TIME
              ? Date.parse(t)
              : undefined;
        const outcomes = [ingestOne(ings.msgpack, pack({ id: 'a', ts: t })), ingestOne(ings.object, { id: 'a', ts: t })];
        // JSON has no NaN nor Infinity: they become null, a missing time.
        outcomes.push(ingestOne(ings.json, JSON.stringify({ id: 'a', ts: t })));
        for (const o of outcomes) {
          if (expected === undefined) expect(o.kind === 'dead' && o.dl.reason).toBe('bad_timestamp');
          else expect(o.kind === 'event' && o.event.time).toBe(expected);
        }
      }),
      RUNS,
    );
  });

  it('64-bit integers from MessagePack producers: exact ones are numbers, larger ones text', () => {
    const ings = ingestors(mapping({ fields: {} }));
    // { ts: int64(T0), id: uint64(2^64-1) }, as Go or Java encoders write them.
    const int64 = (tag: number, v: bigint) => {
      const b = Buffer.alloc(9);
      b[0] = tag;
      if (tag === 0xd3) b.writeBigInt64BE(v, 1);
      else b.writeBigUInt64BE(v, 1);
      return b;
    };
    const rec = Buffer.concat([Buffer.from([0x82, 0xa2, 0x74, 0x73]), int64(0xd3, BigInt(T0)), Buffer.from([0xa2, 0x69, 0x64]), int64(0xcf, 2n ** 64n - 1n)]);
    const o = ingestOne(ings.msgpack, rec);
    expect(o.kind).toBe('event');
    if (o.kind === 'event') {
      expect(o.event.time).toBe(T0);
      expect(o.event.id).toBe('18446744073709551615');
    }
  });

  it('huge records: too_large beyond maxEventBytes, in any format', () => {
    const ings = ingestors();
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 * MAX_BYTES }), fc.constantFrom('x', 'é', '€', '😀'), (n, ch) => {
        const e = { id: 'big', ts: T0, name: ch.repeat(n) };
        const text = JSON.stringify(e);
        const bytes = pack(e);
        const t = ingestOne(ings.json, text);
        expect(t.kind === 'dead' && t.dl.reason === 'too_large').toBe(Buffer.byteLength(text) > MAX_BYTES);
        const b = ingestOne(ings.json, Buffer.from(text));
        expect(b.kind === 'dead' && b.dl.reason === 'too_large').toBe(Buffer.byteLength(text) > MAX_BYTES);
        const m = ingestOne(ings.msgpack, bytes);
        expect(m.kind === 'dead' && m.dl.reason === 'too_large').toBe(bytes.byteLength > MAX_BYTES);
      }),
      { numRuns: 100, seed: RUNS.seed },
    );
  });

  it('deep nesting: refused with a clear detail, without exhausting the stack', () => {
    const big = mapping({ maxEventBytes: 8 * 1024 * 1024 });
    const ings = ingestors(big);
    const nested = (d: number, arr: boolean): string => (arr ? '['.repeat(d) + ']'.repeat(d) : '{"a":'.repeat(d) + '1' + '}'.repeat(d));
    const mpNested = (d: number): Uint8Array => {
      // fixmap { a: fixmap { a: ... 1 } }
      const b = Buffer.alloc(d * 3 + 1);
      for (let i = 0; i < d; i++) b.set([0x81, 0xa1, 0x61], i * 3);
      b[d * 3] = 0x01;
      return b;
    };
    for (const d of [MAX_PAYLOAD_DEPTH - 1, MAX_PAYLOAD_DEPTH, MAX_PAYLOAD_DEPTH + 1, 1000, 100_000, 1_000_000]) {
      for (const arr of [true, false]) {
        const text = `{"id":"deep","ts":${T0},"x":${nested(d, arr)}}`;
        const o = ingestOne(ings.json, text);
        // The event is level 1, "x" holds level 2.
        if (d + 1 <= MAX_PAYLOAD_DEPTH) expect(o.kind).toBe('event');
        else {
          expect(o.kind === 'dead' && o.dl.reason).toBe('schema');
          expect(o.kind === 'dead' && o.dl.detail).toBe(`nested deeper than ${MAX_PAYLOAD_DEPTH} levels`);
        }
      }
      const m = ingestOne(ings.msgpack, Buffer.concat([Buffer.from([0x83, 0xa2, 0x69, 0x64, 0xa1, 0x64, 0xa2, 0x74, 0x73]), pack(T0), Buffer.from([0xa1, 0x78]), mpNested(d)]));
      if (d + 1 <= MAX_PAYLOAD_DEPTH) expect(m.kind).toBe('event');
      else {
        expect(m.kind).toBe('dead');
        if (m.kind === 'dead') expect(`${m.dl.reason}: ${m.dl.detail}`).toMatch(/^schema: nested deeper than|^parse_error: invalid MessagePack: nested too deeply/);
      }
      stillWorks(ings);
    }
  });

  it('prototype keys: never reach Object.prototype nor lookups', () => {
    const ings = ingestors();
    const key = fc.constantFrom('__proto__', 'constructor', 'prototype');
    const path = fc.array(fc.oneof(key, fc.constantFrom('a', 'b', 'polluted')), { minLength: 1, maxLength: 4 });
    fc.assert(
      fc.property(path, fc.boolean(), (keys, top) => {
        // {"k1":{"k2":{..."polluted":true}}} built as text: JSON.parse makes "__proto__" an own key.
        let inner = '{"polluted":true,"toString":1}';
        for (let i = keys.length - 1; i >= 0; i--) inner = `{${JSON.stringify(keys[i])}:${inner}}`;
        const text = top ? inner.replace(/^\{/, `{"ts":${T0},`) : `{"ts":${T0},"x":${inner}}`;
        const bad = keys.some((k) => FORBIDDEN.has(k));
        const o = ingestOne(ings.json, text);
        if (bad) {
          expect(o.kind === 'dead' && o.dl.reason).toBe('schema');
          expect(o.kind === 'dead' && o.dl.detail).toMatch(/^forbidden key "(__proto__|constructor|prototype)"$/);
        } else expect(o.kind).toBe('event');
        // MessagePack: msgpackr renames "__proto__"; other prototype keys are refused like in JSON.
        const obj = JSON.parse(text);
        const m = ingestOne(ings.msgpack, pack(obj));
        if (m.kind === 'dead') expect(m.dl.reason).toBe('schema');
        // Objects given directly (memory sources) are checked too.
        const d = ingestOne(ings.object, obj);
        expect(d.kind === 'dead' ? d.dl.reason : 'event').toBe(bad ? 'schema' : 'event');
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      RUNS,
    );
    // A plain value under "constructor" or "prototype" is data, not a pollution attempt.
    const plain = ingestOne(ings.json, `{"ts":${T0},"constructor":"ACME builders","prototype":3,"x":{"constructor":null}}`);
    expect(plain.kind).toBe('event');
    if (plain.kind === 'event') expect(plain.event.payload).toMatchObject({ constructor: 'ACME builders', prototype: 3 });
    expect(ingestOne(ings.json, `{"ts":${T0},"x":{"constructor":[1]}}`).kind).toBe('dead');
    expect(ingestOne(ings.json, `{"ts":${T0},"__proto__":"x"}`).kind).toBe('dead');
    // The mapped id and time fields cannot be prototype lookups either.
    const m = new Ingestor('fuzz', 'json', mappingSchema.parse({ id: 'constructor', fields: { toString: 'string', valueOf: 'number' } }));
    const o = ingestOne(m, `{"ts":${T0}}`);
    expect(o.kind === 'event' && o.event.id).toBeUndefined();
    const t = ingestOne(new Ingestor('fuzz', 'json', mappingSchema.parse({ time: { field: 'hasOwnProperty' } })), `{"ts":${T0}}`);
    expect(t.kind === 'dead' && t.dl.detail).toBe('field "hasOwnProperty": missing');
    stillWorks(ings);
  });
});

describe('fuzzing a replay', () => {
  const CFG = `
time: { maxOutOfOrderness: 1m }
sources: [{ name: in, type: stdin }]
pipelines:
  - name: per-user
    key: user
    window: { type: tumbling, size: 1m }
    aggregates: [{ name: n, fn: count }, { name: total, fn: sum, field: amount }]
  - name: burst
    key: user
    detectors: [{ name: v, type: velocity, lookback: 1m, value: 3 }]
sinks: [{ name: c, type: console }]
metrics: { enabled: false }
`;
  const good = fc.record({
    id: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'),
    ts: fc.integer({ min: T0, max: T0 + 600_000 }),
    user: fc.constantFrom('u1', 'u2'),
    amount: fc.integer({ min: 0, max: 100 }),
  });
  const line = fc.oneof(
    { weight: 4, arbitrary: good.map((e) => JSON.stringify(e)) },
    { weight: 1, arbitrary: good.chain((e) => fc.nat().map((n) => JSON.stringify(e).slice(0, n % 20))) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v) ?? 'null') },
    { weight: 1, arbitrary: good.map((e) => JSON.stringify({ ...e, ts: -e.ts })) },
    { weight: 1, arbitrary: good.map((e) => JSON.stringify({ ...e, amount: 'x'.repeat(3000) })) },
    { weight: 1, arbitrary: good.map((e) => `{"__proto__":{"polluted":1},"id":"${e.id}","ts":${e.ts},"user":"u1"}`) },
    { weight: 1, arbitrary: good.map((e) => JSON.stringify({ ...e, x: JSON.parse('['.repeat(200) + ']'.repeat(200)) })) },
  );

  it('never crashes; counters add up per source (in = events + dead-lettered + duplicates)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(line, { maxLength: 120 }), fc.integer({ min: 1, max: 40 }), async (lines, batchSize) => {
        const sink = collectSink();
        const src = memorySource(lines, { name: 'in', batchSize, mapping: { fields: { amount: 'number' }, maxEventBytes: 2048, dedup: { horizon: 300_000, maxIds: 4 } } });
        const summary = await new Engine({ loaded: config(CFG), mode: 'replay', sources: [src], sinks: [sink] }).run();
        const s = summary.sources.in;
        const dead = Object.values(s.deadLettered).reduce((a, b) => a + (b ?? 0), 0);
        expect(s.in).toBe(lines.length);
        expect(s.in).toBe(s.events + dead + (s.duplicates ?? 0));
        for (const dl of sink.deadLetters) expect(DEAD_LETTER_REASONS).toContain(dl.reason);
        expect(sink.deadLetters.filter((d) => d.pipeline === undefined)).toHaveLength(dead);
        for (const p of Object.values(summary.pipelines)) expect(p.processed + p.filtered + p.late + p.missingKey).toBe(s.events);
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      { numRuns: 40, seed: RUNS.seed },
    );
  });

  it('MessagePack bytes, the same', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(good.map((e) => pack(e)), fc.uint8Array({ maxLength: 40 }), good.map((e) => pack(e).subarray(0, 7))), { maxLength: 80 }), async (records) => {
        const sink = collectSink();
        const summary = await new Engine({ loaded: config(CFG), mode: 'replay', sources: [memorySource([pack({ id: 'first', ts: T0, user: 'u1', amount: 1 }), ...records], { name: 'in', batchSize: 7 })], sinks: [sink] }).run();
        const s = summary.sources.in;
        const dead = Object.values(s.deadLettered).reduce((a, b) => a + (b ?? 0), 0);
        expect(s.in).toBe(records.length + 1);
        expect(s.in).toBe(s.events + dead);
      }),
      { numRuns: 30, seed: RUNS.seed },
    );
  });
});
