/** @jest-environment ./hack/test/models/host-typed-arrays-environment.mjs */
// `generate --dtype fp16`: the same random weights as the fp32 folder, rounded to float16, with text encoder and UNet
// computing in float16 and the VAE kept float32 (as the converter's fp16 does), and a different fingerprint.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { fromFloat16Bits, toFloat16Bits } from '@hypergen/server/engine/pipeline/tensors.js';
import { ensurePipeline, fingerprint } from '../../src/models/pipeline.js';
import { halfBytes } from '../../src/models/weights.js';
import { preset } from '../../src/models/presets.js';

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'hypergen-fp16-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const noise = (n: number, phase: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + phase));

async function unetOut(dir: string, half: boolean): Promise<Float32Array> {
  const session = await InferenceSession.create(join(dir, 'unet', 'model.onnx'));
  try {
    const float = (data: Float32Array, dims: number[]) =>
      half ? new Tensor('float16', Uint16Array.from(data, toFloat16Bits), dims) : new Tensor('float32', data, dims);
    const out = await session.run({
      sample: float(noise(4 * 16 * 16, 0), [1, 4, 16, 16]),
      timestep: new Tensor('int64', BigInt64Array.from([500n]), [1]),
      encoder_hidden_states: float(noise(77 * 32, 1), [1, 77, 32]),
    });
    const data = out.out_sample!.data;
    return data instanceof Uint16Array ? Float32Array.from(data, fromFloat16Bits) : (data as Float32Array);
  } finally {
    await session.release();
  }
}

describe('float32 -> float16 by table', () => {
  it('gives the engine conversion\'s bits (halfBytes is the engine\'s toFloat16Array now; a tie may never differ by more than one step)', () => {
    const edge = [0, -0, 1, -2.5, 65504, 65519, 65520, 1e6, -1e6, 6.1e-5, 3e-6, -3e-6, 6e-8, 1e-9, Infinity, -Infinity];
    const values = Float32Array.from([...edge, ...Array.from({ length: 100_000 }, (_, i) => Math.sin(i * 12.9898) * 43758.5453 % 4)]);
    const got = new Uint16Array(halfBytes(values).buffer);
    const bits = new Uint32Array(values.buffer);
    let ties = 0;
    values.forEach((v, i) => {
      const want = toFloat16Bits(v);
      if (got[i] === want) return;
      // A tie: the 13 dropped mantissa bits are exactly one half; round-to-even went the other way.
      expect((bits[i]! & 0x1fff) === 0x1000 && got[i] === want + 1).toBe(true);
      ties++;
    });
    expect(ties).toBeLessThan(values.length / 1000);
  });
});

describe('tiny-sd generated in fp16', () => {
  const p = preset('tiny-sd');
  let fp32: string;
  let fp16: string;
  beforeAll(() => {
    fp32 = ensurePipeline(p, join(root, 'fp32')).dir;
    fp16 = ensurePipeline(p, join(root, 'fp16'), 0, false, 'onnx', 'fp16').dir;
  });

  it('declares float16 text encoder and UNet tensors and keeps the VAE float32', async () => {
    const types = async (component: string) => {
      const s = await InferenceSession.create(join(fp16, component, 'model.onnx'));
      const meta = [...s.inputMetadata, ...s.outputMetadata].filter((m) => m.isTensor).map((m) => [m.name, (m as { type: string }).type]);
      await s.release();
      return Object.fromEntries(meta);
    };
    expect(await types('unet')).toMatchObject({ sample: 'float16', encoder_hidden_states: 'float16', out_sample: 'float16', timestep: 'int64' });
    expect(await types('text_encoder')).toMatchObject({ input_ids: 'int32', last_hidden_state: 'float16' });
    expect(await types('vae_decoder')).toMatchObject({ latent_sample: 'float32', sample: 'float32' });
  });

  it('computes what the fp32 folder computes, within float16 rounding', async () => {
    const [a, b] = [await unetOut(fp32, false), await unetOut(fp16, true)];
    expect(a.some((v) => v !== 0)).toBe(true);
    const scale = Math.max(...a.map(Math.abs));
    const worst = a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
    expect(worst / scale).toBeLessThan(0.02);
    expect(worst).toBeGreaterThan(0); // really another precision
  });

  it('has its own fingerprint (an fp32 folder is not taken for an fp16 one)', () => {
    expect(fingerprint(p, 0, 'onnx', 'fp16')).not.toBe(fingerprint(p, 0, 'onnx', 'fp32'));
    expect(fingerprint(p, 0, 'onnx', 'fp32')).toBe(fingerprint(p, 0));
  });
});
