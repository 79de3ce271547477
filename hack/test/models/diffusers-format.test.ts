/** @jest-environment ./hack/test/models/host-typed-arrays-environment.mjs */
// `generate --format diffusers` writes the preset as a diffusers folder with the generator's own weights in torch
// layouts; the product's converter turns it back into graphs that compute what the generated ONNX folder computes.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { convertPipeline } from '@hypergen/server/convert/convert-pipeline.js';
import { SafetensorsFile } from '@hypergen/server/convert/safetensors.js';
import { ensurePipeline } from '../../src/models/pipeline.js';
import { preset } from '../../src/models/presets.js';

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'hypergen-diffusers-format-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function outputs(path: string, feeds: (s: InferenceSession) => Record<string, Tensor>): Promise<Record<string, Float32Array>> {
  const session = await InferenceSession.create(path);
  try {
    const out = await session.run(feeds(session));
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
  } finally {
    await session.release();
  }
}

const noise = (n: number, phase: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + phase));
const maxDiff = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - (b[i] as number))), 0);

describe.each(['tiny-sd', 'tiny-sdxl'])('%s in diffusers format', (name) => {
  let onnxDir: string;
  let converted: string;
  beforeAll(() => {
    const p = preset(name);
    onnxDir = ensurePipeline(p, join(root, `${name}-onnx`)).dir;
    const diffusers = ensurePipeline(p, join(root, `${name}-diffusers`), 0, false, 'diffusers');
    expect(diffusers.components.map((c) => c.component)).toEqual(p.textEncoder2 ? ['text_encoder', 'text_encoder_2', 'unet', 'vae'] : ['text_encoder', 'unet', 'vae']);
    converted = convertPipeline(diffusers.dir, join(root, `${name}-converted`), { dtype: 'fp32' }).out;
  });

  it('stores Linear weights [out, in] and norm affines [C] as torch does', () => {
    const file = SafetensorsFile.open(join(root, `${name}-diffusers`, 'unet', 'diffusion_pytorch_model.safetensors'));
    try {
      expect(file.tensors.get('time_embedding.linear_1.weight')?.shape).toEqual([128, 32]); // Linear(32 -> 128)
      expect(file.tensors.get('conv_norm_out.weight')?.shape).toEqual([32]);
      expect(file.tensors.get('conv_in.weight')?.shape).toEqual([32, 4, 3, 3]);
    } finally {
      file.close();
    }
  });

  it('converts to graphs that compute what the generated ONNX pipeline computes', async () => {
    const ids = (s: InferenceSession): Tensor => {
      const values = [49406, 320, 1125, 539, 320, 2368, 49407, ...new Array<number>(70).fill(49407)];
      return s.inputMetadata.find((m) => m.name === 'input_ids' && m.isTensor && m.type === 'int32')
        ? new Tensor('int32', Int32Array.from(values), [1, 77])
        : new Tensor('int64', BigInt64Array.from(values, BigInt), [1, 77]);
    };
    for (const encoder of preset(name).textEncoder2 ? ['text_encoder', 'text_encoder_2'] : ['text_encoder']) {
      const a = await outputs(join(onnxDir, encoder, 'model.onnx'), (s) => ({ input_ids: ids(s) }));
      const b = await outputs(join(converted, encoder, 'model.onnx'), (s) => ({ input_ids: ids(s) }));
      expect(maxDiff(b.last_hidden_state!, a.last_hidden_state!)).toBeLessThan(1e-5);
    }

    const p = preset(name);
    const unetFeeds = (s: InferenceSession): Record<string, Tensor> => {
      const t = s.inputMetadata.find((m) => m.name === 'timestep' && m.isTensor)!;
      const timestep =
        t.isTensor && t.type === 'int64'
          ? new Tensor('int64', BigInt64Array.from([500n, 500n]), [2])
          : new Tensor('float32', Float32Array.from(t.isTensor && t.shape.length === 0 ? [500] : [500, 500]), t.isTensor && t.shape.length === 0 ? [] : [2]);
      const feeds: Record<string, Tensor> = {
        sample: new Tensor('float32', noise(2 * 4 * 16 * 16, 0), [2, 4, 16, 16]),
        timestep,
        encoder_hidden_states: new Tensor('float32', noise(2 * 77 * p.unet.cross_attention_dim, 1), [2, 77, p.unet.cross_attention_dim]),
      };
      if (p.textEncoder2) {
        feeds.text_embeds = new Tensor('float32', noise(2 * 32, 2), [2, 32]);
        feeds.time_ids = new Tensor('float32', Float32Array.from([64, 64, 0, 0, 64, 64, 64, 64, 0, 0, 64, 64]), [2, 6]);
      }
      return feeds;
    };
    const u1 = await outputs(join(onnxDir, 'unet', 'model.onnx'), unetFeeds);
    const u2 = await outputs(join(converted, 'unet', 'model.onnx'), unetFeeds);
    expect(maxDiff(u2.out_sample!, u1.out_sample!)).toBeLessThan(1e-4);

    const latent = { latent_sample: new Tensor('float32', noise(4 * 8 * 8, 3), [1, 4, 8, 8]) };
    const v1 = await outputs(join(onnxDir, 'vae_decoder', 'model.onnx'), () => latent);
    const v2 = await outputs(join(converted, 'vae_decoder', 'model.onnx'), () => latent);
    expect(v1.sample!.some((v) => v !== 0)).toBe(true);
    expect(maxDiff(v2.sample!, v1.sample!)).toBeLessThan(1e-5);
  });
});
