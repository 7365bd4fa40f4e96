import { describe, expect, it } from 'vitest';
import { VersionedTable } from '../../src/sources/tables/versioned.js';
import { parseCsv } from '../../src/sources/tables/csv.js';
import { parseTableFile } from '../../src/sources/tables/file.js';
import { mulberry32 as rng } from '../helpers/rng.js';

const big = { maxVersions: 1_000_000, maxRows: 1_000_000 };

describe('VersionedTable: the row valid at the event time', () => {
  it('edges: before the first version nothing; at a validity time exactly, that version; same time replaces; a deletion hides', () => {
    const t = new VersionedTable(big);
    t.put('m', 100, { v: 1 });
    t.put('m', 200, { v: 2 });
    expect(t.get('m', 99)).toBeUndefined();
    expect(t.get('m', 100)).toEqual({ v: 1 });
    expect(t.get('m', 199)).toEqual({ v: 1 });
    expect(t.get('m', 200)).toEqual({ v: 2 });
    expect(t.get('m', 1e15)).toEqual({ v: 2 });
    t.put('m', 100, { v: 3 });
    expect(t.get('m', 150)).toEqual({ v: 3 });
    t.put('m', 300, null);
    expect(t.get('m', 300)).toBeUndefined();
    expect(t.get('m', 250)).toEqual({ v: 2 });
    expect(t.current('m')).toBeUndefined();
    expect(t.get('x', 100)).toBeUndefined();
  });

  it('bounds: the oldest versions and the key written least recently are dropped, and counted', () => {
    const t = new VersionedTable({ maxVersions: 2, maxRows: 2 });
    t.put('a', 1, { v: 1 });
    t.put('a', 2, { v: 2 });
    t.put('a', 3, { v: 3 });
    expect(t.droppedVersions).toBe(1);
    expect(t.get('a', 1)).toBeUndefined();
    expect(t.get('a', 2)).toEqual({ v: 2 });
    // An older version than every kept one arrives: dropped at once.
    t.put('a', 0, { v: 0 });
    expect(t.droppedVersions).toBe(2);
    expect(t.get('a', 0)).toBeUndefined();
    t.put('b', 1, { v: 1 });
    t.put('a', 4, { v: 4 }); // a written after b: b is now the least recent
    t.put('c', 1, { v: 1 });
    expect(t.droppedRows).toBe(1);
    expect(t.get('b', 10)).toBeUndefined();
    expect(t.get('a', 10)).toEqual({ v: 4 });
    expect(t.size).toBe(2);
  });

  it('property: equals a naive reference over random versions, deletions and lookups interleaved (with and without maxVersions)', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const r = rng(seed);
      const maxVersions = seed % 2 === 0 ? 1_000_000 : 1 + Math.floor(r() * 4);
      const t = new VersionedTable({ maxVersions, maxRows: 1_000_000 });
      // Reference: every write kept; per key, time -> row (last write at a time wins).
      const ref = new Map<string, Map<number, { v: number } | null>>();
      const keys = ['a', 'b', 'c', 'd'];
      const ops = 20 + Math.floor(r() * 200);
      for (let i = 0; i < ops; i++) {
        const key = keys[Math.floor(r() * keys.length)];
        const time = Math.floor(r() * 50);
        if (r() < 0.55) {
          const row = r() < 0.1 ? null : { v: i };
          t.put(key, time, row);
          const m = ref.get(key) ?? new Map();
          m.set(time, row);
          ref.set(key, m);
        } else {
          const m = ref.get(key);
          // The kept versions: the maxVersions latest validity times.
          const times = [...(m?.keys() ?? [])].sort((x, y) => x - y).slice(-maxVersions);
          const valid = times.filter((x) => x <= time);
          const want = valid.length === 0 ? undefined : (m!.get(valid[valid.length - 1]) ?? undefined);
          expect(t.get(key, time), `seed ${seed} op ${i}`).toEqual(want);
          const last = times.length === 0 ? undefined : (m!.get(times[times.length - 1]) ?? undefined);
          expect(t.current(key), `seed ${seed} op ${i} current`).toEqual(last);
        }
      }
    }
  });
});

describe('CSV (RFC 4180)', () => {
  it('quotes, doubled quotes, commas and line breaks in quotes, CRLF, BOM, blank lines', () => {
    const r = parseCsv('\ufeffid,name,note\r\n1,"Caf\u00e9, ""Le"" Bar","two\nlines"\r\n\r\n2,plain,\n3,,x');
    expect(r).toEqual({
      header: ['id', 'name', 'note'],
      records: [
        { line: 2, fields: ['1', 'Caf\u00e9, "Le" Bar', 'two\nlines'] },
        { line: 5, fields: ['2', 'plain', ''] },
        { line: 6, fields: ['3', '', 'x'] },
      ],
    });
  });

  it('an unterminated quote or a bad header refuses the whole file, with the line', () => {
    expect(parseCsv('id,name\n1,"open\n2,x\n')).toEqual({ error: 'unterminated quoted field', line: 2 });
    expect(parseCsv('')).toMatchObject({ error: 'no header line' });
    expect(parseCsv('id,id\n1,2')).toMatchObject({ error: 'column "id" appears twice in the header', line: 1 });
  });

  it('table file: declared types converted, bad rows skipped and counted with their lines', () => {
    const spec = { key: 'id', time: { field: 'from', format: 'iso' as const }, fields: { risk: 'number' as const, listed: 'boolean' as const } };
    const text = 'id,risk,listed,from\nm1,0.5,true,2024-01-01\nm1,0.9,false,2024-02-01\nm2,high,true,2024-01-01\n,0.1,true,2024-01-01\nm3,1,true,soon\nm4,2,true\nm5,,false,2024-01-01\n';
    const r = parseTableFile(text, 'csv', spec, new VersionedTable(big));
    if ('error' in r) throw new Error(r.error);
    expect(r.rows).toBe(3);
    expect(r.bad.count).toBe(4);
    expect(r.bad.first).toEqual([
      'line 4: field "risk": expected a number, got text',
      'line 5: no usable value for key field "id"',
      'line 6: time field "from": not an ISO-8601 date-time',
      'line 7: 3 fields, the header has 4',
    ]);
    expect(r.table.get('m1', Date.UTC(2024, 0, 15))).toEqual({ id: 'm1', risk: 0.5, listed: true, from: '2024-01-01' });
    expect(r.table.get('m1', Date.UTC(2024, 1, 1))).toMatchObject({ risk: 0.9, listed: false });
    expect(r.table.get('m5', Date.UTC(2024, 1, 1))).toEqual({ id: 'm5', listed: false, from: '2024-01-01' });
    const nd = parseTableFile('{"id":1,"risk":"0.3"}\nnot json\n[1]\n\n{"id":"m2"}', 'ndjson', { key: 'id', time: undefined, fields: { risk: 'number' } }, new VersionedTable(big));
    if ('error' in nd) throw new Error(nd.error);
    expect(nd.rows).toBe(2);
    expect(nd.bad.first).toEqual(['line 2: not valid JSON', 'line 3: not a JSON object']);
    expect(nd.table.current('1')).toEqual({ id: 1, risk: 0.3 });
    expect(parseTableFile('x\n1\n', 'csv', { key: 'id', time: undefined, fields: {} }, new VersionedTable(big))).toMatchObject({ error: 'no column "id" (the key) in the header' });
    expect(parseTableFile('not json\n', 'ndjson', { key: 'id', time: undefined, fields: {} }, new VersionedTable(big))).toMatchObject({ error: 'no valid row (line 1: not valid JSON)' });
  });
});
