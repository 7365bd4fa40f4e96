import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { KeyedState, SharedKeys } from '../../src/util/keyed-state.js';

/** The reference: a Map kept in order of last activity by deleting and re-inserting a key on each touch. */
class MapModel {
  map = new Map<string, number>();
  evicted = 0;
  constructor(private readonly maxKeys: number) {}
  touch(k: string): number | undefined {
    const v = this.map.get(k);
    if (v !== undefined) {
      this.map.delete(k);
      this.map.set(k, v);
    }
    return v;
  }
  set(k: string, v: number): void {
    this.map.delete(k);
    this.map.set(k, v);
    while (this.map.size > this.maxKeys) {
      this.map.delete(this.map.keys().next().value as string);
      this.evicted++;
    }
  }
  expireFront(dead: (v: number) => boolean): void {
    for (const [k, v] of this.map) {
      if (!dead(v)) break;
      this.map.delete(k);
    }
  }
}

type Op = { op: 'touch' | 'set' | 'delete' | 'peek'; key: number; value: number } | { op: 'expire'; below: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constantFrom('touch' as const, 'set' as const, 'delete' as const, 'peek' as const), key: fc.nat(12), value: fc.nat(100) }),
  fc.record({ op: fc.constant('expire' as const), below: fc.nat(100) }),
);

describe('KeyedState', () => {
  it('keeps keys in order of last activity: touch moves a key to the end, peek does not', () => {
    const s = new KeyedState<number>(10);
    s.set('a', 1);
    s.set('b', 2);
    s.set('c', 3);
    expect(s.touch('a')).toBe(1);
    expect(s.peek('b')).toBe(2);
    expect([...s.entries()].map(([k]) => k)).toEqual(['b', 'c', 'a']);
    expect(s.oldest()).toBe(2);
    s.set('b', 20);
    expect(s.snapshot((v) => v).keys).toEqual([
      ['c', 3],
      ['a', 1],
      ['b', 20],
    ]);
  });

  it('evicts the least recently active key beyond the cap and counts it', () => {
    const s = new KeyedState<number>(2);
    s.set('a', 1);
    s.set('b', 2);
    s.touch('a');
    s.set('c', 3);
    expect(s.peek('b')).toBeUndefined();
    expect([...s.entries()].map(([k]) => k)).toEqual(['a', 'c']);
    expect(s.evicted).toBe(1);
  });

  it('expires from the front and stops at the first live key', () => {
    const s = new KeyedState<number>(10);
    for (const [k, v] of [['a', 1], ['b', 9], ['c', 2]] as const) s.set(k, v);
    s.expireFront((v) => v < 5);
    expect([...s.entries()]).toEqual([
      ['b', 9],
      ['c', 2],
    ]);
  });

  it('restores a snapshot in its order, and rejects a malformed one', () => {
    const s = new KeyedState<number>(10);
    s.restore<number>({ evicted: 4, keys: [['x', 1], ['y', 2]] }, (v) => v, 'test');
    s.set('z', 3);
    s.touch('x');
    expect(s.snapshot((v) => v)).toEqual({ evicted: 4, keys: [['y', 2], ['z', 3], ['x', 1]] });
    expect(() => s.restore({ keys: [] }, (v) => v, 'test')).toThrow(/bad snapshot/);
  });

  it('behaves as a Map re-inserting each touched key, whatever the operations (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.array(opArb, { maxLength: 200 }), (cap, ops) => {
        const s = new KeyedState<number>(cap);
        const m = new MapModel(cap);
        for (const o of ops) {
          if (o.op === 'expire') {
            s.expireFront((v) => v < o.below);
            m.expireFront((v) => v < o.below);
            continue;
          }
          const k = `k${o.key}`;
          if (o.op === 'touch') expect(s.touch(k)).toBe(m.touch(k));
          else if (o.op === 'peek') expect(s.peek(k)).toBe(m.map.get(k));
          else if (o.op === 'set') {
            s.set(k, o.value);
            m.set(k, o.value);
          } else {
            s.delete(k);
            m.map.delete(k);
          }
          expect(s.size).toBe(m.map.size);
        }
        expect(s.snapshot((v) => v)).toEqual({ evicted: m.evicted, keys: [...m.map] });
        expect(s.oldest()).toBe(m.map.values().next().value);
      }),
      { numRuns: 300 },
    );
  });
  it('expireBefore drops the same keys as expireFront with the same bound', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 100 })), { maxLength: 60 }), fc.integer({ min: 0, max: 100 }), (writes, bound) => {
        const a = new KeyedState<number>(6);
        const b = new KeyedState<number>(6);
        for (const [k, v] of writes) {
          a.set(`k${k}`, v);
          b.set(`k${k}`, v);
        }
        a.expireFront((v) => v < bound);
        b.expireBefore((v) => v, bound);
        expect([...b.entries()]).toEqual([...a.entries()]);
      }),
      { numRuns: 300 },
    );
  });
});

describe('SharedKeys', () => {
  type SharedOp = { state: number; op: 'touch' | 'set' | 'delete' | 'peek' | 'restore'; key: number; value: number } | { state: number; op: 'expire'; below: number };
  const sharedOpArb: fc.Arbitrary<SharedOp> = fc.oneof(
    fc.record({ state: fc.nat(2), op: fc.constantFrom('touch' as const, 'set' as const, 'delete' as const, 'peek' as const, 'restore' as const), key: fc.nat(6), value: fc.nat(100) }),
    fc.record({ state: fc.nat(2), op: fc.constant('expire' as const), below: fc.nat(100) }),
  );

  it('states sharing one key index each behave as a Map of their own, whatever the operations of the others (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 3, maxLength: 3 }), fc.array(sharedOpArb, { maxLength: 300 }), (caps, ops) => {
        const keys = new SharedKeys();
        const states = caps.map((c) => new KeyedState<number>(c, keys));
        const models = caps.map((c) => new MapModel(c));
        for (const o of ops) {
          const s = states[o.state];
          const m = models[o.state];
          if (o.op === 'expire') {
            s.expireBefore((v) => v, o.below);
            m.expireFront((v) => v < o.below);
            continue;
          }
          const k = `k${o.key}`;
          if (o.op === 'touch') expect(s.touch(k)).toBe(m.touch(k));
          else if (o.op === 'peek') expect(s.peek(k)).toBe(m.map.get(k));
          else if (o.op === 'set') {
            expect(s.set(k, o.value)).toBe(!m.map.has(k));
            m.set(k, o.value);
          } else if (o.op === 'delete') {
            s.delete(k);
            m.map.delete(k);
          } else {
            // Restoring one state from a snapshot of itself, with one key fewer, leaves the others as they were.
            const snap = s.snapshot((v) => v);
            snap.keys = snap.keys.filter(([key]) => key !== k);
            m.map.delete(k);
            s.restore<number>(snap, (v) => v, 'test');
          }
          expect(s.size).toBe(m.map.size);
        }
        for (let i = 0; i < states.length; i++) expect(states[i].snapshot((v) => v).keys).toEqual([...models[i].map]);
        // A key is in the shared index while some state holds it.
        expect(keys.size).toBe(new Set(models.flatMap((m) => [...m.map.keys()])).size);
      }),
      { numRuns: 300 },
    );
  });
});
