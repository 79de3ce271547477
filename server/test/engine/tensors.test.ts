import { describe, expect, it } from '@jest/globals';
import { fromFloat16Bits, toFloat16Array, toFloat16Bits } from '../../src/engine/pipeline/tensors.js';

describe('float16 conversion (fp16 exports)', () => {
  it('encodes IEEE 754 binary16 bit patterns', () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [0.1, 0x2e66],
      [1 / 3, 0x3555],
      [65504, 0x7bff], // largest finite
      [65520, 0x7c00], // rounds up to infinity
      [Infinity, 0x7c00],
      [-Infinity, 0xfc00],
      [2 ** -14, 0x0400], // smallest normal
      [2 ** -24, 0x0001], // smallest subnormal
      [2 ** -25, 0x0000], // halfway to the smallest subnormal: ties to even (zero)
      [1.5 * 2 ** -24, 0x0002], // halfway between 1 and 2 subnormal steps: ties to even (2)
      [1 + 2 ** -11, 0x3c00], // halfway above 1: ties to even (1)
      [1 + 3 * 2 ** -11, 0x3c02], // halfway between 1+2^-10 and 1+2^-9: ties to even
    ];
    for (const [value, bits] of cases) expect([value, toFloat16Bits(value)]).toEqual([value, bits]);
    expect(toFloat16Bits(NaN) & 0x7c00).toBe(0x7c00);
    expect(toFloat16Bits(NaN) & 0x3ff).not.toBe(0);
  });

  it('decodes every binary16 value and re-encodes it to the same bits', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      const value = fromFloat16Bits(bits);
      if (Number.isNaN(value)) {
        expect((bits & 0x7c00) === 0x7c00 && (bits & 0x3ff) !== 0).toBe(true);
        continue;
      }
      if (toFloat16Bits(value) !== bits) throw new Error(`0x${bits.toString(16)} -> ${value} -> 0x${toFloat16Bits(value).toString(16)}`);
    }
    expect(fromFloat16Bits(0x3c00)).toBe(1);
    expect(fromFloat16Bits(0xc000)).toBe(-2);
    expect(fromFloat16Bits(0x0001)).toBe(2 ** -24);
  });

  it('converts whole arrays bit for bit as toFloat16Bits does (every 257th float32 bit pattern, and the ties)', () => {
    const patterns = new Uint32Array(2 ** 32 / 257 + 64);
    let n = 0;
    for (let b = 0; b < 2 ** 32; b += 257) patterns[n++] = b;
    // Exact ties (13 dropped bits = 0x1000) around both ends of the normal range and in the middle.
    for (const base of [0x38800000, 0x3f800000, 0x477fe000, 0x477ff000, 0x47800000 - 0x2000]) {
      for (const tie of [0x0fff, 0x1000, 0x1001, 0x3000]) patterns[n++] = (base & ~0x1fff) | tie;
      for (const tie of [0x0fff, 0x1000, 0x1001, 0x3000]) patterns[n++] = ((base & ~0x1fff) | tie) | 0x80000000;
    }
    const values = new Float32Array(patterns.buffer, 0, n);
    const got = toFloat16Array(values);
    for (let i = 0; i < n; i++) {
      const want = toFloat16Bits(values[i]!);
      const nan = Number.isNaN(values[i]!);
      // NaN payloads may differ; both must be a NaN of the same sign.
      if (nan ? (got[i]! & 0xfc00) !== (want & 0xfc00) || (got[i]! & 0x3ff) === 0 : got[i] !== want) {
        throw new Error(`0x${patterns[i]!.toString(16)}: got 0x${got[i]!.toString(16)}, want 0x${want.toString(16)}`);
      }
    }
    expect(n).toBeGreaterThan(16_000_000);
  });
});
