// The torch CPU generator port against torch's own output (fixtures/parity/torch_randn.json) and diffusers' first
// UNet input (fixtures/parity/intermediates): every listed value bit for bit and every tensor's sha256.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { TorchGenerator } from '../../src/engine/noise.js';
import { drawNoise, imageGenerators, imageSeed } from '../../src/engine/pipeline/latents.js';
import { createScheduler, parseSchedulerConfig, resolveSchedulerConfig } from '../../src/engine/schedulers/index.js';
import { readNpyFloat32 } from '../support/npy.js';

const PARITY = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', 'fixtures', 'parity');

interface RandnCase {
  seed: number;
  shape: number[];
  numel: number;
  sha256: string;
  values?: number[];
  first32?: number[];
  last32?: number[];
}
const fixture = JSON.parse(readFileSync(join(PARITY, 'torch_randn.json'), 'utf8')) as { cases: RandnCase[] };

const digest = (values: Float32Array) => createHash('sha256').update(Buffer.from(values.buffer, values.byteOffset, values.byteLength)).digest('hex');

/** The float32 bit patterns, so that a 1-ulp difference fails the comparison. */
const bitsOf = (values: ArrayLike<number>) => Array.from(Float32Array.from(values as ArrayLike<number>), (v) => new Uint32Array(Float32Array.of(v).buffer)[0]);

describe('torch.randn port (torch.Generator("cpu").manual_seed(seed))', () => {
  it.each(fixture.cases.map((c) => [`seed ${c.seed} shape [${c.shape.join(', ')}]`, c] as const))('%s: float32 bits and sha256 equal torch', (_, c) => {
    const values = new TorchGenerator(c.seed).randn(c.shape);
    expect(values.length).toBe(c.numel);
    if (c.values) {
      expect(bitsOf(values)).toEqual(bitsOf(c.values));
    } else {
      expect(bitsOf(values.subarray(0, 32))).toEqual(bitsOf(c.first32!));
      expect(bitsOf(values.subarray(values.length - 32))).toEqual(bitsOf(c.last32!));
    }
    expect(digest(values)).toBe(c.sha256);
  });

  it('covers every seed and shape of the fixture (20 tensors, including numel % 16 != 0 and a batch of 2)', () => {
    expect(fixture.cases.length).toBe(20);
    expect(fixture.cases.some((c) => c.numel % 16 !== 0)).toBe(true);
  });

  it('continues one mt19937 stream across calls: two [1,4,8,8] draws are the [2,4,8,8] draw', () => {
    const batched = fixture.cases.find((c) => c.seed === 42 && c.shape[0] === 2)!;
    const g = new TorchGenerator(42);
    const two = new Float32Array([...g.randn([1, 4, 8, 8]), ...g.randn([1, 4, 8, 8])]);
    expect(digest(two)).toBe(batched.sha256);
  });

  it('seeds mt19937 with seed mod 2^32, as manual_seed does', () => {
    expect(digest(new TorchGenerator(2 ** 32).randn([64]))).toBe(digest(new TorchGenerator(0).randn([64])));
    expect(digest(new TorchGenerator(2 ** 32 + 42).randn([64]))).toBe(digest(new TorchGenerator(42).randn([64])));
    expect(() => new TorchGenerator(-1)).toThrow(/seed/);
    expect(() => new TorchGenerator(1.5)).toThrow(/seed/);
  });

  it('numel < 16 takes the scalar double path, whose second Box-Muller value is cached in the generator', () => {
    const whole = new TorchGenerator(7).randn([4]);
    const g = new TorchGenerator(7);
    // randn(3) leaves the sine half of the second pair cached; randn(1) returns it.
    expect([...g.randn([3]), ...g.randn([1])]).toEqual([...whole]);
    // Four values from two pairs: four 64-bit uniforms, i.e. 8 mt19937 outputs, then the stream goes on.
    const h = new TorchGenerator(7);
    for (let i = 0; i < 8; i++) h.random();
    const after = new TorchGenerator(7);
    after.randn([4]);
    expect(after.random()).toBe(h.random());
    expect(Array.from(whole).every((v) => Number.isFinite(v) && Math.abs(v) < 10)).toBe(true);
  });

  it('draws standard normal values', () => {
    const values = new TorchGenerator(7).randn([200_000]);
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length;
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(variance - 1)).toBeLessThan(0.02);
  });
});

describe('per-image seeds and latents (diffusers with a list of CPU generators)', () => {
  it('image i uses (seed + i) mod 2^32', () => {
    expect([0, 1, 2].map((i) => imageSeed(4294967295, i))).toEqual([4294967295, 0, 1]);
    expect([0, 1].map((i) => imageSeed(42, i))).toEqual([42, 43]);
  });

  it('each image draws [1, ...] from its own generator: image 1 of a batch is its seed drawn alone', () => {
    const batch = drawNoise(imageGenerators([{ seed: 4294967295, n: 3 }]), [4, 8, 8]);
    const alone = drawNoise(imageGenerators([{ seed: 0, n: 1 }]), [4, 8, 8]);
    expect(digest(batch.subarray(256, 512))).toBe(digest(alone));
    expect(digest(batch.subarray(0, 256))).toBe(fixture.cases.find((c) => c.seed === 4294967295 && c.numel === 256)!.sha256);
  });

  it('initial latents = randn([1,4,h,w]) * init_noise_sigma: diffusers sd15-tiny c01 (Euler, seed 42) first UNet sample', () => {
    const dir = join(PARITY, 'intermediates', 'torch-seed', 'sd15-tiny', 'c01-euler-cfg');
    const config = resolveSchedulerConfig('euler', parseSchedulerConfig(JSON.parse(readFileSync(join(PARITY, 'diffusers', 'sd15-tiny', 'scheduler', 'scheduler_config.json'), 'utf8'))));
    const scheduler = createScheduler('euler', config, 10);
    // Within float32 rounding: our alphas_cumprod may differ from torch's in the last bits (README of schedulers).
    const sigma = readNpyFloat32(join(dir, 'scheduler_init_noise_sigma.npy'))[0]!;
    expect(Math.abs(scheduler.initNoiseSigma - sigma) / sigma).toBeLessThan(1e-6);
    const latents = drawNoise(imageGenerators([{ seed: 42, n: 1 }]), [4, 32, 32], scheduler.initNoiseSigma);
    const sample = scheduler.scaleModelInput(latents, 0);
    const expected = readNpyFloat32(join(dir, 'unet0_sample.npy')).subarray(0, sample.length); // CFG: row 0 = row 1
    let worst = 0;
    for (let i = 0; i < sample.length; i++) worst = Math.max(worst, Math.abs(sample[i]! - expected[i]!) / Math.max(1, Math.abs(expected[i]!)));
    expect(worst).toBeLessThanOrEqual(2e-6);
  });
});
