import { describe, expect, it } from 'vitest';
import { Ingestor } from '../../src/ingest/ingestor.js';
import { mappingSchema } from '../../src/sources/mapping.js';
import { Pseudonymiser, pseudonymiseSchema } from '../../src/privacy/pseudonymise.js';
import type { RawRecord } from '../../src/sources/types.js';
import type { DeadLetter } from '../../src/types.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');

function deadOf(ing: Ingestor, rec: RawRecord): DeadLetter {
  const dead: DeadLetter[] = [];
  expect(ing.ingest(rec, 0, T0, dead)).toBeUndefined();
  expect(dead).toHaveLength(1);
  return dead[0];
}

describe('records over maxEventBytes', () => {
  const json = new Ingestor('s', 'json', mappingSchema.parse({ maxEventBytes: 1000 }));
  const msgpack = new Ingestor('s', 'msgpack', mappingSchema.parse({ maxEventBytes: 1000 }));

  it('keep only their first 256 bytes and their size, whoever read them whole (Kafka, memory)', () => {
    const text = JSON.stringify({ ts: T0, pad: 'é'.repeat(2000) });
    const dl = deadOf(json, { offset: 7, data: text });
    expect(dl).toMatchObject({ reason: 'too_large', offset: 7, size: Buffer.byteLength(text) });
    expect(Buffer.byteLength(dl.raw as string)).toBeLessThanOrEqual(256);
    expect(text.startsWith(dl.raw as string)).toBe(true);
    // Never half a surrogate pair: a cut emoji is left out, not turned into a replacement character.
    const emoji = deadOf(json, { offset: 1, data: 'a' + '😀'.repeat(1000) }).raw as string;
    expect(emoji).toBe('a' + '😀'.repeat(63));

    const bytes = new Uint8Array(5000).fill(7);
    const b = deadOf(msgpack, { offset: 3, data: bytes });
    expect(b).toMatchObject({ reason: 'too_large', size: 5000 });
    expect(Buffer.from((b.raw as { base64: string }).base64, 'base64')).toEqual(Buffer.alloc(256, 7));
  });

  it('that a source cut short carry the size the source counted', () => {
    const dl = deadOf(json, { offset: 2, data: 'x'.repeat(256), size: 209_715_200 });
    expect(dl).toEqual({ reason: 'too_large', detail: 'record of 209715200 bytes exceeds maxEventBytes 1000', source: 's', partition: 0, offset: 2, raw: 'x'.repeat(256), size: 209_715_200 });
  });

  it('keep at most maxEventBytes when the bound is below 256 bytes', () => {
    const small = new Ingestor('s', 'json', mappingSchema.parse({ maxEventBytes: 10 }));
    expect(deadOf(small, { offset: 1, data: '{"a":"123456789"}' }).raw).toBe('{"a":"1234');
  });

  it('dropped for privacy, keep the size of the record, not of its excerpt', () => {
    const p = new Pseudonymiser(pseudonymiseSchema.parse({ fields: ['customer'], keyEnv: 'K', keyId: 'k1' }), Buffer.from('k'.repeat(40)));
    const dl = deadOf(json, { offset: 1, data: JSON.stringify({ customer: 'C1', pad: 'x'.repeat(5000) }) });
    p.deadLetter(dl);
    expect(dl.raw).toEqual({ dropped: 'privacy', bytes: dl.size });
    expect(dl.size).toBeGreaterThan(5000);
  });
});
