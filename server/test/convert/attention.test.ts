/** @jest-environment ./hack/test/models/host-typed-arrays-environment.mjs */
// The converter's two attention forms: 'fused' (MultiHeadAttention, onnxruntime contrib ops, com.microsoft domain;
// the default) and 'plain' (MatMul/Softmax/MatMul) each write the attention they say, the marker and fingerprint
// record the choice, and both compute what diffusers recorded (also with upcast_attention in float16 graphs).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import onnxProto from 'onnx-proto';
import { type ConvertDtype, convertPipeline, fingerprint, MARKER_FILE } from '../../src/convert/convert-pipeline.js';
import type { AttentionForm } from '../../src/convert/graph.js';
import { readNpy, readNpyFloat32 } from '../support/npy.js';
import { recordedDecode as decode, recordedUnetCall as unet0 } from '../support/recorded-case.js';

const FIXTURES = resolve('server/test/fixtures/parity');
const SOURCE = join(FIXTURES, 'diffusers', 'sd15-tiny');
const rec = (name: string): string => join(FIXTURES, 'intermediates/torch-seed/sd15-tiny/c01-euler-cfg', `${name}.npy`);
// The bounds of parity.test.ts: float32 kernel noise, and float16 rounding of weights and activations.
const TOLERANCE: Record<ConvertDtype, number> = { fp32: 1e-4, fp16: 3e-3 };

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'hypergen-attention-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Op census of a component's graph and the opset domains it imports (model.onnx alone: weights are external). */
function census(dir: string, component: string): { ops: Map<string, number>; domains: string[] } {
  const model = onnxProto.onnx.ModelProto.decode(readFileSync(join(dir, component, 'model.onnx')));
  const ops = new Map<string, number>();
  for (const node of model.graph?.node ?? []) {
    const key = node.domain ? `${node.domain}.${node.opType}` : (node.opType as string);
    ops.set(key, (ops.get(key) ?? 0) + 1);
  }
  return { ops, domains: (model.opsetImport ?? []).map((o) => o.domain ?? '') };
}

const MHA = 'com.microsoft.MultiHeadAttention';

function expectClose(actual: Float32Array, expected: Float32Array, dtype: ConvertDtype): void {
  expect(actual.length).toBe(expected.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs((actual[i] as number) - (expected[i] as number)));
    scale = Math.max(scale, Math.abs(expected[i] as number));
  }
  expect(scale).toBeGreaterThan(0);
  expect(diff).toBeLessThanOrEqual(TOLERANCE[dtype] * (1 + scale));
}

describe('fused and plain attention (sd15-tiny, fp32)', () => {
  const out: Partial<Record<AttentionForm, string>> = {};
  const outputs: Partial<Record<AttentionForm, { unet: Float32Array; vae: Float32Array }>> = {};

  beforeAll(async () => {
    for (const form of ['fused', 'plain'] as const) {
      out[form] = join(root, `sd15-${form}`);
      convertPipeline(SOURCE, out[form], { dtype: 'fp32', attention: form });
      outputs[form] = { unet: await unet0(out[form]), vae: await decode(out[form]) };
    }
  });

  it('fused: every unmasked attention is one MultiHeadAttention; CLIP keeps its masked MatMul/Softmax form', () => {
    const dir = out.fused!;
    const plainUnet = census(out.plain!, 'unet').ops.get('Softmax') ?? 0;
    expect(plainUnet).toBeGreaterThan(0);
    const unet = census(dir, 'unet');
    expect(unet.ops.get(MHA)).toBe(plainUnet); // self- and cross-attention of every transformer block
    expect(unet.ops.get('Softmax')).toBeUndefined();
    expect(unet.domains).toContain('com.microsoft');
    const vae = census(dir, 'vae_decoder');
    expect(vae.ops.get(MHA)).toBe(1); // the mid block's single-head attention
    expect(vae.ops.get('Softmax')).toBeUndefined();
    const clip = census(dir, 'text_encoder');
    expect(clip.ops.get(MHA)).toBeUndefined();
    expect(clip.ops.get('Softmax')).toBeGreaterThan(0);
    expect(clip.domains).not.toContain('com.microsoft');
  });

  it('plain: no contrib op and no com.microsoft import in any component', () => {
    for (const component of ['text_encoder', 'unet', 'vae_decoder', 'vae_encoder']) {
      const c = census(out.plain!, component);
      expect(c.ops.get(MHA)).toBeUndefined();
      expect(c.domains).toEqual(['']);
    }
  });

  it('the marker records the form, and the fingerprint depends on it', () => {
    for (const form of ['fused', 'plain'] as const) {
      const marker = JSON.parse(readFileSync(join(out[form]!, MARKER_FILE), 'utf8')) as { options: { attention: string } };
      expect(marker.options.attention).toBe(form);
    }
    expect(fingerprint(SOURCE, 'fp32', 'fused')).not.toBe(fingerprint(SOURCE, 'fp32', 'plain'));
    expect(fingerprint(SOURCE, 'fp32')).toBe(fingerprint(SOURCE, 'fp32', 'fused'));
    // Asking for the other form reconverts; asking for the same one again does not.
    expect(convertPipeline(SOURCE, out.plain!, { dtype: 'fp32', attention: 'plain' }).converted).toBe(false);
  });

  it.each(['fused', 'plain'] as const)('%s: the UNet and the VAE decoder give what diffusers recorded', (form) => {
    expectClose(outputs[form]!.unet, readNpyFloat32(rec('unet0_out')), 'fp32');
    const images = readNpyFloat32(rec('images')); // [N, H, W, 3] in [0, 1]; the decoder gives [N, 3, H, W] in [-1, 1]
    const sample = outputs[form]!.vae;
    const [n, , lh, lw] = readNpy(rec('final_latents')).shape as [number, number, number, number];
    const [h, w] = [lh * 2, lw * 2]; // two VAE blocks in this pipeline
    const image = new Float32Array(sample.length);
    for (let b = 0; b < n; b++)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++)
          for (let c = 0; c < 3; c++) {
            const v = (sample[((b * 3 + c) * h + y) * w + x] as number) / 2 + 0.5;
            image[((b * h + y) * w + x) * 3 + c] = Math.min(1, Math.max(0, v));
          }
    expectClose(image, images, 'fp32');
  });
});

describe('upcast_attention in a float16 graph', () => {
  it('fused (float32 MultiHeadAttention between casts) and plain agree with diffusers float32 output', async () => {
    const source = join(root, 'sd15-upcast-src');
    cpSync(SOURCE, source, { recursive: true });
    const configPath = join(source, 'unet', 'config.json');
    // upcast_attention changes only the precision of the scores, so diffusers' float32 recording stays the reference.
    writeFileSync(configPath, JSON.stringify({ ...(JSON.parse(readFileSync(configPath, 'utf8')) as object), upcast_attention: true }));
    const reference = readNpyFloat32(rec('unet0_out'));
    for (const form of ['fused', 'plain'] as const) {
      const dir = join(root, `sd15-upcast-${form}`);
      convertPipeline(source, dir, { dtype: 'fp16', attention: form });
      const unet = census(dir, 'unet');
      expect(unet.ops.get(MHA) ?? 0).toBe(form === 'fused' ? census(join(root, 'sd15-plain'), 'unet').ops.get('Softmax') : 0);
      expectClose(await unet0(dir), reference, 'fp16');
    }
  });
});
