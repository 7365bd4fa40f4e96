import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { Packr, Unpackr, pack } from 'msgpackr';
import { readMessagePackBatches } from '../../src/sources/msgpack-frames.js';
import type { RawRecord } from '../../src/sources/types.js';

const dir = mkdtempSync(join(tmpdir(), 'vigie-frames-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
async function frames(bytes: Uint8Array, maxBytes: number, chunkBytes: number): Promise<RawRecord[]> {
  const path = join(dir, `f${n++}.msgpack`);
  writeFileSync(path, bytes);
  const fh = await open(path);
  try {
    const out: RawRecord[] = [];
    for await (const b of readMessagePackBatches(fh, 4, maxBytes, chunkBytes)) {
      expect(b.length).toBeGreaterThan(0);
      expect(b.length).toBeLessThanOrEqual(4);
      out.push(...b);
    }
    return out;
  } finally {
    await fh.close();
  }
}

/** Byte ranges of the top-level values, as msgpackr's own decoder finds them. */
function decoderRanges(buf: Buffer): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  if (buf.length === 0) return ranges;
  new Unpackr({ mapsAsObjects: true, useRecords: false }).unpackMultiple(buf, (_v: unknown, start?: number, end?: number) => {
    ranges.push([start as number, end as number]);
  });
  return ranges;
}

const packr = new Packr({ useRecords: false });
const CHUNKS = [1, 2, 3, 5, 9, 17, 64, 1 << 16];

describe('MessagePack framing', () => {
  it('cuts a file into the values a decoder finds, whatever the read size', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.anything({ withMap: false, withSet: false, withBigInt: false, withDate: true, withTypedArray: true }), { minLength: 0, maxLength: 8 }), fc.constantFrom(...CHUNKS), async (values, chunk) => {
        const parts = values.map((v) => packr.pack(v));
        const buf = Buffer.concat(parts);
        const ranges = decoderRanges(buf);
        const recs = await frames(buf, 1 << 20, chunk);
        expect(recs.map((r) => r.offset)).toEqual(ranges.map((_, i) => i + 1));
        expect(recs.map((r) => Buffer.from(r.data as Uint8Array))).toEqual(ranges.map(([s, e]) => buf.subarray(s, e)));
      }),
      { numRuns: 200 },
    );
  });

  it('each record is its own copy: the read buffer is reused', async () => {
    const values = Array.from({ length: 50 }, (_, i) => ({ i, s: 'v'.repeat(i * 3) }));
    const recs = await frames(Buffer.concat(values.map((v) => pack(v))), 1 << 20, 7);
    expect(recs.map((r) => new Unpackr({ useRecords: false, mapsAsObjects: true }).unpack(r.data as Uint8Array))).toEqual(values);
  });

  it('a record over the bound becomes its first bytes and its size, even one made of many small values', async () => {
    const many = pack(Array.from({ length: 1000 }, (_, i) => `s${i}`));
    const long = pack({ s: 'é'.repeat(300) });
    const buf = Buffer.concat([pack({ a: 1 }), many, pack({ b: 2 }), long, pack({ c: 3 })]);
    for (const chunk of CHUNKS) {
      const recs = await frames(buf, 100, chunk);
      expect(recs.map((r) => r.offset)).toEqual([1, 2, 3, 4, 5]);
      expect(recs[1]).toEqual({ offset: 2, data: many.subarray(0, 100), size: many.length });
      expect(recs[3]).toEqual({ offset: 4, data: long.subarray(0, 100), size: long.length });
      expect(Buffer.from(recs[4].data as Uint8Array)).toEqual(pack({ c: 3 }));
    }
  });

  it('a value exactly at the bound is kept whole', async () => {
    const v = pack('x'.repeat(95)); // 2-byte header + 95
    expect(v.length).toBe(97);
    const recs = await frames(Buffer.concat([v, v]), 97, 5);
    expect(recs.map((r) => [r.offset, (r.data as Uint8Array).length, r.size])).toEqual([
      [1, 97, undefined],
      [2, 97, undefined],
    ]);
  });

  it('after a truncated value, the rest of the file is one record', async () => {
    const good = pack({ a: 1 });
    const cut = Buffer.concat([good, pack({ s: 'long enough' }).subarray(0, 6)]);
    expect((await frames(cut, 1000, 3)).map((r) => Buffer.from(r.data as Uint8Array))).toEqual([good, cut.subarray(good.length)]);
    // A string claiming more bytes than the file has left.
    const claim = Buffer.concat([good, Buffer.from([0xdb, 0x00, 0x00, 0x03, 0xe8]), Buffer.alloc(500, 0x61), good]);
    expect((await frames(claim, 1000, 64)).map((r) => Buffer.from(r.data as Uint8Array))).toEqual([good, claim.subarray(good.length)]);
    // A rest longer than the bound: its first bytes and its size, like any record over the bound.
    const recs = await frames(claim, 100, 64);
    expect(recs[1]).toEqual({ offset: 2, data: claim.subarray(good.length, good.length + 100), size: claim.length - good.length });
  });

  it('the unused type byte 0xc1 is a value of one byte, as the decoder reads it', async () => {
    const good = pack({ a: 1 });
    const buf = Buffer.concat([good, Buffer.from([0xc1]), good]);
    expect((await frames(buf, 1000, 2)).map((r) => Buffer.from(r.data as Uint8Array))).toEqual([good, Buffer.from([0xc1]), good]);
  });

  it('an empty file has no records', async () => {
    expect(await frames(Buffer.alloc(0), 100, 8)).toEqual([]);
  });
});
