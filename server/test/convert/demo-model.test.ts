/** @jest-environment ./hack/test/models/host-typed-arrays-environment.mjs */
// The trained demo pipeline (hack/demo-model/shapes-pipeline: SD 1.x architecture, norm_num_groups 16, a 4-block
// VAE) converts completely, and its converted VAE encoder and decoder invert each other on a drawn image.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import ort from 'onnxruntime-node';
import { convertPipeline, type ConvertReport } from '../../src/convert/convert-pipeline.js';
import { readModelConfig } from '../../src/engine/pipeline/model-config.js';

const DEMO = resolve('hack/demo-model/shapes-pipeline');
const SIZE = 128;

/** A red square on a light grey background, in the VAE's [-1, 1] range, [1, 3, SIZE, SIZE]. */
function drawnImage(): Float32Array {
  const img = new Float32Array(3 * SIZE * SIZE);
  for (let y = 0; y < SIZE; y++)
    for (let x = 0; x < SIZE; x++) {
      const inside = x > 32 && x < 96 && y > 40 && y < 100;
      const rgb = inside ? [0.9, -0.8, -0.8] : [0.9, 0.9, 0.9];
      for (let c = 0; c < 3; c++) img[(c * SIZE + y) * SIZE + x] = rgb[c] as number;
    }
  return img;
}

/** PSNR in dB of two [-1, 1] images measured on [0, 1]. */
function psnr(a: Float32Array, b: Float32Array): number {
  let se = 0;
  for (let i = 0; i < a.length; i++) se += ((Math.min(1, Math.max(-1, a[i] as number)) - (b[i] as number)) / 2) ** 2;
  return 10 * Math.log10(1 / (se / a.length));
}

describe('the converted demo model', () => {
  let root: string;
  let out: string;
  let report: ConvertReport;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'hypergen-demo-'));
    out = join(root, 'demo');
    report = convertPipeline(DEMO, out, { dtype: 'fp32' });
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('uses every tensor of the checkpoints, with the parameter counts of its README', () => {
    const params = Object.fromEntries(report.components.map((c) => [c.component, c.parameters]));
    expect(params.text_encoder).toBe(3_317_120);
    expect(params.unet).toBe(5_497_252);
    expect((params.vae_decoder ?? 0) + (params.vae_encoder ?? 0)).toBe(978_103); // the whole AutoencoderKL (README: 0.98 M)
    for (const c of report.components) expect(c.unused).toEqual([]);
  });

  it('is a pipeline the engine reads: SD family, 128x128 by default', () => {
    const config = readModelConfig(out);
    expect(config.family).toBe('sd');
    expect(config.defaults.width).toBe(SIZE);
    expect(config.vaeScaleFactor).toBe(8);
  });

  it('the VAE encoder (latent_parameters = mean, logvar) and decoder round-trip a drawn image', async () => {
    const image = drawnImage();
    const encoder = await ort.InferenceSession.create(join(out, 'vae_encoder', 'model.onnx'));
    const decoder = await ort.InferenceSession.create(join(out, 'vae_decoder', 'model.onnx'));
    try {
      const moments = (await encoder.run({ sample: new ort.Tensor('float32', image, [1, 3, SIZE, SIZE]) })).latent_parameters!;
      const latent = SIZE / 8;
      expect(moments.dims).toEqual([1, 8, latent, latent]);
      const mean = (moments.data as Float32Array).slice(0, 4 * latent * latent);
      const decode = async (z: Float32Array): Promise<Float32Array> =>
        (await decoder.run({ latent_sample: new ort.Tensor('float32', z, [1, 4, latent, latent]) })).sample!.data as Float32Array;
      // Measured 25.2 dB; a zero latent decodes to 5.5 dB against the same image.
      expect(psnr(await decode(mean), image)).toBeGreaterThan(20);
      expect(psnr(await decode(new Float32Array(mean.length)), image)).toBeLessThan(10);
    } finally {
      await encoder.release();
      await decoder.release();
    }
  });
});
