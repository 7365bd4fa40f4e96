import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HyperLogLog, murmur3 } from '../../operators/aggregates/hll.js';

/**
 * MurmurHash3_x86_32 written byte by byte from the reference (aappleby/smhasher, src/MurmurHash3.cpp),
 * independent of the char-code shortcut in hll.ts.
 */
function referenceMurmur3(bytes: Uint8Array, seed = 0): number {
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  const rotl = (x: number, r: number) => (x << r) | (x >>> (32 - r));
  const nblocks = Math.floor(bytes.length / 4);
  let h1 = seed | 0;
  for (let b = 0; b < nblocks; b++) {
    const o = b * 4;
    let k1 = bytes[o] | (bytes[o + 1] << 8) | (bytes[o + 2] << 16) | (bytes[o + 3] << 24);
    k1 = Math.imul(k1, c1);
    k1 = rotl(k1, 15);
    k1 = Math.imul(k1, c2);
    h1 ^= k1;
    h1 = rotl(h1, 13);
    h1 = (Math.imul(h1, 5) + 0xe6546b64) | 0;
  }
  const tail = nblocks * 4;
  let k1 = 0;
  switch (bytes.length & 3) {
    case 3:
      k1 ^= bytes[tail + 2] << 16;
    // falls through
    case 2:
      k1 ^= bytes[tail + 1] << 8;
    // falls through
    case 1:
      k1 ^= bytes[tail];
      k1 = Math.imul(k1, c1);
      k1 = rotl(k1, 15);
      k1 = Math.imul(k1, c2);
      h1 ^= k1;
  }
  h1 ^= bytes.length;
  h1 ^= h1 >>> 16;
  h1 = Math.imul(h1, 0x85ebca6b);
  h1 ^= h1 >>> 13;
  h1 = Math.imul(h1, 0xc2b2ae35);
  h1 ^= h1 >>> 16;
  return h1 >>> 0;
}

const utf16le = (s: string) => new Uint8Array(Buffer.from(s, 'utf16le'));
const se = (p: number) => 1.04 / Math.sqrt(2 ** p);

/** A sketch of `n` distinct strings, `${prefix}${i}`. */
function sketchOf(p: number, n: number, prefix = 'v', from = 0): HyperLogLog {
  const hll = new HyperLogLog(p);
  for (let i = from; i < from + n; i++) hll.addString(prefix + i);
  return hll;
}

describe('murmur3', () => {
  it('the byte-wise reference matches published MurmurHash3_x86_32 vectors', () => {
    const vectors: [number[] | string, number, number][] = [
      [[], 0, 0],
      [[], 1, 0x514e28b7],
      [[], 0xffffffff, 0x81f16f39],
      [[0xff, 0xff, 0xff, 0xff], 0, 0x76293b50],
      [[0x21, 0x43, 0x65, 0x87], 0, 0xf55b516b],
      [[0x21, 0x43, 0x65, 0x87], 0x5082edee, 0x2362f9de],
      [[0x21, 0x43, 0x65], 0, 0x7e4a8634],
      [[0x21, 0x43], 0, 0xa0f7b07a],
      [[0x21], 0, 0x72661cf4],
      [[0, 0, 0, 0], 0, 0x2362f9de],
      [[0, 0, 0], 0, 0x85f0b427],
      [[0, 0], 0, 0x30f4c306],
      [[0], 0, 0x514e28b7],
      ['Hello, world!', 0x9747b28c, 0x24884cba],
      ['aaaa', 0x9747b28c, 0x5a97808a],
      ['The quick brown fox jumps over the lazy dog', 0x9747b28c, 0x2fa826cd],
    ];
    for (const [input, seed, expected] of vectors) {
      const bytes = typeof input === 'string' ? new Uint8Array(Buffer.from(input, 'latin1')) : Uint8Array.from(input);
      expect(referenceMurmur3(bytes, seed), `${JSON.stringify(input)} seed ${seed}`).toBe(expected);
    }
  });

  it('hashes the UTF-16LE bytes: published vectors whose bytes are whole char codes', () => {
    expect(murmur3('')).toBe(0);
    expect(murmur3('', 1)).toBe(0x514e28b7);
    expect(murmur3('\u0000')).toBe(0x30f4c306); // 00 00
    expect(murmur3('\u0000\u0000')).toBe(0x2362f9de); // 00 00 00 00
    expect(murmur3('\u4321')).toBe(0xa0f7b07a); // 21 43
    expect(murmur3('\u4321\u8765')).toBe(0xf55b516b); // 21 43 65 87
    expect(murmur3('\uffff\uffff')).toBe(0x76293b50);
  });

  it('equals the byte-wise reference on UTF-16LE for chosen strings', () => {
    // Odd and even lengths (tail or no tail), non-ASCII, a surrogate pair, a lone surrogate.
    for (const s of ['a', 'ab', 'abc', 'hello', 's:hello', 'n:1', 'b:true', 'héllo wörld ✓', '😀', '\ud800x', 'x'.repeat(1001)]) {
      expect(murmur3(s), JSON.stringify(s)).toBe(referenceMurmur3(utf16le(s)));
    }
    // Pinned from the reference, so a change in either one shows.
    expect(murmur3('s:hello')).toBe(75753316);
    expect(referenceMurmur3(utf16le('s:hello'))).toBe(75753316);
  });

  it('equals the byte-wise reference on UTF-16LE for any string and seed', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), fc.nat({ max: 0xffffffff }), (s, seed) => {
        expect(murmur3(s, seed)).toBe(referenceMurmur3(utf16le(s), seed));
      }),
    );
  });
});

