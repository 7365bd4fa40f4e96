import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_HELD, TimeGuard, type Refusal } from '../../src/time/time-guard.js';
import type { VEvent } from '../../src/types.js';

const DAY = 86_400_000;
const T0 = Date.parse('2026-01-01T00:00:00Z');
const Y2100 = Date.parse('2100-01-01T00:00:00Z');

const ev = (time: number, offset: number, partition = 0): VEvent => ({ time, id: `e${offset}`, partition, offset, source: 's', payload: {} });

/** Run `times` through a replay guard in batches of `batch`, finishing the partition at the end. */
function replay(times: number[], opts: { maxJump?: number; patience?: number; batch?: number } = {}): { admitted: number[]; refused: number[] } {
  const guard = new TimeGuard({ maxFutureSkew: 0, maxJump: opts.maxJump ?? DAY, patience: opts.patience ?? 1000 }, false);
  const out: VEvent[] = [];
  const refused: Refusal[] = [];
  times.forEach((t, i) => guard.offer(0, ev(t, i), 0, out, refused));
  guard.finish(0, out, refused);
  return { admitted: out.map((e) => e.offset), refused: refused.map((r) => r.event.offset) };
}

describe('time guard (rule 3)', () => {
  it('replay: a lone event dated 2100 is refused once `patience` later events do not confirm it; the others pass in order', () => {
    const times = Array.from({ length: 50 }, (_, i) => T0 + i * 60_000);
    times.splice(20, 0, Y2100);
    const r = replay(times, { patience: 10 });
    expect(r.refused).toEqual([20]);
    expect(r.admitted).toEqual(times.map((_, i) => i).filter((i) => i !== 20));
  });

  it('replay: a held event still unconfirmed at the end is refused when later events contradicted it', () => {
    const r = replay([T0, T0 + 1000, Y2100, T0 + 2000, T0 + 3000]);
    expect(r.refused).toEqual([2]);
    expect(r.admitted).toEqual([0, 1, 3, 4]);
  });

  it('replay: a real gap (every later event after it) changes nothing, in order', () => {
    const times = [T0, T0 + 1000, T0 + 10 * DAY, T0 + 10 * DAY + 5, T0 + 10 * DAY + 9];
    expect(replay(times)).toEqual({ admitted: [0, 1, 2, 3, 4], refused: [] });
  });

  it('replay: a sparse series (every event a jump) is admitted whole and in order, the last at the end of input', () => {
    const times = Array.from({ length: 20 }, (_, i) => T0 + i * 7 * DAY);
    for (const batch of [1, 3, 20]) expect(replay(times, { batch })).toEqual({ admitted: times.map((_, i) => i), refused: [] });
  });

  it('replay: a corrupt first event of a partition does not become its reference time', () => {
    const r = replay([Y2100, T0, T0 + 1, T0 + 2], { patience: 2 });
    expect(r.refused).toEqual([0]);
    expect(r.admitted).toEqual([1, 2, 3]);
  });

  it('replay: held events per partition are bounded', () => {
    const times = [T0, ...Array.from({ length: MAX_HELD + 10 }, (_, i) => Y2100 + i * 2 * DAY)];
    // Every jump is confirmed by the next one here, so nothing waits: all admitted.
    expect(replay(times).refused).toEqual([]);
    const corrupt = [T0, ...Array.from({ length: MAX_HELD + 10 }, (_, i) => (i % 2 === 0 ? Y2100 + i * 30 * DAY : T0 + i))];
    const guard = new TimeGuard({ maxFutureSkew: 0, maxJump: DAY, patience: 1_000_000 }, false);
    const out: VEvent[] = [];
    const refused: Refusal[] = [];
    corrupt.forEach((t, i) => guard.offer(0, ev(t, i), 0, out, refused));
    expect(out.length + refused.length).toBeLessThanOrEqual(corrupt.length);
    expect(corrupt.length - out.length - refused.length).toBeLessThanOrEqual(MAX_HELD);
  });

  it('property: input whose jumps are all confirmed comes out whole and in the same order (rule 11 holds)', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer({ min: 0, max: 60_000 }), fc.integer({ min: DAY + 1, max: 30 * DAY })), { minLength: 1, maxLength: 200 }), (steps) => {
        // A series moving forward by small steps and by real gaps (each followed by more of the new times).
        let t = T0;
        const times = steps.map((s) => (t += s));
        expect(replay(times)).toEqual({ admitted: times.map((_, i) => i), refused: [] });
      }),
    );
  });

  it('property: every event comes out exactly once, admitted or refused, whatever the input', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer({ min: T0, max: T0 + 3 * DAY }), fc.constant(Y2100)), { maxLength: 300 }), fc.integer({ min: 1, max: 50 }), (times, patience) => {
        const r = replay(times, { patience });
        expect([...r.admitted, ...r.refused].sort((a, b) => a - b)).toEqual(times.map((_, i) => i));
      }),
    );
  });

  it('property: one event dated 2100 among ordinary times (in any order within less than maxJump) is refused, and only it', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: T0, max: T0 + DAY / 2 }), { minLength: 1, maxLength: 300 }), fc.nat(), fc.integer({ min: 1, max: 50 }), (ordinary, at, patience) => {
        const times = [...ordinary];
        const i = at % times.length;
        times.splice(i, 0, Y2100);
        const r = replay(times, { patience });
        expect(r.refused).toEqual([i]);
        expect(r.admitted).toHaveLength(ordinary.length);
      }),
    );
  });

  it('live: an event more than maxFutureSkew ahead of processing time is refused at once; others pass', () => {
    const guard = new TimeGuard({ maxFutureSkew: 60_000, maxJump: DAY, patience: 10 }, true);
    const out: VEvent[] = [];
    const refused: Refusal[] = [];
    const now = T0;
    guard.offer(0, ev(now - 5000, 1), now, out, refused);
    guard.offer(0, ev(now + 60_000, 2), now, out, refused);
    guard.offer(0, ev(now + 60_001, 3), now, out, refused);
    guard.offer(0, ev(Y2100, 4), now, out, refused);
    guard.offer(0, ev(now + 10 * DAY, 5), now + 10 * DAY, out, refused);
    expect(out.map((e) => e.offset)).toEqual([1, 2, 5]);
    expect(refused.map((r) => r.event.offset)).toEqual([3, 4]);
    expect(refused[1].detail).toContain('more than maxFutureSkew (60000 ms) ahead of processing time');
    expect(guard.refused).toBe(2);
  });
});
