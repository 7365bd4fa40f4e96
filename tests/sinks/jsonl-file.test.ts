import { mkdtemp, readFile, readdir, rm, stat, writeFile, chmod, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { create, outputPaths, rotatedFiles, schema, toLine } from '../../sinks/jsonl-file.js';
import type { Sink, SinkBatch, SinkContext } from '../../sinks/types.js';
import { silentLogger } from '../../src/log.js';
import type { Alert, DeadLetter, WindowResult } from '../../src/types.js';

const T = Date.UTC(2026, 0, 1, 10, 0, 0);

const alert: Alert = {
  id: 'a1',
  detector: 'card-testing',
  detectorType: 'threshold',
  pipeline: 'cards',
  severity: 'high',
  key: 'C0042',
  window: { start: T, end: T + 300_000 },
  revision: 0,
  eventTime: T + 300_000,
  detectedAt: T + 301_000,
  observed: 14,
  threshold: 10,
  score: 1.4,
  explanation: '14 > 10',
  evidence: ['e1'],
  configVersion: 'v1',
};

const result: WindowResult = {
  pipeline: 'cards',
  key: 'C0042',
  start: T,
  end: T + 300_000,
  revision: 1,
  kind: 'update',
  values: { n: 14 },
  count: 14,
  evidence: ['e1'],
};

const textDead: DeadLetter = {
  reason: 'parse_error',
  detail: 'unexpected token',
  source: 'orders',
  partition: 0,
  offset: 7,
  raw: '{oops',
};

const binaryDead: DeadLetter = {
  reason: 'too_large',
  detail: '2 bytes',
  source: 'kafka',
  partition: 3,
  offset: 9,
  raw: Buffer.from([0xde, 0xad]),
  time: T,
};

const full: SinkBatch = { alerts: [alert], results: [result], deadLetters: [textDead, binaryDead] };

let dir: string;
let sinks: Sink[];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vigie-jsonl-'));
  sinks = [];
});

afterEach(async () => {
  await Promise.all(sinks.map((s) => s.close()));
  await rm(dir, { recursive: true, force: true });
});

function ctx(): SinkContext {
  return { baseDir: dir, stdout: process.stdout, logger: silentLogger };
}

function sink(cfg: Record<string, unknown>): Sink {
  const s = create(schema.parse({ name: 'file', type: 'jsonl', ...cfg }), ctx());
  sinks.push(s);
  return s;
}

