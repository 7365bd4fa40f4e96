/** The comparison of the fleet helper (tests/helpers/fleet.ts): sets, partial lines, readable diffs. */
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/cli.js';
import { covers, diffOutputs, outputsOf, readLines, type OutLine } from '../helpers/fleet.js';

const result = (key: string, n: number, revision = 0): OutLine => ({ kind: 'result', pipeline: 'p', key, start: 0, end: 60_000, revision, count: n, values: { n } });
const alert = (id: string, key: string): OutLine => ({ kind: 'alert', id, detector: 'd', pipeline: 'p', key, window: { start: 0, end: 60_000 }, revision: 0 });

describe('fleet helper', () => {
  it('reads complete lines only: a partial last line is left for later', () => {
    const file = join(tempDir('vigie-fleet-'), 'out.jsonl');
    writeFileSync(file, `${JSON.stringify(result('a', 1))}\n{"kind":"res`);
    expect(readLines(file)).toHaveLength(1);
    appendFileSync(file, 'ult"}\n');
    expect(readLines(file).map((l) => l.kind)).toEqual(['result', 'result']);
    expect(readLines(join(file, '..', 'absent.jsonl'))).toEqual([]);
  });

  it('compares as sets: a repeated output is no extra; another value or revision of a window is', () => {
    const expected = outputsOf([result('a', 1), result('b', 2), alert('x', 'a')]);
    expect(diffOutputs(expected, outputsOf([result('b', 2), result('a', 1), result('a', 1), alert('x', 'a'), alert('x', 'a')]))).toBe('');
    const got = outputsOf([result('a', 1), result('b', 3), result('a', 1, 1), alert('y', 'b')]);
    expect(covers(got, expected)).toBe(false);
    expect(covers(outputsOf([result('a', 1), result('b', 2), result('c', 1), alert('x', 'a')]), expected)).toBe(true);
    const diff = diffOutputs(expected, got);
    expect(diff).toContain('results: expected 2, got 3; 1 missing, 2 extra');
    expect(diff).toContain('- ["p","b",0,60000,0,{"n":2}]');
    expect(diff).toContain('+ ["p","b",0,60000,0,{"n":3}]');
    expect(diff).toContain('+ ["p","a",0,60000,1,{"n":1}]');
    expect(diff).toContain('alerts: expected 1, got 1; 1 missing, 1 extra');
    expect(diff).toContain('- x: d (p) key a window [0, 60000) revision 0');
    expect(diff).toContain('+ y: d (p) key b window [0, 60000) revision 0');
  });

  it('shows at most `limit` missing and extra entries per kind', () => {
    const many = (n: number, v: number) => outputsOf(Array.from({ length: n }, (_, i) => result(`k${String(i).padStart(2, '0')}`, v)));
    const diff = diffOutputs(many(25, 1), many(25, 2), 10);
    expect(diff.split('\n').filter((l) => l.startsWith('    - '))).toHaveLength(10);
    expect(diff.split('\n').filter((l) => l.startsWith('    + '))).toHaveLength(10);
    expect(diff).toContain('25 missing, 25 extra');
  });
});
