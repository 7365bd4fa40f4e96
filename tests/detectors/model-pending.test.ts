import { describe, expect, it } from 'vitest';
import { PendingRows } from '../../detectors/model-pending.js';
import { Rng } from '../../src/generator/rng.js';

/** The oldest row as [id, time, features], read the way the model reads it. */
function oldest(p: PendingRows): [string, number, number[]] {
  const x = p.oldestX();
  const o = p.oldestOffset();
  return [p.oldestId(), p.oldestTime() as number, Array.from(x.subarray(o, o + p.width))];
}

describe('PendingRows (the events a model keeps until their label)', () => {
  it('is a first-in first-out queue of rows across chunk boundaries, as a plain array would be', () => {
    const rng = new Rng(7);
    const p = new PendingRows(3);
    const plain: Array<[string, number, number[]]> = [];
    let n = 0;
    // Bursts of pushes and shifts, long enough to fill, empty and reuse several 4096-row chunks.
    for (let round = 0; round < 60; round++) {
      const pushes = Math.floor(rng.float() * 3000);
      for (let i = 0; i < pushes; i++) {
        const row: [string, number, number[]] = [`e${n}`, n, [n, -n, n / 7]];
        n++;
        p.push(row[0], row[1], Float64Array.from(row[2]));
        plain.push(row);
      }
      const shifts = Math.floor(rng.float() * 3200);
      for (let i = 0; i < shifts && plain.length > 0; i++) {
        expect(oldest(p)).toEqual(plain[0]);
        p.shift();
        plain.shift();
      }
      expect(p.size).toBe(plain.length);
      if (plain.length === 0) expect(p.oldestTime()).toBeUndefined();
    }
    expect(p.rows()).toEqual(plain);
  });

  it('copies the features pushed (the caller reuses its array)', () => {
    const p = new PendingRows(2);
    const x = new Float64Array([1, 2]);
    p.push('a', 10, x);
    x[0] = 99;
    p.push('b', 20, x);
    expect(p.rows()).toEqual([
      ['a', 10, [1, 2]],
      ['b', 20, [99, 2]],
    ]);
  });

  it('starts empty again after clear, and when emptied by shifts', () => {
    const p = new PendingRows(1);
    for (let i = 0; i < 5000; i++) p.push(`e${i}`, i, [i]);
    p.clear();
    expect(p.size).toBe(0);
    expect(p.rows()).toEqual([]);
    p.push('z', 1, [5]);
    expect(oldest(p)).toEqual(['z', 1, [5]]);
    p.shift();
    expect(p.size).toBe(0);
    expect(p.oldestTime()).toBeUndefined();
    p.push('y', 2, [6]);
    expect(p.rows()).toEqual([['y', 2, [6]]]);
  });
});