async function lines(path: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(path, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('jsonl file sink', () => {
  it('applies defaults and rejects unknown fields', () => {
    const cfg = schema.parse({ name: 'f', type: 'jsonl', path: 'x.jsonl' });
    expect(cfg).toEqual({ name: 'f', type: 'jsonl', path: 'x.jsonl', outputs: ['alerts'], perOutput: false, fsync: false, fileMode: '0600' });
    expect(schema.safeParse({ name: 'f', type: 'jsonl', path: 'x', sync: true }).success).toBe(false);
    expect(schema.safeParse({ name: 'f', type: 'jsonl' }).success).toBe(false);
  });

  it('writes kind first then the record fields in their own order', () => {
    const line = toLine('alert', alert);
    expect(line.startsWith('{"kind":"alert","id":"a1","detector":"card-testing",')).toBe(true);
    expect(Object.keys(JSON.parse(line))).toEqual(['kind', ...Object.keys(alert)]);
    // Same input, same bytes.
    expect(toLine('alert', { ...alert })).toBe(line);
  });

  it("renames a result's own kind to resultKind, in place", () => {
    const parsed = JSON.parse(toLine('result', result)) as Record<string, unknown>;
    expect(parsed.kind).toBe('result');
    expect(parsed.resultKind).toBe('update');
    expect(Object.keys(parsed)).toEqual([
      'kind', 'pipeline', 'key', 'start', 'end', 'revision', 'resultKind', 'values', 'count', 'evidence',
    ]);
  });

  it('writes binary dead-letter input as base64 with an encoding marker', () => {
    const parsed = JSON.parse(toLine('dead_letter', binaryDead)) as Record<string, unknown>;
    expect(parsed.raw).toBe('3q0=');
    expect(parsed.encoding).toBe('base64');
    const u8 = new Uint8Array([1, 2, 3, 4]).subarray(1, 3);
    expect(JSON.parse(toLine('dead_letter', { ...textDead, raw: u8 })).raw).toBe(Buffer.from([2, 3]).toString('base64'));
    const plain = JSON.parse(toLine('dead_letter', textDead)) as Record<string, unknown>;
    expect(plain.raw).toBe('{oops');
    expect(plain).not.toHaveProperty('encoding');
  });

  it('degrades unserialisable values instead of failing the batch', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const parsed = JSON.parse(toLine('dead_letter', { ...textDead, raw: { big: 10n, cyclic } })) as {
      raw: { big: string; cyclic: { self: string } };
    };
    expect(parsed.raw.big).toBe('10');
    expect(parsed.raw.cyclic.self).toBe('[Circular]');
  });

  it('appends every selected output to one file, resolving relative paths and creating directories', async () => {
    const s = sink({ path: 'out/deep/all.jsonl', outputs: ['alerts', 'results', 'deadLetters'] });
    expect(s.acknowledges).toBe(true);
    await s.write(full);
    const path = join(dir, 'out/deep/all.jsonl');
    // Acknowledged means already in the file, before close.
    const got = await lines(path);
    expect(got.map((l) => l.kind)).toEqual(['alert', 'result', 'dead_letter', 'dead_letter']);
    await s.write({ alerts: [{ ...alert, id: 'a2' }], results: [], deadLetters: [] });
    const again = await lines(path);
    expect(again).toHaveLength(5);
    expect(again[4].id).toBe('a2');
  });

  it('appends to an existing file instead of truncating it', async () => {
    const path = join(dir, 'existing.jsonl');
    await writeFile(path, '{"kind":"alert","id":"old"}\n');
    const s = sink({ path });
    await s.write(full);
    const got = await lines(path);
    expect(got.map((l) => l.id)).toEqual(['old', 'a1']);
  });

  it('writes only the selected outputs', async () => {
    const s = sink({ path: 'a.jsonl' });
    await s.write(full);
    const got = await lines(join(dir, 'a.jsonl'));
    expect(got).toHaveLength(1);
    expect(got[0].kind).toBe('alert');
  });

  it('splits outputs into per-output files', async () => {
    const s = sink({ path: 'run.jsonl', perOutput: true, outputs: ['alerts', 'results', 'deadLetters'], fsync: true });
    await s.write(full);
    expect((await lines(join(dir, 'run.alerts.jsonl'))).map((l) => l.kind)).toEqual(['alert']);
    expect((await lines(join(dir, 'run.results.jsonl'))).map((l) => l.kind)).toEqual(['result']);
    const dead = await lines(join(dir, 'run.dead-letters.jsonl'));
    expect(dead.map((l) => l.offset)).toEqual([7, 9]);
    await expect(stat(join(dir, 'run.jsonl'))).rejects.toThrow();
  });

  it('computes per-output paths with and without the .jsonl suffix', () => {
    const cfg = schema.parse({ name: 'f', type: 'jsonl', path: 'logs/x', perOutput: true, outputs: ['deadLetters'] });
    expect([...outputPaths(cfg, '/base')]).toEqual([['deadLetters', '/base/logs/x.dead-letters.jsonl']]);
    const abs = schema.parse({ name: 'f', type: 'jsonl', path: '/abs/y.jsonl' });
    expect([...outputPaths(abs, '/base')]).toEqual([['alerts', '/abs/y.jsonl']]);
  });

  it('keeps concurrent batches in order and whole', async () => {
    const s = sink({ path: 'order.jsonl' });
    const writes = Array.from({ length: 50 }, (_, i) =>
      s.write({ alerts: [{ ...alert, id: `b${i}-0` }, { ...alert, id: `b${i}-1` }], results: [], deadLetters: [] }),
    );
    await Promise.all(writes);
    const ids = (await lines(join(dir, 'order.jsonl'))).map((l) => l.id);
    expect(ids).toEqual(Array.from({ length: 50 }, (_, i) => [`b${i}-0`, `b${i}-1`]).flat());
  });

  it('rejects the write when the file cannot be opened, and rejects writes after close', async () => {
    await mkdir(join(dir, 'ro'));
    await chmod(join(dir, 'ro'), 0o500);
    const blocked = sink({ path: 'ro/x.jsonl' });
    const isRoot = process.getuid?.() === 0;
    if (!isRoot) await expect(blocked.write(full)).rejects.toThrow(/cannot open/);
    // A path whose parent is a file fails for root too.
    await writeFile(join(dir, 'plain'), '');
    const bad = sink({ path: 'plain/x.jsonl' });
    await expect(bad.write(full)).rejects.toThrow(/cannot open .*plain/);
    // Opening is retried on the next write once the cause is gone.
    await rm(join(dir, 'plain'));
    await bad.write(full);
    expect(await lines(join(dir, 'plain/x.jsonl'))).toHaveLength(1);
    const s = sink({ path: 'c.jsonl' });
    await s.write(full);
    await s.close();
    await s.close();
    await expect(s.write(full)).rejects.toThrow(/closed/);
  });
});

describe('jsonl file sink: permissions, rotation and retention', () => {
  let clock = T;
  const rotating = (cfg: Record<string, unknown>): Sink => {
    const s = create(schema.parse({ name: 'dl', type: 'jsonl', outputs: ['deadLetters'], ...cfg }), { ...ctx(), now: () => clock });
    sinks.push(s);
    return s;
  };
  /** A batch of `n` dead letters numbered from `from` (about 110 bytes each). */
  const deadBatch = (from: number, n: number): SinkBatch => ({
    alerts: [],
    results: [],
    deadLetters: Array.from({ length: n }, (_, i) => ({ ...textDead, offset: from + i })),
  });
  /** Offsets in the rotated files (oldest first) then in the current file. */
  async function allOffsets(path: string): Promise<number[]> {
    const files = [...(await rotatedFiles(path)).map(([p]) => p), path];
    const out: number[] = [];
    for (const f of files) if ((await stat(f)).size > 0) out.push(...(await lines(f)).map((l) => l.offset as number));
    return out;
  }

  beforeEach(() => {
    clock = T;
  });

  it('creates files readable by their owner only (fileMode, default 0600)', async () => {
    const s = sink({ path: 'private.jsonl' });
    await s.write(full);
    expect((await stat(join(dir, 'private.jsonl'))).mode & 0o777).toBe(0o600);
    const g = sink({ path: 'shared.jsonl', fileMode: '0640' });
    await g.write(full);
    expect((await stat(join(dir, 'shared.jsonl'))).mode & 0o777).toBe(0o640);
    expect(schema.safeParse({ name: 'f', type: 'jsonl', path: 'x', fileMode: '0999' }).success).toBe(false);
    expect(schema.safeParse({ name: 'f', type: 'jsonl', path: 'x', rotate: { keep: 3 } }).success).toBe(false);
  });

  it('rotates by size: every line is kept exactly once, in order, across the rotated files and the current one', async () => {
    const s = rotating({ path: 'dl.jsonl', rotate: { maxBytes: 1000, keep: 100 } });
    for (let b = 0; b < 20; b++) {
      clock += 1000; // one batch a second: distinct names
      await s.write(deadBatch(b * 5, 5));
    }
    const path = join(dir, 'dl.jsonl');
    const rotated = await rotatedFiles(path);
    expect(rotated.length).toBeGreaterThan(3);
    for (const [p] of rotated) {
      expect(p).toMatch(/dl\.\d{8}T\d{6}Z(-\d+)?\.jsonl$/);
      expect((await stat(p)).size).toBeGreaterThanOrEqual(1000);
      expect((await stat(p)).size).toBeLessThan(1000 + 5 * 200);
    }
    expect(await allOffsets(path)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('rotates by age, names files by the rotation time, and two rotations in one second get distinct names', async () => {
    const s = rotating({ path: 'dl.jsonl', rotate: { interval: '1h', maxBytes: 1 } });
    await s.write(deadBatch(0, 1));
    await s.write(deadBatch(1, 1));
    const names = (await rotatedFiles(join(dir, 'dl.jsonl'))).map(([p]) => p.slice(dir.length + 1));
    expect(names).toEqual(['dl.20260101T100000Z.jsonl', 'dl.20260101T100000Z-1.jsonl']);

    const t = rotating({ path: 'hourly.jsonl', rotate: { interval: '1h' } });
    await t.write(deadBatch(0, 1));
    clock += 59 * 60_000;
    await t.write(deadBatch(1, 1));
    expect(await rotatedFiles(join(dir, 'hourly.jsonl'))).toHaveLength(0);
    clock += 60_000;
    await t.write(deadBatch(2, 1));
    expect(await rotatedFiles(join(dir, 'hourly.jsonl'))).toHaveLength(1);
    expect(await allOffsets(join(dir, 'hourly.jsonl'))).toEqual([0, 1, 2]);
  });

  it('keeps at most `keep` rotated files and deletes those older than maxAge, also at start', async () => {
    const s = rotating({ path: 'dl.jsonl', rotate: { maxBytes: 1, keep: 3, maxAge: '1d' } });
    for (let b = 0; b < 6; b++) {
      clock += 60_000;
      await s.write(deadBatch(b, 1));
    }
    const path = join(dir, 'dl.jsonl');
    expect((await rotatedFiles(path)).length).toBe(3);
    expect(await allOffsets(path)).toEqual([3, 4, 5]);
    await s.close();
    // Two days later, a new sink on the same file: the old rotated files are past maxAge.
    clock += 2 * 86_400_000;
    const again = rotating({ path: 'dl.jsonl', rotate: { maxBytes: 1_000_000, keep: 3, maxAge: '1d' } });
    await again.write(deadBatch(6, 1));
    expect(await rotatedFiles(path)).toEqual([]);
    expect((await readdir(dir)).sort()).toEqual(['dl.jsonl']);
  });
});

