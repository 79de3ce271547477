import { createHash } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { NoiseGenerator } from '../../src/engine/noise.js';

const digest = (values: Float32Array) => createHash('sha256').update(Buffer.from(values.buffer)).digest('hex');

describe('seeded noise', () => {
  it('gives the same bytes for the same seed', () => {
    expect(digest(new NoiseGenerator(42).normal(4096))).toBe(digest(new NoiseGenerator(42).normal(4096)));
  });

  it('is pinned: the first values of seed 0 and 42 never change across machines or releases', () => {
    // Recorded from this implementation; a change here changes every image a seed produces.
    expect(Array.from(new NoiseGenerator(0).normal(4), (v) => v.toFixed(6))).toEqual(PINNED_0);
    expect(new NoiseGenerator(42).nextUint32()).toBe(PINNED_42_UINT);
  });

  it('gives different streams for different seeds, including seeds that differ only above 32 bits', () => {
    const a = new NoiseGenerator(1).normal(64);
    expect(digest(a)).not.toBe(digest(new NoiseGenerator(2).normal(64)));
    expect(digest(new NoiseGenerator(5).normal(64))).not.toBe(digest(new NoiseGenerator(5 + 2 ** 32).normal(64)));
  });

  it('draws standard normal values', () => {
    const values = new NoiseGenerator(7).normal(200_000);
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length;
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(variance - 1)).toBeLessThan(0.02);
    expect(values.every(Number.isFinite)).toBe(true);
  });

  it('continues one stream across calls (per-step noise follows the initial latents)', () => {
    const whole = new NoiseGenerator(9).normal(10);
    const parts = new NoiseGenerator(9);
    expect([...parts.normal(3), ...parts.normal(7)]).toEqual([...whole]);
  });

  it('rejects seeds that are not safe integers', () => {
    expect(() => new NoiseGenerator(1.5)).toThrow(/seed/);
  });
});

const PINNED_0 = ['-0.042926', '0.488167', '-1.373458', '-2.623294'];
const PINNED_42_UINT = 2837322924;
