import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { hoppingStarts, sessionDue, sessionTouches, tumblingStart } from '../../operators/window-math.js';

describe('tumblingStart (rule 7)', () => {
  it('epoch-aligned windows', () => {
    expect(tumblingStart(0, 10, 0)).toBe(0);
    expect(tumblingStart(9, 10, 0)).toBe(0);
    expect(tumblingStart(10, 10, 0)).toBe(10); // half-open: the end belongs to the next window
    expect(tumblingStart(19, 10, 0)).toBe(10);
    expect(tumblingStart(1_700_000_123_456, 60_000, 0)).toBe(1_700_000_100_000);
  });

  it('negative times round towards -Infinity, not towards 0', () => {
    expect(tumblingStart(-1, 10, 0)).toBe(-10);
    expect(tumblingStart(-10, 10, 0)).toBe(-10);
    expect(tumblingStart(-11, 10, 0)).toBe(-20);
    expect(tumblingStart(-9, 10, 0)).toBe(-10);
  });

  it('offset shifts the boundaries', () => {
    expect(tumblingStart(3, 10, 3)).toBe(3);
    expect(tumblingStart(2, 10, 3)).toBe(-7);
    expect(tumblingStart(12, 10, 3)).toBe(3);
    expect(tumblingStart(13, 10, 3)).toBe(13);
    expect(tumblingStart(-7, 10, 3)).toBe(-7);
    expect(tumblingStart(-8, 10, 3)).toBe(-17);
    // Days starting at 01:00 UTC.
    const day = 86_400_000;
    const hour = 3_600_000;
    expect(tumblingStart(30 * day + 30 * 60_000, day, hour)).toBe(29 * day + hour);
    expect(tumblingStart(30 * day + hour, day, hour)).toBe(30 * day + hour);
  });

  it('property: start <= t < start + size, start - offset is a multiple of size', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -1e9, max: 1e9 }),
        fc.integer({ min: 1, max: 100_000 }).chain((size) => fc.tuple(fc.constant(size), fc.integer({ min: 0, max: size - 1 }))),
        (t, [size, offset]) => {
          const s = tumblingStart(t, size, offset);
          expect(Number.isInteger(s)).toBe(true);
          expect(s).toBeLessThanOrEqual(t);
          expect(t).toBeLessThan(s + size);
          expect((((s - offset) % size) + size) % size).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('hoppingStarts (rule 7)', () => {
  it('size / advance windows when divisible, increasing, each containing t', () => {
    expect(hoppingStarts(12, 10, 5, 0)).toEqual([5, 10]);
    expect(hoppingStarts(10, 10, 5, 0)).toEqual([5, 10]);
    expect(hoppingStarts(9, 10, 5, 0)).toEqual([0, 5]);
    expect(hoppingStarts(0, 10, 5, 0)).toEqual([-5, 0]);
    expect(hoppingStarts(7, 12, 3, 0)).toEqual([-3, 0, 3, 6]);
  });

  it('half-open ends: a window does not contain its end', () => {
    // [0, 10) does not contain 10.
    expect(hoppingStarts(10, 10, 5, 0)).not.toContain(0);
    expect(hoppingStarts(10, 10, 2, 0)).toEqual([2, 4, 6, 8, 10]);
  });

  it('advance == size is tumbling', () => {
    expect(hoppingStarts(17, 10, 10, 0)).toEqual([10]);
    expect(hoppingStarts(-1, 10, 10, 0)).toEqual([-10]);
    expect(hoppingStarts(17, 10, 10, 3)).toEqual([13]);
  });

  it('negative times and offsets', () => {
    expect(hoppingStarts(-1, 10, 5, 0)).toEqual([-10, -5]);
    expect(hoppingStarts(-5, 10, 5, 0)).toEqual([-10, -5]);
    expect(hoppingStarts(-6, 10, 5, 0)).toEqual([-15, -10]);
    expect(hoppingStarts(4, 10, 5, 2)).toEqual([-3, 2]);
    expect(hoppingStarts(1, 10, 5, 2)).toEqual([-8, -3]);
  });

  it('not divisible: ceil or floor of size / advance windows', () => {
    // size 10, advance 4: windows [.., 4k, 4k + 10)
    expect(hoppingStarts(0, 10, 4, 0)).toEqual([-8, -4, 0]);
    expect(hoppingStarts(2, 10, 4, 0)).toEqual([-4, 0]);
  });

  it('property: exactly the windows [k*a + o, k*a + o + s) that contain t, increasing', () => {
    const geometry = fc
      .integer({ min: 1, max: 60 })
      .chain((advance) =>
        fc.tuple(fc.constant(advance), fc.integer({ min: advance, max: advance * 6 }), fc.integer({ min: 0, max: advance - 1 })),
      );
    fc.assert(
      fc.property(fc.integer({ min: -10_000, max: 10_000 }), geometry, (t, [advance, size, offset]) => {
        const starts = hoppingStarts(t, size, advance, offset);
        // Naive: scan every k whose window could contain t.
        const expected: number[] = [];
        for (let k = Math.floor((t - size - offset) / advance) - 1; k * advance + offset <= t; k++) {
          const s = k * advance + offset;
          if (s <= t && t < s + size) expected.push(s);
        }
        expect(starts).toEqual(expected);
        for (let i = 1; i < starts.length; i++) expect(starts[i] - starts[i - 1]).toBe(advance);
        if (size % advance === 0) expect(starts.length).toBe(size / advance);
        else expect([Math.floor(size / advance), Math.ceil(size / advance)]).toContain(starts.length);
        expect(starts[starts.length - 1]).toBe(tumblingStart(t, advance, offset));
      }),
      { numRuns: 300 },
    );
  });
});

describe('session helpers (rule 7)', () => {
  it('sessionDue: fires when W > last + gap, not at W == last + gap', () => {
    expect(sessionDue(100, 10, 110)).toBe(false);
    expect(sessionDue(100, 10, 111)).toBe(true);
    expect(sessionDue(100, 10, Infinity)).toBe(true);
    expect(sessionDue(100, 10, -Infinity)).toBe(false);
  });

  it('sessionTouches: gap inclusive on both sides', () => {
    expect(sessionTouches(110, 50, 100, 10)).toBe(true);
    expect(sessionTouches(111, 50, 100, 10)).toBe(false);
    expect(sessionTouches(40, 50, 100, 10)).toBe(true);
    expect(sessionTouches(39, 50, 100, 10)).toBe(false);
    expect(sessionTouches(75, 50, 100, 10)).toBe(true);
  });
});