describe('HyperLogLog', () => {
  for (const p of [14, 10]) {
    for (const n of [1e3, 1e5, 1e6]) {
      it(`p = ${p}: ${n} distinct values within 3 standard errors`, () => {
        const hll = sketchOf(p, n, `p${p}-n${n}-`);
        // Repeats change nothing.
        for (let i = 0; i < 1000; i++) hll.addString(`p${p}-n${n}-${i}`);
        expect(Math.abs(hll.estimate() - n) / n).toBeLessThan(3 * se(p));
      });
    }
  }

  it('is nearly exact for small counts (linear counting)', () => {
    const hll = new HyperLogLog(14);
    expect(hll.estimate()).toBe(0);
    for (let n = 1; n <= 100; n++) {
      hll.addString(`small-${n}`);
      expect(Math.abs(Math.round(hll.estimate()) - n), `n = ${n}`).toBeLessThanOrEqual(1);
    }
    expect(Math.round(sketchOf(14, 1).estimate())).toBe(1);
  });

  it('merge is the union: same registers and estimate as one sketch of everything', () => {
    for (const p of [4, 10, 14]) {
      const a = sketchOf(p, 30_000, 'k', 0);
      const b = sketchOf(p, 30_000, 'k', 20_000);
      const whole = sketchOf(p, 50_000, 'k', 0);
      const before = b.registers();
      a.merge(b);
      expect(a.registers()).toEqual(whole.registers());
      expect(a.estimate()).toBe(whole.estimate());
      expect(b.registers()).toEqual(before);
    }
  });

  it('refuses to merge sketches of different precision', () => {
    expect(() => new HyperLogLog(12).merge(new HyperLogLog(14))).toThrow(/precision 14 and 12/);
  });

  it('fromRegisters(registers()) round-trips, and registers() is a copy', () => {
    const hll = sketchOf(12, 5000);
    const regs = hll.registers();
    expect(regs.length).toBe(2 ** 12);
    const copy = HyperLogLog.fromRegisters(12, regs);
    expect(copy.registers()).toEqual(regs);
    expect(copy.estimate()).toBe(hll.estimate());
    regs.fill(0);
    expect(hll.registers()).toEqual(copy.registers());
    // A Buffer (what msgpack decodes to) works too.
    expect(HyperLogLog.fromRegisters(12, Buffer.from(hll.registers())).estimate()).toBe(hll.estimate());
  });

  it('rejects bad precisions and impossible registers', () => {
    for (const p of [3, 17, 10.5, Number.NaN]) expect(() => new HyperLogLog(p)).toThrow(RangeError);
    expect(() => HyperLogLog.fromRegisters(10, new Uint8Array(512))).toThrow(/1024 registers, got 512/);
    const regs = new Uint8Array(1024);
    regs[7] = 33 - 10;
    expect(() => HyperLogLog.fromRegisters(10, regs)).not.toThrow();
    regs[7] = 34 - 10;
    expect(() => HyperLogLog.fromRegisters(10, regs)).toThrow(/register 7/);
  });

  it('addHash: the top p bits pick the register, which keeps the max rank of the rest', () => {
    const p = 4;
    const hll = new HyperLogLog(p);
    hll.addHash(0x3_8000000); // register 3, rest 1000...: rank 1
    hll.addHash(0x3_0100000); // register 3, rest 0000 0001...: rank 8
    hll.addHash(0x3_0800000); // register 3, rank 5: smaller, kept at 8
    hll.addHash(0xf_0000000); // register 15, rest all zero: rank 32 - p + 1
    const regs = hll.registers();
    expect(regs[3]).toBe(8);
    expect(regs[15]).toBe(33 - p);
    expect([...regs].filter((r) => r !== 0)).toHaveLength(2);
  });

  it('applies the 32-bit large-range correction and stays finite when saturated', () => {
    const p = 10;
    const m = 2 ** p;
    const raw = (regs: Uint8Array) => {
      let sum = 0;
      for (const r of regs) sum += 2 ** -r;
      return ((0.7213 / (1 + 1.079 / m)) * m * m) / sum;
    };
    // All registers at 22: raw ~ 0.72 * 2^32, well past 2^32 / 30.
    const regs = new Uint8Array(m).fill(22);
    const e = raw(regs);
    expect(e).toBeGreaterThan(2 ** 32 / 30);
    expect(HyperLogLog.fromRegisters(p, regs).estimate()).toBeCloseTo(-(2 ** 32) * Math.log(1 - e / 2 ** 32), 0);
    // Every register at its maximum rank: saturated, finite, and not smaller than the line above.
    const full = HyperLogLog.fromRegisters(p, new Uint8Array(m).fill(33 - p)).estimate();
    expect(Number.isFinite(full)).toBe(true);
    expect(full).toBeGreaterThan(HyperLogLog.fromRegisters(p, regs).estimate());
  });
});
