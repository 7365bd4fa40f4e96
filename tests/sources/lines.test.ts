import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { Engine } from '../../src/engine/engine.js';
import { readLineBatches } from '../../src/sources/lines.js';
import type { RawRecord } from '../../src/sources/types.js';
import { collectSink, config } from '../helpers/collect.js';
import { MB, chunks, writeParts, type Part } from './big-input.js';
import { MemoryProbe } from './memory-probe.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const ev = (i: number) => JSON.stringify({ id: `e${i}`, ts: T0 + i * 1000, user: 'u1', amount: 1 });
const BOM = '\uFEFF';
const BIG = 200 * MB;

const cfg = (source: string, sinks = '[{ name: c, type: console }]') => `
time: { maxOutOfOrderness: 1m }
sources: [${source}]
pipelines:
  - name: per-user
    key: user
    window: { type: tumbling, size: 1m }
    aggregates: [{ name: n, fn: count }]
sinks: ${sinks}
metrics: { enabled: false }
`;

const dir = mkdtempSync(join(tmpdir(), 'vigie-lines-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function replayFile(path: string) {
  const sink = collectSink();
  const summary = await new Engine({ loaded: config(cfg(`{ name: in, type: ndjson-file, path: ${JSON.stringify(path)} }`)), mode: 'replay', sinks: [sink] }).run();
  return { summary, sink };
}

async function replayStdin(stream: NodeJS.ReadableStream, source = '{ name: in, type: stdin }') {
  const sink = collectSink();
  const summary = await new Engine({ loaded: config(cfg(source)), mode: 'replay', sinks: [sink], stdin: stream }).run();
  return { summary, sink };
}

async function allRecords(parts: readonly Part[], maxBytes: number, chunkSize = 0): Promise<RawRecord[]> {
  let stream: AsyncIterable<Buffer> = chunks(parts);
  if (chunkSize > 0) {
    const all: Buffer[] = [];
    for await (const c of chunks(parts)) all.push(Buffer.from(c));
    const whole = Buffer.concat(all);
    const cut: Buffer[] = [];
    for (let i = 0; i < whole.length; i += chunkSize) cut.push(whole.subarray(i, i + chunkSize));
    stream = Readable.from(cut);
  }
  const out: RawRecord[] = [];
  for await (const b of readLineBatches(stream, 3, maxBytes)) out.push(...b);
  return out;
}

describe('text lines: a byte-order mark at the start', () => {
  it('a BOM-prefixed NDJSON file yields all its events with zero dead letters', async () => {
    const path = join(dir, 'bom.ndjson');
    writeFileSync(path, BOM + [ev(1), ev(2), ev(3)].join('\r\n') + '\r\n');
    const { summary, sink } = await replayFile(path);
    expect(sink.deadLetters).toEqual([]);
    expect(summary.sources.in).toMatchObject({ in: 3, events: 3 });
  });

  it('a BOM on stdin is dropped, even when it arrives split across chunks', async () => {
    const bytes = Buffer.from(BOM + [ev(1), ev(2)].join('\n'), 'utf8');
    const { summary, sink } = await replayStdin(Readable.from([...bytes].map((b) => Buffer.from([b]))));
    expect(sink.deadLetters).toEqual([]);
    expect(summary.sources.in).toMatchObject({ in: 2, events: 2 });
  });

  it('only the very first bytes of a stream are a BOM: one that starts a later line is data', async () => {
    const recs = await allRecords([BOM + ev(1) + '\n' + BOM + ev(2) + '\n'], MB);
    expect(recs.map((r) => r.data)).toEqual([ev(1), BOM + ev(2)]);
    expect((await allRecords([BOM], MB)).length).toBe(0);
    expect((await allRecords([BOM + BOM + '{}'], MB)).map((r) => r.data)).toEqual([BOM + '{}']);
  });
});

describe('text lines: a line longer than maxEventBytes', () => {
  it('a 200 MB line between two good lines: both events, and one small too_large dead letter with the real size', async () => {
    const path = join(dir, 'big.ndjson');
    const out = join(dir, 'out.jsonl');
    await writeParts(path, [ev(1) + '\n', { filler: BIG }, '\n' + ev(3) + '\n{oops\n']);
    const source = `{ name: in, type: ndjson-file, path: ${JSON.stringify(path)} }`;
    const sinks = `[{ name: dl, type: jsonl, path: ${JSON.stringify(out)}, outputs: [deadLetters] }]`;
    const probe = new MemoryProbe(64);
    const summary = await probe.during(() => new Engine({ loaded: config(cfg(source, sinks)), mode: 'replay' }).run());
    expect(summary.sources.in).toMatchObject({ in: 4, events: 2, deadLettered: { too_large: 1, parse_error: 1 } });
    // What the sink wrote stays small: the excerpt and the size, never the line.
    expect(statSync(out).size).toBeLessThan(2048);
    const [tooLarge, parse] = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(tooLarge).toMatchObject({ reason: 'too_large', offset: 2, size: BIG });
    expect(tooLarge.detail).toContain(String(BIG));
    expect(tooLarge.raw).toBe('x'.repeat(256));
    // Line numbers after the long line are still those of the file.
    expect(parse).toMatchObject({ reason: 'parse_error', offset: 4, raw: '{oops' });
    expect(probe.peakHeap).toBeLessThan(64);
  }, 120_000);

  it('reading a 200 MB line from a stream keeps the memory growth far below the line size', async () => {
    const probe = new MemoryProbe(64);
    const parts: Part[] = [ev(1) + '\n', { filler: BIG }, '\n' + ev(3) + '\n'];
    const stream = Readable.from(chunks(parts, () => probe.sample('while the line streams in')));
    const { summary, sink } = await replayStdin(stream);
    probe.sample('at the end');
    expect(summary.sources.in).toMatchObject({ in: 3, events: 2, deadLettered: { too_large: 1 } });
    const dl = sink.deadLetters[0];
    expect(dl).toMatchObject({ reason: 'too_large', offset: 2, size: BIG });
    expect(Buffer.byteLength(dl.raw as string)).toBeLessThanOrEqual(256);
    expect(probe.peakHeap).toBeLessThan(64);
    expect(probe.peakRss).toBeLessThan(128);
  }, 120_000);

  it('the excerpt is at most the bound, when the bound is smaller than the usual excerpt', async () => {
    const { sink } = await replayStdin(Readable.from([ev(1) + '\n' + 'y'.repeat(5000) + '\n']), '{ name: in, type: stdin, maxEventBytes: 100 }');
    expect(sink.deadLetters).toHaveLength(1);
    expect(sink.deadLetters[0]).toMatchObject({ reason: 'too_large', offset: 2, size: 5000, raw: 'y'.repeat(100) });
  });

  it('cuts and counts a long line in any chunking, on character boundaries, and keeps the line numbers after it', async () => {
    const long = 'é'.repeat(400); // 800 bytes, two per character
    const parts = ['{"a":1}\r\n', '\n', long + '\r\n', '{"b":2}\n', '  \n', 'z'.repeat(100), '\n', long];
    for (const chunkSize of [0, 1, 2, 3, 7, 64, 799, 801, 4096]) {
      const recs = await allRecords(parts, 100, chunkSize);
      const at = `chunks of ${chunkSize}`;
      expect(recs.map((r) => r.offset), at).toEqual([1, 3, 4, 6, 7]);
      expect(recs[0], at).toEqual({ offset: 1, data: '{"a":1}' });
      // The CR belongs to the line ending, not to the line's size.
      expect(recs[1], at).toEqual({ offset: 3, data: 'é'.repeat(50), size: 800 });
      expect(recs[2], at).toEqual({ offset: 4, data: '{"b":2}' });
      // Exactly at the bound: kept whole.
      expect(recs[3], at).toEqual({ offset: 6, data: 'z'.repeat(100) });
      // A last line without a newline is cut the same way.
      expect(recs[4], at).toEqual({ offset: 7, data: 'é'.repeat(50), size: 800 });
    }
  });

  it('lines within the bound: the lines of the decoded text, numbered from 1, whatever the chunking', async () => {
    const piece = fc.oneof(
      fc.constantFrom('\n', '\r\n', '\r', '  ', '\t\n', BOM, '{"a":1}', 'é', '€', '😀'),
      fc.string({ unit: 'grapheme', maxLength: 12 }),
      fc.uint8Array({ maxLength: 6 }).map((b) => Buffer.from(b)),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { maxLength: 40 }), fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 8 }), async (pieces, cuts) => {
        const whole = Buffer.concat(pieces.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)));
        const chunked: Buffer[] = [];
        for (let i = 0, k = 0; i < whole.length; k++) {
          const n = cuts[k % cuts.length];
          chunked.push(whole.subarray(i, i + n));
          i += n;
        }
        const out: RawRecord[] = [];
        for await (const b of readLineBatches(Readable.from(chunked), 5, 1 << 20)) out.push(...b);
        const bom = whole[0] === 0xef && whole[1] === 0xbb && whole[2] === 0xbf ? 3 : 0;
        const expected = whole
          .subarray(bom)
          .toString('utf8')
          .split('\n')
          .map((l, i) => ({ offset: i + 1, data: l.endsWith('\r') ? l.slice(0, -1) : l }))
          .filter((r) => r.data.trim().length > 0);
        expect(out).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('an excerpt never ends in half a character', async () => {
    const [rec] = await allRecords(['a' + '€'.repeat(100) + '\n'], 50);
    expect(rec.size).toBe(301);
    expect(rec.data).toBe('a' + '€'.repeat(16)); // 49 bytes: a 17th € would make 52
  });
});
