// AutoencoderKL.tiled_decode's geometry and blending (vae-tiling.ts) on decoders whose right answer is known; the
// match with diffusers itself on real VAEs is in test/parity/diffusers-images.test.ts (the vae tiling suite).
import { describe, expect, it } from '@jest/globals';
import { needsTiling, tiledDecode, vaeTiling, type Planar } from '../../src/engine/pipeline/vae-tiling.js';

/** A deterministic [B, C, h, w] tensor. */
function latents(b: number, c: number, h: number, w: number): Planar {
  return { data: Float32Array.from({ length: b * c * h * w }, (_, i) => Math.sin(i * 0.731) + (i % 5)), shape: [b, c, h, w] };
}

/** A decoder that is local (each output pixel depends on one latent): nearest upsampling by f to 3 channels. */
const upsample =
  (f: number) =>
  async (z: Planar): Promise<Planar> => {
    const [b, c, h, w] = z.shape;
    const out = new Float32Array(b * 3 * h * f * w * f);
    for (let n = 0; n < b; n++)
      for (let k = 0; k < 3; k++)
        for (let y = 0; y < h * f; y++)
          for (let x = 0; x < w * f; x++) out[((n * 3 + k) * h * f + y) * w * f + x] = z.data[((n * c + (k % c)) * h + Math.floor(y / f)) * w + Math.floor(x / f)]!;
    return { data: out, shape: [b, 3, h * f, w * f] };
  };

describe('vae tiling', () => {
  it('takes the tile from the VAE config as diffusers does: sample_size / 2 ** (blocks - 1), overlap 0.25', () => {
    expect(vaeTiling(512, 8)).toEqual({ latentTile: 64, sampleTile: 512, overlap: 0.25 });
    expect(vaeTiling(1024, 8)).toEqual({ latentTile: 128, sampleTile: 1024, overlap: 0.25 });
    expect(needsTiling(vaeTiling(512, 8), [1, 4, 64, 64])).toBe(false);
    expect(needsTiling(vaeTiling(512, 8), [1, 4, 64, 65])).toBe(true);
  });

  it.each([
    [64, 64],
    [48, 64],
    [37, 90],
  ])('reproduces a local decoder exactly at %ix%i latents (tiles, blends and crops line up)', async (h, w) => {
    const z = latents(2, 4, h, w);
    const direct = await upsample(2)(z);
    const tiled = await tiledDecode(z, vaeTiling(64, 2), upsample(2));
    expect(tiled.shape).toEqual(direct.shape);
    let maxDiff = 0;
    for (let i = 0; i < direct.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(direct.data[i]! - tiled.data[i]!));
    expect(maxDiff).toBeLessThan(1e-5);
  });

  it('decodes tiles of latentTile every 0.75 tile: 64 latents with 32-latent tiles are 3 x 3 tiles, the last ones 16 wide', async () => {
    const seen: number[][] = [];
    await tiledDecode(latents(1, 4, 64, 64), vaeTiling(64, 2), async (tile) => {
      seen.push(tile.shape.slice(2));
      return upsample(2)(tile);
    });
    expect(seen).toEqual([
      [32, 32], [32, 32], [32, 16],
      [32, 32], [32, 32], [32, 16],
      [16, 32], [16, 32], [16, 16],
    ]);
  });

  it('fades each seam linearly from the tile before to the tile after (sampleTile x overlap pixels)', async () => {
    // Each tile decodes to a constant: its index. The seam between tiles 0 and 1 runs over 16 pixels from x = 48.
    let index = 0;
    const out = await tiledDecode(latents(1, 4, 32, 56), vaeTiling(64, 2), async (tile) => {
      const [b, , h, w] = tile.shape;
      return { data: new Float32Array(b * 3 * h * 2 * w * 2).fill(index++), shape: [b, 3, h * 2, w * 2] };
    });
    const width = out.shape[3];
    expect(out.shape).toEqual([1, 3, 64, 112]);
    // Output columns 0-47 are tile 0; tile 1's first 16 columns blend with tile 0's last 16: at x = 48 + k, k / 16.
    expect(out.data[10 * width + 47]).toBe(0);
    for (let k = 0; k < 16; k++) expect(out.data[10 * width + 48 + k]).toBeCloseTo(k / 16, 6);
    expect(out.data[10 * width + 48 + 16]).toBe(1);
  });
});
