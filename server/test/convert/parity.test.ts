/** @jest-environment ./hack/test/models/host-typed-arrays-environment.mjs */
// The converted parity pipelines (diffusers save_pretrained folders) reproduce upstream diffusers' recorded
// intermediates component by component: text embeddings (and SDXL's pooled ones), the first UNet call, the decoded image.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import ort from 'onnxruntime-node';
import { type ConvertDtype, convertPipeline, type ConvertReport } from '../../src/convert/convert-pipeline.js';
import { float32Data, floatTensor } from '../../src/engine/pipeline/tensors.js';
import { readNpy, readNpyFloat32 } from '../support/npy.js';

const FIXTURES = resolve('server/test/fixtures/parity');
const CASE = 'c01-euler-cfg';
// fp32: float32 noise (onnxruntime and torch kernels sum in other orders); measured max abs errors 4e-7..1.4e-5
// (the UNet's, largest value 10.1), bound 1e-4 x (1 + largest reference value). fp16: float16 rounding of weights
// and activations; measured up to 1.3e-2 on the UNet output (largest value 10.1), bound 3e-3 x (1 + largest value).
const TOLERANCE: Record<ConvertDtype, number> = { fp32: 1e-4, fp16: 3e-3 };
/** Largest error seen per check, printed after the suite (the figures quoted above). */
const measured: string[] = [];

function maxAbsDiff(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  let max = 0;
  for (let i = 0; i < expected.length; i++) max = Math.max(max, Math.abs((actual[i] as number) - (expected[i] as number)));
  return max;
}

function expectClose(what: string, dtype: ConvertDtype, actual: ArrayLike<number>, expected: ArrayLike<number>): void {
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i] as number));
  const diff = maxAbsDiff(actual, expected);
  measured.push(`${what} ${dtype}: max abs error ${diff.toExponential(2)} (largest reference value ${scale.toFixed(2)})`);
  expect(scale).toBeGreaterThan(0); // a reference of zeros would prove nothing
  expect(diff).toBeLessThanOrEqual(TOLERANCE[dtype] * (1 + scale));
}
afterAll(() => console.log(measured.join('\n')));

const ids = (path: string): ort.Tensor => {
  const { data, shape } = readNpy(path);
  return new ort.Tensor('int64', data as BigInt64Array, shape);
};

const concat = (...parts: Float32Array[]): Float32Array => {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

type Feeds = (float: (name: string, data: Float32Array, dims: readonly number[]) => ort.Tensor) => Record<string, ort.Tensor>;

/** Runs one component with float inputs in the types it declares (float16 for fp16 graphs); outputs as float32. */
async function run(dir: string, component: string, feeds: Feeds): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(join(dir, component, 'model.onnx'));
  try {
    const out = await session.run(feeds((name, data, dims) => floatTensor(session, name, data, dims)));
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.type === 'int64' ? new Float32Array(0) : float32Data(v, k)]));
  } finally {
    await session.release();
  }
}

/** [N, C, H, W] decoder output -> [N, H, W, C] in [0, 1], as diffusers' VaeImageProcessor postprocesses it. */
function toImage(sample: Float32Array, n: number, c: number, h: number, w: number): Float32Array {
  const out = new Float32Array(sample.length);
  for (let b = 0; b < n; b++)
    for (let ch = 0; ch < c; ch++)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) {
          const v = (sample[((b * c + ch) * h + y) * w + x] as number) / 2 + 0.5;
          out[((b * h + y) * w + x) * c + ch] = Math.min(1, Math.max(0, v));
        }
  return out;
}

