import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pack } from 'msgpackr';
import { Engine } from '../../src/engine/engine.js';
import { config } from '../helpers/collect.js';
import { MB, writeParts } from './big-input.js';
import { MemoryProbe } from './memory-probe.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const ev = (i: number) => pack({ id: `e${i}`, ts: T0 + i * 1000, user: 'u1', amount: 1 });
const BIG = 200 * MB;

const dir = mkdtempSync(join(tmpdir(), 'vigie-msgpack-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cfg = (path: string, out: string) => `
time: { maxOutOfOrderness: 1m }
sources: [{ name: in, type: msgpack-file, path: ${JSON.stringify(path)} }]
pipelines:
  - name: per-user
    key: user
    window: { type: tumbling, size: 1m }
    aggregates: [{ name: n, fn: count }]
sinks: [{ name: dl, type: jsonl, path: ${JSON.stringify(out)}, outputs: [deadLetters] }]
metrics: { enabled: false }
`;

/** `{ id: 'big', pad: <bytes x's> }`: its header, the string's bytes follow. */
function bigHeader(bytes: number): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(bytes);
  return Buffer.concat([Buffer.from([0x82]), pack('id'), pack('big'), pack('pad'), Buffer.from([0xdb]), len]);
}

describe('MessagePack files: a record longer than maxEventBytes', () => {
  it('a 200 MB record between two good ones: both events, one small too_large dead letter with the real size, bounded memory', async () => {
    const path = join(dir, 'big.msgpack');
    const out = join(dir, 'big-out.jsonl');
    const head = bigHeader(BIG);
    // Last, an array of two values that holds only one: truncated.
    await writeParts(path, [ev(1), head, { filler: BIG }, ev(3), Buffer.from([0x92, 0x01])]);
    const probe = new MemoryProbe(64);
    const summary = await probe.during(() => new Engine({ loaded: config(cfg(path, out)), mode: 'replay' }).run());
    expect(summary.sources.in).toMatchObject({ in: 4, events: 2, deadLettered: { too_large: 1, parse_error: 1 } });
    expect(statSync(out).size).toBeLessThan(2048);
    const [tooLarge, parse] = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(tooLarge).toMatchObject({ reason: 'too_large', offset: 2, size: head.length + BIG });
    const excerpt = Buffer.from(tooLarge.raw.base64, 'base64');
    expect(excerpt.length).toBe(256);
    expect(excerpt.subarray(0, head.length)).toEqual(head);
    // Records after the long one keep their index in the file.
    expect(parse).toMatchObject({ reason: 'parse_error', offset: 4 });
    expect(probe.peakHeap).toBeLessThan(64);
  }, 120_000);

  it('a length claimed beyond the end of the file is never allocated: the rest of the file is one bad record', async () => {
    const path = join(dir, 'claim.msgpack');
    const out = join(dir, 'claim-out.jsonl');
    // A 4 GB string announced by a 5-byte header, and nothing behind it.
    writeFileSync(path, Buffer.concat([ev(1), Buffer.from([0xdb, 0xff, 0xff, 0xff, 0xf0]), Buffer.from('abc')]));
    const probe = new MemoryProbe(64);
    const summary = await probe.during(() => new Engine({ loaded: config(cfg(path, out)), mode: 'replay' }).run());
    expect(summary.sources.in).toMatchObject({ in: 2, events: 1, deadLettered: { parse_error: 1 } });
    const [dl] = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(dl).toMatchObject({ reason: 'parse_error', offset: 2, raw: { base64: Buffer.from([0xdb, 0xff, 0xff, 0xff, 0xf0, 0x61, 0x62, 0x63]).toString('base64') } });
  });
});