describe.each([
  ['sd15-tiny', 'fp32'],
  ['sdxl-tiny', 'fp32'],
  ['sd15-tiny', 'fp16'],
  ['sdxl-tiny', 'fp16'],
] as const)('converted %s (%s) matches diffusers', (model, dtype) => {
  let root: string;
  let out: string;
  let report: ConvertReport;
  const rec = (name: string): string => join(FIXTURES, 'intermediates/torch-seed', model, CASE, `${name}.npy`);
  const sdxl = model === 'sdxl-tiny';

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'hypergen-parity-'));
    out = join(root, model);
    report = convertPipeline(join(FIXTURES, 'diffusers', model), out, { dtype });
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('writes every Optimum component with all checkpoint tensors used', () => {
    expect(report.converted).toBe(true);
    expect(report.components.map((c) => c.component)).toEqual(
      sdxl ? ['text_encoder', 'text_encoder_2', 'unet', 'vae_decoder', 'vae_encoder'] : ['text_encoder', 'unet', 'vae_decoder', 'vae_encoder'],
    );
    for (const c of report.components) {
      // fp16 keeps these VAEs in float32: their configs say force_upcast, as SD and SDXL VAEs do.
      expect(c.dtype).toBe(c.component.startsWith('vae') ? 'fp32' : dtype);
      expect(c.keptFp32 !== undefined).toBe(dtype === 'fp16' && c.component.startsWith('vae'));
      expect(c.unused).toEqual([]);
      expect(c.parameters).toBeGreaterThan(0);
    }
  });

  it('text encoders give the recorded prompt embeddings (and pooled embeddings for SDXL)', async () => {
    const index = JSON.parse(readFileSync(join(out, 'model_index.json'), 'utf8')) as Record<string, unknown>;
    expect(index._class_name).toBe(sdxl ? 'ORTStableDiffusionXLPipeline' : 'ORTStableDiffusionPipeline');
    const layers = (c: string): number => (JSON.parse(readFileSync(join(out, c, 'config.json'), 'utf8')) as { num_hidden_layers: number }).num_hidden_layers;
    if (!sdxl) {
      for (const which of ['prompt', 'negative']) {
        const r = await run(out, 'text_encoder', () => ({ input_ids: ids(rec(`token_ids_${which}`)) }));
        expectClose(`${model} text_encoder ${which}`, dtype, r.last_hidden_state!, readNpyFloat32(rec(`text_embeds_${which}`)));
      }
      return;
    }
    // SDXL: both encoders' penultimate hidden states, concatenated on the hidden axis; pooled from text_encoder_2.
    const one = await run(out, 'text_encoder', () => ({ input_ids: ids(rec('token_ids_prompt')) }));
    const two = await run(out, 'text_encoder_2', () => ({ input_ids: ids(rec('token_ids_2_prompt')) }));
    const h1 = one[`hidden_states.${layers('text_encoder') - 1}`]!;
    const h2 = two[`hidden_states.${layers('text_encoder_2') - 1}`]!;
    const d1 = h1.length / 77;
    const d2 = h2.length / 77;
    const joined = new Float32Array(77 * (d1 + d2));
    for (let t = 0; t < 77; t++) {
      joined.set(h1.subarray(t * d1, (t + 1) * d1), t * (d1 + d2));
      joined.set(h2.subarray(t * d2, (t + 1) * d2), t * (d1 + d2) + d1);
    }
    expectClose(`${model} text encoders`, dtype, joined, readNpyFloat32(rec('text_embeds_prompt')));
    expectClose(`${model} pooled`, dtype, two.text_embeds!, readNpyFloat32(rec('text_pooled_prompt')));
  });

  it('the UNet gives the recorded first output from the recorded inputs', async () => {
    const sample = readNpy(rec('unet0_sample'));
    const batch = sample.shape[0] as number;
    const t = readNpyFloat32(rec('unet0_timestep'))[0] as number;
    const context = concat(readNpyFloat32(rec('text_embeds_negative')), readNpyFloat32(rec('text_embeds_prompt')));
    const r = await run(out, 'unet', (float) => {
      const feeds: Record<string, ort.Tensor> = {
        sample: float('sample', sample.data as Float32Array, sample.shape),
        timestep: float('timestep', new Float32Array(batch).fill(t), [batch]),
        encoder_hidden_states: float('encoder_hidden_states', context, [batch, 77, context.length / batch / 77]),
      };
      if (sdxl) {
        const pooled = concat(readNpyFloat32(rec('text_pooled_negative')), readNpyFloat32(rec('text_pooled_prompt')));
        feeds.text_embeds = float('text_embeds', pooled, [batch, pooled.length / batch]);
        // add_time_ids for a 64x64 image: original size, crop (0, 0), target size.
        feeds.time_ids = float('time_ids', Float32Array.from({ length: batch * 6 }, (_, i) => [64, 64, 0, 0, 64, 64][i % 6] as number), [batch, 6]);
      }
      return feeds;
    });
    expectClose(`${model} unet`, dtype, r.out_sample!, readNpyFloat32(rec('unet0_out')));
  });

  it('the VAE decoder gives the recorded image from the final latents', async () => {
    const latents = readNpy(rec('final_latents'));
    const scaling = (JSON.parse(readFileSync(join(out, 'vae_decoder', 'config.json'), 'utf8')) as { scaling_factor: number }).scaling_factor;
    const scaled = Float32Array.from(latents.data as Float32Array, (v) => v / scaling);
    const r = await run(out, 'vae_decoder', (float) => ({ latent_sample: float('latent_sample', scaled, latents.shape) }));
    const [n, , h, w] = latents.shape as [number, number, number, number];
    const factor = 2 ** 1; // two VAE blocks in these pipelines
    expectClose(`${model} vae_decoder image`, dtype, toImage(r.sample!, n, 3, h * factor, w * factor), readNpyFloat32(rec('images')));
  });

  it('a second conversion of the same source converts nothing', () => {
    const again = convertPipeline(join(FIXTURES, 'diffusers', model), out, { dtype });
    expect(again.converted).toBe(false);
    expect(again.fingerprint).toBe(report.fingerprint);
  });
});
